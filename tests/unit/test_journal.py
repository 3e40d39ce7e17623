"""Shipping writes to the Recorder (actors/_journal.py).

CommitCoalescer: many callers' commits in few Recorder calls, each commit all or nothing and
failing alone; the Recorder side is the real GroupCommitter over a SQLite store, called the way
RecorderActor.commit_groups calls it. RecorderJournal.take: an execution's last writes handed
to the supervisor, after everything shipped before them. Direct mode: a run's writes (steps,
events, updates) stored by the journal itself in a real SQLite store, fenced by the runner's
claim, its events numbered by the journal."""

from __future__ import annotations

import asyncio
import functools
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from actors._journal import CommitCoalescer, RecorderJournal, StoreWrites
from hub.errors import HubError, StoreError, Superseded
from hub.history import AuditEntry
from hub.recording import EventWatch, GroupCommitter, Lease, RunnerLeases
from hub.records import (
    AppendAudit,
    AppendEvent,
    CreateExecution,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    StoreWrite,
    UpdateExecution,
    UpsertStep,
)
from hub.store import Store


def create(execution_id: str, key: str | None = None) -> CreateExecution:
    record = ExecutionRecord(
        id=execution_id,
        workflow_id="wf",
        workflow_version="1",
        status=ExecutionStatus.QUEUED,
        idempotency_key=key,
    )
    return CreateExecution(record=record)


def audit(target: str) -> AppendAudit:
    return AppendAudit(entry=AuditEntry(actor="test", action="run.start", target=target))


class Recorder:
    """What RecorderActor.commit_groups does, minus Ray; counts the calls."""

    def __init__(self, committer: GroupCommitter) -> None:
        self.committer = committer
        self.calls: list[int] = []

    async def commit_groups(self, groups: list[Sequence[StoreWrite]]) -> list[HubError | None]:
        self.calls.append(len(groups))
        await asyncio.sleep(0.01)  # a call in flight: later commits gather behind it
        futures = [self.committer.submit(g, wait=True) for g in groups]
        outcomes = await asyncio.gather(*(f for f in futures if f), return_exceptions=True)
        return [o if isinstance(o, HubError) else None for o in outcomes]


def run(store: Store, body: object) -> Recorder:
    async def main() -> Recorder:
        recorder = Recorder(GroupCommitter(store.apply, EventWatch()))
        await body(CommitCoalescer(recorder.commit_groups), recorder)  # type: ignore[operator]
        return recorder

    return asyncio.run(main())


def test_one_commit_at_low_load_goes_alone_and_at_once(store: Store) -> None:
    a = uuid.uuid4().hex

    async def body(coalescer: CommitCoalescer, recorder: Recorder) -> None:
        await coalescer.commit([create(a), audit(a)])

    recorder = run(store, body)
    assert recorder.calls == [1]
    assert store.get_execution(a).status == ExecutionStatus.QUEUED
    assert [e.target for e in store.audit_entries()] == [a]


def test_concurrent_commits_share_calls_and_all_land(store: Store) -> None:
    ids = [uuid.uuid4().hex for _ in range(50)]

    async def body(coalescer: CommitCoalescer, recorder: Recorder) -> None:
        await asyncio.gather(*(coalescer.commit([create(i), audit(i)]) for i in ids))

    recorder = run(store, body)
    assert sum(recorder.calls) == 50 and len(recorder.calls) <= 2
    assert {store.get_execution(i).id for i in ids} == set(ids)
    assert sorted(e.target or "" for e in store.audit_entries(limit=100)) == sorted(ids)


def test_a_refused_commit_fails_alone_and_writes_nothing_of_its_own(store: Store) -> None:
    first, duplicate, other = (uuid.uuid4().hex for _ in range(3))

    async def body(coalescer: CommitCoalescer, recorder: Recorder) -> list[object]:
        await coalescer.commit([create(first, key="k")])
        return await asyncio.gather(
            coalescer.commit([create(duplicate, key="k"), audit(duplicate)]),
            coalescer.commit([create(other), audit(other)]),
            return_exceptions=True,
        )

    outcomes: list[object] = []

    async def capture(coalescer: CommitCoalescer, recorder: Recorder) -> None:
        outcomes.extend(await body(coalescer, recorder))

    run(store, capture)
    assert isinstance(outcomes[0], StoreError) and "idempotency key 'k'" in str(outcomes[0])
    assert outcomes[1] is None
    # The refused commit's audit entry went with it; the other commit is whole.
    assert sorted(e.target or "" for e in store.audit_entries()) == [other]
    assert store.get_execution(other).status == ExecutionStatus.QUEUED


def test_a_failed_call_fails_every_commit_in_it_and_the_next_call_works(store: Store) -> None:
    a, b, c = (uuid.uuid4().hex for _ in range(3))
    calls: list[int] = []

    async def flaky(groups: list[Sequence[StoreWrite]]) -> list[HubError | None]:
        calls.append(len(groups))
        await asyncio.sleep(0.01)
        if len(calls) == 2:
            raise HubError("the Recorder is restarting")
        store.apply([w for g in groups for w in g])
        return [None] * len(groups)

    async def main() -> list[object]:
        coalescer = CommitCoalescer(flaky, max_in_flight=1)
        first = asyncio.ensure_future(coalescer.commit([create(a)]))
        await asyncio.sleep(0)  # its call is in flight
        outcomes = await asyncio.gather(
            first,
            coalescer.commit([create(b)]),  # these two wait behind the first,
            coalescer.commit([create(c)]),  # then go together in the failing call
            return_exceptions=True,
        )
        await coalescer.commit([UpdateExecution(execution_id=a, status=ExecutionStatus.RUNNING)])
        return outcomes

    outcomes = asyncio.run(main())
    assert calls == [1, 2, 1]
    assert outcomes[0] is None
    assert all(isinstance(o, HubError) and "restarting" in str(o) for o in outcomes[1:])
    assert store.get_execution(a).status == ExecutionStatus.RUNNING


def test_a_second_call_goes_while_the_first_is_in_flight(store: Store) -> None:
    """Two calls in flight: a run's start does not wait behind another run's end."""
    a, b, c = (uuid.uuid4().hex for _ in range(3))
    calls: list[int] = []

    async def main() -> None:
        gate = asyncio.Event()

        async def slow(groups: list[Sequence[StoreWrite]]) -> list[HubError | None]:
            calls.append(len(groups))
            await gate.wait()
            store.apply([w for g in groups for w in g])
            return [None] * len(groups)

        coalescer = CommitCoalescer(slow)
        first = asyncio.ensure_future(coalescer.commit([create(a)]))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(coalescer.commit([create(b)]))
        await asyncio.sleep(0.01)
        assert calls == [1, 1]  # both in flight
        third = asyncio.ensure_future(coalescer.commit([create(c)]))
        await asyncio.sleep(0.01)
        assert calls == [1, 1]  # the third waits for one of them
        gate.set()
        await asyncio.gather(first, second, third)

    asyncio.run(main())
    assert calls == [1, 1, 1]
    assert {store.get_execution(i).id for i in (a, b, c)} == {a, b, c}


class _Method:
    def __init__(self, recorder: FakeRecorder, name: str) -> None:
        self.recorder, self.name = recorder, name

    def remote(self, batch: list[StoreWrite], lease: Lease | None = None) -> asyncio.Future[Any]:
        """Answers like the Recorder: record says whether it took the writes, commit raises
        Superseded for a lease that is not the holder's."""
        self.recorder.log.append((self.name, list(batch)))
        future = asyncio.get_running_loop().create_future()
        refused = lease is not None and self.recorder.holder not in (None, lease[1])
        if refused and self.name == "commit":
            answer: Any = functools.partial(future.set_exception, Superseded.of(lease[0]))
        else:
            answer = functools.partial(future.set_result, not refused)
        asyncio.get_running_loop().call_later(0.005, answer)
        return future


class FakeRecorder:
    """Records what reaches it, in order; each call takes 5 ms to answer. ``holder``: the
    token of the runner that claimed the execution (RunnerLeases), None for none."""

    def __init__(self) -> None:
        self.log: list[tuple[str, list[StoreWrite]]] = []
        self.holder: str | None = None
        self.record = _Method(self, "record")
        self.commit = _Method(self, "commit")


def test_take_hands_over_only_what_was_not_shipped_after_what_was() -> None:
    first, second, last = (
        UpdateExecution(execution_id=uuid.uuid4().hex, status=ExecutionStatus.RUNNING)
        for _ in range(3)
    )

    async def main() -> tuple[FakeRecorder, list[StoreWrite]]:
        recorder = FakeRecorder()
        journal = RecorderJournal(recorder, delay_s=0.001)
        journal.emit(first)
        await asyncio.sleep(0.003)  # the timer ships it; the call is still in flight
        journal.emit(second)
        await asyncio.sleep(0.003)  # its ship waits behind the first
        journal.emit(last)
        taken = await journal.take()
        return recorder, taken

    recorder, taken = asyncio.run(main())
    shipped = [w for _, batch in recorder.log for w in batch]
    # Whatever was shipped reached the Recorder before take returned, nothing was committed
    # by the journal itself, and shipped + taken is every write once, in order.
    assert {name for name, _ in recorder.log} == {"record"}
    assert shipped[:2] == [first, second]
    assert shipped + taken == [first, second, last]


def _running(execution_id: str) -> UpdateExecution:
    return UpdateExecution(execution_id=execution_id, status=ExecutionStatus.RUNNING)


def test_a_refused_record_supersedes_the_journal_and_its_next_flush_raises() -> None:
    execution_id = uuid.uuid4().hex

    async def main() -> tuple[FakeRecorder, RecorderJournal]:
        recorder = FakeRecorder()
        journal = RecorderJournal(recorder, delay_s=0.001, lease=(execution_id, "mine"))
        journal.emit(_running(execution_id))
        await asyncio.sleep(0.02)  # shipped and taken: this runner still holds it
        assert not journal.superseded
        recorder.holder = "theirs"  # another runner resumed the execution
        journal.emit(_running(execution_id))
        await asyncio.sleep(0.02)  # shipped and refused
        assert journal.superseded
        journal.emit(_running(execution_id))  # dropped: never shipped
        with pytest.raises(Superseded):
            await journal.flush()
        return recorder, journal

    recorder, journal = asyncio.run(main())
    assert [name for name, _ in recorder.log] == ["record", "record"]  # flush sent nothing
    assert journal.buffer == []


def test_a_refused_commit_raises_superseded_and_the_journal_stays_superseded() -> None:
    execution_id = uuid.uuid4().hex

    async def main() -> RecorderJournal:
        recorder = FakeRecorder()
        recorder.holder = "theirs"
        journal = RecorderJournal(recorder, delay_s=10, lease=(execution_id, "mine"))
        journal.emit(_running(execution_id))
        with pytest.raises(Superseded) as caught:
            await journal.flush()
        assert caught.value.details == {"execution_id": execution_id}
        return journal

    journal = asyncio.run(main())
    assert journal.superseded


def test_writes_without_a_lease_or_under_the_holder_s_land() -> None:
    execution_id = uuid.uuid4().hex

    async def main() -> FakeRecorder:
        recorder = FakeRecorder()
        recorder.holder = "mine"
        for journal in (
            RecorderJournal(recorder, delay_s=10),
            RecorderJournal(recorder, delay_s=10, lease=(execution_id, "mine")),
        ):
            journal.emit(_running(execution_id))
            await journal.flush()
            assert not journal.superseded
        return recorder

    assert [name for name, _ in asyncio.run(main()).log] == ["commit", "commit"]


def test_runner_leases_admit_the_holder_and_unclaimed_executions_only() -> None:
    leases = RunnerLeases(max_entries=2)
    assert leases.admits(None) and leases.admits(("a", "first"))  # nothing claimed a yet
    leases.claim("a", "second")
    assert leases.admits(("a", "second")) and leases.admits(None)
    assert not leases.admits(("a", "first"), writes=3)
    assert leases.refused == 3
    leases.claim("a", "third")  # a third runner: the second is stale now
    assert not leases.admits(("a", "second")) and leases.admits(("a", "third"))
    leases.claim("b", "x")
    leases.claim("c", "y")  # over max_entries: the oldest claim (a) is forgotten
    assert set(leases.holders) == {"b", "c"}


# --- checkpoint: commit without waiting, with a barrier for the calls that depend on it --------


def test_a_checkpoint_commits_at_once_and_the_next_shipment_waits_for_it() -> None:
    first, second = (_running(uuid.uuid4().hex) for _ in range(2))

    async def main() -> tuple[FakeRecorder, list[Any]]:
        recorder = FakeRecorder()
        journal = RecorderJournal(recorder, delay_s=0.001)
        journal.emit(first)
        await journal.checkpoint()  # returns before the commit is answered (5 ms)
        barrier = journal.barrier
        assert barrier is not None and not barrier.done()
        assert recorder.log == [("commit", [first])]
        journal.emit(second)
        await asyncio.sleep(0.003)  # the timer fires; its ship waits for the commit
        assert len(recorder.log) == 1
        await journal.settled()
        assert barrier.done() and journal.barrier is None
        await asyncio.sleep(0.01)
        return recorder, [barrier]

    recorder, _ = asyncio.run(main())
    assert recorder.log == [("commit", [first]), ("record", [second])]


def test_a_refused_checkpoint_supersedes_the_journal() -> None:
    execution_id = uuid.uuid4().hex

    async def main() -> RecorderJournal:
        recorder = FakeRecorder()
        recorder.holder = "theirs"
        journal = RecorderJournal(recorder, delay_s=10, lease=(execution_id, "mine"))
        journal.emit(_running(execution_id))
        await journal.checkpoint()  # sent; refused 5 ms later
        with pytest.raises(Superseded):
            await journal.settled()
        with pytest.raises(Superseded):  # and the end is not handed over either
            await journal.take()
        return journal

    assert asyncio.run(main()).superseded


def test_a_failed_checkpoint_is_raised_by_the_next_call() -> None:
    class Broken(FakeRecorder):
        def __init__(self) -> None:
            super().__init__()
            self.commit = self

        def remote(self, batch: list[StoreWrite], lease: Lease | None = None) -> Any:
            future = asyncio.get_running_loop().create_future()
            future.set_exception(StoreError("the disk is full"))
            return future

    async def main() -> None:
        journal = RecorderJournal(Broken(), delay_s=10)
        journal.emit(_running(uuid.uuid4().hex))
        await journal.checkpoint()
        with pytest.raises(StoreError, match="disk is full"):
            await journal.flush()
        with pytest.raises(StoreError, match="disk is full"):
            await journal.checkpoint()

    asyncio.run(main())


def test_checkpoints_waiting_behind_a_commit_share_the_next_one() -> None:
    """Eight steps end while a commit is in flight: one more commit carries all their writes;
    the checkpoints that find nothing new once it is answered commit nothing. A checkpoint after
    writes that only went by the timer (not durable) still commits."""
    writes = [_running(uuid.uuid4().hex) for _ in range(10)]

    async def main() -> FakeRecorder:
        recorder = FakeRecorder()
        journal = RecorderJournal(recorder, delay_s=10)
        journal.emit(writes[0])
        await journal.checkpoint()  # in flight for 5 ms

        async def step_ends(write: StoreWrite) -> None:
            journal.emit(write)
            await journal.checkpoint()

        await asyncio.gather(*(step_ends(w) for w in writes[1:9]))
        await journal.settled()
        journal.delay_s = 0.001
        journal.emit(writes[9])
        await asyncio.sleep(0.02)  # the timer ships it with record: not durable
        await journal.checkpoint()
        await journal.settled()
        return recorder

    recorder = asyncio.run(main())
    assert [(name, len(batch)) for name, batch in recorder.log] == [
        ("commit", 1),
        ("commit", 8),
        ("record", 1),
        ("commit", 0),
    ]


# --- direct mode: the run's writes go straight to the store -------------------------------------


def _step(node_id: str, status: StepStatus = StepStatus.RUNNING, **kw: Any) -> StepRecord:
    return StepRecord(node_id=node_id, node_type="bench.noop", status=status, **kw)


def _event(execution_id: str, kind: str = "step_started") -> AppendEvent:
    return AppendEvent(event=Event(execution_id=execution_id, type=kind))


def _direct(store: Store, execution_id: str, token: str = "mine", **kw: Any) -> Any:
    """A created execution and a journal for it in direct mode, with a FakeRecorder."""
    store.apply([create(execution_id)])
    recorder = FakeRecorder()
    journal = RecorderJournal(
        recorder,
        lease=(execution_id, token),
        direct=StoreWrites(Store(store.url, migrate=False), inline=True),
        **{"delay_s": 10.0, **kw},
    )
    return recorder, journal


def test_a_direct_checkpoint_stores_everything_emitted_before_it_returns(store: Store) -> None:
    """The step's last row and its events are durable when checkpoint returns (no barrier:
    dependents need not wait for anything), the events numbered by the journal, and nothing
    went to the Recorder."""
    execution_id = uuid.uuid4().hex

    async def main() -> FakeRecorder:
        recorder, journal = _direct(store, execution_id)
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("a")))
        journal.emit(_event(execution_id, "step_started"))
        done = _step("a", StepStatus.COMPLETED, attempts=1, output={"ok": True})
        journal.emit(UpsertStep(execution_id=execution_id, step=done))
        journal.emit(_event(execution_id, "step_completed"))
        await journal.checkpoint()
        assert journal.barrier is None
        stored = store.get_execution(execution_id).steps
        assert [(s.node_id, s.status, s.output) for s in stored] == [
            ("a", StepStatus.COMPLETED, {"ok": True})
        ]
        events = [(e.seq, e.type) for e in store.events_after(execution_id)]
        assert events == [(1, "step_started"), (2, "step_completed")]
        return recorder

    assert asyncio.run(main()).log == []


def test_the_timer_stores_what_no_checkpoint_did(store: Store) -> None:
    """An inline step's row and events (no checkpoint) are stored by the timer."""
    execution_id = uuid.uuid4().hex

    async def main() -> None:
        _, journal = _direct(store, execution_id, delay_s=0.01)
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("x", StepStatus.COMPLETED)))
        journal.emit(_event(execution_id, "step_completed"))
        for _ in range(500):
            if store.events_after(execution_id):
                break
            await asyncio.sleep(0.01)
        assert [s.node_id for s in store.get_execution(execution_id).steps] == ["x"]
        assert [e.seq for e in store.events_after(execution_id)] == [1]

    asyncio.run(main())


def test_a_resumed_run_numbers_its_events_after_the_stored_ones(store: Store) -> None:
    execution_id = uuid.uuid4().hex

    async def main() -> None:
        _, first = _direct(store, execution_id)
        first.emit(_event(execution_id, "execution_started"))
        first.emit(_event(execution_id, "step_started"))
        await first.flush()
        direct = StoreWrites(Store(store.url, migrate=False), inline=True)
        last = await direct.last_event_seq(execution_id)
        store.claim_runner(execution_id, "resumed")
        again = RecorderJournal(
            FakeRecorder(), 10.0, (execution_id, "resumed"), direct=direct, last_seq=last
        )
        again.emit(_event(execution_id, "execution_resumed"))
        assert await again.take() == []  # stored by take itself
        events = [(e.seq, e.type) for e in store.events_after(execution_id)]
        assert events[-1] == (3, "execution_resumed") and last == 2

    asyncio.run(main())


def test_a_direct_checkpoint_after_another_runner_claimed_stops_the_journal(store: Store) -> None:
    execution_id = uuid.uuid4().hex

    async def main() -> RecorderJournal:
        _, journal = _direct(store, execution_id)
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("a")))
        await journal.checkpoint()
        store.claim_runner(execution_id, "theirs")  # another runner resumed the execution
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("a", StepStatus.FAILED)))
        journal.emit(_event(execution_id))
        with pytest.raises(Superseded):
            await journal.checkpoint()
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("b")))  # dropped
        with pytest.raises(Superseded):
            await journal.take()
        return journal

    journal = asyncio.run(main())
    assert journal.superseded
    assert [(s.node_id, s.status) for s in store.get_execution(execution_id).steps] == [
        ("a", StepStatus.RUNNING)
    ]
    assert store.events_after(execution_id) == []


def test_take_stores_the_run_s_end_itself(store: Store) -> None:
    """Direct mode: the end (last rows, events, the execution's update) is durable when take
    returns, in one transaction, and nothing is handed to the supervisor."""
    execution_id = uuid.uuid4().hex
    end = UpdateExecution(execution_id=execution_id, status=ExecutionStatus.COMPLETED)

    async def main() -> list[StoreWrite]:
        recorder, journal = _direct(store, execution_id)
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("a")))
        await journal.checkpoint()
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("b")))
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("b", StepStatus.COMPLETED)))
        journal.emit(end)
        journal.emit(_event(execution_id, "execution_completed"))
        taken = await journal.take()
        assert recorder.log == []
        return taken

    assert asyncio.run(main()) == []
    stored = store.get_execution(execution_id)
    assert stored.status == ExecutionStatus.COMPLETED
    assert [(s.node_id, s.status) for s in stored.steps] == [
        ("a", StepStatus.RUNNING),
        ("b", StepStatus.COMPLETED),
    ]
    assert [e.type for e in store.events_after(execution_id)] == ["execution_completed"]


def test_an_inline_store_s_checkpoint_is_durable_without_a_turn_of_the_loop(
    store: Store,
) -> None:
    """A host of one run on SQLite commits on its loop (``StoreWrites(inline=True)``): the
    checkpoint runs to its end in one step, no task or turn of the loop between a step's end
    and its durability, and nothing can cancel it half way."""
    execution_id = uuid.uuid4().hex

    async def main() -> None:
        store.apply([create(execution_id)])
        direct = StoreWrites(Store(store.url, migrate=False), inline=True)
        journal = RecorderJournal(FakeRecorder(), 10, (execution_id, "mine"), direct=direct)
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("a", StepStatus.COMPLETED)))
        journal.emit(_event(execution_id, "step_completed"))
        checkpoint = journal.checkpoint()
        with pytest.raises(StopIteration):
            checkpoint.send(None)
        assert [e.type for e in store.events_after(execution_id)] == ["step_completed"]

    asyncio.run(main())


def test_a_failed_direct_write_keeps_the_writes_for_the_next(store: Store) -> None:
    """The store refuses a write (a fault, not another runner): the checkpoint raises, the
    writes stay in order ahead of later ones, and the next write that succeeds stores them."""
    execution_id = uuid.uuid4().hex

    class Flaky(StoreWrites):
        failing = True

        def write_inline(self, lease: Lease, writes: Sequence[StoreWrite]) -> bool:
            if self.failing:
                raise StoreError("database is locked")
            return super().write_inline(lease, writes)

    async def main() -> None:
        store.apply([create(execution_id)])
        flaky = Flaky(Store(store.url, migrate=False), inline=True)
        journal = RecorderJournal(FakeRecorder(), 10, (execution_id, "mine"), direct=flaky)
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("a", StepStatus.FAILED)))
        journal.emit(_event(execution_id, "step_failed"))
        with pytest.raises(StoreError, match="locked"):
            await journal.checkpoint()
        flaky.failing = False
        journal.emit(_event(execution_id, "execution_failed"))
        await journal._store()
        events = [(e.seq, e.type) for e in store.events_after(execution_id)]
        assert events == [(1, "step_failed"), (2, "execution_failed")]
        assert [s.node_id for s in store.get_execution(execution_id).steps] == ["a"]

    asyncio.run(main())


def test_a_commit_right_after_the_last_shipper_finished_still_ships(store: Store) -> None:
    """With one call in flight: the shipper that carried the previous commit has returned but
    is still in the set until its done callback runs; the commit that arrives in that moment
    (its caller woke first) must start a shipper of its own, not wait for one that is over."""
    a, b = uuid.uuid4().hex, uuid.uuid4().hex

    async def main() -> None:
        committer = GroupCommitter(store.apply, EventWatch())
        recorder = Recorder(committer)
        coalescer = CommitCoalescer(recorder.commit_groups, max_in_flight=1)
        await coalescer.commit([create(a)])
        async with asyncio.timeout(5):  # in this task: wait_for's new task would start too late
            await coalescer.commit([create(b)])

    asyncio.run(main())
    assert {store.get_execution(i).id for i in (a, b)} == {a, b}


def test_a_failed_timer_shipment_is_stored_by_the_next_checkpoint(store: Store) -> None:
    """A database blip on a timer shipment: the next checkpoint stores it with its own writes
    and does not fail; the run's end is stored once, with no error left behind."""
    execution_id = uuid.uuid4().hex
    calls: list[int] = []

    class BlipOnce(StoreWrites):
        def write_inline(self, lease: Lease, writes: Sequence[StoreWrite]) -> bool:
            calls.append(len(writes))
            if len(calls) == 1:
                raise StoreError("database is locked")
            return super().write_inline(lease, writes)

    async def main() -> list[StoreWrite]:
        store.apply([create(execution_id)])
        direct = BlipOnce(Store(store.url, migrate=False), inline=True)
        journal = RecorderJournal(FakeRecorder(), 0.001, (execution_id, "mine"), direct=direct)
        journal.emit(_event(execution_id, "execution_started"))
        for _ in range(500):  # the timer's shipment fails
            if journal.failure is not None:
                break
            await asyncio.sleep(0.002)
        assert journal.failure is not None
        journal.emit(UpsertStep(execution_id=execution_id, step=_step("a", StepStatus.COMPLETED)))
        await journal.checkpoint()  # stores both: no error
        journal.emit(UpdateExecution(execution_id=execution_id, status=ExecutionStatus.COMPLETED))
        journal.emit(_event(execution_id, "execution_completed"))
        return await journal.take()

    assert asyncio.run(main()) == []
    assert calls == [1, 2, 2]  # the failed one again, with the checkpoint's own
    events = [(e.seq, e.type) for e in store.events_after(execution_id)]
    assert events == [(1, "execution_started"), (2, "execution_completed")]
    assert store.get_execution(execution_id).status == ExecutionStatus.COMPLETED


def test_a_cancelled_checkpoint_still_knows_whether_its_write_landed(store: Store) -> None:
    """A step's checkpoint cancelled while its transaction runs on a thread (the run stopped
    the step): the transaction's outcome is awaited, so the writes are neither lost nor
    stored twice, and the run's end goes after them."""
    execution_id = uuid.uuid4().hex
    release = threading.Event()

    class Slow(StoreWrites):
        """A server's transaction: on a thread, which a cancelled caller does not stop."""

        async def write(self, lease: Lease, writes: Sequence[StoreWrite]) -> bool:
            def commit() -> bool:
                release.wait(10)
                return bool(self.store.commit_run(lease[0], lease[1], writes))

            return await asyncio.get_running_loop().run_in_executor(None, commit)

    async def main() -> None:
        store.apply([create(execution_id)])
        direct = Slow(Store(store.url, migrate=False), inline=False)
        journal = RecorderJournal(FakeRecorder(), 10.0, (execution_id, "mine"), direct=direct)
        journal.emit(_event(execution_id, "step_completed"))
        step = asyncio.create_task(journal.checkpoint())
        await asyncio.sleep(0.01)
        step.cancel()
        await asyncio.sleep(0.01)
        assert not step.done()  # waits for the write's outcome
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await step
        journal.emit(_event(execution_id, "execution_cancelled"))
        assert await journal.take() == []

    asyncio.run(main())
    events = [(e.seq, e.type) for e in store.events_after(execution_id)]
    assert events == [(1, "step_completed"), (2, "execution_cancelled")]


def test_a_host_of_many_runs_stores_their_writes_in_shared_transactions(store: Store) -> None:
    """A shared host on SQLite (``StoreWrites(batches=True)``): the checkpoints of runs that
    come while a commit is on the writer thread go together in the next transaction, and
    each run is answered alone: one whose execution another runner claimed is superseded,
    with none of its rows stored, while the others' are all durable when they return."""
    writes = StoreWrites(Store(store.url, migrate=False), inline=False, batches=True)
    ids = [uuid.uuid4().hex for _ in range(12)]
    for execution_id in ids:
        store.apply([create(execution_id)])
    store.claim_runner(ids[5], "theirs")

    async def one(execution_id: str) -> bool:
        journal = RecorderJournal(
            FakeRecorder(), 10.0, (execution_id, "mine"), direct=writes, last_seq=0
        )
        done = _step("a", StepStatus.COMPLETED, attempts=1, output={"id": execution_id})
        journal.emit(UpsertStep(execution_id=execution_id, step=done))
        journal.emit(_event(execution_id, "step_completed"))
        try:
            await journal.checkpoint()
        except Superseded:
            return False
        return True

    async def main() -> list[bool]:
        return list(await asyncio.gather(*(one(i) for i in ids)))

    stored = asyncio.run(main())
    assert stored == [i != 5 for i in range(12)]
    assert writes.commits < len(ids)  # shared: here all in one, as they came together
    for n, execution_id in enumerate(ids):
        steps = store.get_execution(execution_id).steps
        if n == 5:
            assert steps == [] and store.events_after(execution_id) == []
        else:
            assert steps[0].output == {"id": execution_id}
            assert [e.seq for e in store.events_after(execution_id)] == [1]
