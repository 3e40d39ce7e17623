"""A Hypothesis state machine over the execution lifecycle: start, complete or fail steps, pause,
resume, cancel, crash and restart, in any order.

It drives the runtime's own core (ExecutionRunner, hub.restore, hub.lifecycle.plan_recovery,
the Recorder's GroupCommitter) against a real SQLite store, in one process: each "actor" is an
asyncio task running an ExecutionRunner, and a crash kills every one of them at once, losing
whatever they had not handed to the Recorder, as a dead process does. Invariants, checked at
every quiescent point:

- a terminal status never changes;
- at most one live runner per execution (counting runners of crashed incarnations that have
  not stopped yet);
- the store and the live runner agree (execution status, finished steps);
- a step the store holds as completed is never dispatched again;
- nothing unfinished is left without a runner (except between a crash and its restart).

A rule never raises from inside a runner: the runner turns any exception of ``dispatch`` into a
failed step and the run goes on. What the actor side sees break a rule is recorded in
``violations`` and checked by an invariant. Each invariant is shown to catch a bug seeded into
the machine (the ``Seeded*`` machines at the end), so none of them passes vacuously.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hub.compiler import compile_workflow
from hub.errors import ErrorCategory, IllegalTransition, StepFailed
from hub.lifecycle import RecoveryKind, RecoveryStep, plan_recovery
from hub.local import new_execution
from hub.nodes import NodeCall, NodeResult
from hub.plan import ExecutionPlan, PlanNode
from hub.recording import EventWatch, GroupCommitter
from hub.records import (
    CreateExecution,
    ExecutionStatus,
    StepStatus,
    StoreWrite,
    UpsertStep,
)
from hub.restore import Restored, restore
from hub.runner import ExecutionRunner
from hub.store import Store

pytestmark = [pytest.mark.chaos]

DOC = {
    "id": "machine",
    "nodes": [
        {"id": "a", "type": "http", "parameters": {"url": "http://127.0.0.1:9/a"}},
        {"id": "mid", "type": "set", "parameters": {"values": {"from_a": "{{ $a.n }}"}}},
        {"id": "b", "type": "http", "parameters": {"url": "http://127.0.0.1:9/b"}},
        {"id": "c", "type": "http", "parameters": {"url": "http://127.0.0.1:9/c"}},
    ],
    "edges": [
        {"from": "a", "to": "mid"},
        {"from": "mid", "to": "b"},
        {"from": "a", "to": "c"},
    ],
}
PLAN: ExecutionPlan = compile_workflow(DOC).raise_for_errors()


class Journal:
    """An actor's journal: writes go to the shared committer (the Recorder) until the actor
    dies; a dead actor's writes are lost."""

    def __init__(self, committer: GroupCommitter) -> None:
        self.committer = committer
        self.dead = False
        self.superseded = False

    def emit(self, write: StoreWrite) -> None:
        if not self.dead:
            self.committer.submit([write], wait=False)

    async def flush(self) -> None:
        if self.dead:
            raise asyncio.CancelledError
        await self.committer.drain()

    async def checkpoint(self) -> None:
        await self.flush()


@dataclass(frozen=True)
class Lease:
    """A runner leased for an execution by one incarnation of the runtime."""

    execution_id: str
    runner: ExecutionRunner
    task: asyncio.Task[Any]
    incarnation: int


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(self.loop.run_until_complete(_tmpdir()))
        self.store = Store(f"sqlite:///{self.dir / 'hub.db'}")
        self.committer = self.run(self._committer())
        self.journal = self.new_journal()
        # Every runner ever leased: a crash leaves its incarnation's leases here, so a runner
        # that outlives its crash still counts as live.
        self.leases: list[Lease] = []
        self.incarnation = 0
        self.calls: dict[tuple[str, str], asyncio.Future[NodeResult]] = {}
        self.terminal: dict[str, ExecutionStatus] = {}
        self.violations: list[str] = []  # rules broken where raising would not reach the test
        self.completed: set[tuple[str, str]] = set()  # (execution, step) completed in the store
        self.crashed = False
        self.count = itertools.count()

    async def _committer(self) -> GroupCommitter:
        return GroupCommitter(self.store.apply, EventWatch())

    async def commit(self, write: StoreWrite) -> None:
        future = self.committer.submit([write], wait=True)
        assert future is not None
        await future

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.journal.dead = True
        self.run(_cancel_everything())
        self.store.close()
        self.loop.close()

    # --- the actor side ---------------------------------------------------------------------

    async def dispatch(self, node: PlanNode, call: NodeCall, timeout_s: float | None) -> Any:
        # Against what the store held at the last quiescent point too: the runner marks the
        # step running (a write that may already be applied) before it dispatches it.
        stored = {s.node_id: s for s in self.store.get_execution(call.execution_id).steps}
        done = stored.get(node.id)
        now_completed = done is not None and done.status == StepStatus.COMPLETED
        if now_completed or (call.execution_id, node.id) in self.completed:
            # Recorded, not raised: the runner would turn an exception into a failed step.
            self.violations.append(
                f"{call.execution_id}: completed step {node.id} dispatched again"
            )
        future: asyncio.Future[NodeResult] = asyncio.get_running_loop().create_future()
        self.calls[(call.execution_id, node.id)] = future
        try:
            return await future
        finally:
            self.calls.pop((call.execution_id, node.id), None)

    def lease(self, runner: ExecutionRunner) -> None:
        task = self.loop.create_task(runner.run())
        self.leases.append(Lease(runner.record.id, runner, task, self.incarnation))

    def runner(self, **kwargs: Any) -> ExecutionRunner:
        return ExecutionRunner(PLAN, dispatch=self.dispatch, journal=self.journal, **kwargs)

    async def settle(self) -> None:
        for _ in range(5):
            for _ in range(30):
                await asyncio.sleep(0)
            await self.committer.drain()
        for record in self.store.list_executions(limit=10_000):
            for step in self.store.get_execution(record.id).steps:
                if step.status == StepStatus.COMPLETED:
                    self.completed.add((record.id, step.node_id))

    def live(self) -> dict[str, ExecutionRunner]:
        return {lease.execution_id: lease.runner for lease in self.leases if not lease.task.done()}

    # --- the parts a seeded bug replaces ----------------------------------------------------

    def new_journal(self) -> Journal:
        return Journal(self.committer)

    def recovery(self) -> list[RecoveryStep]:
        """What a new supervisor recovers, as actors/supervisor.py does."""
        return plan_recovery(self.store.non_terminal_executions(), "resume")

    def restored(self, step: RecoveryStep) -> Restored | None:
        stored = step.execution
        if stored.steps or step.kind == RecoveryKind.RESUME:
            return restore(PLAN, stored.steps)
        return None

    def kill_actors(self) -> None:
        """A dead process runs nothing more: its runners and their steps stop."""
        for lease in self.leases:
            lease.task.cancel()
            for task in lease.runner.tasks.values():
                task.cancel()

    # --- rules ------------------------------------------------------------------------------

    @precondition(lambda self: not self.crashed)
    @rule()
    def start(self) -> None:
        record, validated = new_execution(PLAN, {}, trigger="test")
        record.id = f"x{next(self.count):04d}-{record.id[:8]}"
        self.run(self.commit(CreateExecution(record=record)))
        self.lease(self.runner(record=record.model_copy(update={"inputs": validated})))
        self.run(self.settle())

    def _pick_call(self, index: int) -> tuple[str, str] | None:
        keys = sorted(self.calls)
        return keys[index % len(keys)] if keys else None

    @precondition(lambda self: not self.crashed)
    @rule(index=st.integers(0, 50), value=st.integers(0, 9))
    def complete_step(self, index: int, value: int) -> None:
        key = self._pick_call(index)
        if key is not None:
            self.calls[key].set_result(NodeResult(output={"n": value}))
            self.run(self.settle())

    @precondition(lambda self: not self.crashed)
    @rule(index=st.integers(0, 50))
    def fail_step(self, index: int) -> None:
        key = self._pick_call(index)
        if key is not None:
            self.calls[key].set_exception(StepFailed("boom", category=ErrorCategory.NODE_ERROR))
            self.run(self.settle())

    def _pick_execution(self, index: int) -> ExecutionRunner | None:
        live = self.live()
        keys = sorted(live)
        return live[keys[index % len(keys)]] if keys else None

    def _control(self, index: int, action: str) -> None:
        runner = self._pick_execution(index)
        if runner is None:
            return
        before = runner.effective_status()

        async def act() -> None:  # as in the actor: on the event loop
            if action == "pause":
                runner.pause()
            elif action == "resume":
                runner.resume()
            else:
                runner.cancel()

        try:
            self.run(act())
        except IllegalTransition:
            allowed = {"pause": {"running"}, "resume": {"paused"}}[action]
            assert before.value not in allowed or (action == "pause" and runner.gate.held)
        self.run(self.settle())
        if action == "cancel":
            status = self.store.get_execution(runner.record.id).status
            assert status.terminal, status

    @precondition(lambda self: not self.crashed)
    @rule(index=st.integers(0, 50))
    def pause(self, index: int) -> None:
        self._control(index, "pause")

    @precondition(lambda self: not self.crashed)
    @rule(index=st.integers(0, 50))
    def resume(self, index: int) -> None:
        self._control(index, "resume")

    @precondition(lambda self: not self.crashed)
    @rule(index=st.integers(0, 50))
    def cancel(self, index: int) -> None:
        self._control(index, "cancel")

    @precondition(lambda self: not self.crashed)
    @rule()
    def crash(self) -> None:
        """Every actor process dies at once: unsent records are lost, steps in flight stop."""
        self.journal.dead = True
        self.kill_actors()
        self.run(self.settle())
        self.calls.clear()
        self.crashed = True

    @precondition(lambda self: self.crashed)
    @rule()
    def restart(self) -> None:
        """A new supervisor recovers from the store, as actors/supervisor.py does."""
        self.journal = self.new_journal()
        self.crashed = False
        self.incarnation += 1
        for step in self.recovery():
            stored = step.execution
            assert step.kind in (RecoveryKind.RESUME, RecoveryKind.REQUEUE)
            self.lease(
                self.runner(
                    record=stored.model_copy(update={"steps": []}),
                    restored=self.restored(step),
                    resume_reason="runtime_restart",
                    start_paused=stored.status == ExecutionStatus.PAUSED,
                )
            )
        self.run(self.settle())

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def terminal_states_never_change(self) -> None:
        for record in self.store.list_executions(limit=10_000):
            if record.id in self.terminal:
                assert record.status == self.terminal[record.id], (
                    f"terminal status changed: {record.id} was {self.terminal[record.id]}, "
                    f"is {record.status}"
                )
            elif record.status.terminal:
                self.terminal[record.id] = record.status

    @invariant()
    def one_live_runner_per_execution(self) -> None:
        live = Counter(lease.execution_id for lease in self.leases if not lease.task.done())
        doubled = {execution_id: n for execution_id, n in live.items() if n > 1}
        assert not doubled, f"more than one live runner: {doubled}"

    @invariant()
    def store_and_runner_agree(self) -> None:
        if self.crashed:
            return
        for execution_id, runner in self.live().items():
            stored = self.store.get_execution(execution_id)
            assert stored.status == runner.record.status, (
                f"store and runner disagree: {execution_id} is {stored.status} in the store, "
                f"{runner.record.status} in its runner"
            )
            steps = {s.node_id: s for s in stored.steps}
            for node_id, state in runner.state.steps.items():
                if state.status in (StepStatus.COMPLETED, StepStatus.FAILED):
                    held = steps[node_id].status if node_id in steps else None
                    assert held == state.status, (
                        f"store and runner disagree: step {node_id} of {execution_id} is "
                        f"{held} in the store, {state.status} in its runner"
                    )
        for lease in self.leases:
            ended = lease.task.done() and not lease.task.cancelled()
            if lease.incarnation == self.incarnation and ended:
                status = self.store.get_execution(lease.execution_id).status
                assert status.terminal, (
                    f"store and runner disagree: the runner of {lease.execution_id} ended, "
                    f"the store holds {status}"
                )

    @invariant()
    def completed_steps_are_never_dispatched_again(self) -> None:
        assert not self.violations, "; ".join(self.violations)

    @invariant()
    def nothing_unfinished_without_a_runner(self) -> None:
        if self.crashed:
            return  # the restart recovers them
        unfinished = {r.id for r in self.store.non_terminal_executions()}
        orphans = sorted(unfinished - set(self.live()))
        assert not orphans, f"unfinished executions without a runner: {orphans}"


async def _cancel_everything() -> None:
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def _tmpdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="hub-lifecycle-")


Lifecycle.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_lifecycle = Lifecycle.TestCase


# --- each invariant catches a bug seeded into the machine ---------------------------------------


class LossyJournal(Journal):
    """Loses the record of every completed step while its actor lives."""

    def emit(self, write: StoreWrite) -> None:
        if isinstance(write, UpsertStep) and write.step.status == StepStatus.COMPLETED:
            return
        super().emit(write)


class SeededRestartFromScratch(Lifecycle):
    """Recovery forgets the stored steps: a resumed run starts again from its first step."""

    def restored(self, step: RecoveryStep) -> Restored | None:
        return None


class SeededZombieRunners(Lifecycle):
    """A crash leaves its runners running, as a process that Ray has not killed yet."""

    def kill_actors(self) -> None:
        pass


class SeededLostStepResults(Lifecycle):
    """The journal loses finished steps' records while the actor lives."""

    def new_journal(self) -> Journal:
        return LossyJournal(self.committer)


class SeededResumesFinishedRuns(Lifecycle):
    """Recovery resumes every execution in the store, finished ones included."""

    def recovery(self) -> list[RecoveryStep]:
        every = self.store.list_executions(limit=10_000)
        return [RecoveryStep(self.store.get_execution(r.id), RecoveryKind.RESUME) for r in every]


class SeededForgetsPausedRuns(Lifecycle):
    """Recovery leaves paused executions behind."""

    def recovery(self) -> list[RecoveryStep]:
        steps = super().recovery()
        return [s for s in steps if s.execution.status != ExecutionStatus.PAUSED]


Step = tuple[str, dict[str, int]]
START: Step = ("start", {})
COMPLETE: Step = ("complete_step", {"index": 0, "value": 1})
PAUSE: Step = ("pause", {"index": 0})
CANCEL: Step = ("cancel", {"index": 0})
CRASH: Step = ("crash", {})
RESTART: Step = ("restart", {})

INVARIANTS = (
    "terminal_states_never_change",
    "one_live_runner_per_execution",
    "store_and_runner_agree",
    "completed_steps_are_never_dispatched_again",
    "nothing_unfinished_without_a_runner",
)

SEEDED: list[tuple[type[Lifecycle], list[Step], str, str]] = [
    (
        SeededRestartFromScratch,
        [START, COMPLETE, CRASH, RESTART],
        "completed_steps_are_never_dispatched_again",
        "completed step a dispatched again",
    ),
    (
        SeededZombieRunners,
        [START, CRASH, RESTART],
        "one_live_runner_per_execution",
        "more than one live runner",
    ),
    (
        SeededLostStepResults,
        [START, COMPLETE],
        "store_and_runner_agree",
        "step a of .* is running in the store, completed in its runner",
    ),
    (
        SeededResumesFinishedRuns,
        [START, CANCEL, CRASH, RESTART],
        "terminal_states_never_change",
        "was cancelled, is running",
    ),
    (
        SeededForgetsPausedRuns,
        [START, PAUSE, COMPLETE, CRASH, RESTART],
        "nothing_unfinished_without_a_runner",
        "unfinished executions without a runner",
    ),
]


def check_invariants(machine: Lifecycle, after: str) -> None:
    for name in INVARIANTS:
        try:
            getattr(machine, name)()
        except AssertionError as exc:
            raise AssertionError(f"{name} after {after}: {exc}") from exc


def drive(machine_class: type[Lifecycle], steps: list[Step]) -> None:
    """Run the rules ``steps`` name, checking every invariant first and after each rule, as
    Hypothesis does. An invariant that fails raises AssertionError naming it and the rule."""
    machine = machine_class()
    try:
        check_invariants(machine, "the start")
        for rule_name, arguments in steps:
            getattr(machine, rule_name)(**arguments)
            check_invariants(machine, rule_name)
    finally:
        machine.teardown()


def test_every_invariant_is_one_hypothesis_checks() -> None:
    checked = {
        name
        for name in dir(Lifecycle)
        if hasattr(getattr(Lifecycle, name), "hypothesis_stateful_invariant")
    }
    assert checked == set(INVARIANTS)
    assert {seeded[2] for seeded in SEEDED} == set(INVARIANTS)  # each one shown to fail below


@pytest.mark.parametrize(
    ("machine_class", "steps", "invariant", "message"),
    SEEDED,
    ids=[seeded[0].__name__ for seeded in SEEDED],
)
def test_each_invariant_catches_a_bug_seeded_into_the_machine(
    machine_class: type[Lifecycle], steps: list[Step], invariant: str, message: str
) -> None:
    drive(Lifecycle, steps)  # without the bug, the same steps keep every invariant
    with pytest.raises(AssertionError, match=rf"^{invariant} after \w+: .*{message}"):
        drive(machine_class, steps)
