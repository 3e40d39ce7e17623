"""Circuit breakers on the session's real runtime: the BreakerActor shared by every
ExecutionActor, http calls to a dead port, a live server that comes up on it, the API and the
CLI that list and reset breakers, and ``hub status``."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

import hub
from tests.conftest import _Handler, free_port, run_cli

pytestmark = pytest.mark.ray


class _Server(ThreadingHTTPServer):
    """tests.conftest's loopback server, on a port chosen beforehand."""

    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}


@contextmanager
def serving(port: int) -> Iterator[_Server]:
    server = _Server(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def breaker_doc(
    port: int, *, threshold: int, reset_timeout_s: float, **node: Any
) -> dict[str, Any]:
    fetch = {
        "id": "fetch",
        "type": "http",
        "parameters": {"url": f"http://127.0.0.1:{port}/users/1", "timeout_s": 5},
        **node,
    }
    return {
        "id": f"cb-{uuid.uuid4().hex[:10]}",
        "settings": {
            "circuit_breaker": {
                "enabled": True,
                "failure_threshold": threshold,
                "window_s": 120,
                "reset_timeout_s": reset_timeout_s,
            }
        },
        "nodes": [fetch],
    }


def step_error(record: hub.ExecutionRecord, node_id: str = "fetch") -> Any:
    step = next(s for s in record.steps if s.node_id == node_id)
    assert step.error is not None, step
    return step.error


def breakers(api: Any) -> dict[str, dict[str, Any]]:
    answer = api.get("/breakers")
    assert answer.status_code == 200, answer.text
    return {item["key"]: item for item in answer.json()["items"]}


def test_a_dead_port_opens_the_breaker_and_a_probe_to_a_live_server_closes_it(
    runtime: hub.Client, api: Any
) -> None:
    port = free_port()
    key = f"http:127.0.0.1:{port}"
    doc = breaker_doc(port, threshold=2, reset_timeout_s=4)
    for _ in range(2):
        record = runtime.run(doc)
        assert record.status == "failed"
        assert step_error(record).category == "connection"
    assert breakers(api)[key]["state"] == "open"
    assert breakers(api)[f"workflow:{doc['id']}"]["state"] == "closed"  # counted by the step's
    with serving(port) as server:
        refused = runtime.run(doc)
        error = step_error(refused)
        assert error.category == "circuit_open"
        assert error.severity == "medium"
        assert key in error.message
        assert server.requests == []  # the target was not called
        status = runtime.status()["breakers"]
        assert key in status["open_keys"]
        assert status["open"] >= 1
        deadline = time.monotonic() + 60
        while breakers(api)[key]["state"] != "half_open":
            assert time.monotonic() < deadline, breakers(api)[key]
            time.sleep(0.2)
        probe = runtime.run(doc)
        assert probe.status == "completed", probe.error
        assert [r["path"] for r in server.requests] == ["/users/1"]
    assert breakers(api)[key]["state"] == "closed"


def test_circuit_open_is_retried_by_the_retry_policy_and_takes_the_error_edge(
    runtime: hub.Client,
) -> None:
    port = free_port()
    opening = runtime.run(breaker_doc(port, threshold=1, reset_timeout_s=600))
    assert step_error(opening).category == "connection"
    doc = breaker_doc(
        port,
        threshold=1,
        reset_timeout_s=600,
        retry={"max_attempts": 3, "backoff_s": 0.01, "jitter": False},
        on_error="branch",
    )
    doc["nodes"].append(
        {
            "id": "fallback",
            "type": "set",
            "parameters": {"values": {"why": "{{ $fetch.error.category }}"}},
        }
    )
    doc["edges"] = [{"from": "fetch", "to": "fallback", "when": "error"}]
    record = runtime.run(doc)
    assert record.status == "completed", record.error
    fetch = next(s for s in record.steps if s.node_id == "fetch")
    assert fetch.status == "failed"
    assert fetch.attempts == 3
    assert step_error(record).category == "circuit_open"
    assert record.outputs["fallback"] == {"why": "circuit_open"}


def test_breakers_are_listed_and_reset_through_the_api_and_the_cli(
    runtime: hub.Client, api: Any, runtime_env: dict[str, str]
) -> None:
    port = free_port()
    key = f"http:127.0.0.1:{port}"
    doc = breaker_doc(port, threshold=1, reset_timeout_s=600)
    runtime.run(doc)
    listed = run_cli(runtime_env, "breakers", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    states = {b["key"]: b for b in json.loads(listed.stdout)}
    assert states[key]["state"] == "open"
    assert states[key]["settings"]["reset_timeout_s"] == 600

    answer = api.post(f"/breakers/{key}/reset")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "closed"
    assert breakers(api)[key]["state"] == "closed"
    assert step_error(runtime.run(doc)).category == "connection"  # called again: reopened

    reset = run_cli(runtime_env, "breakers", "reset", key)
    assert reset.returncode == 0, reset.stderr
    assert "closed" in reset.stdout
    assert breakers(api)[key]["state"] == "closed"
    unknown = api.post("/breakers/http:nowhere.test:1/reset")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


def test_an_open_workflow_breaker_fails_new_executions_at_their_start(
    runtime: hub.Client, api: Any
) -> None:
    doc = {
        "id": f"cb-{uuid.uuid4().hex[:10]}",
        "settings": {"circuit_breaker": {"enabled": True, "failure_threshold": 2}},
        "nodes": [{"id": "boom", "type": "fail", "parameters": {"message": "broken"}}],
    }
    for _ in range(2):
        assert runtime.run(doc).status == "failed"
    refused = runtime.run(doc)
    assert refused.status == "failed"
    assert refused.steps == []
    assert refused.error is not None
    assert refused.error.category == "circuit_open"
    assert f"workflow:{doc['id']}" in refused.error.message
    shown = api.get(f"/executions/{refused.id}").json()  # stored, like any failed execution
    assert shown["status"] == "failed"
    assert shown["error"]["category"] == "circuit_open"
    assert shown["error"]["severity"] == "medium"
