"""Retention: pruning old executions and audit entries in short batches, and giving the space
back (SQLite).

Only terminal executions (completed, failed, cancelled) are ever deleted, together with their
steps, events, logs and metrics. Each batch is its own short write transaction, so a prune of a
large history never holds the write lock (SQLite) or row locks (PostgreSQL) for long while the
runtime keeps recording.

The audit log follows the same retention settings (:func:`audit_limits`): entries older than
the age limit go; with a count limit, the newest ``AUDIT_ENTRIES_PER_EXECUTION`` times that many
entries stay (a run start writes one entry, and a handful of other calls act on a run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, delete, func, select

from hub.errors import StoreError
from hub.records import ExecutionStatus
from hub.store import _schema as t
from hub.store._db import translate

_log = logging.getLogger(__name__)

TERMINAL = tuple(s.value for s in ExecutionStatus if s.terminal)
DEFAULT_BATCH_SIZE = 500
# The Recorder may still be writing an execution's last events just after it ends; deleting it
# then would leave those rows behind (events and logs have no foreign key). Wait this long.
SETTLE_S = 60.0
AUTO_VACUUM_INCREMENTAL = 2
# Pages freed per write transaction by an incremental vacuum (4 MiB with 4 KiB pages).
_VACUUM_CHUNK_PAGES = 1000
# With ``retention_max_executions = N``, the audit log keeps its newest 10 * N entries.
AUDIT_ENTRIES_PER_EXECUTION = 10

Transaction = Callable[[], AbstractContextManager[Connection]]


# --- pruning ------------------------------------------------------------------------------------


def prune(
    write_tx: Transaction,
    *,
    cutoff: datetime | None = None,
    keep: int | None = None,
    settled_before: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Delete terminal executions that ended before ``cutoff`` and/or all but the newest ``keep``.

    With both, an execution goes when either limit says so. ``keep`` counts terminal
    executions only (by ``created_at``): queued, running and paused ones are never deleted and
    do not use up the quota, so a busy runtime cannot push finished history out. An execution
    that never recorded ``ended_at`` is judged by ``created_at``; none that ended at or after
    ``settled_before`` is deleted. ``write_tx`` opens one write transaction; each batch of
    ``batch_size`` executions gets its own. Returns how many executions were deleted.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if keep is not None and keep < 0:
        raise ValueError(f"keep must not be negative, got {keep}")
    deleted = 0
    if cutoff is not None:
        oldest = min(cutoff, settled_before)
        deleted += _in_batches(write_tx, lambda conn: _oldest_settled(oldest, batch_size))
    if keep is not None:
        deleted += _in_batches(
            write_tx, lambda conn: _beyond_newest(conn, keep, settled_before, batch_size)
        )
    return deleted


def _in_batches(write_tx: Transaction, batch: Callable[[Connection], Select[Any] | None]) -> int:
    deleted = 0
    while True:
        with write_tx() as conn:
            query = batch(conn)
            ids = [] if query is None else list(conn.execute(query).scalars())
            count = delete_executions(conn, ids)
        deleted += count
        if count == 0:
            return deleted


def _oldest_settled(ended_before: datetime, limit: int) -> Select[Any]:
    """The oldest terminal executions that ended (else were created) before ``ended_before``."""
    e = t.executions
    return (
        select(e.c.id)
        .where(
            e.c.status.in_(TERMINAL),
            # ended_at >= created_at, so every match was also created before: that condition
            # lets the created_at index narrow the scan.
            e.c.created_at < ended_before,
            func.coalesce(e.c.ended_at, e.c.created_at) < ended_before,
        )
        .order_by(e.c.created_at, e.c.id)
        .limit(limit)
        # PostgreSQL: the batch's rows cannot change until it commits, and rows another
        # transaction holds are skipped, left for a later prune rather than waited for.
        # SQLite renders nothing: BEGIN IMMEDIATE already serialises writers.
        .with_for_update(skip_locked=True)
    )


def _beyond_newest(
    conn: Connection, keep: int, settled_before: datetime, limit: int
) -> Select[Any] | None:
    e = t.executions
    total = conn.execute(
        select(func.count()).select_from(e).where(e.c.status.in_(TERMINAL))
    ).scalar_one()
    excess = int(total) - keep
    return _oldest_settled(settled_before, min(limit, excess)) if excess > 0 else None


def delete_executions(conn: Connection, ids: list[str]) -> int:
    """Delete executions and every row that belongs to them; returns executions deleted."""
    if not ids:
        return 0
    # Events, logs and metrics have no foreign key to cascade from; steps do, but deleting them
    # here does not depend on SQLite's foreign_keys pragma being on.
    for table in (t.events, t.logs, t.metrics, t.steps):
        conn.execute(delete(table).where(table.c.execution_id.in_(ids)))
    result = conn.execute(delete(t.executions).where(t.executions.c.id.in_(ids)))
    return int(result.rowcount)


# --- the audit log ------------------------------------------------------------------------------


def audit_limits(max_executions: int | None) -> int | None:
    """How many audit entries the retention limit ``max_executions`` keeps (None: no cap)."""
    return None if max_executions is None else max_executions * AUDIT_ENTRIES_PER_EXECUTION


def prune_audit(
    write_tx: Transaction,
    *,
    cutoff: datetime | None = None,
    keep: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Delete audit entries written before ``cutoff`` and/or all but the newest ``keep``.

    With both, an entry goes when either limit says so. Newest means the largest id (the order
    entries were written in). Each batch of ``batch_size`` entries is its own write
    transaction. Returns how many entries were deleted.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if keep is not None and keep < 0:
        raise ValueError(f"keep must not be negative, got {keep}")
    a = t.audit_log
    deleted = 0
    if cutoff is not None:
        older = select(a.c.id).where(a.c.ts < cutoff).order_by(a.c.id).limit(batch_size)
        deleted += _audit_batches(write_tx, lambda conn: older)
    if keep is not None:
        deleted += _audit_batches(write_tx, lambda conn: _audit_beyond(conn, keep, batch_size))
    return deleted


def _audit_beyond(conn: Connection, keep: int, limit: int) -> Select[Any] | None:
    """The oldest entries below the newest ``keep`` (None when there are no more)."""
    a = t.audit_log
    if keep == 0:
        return select(a.c.id).order_by(a.c.id).limit(limit)
    oldest_kept = conn.execute(
        select(a.c.id).order_by(a.c.id.desc()).offset(keep - 1).limit(1)
    ).scalar()
    if oldest_kept is None:
        return None
    return select(a.c.id).where(a.c.id < oldest_kept).order_by(a.c.id).limit(limit)


def _audit_batches(write_tx: Transaction, batch: Callable[[Connection], Select[Any] | None]) -> int:
    a = t.audit_log
    deleted = 0
    while True:
        with write_tx() as conn:
            query = batch(conn)
            ids = [] if query is None else list(conn.execute(query).scalars())
            count = int(conn.execute(delete(a).where(a.c.id.in_(ids))).rowcount) if ids else 0
        deleted += count
        if count == 0:
            return deleted


# --- giving space back (SQLite) -----------------------------------------------------------------


def _is_sqlite_file(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


@contextmanager
def _raw_cursor(engine: Engine, what: str) -> Iterator[Any]:
    """A DB-API cursor in autocommit mode: VACUUM and checkpoints refuse to run in a transaction."""
    try:
        raw = engine.raw_connection()
    except Exception as exc:
        raise translate(engine.url, exc, what) from exc
    try:
        raw.driver_connection.isolation_level = None  # type: ignore[union-attr]
        cursor = raw.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
    except StoreError:
        raise
    except engine.dialect.loaded_dbapi.Error as exc:
        raise translate(engine.url, exc, what) from exc
    finally:
        raw.close()


def ensure_incremental_vacuum(engine: Engine) -> bool:
    """Switch an existing SQLite file to ``auto_vacuum=INCREMENTAL``; True when it switched.

    New databases get the mode from the connect hook, but SQLite only changes it for a database
    that already has tables by rebuilding the file with ``VACUUM``: done once, here. A failure
    (say, the database is busy) is logged and tried again the next time the store opens; the
    store works either way, it only cannot give space back until then.
    """
    if not _is_sqlite_file(engine):
        return False
    try:
        with _raw_cursor(engine, "enabling incremental vacuum") as cursor:
            mode = cursor.execute("PRAGMA auto_vacuum").fetchone()[0]
            if mode == AUTO_VACUUM_INCREMENTAL:
                return False
            cursor.execute(f"PRAGMA auto_vacuum = {AUTO_VACUUM_INCREMENTAL}")
            cursor.execute("VACUUM")
            return True
    except StoreError as exc:
        _log.warning("could not enable incremental vacuum (will retry on next open): %s", exc)
        return False


def freelist_count(conn: Connection) -> int:
    """Free pages in a SQLite file (0 elsewhere)."""
    if conn.dialect.name != "sqlite":
        return 0
    return int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())


def vacuum(write_tx: Transaction, engine: Engine, pages: int | None = None) -> int:
    """Give up to ``pages`` free pages (None: all) back to the file system; returns pages freed.

    SQLite only (a no-op elsewhere: PostgreSQL's autovacuum reuses space by itself).
    """
    if not _is_sqlite_file(engine):
        return 0
    freed = 0
    while pages is None or freed < pages:
        step = _VACUUM_CHUNK_PAGES if pages is None else min(_VACUUM_CHUNK_PAGES, pages - freed)
        with write_tx() as conn:
            before = freelist_count(conn)
            # Python's sqlite3 steps a PRAGMA once, and incremental_vacuum frees one page per
            # step whatever N says; so one page per statement, in one transaction per chunk.
            for _ in range(min(step, before)):
                conn.exec_driver_sql("PRAGMA incremental_vacuum(1)")
            done = before - freelist_count(conn)
        freed += done
        if done < step:
            break
    if freed:
        # In WAL mode the moved pages sit in the -wal file until a checkpoint; TRUNCATE also
        # shrinks that file. It waits for readers at most the busy timeout, then gives up quietly.
        with _raw_cursor(engine, "checkpointing the write-ahead log") as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return freed
