"""The auto-clicker's decisions, without a screen."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from hub.desktop.clicker import ClickerConfig, ClickerSession, Reading, numbers_in
from hub.errors import HubError

REGION = {"left": 100, "top": 50, "width": 400, "height": 100}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session(**config: Any) -> tuple[ClickerSession, FakeClock]:
    clock = FakeClock()
    base: dict[str, Any] = {"region": REGION, "click_x": 10, "click_y": 20}
    return ClickerSession(ClickerConfig.model_validate({**base, **config}), clock), clock


def reading(text: str, items: list[dict[str, Any]] | None = None) -> Reading:
    return Reading(text=text, items=items or [])


def test_numbers_in_text() -> None:
    assert numbers_in("Value: 57, was -3 and 4.5; 5-3") == [57, -3, 4.5, 5, 3]
    assert numbers_in("no digits") == []


@pytest.mark.parametrize(
    ("text", "click"),
    [("Value: 43", True), ("Value: 42", False), ("nothing", False), ("7 and 100", True)],
)
def test_threshold_decides(text: str, click: bool) -> None:
    s, _ = session()
    decision = s.decide(reading(text))
    assert decision.click is click
    assert decision.point == ((10, 20) if click else None)


def test_condition_replaces_threshold() -> None:
    s, _ = session(condition="{{ len($numbers) == 2 and $numbers[0] < $numbers[1] }}")
    assert s.decide(reading("3 then 9")).click
    assert not s.decide(reading("9 then 3")).click
    failing, _ = session(condition="max($numbers) > 1")
    with pytest.raises(HubError, match="clicker condition failed"):
        failing.decide(reading("no numbers at all"))


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValidationError, match="click_x"):
        ClickerConfig.model_validate({"region": REGION})
    with pytest.raises(ValidationError, match="condition"):
        ClickerConfig.model_validate(
            {"region": REGION, "click_x": 1, "click_y": 1, "condition": "().__class__"}
        )
    with pytest.raises(ValidationError):
        ClickerConfig.model_validate({"region": {**REGION, "width": 0}, "click_x": 1, "click_y": 1})


def test_click_the_matched_text_in_screen_coordinates() -> None:
    s, _ = session(click_target="match", click_x=None, click_y=None)
    items = [
        {"text": "low 12", "box": [[0, 0], [40, 0], [40, 20], [0, 20]], "confidence": 0.9},
        {"text": "high 57", "box": [[200, 40], [260, 40], [260, 60], [200, 60]], "confidence": 0.9},
    ]
    decision = s.decide(reading("low 12 high 57", items))
    assert decision.click and decision.point == (100 + 230, 50 + 50)


def test_unchanged_frames_skip_ocr() -> None:
    s, _ = session()
    assert s.needs_ocr("a")
    s.read("a", reading("1"), ocr_ms=30.0)
    assert not s.needs_ocr("a")
    assert s.needs_ocr("b")
    off, _ = session(skip_unchanged=False)
    off.read("a", reading("1"), ocr_ms=30.0)
    assert off.needs_ocr("a")
    assert s.metrics.summary()["ocr_skipped"] == 1


def test_stops_on_max_clicks_duration_and_request() -> None:
    s, clock = session(max_clicks=2, max_duration_s=5)
    assert s.stop_reason() is None
    s.clicked()
    s.clicked()
    assert s.stop_reason() == "max_clicks (2) reached"
    t, clock = session(max_duration_s=5)
    clock.now += 5
    assert t.stop_reason() == "max_duration_s (5) reached"
    u, _ = session()
    u.stop("kill switch")
    u.stop("later reason")
    assert u.stop_reason() == "kill switch"


def test_metrics_and_pacing() -> None:
    s, _ = session(interval_ms=200)
    for ms in (10.0, 20.0, 30.0, 40.0):
        s.cycle_done(ms)
    s.cycle_done(50.0, error=True)
    summary = s.metrics.summary()
    assert summary["cycles"] == 5 and summary["errors"] == 1
    assert summary["success_rate"] == 0.8
    assert summary["cycle_ms_p50"] == 30.0
    assert s.next_delay_s(0.05) == pytest.approx(0.15)
    assert s.next_delay_s(0.5) == 0.0
