"""Live streams (SSE) of events and logs, log search and download."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from hub.records import Event, ExecutionRecord, LogEntry
from hub.settings import LOG_LEVELS
from serve._backend import RuntimeBackend
from serve._config import MAX_ID, ApiConfig
from serve._deps import backend, config, iso
from serve._sse import event_frames, event_json, sse_response, start_after

router = APIRouter(prefix="/executions/{execution_id}", tags=["streams"])

Level = Literal["debug", "info", "warn", "error"]
SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}
}


async def _record(api: RuntimeBackend, execution_id: str) -> ExecutionRecord:
    record: ExecutionRecord = await api.recorder_call("get_execution", execution_id)
    return record


def _stream(
    api: RuntimeBackend, cfg: ApiConfig, record: ExecutionRecord, after: int, render: Any
) -> StreamingResponse:
    execution_id = record.id

    async def fetch(seq: int, wait_s: float) -> list[Event]:
        events: list[Event] = await api.recorder_call("events", execution_id, seq, wait_s)
        return events

    async def is_over() -> bool:
        return (await _record(api, execution_id)).status.terminal

    frames = event_frames(
        fetch, is_over, after, cfg.heartbeat_s, render, ended=record.status.terminal
    )
    return sse_response(frames)


@router.get("/events", response_class=StreamingResponse, responses=SSE)
async def events(
    request: Request,
    execution_id: str,
    after: int | None = Query(
        default=None, ge=0, le=MAX_ID, description="Start after this event id"
    ),
    api: RuntimeBackend = Depends(backend),
    cfg: ApiConfig = Depends(config),
) -> StreamingResponse:
    """Every event of the execution as SSE (``id`` = event id, ``data`` = JSON with ``type``),
    live, until the terminal event. Reconnect with ``Last-Event-ID`` to resume."""
    start = start_after(request, after)
    record = await _record(api, execution_id)
    return _stream(api, cfg, record, start, event_json)


def _matches(entry: dict[str, Any], level: str | None, text: str | None) -> bool:
    if level is not None and LOG_LEVELS.get(str(entry.get("level")), 20) < LOG_LEVELS[level]:
        return False
    return text is None or text.lower() in str(entry.get("message", "")).lower()


def log_json(event: Event) -> dict[str, Any]:
    data = event.data
    return {
        "id": event.seq,
        "ts": iso(event.ts),
        "level": data.get("level", "info"),
        "node_id": event.node_id,
        "source": data.get("source", "node"),
        "message": data.get("message", ""),
        "metadata": data.get("metadata", {}),
    }


@router.get("/logs/stream", response_class=StreamingResponse, responses=SSE)
async def logs_stream(
    request: Request,
    execution_id: str,
    level: Level | None = Query(default=None, description="This level and above"),
    q: str | None = Query(default=None, max_length=500, description="Text in the message"),
    after: int | None = Query(default=None, ge=0, le=MAX_ID),
    api: RuntimeBackend = Depends(backend),
    cfg: ApiConfig = Depends(config),
) -> StreamingResponse:
    """Log entries as SSE, live, until the execution ends; resumable with ``Last-Event-ID``."""
    start = start_after(request, after)
    record = await _record(api, execution_id)

    def render(event: Event) -> dict[str, Any] | None:
        if event.type != "log":
            return None
        entry = log_json(event)
        return entry if _matches(entry, level, q) else None

    return _stream(api, cfg, record, start, render)


def entry_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "id": entry.seq,
        "ts": iso(entry.ts),
        "level": entry.level,
        "node_id": entry.node_id,
        "source": entry.source,
        "message": entry.message,
        "metadata": entry.metadata,
    }


async def _entries(
    api: RuntimeBackend, execution_id: str, level: str | None, text: str | None
) -> AsyncIterator[dict[str, Any]]:
    after = 0
    while True:
        batch: list[LogEntry] = await api.recorder_call(
            "logs", execution_id, after_seq=after, search=text, limit=1000
        )
        for entry in batch:
            data = entry_json(entry)
            if _matches(data, level, None):
                yield data
        if len(batch) < 1000:
            return
        after = batch[-1].seq


@router.get("/logs", response_model=dict[str, Any])
async def logs(
    execution_id: str,
    level: Level | None = Query(default=None, description="This level and above"),
    q: str | None = Query(default=None, max_length=500, description="Text in the message"),
    api: RuntimeBackend = Depends(backend),
) -> dict[str, Any]:
    """The execution's log entries so far, filtered by level and text."""
    record = await _record(api, execution_id)
    items = [e async for e in _entries(api, record.id, level, q)]
    return {"execution_id": record.id, "items": items}


@router.get(
    "/logs/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {}, "application/x-ndjson": {}}}},
)
async def download_logs(
    execution_id: str,
    format: Literal["text", "jsonl"] = Query(default="text"),
    level: Level | None = Query(default=None),
    q: str | None = Query(default=None, max_length=500),
    api: RuntimeBackend = Depends(backend),
) -> StreamingResponse:
    """The log as a file: one line per entry, plain text or JSON Lines."""
    record = await _record(api, execution_id)

    async def body() -> AsyncIterator[str]:
        async for entry in _entries(api, record.id, level, q):
            if format == "jsonl":
                yield json.dumps(entry, default=str) + "\n"
            else:
                node = f" [{entry['node_id']}]" if entry["node_id"] else ""
                yield f"{entry['ts']} {entry['level'].upper():7}{node} {entry['message']}\n"

    media = "application/x-ndjson" if format == "jsonl" else "text/plain"
    suffix = "jsonl" if format == "jsonl" else "log"
    return StreamingResponse(
        body(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{record.id}.{suffix}"'},
    )
