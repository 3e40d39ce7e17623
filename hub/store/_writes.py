"""Applying a batch of :data:`hub.records.StoreWrite` commands inside one transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table, Update, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.errors import StoreError
from hub.records import (
    AppendAudit,
    AppendEvent,
    CreateExecution,
    Event,
    ExecutionRecord,
    StoreWrite,
    UpdateExecution,
    UpsertStep,
)
from hub.store import _rows
from hub.store import _schema as t

STEP_KEY = ("execution_id", "node_id")


def apply_writes(conn: Connection, writes: Sequence[StoreWrite]) -> None:
    """Apply ``writes`` as if one by one, in order, but with a handful of bulk statements.

    Reordering by kind is safe because the kinds touch disjoint state: execution rows are
    created first (steps reference them), then each execution gets one UPDATE merging its
    updates in order (later fields win), each step one upsert (the last write of a step wins,
    steps embedded in a CreateExecution included), and events, logs and audit entries are plain
    inserts (audit entries numbered in the order written).
    """
    creates: list[CreateExecution] = []
    updates: dict[str, dict[str, Any]] = {}
    steps: dict[tuple[str, str], dict[str, Any]] = {}
    events: list[Event] = []
    audit: list[dict[str, Any]] = []
    for write in writes:
        if isinstance(write, CreateExecution):
            creates.append(write)
            for step in write.record.steps:
                steps[(write.record.id, step.node_id)] = _rows.step_row(write.record.id, step)
        elif isinstance(write, UpdateExecution):
            _merge_update(updates.setdefault(write.execution_id, {}), write)
        elif isinstance(write, UpsertStep):
            key = (write.execution_id, write.step.node_id)
            steps[key] = _rows.step_row(write.execution_id, write.step)
        elif isinstance(write, AppendEvent):
            events.append(write.event)
        elif isinstance(write, AppendAudit):
            audit.append(_rows.audit_row(write.entry))
        else:
            raise StoreError(f"unknown store write {type(write).__name__}")
    if creates:
        _create_executions(conn, [w.record for w in creates])
    if updates:
        _update_executions(conn, updates)
    if steps:
        upsert(conn, t.steps, list(steps.values()), STEP_KEY)
    if events:
        _append_events(conn, events)
    for row in audit:  # one by one: a bulk insert need not number rows in order
        conn.execute(t.audit_log.insert(), [row])


def upsert(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    *,
    replace: Sequence[str] | None = None,
) -> None:
    """Insert ``rows``, replacing the non-key columns (or just ``replace``) of rows that
    already exist."""
    if not rows:
        return
    columns = [c for c in rows[0] if c not in keys] if replace is None else list(replace)
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        conn.execute(_upsert_statement(dialect, table, tuple(keys), tuple(columns)), rows)
        return
    for row in rows:  # any other database: update, then insert what was missing
        cond = [table.c[k] == row[k] for k in keys]
        result = conn.execute(update(table).where(*cond).values({c: row[c] for c in columns}))
        if result.rowcount == 0:
            conn.execute(table.insert(), [row])


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]
) -> Insert:
    # Built once: constructing ``excluded`` is surprisingly costly.
    ins = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return ins.on_conflict_do_update(
        index_elements=list(keys), set_={c: ins.excluded[c] for c in columns}
    )


def _create_executions(conn: Connection, records: list[ExecutionRecord]) -> None:
    keys: dict[str, str] = {}
    for record in records:
        key = record.idempotency_key
        if key is None:
            continue
        if key in keys:
            raise StoreError(
                f"idempotency key {key!r} is used by both execution {keys[key]} "
                f"and execution {record.id}"
            )
        keys[key] = record.id
    if keys:
        taken = conn.execute(
            select(t.executions.c.idempotency_key, t.executions.c.id).where(
                t.executions.c.idempotency_key.in_(list(keys))
            )
        ).first()
        if taken is not None:
            key, owner = taken
            raise StoreError(
                f"idempotency key {key!r} is already used by execution {owner}",
                details={"idempotency_key": key, "execution_id": owner},
            )
    conn.execute(t.executions.insert(), [_rows.execution_row(r) for r in records])


def merged_update(writes: Sequence[UpdateExecution]) -> dict[str, Any]:
    """An execution's updates as the columns they change, in order (later fields win)."""
    fields: dict[str, Any] = {}
    for write in writes:
        _merge_update(fields, write)
    return fields


def _merge_update(fields: dict[str, Any], w: UpdateExecution) -> None:
    if w.status is not None:
        fields["status"] = w.status.value
    if w.started_at is not None:
        fields["started_at"] = w.started_at
    if w.ended_at is not None:
        fields["ended_at"] = w.ended_at
    if w.error is not None:
        fields["error"] = w.error.model_dump(mode="json")
    if w.outputs is not None:
        fields["outputs"] = w.outputs


def _update_executions(conn: Connection, changes: dict[str, dict[str, Any]]) -> None:
    """One executemany UPDATE per set of columns changed (a batch of runs that ended changes
    the same ones), not one statement per execution; an execution that does not exist fails
    the batch as a single UPDATE of it would."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    unchanged: list[str] = []
    for execution_id, fields in changes.items():
        if not fields:
            unchanged.append(execution_id)
            continue
        columns = tuple(sorted(fields))
        row = {"_id": execution_id, **{f"_v_{c}": fields[c] for c in columns}}
        groups.setdefault(columns, []).append(row)
    for columns, rows in groups.items():
        count = conn.execute(_update_statement(columns), rows).rowcount
        if count != len(rows) or not conn.dialect.supports_sane_multi_rowcount:
            _check_exist(conn, [row["_id"] for row in rows])
    if unchanged:
        _check_exist(conn, unchanged)


@functools.lru_cache(maxsize=64)
def _update_statement(columns: tuple[str, ...]) -> Update:
    e = t.executions
    values = {c: bindparam(f"_v_{c}", type_=e.c[c].type) for c in columns}
    return update(e).where(e.c.id == bindparam("_id")).values(values)


def _check_exist(conn: Connection, execution_ids: list[str]) -> None:
    e = t.executions
    found = set(conn.execute(select(e.c.id).where(e.c.id.in_(execution_ids))).scalars())
    for execution_id in execution_ids:
        if execution_id not in found:
            raise StoreError(
                f"cannot update execution {execution_id}: it does not exist",
                details={"execution_id": execution_id},
            )


def number_events(events: Sequence[Event], current_max: Callable[[str], int]) -> None:
    """Give the events that have no number yet (seq 0) the next numbers of their execution,
    after ``current_max`` (the highest stored, read inside the writing transaction) and any
    numbered event of the same execution in this batch. A runner numbers its own events (its
    journal); everything else (the supervisor's, the desktop's) is numbered here."""
    highest: dict[str, int] = {}
    for event in events:
        if event.seq >= 1:
            highest[event.execution_id] = max(highest.get(event.execution_id, 0), event.seq)
    read: set[str] = set()
    for event in events:
        if event.seq < 1:
            execution_id = event.execution_id
            if execution_id not in read:
                read.add(execution_id)
                stored = current_max(execution_id)
                highest[execution_id] = max(highest.get(execution_id, 0), stored)
            highest[execution_id] += 1
            event.seq = highest[execution_id]


def _append_events(conn: Connection, events: list[Event]) -> None:
    if any(e.seq < 1 for e in events):
        ev = t.events
        unnumbered = sorted({e.execution_id for e in events if e.seq < 1})
        if conn.dialect.name != "sqlite":  # SQLite's writers are serial already
            # The execution rows' locks: a runner storing its own events waits, or this for it.
            e = t.executions
            conn.execute(select(e.c.id).where(e.c.id.in_(unnumbered)).with_for_update())

        def current_max(execution_id: str) -> int:
            query = select(func.max(ev.c.seq)).where(ev.c.execution_id == execution_id)
            return int(conn.execute(query).scalar() or 0)

        number_events(events, current_max)
    conn.execute(t.events.insert(), [_rows.event_row(e) for e in events])
    log_rows = [_rows.log_row(e) for e in events if e.type == "log"]
    if log_rows:
        conn.execute(t.logs.insert(), log_rows)
