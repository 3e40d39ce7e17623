"""Auto-clicker sessions on the desktop node: start, list, get, stop, live events.

A runtime without a display node (none advertises the ``desktop`` resource) is up, not down: it
lists no sessions, knows none (404), and refuses to start one or re-arm the kill switch with a
409 (``no_desktop_node``) that says how to add a display node. A 503 still means the runtime
itself cannot be reached.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from hub.desktop.clicker import ClickerConfig
from hub.errors import NoDesktopNode, NotFound
from hub.records import ExecutionRecord
from serve._backend import RuntimeBackend
from serve._config import MAX_ID, ApiConfig
from serve._deps import audit, backend, config
from serve._models import RunAccepted
from serve.routes import streams
from serve.routes.runs import links

router = APIRouter(prefix="/desktop", tags=["desktop"])


class SessionList(BaseModel):
    items: list[dict[str, Any]]


@router.post("/sessions", status_code=202, response_model=RunAccepted)
async def start_session(
    request: Request, body: ClickerConfig, api: RuntimeBackend = Depends(backend)
) -> RunAccepted:
    """Start an auto-clicker session (one at a time: 409 while another controls the mouse, and
    409 ``no_desktop_node`` where no node has a display). The session is an execution: follow
    it at its ``events`` link."""
    record: ExecutionRecord = await api.desktop_call("start_session", body)
    audit(request, "desktop.session_start", record.id)
    base = f"{links(record.id)['self']}"
    return RunAccepted(
        execution_id=record.id,
        status=record.status.value,
        links={
            **links(record.id),
            "session": base.replace("/executions/", "/desktop/sessions/"),
        },
    )


@router.get("/sessions", response_model=SessionList)
async def list_sessions(api: RuntimeBackend = Depends(backend)) -> SessionList:
    """The clicker sessions (none where no node has a display)."""
    try:
        return SessionList(items=await api.desktop_call("list_sessions"))
    except NoDesktopNode:
        return SessionList(items=[])


async def _session_call(api: RuntimeBackend, method: str, session_id: str) -> Any:
    """A call about one session; without a display node there is none to find (404)."""
    try:
        return await api.desktop_call(method, session_id)
    except NoDesktopNode as exc:
        raise NotFound(
            f"no clicker session {session_id}: {exc.message}",
            details={"session_id": session_id},
        ) from None


@router.get("/sessions/{session_id}", response_model=dict[str, Any])
async def get_session(session_id: str, api: RuntimeBackend = Depends(backend)) -> Any:
    return await _session_call(api, "get_session", session_id)


@router.post("/sessions/{session_id}/stop", response_model=dict[str, Any])
async def stop_session(
    request: Request, session_id: str, api: RuntimeBackend = Depends(backend)
) -> Any:
    result = await _session_call(api, "stop_session", session_id)
    audit(request, "desktop.session_stop", session_id)
    return result


@router.get(
    "/sessions/{session_id}/events", response_class=StreamingResponse, responses=streams.SSE
)
async def session_events(
    request: Request,
    session_id: str,
    after: int | None = Query(default=None, ge=0, le=MAX_ID),
    api: RuntimeBackend = Depends(backend),
    cfg: ApiConfig = Depends(config),
) -> StreamingResponse:
    """The session's events (reads, clicks, its end) as SSE, like an execution's."""
    return await streams.events(request, session_id, after, api, cfg)


@router.post("/reset", response_model=dict[str, bool])
async def reset_kill_switch(request: Request, api: RuntimeBackend = Depends(backend)) -> Any:
    """Re-arm the desktop after its kill switch tripped (409 where no node has a display)."""
    tripped = await api.desktop_call("reset_kill_switch")
    audit(request, "desktop.reset")
    return {"was_tripped": bool(tripped)}
