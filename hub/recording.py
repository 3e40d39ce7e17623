"""The Recorder's core: group commits, live readers of events, and the leases that keep one
runner at a time writing for an execution.

Writers hand batches in; one writer thread applies everything that accumulated since the last
transaction in one transaction ("group commit"), so many executions share each commit. Live
readers of an execution's events read them from the store (EventWatch); those waiting are woken
when a commit that holds events of theirs lands.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hub.errors import HubError, StoreError
from hub.records import AppendEvent, Event, StoreWrite

TERMINAL_EVENTS = frozenset({"execution_completed", "execution_failed", "execution_cancelled"})


class EventWatch:
    """Live readers of executions' events: a reader waits for events after its cursor (a long
    poll) and reads them from the store.

    Events reach the store from several writers: a runner that reaches the store numbers and
    stores its own (actors/_journal.py), the Recorder everything else. So readers read the
    store, never a copy in memory that could miss one writer's events. A waiting reader is
    woken at once by the Recorder's own commits (``notify``); for the rest, while anyone waits,
    one poller asks the store every ``poll_s`` for the newest event number of every execution
    waited on (``latest``: one query for all of them) and wakes the readers of those that
    moved. Without ``latest`` each reader looks at the store itself every ``poll_s``.
    """

    def __init__(
        self,
        latest: Callable[[list[str]], Awaitable[dict[str, int]]] | None = None,
        poll_s: float = 0.05,
    ) -> None:
        self.latest = latest
        self.poll_s = poll_s
        self.changed: dict[str, asyncio.Event] = {}
        self.waiting: dict[str, int] = {}  # readers waiting, by execution
        self.seen: dict[str, int] = {}  # the newest event number the poller saw
        self.poller: asyncio.Task[None] | None = None

    def notify(self, events: Sequence[Event]) -> None:
        for execution_id in {e.execution_id for e in events}:
            self._wake(execution_id)

    def _wake(self, execution_id: str) -> None:
        signal = self.changed.pop(execution_id, None)
        if signal is not None:
            signal.set()

    def signal(self, execution_id: str) -> asyncio.Event:
        return self.changed.setdefault(execution_id, asyncio.Event())

    async def wait_after(
        self,
        execution_id: str,
        after_seq: int,
        wait_s: float,
        read_store: Callable[[int], Awaitable[list[Event]]],
    ) -> list[Event]:
        """Events after ``after_seq`` (``read_store(seq)`` reads those after ``seq``), waiting
        up to ``wait_s`` for new ones. Returns [] when none came in time, or at once when the
        event at ``after_seq`` is the execution's terminal event (nothing follows it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        since = max(after_seq - 1, 0)  # the event at the cursor too: is it the last one?
        self.waiting[execution_id] = self.waiting.get(execution_id, 0) + 1
        try:
            while True:
                signal = self.signal(execution_id)
                found = await read_store(since)
                if found and found[0].seq == after_seq:
                    if found[0].type in TERMINAL_EVENTS:
                        return found[1:]
                    found = found[1:]
                if found:
                    return found
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                # What this reader has seen: the poller wakes it only for newer events.
                self.seen[execution_id] = max(self.seen.get(execution_id, 0), after_seq)
                if not signal.is_set():
                    timeout = remaining if self._polling() else min(remaining, self.poll_s)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(signal.wait(), timeout)
        finally:
            self.waiting[execution_id] -= 1
            if not self.waiting[execution_id]:  # the last reader left: forget the execution
                del self.waiting[execution_id]
                self.changed.pop(execution_id, None)
                self.seen.pop(execution_id, None)

    def _polling(self) -> bool:
        """Whether the shared poller runs (started here when it is not running yet)."""
        if self.latest is None:
            return False
        if self.poller is None or self.poller.done():
            self.poller = asyncio.get_running_loop().create_task(self._poll())
        return True

    async def _poll(self) -> None:
        while self.waiting:
            await asyncio.sleep(self.poll_s)
            assert self.latest is not None
            ids = list(self.waiting)
            try:
                newest = await self.latest(ids)
            except Exception:  # the store away for a moment: the readers' timeouts still end
                continue
            for execution_id, seq in newest.items():
                if seq > self.seen.get(execution_id, 0) and execution_id in self.waiting:
                    self.seen[execution_id] = seq
                    self._wake(execution_id)


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
    writer thread. The store numbers the events that come without a number, in the transaction
    (hub.store._writes.number_events); readers waiting for them are woken once they landed.

    When a batch fails, its writes are applied one by one so that one bad write (say, an update
    of an execution that does not exist) fails only the caller that sent it; everyone else's
    writes still land.
    """

    def __init__(
        self,
        apply_batch: Callable[[list[StoreWrite]], None],
        watch: EventWatch,
        *,
        max_batch: int = 5000,
        inline_max: int = 64,
    ) -> None:
        self.apply_batch = apply_batch
        self.watch = watch
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
        self.watch.notify(events)
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

    def _write(self, batch: list[StoreWrite]) -> list[Event]:
        events = [w.event for w in batch if isinstance(w, AppendEvent)]
        unnumbered = [e for e in events if e.seq < 1]
        if batch:
            try:
                self.apply_batch(batch)
            except BaseException:
                for event in unnumbered:  # numbered by a transaction that did not commit
                    event.seq = 0
                raise
            self.batches += 1
            self.writes += len(batch)
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


async def commit_groups(
    committer: GroupCommitter, groups: Sequence[Sequence[StoreWrite]]
) -> list[HubError | None]:
    """Commit several callers' writes at once: each group is durable all or nothing, and fails
    alone (its error, a HubError, is in its place in the answer)."""
    futures = [committer.submit(group, wait=True) for group in groups]
    outcomes = await asyncio.gather(*(f for f in futures if f), return_exceptions=True)
    return [_as_hub_error(outcome) for outcome in outcomes]


def _as_hub_error(outcome: object) -> HubError | None:
    """A commit's outcome as the caller gets it: None, or a HubError that crosses Ray whole."""
    if not isinstance(outcome, BaseException):
        return None
    if isinstance(outcome, HubError):
        return outcome
    return StoreError(f"the store failed: {type(outcome).__name__}: {outcome}")


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
