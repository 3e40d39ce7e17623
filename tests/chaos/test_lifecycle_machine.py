"""A Hypothesis state machine over the execution lifecycle: start, complete or fail steps, pause,
resume, cancel, crash and restart, in any order.

It drives the runtime's own core (ExecutionRunner, hub.restore, hub.lifecycle.plan_recovery,
the Recorder's GroupCommitter) against a real SQLite store, in one process: each "actor" is an
asyncio task running an ExecutionRunner, and a crash kills every one of them at once, losing
whatever they had not handed to the Recorder, as a dead process does. Invariants, checked at
every quiescent point:

- a terminal status never changes;
- at most one live runner per execution;
- the store and the live runner agree (execution status, finished steps);
- a step the store holds as completed is never dispatched again;
- after a restart nothing unfinished is left without a runner.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hub.compiler import compile_workflow
from hub.errors import ErrorCategory, IllegalTransition, StepFailed
from hub.lifecycle import RecoveryKind, plan_recovery
from hub.local import new_execution
from hub.nodes import NodeCall, NodeResult
from hub.plan import ExecutionPlan, PlanNode
from hub.recording import EventCache, GroupCommitter
from hub.records import (
    CreateExecution,
    ExecutionStatus,
    StepStatus,
    StoreWrite,
)
from hub.restore import restore
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


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(self.loop.run_until_complete(_tmpdir()))
        self.store = Store(f"sqlite:///{self.dir / 'hub.db'}")
        self.committer = self.run(self._committer())
        self.journal = Journal(self.committer)
        self.runners: dict[str, tuple[ExecutionRunner, asyncio.Task[Any]]] = {}
        self.calls: dict[tuple[str, str], asyncio.Future[NodeResult]] = {}
        self.terminal: dict[str, ExecutionStatus] = {}
        self.crashed = False
        self.count = itertools.count()

    async def _committer(self) -> GroupCommitter:
        return GroupCommitter(self.store.apply, self.store.max_event_seq, EventCache())

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
        stored = {s.node_id: s for s in self.store.get_execution(call.execution_id).steps}
        done = stored.get(node.id)
        assert done is None or done.status != StepStatus.COMPLETED, (
            f"{call.execution_id}: completed step {node.id} dispatched again"
        )
        future: asyncio.Future[NodeResult] = asyncio.get_running_loop().create_future()
        self.calls[(call.execution_id, node.id)] = future
        try:
            return await future
        finally:
            self.calls.pop((call.execution_id, node.id), None)

    def lease(self, runner: ExecutionRunner) -> None:
        execution_id = runner.record.id
        live = self.runners.get(execution_id)
        assert live is None or live[1].done(), f"a second live runner for {execution_id}"
        task = self.loop.create_task(runner.run())
        self.runners[execution_id] = (runner, task)

    def runner(self, **kwargs: Any) -> ExecutionRunner:
        return ExecutionRunner(PLAN, dispatch=self.dispatch, journal=self.journal, **kwargs)

    async def settle(self) -> None:
        for _ in range(5):
            for _ in range(30):
                await asyncio.sleep(0)
            await self.committer.drain()

    def live(self) -> dict[str, ExecutionRunner]:
        return {i: r for i, (r, task) in self.runners.items() if not task.done()}

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
        for _, task in self.runners.values():
            task.cancel()
        for runner, _ in self.runners.values():
            for task in runner.tasks.values():
                task.cancel()
        self.run(self.settle())
        self.runners.clear()
        self.calls.clear()
        self.crashed = True

    @precondition(lambda self: self.crashed)
    @rule()
    def restart(self) -> None:
        """A new supervisor recovers from the store, as actors/supervisor.py does."""
        self.journal = Journal(self.committer)
        self.crashed = False
        for step in plan_recovery(self.store.non_terminal_executions(), "resume"):
            stored = step.execution
            assert step.kind in (RecoveryKind.RESUME, RecoveryKind.REQUEUE)
            restored = (
                restore(PLAN, stored.steps) if stored.steps or step.kind == "resume" else None
            )
            self.lease(
                self.runner(
                    record=stored.model_copy(update={"steps": []}),
                    restored=restored,
                    resume_reason="runtime_restart",
                    start_paused=stored.status == ExecutionStatus.PAUSED,
                )
            )
        self.run(self.settle())
        unfinished = {r.id for r in self.store.non_terminal_executions()}
        assert unfinished <= set(self.live()), "an unfinished execution has no runner"

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def terminal_states_never_change(self) -> None:
        for record in self.store.list_executions(limit=10_000):
            if record.id in self.terminal:
                assert record.status == self.terminal[record.id], record.id
            elif record.status.terminal:
                self.terminal[record.id] = record.status

    @invariant()
    def one_live_runner_per_execution(self) -> None:
        live = [i for i, (_, task) in self.runners.items() if not task.done()]
        assert len(live) == len(set(live))

    @invariant()
    def store_and_runner_agree(self) -> None:
        if self.crashed:
            return
        for execution_id, runner in self.live().items():
            stored = self.store.get_execution(execution_id)
            assert stored.status == runner.record.status, (execution_id, stored.status)
            steps = {s.node_id: s for s in stored.steps}
            for node_id, state in runner.state.steps.items():
                if state.status in (StepStatus.COMPLETED, StepStatus.FAILED):
                    assert steps[node_id].status == state.status, (execution_id, node_id)
        for execution_id, (_, task) in self.runners.items():
            if task.done() and not task.cancelled():
                assert self.store.get_execution(execution_id).status.terminal


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
