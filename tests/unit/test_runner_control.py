"""Pause, resume, step, breakpoints, evaluate and inspect on a running ExecutionRunner, restored
runs, and the execution timeout around pauses. Driven in-process with a dispatcher whose steps
stay in flight until the test lets them finish."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from hub.compiler import compile_workflow
from hub.errors import ExpressionError, IllegalTransition, StepFailed
from hub.lifecycle import Action
from hub.local import MemoryJournal, new_execution
from hub.nodes import NodeCall, NodeRegistry, NodeResult, default_registry, node_type
from hub.plan import ExecutionPlan, PlanNode
from hub.records import (
    AppendEvent,
    Breakpoint,
    ErrorInfo,
    Event,
    ExecutionStatus,
    RunOptions,
    StepRecord,
    StepStatus,
    UpdateExecution,
    UpsertStep,
)
from hub.restore import restore
from hub.runner import ExecutionRunner

PAUSED, RUNNING = ExecutionStatus.PAUSED, ExecutionStatus.RUNNING


# --- a node type run by the test's own dispatcher -------------------------------------------------


class WorkParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = None


def _registry() -> NodeRegistry:
    registry = NodeRegistry()
    for builtin in default_registry().types():
        registry.add(builtin)

    async def run_work(params: WorkParams, ctx: Any) -> Any:  # pragma: no cover - Desk runs it
        return {"value": params.value}

    node_type("work", parameters=WorkParams, registry=registry)(run_work)
    return registry


REGISTRY = _registry()


class Desk:
    """The dispatcher: records each call; a held node stays in flight until released."""

    def __init__(self, *held: str) -> None:
        self.calls: list[tuple[str, int]] = []
        self.gates = {n: asyncio.Event() for n in held}
        self.failures: dict[str, int] = {}

    def release(self, node_id: str) -> None:
        self.gates[node_id].set()

    def called(self, node_id: str) -> bool:
        return any(n == node_id for n, _ in self.calls)

    async def __call__(self, node: PlanNode, call: NodeCall, timeout_s: float | None) -> NodeResult:
        self.calls.append((call.node_id, call.attempt))
        gate = self.gates.get(call.node_id)
        if gate is not None:
            await gate.wait()
        if self.failures.get(call.node_id, 0) > 0:
            self.failures[call.node_id] -= 1
            raise StepFailed(f"flaky attempt {call.attempt}", retryable=True)
        value = call.parameters.get("value")
        return NodeResult(output={"value": value, "attempt": call.attempt})


def work(node_id: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "work", "parameters": {"value": value}, **extra}


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when else {})}


def plan_of(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **top: Any
) -> ExecutionPlan:
    document = {"id": "wf", "nodes": nodes, "edges": edges or [], **top}
    return compile_workflow(document, registry=REGISTRY).raise_for_errors()


def chain(*ids: str, **top: Any) -> ExecutionPlan:
    """work nodes in a line, each passing on its predecessor's value plus one."""
    pairs = list(itertools.pairwise(ids))
    nodes = [work(ids[0], 1)] + [work(n, "{{ $" + prev + ".value + 1 }}") for prev, n in pairs]
    edges = [edge(a, b) for a, b in pairs]
    return plan_of(nodes, edges, **top)


def runner_for(
    plan: ExecutionPlan,
    desk: Desk,
    journal: MemoryJournal,
    inputs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> ExecutionRunner:
    record, validated = new_execution(plan, inputs or {})
    return ExecutionRunner(
        plan,
        record.model_copy(update={"inputs": validated}),
        dispatch=desk,
        journal=journal,
        **kwargs,
    )


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait (polling) until ``predicate`` holds; a generous bound turns a hang into a failure."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {timeout_s}s")
        await asyncio.sleep(0.002)


def drive(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def events(journal: MemoryJournal, kind: str | None = None) -> list[Event]:
    found = [w.event for w in journal.writes if isinstance(w, AppendEvent)]
    return [e for e in found if kind is None or e.type == kind]


def statuses(journal: MemoryJournal) -> list[ExecutionStatus]:
    return [
        w.status for w in journal.writes if isinstance(w, UpdateExecution) and w.status is not None
    ]


def is_paused(runner: ExecutionRunner) -> Callable[[], bool]:
    return lambda: runner.record.status == PAUSED


# --- pause and resume -----------------------------------------------------------------------------


def test_pause_lets_the_running_step_finish_then_pauses_before_the_next() -> None:
    plan = chain("a", "b")
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal)
        task = asyncio.create_task(runner.run())
        await until(lambda: desk.called("a"))
        runner.pause()
        # pausing, not yet paused: a still runs, and nothing says "paused" yet
        assert runner.record.status == RUNNING
        assert runner.effective_status() == PAUSED
        assert PAUSED not in statuses(journal)
        desk.release("a")
        await until(is_paused(runner))
        assert not desk.called("b")
        [paused] = events(journal, "paused")
        assert paused.data == {"reason": "pause", "next": ["b"]}
        # the status change comes after a's result was journaled
        writes = journal.writes
        a_done = next(
            i
            for i, w in enumerate(writes)
            if isinstance(w, UpsertStep)
            and w.step.node_id == "a"
            and w.step.status == StepStatus.COMPLETED
        )
        paused_at = next(
            i for i, w in enumerate(writes) if isinstance(w, UpdateExecution) and w.status == PAUSED
        )
        assert a_done < paused_at
        runner.resume()
        result = await task
        assert result.status == ExecutionStatus.COMPLETED
        assert result.outputs["b"]["value"] == 2

    drive(scenario)
    assert statuses(journal) == [RUNNING, PAUSED, RUNNING, ExecutionStatus.COMPLETED]
    [resumed] = events(journal, "resumed")
    assert resumed.data == {"action": "resume"}


def test_resuming_while_still_pausing_never_records_a_pause() -> None:
    plan = chain("a", "b")
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal)
        task = asyncio.create_task(runner.run())
        await until(lambda: desk.called("a"))
        runner.pause()
        runner.resume()
        desk.release("a")
        assert (await task).status == ExecutionStatus.COMPLETED

    drive(scenario)
    assert events(journal, "paused") == []
    assert events(journal, "resumed") == []
    assert PAUSED not in statuses(journal)


def test_pausing_again_while_pausing_is_harmless_but_a_paused_run_refuses_it() -> None:
    plan = chain("a", "b")
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal)
        task = asyncio.create_task(runner.run())
        await until(lambda: desk.called("a"))
        runner.pause()
        runner.pause()  # while pausing: steps in flight are still finishing
        desk.release("a")
        await until(is_paused(runner))
        with pytest.raises(IllegalTransition, match="it is paused"):
            runner.pause()
        runner.resume()
        await task

    drive(scenario)
    assert len(events(journal, "paused")) == 1
    assert statuses(journal).count(PAUSED) == 1


def test_pause_and_resume_refuse_the_wrong_status() -> None:
    plan = chain("a", "b")
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal)
        with pytest.raises(IllegalTransition):
            runner.pause()  # queued: not running yet
        task = asyncio.create_task(runner.run())
        await until(lambda: desk.called("a"))
        with pytest.raises(IllegalTransition, match="resume"):
            runner.resume()  # running: nothing to resume
        with pytest.raises(IllegalTransition):
            runner.resume(Action.STEP)
        desk.release("a")
        await task
        with pytest.raises(IllegalTransition, match="completed"):
            runner.pause()

    drive(scenario)


def test_cancelling_a_paused_execution_ends_it_cancelled() -> None:
    plan = chain("a", "b")
    desk, journal = Desk(), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=RunOptions(debug=True))
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        runner.cancel("changed my mind")
        result = await task
        assert result.status == ExecutionStatus.CANCELLED
        assert result.error is not None
        assert result.error.message == "changed my mind"

    drive(scenario)
    assert desk.calls == []
    assert events(journal)[-1].type == "execution_cancelled"


def test_step_while_still_pausing_holds_before_the_next_node() -> None:
    plan = chain("a", "b", "c")
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal)
        task = asyncio.create_task(runner.run())
        await until(lambda: desk.called("a"))
        runner.pause()
        runner.resume(Action.STEP)  # a is the step; it is already running
        desk.release("a")
        await until(is_paused(runner))
        assert not desk.called("b")
        runner.resume()
        await task

    drive(scenario)
    assert [(e.data["reason"], e.node_id) for e in events(journal, "paused")] == [("step", "b")]


def test_suspending_for_a_shutdown_starts_nothing_more_and_is_not_a_pause() -> None:
    plan = chain("a", "b")
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal)
        task = asyncio.create_task(runner.run())
        await until(lambda: desk.called("a"))
        flushes = journal.flushes
        await runner.suspend()
        assert journal.flushes > flushes
        desk.release("a")
        await until(lambda: "a" in runner.state.outputs and not runner.tasks)
        assert not desk.called("b")
        assert runner.record.status == RUNNING
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    drive(scenario)
    # the stored status stays running, so a restarted runtime resumes it by itself
    assert statuses(journal) == [RUNNING]
    assert events(journal, "paused") == []
    completed = [
        w.step.node_id
        for w in journal.writes
        if isinstance(w, UpsertStep) and w.step.status == StepStatus.COMPLETED
    ]
    assert completed == ["a"]


def test_cancelling_while_pausing_cancels_the_running_step() -> None:
    plan = chain("a", "b")
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal)
        task = asyncio.create_task(runner.run())
        await until(lambda: desk.called("a"))
        runner.pause()
        runner.cancel()
        result = await task
        assert result.status == ExecutionStatus.CANCELLED
        [a] = result.steps
        assert a.status == StepStatus.CANCELLED

    drive(scenario)
    assert events(journal, "paused") == []


# --- debug runs: start, step, breakpoints ---------------------------------------------------------


def test_a_debug_run_stops_before_its_first_node_and_steps_one_level_at_a_time() -> None:
    plan = chain("a", "b", "c")
    desk, journal = Desk(), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=RunOptions(debug=True))
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        assert desk.calls == []
        runner.resume(Action.STEP)
        await until(lambda: desk.called("a") and runner.record.status == PAUSED)
        assert desk.calls == [("a", 1)]
        runner.resume(Action.STEP)
        await until(lambda: desk.called("b") and runner.record.status == PAUSED)
        assert [n for n, _ in desk.calls] == ["a", "b"]
        runner.resume(Action.CONTINUE)
        result = await task
        assert result.status == ExecutionStatus.COMPLETED
        assert result.outputs["c"]["value"] == 3

    drive(scenario)
    paused = events(journal, "paused")
    assert [(e.data["reason"], e.node_id, e.data["next"]) for e in paused] == [
        ("start", "a", ["a"]),
        ("step", "b", ["b"]),
        ("step", "c", ["c"]),
    ]
    assert [e.data["action"] for e in events(journal, "resumed")] == ["step", "step", "continue"]


def test_step_starts_every_node_ready_at_that_moment() -> None:
    plan = plan_of([work("a", 1), work("d", 4), work("b", 2)], [edge("a", "b")])
    desk, journal = Desk(), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=RunOptions(debug=True))
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        runner.resume(Action.STEP)
        await until(lambda: len(desk.calls) == 2 and runner.record.status == PAUSED)
        assert sorted(n for n, _ in desk.calls) == ["a", "d"]
        runner.resume()
        await task

    drive(scenario)
    assert events(journal, "paused")[-1].data["next"] == ["b"]


@pytest.mark.parametrize(("value", "stops"), [(5, True), (1, False)])
def test_a_conditional_breakpoint_pauses_only_when_its_condition_holds(
    value: int, stops: bool
) -> None:
    plan = plan_of([work("a", value), work("b", "{{ $a.value }}")], [edge("a", "b")])
    desk, journal = Desk(), MemoryJournal()
    options = RunOptions(breakpoints=[Breakpoint(node_id="b", condition="$a.value > 3")])

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=options)
        task = asyncio.create_task(runner.run())
        await until(lambda: is_paused(runner)() or task.done())
        if stops:
            assert not desk.called("b")
            runner.resume(Action.CONTINUE)
        assert (await task).status == ExecutionStatus.COMPLETED

    drive(scenario)
    paused = events(journal, "paused")
    if stops:
        assert [(e.data["reason"], e.node_id) for e in paused] == [("breakpoint", "b")]
    else:
        assert paused == []
    assert [n for n, _ in desk.calls] == ["a", "b"]


def test_a_breakpoint_whose_condition_fails_pauses_and_says_why() -> None:
    plan = plan_of([work("a", 1), work("b")], [edge("a", "b")])
    desk, journal = Desk(), MemoryJournal()
    options = RunOptions(breakpoints=[Breakpoint(node_id="b", condition="$a.nope == 1")])

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=options)
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        view = runner.inspect()
        assert view.hold_reason == "breakpoint"
        assert view.detail is not None and "nope" in view.detail
        runner.resume(Action.CONTINUE)
        await task

    drive(scenario)
    [paused] = events(journal, "paused")
    assert "the breakpoint condition failed" in paused.data["detail"]


def test_document_breakpoints_act_only_in_debug_runs() -> None:
    plan = plan_of([work("a", 1), work("b", breakpoint=True)], [edge("a", "b")])

    async def normal() -> None:
        runner = runner_for(plan, Desk(), plain)
        assert (await runner.run()).status == ExecutionStatus.COMPLETED

    async def debug() -> None:
        runner = runner_for(plan, desk, debugged, options=RunOptions(debug=True))
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        assert [n for n, _ in desk.calls] == ["a"]
        runner.resume(Action.CONTINUE)
        await task

    plain, debugged, desk = MemoryJournal(), MemoryJournal(), Desk()
    drive(normal)
    drive(debug)
    assert events(plain, "paused") == []
    assert [(e.data["reason"], e.node_id) for e in events(debugged, "paused")] == [
        ("breakpoint", "b")
    ]


def test_breakpoints_set_while_paused_stop_later_and_each_stops_once() -> None:
    plan = chain("a", "b", "c")
    desk, journal = Desk(), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=RunOptions(debug=True))
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        runner.set_breakpoints([Breakpoint(node_id="c")])
        runner.resume(Action.CONTINUE)
        await until(lambda: desk.called("b") and runner.record.status == PAUSED)
        assert not desk.called("c")
        assert runner.inspect().breakpoints == [Breakpoint(node_id="c")]
        runner.resume(Action.CONTINUE)
        assert (await task).status == ExecutionStatus.COMPLETED
        with pytest.raises(IllegalTransition):
            runner.set_breakpoints([])

    drive(scenario)
    assert [(e.data["reason"], e.node_id) for e in events(journal, "paused")] == [
        ("start", "a"),
        ("breakpoint", "c"),
    ]


# --- evaluate and inspect -------------------------------------------------------------------------


def test_evaluate_sees_outputs_inputs_and_the_execution_while_paused() -> None:
    plan = chain(
        "a", "b", inputs={"token": {"type": "string", "secret": True}, "n": {"type": "integer"}}
    )
    desk, journal = Desk(), MemoryJournal()
    options = RunOptions(breakpoints=[Breakpoint(node_id="b")])

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, {"token": "hunter2", "n": 7}, options=options)
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        assert runner.evaluate("$a.value + $input.n") == 8
        assert runner.evaluate("{{ $a }}") == {"value": 1, "attempt": 1}
        assert runner.evaluate("$execution.id") == runner.record.id
        assert runner.evaluate("len($input.token)") == 7  # usable...
        assert runner.evaluate("$input.token") == "***"  # ...but never shown
        assert runner.evaluate("'key=' + $input.token") == "key=***"
        with pytest.raises(ExpressionError, match="empty"):
            runner.evaluate("  ")
        with pytest.raises(ExpressionError):
            runner.evaluate("$a.nope")
        runner.resume()
        await task
        with pytest.raises(IllegalTransition):
            runner.evaluate("1 + 1")

    drive(scenario)


def test_inspect_shows_where_it_holds_and_what_would_run_next() -> None:
    plan = plan_of(
        [work("a", 1), work("d", 4), work("b", "{{ $a.value * 10 }}"), work("e", "{{ $d.nope }}")],
        [edge("a", "b"), edge("d", "e")],
        inputs={"token": {"type": "string", "secret": True}},
    )
    desk, journal = Desk("d"), MemoryJournal()
    options = RunOptions(breakpoints=[Breakpoint(node_id="b")])

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, {"token": "hunter2"}, options=options)
        task = asyncio.create_task(runner.run())
        await until(lambda: runner.effective_status() == PAUSED and desk.called("d"))
        view = runner.inspect()  # pausing: d still runs
        assert view.status == PAUSED
        assert view.running == ["d"]
        assert view.finished == ["a"]
        desk.release("d")
        await until(is_paused(runner))
        view = runner.inspect()
        assert view.execution_id == runner.record.id
        assert (view.hold_reason, view.hold_node) == ("breakpoint", "b")
        assert view.inputs == {"token": "***"}
        assert set(view.outputs) == {"a", "d"}
        assert sorted(view.finished) == ["a", "d"]
        assert view.running == []
        assert [b.node_id for b in view.breakpoints] == ["b"]
        by_id = {n.node_id: n for n in view.next}
        assert list(by_id) == ["b", "e"]
        assert by_id["b"].parameters == {"value": 10}
        assert by_id["b"].upstream == ["a"]
        assert by_id["b"].node_type == "work"
        assert by_id["b"].breakpoint is True
        assert by_id["e"].breakpoint is False
        assert "nope" in by_id["e"].parameters["error"]  # shown, not raised
        runner.cancel()
        await task

    drive(scenario)


# --- the execution timeout around pauses ----------------------------------------------------------


def test_paused_time_does_not_count_against_the_execution_timeout() -> None:
    plan = chain("a", "b", settings={"timeout_s": 1.0})
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal)
        task = asyncio.create_task(runner.run())
        await until(lambda: desk.called("a"))
        runner.pause()
        desk.release("a")
        await until(is_paused(runner))
        await asyncio.sleep(1.5)  # longer than the whole execution timeout, paused
        assert not task.done()
        runner.resume()
        result = await task
        assert result.status == ExecutionStatus.COMPLETED, result.error

    drive(scenario)


def test_a_debug_run_paused_at_the_start_does_not_time_out() -> None:
    plan = chain("a", settings={"timeout_s": 0.4})
    desk, journal = Desk(), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=RunOptions(debug=True))
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        await asyncio.sleep(0.8)
        assert not task.done()
        runner.resume(Action.CONTINUE)
        assert (await task).status == ExecutionStatus.COMPLETED

    drive(scenario)


def test_the_execution_timeout_still_applies_after_resuming() -> None:
    plan = chain("a", settings={"timeout_s": 0.3})
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=RunOptions(debug=True))
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        await asyncio.sleep(0.4)
        runner.resume(Action.CONTINUE)  # a now hangs until the execution times out
        result = await asyncio.wait_for(task, 10)
        assert result.status == ExecutionStatus.FAILED
        assert result.error is not None and result.error.category == "timeout"
        [a] = result.steps
        assert a.status == StepStatus.CANCELLED

    drive(scenario)


def test_run_options_timeout_overrides_the_workflow_setting() -> None:
    plan = chain("a", settings={"timeout_s": 60})
    desk, journal = Desk("a"), MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, options=RunOptions(timeout_s=0.1))
        result = await asyncio.wait_for(runner.run(), 10)
        assert result.status == ExecutionStatus.FAILED
        assert result.error is not None and "0.1s" in result.error.message

    drive(scenario)


# --- restored runs --------------------------------------------------------------------------------


def _stored(node_id: str, status: StepStatus, attempts: int = 1, output: Any = None) -> StepRecord:
    return StepRecord(
        node_id=node_id, node_type="work", status=status, attempts=attempts, output=output
    )


def test_a_restored_run_reruns_the_in_flight_step_with_its_attempt_and_skips_the_rest() -> None:
    plan = chain("a", "b", "c")
    desk, journal = Desk(), MemoryJournal()
    steps = [
        _stored("a", StepStatus.COMPLETED, output={"value": 41}),
        _stored("b", StepStatus.RUNNING, attempts=2),
    ]

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, restored=restore(plan, steps))
        result = await runner.run()
        assert result.status == ExecutionStatus.COMPLETED
        assert result.outputs["b"]["value"] == 42  # computed from a's stored output
        assert result.outputs["c"]["value"] == 43

    drive(scenario)
    assert desk.calls == [("b", 2), ("c", 1)]
    first = events(journal)[0]
    assert first.type == "execution_resumed"
    assert first.data["reason"] == "recovered"
    assert first.data["reused"] == ["a"]
    assert first.data["next"] == ["b"]
    assert [e.node_id for e in events(journal, "step_started")] == ["b", "c"]


def test_a_restored_paused_execution_stays_paused_until_resumed() -> None:
    plan = chain("a", "b")
    desk, journal = Desk(), MemoryJournal()
    steps = [_stored("a", StepStatus.COMPLETED, output={"value": 1})]

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, restored=restore(plan, steps), start_paused=True)
        task = asyncio.create_task(runner.run())
        await until(is_paused(runner))
        await asyncio.sleep(0.05)
        assert desk.calls == []
        assert runner.inspect().next[0].node_id == "b"
        runner.resume()
        assert (await task).status == ExecutionStatus.COMPLETED

    drive(scenario)
    assert desk.calls == [("b", 1)]
    assert [e.type for e in events(journal)][:2] == ["execution_resumed", "paused"]


def test_a_restored_execution_that_had_halted_fails_without_running_anything() -> None:
    plan = chain("a", "b")
    desk, journal = Desk(), MemoryJournal()
    error = ErrorInfo(message="kaput", category="node_error", node_id="a", attempts=3)
    steps = [
        StepRecord(node_id="a", node_type="work", status=StepStatus.FAILED, attempts=3, error=error)
    ]

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, restored=restore(plan, steps))
        result = await runner.run()
        assert result.status == ExecutionStatus.FAILED
        assert result.error == error

    drive(scenario)
    assert desk.calls == []
    assert events(journal)[-1].type == "execution_failed"


def test_a_restored_execution_with_every_step_stored_completes_at_once() -> None:
    plan = chain("a", "b")
    desk, journal = Desk(), MemoryJournal()
    steps = [
        _stored("a", StepStatus.COMPLETED, output={"value": 1}),
        _stored("b", StepStatus.COMPLETED, output={"value": 2}),
    ]

    async def scenario() -> None:
        runner = runner_for(plan, desk, journal, restored=restore(plan, steps))
        result = await runner.run()
        assert result.status == ExecutionStatus.COMPLETED
        assert result.outputs == {"a": {"value": 1}, "b": {"value": 2}}

    drive(scenario)
    assert desk.calls == []


# --- journaling -----------------------------------------------------------------------------------


def _flushes(commit_each_step: bool) -> tuple[int, MemoryJournal]:
    plan = chain("a", "b", "c", "d")
    journal = MemoryJournal()

    async def scenario() -> None:
        runner = runner_for(plan, Desk(), journal, commit_each_step=commit_each_step)
        assert (await runner.run()).status == ExecutionStatus.COMPLETED

    drive(scenario)
    return journal.flushes, journal


def test_batched_commits_flush_less_but_journal_the_same_records() -> None:
    each, each_journal = _flushes(True)
    batched, batched_journal = _flushes(False)
    assert each >= 4  # one per action step at least
    assert 1 <= batched < each
    kinds = [w.kind for w in each_journal.writes]
    assert [w.kind for w in batched_journal.writes] == kinds
