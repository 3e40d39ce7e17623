"""The datetime node (hub/nodes/_datetime.py): zones, calendar arithmetic across daylight-saving
changes and month ends, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.errors import StepFailed
from tests.conftest import run_node


def dt(**parameters: object) -> dict[str, object]:
    out: dict[str, object] = run_node("datetime", **parameters)
    return out


def test_now_is_in_the_zone_asked() -> None:
    now = dt(operation="now", timezone="Asia/Tokyo")
    assert str(now["iso"]).endswith("+09:00") and now["timezone"] == "Asia/Tokyo"
    assert abs(float(now["epoch"]) - datetime.now(UTC).timestamp()) < 60  # type: ignore[arg-type]


def test_parse_iso_epoch_and_a_format() -> None:
    iso = dt(operation="parse", value="2026-03-29T01:30:00", timezone="Europe/Paris")
    assert iso["iso"] == "2026-03-29T01:30:00+01:00" and iso["weekday"] == "Sunday"
    epoch = dt(operation="parse", value=0, timezone="America/New_York")
    assert epoch["iso"] == "1969-12-31T19:00:00-05:00"
    custom = dt(operation="parse", value="06/12/2026 10:30", format="%d/%m/%Y %H:%M")
    assert custom["iso"] == "2026-12-06T10:30:00+00:00"
    offset = dt(operation="parse", value="2026-12-06T10:30:00+05:30", timezone="UTC")
    assert offset["iso"] == "2026-12-06T05:00:00+00:00"


def test_format_converts_to_the_zone_first() -> None:
    out = dt(
        operation="format",
        value="2026-12-06T23:30:00+00:00",
        format="%Y-%m-%d %H:%M %Z",
        timezone="Australia/Sydney",
    )
    assert out["text"] == "2026-12-07 10:30 AEDT"


def test_add_keeps_the_wall_clock_across_dst_and_clamps_month_ends() -> None:
    before_dst = "2026-03-28T12:00:00+01:00"  # Paris moves to +02:00 on the 29th
    day_later = dt(operation="add", value=before_dst, amount={"days": 1}, timezone="Europe/Paris")
    assert day_later["iso"] == "2026-03-29T12:00:00+02:00"
    month_end = dt(operation="add", value="2026-01-31T08:00:00+00:00", amount={"months": 1})
    assert month_end["iso"] == "2026-02-28T08:00:00+00:00"
    leap = dt(operation="add", value="2024-02-29T00:00:00+00:00", amount={"years": 1})
    assert leap["date"] == "2025-02-28"
    back = dt(operation="add", value="2026-01-15T00:00:00+00:00", amount={"months": -13})
    assert back["date"] == "2024-12-15"
    gap = dt(  # 02:30 does not exist in Paris on 2026-03-29: it moves past the gap
        operation="add",
        value="2026-03-28T02:30:00+01:00",
        amount={"days": 1},
        timezone="Europe/Paris",
    )
    assert gap["iso"] == "2026-03-29T03:30:00+02:00"


def test_diff_in_units() -> None:
    out = dt(
        operation="diff",
        value="2026-12-06T00:00:00+00:00",
        other="2026-12-07T12:00:00+00:00",
        unit="hours",
    )
    assert out == {"seconds": 129600.0, "value": 36.0, "unit": "hours"}


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(StepFailed, match=r"unknown time zone 'Europe/Pari'.*'Europe/Paris'"):
        dt(operation="now", timezone="Europe/Pari")
    with pytest.raises(StepFailed, match="not a date and time in ISO 8601"):
        dt(operation="parse", value="yesterday")
    with pytest.raises(StepFailed, match="operation 'add' needs amount"):
        dt(operation="add", value="2026-01-01")
    with pytest.raises(StepFailed, match="outside years 1-9999"):
        dt(operation="add", value="9999-12-01T00:00:00+00:00", amount={"months": 1})
