"""Secrets and credentials on the real runtime, over HTTP: ``$credential`` reaches a node's
parameters (an http node's headers) decrypted only inside the runtime; neither a credential nor a
secret input comes out readable from any route that stores or shows a run (issue 13, 1 and 2)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.test_api import create, run_to_end, start, wait_for, wait_paused, wf
from tests.e2e.test_api_streams import read_stream

pytestmark = pytest.mark.ray


def everything_shown(api: httpx.Client, execution_id: str, workflow_id: str) -> dict[str, str]:
    """The text of every route that answers with what a run stored."""
    base = f"/executions/{execution_id}"
    record = api.get(base).json()
    texts = {
        "record": api.get(base).text,
        "logs": api.get(f"{base}/logs").text,
        "logs.text": api.get(f"{base}/logs/download").text,
        "logs.jsonl": api.get(f"{base}/logs/download", params={"format": "jsonl"}).text,
        "events": str(read_stream(api, f"{base}/events")),
        "export.json": api.get("/executions/export", params={"workflow_id": workflow_id}).text,
        "export.csv": api.get(
            "/executions/export", params={"workflow_id": workflow_id, "format": "csv"}
        ).text,
        "list": api.get("/executions", params={"workflow_id": workflow_id}).text,
        "patterns": api.get("/errors/patterns").text,
    }
    for step in record["steps"]:
        texts[f"step {step['node_id']}"] = api.get(f"{base}/steps/{step['node_id']}").text
    return texts


def readable(texts: dict[str, str], *secrets: str) -> list[str]:
    return [
        where
        for where, text in texts.items()
        if any(s.casefold() in text.casefold() for s in secrets)
    ]


def test_credentials_reach_node_parameters_rotate_and_never_come_back_out(
    api: httpx.Client, http_server: Any
) -> None:
    suffix = uuid.uuid4().hex[:8]
    api_name, db_name = f"api_{suffix}", f"db-{suffix}"
    first, second = f"tok-first-{suffix}", f"tok-second-{suffix}"
    password = f"pw-{suffix}-Zz"
    assert api.put(f"/credentials/{api_name}", json={"value": first}).status_code == 204
    put = api.put(
        f"/credentials/{db_name}", json={"value": {"user": f"user-{suffix}", "password": password}}
    )
    assert put.status_code == 204, put.text
    doc = wf(
        [
            {
                "id": "call",
                "type": "http",
                "parameters": {
                    "url": f"{http_server.url}/headers",
                    "headers": {
                        "Authorization": f"Bearer {{{{ $credential.{api_name} }}}}",
                        "X-Db": f"{{{{ $credential['{db_name}'].password }}}}",
                    },
                },
            },
            {
                "id": "show",
                "type": "log",
                "parameters": {
                    "message": f"auth={{{{ upper($credential.{api_name}) }}}} "
                    "echo={{ $call.body.headers }}"
                },
            },
        ],
        [{"from": "call", "to": "show"}],
    )
    create(api, doc)

    record = run_to_end(api, doc["id"])
    assert record["status"] == "completed", record["error"]
    sent = http_server.requests[-1]["headers"]
    assert sent["Authorization"] == f"Bearer {first}"
    assert sent["X-Db"] == password
    assert readable(everything_shown(api, record["id"], doc["id"]), first, password) == []
    # Shown redacted where it was used, in the step's input and the echoed output.
    step = api.get(f"/executions/{record['id']}/steps/call").json()
    assert step["input"]["headers"] == {"Authorization": "Bearer ***", "X-Db": "***"}

    # Rotated: the next run (a next step) uses the new value.
    assert api.put(f"/credentials/{api_name}", json={"value": second}).status_code == 204
    record = run_to_end(api, doc["id"])
    assert record["status"] == "completed", record["error"]
    assert http_server.requests[-1]["headers"]["Authorization"] == f"Bearer {second}"
    assert readable(everything_shown(api, record["id"], doc["id"]), first, second, password) == []


def test_a_missing_credential_fails_the_run_before_its_first_step(api: httpx.Client) -> None:
    name = f"never_set_{uuid.uuid4().hex[:8]}"
    doc = wf(
        [
            {"id": "first", "type": "log", "parameters": {"message": "hi"}},
            {
                "id": "uses",
                "type": "log",
                "parameters": {"message": f"{{{{ $credential.{name} }}}}"},
            },
        ],
        [{"from": "first", "to": "uses"}],
    )
    create(api, doc)
    record = run_to_end(api, doc["id"])
    assert record["status"] == "failed"
    assert record["error"]["category"] == "validation"
    assert f"credential '{name}' is not stored" in record["error"]["message"]
    assert f"PUT /api/v1/credentials/{name}" in record["error"]["message"]
    assert record["steps"] == []


def test_a_computed_credential_name_is_refused_at_registration(api: httpx.Client) -> None:
    doc = wf(
        [{"id": "a", "type": "log", "parameters": {"message": "{{ $credential[$input.k] }}"}}],
        [],
        inputs={"k": {"type": "string"}},
    )
    response = api.post("/workflows", json=doc)
    assert response.status_code == 422, response.text
    assert "$credential must name the credential" in response.text


def test_secret_inputs_leak_through_no_route(api: httpx.Client) -> None:
    token = f"Sekret-{uuid.uuid4().hex[:10]}"
    doc = wf(
        [
            {
                "id": "s",
                "type": "set",
                "parameters": {
                    "values": {
                        "key": "{{ {$input.token: 1} }}",
                        "bearer": "Bearer {{ $input.token }}",
                        "upper": "{{ upper($input.token) }}",
                    }
                },
            },
            {"id": "l", "type": "log", "parameters": {"message": "{{ lower($input.token) }}"}},
            {
                "id": "f",
                "type": "fail",
                "parameters": {"message": "{{ $s.upper }} {{ $input.token }}"},
            },
        ],
        [{"from": "s", "to": "l"}, {"from": "l", "to": "f"}],
        inputs={"token": {"type": "string", "secret": True}},
    )
    create(api, doc)
    record = run_to_end(api, doc["id"], {"token": token})
    assert record["status"] == "failed"
    assert record["outputs"]["s"] == {"key": {"***": 1}, "bearer": "Bearer ***", "upper": "***"}
    assert readable(everything_shown(api, record["id"], doc["id"]), token) == []

    # The debugger's answers too.
    execution_id = start(api, doc["id"], {"token": token}, debug=True, breakpoints=["l"])
    view = wait_paused(api, execution_id)
    assert token.casefold() not in str(view).casefold()
    evaluated = api.post(
        f"/executions/{execution_id}/evaluate",
        json={"expression": "{{ {lower($input.token): 'Bearer ' + upper($input.token)} }}"},
    )
    assert evaluated.status_code == 200, evaluated.text
    assert evaluated.json()["value"] == {"***": "Bearer ***"}
    assert api.post(f"/executions/{execution_id}/continue").status_code == 200
    wait_for(api, execution_id)
