"""The runtime's health and audit over HTTP, against the session's runtime: ``GET /health`` checks
each component for real, and a request without a valid token writes nothing to the store.
(tests/e2e/test_api_without_desktop.py takes a component down, in a runtime of its own.)"""

from __future__ import annotations

import importlib.metadata
import uuid

import httpx
import pytest

from tests.e2e.test_api import error_of

pytestmark = pytest.mark.ray

COMPONENTS = {"api", "supervisor", "recorder", "database"}


def test_health_checks_every_component_with_uptime_and_version(api_url: str) -> None:
    response = httpx.get(f"{api_url}/health", timeout=30)  # no token needed
    assert response.status_code == 200, response.text
    health = response.json()
    assert health["status"] == "ok" and health["api_version"] == "1"
    assert health["version"] == importlib.metadata.version("runtime-hub")
    assert set(health["components"]) == COMPONENTS
    for name, component in health["components"].items():
        assert component["status"] == "ok", (name, component)
        assert component["message"] is None and component["latency_ms"] >= 0
    components = health["components"]
    for name in ("api", "supervisor", "recorder"):
        assert components[name]["uptime_s"] > 0, name
    assert health["uptime_s"] == components["supervisor"]["uptime_s"]
    # The database answered a real query, through the Recorder.
    assert components["database"]["details"]["dialect"] == "sqlite"
    assert components["supervisor"]["details"]["recovering"] is False


def test_a_request_without_a_valid_token_writes_nothing(api_url: str, api: httpx.Client) -> None:
    marker = f"audit-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=api_url, timeout=30) as anonymous:
        for headers in ({}, {"Authorization": "Bearer not-the-token"}):
            for method, path in (
                ("POST", "/workflows"),
                ("DELETE", f"/workflows/{marker}"),
                ("PUT", f"/credentials/{marker}"),
                ("POST", f"/executions/{marker}/cancel"),
                ("POST", f"/no/such/route/{marker}"),
            ):
                response = anonymous.request(
                    method, path, headers=headers, json={"id": marker, "value": "v"}
                )
                assert response.status_code in (401, 404), (method, path, response.text)
    # The same call with the token is recorded (a 404 too): the log can see such calls.
    error_of(api.delete(f"/workflows/{marker}"), 404)
    entries = api.get("/audit", params={"limit": 1000}).json()["items"]
    mine = [e for e in entries if marker in e["details"].get("path", "")]
    assert [(e["action"], e["details"]["status"]) for e in mine] == [
        (f"DELETE /api/v1/workflows/{marker}", 404)
    ], mine
    assert mine[0]["actor"].startswith("token@")
    assert not any(e["actor"].startswith("anonymous") for e in entries)
