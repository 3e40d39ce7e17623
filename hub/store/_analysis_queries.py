"""Reading failures for error analysis (:mod:`hub.analysis`) out of the store's tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, exists, func, select

from hub.analysis import FailureSample
from hub.errors import ErrorCategory
from hub.records import ExecutionStatus, StepStatus
from hub.store import _schema as t


def failures(
    conn: Connection,
    *,
    since: datetime | None = None,
    workflow_id: str | None = None,
    limit: int = 10_000,
) -> list[FailureSample]:
    """Failed steps, and failed executions whose error belongs to no failed step, newest first.

    The second kind covers failures outside any step: the execution timeout, a runtime that
    died (``interrupted``), a runtime fault while a step was still running.
    """
    limit = max(limit, 0)
    samples = _failed_steps(conn, since, workflow_id, limit)
    samples += _failed_executions(conn, since, workflow_id, limit)
    # Each query is already limited: the newest ``limit`` of both lie within their union.
    samples.sort(key=lambda s: (s.ts, s.execution_id, s.node_id or ""), reverse=True)
    return samples[:limit]


def _failed_steps(
    conn: Connection, since: datetime | None, workflow_id: str | None, limit: int
) -> list[FailureSample]:
    s, e = t.steps, t.executions
    ts = func.coalesce(s.c.ended_at, s.c.started_at, e.c.ended_at, e.c.created_at)
    cond: list[ColumnElement[bool]] = [
        s.c.status == StepStatus.FAILED.value,
        s.c.error.is_not(None),
    ]
    if since is not None:
        cond.append(ts >= since)
    if workflow_id is not None:
        cond.append(e.c.workflow_id == workflow_id)
    query = (
        select(
            s.c.execution_id,
            s.c.node_id,
            s.c.category,
            s.c.error,
            e.c.workflow_id,
            ts.label("ts"),
        )
        .join(e, e.c.id == s.c.execution_id)
        .where(and_(*cond))
        .order_by(ts.desc(), s.c.execution_id.desc(), s.c.node_id.desc())
        .limit(limit)
    )
    return [
        _sample(row, row["execution_id"], row["node_id"], row["category"])
        for row in conn.execute(query).mappings()
    ]


def _failed_executions(
    conn: Connection, since: datetime | None, workflow_id: str | None, limit: int
) -> list[FailureSample]:
    s, e = t.steps, t.executions
    ts = func.coalesce(e.c.ended_at, e.c.created_at)
    # The failed step's own row already counts a failure that names it; an error naming no node
    # (or a node that never reached "failed") has no other trace.
    step_row = exists().where(
        s.c.execution_id == e.c.id,
        s.c.status == StepStatus.FAILED.value,
        s.c.node_id == e.c.error["node_id"].as_string(),
    )
    cond: list[ColumnElement[bool]] = [
        e.c.status == ExecutionStatus.FAILED.value,
        e.c.error.is_not(None),
        ~step_row,
    ]
    if since is not None:
        cond.append(ts >= since)
    if workflow_id is not None:
        cond.append(e.c.workflow_id == workflow_id)
    query = (
        select(e.c.id, e.c.workflow_id, e.c.error, ts.label("ts"))
        .where(and_(*cond))
        .order_by(ts.desc(), e.c.id.desc())
        .limit(limit)
    )
    samples = []
    for row in conn.execute(query).mappings():
        error = row["error"] if isinstance(row["error"], Mapping) else {}
        node_id = error.get("node_id")
        samples.append(_sample(row, row["id"], None if node_id is None else str(node_id), None))
    return samples


def _sample(
    row: RowMapping, execution_id: str, node_id: str | None, category: str | None
) -> FailureSample:
    error = row["error"] if isinstance(row["error"], Mapping) else {}
    # ErrorInfo always carries a category; StepFailed's default stands in for rows that lack it.
    found = category or error.get("category") or ErrorCategory.NODE_ERROR.value
    return FailureSample(
        execution_id=execution_id,
        workflow_id=row["workflow_id"],
        node_id=node_id,
        category=str(found),
        message=str(error.get("message") or ""),
        ts=row["ts"],
    )
