"""Retention: pruning finished executions in batches and giving the space back (SQLite)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from hub.records import (
    AppendAudit,
    AppendEvent,
    AuditEntry,
    CreateExecution,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    StoreWrite,
)
from hub.store import Store
from hub.store import _schema as t
from tests.unit.test_store import db_url  # noqa: F401 -- the SQLite/PostgreSQL fixture

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY_S = 86_400.0
CHILD_TABLES = (t.steps, t.events, t.logs, t.metrics)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:  # noqa: F811 -- db_url is the imported fixture
    s = Store(db_url)
    yield s
    s.close()


def history(
    id: str,
    status: ExecutionStatus,
    *,
    created_days_ago: float,
    ended_days_ago: float | None = None,
    payload: str = "x",
) -> list[StoreWrite]:
    """An execution with a step, an event and a log line (metrics are added by seed())."""
    created = NOW - timedelta(days=created_days_ago)
    record = ExecutionRecord(
        id=id,
        workflow_id="wf",
        workflow_version="1",
        status=status,
        created_at=created,
        ended_at=None if ended_days_ago is None else NOW - timedelta(days=ended_days_ago),
        steps=[StepRecord(node_id="a", node_type="http", status=StepStatus.COMPLETED)],
    )
    return [
        CreateExecution(record=record),
        AppendEvent(event=Event(execution_id=id, seq=1, type="step_started", ts=created)),
        AppendEvent(
            event=Event(
                execution_id=id,
                seq=2,
                type="log",
                ts=created,
                data={"level": "info", "message": payload},
            )
        ),
    ]


def seed(store: Store, writes: list[StoreWrite]) -> None:
    store.apply(writes)
    ids = [w.record.id for w in writes if isinstance(w, CreateExecution)]
    rows = [
        {"execution_id": i, "name": "duration_ms", "value": 1.0, "tags": {}, "ts": NOW} for i in ids
    ]
    with store._engine.begin() as conn:
        conn.execute(t.metrics.insert(), rows)


def remaining(store: Store) -> set[str]:
    return {e.id for e in store.list_executions(limit=10_000)}


def rows_of(store: Store, ids: set[str]) -> dict[str, int]:
    """How many child rows (steps, events, logs, metrics) the executions ``ids`` still have."""
    with store._engine.connect() as conn:
        return {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.execution_id.in_(ids))
            ).scalar_one()
            for table in CHILD_TABLES
        }


# --- prune ----------------------------------------------------------------------------------------


def test_prune_by_age_deletes_old_finished_executions_and_everything_of_theirs(
    store: Store,
) -> None:
    S = ExecutionStatus
    seed(
        store,
        [
            *history("old-completed", S.COMPLETED, created_days_ago=40, ended_days_ago=40),
            *history("old-failed", S.FAILED, created_days_ago=40, ended_days_ago=39),
            *history("old-cancelled", S.CANCELLED, created_days_ago=31, ended_days_ago=31),
            *history("old-no-end", S.FAILED, created_days_ago=35),  # judged by created_at
            *history("old-running", S.RUNNING, created_days_ago=90),
            *history("old-queued", S.QUEUED, created_days_ago=90),
            *history("old-paused", S.PAUSED, created_days_ago=90),
            *history("ended-lately", S.COMPLETED, created_days_ago=40, ended_days_ago=29),
            *history("new", S.COMPLETED, created_days_ago=1, ended_days_ago=1),
        ],
    )
    deleted = store.prune(max_age_s=30 * DAY_S, now=NOW)
    gone = {"old-completed", "old-failed", "old-cancelled", "old-no-end"}
    kept = {"old-running", "old-queued", "old-paused", "ended-lately", "new"}
    assert deleted == 4
    assert remaining(store) == kept
    assert rows_of(store, gone) == {table.name: 0 for table in CHILD_TABLES}
    assert rows_of(store, kept) == {table.name: len(kept) for table in CHILD_TABLES} | {
        "execution_events": 2 * len(kept),
        "execution_logs": len(kept),
    }
    assert store.events_after("new")[0].type == "step_started"
    assert store.prune(max_age_s=30 * DAY_S, now=NOW) == 0


def test_prune_keeps_the_newest_finished_executions(store: Store) -> None:
    S = ExecutionStatus
    writes: list[StoreWrite] = []
    for i in range(10):
        writes += history(f"done-{i}", S.COMPLETED, created_days_ago=100 - i, ended_days_ago=1)
    # Unfinished executions, old and new, are neither deleted nor counted against the quota.
    writes += history("running-old", S.RUNNING, created_days_ago=200)
    writes += history("queued-new", S.QUEUED, created_days_ago=0)
    seed(store, writes)
    assert store.prune(max_count=3, now=NOW) == 7
    assert remaining(store) == {"done-7", "done-8", "done-9", "running-old", "queued-new"}
    assert rows_of(store, {f"done-{i}" for i in range(7)})["execution_logs"] == 0
    assert store.prune(max_count=3) == 0
    assert store.prune(max_count=0) == 3
    assert remaining(store) == {"running-old", "queued-new"}


def test_prune_with_both_limits_deletes_what_either_says(store: Store) -> None:
    S = ExecutionStatus
    writes: list[StoreWrite] = []
    for i in range(5):
        writes += history(f"recent-{i}", S.COMPLETED, created_days_ago=5 - i, ended_days_ago=4 - i)
    writes += history("ancient", S.FAILED, created_days_ago=400, ended_days_ago=400)
    seed(store, writes)
    # "ancient" is within the newest 10 but too old; recent-0 and -1 are young but beyond 3.
    assert store.prune(max_age_s=30 * DAY_S, max_count=10, now=NOW) == 1
    assert store.prune(max_age_s=30 * DAY_S, max_count=3, now=NOW) == 2
    assert remaining(store) == {"recent-2", "recent-3", "recent-4"}


def test_prune_leaves_executions_that_just_ended(store: Store) -> None:
    seconds = 1 / DAY_S
    seed(
        store,
        [
            *history(
                "just-ended",
                ExecutionStatus.COMPLETED,
                created_days_ago=5,
                ended_days_ago=10 * seconds,
            ),
            *history(
                "ended-2-min-ago",
                ExecutionStatus.FAILED,
                created_days_ago=1,
                ended_days_ago=120 * seconds,
            ),
        ],
    )
    # The runtime may still be writing the last events of the first: it stays, whatever limits.
    assert store.prune(max_age_s=0, max_count=0, now=NOW) == 1
    assert remaining(store) == {"just-ended"}
    assert store.prune(max_count=0, now=NOW + timedelta(minutes=1)) == 1


def test_prune_works_in_short_transactions_of_one_batch_each(store: Store) -> None:
    writes: list[StoreWrite] = []
    for i in range(25):
        writes += history(f"e-{i:02d}", ExecutionStatus.COMPLETED, created_days_ago=50 + i)
    seed(store, writes)
    commits: list[int] = []
    event.listen(store._engine, "commit", lambda conn: commits.append(1))
    assert store.prune(max_age_s=DAY_S, batch_size=4, now=NOW) == 25
    # 7 batches of at most 4 (25 = 6 * 4 + 1), then one that finds nothing left.
    assert len(commits) == 8
    assert remaining(store) == set()


def test_prune_refuses_nonsense_and_does_nothing_without_limits(store: Store) -> None:
    seed(store, history("e", ExecutionStatus.COMPLETED, created_days_ago=500))
    assert store.prune(now=NOW) == 0
    with pytest.raises(ValueError, match="batch_size"):
        store.prune(max_count=0, batch_size=0)
    with pytest.raises(ValueError, match="max_age_s"):
        store.prune(max_age_s=-1)
    with pytest.raises(ValueError, match="keep"):
        store.prune(max_count=-1)
    assert remaining(store) == {"e"}


# --- the audit log --------------------------------------------------------------------------------


def audit(store: Store, *days_ago: float) -> None:
    """One audit entry per age, oldest first (as the runtime writes them: in time order)."""
    store.apply(
        [
            AppendAudit(
                entry=AuditEntry(
                    ts=NOW - timedelta(days=d), actor="token@127.0.0.1", action=f"act-{d:g}"
                )
            )
            for d in days_ago
        ]
    )


def audit_actions(store: Store) -> list[str]:
    return [e.action for e in store.audit_entries(limit=1000)][::-1]  # oldest first


def test_audit_entries_older_than_the_retention_age_are_pruned(store: Store) -> None:
    audit(store, 90, 40, 31, 29, 1, 0)
    assert store.prune_audit(max_age_s=30 * DAY_S, now=NOW) == 3
    assert audit_actions(store) == ["act-29", "act-1", "act-0"]
    assert store.prune_audit(max_age_s=30 * DAY_S, now=NOW) == 0


def test_audit_log_keeps_ten_entries_per_execution_kept(store: Store) -> None:
    audit(store, *range(45, 0, -1))  # 45 entries, one a day
    # retention_max_executions = 3: the newest 30 entries stay, whatever their age.
    assert store.prune_audit(max_executions=3, now=NOW) == 15
    assert audit_actions(store) == [f"act-{d}" for d in range(30, 0, -1)]
    assert store.prune_audit(max_executions=3, now=NOW) == 0
    assert store.prune_audit(max_executions=0, now=NOW) == 30
    assert audit_actions(store) == []


def test_audit_pruning_with_both_limits_deletes_what_either_says(store: Store) -> None:
    audit(store, *range(25, 0, -1))
    assert store.prune_audit(max_age_s=20.5 * DAY_S, max_executions=3, now=NOW) == 5
    assert store.prune_audit(max_age_s=20.5 * DAY_S, max_executions=1, now=NOW) == 10
    assert audit_actions(store) == [f"act-{d}" for d in range(10, 0, -1)]


def test_audit_pruning_works_in_short_batches_and_refuses_nonsense(store: Store) -> None:
    audit(store, *range(9, 0, -1))
    assert store.prune_audit(now=NOW) == 0  # no limits: nothing goes
    with pytest.raises(ValueError, match="max_age_s"):
        store.prune_audit(max_age_s=-1)
    with pytest.raises(ValueError, match="max_executions"):
        store.prune_audit(max_executions=-1)
    with pytest.raises(ValueError, match="batch_size"):
        store.prune_audit(max_age_s=0, batch_size=0)
    commits: list[int] = []
    event.listen(store._engine, "commit", lambda conn: commits.append(1))
    assert store.prune_audit(max_age_s=0, batch_size=4, now=NOW) == 9
    assert len(commits) == 4  # batches of 4, 4 and 1, then one that finds nothing left
    assert audit_actions(store) == []


# --- vacuum ---------------------------------------------------------------------------------------


def sqlite_pragma(path: Path, name: str) -> Any:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def test_new_sqlite_stores_vacuum_incrementally(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'hub.db'}"):
        pass
    assert sqlite_pragma(tmp_path / "hub.db", "auto_vacuum") == 2  # INCREMENTAL


def test_opening_a_store_writes_nothing_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with Store(f"sqlite:///{path}") as s:
        seed(s, history("e", ExecutionStatus.COMPLETED, created_days_ago=1))
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the runtime, mid-batch
    try:
        with Store(f"sqlite:///{path}") as s:
            assert remaining(s) == {"e"}
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_existing_sqlite_store_is_switched_to_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with Store(f"sqlite:///{path}") as s:
        seed(s, history("kept", ExecutionStatus.COMPLETED, created_days_ago=1))
    # A database made before auto_vacuum was set: mode NONE.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA auto_vacuum = NONE")
    conn.execute("VACUUM")
    conn.close()
    assert sqlite_pragma(path, "auto_vacuum") == 0
    with Store(f"sqlite:///{path}") as s:
        assert sqlite_pragma(path, "auto_vacuum") == 2
        assert remaining(s) == {"kept"}
        assert sqlite_pragma(path, "journal_mode") == "wal"


def test_vacuum_after_prune_gives_the_space_back(store: Store) -> None:
    writes: list[StoreWrite] = []
    for i in range(300):
        writes += history(
            f"e-{i:03d}", ExecutionStatus.COMPLETED, created_days_ago=100, payload="x" * 4000
        )
    writes += history("kept", ExecutionStatus.COMPLETED, created_days_ago=1, payload="y")
    seed(store, writes)
    assert store.prune(max_age_s=30 * DAY_S, now=NOW) == 300
    if store.dialect != "sqlite":
        store.vacuum()  # a no-op on PostgreSQL: its autovacuum reuses the space
        assert remaining(store) == {"kept"}
        return
    path = Path(store._engine.url.database or "")

    def freelist() -> int:
        with store._engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())

    def disk_size() -> int:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))

    free = freelist()
    assert free > 250  # the 300 pruned log lines of 4 KB each left their pages free
    store.vacuum(pages=10)
    assert freelist() == free - 10
    size = disk_size()
    store.vacuum()
    assert freelist() == 0
    assert disk_size() < size - 200 * 4096
    assert [e.message for e in store.logs("kept")] == ["y"]
    store.vacuum()  # nothing left to free: fine
