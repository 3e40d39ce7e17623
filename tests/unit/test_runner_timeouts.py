"""The runner bounds every attempt by the limit hub.nodes.attempt_timeout_s decides, with or
without a ``timeout_s`` in the workflow: pooled nodes hand it to the dispatcher (which stops the
call, and replaces an isolated node's process), inline nodes enforce it themselves."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.compiler import compile_workflow
from hub.local import MemoryJournal, new_execution
from hub.nodes import (
    DEFAULT_TIMEOUT_S,
    NodeCall,
    NodeRegistry,
    NodeResult,
    NoParameters,
    default_registry,
    node_type,
)
from hub.nodes._timeouts import SELF_ENFORCED_GRACE_S
from hub.plan import ExecutionPlan, PlanNode
from hub.records import ExecutionRecord, ExecutionStatus, StepRecord
from hub.runner import ExecutionRunner

SPIN = "def main(i):\n    while True: pass"


class RecordingDispatcher:
    """Answers every call at once and records the limit the runner handed it."""

    def __init__(self) -> None:
        self.timeouts: dict[str, float | None] = {}

    async def __call__(self, node: PlanNode, call: NodeCall, timeout_s: float | None) -> NodeResult:
        self.timeouts[call.node_id] = timeout_s
        return NodeResult(output={})


def _registry() -> NodeRegistry:
    registry = NodeRegistry()
    for builtin in default_registry().types():
        registry.add(builtin)

    async def plain(params: Any, ctx: Any) -> Any:  # pragma: no cover - the dispatcher answers
        return {}

    async def hang(params: Any, ctx: Any) -> Any:
        await asyncio.Event().wait()

    node_type("t.plugin", parameters=NoParameters, registry=registry)(plain)
    node_type(
        "t.hang", parameters=NoParameters, inline=True, default_timeout_s=0.05, registry=registry
    )(hang)
    return registry


REGISTRY = _registry()


def plan_of(nodes: list[dict[str, Any]], **top: Any) -> ExecutionPlan:
    document = {"id": "wf", "nodes": nodes, **top}
    return compile_workflow(document, registry=REGISTRY).raise_for_errors()


def run(
    plan: ExecutionPlan, dispatch: Any, inputs: dict[str, Any] | None = None
) -> ExecutionRecord:
    record, validated = new_execution(plan, inputs or {})
    runner = ExecutionRunner(
        plan,
        record.model_copy(update={"inputs": validated}),
        dispatch=dispatch,
        journal=MemoryJournal(),
        enabled_families=frozenset({"code", "shell", "desktop"}),
    )
    # Bounded here, so a runner that enforces nothing fails this test instead of hanging it.
    return asyncio.run(asyncio.wait_for(runner.run(), 10))


def step(record: ExecutionRecord, node_id: str) -> StepRecord:
    return next(s for s in record.steps if s.node_id == node_id)


def test_a_code_node_without_timeout_s_is_handed_the_30s_default() -> None:
    """The defect: only an explicit timeout_s reached the dispatcher, so a spinning code node
    held its pool process forever."""
    desk = RecordingDispatcher()
    record = run(plan_of([{"id": "spin", "type": "code", "parameters": {"source": SPIN}}]), desk)
    assert record.status == ExecutionStatus.COMPLETED
    assert desk.timeouts == {"spin": 30.0}


def test_every_pooled_family_is_handed_its_default() -> None:
    desk = RecordingDispatcher()
    nodes: list[dict[str, Any]] = [
        {"id": "code", "type": "code", "parameters": {"source": SPIN}},
        {"id": "shell", "type": "shell", "parameters": {"argv": ["true"]}},
        {"id": "http", "type": "http", "parameters": {"url": "http://127.0.0.1:9/"}},
        {"id": "shot", "type": "desktop.capture"},
        {"id": "wait", "type": "desktop.wait_for_text", "parameters": {"text": "OK"}},
        {"id": "plugin", "type": "t.plugin"},
    ]
    run(plan_of(nodes), desk)
    assert desk.timeouts == {
        "code": 30.0,
        "shell": 60.0 + SELF_ENFORCED_GRACE_S,
        "http": 30.0 + SELF_ENFORCED_GRACE_S,
        "shot": 60.0,
        "wait": 10.0 + SELF_ENFORCED_GRACE_S,
        "plugin": DEFAULT_TIMEOUT_S,
    }


def test_the_workflow_timeouts_reach_the_dispatcher() -> None:
    desk = RecordingDispatcher()
    nodes: list[dict[str, Any]] = [
        {"id": "short", "type": "code", "parameters": {"source": SPIN}, "timeout_s": 2},
        {"id": "long", "type": "code", "parameters": {"source": SPIN, "timeout_s": 90}},
        {
            "id": "resolved",
            "type": "code",
            "parameters": {"source": SPIN, "timeout_s": "{{ $input.t }}"},
        },
        {"id": "ocr", "type": "desktop.capture", "timeout_s": 240},
    ]
    run(plan_of(nodes, inputs={"t": {"type": "number"}}), desk, {"t": 4.5})
    assert desk.timeouts == {"short": 2.0, "long": 90.0, "resolved": 4.5, "ocr": 240.0}


def test_an_inline_node_is_bounded_by_its_declared_default() -> None:
    record = run(plan_of([{"id": "h", "type": "t.hang"}]), RecordingDispatcher())
    assert record.status == ExecutionStatus.FAILED
    error = step(record, "h").error
    assert error is not None
    assert error.category == "timeout"
    assert error.message == "step timed out after 0.05s"
