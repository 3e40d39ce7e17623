"""The foreach node on the session's runtime (docs/dsl.md, "Loops"): real http items against a
loopback server, a sub-workflow per item, errors collected or failing fast, and a cancel that
reaches every child."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import hub
from hub import ExecutionStatus
from tests.chaos.conftest import wait_for

pytestmark = pytest.mark.ray


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def looping(workflow_id: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "inputs": {"ids": {"type": "array", "default": []}},
        "nodes": [
            {"id": "each", "type": "foreach", "parameters": parameters},
            {
                "id": "count",
                "type": "set",
                "parameters": {"values": {"n": "{{ len($each.results) }}"}},
            },
        ],
        "edges": [{"from": "each", "to": "count"}],
    }


def http_loop(workflow_id: str, url: str, **parameters: Any) -> dict[str, Any]:
    """A foreach of http GETs of ``url`` (a template reading $item) over $input.ids."""
    node = {"type": "http", "parameters": {"url": url}}
    return looping(workflow_id, {"items": "{{ $input.ids }}", "node": node, **parameters})


def test_http_per_item_in_order_with_errors_collected(
    runtime: hub.Client, http_server: Any
) -> None:
    wf = name("each-http")
    path = "{{ 'users/' + str($item) if $item >= 0 else 'status?code=404' }}"
    runtime.register(
        http_loop(wf, f"{http_server.url}/{path}", concurrency=8, on_item_error="continue")
    )
    ids = [*range(30), -1, 30, -1]
    final = runtime.run(wf, {"ids": ids}, timeout_s=180)
    assert final.status == ExecutionStatus.COMPLETED, final.error
    out = final.outputs["each"]
    bodies = [r["body"] if r is not None else None for r in out["results"]]
    assert [b["id"] for b in bodies if b is not None] == [*range(30), 30]
    assert [e["index"] for e in out["errors"]] == [30, 32]
    assert "404" in out["errors"][0]["message"]
    assert final.outputs["count"] == {"n": 33}
    rows = {s.node_id: s for s in runtime.get(final.id).steps}
    assert rows["each[5]"].status == "completed" and rows["each[5]"].node_type == "http"
    assert rows["each[30]"].status == "failed"
    events = [e.type for e in runtime.watch(final.id)]
    assert events.count("item_completed") == 31 and events.count("item_failed") == 2


def test_a_failing_item_fails_the_step_and_stops_the_rest(
    runtime: hub.Client, http_server: Any
) -> None:
    wf = name("each-fail")
    runtime.register(http_loop(wf, f"{http_server.url}/status?code={{{{ $item }}}}", concurrency=1))
    final = runtime.run(wf, {"ids": [200, 200, 500, 200, 200]}, timeout_s=120)
    assert final.status == ExecutionStatus.FAILED
    assert final.error is not None and final.error.message.startswith("item 2 failed:")
    rows = {s.node_id for s in runtime.get(final.id).steps}
    assert {"each[0]", "each[1]", "each[2]"} <= rows and not {"each[3]", "each[4]"} & rows


def child_workflow(workflow_id: str, seconds: float = 0.0) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "inputs": {"item": {"type": "object", "required": True}},
        "settings": {"isolation": "shared"},
        "nodes": [
            {"id": "wait", "type": "delay", "parameters": {"seconds": seconds}},
            {
                "id": "out",
                "type": "set",
                "parameters": {"values": {"sum": "{{ $input.item.a + $input.item.b }}"}},
            },
        ],
        "edges": [{"from": "wait", "to": "out"}],
    }


def test_a_sub_workflow_per_item(runtime: hub.Client) -> None:
    child, parent = name("each-child"), name("each-parent")
    runtime.register(child_workflow(child))
    runtime.register(
        looping(
            parent,
            {"items": "{{ $input.ids }}", "workflow_id": child, "concurrency": 3},
        )
    )
    items = [{"a": i, "b": 10 * i} for i in range(8)]
    final = runtime.run(parent, {"ids": items}, timeout_s=180)
    assert final.status == ExecutionStatus.COMPLETED, final.error
    results = final.outputs["each"]["results"]
    assert [r["outputs"]["out"]["sum"] for r in results] == [11 * i for i in range(8)]
    kids = runtime.list(parent_id=final.id, limit=100)
    assert len(kids) == 8 and {k.id for k in kids} == {r["execution_id"] for r in results}
    # Each child names the item that started it.
    assert {k.settings["origin"]["node_id"] for k in kids} == {f"each[{i}]" for i in range(8)}


def test_cancelling_the_parent_cancels_the_children_in_flight(runtime: hub.Client) -> None:
    child, parent = name("each-slow"), name("each-cancel")
    runtime.register(child_workflow(child, seconds=30))
    runtime.register(
        looping(parent, {"items": "{{ $input.ids }}", "workflow_id": child, "concurrency": 2})
    )
    record = runtime.run(parent, {"ids": [{"a": i, "b": i} for i in range(6)]}, wait=False)
    kids = wait_for(lambda: [k for k in runtime.list(parent_id=record.id)] or None, 60)
    wait_for(lambda: len(runtime.list(parent_id=record.id)) >= 2 or None, 60)
    runtime.cancel(record.id)
    final = runtime.wait(record.id, timeout_s=120)
    assert final.status == ExecutionStatus.CANCELLED
    for kid in runtime.list(parent_id=record.id):
        ended = runtime.wait(kid.id, timeout_s=60)
        assert ended.status == ExecutionStatus.CANCELLED, (kid.id, ended.status)
    assert len(runtime.list(parent_id=record.id)) == 2 and kids  # the rest never started


def test_a_retry_keeps_finished_items_and_a_step_retry_can_fix_the_item_node(
    runtime: hub.Client, http_server: Any
) -> None:
    wf = name("each-retry")
    user = 4000 + uuid.uuid4().int % 1000
    runtime.register(http_loop(wf, f"{http_server.url}/{{{{ $item }}}}", concurrency=1))
    ids = [f"users/{user}", "status?code=500", f"users/{user + 1}"]
    first = runtime.run(wf, {"ids": ids}, timeout_s=120)
    assert first.status == ExecutionStatus.FAILED

    def hits(path: str) -> int:
        return sum(r["path"] == path for r in http_server.requests)

    assert (hits(f"/users/{user}"), hits(f"/users/{user + 1}")) == (1, 0)
    again = runtime.retry(first.id)
    assert again.status == ExecutionStatus.FAILED  # item 1 fails again
    assert (hits(f"/users/{user}"), hits(f"/users/{user + 1}")) == (1, 0)  # item 0 reused
    fixed_node = {
        "type": "http",
        "parameters": {
            "url": f"{http_server.url}/{{{{ 'users/7' if contains($item, 'status') else $item }}}}"
        },
    }
    fixed = runtime.retry_step(
        again.id,
        "each",
        {"items": "{{ $input.ids }}", "node": fixed_node, "concurrency": 1},
    )
    assert fixed.status == ExecutionStatus.COMPLETED, fixed.error
    bodies = [r["body"]["id"] for r in fixed.outputs["each"]["results"]]
    assert bodies == [user, 7, user + 1]
    # New parameters for the step: every item ran again with them.
    assert hits(f"/users/{user}") == 2 and hits(f"/users/{user + 1}") == 1
