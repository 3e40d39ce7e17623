"""Shipping journal writes from an actor to the Recorder, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.records import StoreWrite


class RecorderJournal:
    """Ships writes to the Recorder in order: batched on a short timer, or at once and awaited
    on ``flush`` (which returns when they are durable)."""

    def __init__(self, recorder: Any, delay_s: float) -> None:
        self.recorder = recorder
        self.delay_s = delay_s
        self.buffer: list[StoreWrite] = []
        self.lock = asyncio.Lock()
        self.timer: asyncio.TimerHandle | None = None
        self.shipping: set[asyncio.Task[None]] = set()

    def emit(self, write: StoreWrite) -> None:
        self.buffer.append(write)
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.delay_s, self._schedule_ship)

    def _schedule_ship(self) -> None:
        self.timer = None
        task = asyncio.get_running_loop().create_task(self._ship())
        self.shipping.add(task)
        task.add_done_callback(self.shipping.discard)

    async def _ship(self) -> None:
        async with self.lock:  # one call in flight at a time keeps the writes in order
            if self.buffer:
                batch, self.buffer = self.buffer, []
                await self.recorder.record.remote(batch)

    async def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        async with self.lock:
            batch, self.buffer = self.buffer, []
            await self.recorder.commit.remote(batch)
