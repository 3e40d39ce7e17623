"""hub.parking: an execution in a long delay gives its actor back (the runner's decision), and
what a cancel of a parked execution records."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.compiler import compile_workflow
from hub.local import MemoryJournal, dispatch_in_process, new_execution
from hub.parking import cancelled_step_writes, delay_due, should_park
from hub.plan import ExecutionPlan
from hub.records import (
    AppendEvent,
    Breakpoint,
    ExecutionStatus,
    RunOptions,
    StepStatus,
    UpdateExecution,
    UpsertStep,
)
from hub.runner import ExecutionRunner

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def plan_of(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **top: Any):
    document = {"id": "wf", "nodes": nodes, "edges": edges or [], **top}
    plan: ExecutionPlan = compile_workflow(document).raise_for_errors()
    return plan


def delay(node_id: str, seconds: float) -> dict[str, Any]:
    return {"id": node_id, "type": "delay", "parameters": {"seconds": seconds}}


def setter(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "set", "parameters": {"values": {"ok": True}}}


def run(plan: ExecutionPlan, park_delay_s: float | None, **kwargs: Any) -> ExecutionRunner:
    record, inputs = new_execution(plan, {})
    runner = ExecutionRunner(
        plan,
        record.model_copy(update={"inputs": inputs}),
        dispatch=dispatch_in_process,
        journal=MemoryJournal(),
        park_delay_s=park_delay_s,
        **kwargs,
    )
    asyncio.run(asyncio.wait_for(runner.run(), 30))
    return runner


def test_the_decision() -> None:
    due = delay_due(120, None, NOW)
    assert due == NOW + timedelta(seconds=120)
    assert delay_due(120, NOW - timedelta(seconds=100), NOW) == NOW + timedelta(seconds=20)
    park = {"park_delay_s": 60.0, "alone": True, "debugging": False}
    assert should_park(due, NOW, **park)
    assert not should_park(NOW + timedelta(seconds=59), NOW, **park)
    assert not should_park(due, NOW, **{**park, "park_delay_s": None})
    assert not should_park(due, NOW, **{**park, "alone": False})
    assert not should_park(due, NOW, **{**park, "debugging": True})
    assert not should_park(due, NOW, **park, timeout_left_s=100)  # the timeout ends it first
    assert should_park(due, NOW, **park, timeout_left_s=500)
    # Even with parking at 0 s, a delay that is due (0 s, or resumed late) is not parked.
    assert should_park(due, NOW, **{**park, "park_delay_s": 0.0})
    assert not should_park(NOW, NOW, **{**park, "park_delay_s": 0.0})


def test_a_long_delay_alone_parks_the_run_with_its_step_running() -> None:
    # An hour: without parking, the test's time limit would stop it.
    runner = run(
        plan_of([delay("nap", 3600), setter("after")], [{"from": "nap", "to": "after"}]), 60
    )
    record = runner.record
    assert record.status == ExecutionStatus.RUNNING  # not ended: the supervisor wakes it
    parked = runner.parked
    assert parked is not None and parked.node_id == "nap"
    assert parked.step.status == StepStatus.RUNNING and parked.step.started_at is not None
    assert parked.due - parked.step.started_at == pytest.approx(
        timedelta(seconds=3600), abs=timedelta(seconds=1)
    )
    writes = runner.journal.writes  # type: ignore[attr-defined]
    kinds = [w.event.type for w in writes if isinstance(w, AppendEvent)]
    assert kinds == ["execution_started", "step_started", "execution_sleeping"]
    assert not any(
        isinstance(w, UpdateExecution) and w.status and w.status.terminal for w in writes
    )
    steps = [w.step for w in writes if isinstance(w, UpsertStep)]
    assert [(s.node_id, s.status) for s in steps] == [("nap", StepStatus.RUNNING)]


def test_a_delay_beside_another_branch_sleeps_in_the_actor() -> None:
    plan = plan_of([delay("short", 0.2), delay("long", 0.3)])
    runner = run(plan, 0.1)
    assert runner.parked is None and runner.record.status == ExecutionStatus.COMPLETED


def test_short_delays_debug_runs_and_parking_off_never_park() -> None:
    plan = plan_of([delay("nap", 0.3), setter("after")], [{"from": "nap", "to": "after"}])
    assert run(plan, 0.1).parked is not None  # the threshold is what parks it...
    assert run(plan, 60).parked is None  # ...shorter than it: sleeps in the actor
    assert run(plan, None).parked is None  # parking off
    # A debug run (here: a breakpoint whose condition never holds) keeps its live actor.
    never = Breakpoint(node_id="after", condition="{{ false }}")
    debugged = run(plan, 0.1, options=RunOptions(breakpoints=[never]))
    assert debugged.parked is None and debugged.record.status == ExecutionStatus.COMPLETED


def test_a_delay_longer_than_what_the_execution_timeout_leaves_does_not_park() -> None:
    plan = plan_of([delay("nap", 3600)], settings={"timeout_s": 0.5})
    runner = run(plan, 60)
    assert runner.parked is None
    assert runner.record.status == ExecutionStatus.FAILED
    assert runner.record.error is not None and runner.record.error.category == "timeout"


def test_cancelling_a_parked_run_cancels_its_step() -> None:
    runner = run(plan_of([delay("nap", 3600)]), 60)
    assert runner.parked is not None
    later = runner.parked.step.started_at + timedelta(seconds=90)
    step_write, event_write = cancelled_step_writes("e1", runner.parked, "changed my mind", later)
    assert isinstance(step_write, UpsertStep) and isinstance(event_write, AppendEvent)
    assert step_write.step.status == StepStatus.CANCELLED and step_write.step.ended_at == later
    assert step_write.step.error is not None and "changed my mind" in step_write.step.error.message
    assert event_write.event.type == "step_cancelled" and event_write.event.node_id == "nap"
    assert event_write.event.data["duration_ms"] == 90_000


def test_the_supervisor_wakes_a_sleeper_when_due_unless_taken_first() -> None:
    from actors._sleeping import Sleepers
    from hub.records import Parked, RunOrder, StepRecord, utcnow

    plan_record, _ = new_execution(plan_of([delay("nap", 3600)]), {})
    order = RunOrder(definition={"id": "wf"}, record=plan_record)
    step = StepRecord(node_id="nap", node_type="delay", status=StepStatus.RUNNING)

    async def scenario() -> list[str]:
        woken: list[str] = []
        sleepers = Sleepers(woken.append)
        soon = Parked(node_id="nap", due=utcnow() + timedelta(seconds=0.05), step=step)
        later = Parked(node_id="nap", due=utcnow() + timedelta(seconds=0.05), step=step)
        overdue = Parked(node_id="nap", due=utcnow() - timedelta(seconds=5), step=step)
        sleepers.add("soon", order, {}, soon)
        sleepers.add("taken", order, {}, later)
        sleepers.add("overdue", order, {}, overdue)
        assert len(sleepers) == 3 and "taken" in sleepers
        taken = sleepers.take("taken")
        assert taken is not None and taken.parked is later and "taken" not in sleepers
        assert sleepers.take("taken") is None
        await asyncio.sleep(0.2)
        return woken

    assert asyncio.run(scenario()) == ["overdue", "soon"]
