"""Webhooks and trigger management over HTTP, against the session's runtime: a signed or
token-authenticated call starts a run with the mapped inputs (``respond: outputs`` answers with
them), a bad signature starts nothing, an ``Idempotency-Key`` dedupes, the token exemption is
the webhook route's alone, and triggers are listed, switched and fired through the API."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.e2e.test_api import chain, create, error_of, wait_for, wf

pytestmark = pytest.mark.ray

SECRET = "s3cret-" + uuid.uuid4().hex
TRIGGER_VIEW_KEYS = {
    "workflow_id",
    "trigger_id",
    "type",
    "enabled",
    "state",
    "next_fire_at",
    "last_fired_at",
    "last_execution_id",
    "fires",
    "skipped",
    "last_error",
    "breaker",
    "detail",
}


def sign(body: bytes, secret: str = SECRET) -> str:
    """GitHub's X-Hub-Signature-256, computed here as a third party would."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def hooks(api_url: str, api_token: str) -> dict[str, Any]:
    """One workflow with five webhooks: ``signed`` (a secret; maps body.x and query.y),
    ``sync`` (answers with the outputs), ``slow`` (answers with the outputs, but the run
    outlasts its timeout), ``plain`` (token only; the body is the inputs) and ``off``
    (disabled in the document); ``unkeyed`` names a secret that is not stored."""
    credential = f"hook_secret_{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as api:
        stored = api.put(f"/credentials/{credential}", json={"value": SECRET})
        assert stored.status_code == 204, stored.text
        mapped = {"x": "{{ $trigger.body.x }}", "y": "{{ $trigger.query.y }}"}
        doc = wf(
            [
                {"id": "pause", "type": "delay", "parameters": {"seconds": "{{ $input.wait }}"}},
                {
                    "id": "echo",
                    "type": "set",
                    "parameters": {"values": {"x": "{{ $input.x }}", "y": "{{ $input.y }}"}},
                },
            ],
            chain("pause", "echo"),
            inputs={
                "x": {"type": "string", "required": True},
                "y": {"type": "string", "default": "-"},
                "wait": {"type": "number", "default": 0},
            },
            triggers=[
                {"id": "signed", "type": "webhook", "secret": credential, "inputs": mapped},
                {"id": "sync", "type": "webhook", "respond": "outputs", "inputs": mapped},
                {
                    "id": "slow",
                    "type": "webhook",
                    "respond": "outputs",
                    "timeout_s": 0.5,
                    "inputs": {"x": "slow", "wait": 4},
                },
                {"id": "plain", "type": "webhook"},
                {"id": "off", "type": "webhook", "enabled": False},
                {"id": "unkeyed", "type": "webhook", "secret": f"{credential}_missing"},
            ],
        )
        create(api, doc)
    return {"workflow": doc["id"], "credential": credential}


@pytest.fixture
def anonymous(api_url: str) -> Iterator[httpx.Client]:
    """A client without the API token: a third party calling a webhook."""
    with httpx.Client(base_url=api_url, timeout=60) as client:
        yield client


def executions_of(api: httpx.Client, workflow_id: str) -> list[dict[str, Any]]:
    response = api.get("/executions", params={"workflow_id": workflow_id, "limit": 1000})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def audit_entries(api: httpx.Client, action: str, target: str) -> list[dict[str, Any]]:
    """The audit entries of a call, which the API writes just after its answer."""
    deadline = time.monotonic() + 10
    while True:
        response = api.get("/audit", params={"action": action, "target": target})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        if items or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def raw_status(
    api_url: str, method: str, target: str, headers: dict[str, str] | None = None
) -> int:
    """The status of a request whose target is sent exactly as written (no client normalises
    ``..`` or ``%2F`` away)."""
    url = urlparse(api_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.request(
            method, target, body=b"{}" if method == "POST" else None, headers=headers or {}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# --- webhooks ---------------------------------------------------------------------------------


def test_a_bad_or_missing_signature_is_401_and_starts_nothing(
    api: httpx.Client, anonymous: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    before = executions_of(api, workflow)
    fires = api.get(f"/triggers/{workflow}/signed").json()["fires"]
    path = f"/hooks/{workflow}/signed"
    body = json.dumps({"x": "forged"}).encode()
    calls = {
        "missing": {},
        "wrong secret": {"X-Hub-Signature-256": sign(body, "not-the-secret")},
        "another body": {"X-Hub-Signature-256": sign(b'{"x": "signed"}')},
        "not hex": {"X-Hub-Signature-256": "sha256=zz"},
        "bare hex": {"X-Hub-Signature-256": sign(body).removeprefix("sha256=")},
    }
    for name, headers in calls.items():
        response = anonymous.post(path, content=body, headers=headers)
        error = error_of(response, 401, "unauthorized")
        assert "x-hub-signature-256" in error["message"].lower(), (name, error)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # A wrong token does not stand in for the signature either.
    response = anonymous.post(path, content=body, headers={"Authorization": "Bearer hub_wrong"})
    error_of(response, 401, "unauthorized")
    assert executions_of(api, workflow) == before
    assert api.get(f"/triggers/{workflow}/signed").json()["fires"] == fires


def test_a_signed_call_starts_a_run_with_the_mapped_inputs(
    api: httpx.Client, anonymous: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    body = json.dumps({"x": "hello", "ignored": [1, 2]}).encode()
    response = anonymous.post(
        f"/hooks/{workflow}/signed",
        params={"y": "world"},
        content=body,
        headers={"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"execution_id", "status", "workflow_id", "trigger_id"}
    assert (answer["workflow_id"], answer["trigger_id"]) == (workflow, "signed")
    execution_id = answer["execution_id"]
    assert response.headers["Location"].endswith(f"/executions/{execution_id}")
    assert "Idempotent-Replayed" not in response.headers

    record = wait_for(api, execution_id)
    assert record["status"] == "completed", record
    assert record["inputs"] == {"x": "hello", "y": "world", "wait": 0}
    assert record["outputs"]["echo"] == {"x": "hello", "y": "world"}
    assert record["trigger"] == "webhook"
    assert record["trigger_info"] == {"id": "signed", "type": "webhook"}
    # The executions list filters on it; the audit names the trigger as the caller.
    listed = api.get("/executions", params={"workflow_id": workflow, "trigger": "webhook"})
    assert execution_id in {e["id"] for e in listed.json()["items"]}
    by_api = api.get("/executions", params={"workflow_id": workflow, "trigger": "api"})
    assert execution_id not in {e["id"] for e in by_api.json()["items"]}
    [entry] = audit_entries(api, "webhook.call", execution_id)
    assert entry["actor"] == f"webhook:{workflow}/signed"
    assert entry["details"]["auth"] == "signature" and entry["details"]["status"] == 202
    view = api.get(f"/triggers/{workflow}/signed").json()
    assert view["last_execution_id"] == execution_id and view["fires"] >= 1


def test_respond_outputs_answers_with_the_outputs(api: httpx.Client, hooks: dict[str, Any]) -> None:
    workflow = hooks["workflow"]
    response = api.post(f"/hooks/{workflow}/sync", json={"x": "now"}, params={"y": "here"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "completed"
    assert answer["outputs"]["echo"] == {"x": "now", "y": "here"}
    assert answer["error"] is None and answer["trigger_id"] == "sync"
    assert response.headers["Location"].endswith(f"/executions/{answer['execution_id']}")
    # A token caller is audited as itself.
    [entry] = audit_entries(api, "webhook.call", answer["execution_id"])
    assert entry["actor"].startswith("token@") and entry["details"]["auth"] == "token"


def test_respond_outputs_past_its_timeout_answers_202(
    api: httpx.Client, hooks: dict[str, Any]
) -> None:
    response = api.post(f"/hooks/{hooks['workflow']}/slow")
    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"execution_id", "status", "workflow_id", "trigger_id"}
    assert answer["status"] in ("queued", "running")


def test_an_idempotency_key_answers_with_the_first_execution(
    api: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    key = f"order-{uuid.uuid4().hex}"
    first = api.post(
        f"/hooks/{workflow}/plain", json={"x": "once"}, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = api.post(
        f"/hooks/{workflow}/plain", json={"x": "twice"}, headers={"Idempotency-Key": key}
    )
    assert again.status_code == 202, again.text
    execution_id = first.json()["execution_id"]
    assert again.json()["execution_id"] == execution_id
    assert again.headers["Idempotent-Replayed"] == "true"
    record = wait_for(api, execution_id)
    assert record["inputs"]["x"] == "once"
    assert record["trigger_info"]["idempotency_key"] == key
    keyed = [
        e
        for e in executions_of(api, workflow)
        if (e["trigger_info"] or {}).get("idempotency_key") == key
    ]
    assert [e["id"] for e in keyed] == [execution_id]
    # The replay changed nothing: one audit entry, the first call's.
    assert len(audit_entries(api, "webhook.call", execution_id)) == 1
    # A respond-outputs webhook replays with the first run's outputs.
    key = f"sync-{uuid.uuid4().hex}"
    answers = [
        api.post(
            f"/hooks/{workflow}/sync",
            json={"x": x},
            params={"y": "k"},
            headers={"Idempotency-Key": key},
        )
        for x in ("first", "second")
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert answers[1].json()["outputs"]["echo"]["x"] == "first"


def test_a_webhook_without_a_secret_takes_the_token(
    api: httpx.Client, anonymous: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    response = api.post(f"/hooks/{workflow}/plain", json={"x": "a", "y": "b"})
    assert response.status_code == 202, response.text
    record = wait_for(api, response.json()["execution_id"])
    assert record["status"] == "completed"
    assert record["inputs"] == {"x": "a", "y": "b", "wait": 0}  # the body is the inputs
    before = executions_of(api, workflow)
    body = json.dumps({"x": "a"}).encode()
    # Without the token it cannot be called, even with a signature: it has no secret.
    refused = anonymous.post(
        f"/hooks/{workflow}/plain", content=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    error = error_of(refused, 401, "unauthorized")
    assert "Bearer" in error["message"]
    # The signed webhook takes the token too.
    signed = api.post(f"/hooks/{workflow}/signed", json={"x": "t"}, params={"y": "u"})
    assert signed.status_code == 202, signed.text
    assert len(executions_of(api, workflow)) == len(before) + 1


def test_inputs_the_workflow_refuses_are_422_naming_them(
    api: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    before = executions_of(api, workflow)
    error = error_of(api.post(f"/hooks/{workflow}/plain", json={"x": "a", "nope": 1}), 422)
    assert error["code"] == "invalid_trigger_input" and "nope" in error["message"], error
    error = error_of(api.post(f"/hooks/{workflow}/plain", json={"y": "no x"}), 422)
    assert "x: is required" in error["message"], error
    # A mapping that cannot be computed from the call: no `y` in the query.
    error = error_of(api.post(f"/hooks/{workflow}/signed", json={"x": "a"}), 422)
    assert error["code"] == "invalid_trigger_input" and "$trigger.query.y" in error["message"]
    assert executions_of(api, workflow) == before


def test_unknown_and_disabled_webhooks_are_404(
    api: httpx.Client, anonymous: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    for path in (f"/hooks/{workflow}/off", f"/hooks/{workflow}/nope", "/hooks/no-such-wf/x"):
        error_of(api.post(path, json={"x": "a"}), 404, "not_found")
        # A caller without the token learns nothing of the other triggers.
        error = error_of(anonymous.post(path, json={"x": "a"}), 404, "not_found")
        assert "signed" not in error["message"] and "triggers" not in error["message"], error
    # A token caller is told why: the off one is disabled.
    error = error_of(api.post(f"/hooks/{workflow}/off", json={"x": "a"}), 404)
    assert "disabled" in error["message"]


def test_a_body_over_the_limit_is_413(anonymous: httpx.Client, hooks: dict[str, Any]) -> None:
    body = b"x" * (1024 * 1024 + 1)
    response = anonymous.post(f"/hooks/{hooks['workflow']}/signed", content=body)
    error_of(response, 413, "payload_too_large")


def test_the_exemption_is_the_webhook_route_alone(
    api_url: str, anonymous: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    for method, path in [
        ("GET", "/executions"),
        ("GET", "/triggers"),
        ("POST", f"/triggers/{workflow}/plain/fire"),
        ("POST", f"/triggers/{workflow}/plain/disable"),
        ("POST", f"/workflows/{workflow}/runs"),
    ]:
        error_of(anonymous.request(method, path, json={}), 401, "unauthorized")
    prefix = urlparse(api_url).path  # /api/v1
    # Path tricks reach no other route: `..` and encoded slashes are not resolved into one,
    # and a webhook answers only POST.
    tricks = [
        ("GET", f"{prefix}/hooks/../executions"),
        ("POST", f"{prefix}/hooks/../executions/delete"),
        ("GET", f"{prefix}/hooks/..%2Fexecutions/x"),
        ("GET", f"{prefix}/hooks%2F..%2Fexecutions"),
        ("POST", f"{prefix}/hooks/{workflow}/plain%2F..%2F..%2F..%2Fworkflows"),
        ("POST", f"{prefix}/hooks/{workflow}/plain/../../../triggers/{workflow}/plain/disable"),
        ("POST", f"{prefix}/hooks/{workflow}%2Fplain/fire"),
        ("GET", f"{prefix}/hooks/{workflow}/plain"),
        ("PUT", f"{prefix}/hooks/{workflow}/plain"),
        ("DELETE", f"{prefix}/hooks/{workflow}/plain"),
    ]
    for method, target in tricks:
        status = raw_status(api_url, method, target)
        assert status in (401, 404, 405), (method, target, status)


def test_a_webhook_whose_secret_is_not_stored_is_503_and_says_so_to_its_operator(
    api: httpx.Client, anonymous: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    before = executions_of(api, workflow)
    body = b'{"x": "a"}'
    response = anonymous.post(
        f"/hooks/{workflow}/unkeyed", content=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    error = error_of(response, 503, "runtime_unavailable")
    assert hooks["credential"] not in error["message"], error  # the caller learns no name
    view = api.get(f"/triggers/{workflow}/unkeyed").json()
    assert f"{hooks['credential']}_missing" in view["last_error"], view
    assert executions_of(api, workflow) == before


# --- management -------------------------------------------------------------------------------


def test_list_get_disable_enable_and_fire_over_http(
    api: httpx.Client, anonymous: httpx.Client, hooks: dict[str, Any]
) -> None:
    workflow = hooks["workflow"]
    listed = api.get("/triggers", params={"workflow_id": workflow})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["trigger_id"] for i in items] == [
        "off",
        "plain",
        "signed",
        "slow",
        "sync",
        "unkeyed",
    ]
    assert all(set(i) == TRIGGER_VIEW_KEYS for i in items)
    by_id = {i["trigger_id"]: i for i in items}
    assert (by_id["off"]["enabled"], by_id["off"]["state"]) == (False, "disabled")
    assert by_id["signed"]["detail"] == {
        "path": f"/api/v1/hooks/{workflow}/signed",
        "signed": True,
        "respond": "accepted",
    }
    everything = api.get("/triggers").json()["items"]
    assert {(i["workflow_id"], i["trigger_id"]) for i in items} <= {
        (i["workflow_id"], i["trigger_id"]) for i in everything
    }
    error_of(api.get(f"/triggers/{workflow}/nope"), 404, "not_found")
    error_of(api.post(f"/triggers/{workflow}/nope/disable"), 404, "not_found")

    try:
        view = api.post(f"/triggers/{workflow}/plain/disable")
        assert view.status_code == 200, view.text
        assert (view.json()["enabled"], view.json()["state"]) == (False, "disabled")
        assert api.get(f"/triggers/{workflow}/plain").json()["enabled"] is False
        error = error_of(api.post(f"/hooks/{workflow}/plain", json={"x": "a"}), 404)
        assert "disabled" in error["message"]
        error_of(anonymous.post(f"/hooks/{workflow}/plain", json={"x": "a"}), 404)
        # Fire works whatever the switch: a test of the mapping, marked manual.
        fired = api.post(f"/triggers/{workflow}/plain/fire", json={"x": "fired"})
        assert fired.status_code == 202, fired.text
        answer = fired.json()
        assert (answer["workflow_id"], answer["trigger_id"]) == (workflow, "plain")
        assert fired.headers["Location"].endswith(f"/executions/{answer['execution_id']}")
        record = wait_for(api, answer["execution_id"])
        assert record["inputs"]["x"] == "fired"
        assert record["trigger"] == "webhook" and record["trigger_info"]["manual"] is True
        [entry] = audit_entries(api, "trigger.fire", answer["execution_id"])
        assert entry["details"]["trigger_id"] == "plain"
        assert audit_entries(api, "trigger.disable", f"{workflow}/plain")
    finally:
        view = api.post(f"/triggers/{workflow}/plain/enable")
    assert view.status_code == 200, view.text
    assert (view.json()["enabled"], view.json()["state"]) == (True, "idle")
    assert api.post(f"/hooks/{workflow}/plain", json={"x": "back"}).status_code == 202
    # A fire whose body is not JSON, cannot be mapped, or makes inputs the workflow refuses.
    before = executions_of(api, workflow)
    error = error_of(api.post(f"/triggers/{workflow}/sync/fire", content=b"{nope"), 422)
    assert error["code"] == "invalid_request"
    error = error_of(api.post(f"/triggers/{workflow}/sync/fire", json={"x": "a"}), 422)
    assert error["code"] == "invalid_trigger_input" and "$trigger.query.y" in error["message"]
    error = error_of(api.post(f"/triggers/{workflow}/plain/fire", json={"x": "a", "nope": 1}), 422)
    assert error["code"] == "inputs_invalid", error
    assert [e["path"] for e in error["details"]["errors"]] == ["/inputs/nope"], error
    assert len(executions_of(api, workflow)) == len(before)


def test_runtime_status_shows_the_triggers(api: httpx.Client, hooks: dict[str, Any]) -> None:
    status = api.get("/runtime")
    assert status.status_code == 200, status.text
    triggers = status.json()["triggers"]
    assert set(triggers) == {"total", "by_state", "next_fire_at", "errors"}, triggers
    assert triggers["total"] >= 5
    assert triggers["by_state"]["disabled"] >= 1 and triggers["by_state"]["idle"] >= 4
