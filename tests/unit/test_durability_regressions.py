"""Regressions: bugs found while testing the durability core, each pinned by a test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from hub.compiler import compile_workflow
from hub.debugging import Gate, compile_condition
from hub.errors import ExpressionError, HubError, Superseded
from hub.local import MemoryJournal, dispatch_in_process, new_execution, run_in_process
from hub.nodes import NodeCall, NodeResult
from hub.plan import PlanNode
from hub.records import Breakpoint, StepRecord, StepStatus, UpdateExecution
from hub.restore import restore
from hub.retries import derive
from hub.runner import ExecutionRunner


def test_adding_a_breakpoint_while_held_at_one_does_not_re_arm_it() -> None:
    gate = Gate.for_run(debug=True, breakpoints=[Breakpoint(node_id="b")], node_breakpoints=[])
    assert gate.admit("b", dict) is not None
    gate.set_breakpoints([Breakpoint(node_id="b"), Breakpoint(node_id="c")])  # CLI `break c`
    gate.release()
    assert gate.admit("b", dict) is None  # continue runs b
    assert gate.admit("c", dict) is not None


def test_replaying_a_halted_run_keeps_the_other_branches_outputs() -> None:
    doc = {
        "id": "wf",
        "nodes": [
            {"id": "boom", "type": "fail", "parameters": {"message": "kaput"}},
            {"id": "a", "type": "set", "parameters": {"values": {"v": 1}}},
        ],
    }
    plan = compile_workflow(doc).raise_for_errors()
    steps = [
        StepRecord(node_id="boom", node_type="fail", status=StepStatus.FAILED, attempts=1),
        StepRecord(node_id="a", node_type="set", status=StepStatus.COMPLETED, output={"v": 1}),
    ]
    restored = restore(plan, steps)
    assert restored.halted is not None and set(restored.reused) == {"boom", "a"}
    record, _ = new_execution(plan, {})
    runner = ExecutionRunner(
        plan, record, dispatch=dispatch_in_process, journal=MemoryJournal(), restored=restored
    )
    done = asyncio.run(runner.run())
    assert done.status == "failed" and done.outputs["a"] == {"v": 1}
    assert {s.node_id for s in done.steps} == {"boom", "a"}


@pytest.mark.parametrize("output", [{"ok": True}, None, [1, 2]])
def test_a_substitute_for_a_condition_must_name_its_port(output: object) -> None:
    doc = {
        "id": "wf",
        "nodes": [
            {"id": "c", "type": "condition", "parameters": {"expression": "{{ 1 / 0 }}"}},
            {"id": "yes", "type": "log", "parameters": {"message": "y"}},
        ],
        "edges": [{"from": "c", "to": "yes", "when": "true"}],
    }
    plan = compile_workflow(doc).raise_for_errors()
    parent = asyncio.run(run_in_process(plan))
    with pytest.raises(HubError, match="must look like its output"):
        derive(parent, plan, doc, "skip_step", output=output)
    good = derive(parent, plan, doc, "skip_step", output={"result": True})
    assert restore(plan, good.record.steps).frontier == ["yes"]


def test_a_crashed_retry_keeps_its_fresh_retry_budget() -> None:
    doc = {
        "id": "wf",
        "nodes": [
            {
                "id": "h",
                "type": "http",
                "parameters": {"url": "http://x"},
                "retry": {"max_attempts": 2, "backoff_s": 0},
            }
        ],
    }
    plan = compile_workflow(doc).raise_for_errors()
    running = StepRecord(node_id="h", node_type="http", status=StepStatus.RUNNING, attempts=3)
    crashed = restore(plan, [running], retry_bases={"h": 2})
    step = crashed.state.steps["h"]
    assert (step.attempts, step.retry_base) == (2, 2)  # attempt 3 again, then 4 allowed


def test_conditions_must_be_one_expression_and_evaluate_errors_say_evaluate() -> None:
    with pytest.raises(ExpressionError, match="must be one expression"):
        compile_condition("{{ $a.n > 1 }} and {{ False }}", "the breakpoint condition on 'b'")
    with pytest.raises(ExpressionError, match=r"^cannot evaluate: "):
        compile_condition("$a.(", "cannot evaluate")


class SupersededWhen(MemoryJournal):
    """The store refuses this runner's writes once ``when()`` holds, as the Recorder does once
    another runner claimed the execution."""

    def __init__(self, when: Callable[[], bool]) -> None:
        super().__init__()
        self.when = when

    async def flush(self) -> None:
        await super().flush()
        if self.when():
            self.superseded = True
            raise Superseded.of("x")


def test_a_superseded_runner_starts_nothing_more_and_records_no_end() -> None:
    doc = {
        "id": "wf",
        "nodes": [
            {"id": f"s{i}", "type": "shell", "parameters": {"argv": ["true"]}} for i in range(3)
        ],
        "edges": [{"from": "s0", "to": "s1"}, {"from": "s1", "to": "s2"}],
    }
    plan = compile_workflow(doc).raise_for_errors()
    record, _ = new_execution(plan, {})
    dispatched: list[str] = []

    async def dispatch(node: PlanNode, call: NodeCall, timeout_s: float | None) -> NodeResult:
        dispatched.append(node.id)
        return await dispatch_in_process(node, call, timeout_s)

    journal = SupersededWhen(lambda: "s1" in dispatched)  # s0's result lands, s1's is refused
    runner = ExecutionRunner(
        plan, record, dispatch=dispatch, journal=journal, enabled_families=frozenset({"shell"})
    )
    with pytest.raises(Superseded):
        asyncio.run(runner.run())
    assert dispatched == ["s0", "s1"]  # s2 never started
    ends = [w for w in journal.writes if isinstance(w, UpdateExecution) and w.ended_at]
    assert ends == []
