"""Error patterns with recovery suggestions, and performance per workflow and node type."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from hub.analysis import ErrorPattern
from hub.history import PerformanceReport
from serve._backend import RuntimeBackend
from serve._deps import backend
from serve.routes.executions import _aware

router = APIRouter(tags=["insights"])


class ErrorPatternList(BaseModel):
    items: list[ErrorPattern]


@router.get("/errors/patterns", response_model=ErrorPatternList)
async def error_patterns(
    workflow_id: str | None = Query(default=None, max_length=255),
    since: datetime | None = Query(default=None),
    api: RuntimeBackend = Depends(backend),
) -> ErrorPatternList:
    """Recorded failures grouped by workflow, node, category and normalised message, most
    frequent first, each counted with first/last seen and recovery suggestions."""
    found: list[ErrorPattern] = await api.recorder_call(
        "error_patterns", _aware(since, "since"), workflow_id
    )
    return ErrorPatternList(items=found)


@router.get("/metrics/performance", response_model=PerformanceReport)
async def performance(
    workflow_id: str | None = Query(default=None, max_length=255),
    since: datetime | None = Query(default=None),
    api: RuntimeBackend = Depends(backend),
) -> PerformanceReport:
    """Per workflow and per node type: count, success rate, p50/p95, throughput; the slowest
    steps; recommendations."""
    report: PerformanceReport = await api.recorder_call(
        "performance", workflow_id=workflow_id, since=_aware(since, "since")
    )
    return report
