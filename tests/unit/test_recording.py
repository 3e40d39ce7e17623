"""hub.recording: group commits into a real SQLite store, event numbering, the event cache."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from hub.errors import StoreError
from hub.recording import EventCache, GroupCommitter
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
    body: Callable[[GroupCommitter, EventCache], Coroutine[Any, Any, Any]],
    *,
    apply_batch: Callable[[list[StoreWrite]], None] | None = None,
    max_batch: int = 5000,
    inline_max: int = 64,
) -> Any:
    """Run ``body`` with a committer over ``store`` inside a fresh event loop."""

    async def main() -> Any:
        cache = EventCache()
        committer = GroupCommitter(
            apply_batch or store.apply,
            store.max_event_seq,
            cache,
            max_batch=max_batch,
            inline_max=inline_max,
        )
        try:
            return await body(committer, cache)
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

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
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


def test_a_new_execution_s_events_are_numbered_without_reading_the_store(store: Store) -> None:
    a = new_id()
    reads: list[str] = []

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
        def counting_max_seq(execution_id: str) -> int:
            reads.append(execution_id)
            return store.max_event_seq(execution_id)

        committer.max_seq = counting_max_seq
        await commit(committer, [create(a)])
        await commit(committer, [event(a, "one"), event(a, "two")])

    run_with_committer(store, body)
    assert reads == []  # created here: its numbering starts at 1 with no SELECT
    assert stored(store, a) == [(1, "one"), (2, "two")]


def test_seq_continues_from_the_store_after_a_restart(store: Store) -> None:
    a = new_id()

    async def first(committer: GroupCommitter, cache: EventCache) -> None:
        committer.submit([create(a), event(a, "one"), event(a, "two")], wait=False)
        await committer.drain()

    async def second(committer: GroupCommitter, cache: EventCache) -> None:
        assert not cache.known(a)
        await commit(committer, [event(a, "three")])
        assert cache.known(a)

    run_with_committer(store, first)
    run_with_committer(store, second)  # a new cache: numbering re-reads the store
    assert stored(store, a) == [(1, "one"), (2, "two"), (3, "three")]


def test_wait_resolves_only_after_the_rows_are_readable(store: Store) -> None:
    a = new_id()
    gate = threading.Event()

    def gated_apply(batch: list[StoreWrite]) -> None:
        gate.wait(5)
        store.apply(batch)

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
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
        # and the cache has them too
        cached = cache.after(a, 0)
        assert cached is not None
        assert [e.type for e in cached] == ["started"]

    # inline_max=0: every batch goes to the writer thread, so the loop stays free to observe it
    run_with_committer(store, body, apply_batch=gated_apply, inline_max=0)


def test_wait_false_returns_none_and_still_writes(store: Store) -> None:
    a = new_id()

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
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

    async def body(committer: GroupCommitter, cache: EventCache) -> dict[str, Any]:
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

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
        future = committer.submit([create(a), *(event(a, f"e{n}") for n in range(9))], wait=True)
        assert future is not None
        await future

    run_with_committer(store, body, apply_batch=counting_apply, max_batch=3)
    assert batch_sizes == [3, 3, 3, 1]
    assert [seq for seq, _ in stored(store, a)] == list(range(1, 10))


def test_a_bad_write_fails_only_its_own_commit_and_the_rest_still_commit(store: Store) -> None:
    """A commit is all or nothing: the good write sent with the bad one is not applied (its
    seq stays unused), and the other senders' writes land."""
    a, ghost = new_id(), new_id()

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
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
    assert stored(store, a) == [(1, "one"), (3, "two")]
    assert store.get_execution(a).status == ExecutionStatus.RUNNING


def test_a_lost_fire_and_forget_write_does_not_fail_other_waiters(store: Store) -> None:
    a, ghost = new_id(), new_id()

    async def body(committer: GroupCommitter, cache: EventCache) -> dict[str, Any]:
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

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
        for i in ids:
            committer.submit([create(i), event(i, "e")], wait=False)
        await committer.drain()

    run_with_committer(store, body)
    assert all(stored(store, i) == [(1, "e")] for i in ids)


def test_log_events_reach_the_logs_table(store: Store) -> None:
    a = new_id()
    log = event(a, "log", level="info", message="hello", source="node", metadata={})

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
        await commit(committer, [create(a), event(a, "execution_started"), log])

    run_with_committer(store, body)
    entries = store.logs(a)
    assert [(e.seq, e.message) for e in entries] == [(2, "hello")]


def test_subscribers_are_signalled_when_events_commit(store: Store) -> None:
    a = new_id()

    async def body(committer: GroupCommitter, cache: EventCache) -> None:
        signal = cache.signal(a)
        assert not signal.is_set()
        committer.submit([create(a), event(a, "execution_started")], wait=False)
        await asyncio.wait_for(signal.wait(), 5)
        found = cache.after(a, 0)
        assert found is not None and [e.seq for e in found] == [1]

    run_with_committer(store, body)


# --- EventCache -----------------------------------------------------------------------------------


def numbered(execution_id: str, seq: int, kind: str = "step_started") -> Event:
    return Event(execution_id=execution_id, type=kind, seq=seq)


def test_after_is_none_for_an_unknown_execution() -> None:
    assert EventCache().after("nope", 0) is None


def test_after_returns_events_past_the_cursor() -> None:
    cache = EventCache()
    cache.publish([numbered("a", 1), numbered("a", 2), numbered("b", 1), numbered("a", 3)])
    assert [e.seq for e in cache.after("a", 0) or []] == [1, 2, 3]
    assert [e.seq for e in cache.after("a", 2) or []] == [3]
    assert cache.after("a", 3) == []  # up to date: an answer, not "ask the store"
    assert [e.seq for e in cache.after("b", 0) or []] == [1]


def test_after_is_none_when_the_cache_starts_past_the_cursor() -> None:
    cache = EventCache()
    cache.publish([numbered("a", 5), numbered("a", 6)])  # e.g. cached since a restart
    assert cache.after("a", 2) is None
    assert cache.after("a", 3) is None
    assert [e.seq for e in cache.after("a", 4) or []] == [5, 6]


def test_terminated() -> None:
    cache = EventCache()
    assert cache.terminated("a") is False
    cache.publish([numbered("a", 1, "execution_started")])
    assert cache.terminated("a") is False
    for kind in ("execution_completed", "execution_failed", "execution_cancelled"):
        cache.publish([numbered(kind, 1, "execution_started"), numbered(kind, 2, kind)])
        assert cache.terminated(kind) is True


def test_old_executions_are_evicted() -> None:
    cache = EventCache(max_executions=2)
    cache.next_seq("a", lambda _: 0)
    cache.publish([numbered("a", 1)])
    cache.next_seq("b", lambda _: 0)
    cache.publish([numbered("b", 1)])
    cache.publish([numbered("a", 2)])  # "a" is now the most recently active
    cache.next_seq("c", lambda _: 0)
    cache.publish([numbered("c", 1)])
    assert cache.after("b", 0) is None  # evicted: the caller reads the store
    assert not cache.known("b")
    assert cache.after("a", 0) is not None
    assert cache.after("c", 0) is not None


def test_next_seq_reads_the_store_once() -> None:
    cache = EventCache()
    calls: list[str] = []

    def current_max(execution_id: str) -> int:
        calls.append(execution_id)
        return 7

    assert [cache.next_seq("a", current_max) for _ in range(3)] == [8, 9, 10]
    assert calls == ["a"]
    assert cache.known("a")


def test_signal_is_set_by_publish_and_replaced() -> None:
    async def body() -> None:
        cache = EventCache()
        first = cache.signal("a")
        assert cache.signal("a") is first
        cache.publish([numbered("b", 1)])
        assert not first.is_set()
        cache.publish([numbered("a", 1)])
        assert first.is_set()
        assert cache.signal("a") is not first  # a fresh one for the next wait

    asyncio.run(body())


def test_a_long_poll_returns_the_events_that_land_while_it_reads_the_store() -> None:
    """The race that lost a webhook run's events in notebook 02: the cache does not know the
    execution, so the poll reads the store; the whole run (terminal event included) commits
    during that read. The poll must return those events, not the stale empty read."""

    async def body() -> list[int]:
        cache = EventCache()

        async def read_store() -> list[Event]:
            cache.publish([numbered("a", 1, "execution_started")])
            cache.publish([numbered("a", 2, "execution_completed")])
            return []  # read before the commit landed

        found = await cache.wait_after("a", 0, 5.0, read_store)
        return [e.seq for e in found]

    assert asyncio.run(body()) == [1, 2]


def test_a_long_poll_wakes_on_new_events_and_times_out_empty() -> None:
    async def body() -> tuple[list[int], list[Event]]:
        cache = EventCache()
        cache.publish([numbered("a", 1, "execution_started")])

        async def no_store() -> list[Event]:
            raise AssertionError("the cache knows this execution")

        async def later() -> None:
            await asyncio.sleep(0.05)
            cache.publish([numbered("a", 2, "step_started")])

        task = asyncio.create_task(later())
        woke = await cache.wait_after("a", 1, 5.0, no_store)
        await task
        idle = await cache.wait_after("a", 2, 0.05, no_store)
        return [e.seq for e in woke], idle

    woke, idle = asyncio.run(body())
    assert woke == [2] and idle == []


def test_a_long_poll_past_the_terminal_event_returns_at_once() -> None:
    async def body() -> list[Event]:
        cache = EventCache()
        cache.publish([numbered("a", 1, "execution_started"), numbered("a", 2, "execution_failed")])

        async def no_store() -> list[Event]:
            raise AssertionError("the cache knows this execution")

        return await asyncio.wait_for(cache.wait_after("a", 2, 60.0, no_store), 5)

    assert asyncio.run(body()) == []
