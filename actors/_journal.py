"""Shipping journal writes from an actor to the Recorder, in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ray

from hub.errors import HubError, Superseded
from hub.recording import Lease
from hub.records import AppendEvent, StoreWrite


async def store_within_reach(recorder: Any, log: logging.Logger) -> Any:
    """The store, opened in this process when it reaches it (hub.placement.runner_reaches_store:
    a server database, or a SQLite file on this machine), else None: what an ExecutionActor or
    the supervisor asks once before writing straight to the store instead of through the
    Recorder (settings.step_writes "direct")."""
    from hub.placement import runner_reaches_store
    from hub.store import Store

    url, store_node = await recorder.direct_store.remote()
    if not runner_reaches_store(url, ray.get_runtime_context().get_node_id(), store_node):
        return None
    try:  # on a thread: the import and the engine take a second, the caller's loop goes on
        return await asyncio.to_thread(Store, url, migrate=False)
    except HubError as exc:  # the Recorder reaches it, this process cannot
        log.warning("writes go through the Recorder: %s", exc)
        return None


class StoreWrites:
    """Writes a runner's records straight to the store (``Store.commit_run``), fenced by the
    runner's lease: what an ExecutionActor does instead of sending them through the Recorder
    when it can reach the store itself (docs/dsl.md, "Durability").

    ``inline``: SQLite's short transactions run on the event loop (a thread hop costs more
    than the commit), for a host of one run at a time. A host of many runs (shared, or the
    supervisor's) on SQLite ``batches``: the writes its runs make while a commit is in flight
    go together in the next, one transaction on one writer thread (``Store.commit_runs``),
    so no run's commit waits for the file's write lock on the loop and many cost one thread
    hop. Otherwise (a server database) each runner's commit runs on a thread of its own."""

    def __init__(self, store: Any, *, inline: bool, batches: bool = False) -> None:
        self.store = store
        self.inline = inline
        self.batches = batches and not inline
        self.waiting: list[tuple[Lease, Sequence[StoreWrite], asyncio.Future[bool]]] = []
        self.writer: asyncio.Task[None] | None = None
        self.thread: ThreadPoolExecutor | None = None
        self.commits = 0  # transactions, batched: how many runs' writes shared each (tests)

    async def write(self, lease: Lease, writes: Sequence[StoreWrite]) -> bool:
        """Store ``writes``; False when another runner holds the execution (nothing written)."""
        execution_id, token = lease
        if self.inline:
            return self.write_inline(lease, writes)
        if not self.batches:
            return bool(await asyncio.to_thread(self.store.commit_run, execution_id, token, writes))
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((lease, writes, future))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.get_running_loop().create_task(self._write_waiting())
        return bool(await future)

    def write_inline(self, lease: Lease, writes: Sequence[StoreWrite]) -> bool:
        """``write`` for an ``inline`` store, called on the loop: returns once it is stored."""
        execution_id, token = lease
        return bool(self.store.commit_run(execution_id, token, writes))

    async def _write_waiting(self) -> None:
        if self.thread is None:
            self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-commits")
        loop = asyncio.get_running_loop()
        while self.waiting:
            batch, self.waiting = self.waiting, []
            runs = [(lease[0], lease[1], writes) for lease, writes, _ in batch]
            self.commits += 1
            try:
                outcomes = await loop.run_in_executor(self.thread, self.store.commit_runs, runs)
            except BaseException as exc:  # the writer's own failure: every run in it failed
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(bool(outcome))

    async def last_event_seq(self, execution_id: str) -> int:
        """The highest stored event number of an execution: where a resumed run goes on."""
        return int(await asyncio.to_thread(self.store.max_event_seq, execution_id))


class RecorderJournal:
    """Ships a runner's writes to the store, in order: batched on a short timer, at once and
    awaited on ``flush`` and ``checkpoint``.

    Through the Recorder (the default without ``direct``): ``flush`` returns once the writes
    are durable, ``checkpoint`` ships without waiting (``barrier`` is then the commit's
    reference, for the calls that depend on it). One call is in flight at a time, which keeps
    the writes in order.

    Straight to the store (``direct``, with a lease): every write of the run (steps, events,
    the execution's updates) is stored by this journal in one fenced transaction per shipment,
    and ``checkpoint`` returns once what was emitted is durable (no barrier). The journal
    numbers the run's events itself (after ``last_seq``, the highest stored when the run
    resumed): the runner holding the lease is the only writer of its execution's events.

    With a ``lease`` every write carries it. Once the Recorder or the store refuses them
    (another runner resumed the execution) ``superseded`` is set, later writes are dropped, and
    ``flush`` raises Superseded: the runner stops."""

    def __init__(
        self,
        recorder: Any,
        delay_s: float,
        lease: Lease | None = None,
        direct: StoreWrites | None = None,
        last_seq: int = 0,
    ) -> None:
        self.recorder = recorder
        self.delay_s = delay_s
        self.lease = lease
        self.direct = direct if lease is not None else None
        self.seq = last_seq  # direct mode: the number of the last event emitted
        self.direct_lock = asyncio.Lock()
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
        if self.direct is not None and isinstance(write, AppendEvent):
            self.seq += 1
            write.event.seq = self.seq
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
        if self.direct is not None:
            try:
                await self._store()
            except Exception as exc:  # reported by the next checkpoint, flush or take
                self.failure = exc
            return
        async with self.lock:  # one call in flight at a time keeps the writes in order
            if self.buffer and not self.superseded:
                batch, self.buffer = self.buffer, []
                if await self.recorder.record.remote(batch, self.lease) is False:
                    self.superseded = True

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    async def _store(self) -> None:
        """Direct mode: store what was emitted so far, in one transaction; one at a time."""
        assert self.direct is not None and self.lease is not None
        async with self.direct_lock:
            if not self.buffer or self.superseded:
                return
            batch, self.buffer = self.buffer, []
            if self.direct.inline:
                # On the loop, awaiting nothing: no cancellation can come between the commit
                # and its outcome (and no task, no shield, no turn of the loop for it).
                try:
                    stored = self.direct.write_inline(self.lease, batch)
                except BaseException:
                    self.buffer[:0] = batch  # not stored: kept for the next write
                    raise
                self.failure = None
                self.superseded = self.superseded or not stored
                return
            # Shielded: a cancelled caller (a step stopped by its run) must not leave the
            # transaction's outcome unknown, or the batch would be stored twice or not at all.
            write = asyncio.ensure_future(self.direct.write(self.lease, batch))
            cancelled: asyncio.CancelledError | None = None
            while not write.done():
                try:
                    await asyncio.shield(write)
                except asyncio.CancelledError as exc:
                    cancelled = exc
                except BaseException:
                    break
            error = write.exception()
            if error is not None:
                # Not stored: kept, ahead of what was emitted since, for the next write.
                self.buffer[:0] = batch
                raise cancelled or error
            self.failure = None  # an earlier failed batch was in this one: it is stored now
            if not write.result():
                self.superseded = True
            if cancelled is not None:
                raise cancelled

    async def checkpoint(self) -> None:
        """Direct mode: store what was emitted so far and return once it is durable.

        Otherwise, commit what was emitted so far without waiting for it: a node call that
        depends on it carries ``barrier`` as an argument, so Ray starts that call only once the
        commit is done (and not at all if it failed), and the next shipment waits for it. This
        saves the runner one wake-up per action step while keeping "durable before dependents
        act".

        Checkpoints that wait while a commit is in flight share the next one: the first ships
        everything they emitted, and the others, finding nothing new once it is answered,
        return at once (steps ending together cost one commit, not one each)."""
        if self.direct is not None:
            self._cancel_timer()
            await self._store()  # an earlier failed shipment is tried again with it
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
        async with self.direct_lock, self.lock:
            self._raise_failure()

    async def flush(self) -> None:
        self._cancel_timer()
        if self.direct is not None:
            await self._store()
            self._raise_failure()
            return
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
        before has reached the Recorder's queue by then, so theirs land after it. Direct mode
        stores them itself (the run's end is durable when this returns) and gives none."""
        self._cancel_timer()
        if self.direct is not None:
            await self.flush()
            return []
        async with self.lock:
            self._raise_failure()  # the last checkpoint's commit failed: no end to report
            batch, self.buffer = self.buffer, []
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
