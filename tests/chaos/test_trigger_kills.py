"""kill -9 of the TriggerActor and of the supervisor while a schedule fires: no slot is lost, none
is doubled (issue 14). On the session's runtime, like the other kills."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

import hub
from hub.records import ExecutionStatus
from tests.chaos.conftest import kill, supervisor_where, wait_for

pytestmark = [pytest.mark.chaos]


def schedule_workflow(every_s: float) -> dict[str, Any]:
    return {
        "id": f"tick-{uuid.uuid4().hex[:8]}",
        "inputs": {"slot": {"type": "string"}},
        "nodes": [
            {"id": "a", "type": "set", "parameters": {"values": {"at": "{{ $input.slot }}"}}}
        ],
        "triggers": [
            {
                "id": "tick",
                "type": "schedule",
                "every_s": every_s,
                "inputs": {"slot": "{{ $trigger.slot }}"},
            }
        ],
    }


def triggers() -> Any:
    import ray

    return ray.get_actor("triggers", namespace="runtime-hub")


def trigger_pid() -> int | None:
    import ray

    try:
        pid: int = ray.get(triggers().pid.remote(), timeout=5)
    except Exception:
        return None
    return pid


def fired(runtime: hub.Client, workflow_id: str) -> list[Any]:
    return runtime.list(workflow_id=workflow_id, limit=1000)


def slots(records: list[Any]) -> list[datetime]:
    return sorted(datetime.fromisoformat(r.trigger_info["slot"]) for r in records)


def more_fires(runtime: hub.Client, workflow_id: str, count: int) -> None:
    seen = len(fired(runtime, workflow_id))
    wait_for(lambda: len(fired(runtime, workflow_id)) >= seen + count, 60, 0.2)


@pytest.mark.timeout(300)
def test_kill_9_of_the_trigger_actor_and_of_the_supervisor_loses_and_doubles_no_slot(
    runtime: hub.Client,
) -> None:
    import ray

    doc = schedule_workflow(every_s=1)
    runtime.register(doc)
    workflow_id = doc["id"]
    try:
        more_fires(runtime, workflow_id, 2)
        before = trigger_pid()
        assert before is not None
        kill(before)
        wait_for(lambda: (pid := trigger_pid()) is not None and pid != before, 60, 0.2)
        more_fires(runtime, workflow_id, 2)
        where = supervisor_where()
        kill(where["pid"])
        wait_for(lambda: supervisor_where()["pid"] != where["pid"], 60, 0.2)
        more_fires(runtime, workflow_id, 2)
    finally:
        with contextlib.suppress(Exception):
            ray.get(triggers().set_enabled.remote(workflow_id, "tick", False), timeout=60)
    records = fired(runtime, workflow_id)
    found = slots(records)
    assert len(found) >= 6
    # Each slot started one execution: the key is the slot, and no slot repeats.
    assert len(set(found)) == len(found) == len(records)
    assert {r.idempotency_key for r in records} == {
        f"schedule:{workflow_id}:tick:{r.trigger_info['slot']}" for r in records
    }
    # None lost: from the first slot to the last, every second has its execution.
    gaps = [b - a for a, b in itertools.pairwise(found)]
    assert set(gaps) == {timedelta(seconds=1)}, gaps
    assert {r.trigger for r in records} == {"schedule"}
    for r in records:  # each run got its own slot as its input, and ran
        assert r.inputs == {"slot": r.trigger_info["slot"]}
        assert runtime.wait(r.id, timeout_s=60).status == ExecutionStatus.COMPLETED
