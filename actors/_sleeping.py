"""The supervisor's sleeping executions: runs parked in a long ``delay`` (hub.parking), each
with a timer that re-admits it when the delay is due. Kept in memory only: after a supervisor
or runtime restart, recovery resumes every unfinished run, and a parked one parks again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.records import Parked, RunOrder, utcnow


@dataclass
class Sleeper:
    order: RunOrder
    redacted_inputs: dict[str, Any]
    parked: Parked
    timer: asyncio.TimerHandle


class Sleepers:
    """Parked executions by id; ``wake`` is called with the id when one is due."""

    def __init__(self, wake: Callable[[str], None]) -> None:
        self.wake = wake
        self.entries: dict[str, Sleeper] = {}

    def add(
        self, execution_id: str, order: RunOrder, redacted: dict[str, Any], parked: Parked
    ) -> None:
        delay_s = max(0.0, (parked.due - utcnow()).total_seconds())
        timer = asyncio.get_running_loop().call_later(delay_s, self.wake, execution_id)
        self.entries[execution_id] = Sleeper(order, redacted, parked, timer)

    def take(self, execution_id: str) -> Sleeper | None:
        """Remove a sleeper (its timer stopped): it is woken or ended by the caller."""
        sleeper = self.entries.pop(execution_id, None)
        if sleeper is not None:
            sleeper.timer.cancel()
        return sleeper

    def __contains__(self, execution_id: object) -> bool:
        return execution_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)
