"""Server-Sent Events: framing, heartbeats and resuming from ``Last-Event-ID``.

An execution's events carry their per-execution ``seq`` (docs/dsl.md, "Durability") as their
SSE id, so a client
that reconnects with the last id it saw gets every later event exactly once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from hub.errors import InvalidRequest
from hub.recording import TERMINAL_EVENTS
from hub.records import Event
from serve._config import MAX_ID

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}

Fetch = Callable[[int, float], Awaitable[list[Event]]]
IsOver = Callable[[], Awaitable[bool]]


def frame(event_id: int | None, data: Any) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def start_after(request: Request, after: int | None) -> int:
    """Where a stream starts: after the ``Last-Event-ID`` header, else the ``after`` query."""
    header = request.headers.get("last-event-id")
    if header is None or not header.strip():
        return after or 0
    try:
        value = int(header.strip())
    except ValueError:
        raise InvalidRequest(
            f"Last-Event-ID must be the integer id of an event, got {header!r}"
        ) from None
    if not 0 <= value <= MAX_ID:
        raise InvalidRequest(f"Last-Event-ID must be between 0 and {MAX_ID}, got {value}")
    return value


async def event_frames(
    fetch: Fetch,
    is_over: IsOver,
    after: int,
    heartbeat_s: float,
    render: Callable[[Event], Any | None],
    ended: bool = False,
) -> AsyncIterator[str]:
    """Frames of every event after ``after``, a heartbeat comment when idle, until the terminal
    event (or, for an execution that ended before this stream, until its events are out)."""
    seq = after
    over = ended  # an execution that had ended when the stream opened: no waiting at all
    yield ": stream open\n\n"
    while True:
        # Once the execution is over, one last read without waiting: its final events may have
        # landed between the empty poll and the status check.
        events = await fetch(seq, 0 if over else heartbeat_s)
        for event in events:
            seq = event.seq
            shown = render(event)
            if shown is not None:
                yield frame(event.seq, shown)
            if event.type in TERMINAL_EVENTS:
                return
        if not events:
            if over:
                return
            over = await is_over()
            if not over:
                yield ": heartbeat\n\n"


def sse_response(frames: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.seq,
        "execution_id": event.execution_id,
        "type": event.type,
        "ts": event.ts.isoformat().replace("+00:00", "Z"),
        "node_id": event.node_id,
        "data": event.data,
    }
