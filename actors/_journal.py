"""Shipping journal writes from an actor to the Recorder, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from hub.errors import HubError, Superseded
from hub.recording import Lease
from hub.records import StepRecord, StoreWrite, UpdateExecution, UpsertStep


class StoreSteps:
    """Writes step rows straight to the store (``Store.commit_steps``), fenced by the runner's
    lease: what an ExecutionActor does instead of sending them through the Recorder when it can
    reach the store itself (docs/dsl.md, "Durability"). SQLite's short transactions run on the
    event loop (a thread hop costs more than the commit); a server's, on a thread."""

    def __init__(self, store: Any, *, inline: bool) -> None:
        self.store = store
        self.inline = inline

    async def write(self, lease: Lease, steps: Sequence[StepRecord]) -> bool:
        """Store ``steps``; False when another runner holds the execution (nothing written)."""
        execution_id, token = lease
        if self.inline:
            return bool(self.store.commit_steps(execution_id, token, steps))
        return bool(await asyncio.to_thread(self.store.commit_steps, execution_id, token, steps))


class RecorderJournal:
    """Ships writes to the Recorder in order: batched on a short timer, at once and awaited on
    ``flush`` (which returns when they are durable), or at once without waiting on
    ``checkpoint`` (``barrier`` is then the commit's reference, for the calls that depend on
    it). One call is in flight at a time, which keeps the writes in order.

    With ``steps`` (and a lease), step rows skip the Recorder: ``checkpoint`` stores them
    straight away and returns once they are durable (no barrier), the timer stores them with
    each shipment, and everything else (events, the execution's updates) still goes to the
    Recorder on the timer. A step's events may then land up to ``delay_s`` after its row.

    With a ``lease`` every write carries it. Once the Recorder or the store refuses them
    (another runner resumed the execution) ``superseded`` is set, later writes are dropped, and
    ``flush`` raises Superseded: the runner stops."""

    def __init__(
        self,
        recorder: Any,
        delay_s: float,
        lease: Lease | None = None,
        steps: StoreSteps | None = None,
    ) -> None:
        self.recorder = recorder
        self.delay_s = delay_s
        self.lease = lease
        self.steps = steps if lease is not None else None
        # Step rows waiting for the store, in direct mode: the last row of each step wins.
        self.pending_steps: dict[str, StepRecord] = {}
        self.steps_waited = False  # pending since the last timer tick
        self.step_lock = asyncio.Lock()
        self.superseded = False
        self.buffer: list[StoreWrite] = []
        self.lock = asyncio.Lock()
        self.timer: asyncio.TimerHandle | None = None
        self.shipping: set[asyncio.Task[None]] = set()
        self.barrier: Any = None  # the commit of the last checkpoint, while it is in flight
        self.failure: BaseException | None = None  # why that commit failed (not Superseded)
        # How many writes were emitted, and how many of the first of them are known durable: a
        # checkpoint with nothing new since the last commit answered has nothing to commit.
        self.emitted = 0
        self.durable = 0

    def emit(self, write: StoreWrite) -> None:
        if self.superseded:
            return
        if self.steps is not None and isinstance(write, UpsertStep):
            self.pending_steps.pop(write.step.node_id, None)  # kept in the order last written
            self.pending_steps[write.step.node_id] = write.step
        else:
            self.buffer.append(write)
            self.emitted += 1
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.delay_s, self._schedule_ship)

    def _schedule_ship(self) -> None:
        self.timer = None
        task = asyncio.get_running_loop().create_task(self._ship())
        self.shipping.add(task)
        task.add_done_callback(self.shipping.discard)

    async def _ship(self) -> None:
        if self.pending_steps:
            # Rows of steps that end within a tick are stored by their checkpoint: the timer
            # stores only rows that waited a whole tick (a long step's "running" row), or rows
            # an update of the execution shipped now must not overtake (a paused run's status
            # is never stored ahead of the steps it paused after).
            updates = any(isinstance(w, UpdateExecution) for w in self.buffer)
            if not self.steps_waited and not updates:
                self.steps_waited = True
                if self.timer is None:
                    loop = asyncio.get_running_loop()
                    self.timer = loop.call_later(self.delay_s, self._schedule_ship)
            else:
                try:
                    await self._store_steps()
                except Exception as exc:  # reported by the next checkpoint, flush or take
                    self.failure = exc
        async with self.lock:  # one call in flight at a time keeps the writes in order
            if self.buffer and not self.superseded:
                batch, self.buffer = self.buffer, []
                if await self.recorder.record.remote(batch, self.lease) is False:
                    self.superseded = True

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    async def _store_steps(self) -> None:
        """Store the pending step rows straight (direct mode); one write at a time."""
        assert self.steps is not None and self.lease is not None
        async with self.step_lock:
            if not self.pending_steps or self.superseded:
                return
            rows, self.pending_steps = list(self.pending_steps.values()), {}
            self.steps_waited = False
            try:
                stored = await self.steps.write(self.lease, rows)
            except BaseException:
                # Not stored: kept (behind any newer row of the same step) for the next write
                # or for the run's end, which the supervisor commits through the Recorder.
                for row in rows:
                    self.pending_steps.setdefault(row.node_id, row)
                raise
            if not stored:
                self.superseded = True

    async def checkpoint(self) -> None:
        """Direct mode: store the step rows emitted so far and return once they are durable.

        Otherwise, commit what was emitted so far without waiting for it: a node call that
        depends on it carries ``barrier`` as an argument, so Ray starts that call only once the
        commit is done (and not at all if it failed), and the next shipment waits for it. This
        saves the runner one wake-up per action step while keeping "durable before dependents
        act".

        Checkpoints that wait while a commit is in flight share the next one: the first ships
        everything they emitted, and the others, finding nothing new once it is answered,
        return at once (steps ending together cost one commit, not one each)."""
        if self.steps is not None:
            self._raise_failure()
            await self._store_steps()
            self._raise_failure()
            return
        self._cancel_timer()
        await self.lock.acquire()  # released by _settle once the commit is answered
        try:
            self._raise_failure()
            if self.durable == self.emitted:
                self.lock.release()  # all of it is durable already
                return
            mark = self.emitted
            batch, self.buffer = self.buffer, []
            ref = self.recorder.commit.remote(batch, self.lease)
        except BaseException:
            self.lock.release()
            raise
        self.barrier = ref
        task = asyncio.get_running_loop().create_task(self._settle(ref, mark))
        self.shipping.add(task)
        task.add_done_callback(self.shipping.discard)

    async def _settle(self, ref: Any, mark: int) -> None:
        try:
            await ref
            self.durable = max(self.durable, mark)
        except Superseded:
            self.superseded = True
        except BaseException as exc:  # reported by the next flush, checkpoint or dependent call
            self.failure = exc
        finally:
            if self.barrier is ref:
                self.barrier = None
            self.lock.release()

    def _raise_failure(self) -> None:
        if self.superseded:
            raise Superseded.of(self.lease[0] if self.lease else "?")
        if self.failure is not None:
            raise self.failure

    async def settled(self) -> None:
        """Return once the last checkpoint's commit is done; raise why it failed."""
        async with self.step_lock, self.lock:
            self._raise_failure()

    async def flush(self) -> None:
        self._cancel_timer()
        if self.pending_steps:
            await self._store_steps()
        async with self.lock:
            mark = self.emitted
            batch, self.buffer = self.buffer, []
            self._raise_failure()
            try:
                await self.recorder.commit.remote(batch, self.lease)
            except Superseded:
                self.superseded = True
                raise
            self.durable = max(self.durable, mark)

    async def take(self) -> list[StoreWrite]:
        """The writes not shipped yet, for another caller to commit; everything shipped
        before has reached the Recorder's queue by then, so theirs land after it."""
        self._cancel_timer()
        async with self.step_lock, self.lock:
            self._raise_failure()  # the last checkpoint's commit failed: no end to report
            batch, self.buffer = self.buffer, []
            if self.pending_steps and self.lease is not None:  # direct mode's last rows
                execution_id = self.lease[0]
                rows, self.pending_steps = list(self.pending_steps.values()), {}
                batch = [UpsertStep(execution_id=execution_id, step=r) for r in rows] + batch
            return batch


class CommitCoalescer:
    """Many callers' commits in few Recorder calls: while ``max_in_flight`` calls are in flight,
    the commits that arrive wait and then go together in the next (``ship`` takes a list of
    groups and answers, for each, None or its HubError). At low load a commit goes at once,
    alone; two calls in flight (the default) keep a run's start from waiting behind another
    run's end, one makes fewer, larger calls on a busy runtime."""

    def __init__(
        self,
        ship: Callable[[list[Sequence[StoreWrite]]], Awaitable[list[HubError | None]]],
        max_in_flight: int = 2,
    ) -> None:
        self.ship = ship
        self.max_in_flight = max_in_flight
        self.waiting: list[tuple[Sequence[StoreWrite], asyncio.Future[None]]] = []
        self.shippers: set[asyncio.Task[None]] = set()
        self.calls = 0

    async def commit(self, writes: Sequence[StoreWrite]) -> None:
        """Return once ``writes`` are durable; raise the HubError that refused them."""
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((writes, future))
        # A shipper that found nothing more to ship has returned, but stays in the set until
        # its done callback runs: it does not count, or this commit would wait for nobody.
        if sum(not s.done() for s in self.shippers) < self.max_in_flight:
            shipper = asyncio.get_running_loop().create_task(self._ship_all())
            self.shippers.add(shipper)
            shipper.add_done_callback(self.shippers.discard)
        await future

    async def _ship_all(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            self.calls += 1
            try:
                outcomes = await self.ship([writes for writes, _ in batch])
            except BaseException as exc:  # the call failed: every commit in it failed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)
