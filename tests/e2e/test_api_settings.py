"""Settings, per-workflow overrides, write-only credentials, the audit log and desktop sessions
over HTTP. The runtime is shared by the whole test session: every change is undone."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_api import create, delays, error_of, run_to_end, wait_for, wf
from tests.e2e.test_api_streams import read_stream

pytestmark = pytest.mark.ray


@pytest.fixture
def original_settings(api: httpx.Client) -> Iterator[dict[str, Any]]:
    """The runtime settings before the test, put back after it."""
    before: dict[str, Any] = api.get("/settings").json()["settings"]
    yield before
    restored = api.put("/settings", json=before)
    assert restored.status_code == 200, restored.text
    assert restored.json()["settings"] == before
    assert restored.json()["restart_required"] == []


def test_change_validate_and_restore_settings(
    api: httpx.Client, original_settings: dict[str, Any]
) -> None:
    assert original_settings["enable_code_nodes"] is True  # HUB_ENABLE_CODE_NODES=1 at `hub up`
    new_level = "warn" if original_settings["log_level"] != "warn" else "info"
    changed = api.put("/settings", json={"log_level": new_level, "default_max_attempts": 2})
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"]["log_level"] == new_level
    assert changed.json()["restart_required"] == []
    now = api.get("/settings").json()["settings"]
    assert now == {**original_settings, "log_level": new_level, "default_max_attempts": 2}

    pools = api.put("/settings", json={"warm_execution_actors": 3})
    assert pools.json()["restart_required"] == ["warm_execution_actors"]

    for bad, field in (
        ({"max_concurrent_executions": 0}, "/max_concurrent_executions"),
        ({"log_level": "loud"}, "/log_level"),
        ({"no_such_setting": True}, "/no_such_setting"),
    ):
        error = error_of(api.post("/settings/validate", json=bad), 422)
        assert [e["path"] for e in error["details"]["errors"]] == [field]
        assert field.strip("/") in error["message"]
        error_of(api.put("/settings", json=bad), 422)
    assert api.get("/settings").json()["settings"]["log_level"] == new_level  # unchanged
    # Pool resources are checked against the node types the runtime knows.
    for bad, says in (
        ({"node_pool_resources": {"htttp": {"edge": 1}}}, "no node type 'htttp'"),
        ({"node_pool_resources": {"set": {"edge": 1}}}, "set runs inside the ExecutionActor"),
        ({"node_pool_resources": {"http": {"edge": 0}}}, "0 is not a positive number"),
    ):
        assert says in error_of(api.post("/settings/validate", json=bad), 422)["message"]
        assert says in error_of(api.put("/settings", json=bad), 422)["message"]
    pinned = api.post("/settings/validate", json={"node_pool_resources": {"http": {"edge": 1}}})
    assert pinned.status_code == 200 and pinned.json()["node_pool_resources"]["http"] == {"edge": 1}
    valid = api.post("/settings/validate", json={"fail_fast": False})
    assert valid.status_code == 200 and valid.json()["fail_fast"] is False
    assert api.get("/settings").json()["settings"]["fail_fast"] == original_settings["fail_fast"]


def test_gates_close_and_reopen_over_http_but_never_open_wider(
    api: httpx.Client, original_settings: dict[str, Any], runtime_env: dict[str, str]
) -> None:
    from hub.gates import GATES, env_var
    from hub.settings import settings_from_env

    environment = settings_from_env(runtime_env)  # what `hub up` read
    gates = api.get("/settings").json()["gates"]
    assert set(gates) == set(GATES)
    for name, gate in gates.items():
        assert gate == {
            "value": getattr(environment, name),
            "environment": getattr(environment, name),
            "source": "environment",
            "env_var": env_var(name),
        }
    # Gates this runtime's environment keeps closed cannot be opened through the API (the
    # session runtime opens code and shell; desktop only where Xvfb runs; hub.gates' unit tests
    # cover every gate closed).
    for name, opened in GATES.items():
        if getattr(environment, name) != opened:
            error = error_of(api.put("/settings", json={name: opened}), 403, "gate_locked")
            assert f"start the runtime with {env_var(name)}=" in error["message"]
            assert error["details"]["env_vars"] == [env_var(name)]
            error_of(api.post("/settings/validate", json={name: opened}), 403, "gate_locked")

    shell = wf([{"id": "sh", "type": "shell", "parameters": {"argv": ["echo", "hi"]}}])
    create(api, shell)
    closed = api.put("/settings", json={"enable_shell_nodes": False})
    assert closed.status_code == 200, closed.text
    assert closed.json()["gates"]["enable_shell_nodes"] == {
        "value": False,
        "environment": True,
        "source": "settings",
        "env_var": "HUB_ENABLE_SHELL_NODES",
    }
    refused = api.post(f"/workflows/{shell['id']}/runs", json={"inputs": {}})
    error = error_of(refused, 403, "node_family_disabled")
    assert "node 'sh' is a shell node and shell nodes are disabled" in error["message"]
    assert 'PUT /api/v1/settings {"enable_shell_nodes": true}' in error["message"]
    # Reopening up to what the environment allows is fine.
    reopened = api.put("/settings", json={"enable_shell_nodes": True})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["gates"]["enable_shell_nodes"]["source"] == "environment"
    record = run_to_end(api, shell["id"])
    assert record["status"] == "completed", record["error"]
    assert record["outputs"]["sh"]["stdout"] == "hi\n"

    if environment.enable_desktop:  # the DesktopActor, made with the gates, obeys a closing now
        assert api.get("/desktop/sessions").status_code == 200  # the actor exists from here
        assert api.put("/settings", json={"enable_desktop": False}).status_code == 200
        region = {"left": 0, "top": 0, "width": 10, "height": 10}
        session = {"region": region, "click_x": 1, "dry_run": True}
        try:
            started = api.post("/desktop/sessions", json={**session, "click_y": 1})
            error = error_of(started, 403, "desktop_disabled")
            assert 'PUT /api/v1/settings {"enable_desktop": true}' in error["message"]
        finally:
            assert api.put("/settings", json={"enable_desktop": True}).status_code == 200


def test_env_allowlist_never_exposes_the_runtimes_variables(
    api: httpx.Client, original_settings: dict[str, Any], runtime_env: dict[str, str]
) -> None:
    # `hub up` ran with HUB_ENV_ALLOWLIST="RUNTIME_TEST_VISIBLE,HUB_HOME": HUB_HOME is dropped.
    assert "HUB_HOME" in runtime_env["HUB_ENV_ALLOWLIST"].split(",")
    assert original_settings["env_allowlist"] == ["RUNTIME_TEST_VISIBLE"]
    for names in (["HUB_DATABASE_URL"], ["RUNTIME_TEST_VISIBLE", "ray_auth_token"], ["API_KEY"]):
        for method, path in (("PUT", "/settings"), ("POST", "/settings/validate")):
            response = api.request(method, path, json={"env_allowlist": names})
            error = error_of(response, 422, "invalid_request")
            assert error["details"]["errors"][0]["path"] == "/env_allowlist"
            assert f"env_allowlist may not name {names[-1]}" in error["message"]
    assert api.get("/settings").json()["settings"]["env_allowlist"] == ["RUNTIME_TEST_VISIBLE"]

    doc = wf(
        [
            {"id": "seen", "type": "set", "parameters": {"values": {"v": "{{ $env.HUB_HOME }}"}}},
        ]
    )
    create(api, doc)
    record = run_to_end(api, doc["id"])
    assert record["status"] == "failed"
    assert "HUB_HOME" in record["error"]["message"]
    assert runtime_env["HUB_HOME"] not in str(record)


def test_export_import_round_trip(api: httpx.Client, original_settings: dict[str, Any]) -> None:
    doc = wf([{"id": "x", "type": "log", "parameters": {"message": "x"}}])
    create(api, doc)
    exported = api.get("/settings/export").json()
    assert exported["format"] == "runtime-hub/settings-v1"
    assert exported["settings"] == original_settings
    assert doc["id"] not in exported["workflow_overrides"]

    changed = {
        **exported,
        "settings": {**exported["settings"], "journal_flush_ms": 25.0},
        "workflow_overrides": {doc["id"]: {"timeout_s": 12.5, "log_level": "warn"}},
    }
    try:
        imported = api.post("/settings/import", json=changed)
        assert imported.status_code == 200, imported.text
        again = api.get("/settings/export").json()
        assert again["settings"] == changed["settings"]
        assert again["workflow_overrides"][doc["id"]] == {
            "timeout_s": 12.5,
            "on_error": None,
            "max_parallel_steps": None,
            "max_attempts": None,
            "log_level": "warn",
            "isolation": None,
        }
        assert api.get(f"/workflows/{doc['id']}/settings").json()["timeout_s"] == 12.5
        # A bad document changes nothing.
        bad = {**again, "settings": {**again["settings"], "journal_flush_ms": -1}}
        error_of(api.post("/settings/import", json=bad), 422)
        assert api.get("/settings").json()["settings"]["journal_flush_ms"] == 25.0
        imported = api.post("/settings/import", json=exported)
        assert imported.status_code == 200
    finally:
        api.delete(f"/workflows/{doc['id']}/settings")
    assert api.get("/settings/export").json() == exported


def test_workflow_overrides_apply_to_new_runs(api: httpx.Client) -> None:
    nodes, edges = delays(4, 0.5)
    doc = wf(nodes, edges)
    create(api, doc)
    base = f"/workflows/{doc['id']}/settings"
    assert api.get(base).json()["timeout_s"] is None
    put = api.put(base, json={"timeout_s": 0.6})
    assert put.status_code == 200 and put.json()["timeout_s"] == 0.6
    error_of(api.put(base, json={"timeout_s": -1}), 422)
    error_of(api.put("/workflows/api-none/settings", json={"timeout_s": 1}), 404)
    try:
        record = run_to_end(api, doc["id"])
        assert record["status"] == "failed"
        assert record["error"]["category"] == "timeout", record["error"]
    finally:
        cleared = api.delete(base)
    assert cleared.status_code == 200 and cleared.json()["timeout_s"] is None
    assert run_to_end(api, doc["id"])["status"] == "completed"

    failing = wf(
        [
            {"id": "boom", "type": "fail", "parameters": {"message": "ignored failure"}},
            {"id": "other", "type": "log", "parameters": {"message": "still ran"}},
        ]
    )
    create(api, failing)
    assert run_to_end(api, failing["id"])["status"] == "failed"
    api.put(f"/workflows/{failing['id']}/settings", json={"on_error": "ignore"})
    try:
        record = run_to_end(api, failing["id"])
    finally:
        api.delete(f"/workflows/{failing['id']}/settings")
    assert record["status"] == "completed", record["error"]
    assert record["outputs"]["other"]["message"] == "still ran"


def test_a_workflow_override_chooses_the_shared_isolation_mode(api: httpx.Client) -> None:
    doc = wf([{"id": "x", "type": "log", "parameters": {"message": "x"}}])
    create(api, doc)
    base = f"/workflows/{doc['id']}/settings"
    bad = error_of(api.put(base, json={"isolation": "pooled"}), 422)
    assert "isolation" in json.dumps(bad) and "shared" in bad["message"]
    assert api.put(base, json={"isolation": "shared"}).json()["isolation"] == "shared"
    try:
        record = run_to_end(api, doc["id"])
    finally:
        api.delete(base)
    assert record["status"] == "completed"
    assert record["settings"]["effective"]["workflow"]["isolation"] == "shared"
    assert "isolation" not in run_to_end(api, doc["id"])["settings"]["effective"]["workflow"]


def test_credentials_are_write_only(api: httpx.Client) -> None:
    name = f"api_key_{uuid.uuid4().hex[:8]}"
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    put = api.put(f"/credentials/{name}", json={"value": secret})
    assert put.status_code == 204 and put.content == b""
    try:
        listed = api.get("/credentials")
        (info,) = [c for c in listed.json()["items"] if c["name"] == name]
        assert set(info) == {"name", "created_at", "updated_at"}
        replaced = api.put(f"/credentials/{name}", json={"value": secret + "-2"})
        assert replaced.status_code == 204
        error_of(api.put("/credentials/bad name!", json={"value": "x"}), 422)
        error_of(api.put(f"/credentials/{name}", json={"value": ""}), 422)
        error_of(api.put(f"/credentials/{name}", json={"secret": secret}), 422)
        seen = [
            listed,
            api.get("/credentials"),
            api.get("/audit", params={"limit": 1000}),
            api.get("/settings/export"),
            api.get("/runtime"),
            api.get("/audit", params={"target": name}),
        ]
        for response in seen:
            assert response.status_code == 200
            assert secret not in response.text
        audit = seen[-1].json()["items"]
        assert [e["action"] for e in audit[:2]] == ["credential.set", "credential.set"]
    finally:
        assert api.delete(f"/credentials/{name}").status_code == 204
    assert name not in {c["name"] for c in api.get("/credentials").json()["items"]}


def test_mutating_calls_are_audited(api: httpx.Client) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    doc = wf([{"id": "x", "type": "log", "parameters": {"message": "x"}}], version="1")
    create(api, doc)
    record = run_to_end(api, doc["id"])
    api.post("/workflows/validate", json=doc)  # read-only: not audited
    api.delete(f"/workflows/{doc['id']}")

    entries = api.get("/audit", params={"limit": 200}).json()["items"]
    mine = [
        e
        for e in entries
        if e["target"] in (f"{doc['id']}@1", doc["id"], record["id"])
        or doc["id"] in str(e["details"])
    ]
    actions = [e["action"] for e in mine][::-1]  # oldest first
    assert actions == ["workflow.create", "run.start", "workflow.delete"], mine
    for entry in mine:
        assert entry["actor"].startswith("token@")
        assert datetime.fromisoformat(entry["ts"]) >= before
        assert entry["details"]["status"] in (200, 201, 202)
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    assert not any(e["details"].get("path", "").endswith("/validate") for e in entries)

    only = api.get("/audit", params={"action": "run.start", "target": record["id"]}).json()
    assert [e["target"] for e in only["items"]] == [record["id"]]
    page = api.get("/audit", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_before_id"] == page["items"][-1]["id"]
    older = api.get("/audit", params={"limit": 2, "before_id": page["next_before_id"]}).json()
    assert all(e["id"] < page["next_before_id"] for e in older["items"])


# --- desktop sessions ------------------------------------------------------------------------


def test_desktop_sessions(
    api: httpx.Client, runtime_env: dict[str, str], x_display: str | None, tmp_path: Path
) -> None:
    if "DISPLAY" not in runtime_env or x_display is None:
        pytest.skip("the runtime has no desktop: Xvfb is not installed (apt-get install xvfb)")
    from tests.e2e.xvfb import running_app, xdotool

    with running_app(x_display, tmp_path / "app", number=7) as app:
        xdotool(x_display, "mousemove", "512", "400")  # away from the corners (kill switch)
        left, top, width, height = app.rects["number"]
        x, y = app.centre("button")
        config = {
            "region": {"left": left, "top": top, "width": width, "height": height},
            "threshold": 42,
            "click_x": x,
            "click_y": y,
            "interval_ms": 100,
            "max_duration_s": 60,
            "dry_run": True,
            "backend": "rapidocr",
        }
        started = api.post("/desktop/sessions", json=config)
        assert started.status_code == 202, started.text
        session_id = started.json()["execution_id"]
        assert started.json()["links"]["session"] == f"/api/v1/desktop/sessions/{session_id}"
        try:
            assert session_id in {s["id"] for s in api.get("/desktop/sessions").json()["items"]}
            assert api.get(f"/desktop/sessions/{session_id}").json()["running"] is True
            error_of(api.post("/desktop/sessions", json=config), 409)
            error_of(api.post("/desktop/sessions", json={**config, "threshold": None}), 422)
        finally:
            stopped = api.post(f"/desktop/sessions/{session_id}/stop")
        assert stopped.status_code == 200 and stopped.json()["running"] is False
        frames = read_stream(api, f"/desktop/sessions/{session_id}/events")
        types = [d["type"] for _, d in frames]
        assert types[0] == "session_started" and types[-1] == "session_stopped"
        assert wait_for(api, session_id)["status"] == "completed"
        assert app.clicks() == 0
        assert api.post("/desktop/reset").json() == {"was_tripped": False}
