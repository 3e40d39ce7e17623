"""The ``workflow`` node on the session's runtime (docs/dsl.md, "Sub-workflows"): outputs come
back, failures fail the step with the child's error, a cancel in the middle of a depth-3 tree
cancels what is below it, the depth is limited, and parents waiting for children never
deadlock a full runtime (the session runtime runs 4 executions at once)."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest

import hub
from hub import ExecutionStatus
from tests.chaos.conftest import wait_for
from tests.conftest import HUB

pytestmark = pytest.mark.ray


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def caller(workflow_id: str, child: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "inputs": {"n": {"type": "integer", "default": 1}},
        "nodes": [
            {
                "id": "call",
                "type": "workflow",
                "parameters": {"workflow_id": child, "inputs": inputs or {"n": "{{ $input.n }}"}},
            },
            {
                "id": "after",
                "type": "set",
                "parameters": {"values": {"got": "{{ $call.outputs }}"}},
            },
        ],
        "edges": [{"from": "call", "to": "after"}],
    }


def leaf(workflow_id: str, seconds: float = 0.0, fail: bool = False) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "wait", "type": "delay", "parameters": {"seconds": seconds}},
        {"id": "double", "type": "set", "parameters": {"values": {"n": "{{ $input.n * 2 }}"}}},
    ]
    if fail:
        nodes[1] = {"id": "double", "type": "fail", "parameters": {"message": "leaf broke"}}
    return {
        "id": workflow_id,
        "inputs": {"n": {"type": "integer", "required": True}},
        "nodes": nodes,
        "edges": [{"from": "wait", "to": "double"}],
    }


def children_of(runtime: hub.Client, execution_id: str) -> list[Any]:
    return runtime.list(parent_id=execution_id, limit=1000)


def test_outputs_come_back_and_the_link_goes_both_ways(runtime: hub.Client) -> None:
    child, parent = name("leaf"), name("parent")
    runtime.register(leaf(child))
    runtime.register(caller(parent, child))
    final = runtime.run(parent, {"n": 21}, timeout_s=120)
    assert final.status == ExecutionStatus.COMPLETED, final.error
    out = final.outputs["call"]
    assert out["status"] == "completed" and out["outputs"]["double"] == {"n": 42}
    assert final.outputs["after"]["got"]["double"] == {"n": 42}
    kid = runtime.get(out["execution_id"])
    assert kid.parent_id == final.id and kid.trigger == "workflow"
    assert kid.settings["origin"]["kind"] == "subworkflow"
    assert kid.settings["origin"]["node_id"] == "call" and kid.settings["depth"] == 1
    shown = subprocess.run(
        [HUB, "show", final.id, "--json"], capture_output=True, text=True, timeout=60
    )
    children = json.loads(shown.stdout)["children"]
    assert children == [
        {"id": kid.id, "workflow_id": child, "status": "completed", "origin": "subworkflow"}
    ]


def test_a_failed_child_fails_the_step_with_its_error(runtime: hub.Client) -> None:
    child, parent = name("broken"), name("parent")
    runtime.register(leaf(child, fail=True))
    runtime.register(caller(parent, child))
    final = runtime.run(parent, {"n": 1}, timeout_s=120)
    assert final.status == ExecutionStatus.FAILED
    assert final.error is not None and "leaf broke" in final.error.message
    assert f"sub-workflow {child}" in final.error.message
    missing = runtime.run(caller(name("orphan"), "no-such-workflow"), {"n": 1}, timeout_s=60)
    assert missing.status == ExecutionStatus.FAILED and missing.error is not None
    assert missing.error.category == "validation" and "no-such-workflow" in missing.error.message


def test_a_cancel_in_the_middle_of_a_depth_3_tree(runtime: hub.Client) -> None:
    bottom, middle, top = name("bottom"), name("middle"), name("top")
    runtime.register(leaf(bottom, seconds=30))
    runtime.register(caller(middle, bottom))
    runtime.register(caller(top, middle))
    root = runtime.run(top, {"n": 1}, wait=False)

    def tree() -> tuple[Any, Any] | None:
        mids = children_of(runtime, root.id)
        lows = children_of(runtime, mids[0].id) if mids else []
        if lows and lows[0].status == ExecutionStatus.RUNNING:
            return mids[0], lows[0]
        return None

    mid, low = wait_for(tree, 60, every_s=0.2)
    runtime.cancel(mid.id, "stop the middle")
    assert runtime.wait(low.id, timeout_s=60).status == ExecutionStatus.CANCELLED
    assert runtime.wait(mid.id, timeout_s=60).status == ExecutionStatus.CANCELLED
    final = runtime.wait(root.id, timeout_s=60)
    assert final.status == ExecutionStatus.FAILED and final.error is not None
    assert f"execution {mid.id}) cancelled" in final.error.message
    # And from the top: cancelling the root cancels the whole tree.
    root = runtime.run(top, {"n": 1}, wait=False)
    mid, low = wait_for(tree, 60, every_s=0.2)
    assert runtime.cancel(root.id).status == ExecutionStatus.CANCELLED
    assert runtime.wait(mid.id, timeout_s=60).status == ExecutionStatus.CANCELLED
    assert runtime.wait(low.id, timeout_s=60).status == ExecutionStatus.CANCELLED


def test_a_workflow_that_calls_itself_stops_at_the_depth_limit(runtime: hub.Client) -> None:
    looping = name("loop")
    runtime.register(caller(looping, looping))
    final = runtime.run(looping, {"n": 1}, timeout_s=180)
    assert final.status == ExecutionStatus.FAILED and final.error is not None
    assert "max_workflow_depth=10" in final.error.message
    depth, current = 0, final
    while kids := children_of(runtime, current.id):
        depth, current = depth + 1, kids[0]
    assert depth == 10  # ten levels below the first, the eleventh start refused


def test_parents_waiting_for_children_never_deadlock_a_full_runtime(runtime: hub.Client) -> None:
    child, parent = name("leaf"), name("parent")
    runtime.register(leaf(child, seconds=1))
    runtime.register(caller(parent, child))
    ids = [runtime.run(parent, {"n": n}, wait=False).id for n in range(6)]  # > 4 at once
    finals = [runtime.wait(i, timeout_s=120) for i in ids]
    assert {f.status for f in finals} == {ExecutionStatus.COMPLETED}
    assert [f.outputs["call"]["outputs"]["double"]["n"] for f in finals] == [0, 2, 4, 6, 8, 10]


def test_a_child_started_without_waiting_runs_on_its_own(runtime: hub.Client) -> None:
    child, parent = name("leaf"), name("fire")
    runtime.register(leaf(child, seconds=0.5))
    doc = caller(parent, child)
    doc["nodes"][0]["parameters"]["wait"] = False
    doc["nodes"][1]["parameters"]["values"] = {"id": "{{ $call.execution_id }}"}
    final = runtime.run(doc, {"n": 4}, timeout_s=60)
    assert final.status == ExecutionStatus.COMPLETED
    assert final.outputs["call"]["status"] in ("queued", "running")
    kid = runtime.wait(final.outputs["after"]["id"], timeout_s=60)
    assert kid.status == ExecutionStatus.COMPLETED and kid.outputs["double"] == {"n": 8}
