"""The ``datetime`` node: now, parse, format, add and diff, in IANA time zones (zoneinfo).

Inline (it runs in the ExecutionActor: no I/O, microseconds). docs/dsl.md, "The datetime node".
"""

from __future__ import annotations

import calendar
import difflib
import functools
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import ErrorCategory, StepFailed
from hub.nodes._context import NodeContext
from hub.nodes._registry import node_type
from hub.records import utcnow

UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


class Amount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    years: int = Field(default=0, ge=-10_000, le=10_000)
    months: int = Field(default=0, ge=-120_000, le=120_000)
    weeks: float = 0
    days: float = 0
    hours: float = 0
    minutes: float = 0
    seconds: float = 0


class DatetimeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: Literal["now", "parse", "format", "add", "diff"]
    value: str | float | int | None = None
    other: str | float | int | None = None
    format: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str = "UTC"
    amount: Amount | None = None
    unit: Literal["seconds", "minutes", "hours", "days", "weeks"] = "seconds"

    @model_validator(mode="after")
    def _needs(self) -> DatetimeParams:
        needs = {
            "parse": ["value"],
            "format": ["value", "format"],
            "add": ["value", "amount"],
            "diff": ["value", "other"],
        }.get(self.operation, [])
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"operation {self.operation!r} needs {' and '.join(missing)}")
        return self


@functools.lru_cache(maxsize=1)
def _zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``name``; StepFailed with the closest names when it is unknown."""
    if name.upper() == "UTC":
        return zoneinfo.ZoneInfo("UTC")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, _zone_names(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise StepFailed(
            f"unknown time zone {name!r} (IANA names like 'Europe/Paris'){hint}",
            category=ErrorCategory.VALIDATION,
        ) from None


def parse(value: str | float | int, fmt: str | None, tz: zoneinfo.ZoneInfo) -> datetime:
    """A moment from ISO 8601 text, an epoch number (seconds), or text in ``fmt`` (strptime);
    a value without an offset is read in ``tz``."""
    if isinstance(value, bool):
        raise StepFailed(f"{value} is not a date and time", category=ErrorCategory.VALIDATION)
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC).astimezone(tz)
        except (OverflowError, OSError, ValueError):
            raise StepFailed(
                f"{value} is not an epoch time in seconds", category=ErrorCategory.VALIDATION
            ) from None
    try:
        # Naive when the text has no offset: read in ``tz`` below.
        moment = (
            datetime.strptime(value, fmt)  # noqa: DTZ007
            if fmt
            else datetime.fromisoformat(value.strip())
        )
    except ValueError as exc:
        expected = f"the format {fmt!r}" if fmt else "ISO 8601 (2026-12-06T10:30:00+01:00)"
        raise StepFailed(
            f"{value!r} is not a date and time in {expected}: {exc}",
            category=ErrorCategory.VALIDATION,
        ) from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def add(moment: datetime, amount: Amount, tz: zoneinfo.ZoneInfo) -> datetime:
    """Calendar arithmetic on the wall clock of ``tz``: months and years keep the day (clamped
    to the month's last), days keep the local time across daylight-saving changes."""
    local = moment.astimezone(tz)
    months = local.month - 1 + amount.months + 12 * amount.years
    year, month = local.year + months // 12, months % 12 + 1
    if not 1 <= year <= 9999:
        raise StepFailed("the result is outside years 1-9999", category=ErrorCategory.VALIDATION)
    day = min(local.day, calendar.monthrange(year, month)[1])
    shifted = local.replace(year=year, month=month, day=day)
    delta = timedelta(
        weeks=amount.weeks,
        days=amount.days,
        hours=amount.hours,
        minutes=amount.minutes,
        seconds=amount.seconds,
    )
    try:
        wall = shifted + delta  # same tzinfo: wall-clock arithmetic
    except OverflowError:
        raise StepFailed(
            "the result is outside years 1-9999", category=ErrorCategory.VALIDATION
        ) from None
    return wall.astimezone(UTC).astimezone(tz)  # a wall time in a DST gap moves past it


def describe(moment: datetime, tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
    local = moment.astimezone(tz)
    return {
        "iso": local.isoformat(),
        "epoch": local.timestamp(),
        "timezone": str(tz),
        "date": local.date().isoformat(),
        "time": local.time().isoformat(),
        "weekday": local.strftime("%A"),
    }


@node_type("datetime", parameters=DatetimeParams, inline=True, instant=True)
async def run_datetime(params: DatetimeParams, ctx: NodeContext) -> Any:
    """Now, parse, format, add or diff dates and times in IANA time zones."""
    tz = zone(params.timezone)
    if params.operation == "now":
        return describe(utcnow(), tz)
    assert params.value is not None
    moment = parse(params.value, params.format if params.operation == "parse" else None, tz)
    if params.operation == "parse":
        return describe(moment, tz)
    if params.operation == "format":
        assert params.format is not None
        return {"text": moment.astimezone(tz).strftime(params.format), **describe(moment, tz)}
    if params.operation == "add":
        assert params.amount is not None
        return describe(add(moment, params.amount, tz), tz)
    assert params.other is not None
    seconds = (parse(params.other, None, tz) - moment).total_seconds()
    return {"seconds": seconds, "value": seconds / UNITS[params.unit], "unit": params.unit}
