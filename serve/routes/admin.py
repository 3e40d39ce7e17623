"""The audit log of mutating calls, and the runtime's status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from hub.history import AuditEntry
from serve._backend import RuntimeBackend
from serve._config import MAX_ID
from serve._deps import backend

router = APIRouter(tags=["admin"])


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before_id: int | None = None


@router.get("/audit", response_model=AuditPage)
async def audit_log(
    limit: int = Query(default=100, ge=1, le=1000),
    before_id: int | None = Query(default=None, ge=1, le=MAX_ID),
    action: str | None = Query(default=None, max_length=255),
    target: str | None = Query(default=None, max_length=255),
    api: RuntimeBackend = Depends(backend),
) -> AuditPage:
    """Who changed what, when: newest first; page with ``before_id``."""
    entries: list[AuditEntry] = await api.recorder_call(
        "audit_entries", limit=limit, before_id=before_id, action=action, target=target
    )
    more = len(entries) == limit and entries[-1].id > 1
    return AuditPage(items=entries, next_before_id=entries[-1].id if more else None)


@router.get("/runtime", response_model=dict[str, Any])
async def runtime_status(api: RuntimeBackend = Depends(backend)) -> Any:
    """Nodes, running and queued executions, pools, the desktop's place."""
    status: dict[str, Any] = await api.supervisor_call("status")
    return status
