"""Sleeping executions (hub.parking) on the session's runtime: a run in a long delay gives its
ExecutionActor back, wakes when the delay is due and ends as it would have; a cancel ends it
while it sleeps; debugging controls say why they must wait."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import HUB
from tests.e2e.test_api import chain, create, error_of, start, wait_for, wf
from tests.e2e.test_api_streams import read_stream

pytestmark = pytest.mark.ray


@pytest.fixture
def park_after_1s(api: httpx.Client) -> Iterator[None]:
    """Delays of a second or more park (the default is a minute); put back after the test."""
    before = api.get("/settings").json()["settings"]["park_delay_s"]
    changed = api.put("/settings", json={"park_delay_s": 1})
    assert changed.status_code == 200, changed.text
    yield
    assert api.put("/settings", json={"park_delay_s": before}).status_code == 200


def until(check: Callable[[], Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def event_types(api: httpx.Client, execution_id: str, limit: int | None = None) -> list[str]:
    """The types of the execution's events (SSE): all of them, or the first ``limit``."""
    frames = read_stream(api, f"/executions/{execution_id}/events", limit)
    return [str(data["type"]) for _, data in frames]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_long_delay_releases_the_actor_and_wakes_when_due(
    api: httpx.Client, runtime: Any, runtime_env: dict[str, str], park_after_1s: None
) -> None:
    doc = wf(
        [
            {"id": "nap", "type": "delay", "parameters": {"seconds": 4}},
            {"id": "after", "type": "set", "parameters": {"values": {"ok": True}}},
        ],
        chain("nap", "after"),
    )
    create(api, doc)
    execution_id = start(api, doc["id"])
    # Asleep: no actor runs it, the supervisor holds a timer.
    until(lambda: runtime.status()["sleeping"] == 1)
    shown = subprocess.run(
        [HUB, "status"], env=runtime_env, capture_output=True, text=True, timeout=120
    )
    assert "1 sleeping" in shown.stdout, shown.stdout + shown.stderr
    assert api.get(f"/executions/{execution_id}").json()["status"] == "running"
    final = wait_for(api, execution_id, timeout_s=60)
    assert final["status"] == "completed", final
    assert final["outputs"]["after"] == {"ok": True}
    nap = next(s for s in final["steps"] if s["node_id"] == "nap")
    slept = (when(nap["ended_at"]) - when(nap["started_at"])).total_seconds()
    assert slept >= 4 and nap["output"]["slept_s"] >= 4
    types = event_types(api, execution_id)
    assert types.count("execution_sleeping") == 1
    assert types.index("execution_sleeping") < types.index("execution_resumed")
    assert types[-1] == "execution_completed"
    assert runtime.status()["sleeping"] == 0


def test_a_sleeping_run_is_cancelled_at_once_and_refuses_debugging(
    api: httpx.Client, runtime: Any, park_after_1s: None
) -> None:
    doc = wf([{"id": "nap", "type": "delay", "parameters": {"seconds": 3600}}])
    create(api, doc)
    execution_id = start(api, doc["id"])
    assert event_types(api, execution_id, limit=3)[-1] == "execution_sleeping"
    refused = error_of(api.post(f"/executions/{execution_id}/pause"), 409)
    assert "sleeping in its delay 'nap'" in refused["message"]
    cancelled = api.post(f"/executions/{execution_id}/cancel", json={"reason": "not today"})
    assert cancelled.status_code == 200, cancelled.text
    final = wait_for(api, execution_id)
    assert final["status"] == "cancelled"
    (nap,) = final["steps"]
    assert nap["status"] == "cancelled" and "not today" in nap["error"]["message"]
    assert event_types(api, execution_id)[-2:] == ["step_cancelled", "execution_cancelled"]
    assert runtime.status()["sleeping"] == 0
