"""When a schedule fires: its slots, and what to do with the slots missed while nothing ran.

Slots are instants (aware, UTC). ``every_s`` slots are multiples of the interval since the Unix
epoch, so they are the same after any restart. ``cron`` slots come from cronsim in the
schedule's time zone, which follows Debian cron around DST changes: a time skipped when the
clocks go forward fires at the first minute after the gap, a time that occurs twice when they
go back fires once (the first); expressions with a ``*`` or a step in the hour field
(``*/30 * * * *``) fire in both copies of the repeated hour, as they keep their interval.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim

from hub.triggers._model import ScheduleTrigger

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)


def _every_ms(spec: ScheduleTrigger) -> int:
    assert spec.every_s is not None
    return max(1, round(spec.every_s * 1000))


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def slots_after(spec: ScheduleTrigger, after: datetime) -> Iterator[datetime]:
    """The schedule's slots strictly after ``after``, in order."""
    if spec.every_s is not None:
        step = _every_ms(spec)
        first = _ms(after) // step + 1
        for k in itertools.count(first):
            yield _EPOCH + timedelta(milliseconds=k * step)
    else:
        assert spec.cron is not None
        local = after.astimezone(ZoneInfo(spec.timezone))
        for slot in CronSim(spec.cron, local):
            yield slot.astimezone(UTC)


def next_slot(spec: ScheduleTrigger, after: datetime) -> datetime:
    return next(slots_after(spec, after))


def last_slot_at_or_before(spec: ScheduleTrigger, moment: datetime) -> datetime | None:
    if spec.every_s is not None:
        step = _every_ms(spec)
        return _EPOCH + timedelta(milliseconds=_ms(moment) // step * step)
    assert spec.cron is not None
    local = (moment + _TICK).astimezone(ZoneInfo(spec.timezone))
    found = next(iter(CronSim(spec.cron, local, reverse=True)), None)
    return found.astimezone(UTC) if found is not None else None


def slot_id(slot: datetime) -> str:
    """A slot as it appears in idempotency keys and ``$trigger.slot``: ISO 8601, UTC, ms."""
    return slot.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class CatchUp:
    """What to do about the slots in (cursor, now]: fire these, count the rest as skipped."""

    fire: list[datetime] = field(default_factory=list)
    skipped: int = 0
    cursor: datetime | None = None  # the last slot accounted for (fired or skipped)


def catch_up(spec: ScheduleTrigger, cursor: datetime, now: datetime, policy: str) -> CatchUp:
    """Apply a misfire policy to the slots missed after ``cursor`` up to ``now``.

    ``skip`` fires none, ``once`` the latest, ``all`` every one up to ``misfire_cap`` (the
    latest ones; older ones are skipped). ``skipped`` counts up to ``misfire_cap + 1`` slots
    exactly and says "at least" past that (a week of one-second slots is not enumerated).
    """
    last = last_slot_at_or_before(spec, now)
    if last is None or last <= cursor:
        return CatchUp(cursor=cursor)
    cap = spec.misfire_cap
    missed = list(
        itertools.islice(
            itertools.takewhile(lambda s: s <= now, slots_after(spec, cursor)), cap + 1
        )
    )
    counted = len(missed)
    if counted > cap:  # more than the cap: the ones to fire are the latest, found backwards
        missed = _latest(spec, last, cap)
        counted = cap + 1
    if policy == "skip":
        return CatchUp(skipped=counted, cursor=last)
    if policy == "once":
        return CatchUp(fire=[last], skipped=counted - 1, cursor=last)
    fire = missed[-cap:]
    return CatchUp(fire=fire, skipped=counted - len(fire), cursor=last)


def _latest(spec: ScheduleTrigger, last: datetime, count: int) -> list[datetime]:
    """The ``count`` slots ending at ``last`` (itself a slot), in order."""
    if spec.every_s is not None:
        step = timedelta(milliseconds=_every_ms(spec))
        return [last - step * i for i in range(count - 1, -1, -1)]
    assert spec.cron is not None
    local = last.astimezone(ZoneInfo(spec.timezone))
    earlier = list(itertools.islice(CronSim(spec.cron, local, reverse=True), count - 1))
    return [s.astimezone(UTC) for s in reversed(earlier)] + [last]
