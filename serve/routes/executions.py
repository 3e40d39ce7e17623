"""Executions: search with filters and cursor pages, statistics, export, delete, detail, step
detail, and the state changes (cancel, pause, resume)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from hub.errors import IllegalTransition, InvalidRequest, NotFound
from hub.history import (
    DeleteResult,
    ExecutionPage,
    ExecutionQuery,
    ExecutionStats,
    decode_cursor,
)
from hub.records import DebugView, ExecutionRecord, ExecutionStatus
from hub.views import detail_json, execution_json, step_json
from serve._backend import RuntimeBackend
from serve._deps import audit, backend
from serve._export import ExportFormat, export_response, first_page, summary_json
from serve._models import BulkDeleteIn, CancelIn, ExecutionPageOut

router = APIRouter(prefix="/executions", tags=["executions"])

Sort = Literal["created_at", "-created_at", "ended_at", "-ended_at", "duration_ms", "-duration_ms"]


async def execution_query(
    status: list[ExecutionStatus] = Query(default=[], description="Repeat for several"),
    workflow_id: str | None = Query(default=None, max_length=255),
    trigger: str | None = Query(default=None, max_length=64),
    parent_id: str | None = Query(default=None, max_length=64),
    created_after: datetime | None = Query(default=None),
    created_before: datetime | None = Query(default=None),
    q: str | None = Query(default=None, max_length=500, description="Text in the errors"),
    sort: Sort = Query(default="-created_at"),
    limit: int = Query(default=50, ge=1, le=1000),
    cursor: str | None = Query(default=None, max_length=2000),
) -> ExecutionQuery:
    """Every parameter checked here, before a route answers (the export's first byte too)."""
    texts = {"workflow_id": workflow_id, "trigger": trigger, "parent_id": parent_id, "q": q}
    for name, text in texts.items():
        if text is not None and "\x00" in text:  # PostgreSQL cannot even compare with one
            raise _invalid(name, "must not contain NUL characters")
    try:
        query = ExecutionQuery(
            status=status,
            workflow_id=workflow_id,
            trigger=trigger,
            parent_id=parent_id,
            created_after=_aware(created_after, "created_after"),
            created_before=_aware(created_before, "created_before"),
            error_text=q or None,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
    except ValidationError as exc:
        raise InvalidRequest(f"invalid execution query: {exc.errors()[0]['msg']}") from None
    if cursor is not None:
        try:
            decode_cursor(cursor, sort)
        except InvalidRequest as exc:
            raise _invalid("cursor", exc.message, sort=sort) from None
    return query


def _invalid(name: str, message: str, **details: Any) -> InvalidRequest:
    """A 422 naming the query parameter, in the shape of FastAPI's own validation errors."""
    path = f"query.{name}"
    return InvalidRequest(
        f"invalid request: {path}: {message}",
        details={"errors": [{"path": path, "message": message}], **details},
    )


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise _invalid(name, "needs a timezone (say 2026-01-01T00:00:00Z)")
    return value


@router.get("", response_model=ExecutionPageOut)
async def list_executions(
    query: ExecutionQuery = Depends(execution_query), api: RuntimeBackend = Depends(backend)
) -> ExecutionPageOut:
    """Executions matching the filters, one page at a time (follow ``next_cursor``)."""
    page: ExecutionPage = await api.recorder_call("search_executions", query)
    return ExecutionPageOut(
        items=[summary_json(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/stats", response_model=ExecutionStats)
async def execution_stats(
    query: ExecutionQuery = Depends(execution_query), api: RuntimeBackend = Depends(backend)
) -> ExecutionStats:
    """Counts by status, success rate and p50/p95 duration of the matching executions."""
    stats: ExecutionStats = await api.recorder_call("execution_stats", query)
    return stats


@router.get(
    "/export",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
    response_class=StreamingResponse,
)
async def export_executions(
    format: ExportFormat = Query(default="json"),
    query: ExecutionQuery = Depends(execution_query),
    api: RuntimeBackend = Depends(backend),
) -> StreamingResponse:
    """Every matching execution (all pages), streamed as CSV or a JSON array. The parameters
    are checked before the first byte (422); a failure once the body has started ends it with
    a last record saying the export is incomplete (serve._export)."""

    async def fetch(page_query: ExecutionQuery) -> ExecutionPage:
        page: ExecutionPage = await api.recorder_call("search_executions", page_query)
        return page

    first = await first_page(fetch, query)
    return export_response(first, fetch, query, format)


@router.post("/delete", response_model=DeleteResult)
async def bulk_delete(
    request: Request, body: BulkDeleteIn, api: RuntimeBackend = Depends(backend)
) -> DeleteResult:
    """Delete finished executions with their steps, events and logs (unfinished ones stay)."""
    result: DeleteResult = await api.recorder_call("delete_executions", body.ids)
    audit(request, "execution.delete", None, deleted=result.deleted)
    return result


async def _record(api: RuntimeBackend, execution_id: str) -> ExecutionRecord:
    record: ExecutionRecord = await api.recorder_call("get_execution", execution_id)
    return record


@router.get("/{execution_id}", response_model=dict[str, Any])
async def get_execution(execution_id: str, api: RuntimeBackend = Depends(backend)) -> Any:
    """The record ``hub show --json`` prints: steps, inputs (secrets redacted), outputs,
    settings used, error with category and suggestions, and ``children``: the executions it
    started (sub-workflows) or that were derived from it. An id prefix of 6+ chars works."""
    record = await _record(api, execution_id)
    page = await api.recorder_call(
        "search_executions", ExecutionQuery(parent_id=record.id, limit=1000)
    )
    return detail_json(record, page.items)


@router.delete("/{execution_id}", response_model=DeleteResult)
async def delete_execution(
    request: Request, execution_id: str, api: RuntimeBackend = Depends(backend)
) -> DeleteResult:
    record = await _record(api, execution_id)
    if not record.status.terminal:
        raise IllegalTransition(
            f"execution {record.id} is {record.status.value}; cancel it before deleting it",
            details={"status": record.status.value},
        )
    result: DeleteResult = await api.recorder_call("delete_executions", [record.id])
    audit(request, "execution.delete", record.id)
    return result


@router.get("/{execution_id}/steps/{node_id}", response_model=dict[str, Any])
async def get_step(
    execution_id: str, node_id: str, api: RuntimeBackend = Depends(backend)
) -> dict[str, Any]:
    """One step in full: its resolved input, its output, its error."""
    record = await _record(api, execution_id)
    for step in record.steps:
        if step.node_id == node_id:
            return {**step_json(step), "execution_id": record.id, "input": step.input}
    raise NotFound(
        f"execution {record.id} has no step {node_id!r}",
        details={"execution_id": record.id, "node_id": node_id},
    )


# --- state changes ---------------------------------------------------------------------------


@router.post("/{execution_id}/cancel", response_model=dict[str, Any])
async def cancel(
    request: Request,
    execution_id: str,
    body: CancelIn | None = None,
    api: RuntimeBackend = Depends(backend),
) -> dict[str, Any]:
    """Cancel a queued, running or paused execution (409 once it has finished)."""
    record = await _record(api, execution_id)
    reason = (body or CancelIn()).reason
    done: ExecutionRecord = await api.supervisor_call("cancel", record.id, reason)
    audit(request, "execution.cancel", record.id)
    return execution_json(done)


async def control(
    request: Request, api: RuntimeBackend, execution_id: str, action: str, argument: Any = None
) -> Any:
    record = await _record(api, execution_id)
    result = await api.supervisor_call("control", record.id, action, argument)
    if action not in ("inspect", "evaluate"):
        audit(request, f"execution.{action.replace(' ', '_')}", record.id)
    return result


def view_json(view: DebugView) -> dict[str, Any]:
    data: dict[str, Any] = view.model_dump(mode="json")
    return data


@router.post("/{execution_id}/pause", response_model=dict[str, Any])
async def pause(
    request: Request, execution_id: str, api: RuntimeBackend = Depends(backend)
) -> dict[str, Any]:
    """Pause: steps in flight finish, nothing new starts (status ``paused`` once idle)."""
    return view_json(await control(request, api, execution_id, "pause"))


@router.post("/{execution_id}/resume", response_model=dict[str, Any])
async def resume(
    request: Request, execution_id: str, api: RuntimeBackend = Depends(backend)
) -> dict[str, Any]:
    return view_json(await control(request, api, execution_id, "resume"))
