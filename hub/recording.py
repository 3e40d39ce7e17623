"""The Recorder's core: group commits, per-execution event sequence numbers, live fan-out,
and the leases that keep one runner at a time writing for an execution.

Writers hand batches in; one writer thread applies everything that accumulated since the last
transaction in one transaction ("group commit"), so many executions share each commit. Events
get their per-execution ``seq`` here, the only place that numbers them; subscribers waiting for
an execution's events are woken when a commit that holds them lands.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hub.records import AppendEvent, CreateExecution, Event, StoreWrite

TERMINAL_EVENTS = frozenset({"execution_completed", "execution_failed", "execution_cancelled"})


class EventCache:
    """Recent events of recently active executions, for live streams without a DB read."""

    def __init__(self, max_executions: int = 2000) -> None:
        self.max_executions = max_executions
        self.events: OrderedDict[str, list[Event]] = OrderedDict()
        self.seq: dict[str, int] = {}
        self.changed: dict[str, asyncio.Event] = {}

    def known(self, execution_id: str) -> bool:
        return execution_id in self.seq

    def next_seq(self, execution_id: str, current_max: Callable[[str], int]) -> int:
        if execution_id not in self.seq:
            self.seq[execution_id] = current_max(execution_id)
        self.seq[execution_id] += 1
        return self.seq[execution_id]

    def publish(self, events: Sequence[Event]) -> None:
        touched = set()
        for event in events:
            self.events.setdefault(event.execution_id, []).append(event)
            self.events.move_to_end(event.execution_id)
            touched.add(event.execution_id)
        for execution_id in touched:
            signal = self.changed.pop(execution_id, None)
            if signal is not None:
                signal.set()
        while len(self.events) > self.max_executions:
            old, _ = self.events.popitem(last=False)
            self.seq.pop(old, None)

    def after(self, execution_id: str, after_seq: int) -> list[Event] | None:
        """Cached events after ``after_seq``; None when the cache cannot answer (the caller
        reads the store)."""
        cached = self.events.get(execution_id)
        if cached is None or (cached[0].seq > after_seq + 1):
            return None
        return [e for e in cached if e.seq > after_seq]

    def terminated(self, execution_id: str) -> bool:
        cached = self.events.get(execution_id)
        return cached is not None and bool(cached) and cached[-1].type in TERMINAL_EVENTS

    def signal(self, execution_id: str) -> asyncio.Event:
        return self.changed.setdefault(execution_id, asyncio.Event())

    async def wait_after(
        self,
        execution_id: str,
        after_seq: int,
        wait_s: float,
        read_store: Callable[[], Awaitable[list[Event]]],
    ) -> list[Event]:
        """Events after ``after_seq`` (from the cache, else from ``read_store``), waiting up to
        ``wait_s`` for new ones: a long poll. Returns [] when none came in time, or at once for
        an execution whose terminal event is out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            signal = self.signal(execution_id)
            found = self.after(execution_id, after_seq)
            if found is None:
                found = await read_store()
            if found:
                return found
            if signal.is_set():
                continue  # events landed while the store was read: read them
            remaining = deadline - loop.time()
            if remaining <= 0 or self.terminated(execution_id):
                return found
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except TimeoutError:
                return []


Lease = tuple[str, str]
"""(execution id, token): which runner a batch of writes comes from."""


class RunnerLeases:
    """Which runner holds each resumed execution, so that only it writes for it.

    A runner that resumes an execution claims it with a fresh token before it reads the stored
    steps. From then on, writes that carry another token for that execution come from a stale
    runner: one presumed lost that is still running (an ExecutionActor whose supervisor died is
    killed by Ray, but not at once). They are refused, and the stale runner stops at its next
    write instead of running the rest of the workflow a second time. A fresh execution needs no
    claim: nothing ran it before. Writes without a lease (the supervisor's) are never fenced.

    Claims live in the Recorder's memory; the table keeps the newest ``max_entries``.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.holders: OrderedDict[str, str] = OrderedDict()
        self.refused = 0

    def claim(self, execution_id: str, token: str) -> None:
        self.holders[execution_id] = token
        self.holders.move_to_end(execution_id)
        while len(self.holders) > self.max_entries:
            self.holders.popitem(last=False)

    def admits(self, lease: Lease | None, writes: int = 1) -> bool:
        """Whether writes under ``lease`` may land; counts the refused ones."""
        if lease is None:
            return True
        execution_id, token = lease
        holder = self.holders.get(execution_id)
        if holder is None or holder == token:
            return True
        self.refused += writes
        return False


class GroupCommitter:
    """Applies writes in order, in as few transactions as the load allows.

    ``apply_batch`` is the Recorder's writer to the store. It receives every write queued since
    the previous transaction; small batches are applied right on the event loop (a
    sub-millisecond SQLite commit is cheaper than a thread hop), large ones on a dedicated
    writer thread. ``max_seq`` reads the highest stored event sequence of an execution the cache
    has not seen yet.

    When a batch fails, its writes are applied one by one so that one bad write (say, an update
    of an execution that does not exist) fails only the caller that sent it; everyone else's
    writes still land.
    """

    def __init__(
        self,
        apply_batch: Callable[[list[StoreWrite]], None],
        max_seq: Callable[[str], int],
        cache: EventCache,
        *,
        max_batch: int = 5000,
        inline_max: int = 64,
    ) -> None:
        self.apply_batch = apply_batch
        self.max_seq = max_seq
        self.cache = cache
        self.max_batch = max_batch
        self.inline_max = inline_max
        # Each queued write carries the future of the commit it belongs to (None: fire and forget).
        self.queue: list[tuple[StoreWrite | None, asyncio.Future[None] | None]] = []
        self.wakeup = asyncio.Event()
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self.task: asyncio.Task[None] | None = None
        self.batches = 0
        self.writes = 0
        self.failed_writes = 0
        self.last_failure: str | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._loop())

    def submit(self, writes: Sequence[StoreWrite], *, wait: bool) -> asyncio.Future[None] | None:
        self.start()
        future: asyncio.Future[None] | None = None
        if wait:
            future = asyncio.get_running_loop().create_future()
        self.queue.extend((w, future) for w in writes)
        if future is not None:
            self.queue.append((None, future))  # resolved once everything before it is written
        self.wakeup.set()
        return future

    async def drain(self) -> None:
        """Wait until everything queued so far is written."""
        future = self.submit([], wait=True)
        assert future is not None
        await future

    async def _loop(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.queue:
                entries, self.queue = self.queue[: self.max_batch], self.queue[self.max_batch :]
                await self._commit(entries)

    async def _commit(
        self, entries: list[tuple[StoreWrite | None, asyncio.Future[None] | None]]
    ) -> None:
        batch = [w for w, _ in entries if w is not None]
        failures: list[tuple[asyncio.Future[None] | None, Exception]] = []
        try:
            events = await self._run(self._write, batch)
        except Exception:
            events = await self._run(lambda e: self._write_one_by_one(e, failures), entries)
        self.cache.publish(events)
        for future, exc in failures:
            if future is not None and not future.done():
                future.set_exception(exc)
        for _, future in entries:
            if future is not None and not future.done():
                future.set_result(None)

    async def _run(self, fn: Callable[[Any], list[Event]], arg: Any) -> list[Event]:
        if len(arg) <= self.inline_max:
            return fn(arg)
        return await asyncio.get_running_loop().run_in_executor(self.thread, fn, arg)

    def _number(self, writes: Sequence[StoreWrite]) -> list[Event]:
        events = []
        for write in writes:
            if isinstance(write, AppendEvent):
                if write.event.seq == 0:
                    write.event.seq = self.cache.next_seq(write.event.execution_id, self.max_seq)
                events.append(write.event)
        return events

    def _write(self, batch: list[StoreWrite]) -> list[Event]:
        events = self._number(batch)
        if batch:
            self.apply_batch(batch)
            self.batches += 1
            self.writes += len(batch)
            for write in batch:
                if isinstance(write, CreateExecution):  # a new execution has no events yet
                    self.cache.seq.setdefault(write.record.id, 0)
        return events

    def _write_one_by_one(
        self,
        entries: list[tuple[StoreWrite | None, asyncio.Future[None] | None]],
        failures: list[tuple[asyncio.Future[None] | None, Exception]],
    ) -> list[Event]:
        """Apply a failed batch again unit by unit: the writes one ``commit`` sent together stay
        together (all or nothing); fire-and-forget writes go one at a time."""
        events: list[Event] = []
        for unit, future in _units(entries):
            try:
                events += self._write(unit)
            except Exception as exc:
                self.failed_writes += len(unit)
                self.last_failure = f"{type(unit[0]).__name__}: {exc}"
                failures.append((future, exc))
        return events

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "writes": self.writes,
            "queued": len(self.queue),
            "failed_writes": self.failed_writes,
            "last_failure": self.last_failure,
        }


def _units(
    entries: list[tuple[StoreWrite | None, asyncio.Future[None] | None]],
) -> list[tuple[list[StoreWrite], asyncio.Future[None] | None]]:
    """Consecutive writes of one waited commit form a unit; every other write is its own."""
    units: list[tuple[list[StoreWrite], asyncio.Future[None] | None]] = []
    for write, future in entries:
        if write is None:
            continue
        if future is not None and units and units[-1][1] is future:
            units[-1][0].append(write)
        else:
            units.append(([write], future))
    return units
