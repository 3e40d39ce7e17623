"""The HTTP API end to end, against the session's runtime (``hub up`` deploys it on Ray Serve):
auth on every route, the error shape, workflows, runs and idempotency.

The helpers here are shared by the other ``test_api_*`` modules (executions, streams, settings).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.ray

TERMINAL = ("completed", "failed", "cancelled")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


# --- helpers ---------------------------------------------------------------------------------


def wf(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """A workflow document with a fresh id (the runtime is shared by the whole session)."""
    return {"id": f"api-{uuid.uuid4().hex[:10]}", "nodes": nodes, "edges": edges or [], **extra}


def chain(*ids: str) -> list[dict[str, str]]:
    return [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]


def delays(count: int, seconds: float) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    ids = [f"d{i}" for i in range(count)]
    nodes = [{"id": i, "type": "delay", "parameters": {"seconds": seconds}} for i in ids]
    return nodes, chain(*ids)


def create(api: httpx.Client, doc: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/workflows", json=doc)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def start(
    api: httpx.Client,
    workflow_id: str,
    inputs: dict[str, Any] | None = None,
    **options: Any,
) -> str:
    response = api.post(
        f"/workflows/{workflow_id}/runs", json={"inputs": inputs or {}, "options": options}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


def wait_for(
    api: httpx.Client,
    execution_id: str,
    statuses: tuple[str, ...] = TERMINAL,
    timeout_s: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        response = api.get(f"/executions/{execution_id}")
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        if record["status"] in statuses:
            return record
        assert time.monotonic() < deadline, f"{execution_id} still {record['status']}"
        time.sleep(0.1)


def wait_paused(api: httpx.Client, execution_id: str, timeout_s: float = 60) -> dict[str, Any]:
    wait_for(api, execution_id, ("paused",), timeout_s)
    deadline = time.monotonic() + timeout_s
    while True:  # paused in the record; the debug view says where it holds once it is idle
        view: dict[str, Any] = api.get(f"/executions/{execution_id}/debug").json()
        if view.get("status") == "paused" and not view.get("running"):
            return view
        assert time.monotonic() < deadline, view
        time.sleep(0.1)


def run_to_end(
    api: httpx.Client, workflow_id: str, inputs: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    return wait_for(api, start(api, workflow_id, inputs, **options))


def error_of(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The API's one error shape, checked; its ``error`` object returned."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    if code is not None:
        assert error["code"] == code, error
    return error


def secured_operations(api_url: str) -> list[tuple[str, str]]:
    """(method, path with sample ids) of every route the OpenAPI document lists, but health."""
    schema = httpx.get(f"{api_url}/openapi.json", timeout=30).json()
    prefix = httpx.URL(api_url).path
    operations = []
    for path, item in schema["paths"].items():
        if path == f"{prefix}/health":
            continue
        if path.startswith(f"{prefix}/hooks/"):  # token or signature: test_api_triggers.py
            continue
        concrete = path.replace(prefix, "", 1)
        names = ("workflow_id", "execution_id", "saved_id", "node_id", "session_id", "name")
        for name in (*names, "trigger_id", "key"):
            concrete = concrete.replace("{" + name + "}", "x1")
        assert "{" not in concrete, path
        operations.extend((m.upper(), concrete) for m in item if m in HTTP_METHODS)
    return operations


# --- auth and errors -------------------------------------------------------------------------


def test_every_route_needs_the_token_but_health(api_url: str, api_token: str) -> None:
    operations = secured_operations(api_url)
    assert len(operations) >= 50  # the whole API, not a stub
    assert ("POST", "/workflows/x1/runs") in operations
    with httpx.Client(base_url=api_url, timeout=30) as anonymous:
        health = anonymous.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        for method, path in operations:
            for headers in ({}, {"Authorization": "Bearer not-the-token"}):
                response = anonymous.request(method, path, headers=headers, json={})
                error = error_of(response, 401, "unauthorized")
                assert response.headers["WWW-Authenticate"] == "Bearer", (method, path)
                assert api_token not in response.text
        wrong_scheme = anonymous.get("/workflows", headers={"Authorization": f"Basic {api_token}"})
        error_of(wrong_scheme, 401)
    assert "token" in error["message"]


def test_errors_have_one_shape_and_no_stack_trace(api: httpx.Client) -> None:
    error = error_of(api.get("/no/such/route"), 404, "not_found")
    assert "/no/such/route" in error["message"]
    error = error_of(api.get("/executions/0123456789abcdef"), 404, "not_found")
    assert "0123456789abcdef" in error["message"]
    error_of(api.get("/workflows/no-such-workflow"), 404, "not_found")
    error_of(api.delete("/executions"), 405)
    error = error_of(api.get("/executions", params={"limit": 0}), 422, "invalid_request")
    assert error["details"]["errors"][0]["path"] == "query.limit"
    error = error_of(
        api.post("/workflows", content=b"{not json", headers={"Content-Type": "application/json"}),
        422,
    )
    error = error_of(api.get("/executions", params={"cursor": "garbage!"}), 422)
    assert "cursor" in error["message"]
    # Ids beyond what the store can hold are refused, not passed to the database (found by
    # schemathesis: SQLite cannot bind an integer over 64 bits).
    error = error_of(api.get("/audit", params={"before_id": 2**80}), 422, "invalid_request")
    assert error["details"]["errors"][0]["path"] == "query.before_id"
    error_of(api.get("/executions/x/events", headers={"Last-Event-ID": str(2**80)}), 422)
    # Whatever fails inside, a 500 says so without a traceback (error_of checks every body).
    for response in (
        api.get("/executions", params={"created_after": "2026-01-01T00:00:00"}),
        api.get("/executions/%00%01/steps/%FF"),
        api.post("/executions/delete", json={"ids": ["nope"] * 3}),
        api.get("/workflows/x/versions"),
        api.put("/settings", json={"no_such_setting": 1}),
    ):
        if response.status_code >= 400:
            error_of(response, response.status_code)


def test_oversized_body_is_refused_with_413(api: httpx.Client) -> None:
    big = {"id": "api-big", "nodes": [], "edges": [], "description": "x" * (1024 * 1024 + 10)}
    error = error_of(api.post("/workflows", json=big), 413, "payload_too_large")
    assert error["details"]["max_bytes"] == 1_048_576
    error_of(api.get("/workflows/api-big"), 404)  # nothing was saved

    def chunks() -> Any:  # no Content-Length: the limit counts the streamed bytes
        yield b'{"id": "api-big", "description": "'
        for _ in range(40):
            yield b"y" * 32_768
        yield b'"}'

    streamed = api.post(
        "/workflows", content=chunks(), headers={"Content-Type": "application/json"}
    )
    error_of(streamed, 413, "payload_too_large")


# --- workflows -------------------------------------------------------------------------------


def greeting_doc() -> dict[str, Any]:
    return wf(
        [
            {"id": "hi", "type": "set", "parameters": {"values": {"t": "Hi {{ $input.name }}"}}},
            {"id": "say", "type": "log", "parameters": {"message": "{{ $hi.t }}"}},
        ],
        chain("hi", "say"),
        inputs={
            "name": {"type": "string", "required": True},
            "age": {"type": "integer", "minimum": 0, "default": 30},
        },
        version="1",
        name="Greeting",
    )


def test_create_list_get_validate_and_delete_a_workflow(api: httpx.Client) -> None:
    doc = greeting_doc()
    saved = create(api, doc)
    assert saved["workflow"]["id"] == doc["id"] and saved["workflow"]["version"] == "1"
    assert saved["workflow"]["definition"] == doc
    compiled = saved["compile"]
    assert compiled["valid"] is True and compiled["diagnostics"] == []
    assert compiled["levels"] == [["hi"], ["say"]]
    schema = compiled["input_schema"]
    assert schema["required"] == ["name"]
    assert schema["properties"]["age"]["type"] == "integer"

    listed = api.get("/workflows").json()["items"]
    assert {"id": doc["id"], "version": "1", "name": "Greeting"}.items() <= next(
        w for w in listed if w["id"] == doc["id"]
    ).items()
    got = api.get(f"/workflows/{doc['id']}").json()
    assert got["workflow"]["definition"] == doc and got["compile"]["levels"] == [["hi"], ["say"]]
    assert api.get(f"/workflows/{doc['id']}/input-schema").json() == schema

    # Validate compiles without saving.
    other = greeting_doc()
    report = api.post("/workflows/validate", json=other).json()
    assert report["valid"] is True and report["levels"] == [["hi"], ["say"]]
    error_of(api.get(f"/workflows/{other['id']}"), 404)
    bad = {**other, "edges": [{"from": "hi", "to": "nowhere"}]}
    report = api.post("/workflows/validate", json=bad).json()
    assert report["valid"] is False and report["levels"] is None
    assert any(d["severity"] == "error" and "/edges/0" in d["path"] for d in report["diagnostics"])

    deleted = api.delete(f"/workflows/{doc['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": 1}
    error_of(api.get(f"/workflows/{doc['id']}"), 404)
    assert doc["id"] not in {w["id"] for w in api.get("/workflows").json()["items"]}


def test_an_invalid_document_is_refused_with_its_diagnostics(api: httpx.Client) -> None:
    doc = wf([{"id": "a", "type": "no_such_type"}, {"id": "b", "type": "log"}], chain("a", "c"))
    error = error_of(api.post("/workflows", json=doc), 422, "workflow_invalid")
    diagnostics = error["details"]["diagnostics"]
    paths = {d["path"] for d in diagnostics}
    assert "/nodes/0/type" in paths
    assert all(d["severity"] in ("error", "warning") and d["message"] for d in diagnostics)
    error_of(api.get(f"/workflows/{doc['id']}"), 404)


def test_same_version_with_another_definition_conflicts(api: httpx.Client) -> None:
    doc = greeting_doc()
    create(api, doc)
    again = api.post("/workflows", json=doc)  # the same definition again: accepted, unchanged
    assert again.status_code == 201, again.text
    changed = {**doc, "name": "Another greeting"}
    error_of(api.post("/workflows", json=changed), 409, "conflict")
    assert api.get(f"/workflows/{doc['id']}").json()["workflow"]["name"] == "Greeting"


def test_versions_take_the_next_number(api: httpx.Client) -> None:
    doc = greeting_doc()
    create(api, doc)
    second = {k: v for k, v in doc.items() if k != "version"}
    second["name"] = "Greeting v2"
    response = api.post(f"/workflows/{doc['id']}/versions", json=second)
    assert response.status_code == 201, response.text
    assert response.json()["workflow"]["version"] == "2"
    versions = api.get(f"/workflows/{doc['id']}/versions").json()
    assert versions == {"workflow_id": doc["id"], "versions": ["1", "2"]}
    assert api.get(f"/workflows/{doc['id']}").json()["workflow"]["name"] == "Greeting v2"
    old = api.get(f"/workflows/{doc['id']}", params={"version": "1"}).json()
    assert old["workflow"]["name"] == "Greeting"
    mismatch = api.post(f"/workflows/{doc['id']}/versions", json={**second, "id": "other"})
    error_of(mismatch, 422)
    error_of(api.post("/workflows/api-none/versions", json=second), 404)
    deleted = api.delete(f"/workflows/{doc['id']}", params={"version": "1"}).json()
    assert deleted == {"deleted": 1}
    assert api.get(f"/workflows/{doc['id']}/versions").json()["versions"] == ["2"]


def test_saved_inputs_crud_and_secrets_are_refused(api: httpx.Client) -> None:
    doc = wf(
        [{"id": "say", "type": "log", "parameters": {"message": "{{ $input.user }}"}}],
        inputs={
            "user": {"type": "string"},
            "password": {"type": "string", "secret": True},
            "n": {"type": "integer", "required": True},
        },
    )
    create(api, doc)
    base = f"/workflows/{doc['id']}/saved-inputs"
    created = api.post(base, json={"name": "ada", "inputs": {"user": "ada"}})
    assert created.status_code == 201, created.text
    saved = created.json()
    assert saved["name"] == "ada" and saved["inputs"] == {"user": "ada"}
    assert saved["workflow_id"] == doc["id"]

    error = error_of(api.post(base, json={"name": "s", "inputs": {"password": "hunter2"}}), 422)
    assert error["details"]["errors"] == [{"path": "/inputs/password", "message": "secret"}]
    assert "hunter2" not in str(api.get(base).json())
    error = error_of(api.post(base, json={"name": "bad", "inputs": {"n": "x"}}), 422)
    assert [e["path"] for e in error["details"]["errors"]] == ["/inputs/n"]

    assert [s["id"] for s in api.get(base).json()["items"]] == [saved["id"]]
    updated = api.put(f"{base}/{saved['id']}", json={"name": "bob", "inputs": {"user": "bob"}})
    assert updated.status_code == 200 and updated.json()["inputs"] == {"user": "bob"}
    assert api.get(f"{base}/{saved['id']}").json()["name"] == "bob"

    # A run starts from the saved set; its own inputs win and fill the required ones.
    execution_id = start(api, doc["id"], {"n": 1}, saved_inputs_id=saved["id"])
    record = wait_for(api, execution_id)
    assert record["status"] == "completed" and record["inputs"]["user"] == "bob"

    assert api.delete(f"{base}/{saved['id']}").status_code == 204
    error_of(api.get(f"{base}/{saved['id']}"), 404)
    assert api.get(base).json()["items"] == []


# --- runs ------------------------------------------------------------------------------------


def test_start_a_run(api: httpx.Client) -> None:
    doc = greeting_doc()
    create(api, doc)
    response = api.post(f"/workflows/{doc['id']}/runs", json={"inputs": {"name": "Ada"}})
    assert response.status_code == 202, response.text
    body = response.json()
    execution_id = body["execution_id"]
    assert body["status"] in ("queued", "running")
    assert body["links"]["self"] == f"/api/v1/executions/{execution_id}"
    assert body["links"]["events"].endswith(f"/executions/{execution_id}/events")
    assert response.headers["Location"] == body["links"]["self"]
    record = wait_for(api, execution_id)
    assert record["status"] == "completed"
    assert record["outputs"]["hi"] == {"t": "Hi Ada"}
    assert record["inputs"] == {"name": "Ada", "age": 30}
    assert record["trigger"] == "api"


def test_bad_inputs_are_refused_with_field_paths(api: httpx.Client) -> None:
    doc = greeting_doc()
    create(api, doc)
    response = api.post(f"/workflows/{doc['id']}/runs", json={"inputs": {"age": -1, "x": 1}})
    error = error_of(response, 422, "inputs_invalid")
    paths = sorted(e["path"] for e in error["details"]["errors"])
    assert paths == ["/inputs/age", "/inputs/name", "/inputs/x"], error
    error = error_of(api.post(f"/workflows/{doc['id']}/runs", json={"inputs": []}), 422)
    assert error["details"]["errors"][0]["path"] == "/inputs"
    error = error_of(
        api.post(f"/workflows/{doc['id']}/runs", json={"options": {"timeout_s": -1}}), 422
    )
    assert error["details"]["errors"][0]["path"] == "/options/timeout_s"
    error_of(api.post("/workflows/api-missing/runs", json={}), 404)
    listed = api.get("/executions", params={"workflow_id": doc["id"]}).json()["items"]
    assert listed == []  # nothing ran


def test_one_idempotency_key_makes_one_execution(api_url: str, api_token: str) -> None:
    nodes, edges = delays(1, 0.2)
    doc = wf(nodes, edges)
    key = f"key-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {api_token}", "Idempotency-Key": key}
    barrier = threading.Barrier(20)
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as client:
        create(client, doc)

        def submit(_: int) -> httpx.Response:
            barrier.wait()
            return client.post(f"/workflows/{doc['id']}/runs", json={})

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(submit, range(20)))
        assert [r.status_code for r in responses] == [202] * 20, [r.text for r in responses]
        ids = {r.json()["execution_id"] for r in responses}
        assert len(ids) == 1
        replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
        assert replayed.count("true") == 19
        (execution_id,) = ids
        wait_for(client, execution_id)
        listed = client.get("/executions", params={"workflow_id": doc["id"]}).json()["items"]
        assert [e["id"] for e in listed] == [execution_id]
        # One audit entry, committed with the execution; replays and lost races add none.
        starts = client.get("/audit", params={"action": "run.start"}).json()["items"]
        mine = [e for e in starts if e["details"].get("workflow_id") == doc["id"]]
        assert [e["target"] for e in mine] == [execution_id]
        assert mine[0]["details"]["status"] == 202


def test_the_api_port_is_served_by_the_replica_itself(api_url: str) -> None:
    """Direct ingress (the default): the process listening on the API port is the API's
    Serve replica, not Serve's proxy."""
    import psutil

    port = httpx.URL(api_url).port
    listening = [
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
    ]
    assert listening, f"nothing listens on the API port {port}"
    names = {" ".join(psutil.Process(pid).cmdline()) for pid in listening if pid}
    assert names and all("ServeReplica:hub-api" in n for n in names), names
