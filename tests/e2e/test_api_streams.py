"""Live streams over HTTP (SSE events and logs, resumed with ``Last-Event-ID``), log search and
download, error patterns and performance metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_api import chain, create, delays, error_of, run_to_end, start, wait_for, wf

pytestmark = pytest.mark.ray

TERMINAL_EVENTS = {"execution_completed", "execution_failed", "execution_cancelled"}


def sse_frames(response: httpx.Response) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """(id, data) of each SSE frame; comments (heartbeats) are skipped."""
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    event_id: int | None = None
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line.startswith("id:"):
            event_id = int(line[3:].strip())
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield event_id, json.loads("\n".join(data))
            event_id, data = None, []


def read_stream(
    api: httpx.Client, path: str, limit: int | None = None, **headers: str
) -> list[tuple[int | None, dict[str, Any]]]:
    """Frames of the stream at ``path``: all of them, or the first ``limit`` (then it hangs up)."""
    frames = []
    with api.stream("GET", path, headers=headers, timeout=httpx.Timeout(60)) as response:
        for frame in sse_frames(response):
            frames.append(frame)
            if limit is not None and len(frames) == limit:
                break
    return frames


def test_events_resume_after_a_disconnect_without_loss_or_duplicates(api: httpx.Client) -> None:
    nodes, edges = delays(6, 0.4)
    doc = wf([*nodes, {"id": "note", "type": "log", "parameters": {"message": "done"}}])
    doc["edges"] = [*edges, {"from": "d5", "to": "note"}]
    create(api, doc)
    execution_id = start(api, doc["id"])
    path = f"/executions/{execution_id}/events"

    first = read_stream(api, path, limit=4)  # then the client hangs up mid-run
    assert api.get(f"/executions/{execution_id}").json()["status"] in ("queued", "running")
    last_id = first[-1][0]
    assert last_id is not None
    rest = read_stream(api, path, **{"Last-Event-ID": str(last_id)})
    assert rest, "the resumed stream sent nothing"
    assert wait_for(api, execution_id)["status"] == "completed"

    full = read_stream(api, path)  # the finished execution's events, from the first
    assert [data["type"] for _, data in full][-1] in TERMINAL_EVENTS
    assert full[-1][1]["type"] == "execution_completed"
    union = first + rest
    assert [i for i, _ in union] == [i for i, _ in full]  # none lost, none twice, in order
    assert [d for _, d in union] == [d for _, d in full]
    assert all(i == d["id"] for i, d in full)
    assert len({i for i, _ in full}) == len(full)
    types = [d["type"] for _, d in full]
    assert types[0] == "execution_started"
    assert types.count("step_completed") == 7 and "log" in types
    assert all(d["execution_id"] == execution_id for _, d in full)

    # The `after` query does what the header does; a bad header is refused.
    after = read_stream(api, f"{path}?after={last_id}")
    assert after == rest
    error_of(api.get(path, headers={"Last-Event-ID": "soon"}), 422)
    error_of(api.get("/executions/0000000000000000/events"), 404)


def logging_doc() -> dict[str, Any]:
    logs = [
        ("l_debug", "debug", "debugging detail"),
        ("l_info", "info", "all is well"),
        ("l_warn", "warn", "disk nearly full"),
        ("l_error", "error", "disk is full"),
    ]
    nodes: list[dict[str, Any]] = []
    for node_id, level, message in logs:
        nodes.append({"id": f"w_{node_id}", "type": "delay", "parameters": {"seconds": 0.15}})
        nodes.append(
            {"id": node_id, "type": "log", "parameters": {"message": message, "level": level}}
        )
    return wf(nodes, chain(*(n["id"] for n in nodes)))


def test_log_search_stream_and_download(api: httpx.Client) -> None:
    doc = logging_doc()
    create(api, doc)
    execution_id = start(api, doc["id"])
    base = f"/executions/{execution_id}/logs"

    streamed = read_stream(api, f"{base}/stream?level=warn")  # live, until the run ends
    assert [d["message"] for _, d in streamed] == ["disk nearly full", "disk is full"]
    assert [d["level"] for _, d in streamed] == ["warn", "error"]
    assert all(i == d["id"] for i, d in streamed)
    assert wait_for(api, execution_id)["status"] == "completed"

    every = api.get(base).json()
    assert every["execution_id"] == execution_id
    messages = [e["message"] for e in every["items"]]
    assert messages == ["debugging detail", "all is well", "disk nearly full", "disk is full"]
    assert [e["node_id"] for e in every["items"]] == ["l_debug", "l_info", "l_warn", "l_error"]
    warn = [e["message"] for e in api.get(base, params={"level": "warn"}).json()["items"]]
    assert warn == ["disk nearly full", "disk is full"]
    disk = [e["message"] for e in api.get(base, params={"q": "DISK"}).json()["items"]]
    assert disk == ["disk nearly full", "disk is full"]
    both = api.get(base, params={"q": "disk", "level": "error"}).json()["items"]
    assert [e["message"] for e in both] == ["disk is full"]
    error_of(api.get(base, params={"level": "loud"}), 422)

    resumed = read_stream(api, f"{base}/stream", **{"Last-Event-ID": str(streamed[0][0])})
    assert [d["message"] for _, d in resumed] == ["disk is full"]
    searched = read_stream(api, f"{base}/stream?q=well")
    assert [d["message"] for _, d in searched] == ["all is well"]

    text = api.get(f"{base}/download")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert f"{execution_id}.log" in text.headers["content-disposition"]
    lines = text.text.splitlines()
    assert len(lines) == 4
    assert "ERROR" in lines[3] and "[l_error]" in lines[3] and lines[3].endswith("disk is full")
    jsonl = api.get(f"{base}/download", params={"format": "jsonl", "level": "info"})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    entries = [json.loads(line) for line in jsonl.text.splitlines()]
    assert entries == every["items"][1:]


def test_error_patterns_and_performance(api: httpx.Client) -> None:
    doc = wf(
        [
            {"id": "prep", "type": "delay", "parameters": {"seconds": 0.05}},
            {
                "id": "call",
                "type": "fail",
                "parameters": {"message": "upstream refused request {{ $input.n }}"},
            },
        ],
        chain("prep", "call"),
        inputs={"n": {"type": "integer", "required": True}},
    )
    create(api, doc)
    for n in (101, 202, 303):
        assert run_to_end(api, doc["id"], {"n": n})["status"] == "failed"

    patterns = api.get("/errors/patterns", params={"workflow_id": doc["id"]}).json()["items"]
    assert len(patterns) == 1, patterns
    pattern = patterns[0]
    assert pattern["count"] == 3 and pattern["node_id"] == "call"
    assert pattern["workflow_id"] == doc["id"] and pattern["category"] == "node_error"
    assert "101" not in pattern["pattern"] and pattern["pattern"].startswith("upstream refused")
    assert pattern["example_message"].startswith("upstream refused request ")
    assert pattern["suggestions"] and all(isinstance(s, str) for s in pattern["suggestions"])
    assert pattern["first_seen"] <= pattern["last_seen"]
    assert api.get("/errors/patterns", params={"workflow_id": "api-none"}).json()["items"] == []
    error_of(api.get("/errors/patterns", params={"since": "2026-01-01T00:00:00"}), 422)

    report = api.get("/metrics/performance", params={"workflow_id": doc["id"]}).json()
    (workflow,) = report["workflows"]
    assert workflow["workflow_id"] == doc["id"] and workflow["count"] == 3
    assert workflow["success_rate"] == 0.0
    by_type = {n["node_type"]: n for n in report["node_types"]}
    assert by_type["delay"]["count"] == 3 and by_type["delay"]["success_rate"] == 1.0
    assert by_type["delay"]["p50_ms"] >= 40
    assert by_type["fail"]["failures"] == 3
    assert report["slowest_steps"][0]["node_type"] == "delay"
    assert isinstance(report["recommendations"], list)
