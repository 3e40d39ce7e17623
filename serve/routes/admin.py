"""The audit log of mutating calls, and the runtime's status."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from hub.history import AuditEntry
from serve._backend import RuntimeBackend
from serve._config import MAX_ID
from serve._deps import backend
from serve.routes.triggers import trigger_summary

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
    """Nodes, running and queued executions, pools, the desktop's place, the triggers."""
    status: dict[str, Any] = await api.supervisor_call("status")
    if "triggers" not in status:  # the supervisor does not ask the TriggerActor: we do
        status["triggers"] = await trigger_summary(api)
    status.setdefault("dashboard_url", await asyncio.to_thread(_dashboard_url))
    return status


def _dashboard_url() -> str | None:
    """The Ray dashboard's address as the cluster registered it (the console links to it for
    CPU and memory per node); None when the cluster runs without a dashboard."""
    from ray._private import ray_constants
    from ray.experimental import internal_kv

    try:
        found = internal_kv._internal_kv_get(
            ray_constants.DASHBOARD_ADDRESS, namespace=ray_constants.KV_NAMESPACE_DASHBOARD
        )
    except Exception:  # no GCS connection or no such key: no link, the status still answers
        return None
    if not found:
        return None
    address = found.decode() if isinstance(found, bytes) else str(found)
    return address if address.startswith(("http://", "https://")) else f"http://{address}"
