"""The `auto` isolation mode on the session's real runtime (docs/dsl.md, "Isolation modes"): a
workflow of built-in control nodes runs in the supervisor's own process, no ExecutionActor
leased, each run isolated from the others' failures, cancels and pauses; any other workflow
runs exclusive. The session runtime has 4 exclusive ExecutionActors at most, so 24 runs live
at once on one pid can only be the supervisor's."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import hub
from hub import ExecutionStatus
from tests.chaos.conftest import supervisor_where, wait_for
from tests.integration.test_shared_isolation import RUNS, sleeper

pytestmark = pytest.mark.ray


def test_auto_runs_of_control_nodes_live_in_the_supervisor_and_none_touches_another(
    runtime: hub.Client,
) -> None:
    ok, failing = sleeper("auto"), sleeper("auto", fail=True)
    runtime.register(ok)
    runtime.register(failing)
    created = runtime.status()["execution_actors"]["created"]
    ids = [runtime.run(ok["id"], {"n": n}, wait=False).id for n in range(RUNS)]
    bad = runtime.run(failing["id"], {"n": -1}, wait=False).id
    victim, paused = ids[0], ids[1]

    def all_live() -> dict[str, Any] | None:
        where = supervisor_where()
        return where if all(i in where["executions"] for i in [*ids, bad]) else None

    where = wait_for(all_live, 60)
    leases = [where["executions"][i] for i in [*ids, bad]]
    assert {lease["pid"] for lease in leases} == {where["pid"]}  # the supervisor's process
    assert all(lease["in_supervisor"] for lease in leases)
    assert runtime.status()["supervisor_runs"] >= RUNS

    runtime.pause(paused)
    assert runtime.cancel(victim, "only this one").status == ExecutionStatus.CANCELLED
    failed = runtime.wait(bad, timeout_s=60)
    assert failed.status == ExecutionStatus.FAILED and "this one fails" in str(failed.error)
    assert runtime.wait_until_paused(paused).status == ExecutionStatus.PAUSED
    others = [runtime.wait(i, timeout_s=60) for i in ids[2:]]
    assert {r.status for r in others} == {ExecutionStatus.COMPLETED}
    assert [r.outputs["a"]["n"] for r in others] == list(range(2, RUNS))
    assert runtime.get(paused).status == ExecutionStatus.PAUSED
    runtime.resume(paused)
    assert runtime.wait(paused, timeout_s=60).status == ExecutionStatus.COMPLETED
    status = runtime.status()
    assert status["supervisor_runs"] == 0
    assert status["execution_actors"]["created"] == created  # no actor made for them
    stored = runtime.get(ids[2])
    assert stored.settings["effective"]["workflow"]["isolation"] == "auto"
    assert [s.node_id for s in stored.steps] == ["a", "wait", "end"]  # durable like any run


def test_an_auto_workflow_with_any_other_node_runs_on_an_actor_of_its_own(
    runtime: hub.Client,
) -> None:
    doc: dict[str, Any] = {
        "id": f"auto-code-{uuid.uuid4().hex[:8]}",
        "settings": {"isolation": "auto"},
        "nodes": [
            {"id": "a", "type": "set", "parameters": {"values": {"n": 2}}},
            {"id": "wait", "type": "delay", "parameters": {"seconds": 2}},
            {
                "id": "double",
                "type": "code",
                "parameters": {"source": "def main(input):\n    return {'n': 4}\n"},
            },
        ],
        "edges": [{"from": "a", "to": "wait"}, {"from": "wait", "to": "double"}],
    }
    record = runtime.run(doc, wait=False)
    where = supervisor_where()
    lease = wait_for(lambda: supervisor_where()["executions"].get(record.id), 30)
    assert lease["in_supervisor"] is False and lease["pid"] != where["pid"]
    assert lease["shared"] is False
    final = runtime.wait(record.id, timeout_s=60)
    assert final.status == ExecutionStatus.COMPLETED, final.error
    assert final.outputs["double"] == {"n": 4}


def test_a_synchronous_auto_run_answers_with_its_outputs(runtime: hub.Client) -> None:
    doc: dict[str, Any] = {
        "id": f"auto-sync-{uuid.uuid4().hex[:8]}",
        "settings": {"isolation": "auto"},
        "inputs": {"x": {"type": "integer", "required": True}},
        "nodes": [
            {"id": "a", "type": "set", "parameters": {"values": {"y": "{{ $input.x * 2 }}"}}},
            {"id": "big", "type": "condition", "parameters": {"expression": "{{ $a.y > 5 }}"}},
        ],
        "edges": [{"from": "a", "to": "big"}],
    }
    runtime.register(doc)
    finals = [runtime.run(doc["id"], {"x": x}) for x in (1, 3)]
    assert [f.status for f in finals] == [ExecutionStatus.COMPLETED] * 2
    assert [f.outputs["big"] for f in finals] == [{"result": False}, {"result": True}]
    # A second start with the same idempotency key answers with the first run.
    first = runtime.run(doc["id"], {"x": 2}, idempotency_key=f"k-{doc['id']}")
    again = runtime.run(doc["id"], {"x": 2}, idempotency_key=f"k-{doc['id']}")
    assert again.id == first.id
