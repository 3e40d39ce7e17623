"""Many messages' fires in few actor calls: what an AMQP consumer hands the TriggerActor.

A consumer handles each delivery in its own task. One Ray call per message costs more CPU, in
the consumer, the TriggerActor and the supervisor, than the start itself; so while a call is in
flight, the fires that arrive wait and then go together in the next one. At low load a fire goes
at once, alone. Each fire still gets its own answer (its execution, or the error that refused
it), and each message is acked by its own task only once its own execution is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from hub.records import ExecutionRecord
from hub.triggers import Fire

Answer = ExecutionRecord | BaseException
Ship = Callable[[list[Fire]], Awaitable[Sequence[Answer]]]


class FireBatcher:
    """``submit`` one fire; ``ship`` takes a list of fires and answers, for each in its place,
    its ExecutionRecord or the exception that refused it. A call that fails as a whole fails
    every fire in it (each caller decides whether to try again)."""

    def __init__(self, ship: Ship, *, max_in_flight: int = 2, max_batch: int = 200) -> None:
        self.ship = ship
        self.max_in_flight = max_in_flight
        self.max_batch = max_batch
        self.waiting: list[tuple[Fire, asyncio.Future[ExecutionRecord]]] = []
        self.shippers: set[asyncio.Task[None]] = set()
        self.calls = 0

    async def submit(self, fire: Fire) -> ExecutionRecord:
        future: asyncio.Future[ExecutionRecord] = asyncio.get_running_loop().create_future()
        self.waiting.append((fire, future))
        # A shipper that found nothing more to ship has returned, but stays in the set until
        # its done callback runs: it does not count, or this fire would wait for nobody.
        if sum(not s.done() for s in self.shippers) < self.max_in_flight:
            shipper = asyncio.get_running_loop().create_task(self._ship_all())
            self.shippers.add(shipper)
            shipper.add_done_callback(self.shippers.discard)
        return await future

    async def _ship_all(self) -> None:
        while self.waiting:
            batch = self.waiting[: self.max_batch]
            del self.waiting[: len(batch)]
            self.calls += 1
            try:
                answers = await self.ship([fire for fire, _ in batch])
                if len(answers) != len(batch):
                    raise RuntimeError(f"{len(answers)} answers to {len(batch)} fires")
            except BaseException as exc:  # the call failed: every fire in it failed
                cancelled = isinstance(exc, asyncio.CancelledError)
                for _, future in batch:
                    if future.done():
                        continue
                    if cancelled:
                        future.cancel()
                    else:
                        future.set_exception(exc)
                if cancelled:
                    raise
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # its caller was cancelled (the channel closed)
                    continue
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
