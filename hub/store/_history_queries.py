"""Reading execution history for :mod:`hub.history`: searches with keyset pages, statistics,
performance; and deleting finished executions on request.

Percentiles are computed in Python over at most :data:`PERCENTILE_SAMPLE` of the newest matching
rows (counts and rates are exact): enough for a stable p95, bounded for a large history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    and_,
    cast,
    exists,
    extract,
    func,
    or_,
    select,
    true,
)

from hub.history import (
    DeleteResult,
    ExecutionPage,
    ExecutionQuery,
    ExecutionStats,
    NodeTypePerformance,
    PerformanceReport,
    SlowStep,
    SortValue,
    WorkflowPerformance,
    decode_cursor,
    encode_cursor,
    percentile,
    recommendations,
    success_rate,
    throughput_per_min,
)
from hub.records import ExecutionStatus, StepStatus, utcnow
from hub.store import _retention, _rows
from hub.store import _schema as t

PERCENTILE_SAMPLE = 100_000
SLOWEST_STEPS = 10
_CHUNK = 500
_TERMINAL = [s.value for s in ExecutionStatus if s.terminal]
_RAN = [StepStatus.COMPLETED.value, StepStatus.FAILED.value]


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards escaped (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match (ASCII letters only on SQLite, as its LOWER is)."""
    return column.ilike(f"%{escape_like(text)}%", escape="\\")


def duration_ms(dialect: str, started: Any, ended: Any) -> ColumnElement[int]:
    """``ended - started`` in whole milliseconds, as SQL (NULL when either is NULL)."""
    if dialect == "postgresql":
        return cast(func.round(extract("epoch", ended - started) * 1000), BigInteger)
    return cast(
        func.round((func.julianday(ended) - func.julianday(started)) * 86_400_000.0), Integer
    )


def _ms(started: datetime, ended: datetime) -> float:
    return (ended - started).total_seconds() * 1000


# --- searching ----------------------------------------------------------------------------------


def conditions(query: ExecutionQuery) -> list[ColumnElement[bool]]:
    """The WHERE conditions on ``workflow_executions`` for a query's filters."""
    e, s = t.executions, t.steps
    cond: list[ColumnElement[bool]] = []
    if query.status:
        cond.append(e.c.status.in_([x.value for x in query.status]))
    if query.workflow_id is not None:
        cond.append(e.c.workflow_id == query.workflow_id)
    if query.trigger is not None:
        cond.append(e.c.trigger == query.trigger)
    if query.parent_id is not None:
        cond.append(e.c.parent_id == query.parent_id)
    if query.created_after is not None:
        cond.append(e.c.created_at >= query.created_after)
    if query.created_before is not None:
        cond.append(e.c.created_at < query.created_before)
    if query.error_text is not None:
        in_step = exists().where(
            s.c.execution_id == e.c.id,
            contains(s.c.error["message"].as_string(), query.error_text),
        )
        cond.append(or_(contains(e.c.error["message"].as_string(), query.error_text), in_step))
    return cond


def _sort_key(dialect: str, field: str) -> ColumnElement[Any]:
    e = t.executions
    if field == "duration_ms":
        return duration_ms(dialect, e.c.started_at, e.c.ended_at)
    return e.c.ended_at if field == "ended_at" else e.c.created_at


def _after(
    key: ColumnElement[Any], value: SortValue, last_id: str, *, desc: bool, nullable: bool
) -> ColumnElement[bool]:
    """Rows after (value, last_id) in the order ``key [DESC] NULLS LAST, id [DESC]``."""
    id_ = t.executions.c.id

    def beyond(a: Any, b: Any) -> ColumnElement[bool]:
        return a < b if desc else a > b  # type: ignore[no-any-return]

    if value is None:
        return and_(key.is_(None), beyond(id_, last_id))
    later = or_(beyond(key, value), and_(key == value, beyond(id_, last_id)))
    if nullable:
        return or_(later, key.is_(None))
    # Redundant, but lets the database range-scan the index on the key.
    return and_(key <= value if desc else key >= value, later)


def search(conn: Connection, query: ExecutionQuery) -> ExecutionPage:
    """One page of the executions matching ``query``, without their steps."""
    e = t.executions
    field = query.sort_field
    key = _sort_key(conn.dialect.name, field)
    cond = conditions(query)
    if query.cursor is not None:
        value, last_id = decode_cursor(query.cursor, query.sort)
        nullable = field != "created_at"
        cond.append(_after(key, value, last_id, desc=query.descending, nullable=nullable))
    order = key.desc() if query.descending else key.asc()
    stmt = (
        select(e, key.label("sort_key"))
        .where(and_(true(), *cond))
        .order_by(order.nulls_last(), e.c.id.desc() if query.descending else e.c.id.asc())
        .limit(query.limit + 1)
    )
    rows = conn.execute(stmt).mappings().all()
    items = [_rows.execution_record(r) for r in rows[: query.limit]]
    next_cursor = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1]
        next_cursor = encode_cursor(query.sort, last["sort_key"], last["id"])
    return ExecutionPage(items=items, next_cursor=next_cursor)


# --- statistics ---------------------------------------------------------------------------------


def stats(conn: Connection, query: ExecutionQuery) -> ExecutionStats:
    """Counts by status, success rate and duration percentiles of the matching executions."""
    e = t.executions
    where = and_(true(), *conditions(query))
    by_status = {s.value: 0 for s in ExecutionStatus}
    for status, count in conn.execute(
        select(e.c.status, func.count()).where(where).group_by(e.c.status)
    ):
        by_status[status] = by_status.get(status, 0) + int(count)
    durations = [
        _ms(started, ended)
        for started, ended in conn.execute(
            select(e.c.started_at, e.c.ended_at)
            .where(
                where,
                e.c.status.in_(_TERMINAL),
                e.c.started_at.is_not(None),
                e.c.ended_at.is_not(None),
            )
            .order_by(e.c.created_at.desc(), e.c.id.desc())
            .limit(PERCENTILE_SAMPLE)
        )
    ]
    completed = by_status[ExecutionStatus.COMPLETED.value]
    unsuccessful = (
        by_status[ExecutionStatus.FAILED.value] + by_status[ExecutionStatus.CANCELLED.value]
    )
    return ExecutionStats(
        total=sum(by_status.values()),
        by_status=by_status,
        success_rate=success_rate(completed, unsuccessful),
        p50_ms=percentile(durations, 50),
        p95_ms=percentile(durations, 95),
    )


# --- deleting -----------------------------------------------------------------------------------


def delete(conn: Connection, ids: Sequence[str]) -> DeleteResult:
    """Delete the finished executions among ``ids`` with everything of theirs; keep the rest."""
    e = t.executions
    wanted = list(dict.fromkeys(ids))
    status: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = conn.execute(select(e.c.id, e.c.status).where(e.c.id.in_(chunk)))
        status.update((row.id, row.status) for row in rows)
    result = DeleteResult()
    for id_ in wanted:
        if id_ not in status:
            result.not_found.append(id_)
        elif ExecutionStatus(status[id_]).terminal:
            result.deleted.append(id_)
        else:
            result.unfinished.append(id_)
    for start in range(0, len(result.deleted), _CHUNK):
        _retention.delete_executions(conn, result.deleted[start : start + _CHUNK])
    return result


# --- performance --------------------------------------------------------------------------------


def performance(
    conn: Connection,
    *,
    workflow_id: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
) -> PerformanceReport:
    """Per workflow and per node type: volume, success, durations; the slowest steps; advice."""
    e = t.executions
    cond: list[ColumnElement[bool]] = []
    if workflow_id is not None:
        cond.append(e.c.workflow_id == workflow_id)
    if since is not None:
        cond.append(e.c.created_at >= since)
    where = and_(true(), *cond)
    workflows = _workflows(conn, where, since, now or utcnow())
    node_types = _node_types(conn, where)
    slowest = _slowest_steps(conn, where)
    return PerformanceReport(
        workflows=workflows,
        node_types=node_types,
        slowest_steps=slowest,
        recommendations=recommendations(workflows, node_types, slowest),
    )


def _workflows(
    conn: Connection, where: ColumnElement[bool], since: datetime | None, now: datetime
) -> list[WorkflowPerformance]:
    e = t.executions
    counts: dict[str, dict[str, int]] = {}
    window: dict[str, tuple[datetime, datetime]] = {}
    query = (
        select(e.c.workflow_id, e.c.status, func.count(), func.min(e.c.created_at),
               func.max(e.c.created_at))
        .where(where)
        .group_by(e.c.workflow_id, e.c.status)
    )  # fmt: skip
    for wf, status, count, first, last in conn.execute(query):
        counts.setdefault(wf, {})[status] = int(count)
        old = window.get(wf, (first, last))
        window[wf] = (min(old[0], first), max(old[1], last))
    durations: dict[str, list[float]] = {}
    for wf, started, ended in conn.execute(
        select(e.c.workflow_id, e.c.started_at, e.c.ended_at)
        .where(
            where,
            e.c.status.in_(_TERMINAL),
            e.c.started_at.is_not(None),
            e.c.ended_at.is_not(None),
        )
        .order_by(e.c.created_at.desc(), e.c.id.desc())
        .limit(PERCENTILE_SAMPLE)
    ):
        durations.setdefault(wf, []).append(_ms(started, ended))
    report = []
    for wf in sorted(counts):
        by_status = counts[wf]
        total = sum(by_status.values())
        first, last = (since, now) if since is not None else window[wf]
        failed = by_status.get("failed", 0) + by_status.get("cancelled", 0)
        report.append(
            WorkflowPerformance(
                workflow_id=wf,
                count=total,
                success_rate=success_rate(by_status.get("completed", 0), failed),
                p50_ms=percentile(durations.get(wf, []), 50),
                p95_ms=percentile(durations.get(wf, []), 95),
                throughput_per_min=throughput_per_min(total, first, last),
            )
        )
    return report


def _node_types(conn: Connection, where: ColumnElement[bool]) -> list[NodeTypePerformance]:
    e, s = t.executions, t.steps
    ran = and_(where, s.c.status.in_(_RAN))
    counts: dict[str, dict[str, int]] = {}
    for node_type, status, count in conn.execute(
        select(s.c.node_type, s.c.status, func.count())
        .join(e, e.c.id == s.c.execution_id)
        .where(ran)
        .group_by(s.c.node_type, s.c.status)
    ):
        counts.setdefault(node_type, {})[status] = int(count)
    durations: dict[str, list[float]] = {}
    for node_type, started, ended in conn.execute(
        select(s.c.node_type, s.c.started_at, s.c.ended_at)
        .join(e, e.c.id == s.c.execution_id)
        .where(ran, s.c.started_at.is_not(None), s.c.ended_at.is_not(None))
        .order_by(s.c.ended_at.desc(), s.c.execution_id.desc(), s.c.node_id.desc())
        .limit(PERCENTILE_SAMPLE)
    ):
        durations.setdefault(node_type, []).append(_ms(started, ended))
    report = []
    for node_type in sorted(counts):
        completed = counts[node_type].get(StepStatus.COMPLETED.value, 0)
        failed = counts[node_type].get(StepStatus.FAILED.value, 0)
        values = durations.get(node_type, [])
        report.append(
            NodeTypePerformance(
                node_type=node_type,
                count=completed + failed,
                success_rate=success_rate(completed, failed),
                p50_ms=percentile(values, 50),
                p95_ms=percentile(values, 95),
                failures=failed,
            )
        )
    return report


def _slowest_steps(conn: Connection, where: ColumnElement[bool]) -> list[SlowStep]:
    e, s = t.executions, t.steps
    key = duration_ms(conn.dialect.name, s.c.started_at, s.c.ended_at)
    query = (
        select(s.c.execution_id, e.c.workflow_id, s.c.node_id, s.c.node_type, s.c.started_at,
               s.c.ended_at)
        .join(e, e.c.id == s.c.execution_id)
        .where(where, s.c.started_at.is_not(None), s.c.ended_at.is_not(None))
        .order_by(key.desc(), s.c.execution_id, s.c.node_id)
        .limit(SLOWEST_STEPS)
    )  # fmt: skip
    steps = [
        SlowStep(
            execution_id=row.execution_id,
            workflow_id=row.workflow_id,
            node_id=row.node_id,
            node_type=row.node_type,
            # From the exact timestamps (SQLite's julianday arithmetic is only ~0.1 ms precise).
            duration_ms=round(_ms(row.started_at, row.ended_at)),
        )
        for row in conn.execute(query)
    ]
    steps.sort(key=lambda x: (-x.duration_ms, x.execution_id, x.node_id))
    return steps
