"""The `shared` isolation mode on the session's real runtime (docs/dsl.md, "Isolation modes"):
many executions run at once on one ExecutionActor, each isolated from the others' failures,
cancels and pauses. The session runtime has 4 exclusive ExecutionActors at most, so 24 runs at
once can only come from the shared mode."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import hub
from hub import ExecutionStatus
from tests.chaos.conftest import supervisor_where, wait_for

pytestmark = pytest.mark.ray

RUNS = 24


def sleeper(isolation: str | None, seconds: float = 3.0, fail: bool = False) -> dict[str, Any]:
    """set -> delay -> (fail | log): long enough for all runs to be live at once."""
    last: dict[str, Any] = (
        {"id": "end", "type": "fail", "parameters": {"message": "this one fails"}}
        if fail
        else {"id": "end", "type": "log", "parameters": {"message": "n={{ $input.n }}"}}
    )
    doc: dict[str, Any] = {
        "id": f"shared-{uuid.uuid4().hex[:8]}",
        "inputs": {"n": {"type": "integer", "required": True}},
        "nodes": [
            {"id": "a", "type": "set", "parameters": {"values": {"n": "{{ $input.n }}"}}},
            {"id": "wait", "type": "delay", "parameters": {"seconds": seconds}},
            last,
        ],
        "edges": [{"from": "a", "to": "wait"}, {"from": "wait", "to": "end"}],
    }
    if isolation is not None:
        doc["settings"] = {"isolation": isolation}
    return doc


def test_many_shared_runs_share_one_process_and_none_touches_another(
    runtime: hub.Client,
) -> None:
    ok, failing = sleeper("shared"), sleeper("shared", fail=True)
    runtime.register(ok)
    runtime.register(failing)
    ids = [runtime.run(ok["id"], {"n": n}, wait=False).id for n in range(RUNS)]
    bad = runtime.run(failing["id"], {"n": -1}, wait=False).id
    victim, paused = ids[0], ids[1]

    # All live at once, on one process; an exclusive run would wait for one of 4 actors.
    def all_live() -> dict[str, Any] | None:
        where = supervisor_where()["executions"]
        if not all(i in where for i in [*ids, bad]):
            return None
        return where if {*ids, bad} <= set(where[bad]["execution_ids"]) else None

    where = wait_for(all_live, 60)
    assert len({where[i]["pid"] for i in [*ids, bad]}) == 1
    assert where[victim]["shared"] is True
    status = runtime.status()["execution_actors"]
    assert status["shared"] == 1 and status["shared_runs"] >= RUNS

    runtime.pause(paused)
    cancelled = runtime.cancel(victim, "only this one")
    assert cancelled.status == ExecutionStatus.CANCELLED
    assert runtime.wait(bad, timeout_s=60).status == ExecutionStatus.FAILED
    assert runtime.wait_until_paused(paused).status == ExecutionStatus.PAUSED
    others = [runtime.wait(i, timeout_s=60) for i in ids[2:]]
    assert {r.status for r in others} == {ExecutionStatus.COMPLETED}
    assert [r.outputs["a"]["n"] for r in others] == list(range(2, RUNS))  # each its own inputs
    assert runtime.get(paused).status == ExecutionStatus.PAUSED  # nobody else's end ended it
    runtime.resume(paused)
    assert runtime.wait(paused, timeout_s=60).status == ExecutionStatus.COMPLETED
    assert runtime.status()["execution_actors"]["shared_runs"] == 0


def test_exclusive_runs_still_get_an_actor_each(runtime: hub.Client) -> None:
    doc = sleeper(None, seconds=1.5)
    runtime.register(doc)
    ids = [runtime.run(doc["id"], {"n": n}, wait=False).id for n in range(3)]
    where = wait_for(
        lambda: (w := supervisor_where()["executions"]) and all(i in w for i in ids) and w, 60
    )
    assert len({where[i]["pid"] for i in ids}) == 3
    assert not any(where[i]["shared"] for i in ids)
    finals = [runtime.wait(i, timeout_s=60) for i in ids]
    assert {r.status for r in finals} == {ExecutionStatus.COMPLETED}
    assert "isolation" not in finals[0].settings["effective"]["workflow"]  # unset: exclusive


def test_a_shared_run_in_debug_mode_pauses_at_its_breakpoint_alone(runtime: hub.Client) -> None:
    doc = sleeper("shared", seconds=0.2)
    runtime.register(doc)
    debugged = runtime.run(doc["id"], {"n": 1}, wait=False, breakpoints=["end"])
    plain = runtime.run(doc["id"], {"n": 2}, wait=False)
    assert runtime.wait_until_paused(debugged.id).status == ExecutionStatus.PAUSED
    assert runtime.wait(plain.id, timeout_s=60).status == ExecutionStatus.COMPLETED
    assert runtime.evaluate(debugged.id, "{{ $a.n * 10 }}") == 10
    runtime.continue_(debugged.id)
    final = runtime.wait(debugged.id, timeout_s=60)
    assert final.status == ExecutionStatus.COMPLETED
    assert final.settings["effective"]["workflow"]["isolation"] == "shared"
