"""Executions over HTTP: detail, search with filters, sort and cursor pages, statistics, export,
deletion, the state changes and the actions that derive new executions; step debugging."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hub.history import encode_cursor
from tests.e2e.test_api import (
    chain,
    create,
    delays,
    error_of,
    run_to_end,
    start,
    wait_for,
    wait_paused,
    wf,
)

pytestmark = pytest.mark.ray

SHOW_JSON_KEYS = {
    "id",
    "workflow_id",
    "workflow_version",
    "status",
    "trigger",
    "trigger_info",
    "inputs",
    "outputs",
    "steps",
    "error",
    "parent_id",
    "origin",
    "settings",
    "created_at",
    "started_at",
    "ended_at",
    "children",
}


def maybe_failing(marker: str) -> dict[str, Any]:
    """Fails at ``boom`` (message containing ``marker``) when the input ``fail`` is true, after
    ``n`` times 40 ms (so that executions differ in duration)."""
    return wf(
        [
            {"id": "a", "type": "delay", "parameters": {"seconds": "{{ $input.n * 0.04 }}"}},
            {"id": "check", "type": "condition", "parameters": {"expression": "{{ $input.fail }}"}},
            {"id": "boom", "type": "fail", "parameters": {"message": f"{marker} at {{{{ 1 }}}}"}},
            {"id": "after", "type": "log", "parameters": {"message": "after {{ $boom.x }}"}},
            {"id": "fine", "type": "log", "parameters": {"message": "fine {{ $input.n }}"}},
        ],
        [
            *chain("a", "check"),
            {"from": "check", "to": "boom", "when": "true"},
            {"from": "check", "to": "fine", "when": "false"},
            {"from": "boom", "to": "after"},
        ],
        inputs={
            "fail": {"type": "boolean", "default": False},
            "n": {"type": "integer", "default": 0},
        },
    )


@pytest.fixture(scope="module")
def history(api_url: str, api_token: str) -> dict[str, Any]:
    """One workflow with 3 completed runs (trigger api) and 2 failed ones (trigger nightly)."""
    marker = f"kaboom-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as api:
        doc = maybe_failing(marker)
        create(api, doc)
        ok = [run_to_end(api, doc["id"], {"n": n}) for n in range(3)]
        time.sleep(0.05)
        middle = datetime.now(UTC)
        time.sleep(0.05)
        failed = [
            run_to_end(api, doc["id"], {"fail": True, "n": n}, trigger="nightly") for n in (3, 4)
        ]
    assert [r["status"] for r in ok] == ["completed"] * 3
    assert [r["status"] for r in failed] == ["failed"] * 2
    return {"doc": doc, "marker": marker, "ok": ok, "failed": failed, "middle": middle}


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def test_get_an_execution_like_hub_show_json(
    api: httpx.Client, history: dict[str, Any], runtime_env: dict[str, str]
) -> None:
    from tests.conftest import run_cli

    failed = history["failed"][0]
    record = api.get(f"/executions/{failed['id']}").json()
    assert set(record) == SHOW_JSON_KEYS
    shown = run_cli(runtime_env, "show", failed["id"], "--json")
    assert shown.returncode == 0, shown.stderr
    import json

    assert record == json.loads(shown.stdout)
    assert record["error"]["node_id"] == "boom" and record["error"]["category"] == "node_error"
    assert history["marker"] in record["error"]["message"]
    assert record["error"]["suggestions"]
    # The settings the run used (docs/api.md): effective workflow settings and run options.
    assert set(record["settings"]["effective"]) == {"workflow", "default_max_attempts", "log_level"}
    assert record["settings"]["effective"]["log_level"] == "debug"
    assert "sealed_inputs" not in record["settings"]
    steps = {s["node_id"]: s["status"] for s in record["steps"]}
    assert steps == {"a": "completed", "check": "completed", "boom": "failed", "fine": "skipped"}
    # An id prefix works too.
    assert api.get(f"/executions/{failed['id'][:10]}").json()["id"] == failed["id"]

    step = api.get(f"/executions/{failed['id']}/steps/boom").json()
    assert step["status"] == "failed" and step["execution_id"] == failed["id"]
    assert step["input"] == {"message": f"{history['marker']} at 1"}
    assert history["marker"] in step["error"]["message"]
    error_of(api.get(f"/executions/{failed['id']}/steps/nope"), 404)


def test_list_with_filters(api: httpx.Client, history: dict[str, Any]) -> None:
    wid = history["doc"]["id"]
    ok, failed = ids(history["ok"]), ids(history["failed"])

    def listed(**params: Any) -> list[str]:
        response = api.get("/executions", params={"workflow_id": wid, **params})
        assert response.status_code == 200, response.text
        return ids(response.json()["items"])

    everything = listed()
    assert everything == (ok + failed)[::-1]  # newest first
    assert listed(status="failed") == failed[::-1]
    assert sorted(listed(status=["failed", "completed"])) == sorted(ok + failed)
    assert listed(trigger="nightly") == failed[::-1]
    assert listed(trigger="api", status="failed") == []
    middle = history["middle"].isoformat()
    assert listed(created_after=middle) == failed[::-1]
    assert listed(created_before=middle) == ok[::-1]
    assert listed(q=history["marker"]) == failed[::-1]
    assert listed(q=history["marker"].upper()) == failed[::-1]
    assert listed(q="no such error text") == []
    assert (
        ids(api.get("/executions", params={"q": history["marker"]}).json()["items"])
        == (failed[::-1])
    )
    error_of(api.get("/executions", params={"status": "sleeping"}), 422)
    error_of(api.get("/executions", params={"sort": "name"}), 422)
    error_of(api.get("/executions", params={"created_after": "2026-01-01T00:00:00"}), 422)

    assert listed(sort="created_at") == ok + failed
    by_duration = api.get("/executions", params={"workflow_id": wid, "sort": "-duration_ms"})
    durations = [e["duration_ms"] for e in by_duration.json()["items"]]
    assert durations == sorted(durations, reverse=True) and len(durations) == 5
    assert durations[0] >= 160 > durations[-1]


def test_cursor_pages_visit_every_execution_once(
    api: httpx.Client, history: dict[str, Any]
) -> None:
    wid = history["doc"]["id"]
    for sort in ("-created_at", "created_at", "duration_ms", "-duration_ms"):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"workflow_id": wid, "limit": 2, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/executions", params=params).json()
            assert len(page["items"]) <= 2
            seen += ids(page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3, sort
        assert len(seen) == len(set(seen)) == 5
        whole = api.get("/executions", params={"workflow_id": wid, "sort": sort}).json()
        assert seen == ids(whole["items"])


def test_stats(api: httpx.Client, history: dict[str, Any]) -> None:
    wid = history["doc"]["id"]
    stats = api.get("/executions/stats", params={"workflow_id": wid}).json()
    assert stats["total"] == 5
    assert stats["by_status"] == {
        "queued": 0,
        "running": 0,
        "paused": 0,
        "completed": 3,
        "failed": 2,
        "cancelled": 0,
    }
    assert stats["success_rate"] == pytest.approx(0.6)
    assert stats["p50_ms"] is not None and stats["p95_ms"] >= stats["p50_ms"] >= 0
    nightly = api.get("/executions/stats", params={"workflow_id": wid, "trigger": "nightly"})
    assert nightly.json()["total"] == 2 and nightly.json()["success_rate"] == 0.0


def test_export_csv_and_json_match_the_list(api: httpx.Client, history: dict[str, Any]) -> None:
    wid = history["doc"]["id"]
    listed = api.get("/executions", params={"workflow_id": wid}).json()["items"]

    exported = api.get("/executions/export", params={"workflow_id": wid, "format": "json"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/json")
    assert "executions.json" in exported.headers["content-disposition"]
    assert exported.json() == listed

    as_csv = api.get("/executions/export", params={"workflow_id": wid, "format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["id"] for r in rows] == ids(listed)
    for row, item in zip(rows, listed, strict=True):
        assert row["status"] == item["status"] and row["workflow_id"] == wid
        assert row["trigger"] == item["trigger"]
        assert row["created_at"] == item["created_at"]
        assert row["duration_ms"] == str(item["duration_ms"])
        error = item["error"] or {}
        assert row["error_message"] == (error.get("message") or "")
        assert row["error_category"] == (error.get("category") or "")

    failed = api.get("/executions/export", params={"workflow_id": wid, "status": "failed"})
    assert ids(failed.json()) == ids(history["failed"])[::-1]


@pytest.mark.parametrize("format", ["json", "csv"])
def test_export_checks_every_parameter_before_the_first_byte(
    api: httpx.Client, format: str
) -> None:
    """A bad parameter is a 422 in the error shape, never a chunked body torn midway."""
    for params, path in (
        ({"cursor": "garbage!"}, "query.cursor"),
        ({"cursor": "e30"}, "query.cursor"),  # base64 of "{}": decodes, but is no cursor
        ({"cursor": encode_cursor("-ended_at", None, "x")}, "query.cursor"),  # another sort
        ({"q": "x" * 501}, "query.q"),
        ({"q": "a\x00b"}, "query.q"),
    ):
        # Streamed, as a download client reads it: the body must arrive whole.
        with api.stream("GET", "/executions/export", params={**params, "format": format}) as r:
            r.read()
        assert "chunked" not in r.headers.get("transfer-encoding", ""), params
        error = error_of(r, 422, "invalid_request")
        assert path in [e["path"] for e in error["details"]["errors"]], error


def test_bulk_delete_keeps_unfinished_executions(api: httpx.Client) -> None:
    doc = maybe_failing("gone")
    create(api, doc)
    done = run_to_end(api, doc["id"])
    held = start(api, doc["id"], debug=True)
    wait_paused(api, held)
    try:
        response = api.post("/executions/delete", json={"ids": [done["id"], held, "nope"]})
        assert response.status_code == 200, response.text
        assert response.json() == {
            "deleted": [done["id"]],
            "unfinished": [held],
            "not_found": ["nope"],
        }
        error_of(api.get(f"/executions/{done['id']}"), 404)
        assert api.get(f"/executions/{held}").json()["status"] == "paused"
        error_of(api.delete(f"/executions/{held}"), 409, "illegal_transition")
    finally:
        api.post(f"/executions/{held}/cancel")
    wait_for(api, held)
    single = api.delete(f"/executions/{held}")
    assert single.status_code == 200 and single.json()["deleted"] == [held]
    error_of(api.get(f"/executions/{held}"), 404)
    error_of(api.post("/executions/delete", json={"ids": []}), 422)


def test_cancel_pause_resume_and_illegal_transitions(api: httpx.Client) -> None:
    nodes, edges = delays(8, 0.3)
    doc = wf(nodes, edges)
    create(api, doc)
    execution_id = start(api, doc["id"])
    wait_for(api, execution_id, ("running",))
    paused = api.post(f"/executions/{execution_id}/pause")
    assert paused.status_code == 200, paused.text
    view = wait_paused(api, execution_id)
    held_at = len(view["finished"])
    time.sleep(0.8)  # nothing runs while it is paused
    record = api.get(f"/executions/{execution_id}").json()
    assert record["status"] == "paused"
    assert len([s for s in record["steps"] if s["status"] == "completed"]) == held_at
    error_of(api.post(f"/executions/{execution_id}/pause"), 409, "illegal_transition")

    resumed = api.post(f"/executions/{execution_id}/resume")
    assert resumed.status_code == 200, resumed.text
    wait_for(api, execution_id, ("running", "completed"))
    cancelled = api.post(f"/executions/{execution_id}/cancel", json={"reason": "enough"})
    assert cancelled.status_code == 200, cancelled.text
    record = wait_for(api, execution_id)
    assert record["status"] == "cancelled"
    assert "enough" in record["error"]["message"]
    error = error_of(api.post(f"/executions/{execution_id}/cancel"), 409, "illegal_transition")
    assert error["details"]["status"] == "cancelled"

    completed = run_to_end(api, maybe_failing_id(api))
    error_of(api.post(f"/executions/{completed['id']}/cancel"), 409, "illegal_transition")
    error_of(api.post(f"/executions/{completed['id']}/resume"), 409, "illegal_transition")
    error_of(api.post(f"/executions/{completed['id']}/pause"), 409, "illegal_transition")
    error_of(api.post(f"/executions/{completed['id']}/retry"), 409, "illegal_transition")
    error_of(api.post("/executions/0000000000000000/cancel"), 404)


def maybe_failing_id(api: httpx.Client) -> str:
    doc = maybe_failing("unused")
    create(api, doc)
    return str(doc["id"])


def test_rerun_retry_retry_step_and_skip_step(api: httpx.Client) -> None:
    doc = maybe_failing("first failure")
    create(api, doc)
    failed = run_to_end(api, doc["id"], {"fail": True, "n": 1})
    assert failed["status"] == "failed"
    base = f"/executions/{failed['id']}"

    def derived(action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = api.post(f"{base}/{action}", json=body)
        assert response.status_code == 202, response.text
        record = wait_for(api, response.json()["execution_id"])
        assert record["parent_id"] == failed["id"]
        return record

    rerun = derived("rerun")
    assert rerun["status"] == "failed" and rerun["inputs"] == failed["inputs"]
    assert rerun["origin"]["kind"] == "rerun"
    rerun_fine = derived("rerun", {"inputs": {"fail": False, "n": 2}})
    assert rerun_fine["status"] == "completed" and rerun_fine["outputs"]["fine"]["message"] == (
        "fine 2"
    )

    retried = derived("retry")
    assert retried["status"] == "failed" and retried["origin"]["kind"] == "retry"
    boom = next(s for s in retried["steps"] if s["node_id"] == "boom")
    assert boom["attempts"] == 2  # numbered after the first execution's attempt

    retried_step = derived("retry-step", {"node_id": "boom", "parameters": {"message": "new"}})
    assert retried_step["error"]["message"] == "new"
    assert retried_step["origin"]["parameters"] == {"message": "new"}
    bad = {"node_id": "boom", "parameters": {"message": "{{ $a + }}"}}  # compiled first: refused
    error = error_of(api.post(f"{base}/retry-step", json=bad), 422)
    assert "/parameters/message" in str(error["details"])

    skipped = derived("skip-step", {"node_id": "boom", "output": {"x": 42}})
    assert skipped["status"] == "completed"
    assert skipped["outputs"]["boom"] == {"x": 42}
    assert skipped["outputs"]["after"]["message"] == "after 42"
    assert skipped["origin"] == {**skipped["origin"], "kind": "skip_step", "node_id": "boom"}
    error_of(api.post(f"/executions/{skipped['id']}/skip-step", json={}), 409)


# --- debugging -------------------------------------------------------------------------------


def debug_doc() -> dict[str, Any]:
    return wf(
        [
            {"id": "a", "type": "set", "parameters": {"values": {"x": "{{ $input.n * 2 }}"}}},
            {"id": "b", "type": "set", "parameters": {"values": {"y": "{{ $a.x + 1 }}"}}},
            {"id": "c", "type": "log", "parameters": {"message": "y={{ $b.y }}"}},
        ],
        chain("a", "b", "c"),
        inputs={"n": {"type": "integer", "default": 3}},
    )


def test_debug_breakpoints_step_continue_evaluate(api: httpx.Client) -> None:
    doc = debug_doc()
    create(api, doc)
    execution_id = start(api, doc["id"], debug=True, breakpoints=["b"])
    base = f"/executions/{execution_id}"
    view = wait_paused(api, execution_id)
    assert view["hold_reason"] == "breakpoint" and view["hold_node"] == "b"
    assert view["outputs"] == {"a": {"x": 6}}
    assert view["next"][0]["node_id"] == "b"
    assert view["next"][0]["parameters"] == {"values": {"y": 7}}  # resolved
    assert view["breakpoints"] == [{"node_id": "b", "condition": None}]

    evaluated = api.post(f"{base}/evaluate", json={"expression": "$a.x * 10 + $input.n"})
    assert evaluated.status_code == 200 and evaluated.json()["value"] == 63
    error_of(api.post(f"{base}/evaluate", json={"expression": "$a.x +"}), 422, "expression_error")

    # A conditional breakpoint that does not hold, and one that does.
    put = api.put(f"{base}/breakpoints", json={"breakpoints": ["c:{{ $b.y > 100 }}"]})
    assert put.status_code == 200, put.text
    assert put.json()["breakpoints"] == [{"node_id": "c", "condition": "{{ $b.y > 100 }}"}]
    put = api.put(
        f"{base}/breakpoints", json={"breakpoints": [{"node_id": "c", "condition": "$b.y == 7"}]}
    )
    assert put.json()["breakpoints"] == [{"node_id": "c", "condition": "$b.y == 7"}]

    stepped = api.post(f"{base}/step")
    assert stepped.status_code == 200, stepped.text
    view = wait_paused(api, execution_id)
    assert view["finished"] == ["a", "b"] and view["outputs"]["b"] == {"y": 7}
    assert view["hold_node"] == "c"

    cleared = api.delete(f"{base}/breakpoints")
    assert cleared.status_code == 200 and cleared.json()["breakpoints"] == []
    continued = api.post(f"{base}/continue")
    assert continued.status_code == 200, continued.text
    record = wait_for(api, execution_id)
    assert record["status"] == "completed"
    assert record["outputs"]["c"]["message"] == "y=7"
    error_of(api.get(f"{base}/debug"), 409, "illegal_transition")
    error_of(api.post(f"{base}/continue"), 409, "illegal_transition")


def test_a_conditional_breakpoint_stops_only_when_true(api: httpx.Client) -> None:
    doc = debug_doc()
    create(api, doc)
    skipped = start(api, doc["id"], {"n": 1}, debug=True, breakpoints=["c:{{ $b.y > 100 }}"])
    # A debug run without a holding breakpoint pauses at its start only if it has none at all.
    view = wait_for(api, skipped, ("paused", "completed"))
    assert view["status"] == "completed", view
    held = start(api, doc["id"], {"n": 60}, debug=True, breakpoints=["c:{{ $b.y > 100 }}"])
    view = wait_paused(api, held)
    assert view["hold_reason"] == "breakpoint" and view["hold_node"] == "c"
    assert view["outputs"]["b"] == {"y": 121}
    api.post(f"/executions/{held}/continue")
    assert wait_for(api, held)["status"] == "completed"
