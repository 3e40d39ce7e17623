"""hub.recording: group commits into a real SQLite store, event numbering, live event readers."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from hub.errors import StoreError
from hub.recording import EventWatch, GroupCommitter
from hub.records import (
    AppendEvent,
    CreateExecution,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    StoreWrite,
    UpdateExecution,
)
from hub.store import Store

# --- helpers --------------------------------------------------------------------------------------


def new_id() -> str:
    return uuid.uuid4().hex


def create(execution_id: str) -> CreateExecution:
    return CreateExecution(
        record=ExecutionRecord(
            id=execution_id,
            workflow_id="wf",
            workflow_version="1",
            status=ExecutionStatus.QUEUED,
        )
    )


def event(execution_id: str, kind: str, **data: Any) -> AppendEvent:
    return AppendEvent(event=Event(execution_id=execution_id, type=kind, data=data))


def update(execution_id: str, status: ExecutionStatus) -> UpdateExecution:
    return UpdateExecution(execution_id=execution_id, status=status)


def run_with_committer(
    store: Store,
    body: Callable[[GroupCommitter, EventWatch], Coroutine[Any, Any, Any]],
    *,
    apply_batch: Callable[[list[StoreWrite]], None] | None = None,
    max_batch: int = 5000,
    inline_max: int = 64,
) -> Any:
    """Run ``body`` with a committer over ``store`` inside a fresh event loop."""

    async def main() -> Any:
        watch = EventWatch()
        committer = GroupCommitter(
            apply_batch or store.apply, watch, max_batch=max_batch, inline_max=inline_max
        )
        try:
            return await body(committer, watch)
        finally:
            if committer.task is not None:
                committer.task.cancel()
            committer.thread.shutdown(wait=True)

    return asyncio.run(main())


async def commit(committer: GroupCommitter, writes: list[StoreWrite]) -> None:
    future = committer.submit(writes, wait=True)
    assert future is not None
    await future


def stored(store: Store, execution_id: str) -> list[tuple[int, str]]:
    return [(e.seq, e.type) for e in store.events_after(execution_id)]


# --- GroupCommitter -------------------------------------------------------------------------------


def test_seq_is_1_to_n_per_execution_in_submission_order(store: Store) -> None:
    a, b = new_id(), new_id()

    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        committer.submit([create(a), create(b)], wait=False)
        committer.submit([event(a, "a1"), event(b, "b1")], wait=False)
        await asyncio.sleep(0.01)  # let a first batch land
        committer.submit([event(a, "a2")], wait=False)
        committer.submit([event(b, "b2"), event(a, "a3")], wait=False)
        await asyncio.sleep(0.01)
        future = committer.submit([event(b, "b3"), event(a, "a4")], wait=True)
        assert future is not None
        await future

    run_with_committer(store, body)
    assert stored(store, a) == [(1, "a1"), (2, "a2"), (3, "a3"), (4, "a4")]
    assert stored(store, b) == [(1, "b1"), (2, "b2"), (3, "b3")]


def test_a_failed_transaction_gives_its_event_numbers_back(store: Store) -> None:
    """The store numbers events inside the transaction (in place, so readers can be told);
    a transaction that rolls back leaves them unnumbered again, or a retry would store the
    numbers of a transaction that never happened."""
    a = new_id()

    def numbering_then_failing(batch: list[StoreWrite]) -> None:
        for write in batch:
            if isinstance(write, AppendEvent):
                write.event.seq = 99  # what the store's numbering did before the rollback
        raise StoreError("rolled back")

    async def body(committer: GroupCommitter, watch: EventWatch) -> AppendEvent:
        write = event(a, "one")
        future = committer.submit([write], wait=True)
        assert future is not None
        try:
            await future
        except StoreError:
            pass
        else:
            raise AssertionError("the commit should have failed")
        return write

    assert run_with_committer(store, body, apply_batch=numbering_then_failing).event.seq == 0


def test_seq_continues_from_the_store_after_a_restart(store: Store) -> None:
    a = new_id()

    async def first(committer: GroupCommitter, watch: EventWatch) -> None:
        committer.submit([create(a), event(a, "one"), event(a, "two")], wait=False)
        await committer.drain()

    async def second(committer: GroupCommitter, watch: EventWatch) -> None:
        await commit(committer, [event(a, "three")])

    run_with_committer(store, first)
    run_with_committer(store, second)  # a new committer: numbering reads the store
    assert stored(store, a) == [(1, "one"), (2, "two"), (3, "three")]


def test_wait_resolves_only_after_the_rows_are_readable(store: Store) -> None:
    a = new_id()
    gate = threading.Event()

    def gated_apply(batch: list[StoreWrite]) -> None:
        gate.wait(5)
        store.apply(batch)

    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        future = committer.submit([create(a), event(a, "started")], wait=True)
        assert future is not None
        await asyncio.sleep(0.05)
        assert not future.done()  # the transaction has not committed yet
        assert store.events_after(a) == []
        gate.set()
        await future
        # readable the moment the future resolves
        assert store.get_execution(a).status == ExecutionStatus.QUEUED
        assert stored(store, a) == [(1, "started")]

    # inline_max=0: every batch goes to the writer thread, so the loop stays free to observe it
    run_with_committer(store, body, apply_batch=gated_apply, inline_max=0)


def test_wait_false_returns_none_and_still_writes(store: Store) -> None:
    a = new_id()

    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        assert committer.submit([create(a), event(a, "x")], wait=False) is None
        await committer.drain()

    run_with_committer(store, body)
    assert stored(store, a) == [(1, "x")]


def test_concurrent_submits_are_grouped_into_few_batches(store: Store) -> None:
    ids = [new_id() for _ in range(40)]
    batch_sizes: list[int] = []

    def counting_apply(batch: list[StoreWrite]) -> None:
        batch_sizes.append(len(batch))
        store.apply(batch)

    async def one(committer: GroupCommitter, execution_id: str) -> None:
        future = committer.submit([create(execution_id), event(execution_id, "e")], wait=True)
        assert future is not None
        await future

    async def body(committer: GroupCommitter, watch: EventWatch) -> dict[str, Any]:
        await asyncio.gather(*(one(committer, i) for i in ids))
        return committer.stats()

    stats = run_with_committer(store, body, apply_batch=counting_apply)
    assert stats["writes"] == 80
    assert stats["batches"] == len(batch_sizes)
    assert len(batch_sizes) < len(ids)
    assert sum(batch_sizes) == 80
    assert stats["queued"] == 0
    for i in ids:
        assert stored(store, i) == [(1, "e")]


def test_max_batch_splits_transactions(store: Store) -> None:
    a = new_id()
    batch_sizes: list[int] = []

    def counting_apply(batch: list[StoreWrite]) -> None:
        batch_sizes.append(len(batch))
        store.apply(batch)

    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        future = committer.submit([create(a), *(event(a, f"e{n}") for n in range(9))], wait=True)
        assert future is not None
        await future

    run_with_committer(store, body, apply_batch=counting_apply, max_batch=3)
    assert batch_sizes == [3, 3, 3, 1]
    assert [seq for seq, _ in stored(store, a)] == list(range(1, 10))


def test_a_bad_write_fails_only_its_own_commit_and_the_rest_still_commit(store: Store) -> None:
    """A commit is all or nothing: the good write sent with the bad one is not applied, and
    the other senders' writes land, numbered after what is stored."""
    a, ghost = new_id(), new_id()

    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        await commit(committer, [create(a), event(a, "one")])
        bad = committer.submit(
            [event(a, "kept"), update(ghost, ExecutionStatus.RUNNING)], wait=True
        )
        other = committer.submit([event(a, "two")], wait=True)
        assert bad is not None and other is not None
        results = await asyncio.gather(bad, other, return_exceptions=True)
        assert isinstance(results[0], StoreError) and ghost in str(results[0])
        assert results[1] is None
        later = committer.submit([update(a, ExecutionStatus.RUNNING)], wait=True)
        assert later is not None
        await later
        assert committer.stats()["failed_writes"] == 2

    run_with_committer(store, body)
    assert stored(store, a) == [(1, "one"), (2, "two")]
    assert store.get_execution(a).status == ExecutionStatus.RUNNING


def test_a_lost_fire_and_forget_write_does_not_fail_other_waiters(store: Store) -> None:
    a, ghost = new_id(), new_id()

    async def body(committer: GroupCommitter, watch: EventWatch) -> dict[str, Any]:
        await commit(committer, [create(a)])
        committer.submit([update(ghost, ExecutionStatus.RUNNING), event(a, "x")], wait=False)
        future = committer.submit([event(a, "y")], wait=True)
        assert future is not None
        await future
        return committer.stats()

    stats = run_with_committer(store, body, max_batch=2)
    assert stored(store, a) == [(1, "x"), (2, "y")]
    assert stats["failed_writes"] == 1 and ghost in (stats["last_failure"] or "")


def test_drain_waits_for_everything_queued(store: Store) -> None:
    ids = [new_id() for _ in range(5)]

    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        for i in ids:
            committer.submit([create(i), event(i, "e")], wait=False)
        await committer.drain()

    run_with_committer(store, body)
    assert all(stored(store, i) == [(1, "e")] for i in ids)


def test_log_events_reach_the_logs_table(store: Store) -> None:
    a = new_id()
    log = event(a, "log", level="info", message="hello", source="node", metadata={})

    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        await commit(committer, [create(a), event(a, "execution_started"), log])

    run_with_committer(store, body)
    entries = store.logs(a)
    assert [(e.seq, e.message) for e in entries] == [(2, "hello")]


def test_subscribers_are_signalled_when_events_commit(store: Store) -> None:
    a = new_id()

    async def body(committer: GroupCommitter, watch: EventWatch) -> None:
        signal = watch.signal(a)
        assert not signal.is_set()
        committer.submit([create(a), event(a, "execution_started")], wait=False)
        await asyncio.wait_for(signal.wait(), 5)
        assert stored(store, a) == [(1, "execution_started")]

    run_with_committer(store, body)


# --- EventWatch -----------------------------------------------------------------------------------


def numbered(execution_id: str, seq: int, kind: str = "step_started") -> Event:
    return Event(execution_id=execution_id, type=kind, seq=seq)


class FakeStore:
    """An execution's events as the store holds them: what ``read_store`` reads."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.reads = 0

    async def read(self, since: int) -> list[Event]:
        self.reads += 1
        return [e for e in self.events if e.seq > since]


def test_signal_is_set_by_notify_and_replaced() -> None:
    async def body() -> None:
        watch = EventWatch()
        first = watch.signal("a")
        assert watch.signal("a") is first
        watch.notify([numbered("b", 1)])
        assert not first.is_set()
        watch.notify([numbered("a", 1)])
        assert first.is_set()
        assert watch.signal("a") is not first  # a fresh one for the next wait

    asyncio.run(body())


def test_a_long_poll_returns_what_is_stored_past_the_cursor() -> None:
    async def body() -> tuple[list[int], list[int]]:
        store = FakeStore()
        store.events = [numbered("a", 1), numbered("a", 2), numbered("a", 3)]
        watch = EventWatch()
        everything = await watch.wait_after("a", 0, 5.0, store.read)
        rest = await watch.wait_after("a", 2, 5.0, store.read)
        return [e.seq for e in everything], [e.seq for e in rest]

    assert asyncio.run(body()) == ([1, 2, 3], [3])


def test_a_long_poll_returns_the_events_that_land_while_it_reads_the_store() -> None:
    """The race that lost a webhook run's events in notebook 02: the whole run commits while
    the poll reads the store. The poll must look again, not wait on a stale empty read."""

    async def body() -> list[int]:
        watch = EventWatch(poll_s=60)
        store = FakeStore()

        async def read(since: int) -> list[Event]:
            found = await store.read(since)
            if store.reads == 1:  # the commit lands during the first read
                store.events = [numbered("a", 1, "execution_started")]
                watch.notify(store.events)
            return found

        found = await asyncio.wait_for(watch.wait_after("a", 0, 30.0, read), 5)
        return [e.seq for e in found]

    assert asyncio.run(body()) == [1]


def test_a_long_poll_sees_events_another_writer_stored_within_its_poll() -> None:
    """A runner stores its own events (nobody notifies the Recorder): a waiting reader finds
    them at its next look at the store."""

    async def body() -> list[int]:
        store = FakeStore()
        watch = EventWatch(poll_s=0.02)

        async def runner() -> None:
            await asyncio.sleep(0.05)
            store.events.append(numbered("a", 1))

        task = asyncio.create_task(runner())
        found = await asyncio.wait_for(watch.wait_after("a", 0, 30.0, store.read), 5)
        await task
        return [e.seq for e in found]

    assert asyncio.run(body()) == [1]


def test_a_long_poll_wakes_on_notify_and_times_out_empty() -> None:
    async def body() -> tuple[list[int], list[Event]]:
        store = FakeStore()
        store.events = [numbered("a", 1, "execution_started")]
        watch = EventWatch(poll_s=60)

        async def later() -> None:
            await asyncio.sleep(0.05)
            store.events.append(numbered("a", 2))
            watch.notify(store.events[-1:])

        task = asyncio.create_task(later())
        woke = await asyncio.wait_for(watch.wait_after("a", 1, 30.0, store.read), 5)
        await task
        idle = await watch.wait_after("a", 2, 0.05, store.read)
        return [e.seq for e in woke], idle

    woke, idle = asyncio.run(body())
    assert woke == [2] and idle == []


def test_a_long_poll_past_the_terminal_event_returns_at_once() -> None:
    async def body() -> list[Event]:
        store = FakeStore()
        store.events = [numbered("a", 1, "execution_started"), numbered("a", 2, "execution_failed")]
        return await asyncio.wait_for(EventWatch().wait_after("a", 2, 60.0, store.read), 5)

    assert asyncio.run(body()) == []


def test_one_poller_serves_every_waiting_reader_and_forgets_them_when_they_leave() -> None:
    """Runners store their events without telling the Recorder: while readers wait, one query
    a poll (``latest``) covers all their executions, and only the readers of an execution
    that moved are woken. Nothing stays behind once the readers are gone."""

    async def body() -> tuple[list[int], list[list[str]], EventWatch]:
        stores = {name: FakeStore() for name in ("a", "b", "c")}
        for name, store in stores.items():
            store.events = [numbered(name, 1)]
        asked: list[list[str]] = []

        async def latest(ids: list[str]) -> dict[str, int]:
            asked.append(sorted(ids))
            return {i: stores[i].events[-1].seq for i in ids}

        watch = EventWatch(latest, poll_s=0.02)
        readers = [
            asyncio.create_task(watch.wait_after(name, 1, 1.0, stores[name].read))
            for name in stores
        ]
        await asyncio.sleep(0.1)
        stores["b"].events.append(numbered("b", 2))  # stored by its runner
        woke = await asyncio.wait_for(readers[1], 5)
        for reader in (readers[0], readers[2]):
            assert await reader == []  # timed out: nothing of theirs moved
        return [e.seq for e in woke], asked, watch

    woke, asked, watch = asyncio.run(body())
    assert woke == [2]
    assert asked and all(ids == ["a", "b", "c"] for ids in asked[:3])
    assert watch.waiting == {} and watch.changed == {} and watch.seen == {}
