"""hub.store on SQLite and PostgreSQL (the server at 127.0.0.1:5432 is part of this machine)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from hub.errors import Conflict, InvalidRequest, NotFound, StoreError
from hub.records import (
    AppendEvent,
    CreateExecution,
    ErrorInfo,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    StoreWrite,
    UpdateExecution,
    UpsertStep,
    WorkflowRecord,
)
from hub.store import Store, database_url_from_env, migrate
from hub.store._schema import metadata

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
TABLES = {
    "workflows",
    "workflow_executions",
    "step_executions",
    "execution_events",
    "execution_logs",
    "execution_metrics",
    "saved_inputs",
    "settings",
    "credentials",
    "audit_log",
    "trigger_states",
}


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a throwaway schema on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        # No skip: an unreachable server makes these tests fail.
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


def execution(
    id: str = "exec-000001",
    *,
    workflow_id: str = "wf",
    status: ExecutionStatus = ExecutionStatus.QUEUED,
    created_at: datetime = T0,
    **kw: Any,
) -> ExecutionRecord:
    return ExecutionRecord(
        id=id,
        workflow_id=workflow_id,
        workflow_version="1",
        status=status,
        created_at=created_at,
        **kw,
    )


def step(node_id: str, status: StepStatus = StepStatus.RUNNING, **kw: Any) -> StepRecord:
    return StepRecord(node_id=node_id, node_type="http", status=status, **kw)


def event(execution_id: str, seq: int, type: str = "step_started", **kw: Any) -> AppendEvent:
    return AppendEvent(
        event=Event(execution_id=execution_id, seq=seq, type=type, ts=T0, **kw),
    )


def log(execution_id: str, seq: int, level: str, message: str, **data: Any) -> AppendEvent:
    return AppendEvent(
        event=Event(
            execution_id=execution_id,
            seq=seq,
            type="log",
            ts=T0 + timedelta(seconds=seq),
            node_id=data.pop("node_id", None),
            data={"level": level, "message": message, **data},
        )
    )


def workflow(id: str = "wf", version: str = "1", **kw: Any) -> WorkflowRecord:
    kw.setdefault("definition", {"id": id, "version": version, "nodes": [{"id": "a"}]})
    return WorkflowRecord(id=id, version=version, **kw)


# --- schema and migrations ------------------------------------------------------------------------


def test_migration_creates_the_schema_of_the_models(db_url: str) -> None:
    migrate(db_url)
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == TABLES | {"alembic_version"}
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert diff == []
            assert MigrationContext.configure(conn).get_current_revision() == "0004"
            uniques = inspect(conn).get_unique_constraints("workflow_executions")
            assert [u["column_names"] for u in uniques] == [["idempotency_key"]]
    finally:
        engine.dispose()


def test_migrate_twice_is_a_no_op(db_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)  # no reliance on the working directory
    migrate(db_url)
    with Store(db_url, migrate=False) as s:
        s.apply([CreateExecution(record=execution())])
    migrate(db_url)
    with Store(db_url) as s:  # migrates again on open
        assert s.get_execution("exec-000001").id == "exec-000001"


def test_sqlite_pragmas(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'hub.db'}") as s, s._engine.connect() as conn:
        pragma = conn.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA busy_timeout").scalar() == 10_000
        assert pragma("PRAGMA foreign_keys").scalar() == 1


# --- timestamps -----------------------------------------------------------------------------------


def test_timestamps_round_trip_timezone_aware(store: Store) -> None:
    plus5 = timezone(timedelta(hours=5))
    created = datetime(2025, 3, 1, 17, 30, 15, 123456, tzinfo=plus5)
    naive = datetime(2025, 3, 1, 13, 0)  # noqa: DTZ001 -- naive values are taken as UTC
    store.apply(
        [
            CreateExecution(record=execution(created_at=created, started_at=naive)),
            UpsertStep(execution_id="exec-000001", step=step("a", started_at=created)),
        ]
    )
    got = store.get_execution("exec-000001")
    assert got.created_at == created
    assert got.created_at.utcoffset() == timedelta(0)
    assert got.created_at.isoformat() == "2025-03-01T12:30:15.123456+00:00"
    assert got.started_at == naive.replace(tzinfo=UTC)
    assert got.steps[0].started_at == created
    assert got.steps[0].started_at is not None and got.steps[0].started_at.tzinfo is not None


# --- apply ----------------------------------------------------------------------------------------


def test_apply_mixed_batch(store: Store) -> None:
    error = ErrorInfo(message="boom", category="timeout", attempts=3, node_id="b")
    writes: list[StoreWrite] = [
        CreateExecution(
            record=execution(inputs={"n": 1}, settings={"retries": 2}, idempotency_key="k1")
        ),
        UpdateExecution(execution_id="exec-000001", status=ExecutionStatus.RUNNING, started_at=T0),
        event("exec-000001", 1, "execution_started"),
        UpsertStep(execution_id="exec-000001", step=step("a", started_at=T0, input={"x": 1})),
        event("exec-000001", 2, node_id="a"),
        log("exec-000001", 3, "INFO", "hello", node_id="a", source="node"),
        UpsertStep(
            execution_id="exec-000001",
            step=step(
                "b",
                StepStatus.FAILED,
                attempts=3,
                started_at=T0 + timedelta(seconds=1),
                error=error,
            ),
        ),
        UpdateExecution(
            execution_id="exec-000001",
            status=ExecutionStatus.FAILED,
            ended_at=T0 + timedelta(seconds=5),
            error=error,
            outputs={"result": [1, 2, {"deep": None}]},
        ),
    ]
    store.apply(writes)
    got = store.get_execution("exec-000001")
    assert got.status is ExecutionStatus.FAILED
    assert got.inputs == {"n": 1}
    assert got.settings == {"retries": 2}
    assert got.outputs == {"result": [1, 2, {"deep": None}]}
    assert got.started_at == T0
    assert got.ended_at == T0 + timedelta(seconds=5)
    assert got.error == error
    assert [s.node_id for s in got.steps] == ["a", "b"]
    assert got.steps[0].input == {"x": 1}
    assert got.steps[1].error == error
    assert [e.type for e in store.events_after("exec-000001")] == [
        "execution_started",
        "step_started",
        "log",
    ]
    assert [entry.message for entry in store.logs("exec-000001")] == ["hello"]


def test_update_changes_only_given_fields_and_outputs_replace(store: Store) -> None:
    store.apply([CreateExecution(record=execution(outputs={"a": 1, "b": 2}, started_at=T0))])
    store.apply(
        [
            UpdateExecution(execution_id="exec-000001", outputs={"c": 3}),
            UpdateExecution(execution_id="exec-000001", status=ExecutionStatus.COMPLETED),
        ]
    )
    got = store.get_execution("exec-000001")
    assert got.outputs == {"c": 3}
    assert got.status is ExecutionStatus.COMPLETED
    assert got.started_at == T0
    assert got.error is None


def test_apply_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="cannot update execution missing-1: it does not exist"):
        store.apply(
            [
                CreateExecution(record=execution()),
                event("exec-000001", 1),
                UpdateExecution(execution_id="missing-1", status=ExecutionStatus.RUNNING),
            ]
        )
    with pytest.raises(NotFound):
        store.get_execution("exec-000001")
    assert store.max_event_seq("exec-000001") == 0


def test_a_batch_of_updates_lands_per_execution_and_one_missing_fails_it_all(
    store: Store,
) -> None:
    ids = [f"exec-{n:06d}" for n in range(1, 7)]
    store.apply([CreateExecution(record=execution(i)) for i in ids])
    error = ErrorInfo(message="boom", category="timeout")
    ended = T0 + timedelta(seconds=2)
    store.apply(
        [
            # Runs that ended alike share one statement; the others each change their own.
            *(
                UpdateExecution(
                    execution_id=i,
                    status=ExecutionStatus.COMPLETED,
                    ended_at=ended,
                    outputs={"i": i},
                )
                for i in ids[:4]
            ),
            UpdateExecution(execution_id=ids[4], status=ExecutionStatus.FAILED, error=error),
            UpdateExecution(execution_id=ids[5]),  # nothing to change: only checked
        ]
    )
    got = {i: store.get_execution(i) for i in ids}
    for i in ids[:4]:
        assert (got[i].status, got[i].ended_at, got[i].outputs) == (
            ExecutionStatus.COMPLETED,
            ended,
            {"i": i},
        )
    assert (got[ids[4]].status, got[ids[4]].error, got[ids[4]].ended_at) == (
        ExecutionStatus.FAILED,
        error,
        None,
    )
    assert got[ids[5]].status is ExecutionStatus.QUEUED
    with pytest.raises(StoreError, match="cannot update execution missing-1: it does not exist"):
        store.apply(
            [
                UpdateExecution(execution_id=ids[0], status=ExecutionStatus.CANCELLED),
                UpdateExecution(execution_id="missing-1", status=ExecutionStatus.CANCELLED),
                UpdateExecution(execution_id=ids[1], status=ExecutionStatus.CANCELLED),
            ]
        )
    with pytest.raises(StoreError, match="cannot update execution missing-2: it does not exist"):
        store.apply([UpdateExecution(execution_id="missing-2")])
    assert store.get_execution(ids[0]).status is ExecutionStatus.COMPLETED  # all or nothing


def test_step_upsert_updates_the_row(store: Store) -> None:
    store.apply([CreateExecution(record=execution(steps=[step("a", StepStatus.PENDING)]))])
    store.apply(
        [
            UpsertStep(execution_id="exec-000001", step=step("a", attempts=1, started_at=T0)),
            UpsertStep(execution_id="exec-000001", step=step("a", attempts=2, started_at=T0)),
        ]
    )
    store.apply(
        [
            UpsertStep(
                execution_id="exec-000001",
                step=step(
                    "a",
                    StepStatus.COMPLETED,
                    attempts=3,
                    started_at=T0,
                    ended_at=T0 + timedelta(milliseconds=1500),
                    output={"status": 200},
                ),
            )
        ]
    )
    (got,) = store.get_execution("exec-000001").steps
    assert got.status is StepStatus.COMPLETED
    assert got.attempts == 3
    assert got.output == {"status": 200}
    assert got.duration_ms == 1500


def test_later_writes_win_within_one_batch(store: Store) -> None:
    eid = "exec-000001"
    store.apply(
        [
            CreateExecution(record=execution(steps=[step("a", StepStatus.PENDING)])),
            UpsertStep(execution_id=eid, step=step("a", attempts=1, started_at=T0)),
            UpdateExecution(execution_id=eid, status=ExecutionStatus.RUNNING, started_at=T0),
            UpsertStep(execution_id=eid, step=step("b", StepStatus.PENDING)),
            UpsertStep(execution_id=eid, step=step("a", StepStatus.COMPLETED, attempts=2)),
            UpdateExecution(execution_id=eid, outputs={"x": 1}),
            UpdateExecution(execution_id=eid, status=ExecutionStatus.PAUSED),
        ]
    )
    got = store.get_execution(eid)
    assert got.status is ExecutionStatus.PAUSED
    assert got.started_at == T0 and got.outputs == {"x": 1}
    assert [(s.node_id, s.status, s.attempts) for s in got.steps] == [
        ("a", StepStatus.COMPLETED, 2),
        ("b", StepStatus.PENDING, 0),
    ]


def test_step_for_unknown_execution_is_rejected(store: Store) -> None:
    with pytest.raises(StoreError, match="rejected a write"):
        store.apply([UpsertStep(execution_id="nope-0001", step=step("a"))])


def test_commit_steps_lands_for_the_runner_that_holds_the_execution_only(store: Store) -> None:
    """A runner's own step writes (Store.commit_steps): the first write to an unclaimed
    execution claims it, so a second runner of the same fresh run is refused; once another
    runner claims it, the first one's rows are refused, whole."""
    store.apply([CreateExecution(record=execution())])
    assert store.commit_steps("exec-000001", "first", [step("a"), step("b")])
    assert not store.commit_run("exec-000001", "stray", [event("exec-000001", 0)])
    assert store.events_after("exec-000001") == []
    assert [s.node_id for s in store.get_execution("exec-000001").steps] == ["a", "b"]
    store.claim_runner("exec-000001", "second")
    done = step("a", StepStatus.COMPLETED, attempts=1, output={"n": 1})
    assert not store.commit_steps("exec-000001", "first", [done, step("c")])
    stored = store.get_execution("exec-000001")
    assert [(s.node_id, s.status) for s in stored.steps] == [
        ("a", StepStatus.RUNNING),
        ("b", StepStatus.RUNNING),
    ]
    assert store.commit_steps("exec-000001", "second", [done])
    assert store.get_execution("exec-000001").steps[0].output == {"n": 1}
    with pytest.raises(NotFound, match="nope-0001"):
        store.commit_steps("nope-0001", "second", [done])


def test_sqlite_step_commits_on_the_driver_write_what_sqlalchemy_writes(tmp_path: Path) -> None:
    """Store.commit_run on SQLite goes straight through the driver (hub.store._sqlite_steps):
    the rows it writes are byte for byte those of the SQLAlchemy path, for every kind of value
    a step row holds, first inserted and then replaced, and for events and their log rows,
    numbered or not."""
    from sqlalchemy import text

    error = ErrorInfo(message="boom \u2603", category="http_status", retryable=True, attempts=2)
    started = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    firsts = [
        step("plain"),
        step(
            "full",
            StepStatus.FAILED,
            attempts=3,
            started_at=started,
            ended_at=started + timedelta(milliseconds=5),
            input={"url": "http://x/\u00e9", "nested": [1, 2.5, None, {"k": True}]},
            output=None,
            error=error,
        ),
        step("scalar", StepStatus.COMPLETED, output=42, started_at=started.replace(tzinfo=None)),
        step("text", StepStatus.COMPLETED, output="null"),
        step("list", StepStatus.COMPLETED, output=[{"a": None}], input={}),
        step(  # a whole second, in another zone: stored in UTC, with its microseconds
            "zoned",
            StepStatus.COMPLETED,
            started_at=datetime(2026, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2))),
            output={"when": started, "tags": {"b", "a"}, "raw": b"\xffok"},
        ),
    ]
    seconds = [step("plain", StepStatus.COMPLETED, attempts=1, output={"done": 1})]

    def rows(fast: bool) -> list[tuple[Any, ...]]:
        url = f"sqlite:///{tmp_path / ('fast.db' if fast else 'orm.db')}"
        with Store(url) as store:
            assert (store._sqlite_steps is not None) is True
            if not fast:
                store._sqlite_steps = None  # the SQLAlchemy path
            store.apply([CreateExecution(record=created)])  # the driver's insert, when fast
            assert store.commit_steps("exec-000001", "tok", firsts)
            assert store.commit_steps("exec-000001", "tok", seconds)
            assert store.commit_run("exec-000001", "tok", [e.model_copy(deep=True) for e in events])
            assert store.commit_run("exec-000001", "tok", updates)
            found = []
            with store._engine.connect() as conn:
                for table in ("step_executions", "execution_events", "execution_logs"):
                    query = text(f"SELECT * FROM {table} ORDER BY 1, 2")
                    found += [(table, *r) for r in conn.execute(query)]
                query = text("SELECT * FROM workflow_executions")
                found += [("workflow_executions", *r) for r in conn.execute(query)]
            assert [s.node_id for s in store.get_execution("exec-000001").steps]
        return found

    created = execution(
        trigger="webhook",
        inputs={"name": "\u00e9t\u00e9", "n": [1, 2.5, None]},
        settings={"effective": {"isolation": "auto"}, "options": {"debug": True}},
        parent_id="exec-000000",
        trigger_info={"path": "/hook", "headers": {"x": "\u2603"}},
        created_at=started + timedelta(microseconds=1),
    )
    events = [
        event("exec-000001", 0, "step_started", node_id="full", data={"\u2603": [1.5, None]}),
        log("exec-000001", 0, "warning", "slow \u00e9", node_id="full", metadata={"ms": 12}),
        event("exec-000001", 7, "numbered"),
        log("exec-000001", 0, "info", "after it"),
    ]
    updates = [
        UpdateExecution(
            execution_id="exec-000001", status=ExecutionStatus.RUNNING, started_at=started
        ),
        UpdateExecution(
            execution_id="exec-000001",
            status=ExecutionStatus.FAILED,
            ended_at=started + timedelta(seconds=1),
            error=error,
            outputs={"x": [1, "\u2603", None]},
        ),
    ]
    fast = rows(fast=True)
    assert fast == rows(fast=False)
    assert len(fast) == 6 + 4 + 2 + 1
    assert fast[5][:3] == ("step_executions", "exec-000001", "zoned")
    assert fast[5][6] == "2026-05-01 12:00:00.000000"
    assert fast[-1][:4] == ("workflow_executions", "exec-000001", "wf", "1")
    assert "failed" in fast[-1] and "tok" in fast[-1]


def test_commit_runs_stores_each_run_s_writes_with_its_own_outcome(store: Store) -> None:
    """Store.commit_runs: several runners' writes at once (one transaction on SQLite), each
    run answered alone: stored, refused (another runner holds it), not found, or refused for
    writes that are not its own; a refused run leaves no row, the others all of theirs."""
    for n in (1, 2, 3):
        store.apply([CreateExecution(record=execution(f"exec-00000{n}"))])
    store.claim_runner("exec-000002", "theirs")
    done = step("a", StepStatus.COMPLETED, attempts=1, output={"n": 1})
    outcomes = store.commit_runs(
        [
            ("exec-000001", "tok1", [UpsertStep(execution_id="exec-000001", step=done)]),
            ("exec-000002", "mine", [UpsertStep(execution_id="exec-000002", step=done)]),
            ("nope-0001", "tok", [UpsertStep(execution_id="nope-0001", step=done)]),
            ("exec-000003", "tok3", [event("exec-000001", 1)]),  # another's event
            (
                "exec-000003",
                "tok3",
                [
                    event("exec-000003", 1),
                    UpdateExecution(execution_id="exec-000003", status=ExecutionStatus.RUNNING),
                ],
            ),
        ]
    )
    assert outcomes[0] is True and outcomes[1] is False and outcomes[4] is True
    assert isinstance(outcomes[2], NotFound) and "nope-0001" in str(outcomes[2])
    assert isinstance(outcomes[3], StoreError) and "exec-000001" in str(outcomes[3])
    assert store.get_execution("exec-000001").steps[0].output == {"n": 1}
    assert store.get_execution("exec-000002").steps == []
    third = store.get_execution("exec-000003")
    assert third.status is ExecutionStatus.RUNNING
    assert [e.seq for e in store.events_after("exec-000003")] == [1]
    assert not store.commit_run("exec-000003", "other", [event("exec-000003", 2)])  # claimed


def test_a_run_the_database_refuses_fails_alone_in_a_commit_of_several(store: Store) -> None:
    """A batch that the database refuses in part (an event number already stored) is stored
    run by run: the refused run gets the StoreError, the others land."""
    for n in (1, 2):
        store.apply([CreateExecution(record=execution(f"exec-00000{n}"))])
    assert store.commit_run("exec-000001", "tok1", [event("exec-000001", 1)])
    outcomes = store.commit_runs(
        [
            ("exec-000001", "tok1", [event("exec-000001", 1, "again")]),  # seq 1 is taken
            ("exec-000002", "tok2", [event("exec-000002", 1)]),
        ]
    )
    assert isinstance(outcomes[0], StoreError) and "rejected a write" in str(outcomes[0])
    assert outcomes[1] is True
    assert [e.type for e in store.events_after("exec-000001")] == ["step_started"]
    assert [e.seq for e in store.events_after("exec-000002")] == [1]


def test_creating_executions_on_sqlite_refuses_a_taken_id_and_keeps_the_batch_whole(
    tmp_path: Path,
) -> None:
    """New executions' rows go straight through the driver on SQLite: an id already stored is
    a StoreError that says a write was rejected (what the supervisor's start takes for a
    repeated start), and nothing of that batch lands."""
    with Store(f"sqlite:///{tmp_path / 'hub.db'}") as store:
        store.apply([CreateExecution(record=execution("exec-000001"))])
        with pytest.raises(StoreError, match="rejected a write") as refused:
            store.apply(
                [
                    CreateExecution(record=execution("exec-000002")),
                    CreateExecution(record=execution("exec-000001")),
                ]
            )
        assert refused.value.details.get("constraint") is True
        with pytest.raises(NotFound):
            store.get_execution("exec-000002")
        store.apply([CreateExecution(record=execution("exec-000002"))])
        assert store.get_execution("exec-000002").status is ExecutionStatus.QUEUED


def test_a_refused_or_failed_sqlite_step_commit_writes_nothing(tmp_path: Path) -> None:
    """A direct commit for a missing execution or another runner's writes nothing, and the
    store's next writes land."""
    with Store(f"sqlite:///{tmp_path / 'hub.db'}") as store:
        store.apply([CreateExecution(record=execution())])
        with pytest.raises(NotFound):
            store.commit_steps("nope-0001", "tok", [step("a")])
        store.claim_runner("exec-000001", "theirs")
        assert not store.commit_steps("exec-000001", "mine", [step("a")])
        assert store.commit_steps("exec-000001", "theirs", [step("a")])
        store.apply([UpsertStep(execution_id="exec-000001", step=step("b"))])
        assert [s.node_id for s in store.get_execution("exec-000001").steps] == ["a", "b"]


def test_a_sqlite_step_commit_that_cannot_reach_its_file_is_a_store_error(
    tmp_path: Path,
) -> None:
    """The driver's errors become StoreError as on the SQLAlchemy path: here the database's
    directory is gone when the pool opens a new connection."""
    import shutil

    where = tmp_path / "gone"
    where.mkdir()
    with Store(f"sqlite:///{where / 'hub.db'}") as store:
        store.apply([CreateExecution(record=execution())])
        assert store._sqlite_steps is not None  # its kept connection goes back: a new one next
        store._sqlite_steps.close()
        store._engine.dispose()
        shutil.rmtree(where)
        with pytest.raises(StoreError, match="cannot reach the database"):
            store.commit_steps("exec-000001", "tok", [step("a")])


def test_a_runner_s_journal_stores_its_writes_on_a_thread_and_is_fenced(db_url: str) -> None:
    """An ExecutionActor's journal in direct mode, as on a server database (the commit on a
    worker thread): the checkpoint's rows, events (numbered by the journal) and the
    execution's update are durable when it returns; after another runner's claim, the next
    checkpoint raises Superseded and writes nothing."""
    import asyncio

    from actors._journal import RecorderJournal, StoreWrites
    from hub.errors import Superseded

    with Store(db_url) as store, Store(db_url, migrate=False) as runner_store:
        store.apply([CreateExecution(record=execution())])

        async def main() -> None:
            journal = RecorderJournal(
                None,  # direct mode: the Recorder is never called
                delay_s=10,
                lease=("exec-000001", "mine"),
                direct=StoreWrites(runner_store, inline=False),
            )
            journal.emit(
                UpdateExecution(execution_id="exec-000001", status=ExecutionStatus.RUNNING)
            )
            journal.emit(UpsertStep(execution_id="exec-000001", step=step("a")))
            journal.emit(event("exec-000001", 0, "step_started"))
            journal.emit(log("exec-000001", 0, "info", "hello", node_id="a"))
            await journal.checkpoint()
            stored = store.get_execution("exec-000001")
            assert [s.node_id for s in stored.steps] == ["a"]
            assert stored.status == ExecutionStatus.RUNNING
            assert [e.seq for e in store.events_after("exec-000001")] == [1, 2]
            assert [(e.seq, e.message) for e in store.logs("exec-000001")] == [(2, "hello")]
            store.claim_runner("exec-000001", "theirs")
            journal.emit(UpsertStep(execution_id="exec-000001", step=step("b")))
            journal.emit(event("exec-000001", 0, "step_started"))
            with pytest.raises(Superseded):
                await journal.checkpoint()

        asyncio.run(main())
        assert [s.node_id for s in store.get_execution("exec-000001").steps] == ["a"]
        assert [e.seq for e in store.events_after("exec-000001")] == [1, 2]


def test_latest_event_seqs_answers_for_many_executions_at_once(store: Store) -> None:
    store.apply([event("exec-000001", 1), event("exec-000001", 2), event("other-00001", 5)])
    ids = ["exec-000001", "other-00001", "none-000001", "exec-000001"]
    assert store.latest_event_seqs(ids) == {"exec-000001": 2, "other-00001": 5}
    assert store.latest_event_seqs([]) == {}


def test_a_runner_cannot_store_records_of_another_execution(store: Store) -> None:
    store.apply([CreateExecution(record=execution())])
    for bad in (
        event("other-00001", 0),
        UpsertStep(execution_id="other-00001", step=step("a")),
        CreateExecution(record=execution()),
    ):
        with pytest.raises(StoreError, match="cannot store"):
            store.commit_run("exec-000001", "tok", [bad])
    assert store.events_after("exec-000001") == []


def test_a_runner_s_store_and_the_recorder_s_write_one_sqlite_file_at_once(
    tmp_path: Path,
) -> None:
    """Two processes' engines on one SQLite file, as the Recorder's and an ExecutionActor's
    are: writes from both at the same time all land (the busy timeout makes one wait)."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    with Store(url) as recorder, Store(url, migrate=False) as runner:
        recorder.apply([CreateExecution(record=execution())])
        errors: list[BaseException] = []

        def runner_writes() -> None:
            try:
                for i in range(200):
                    assert runner.commit_steps("exec-000001", "tok", [step(f"r{i}")])
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=runner_writes)
        thread.start()
        for i in range(200):
            recorder.apply([UpsertStep(execution_id="exec-000001", step=step(f"s{i}"))])
        thread.join()
        assert errors == []
        assert len(recorder.get_execution("exec-000001").steps) == 400


def test_steps_ordered_by_start_then_node_pending_last(store: Store) -> None:
    steps = [
        step("p", StepStatus.PENDING),
        step("c", started_at=T0 + timedelta(seconds=2)),
        step("b", started_at=T0 + timedelta(seconds=1)),
        step("a", started_at=T0 + timedelta(seconds=2)),
        step("s", StepStatus.SKIPPED),
        step("o", StepStatus.PENDING),
    ]
    store.apply([CreateExecution(record=execution(steps=steps))])
    assert [s.node_id for s in store.get_execution("exec-000001").steps] == [
        "b",
        "a",
        "c",
        "s",
        "o",
        "p",
    ]


def test_large_batches(store: Store) -> None:
    writes: list[StoreWrite] = [CreateExecution(record=execution())]
    for i in range(1, 301):
        writes.append(UpsertStep(execution_id="exec-000001", step=step(f"n{i % 50}", attempts=i)))
        writes.append(log("exec-000001", 2 * i - 1, "debug", f"line {i}"))
        writes.append(event("exec-000001", 2 * i, data={"i": i}))
    started = time.monotonic()
    store.apply(writes)
    assert time.monotonic() - started < 10
    assert store.max_event_seq("exec-000001") == 600
    assert len(store.logs("exec-000001")) == 300
    steps = store.get_execution("exec-000001").steps
    assert len(steps) == 50
    assert {s.node_id: s.attempts for s in steps}["n0"] == 300


def test_apply_from_a_worker_thread(store: Store) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            store.apply([CreateExecution(record=execution())])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []
    assert store.get_execution("exec-000001").status is ExecutionStatus.QUEUED


# --- events and logs ------------------------------------------------------------------------------


def test_events_after_and_max_seq(store: Store) -> None:
    assert store.max_event_seq("exec-000001") == 0
    assert store.events_after("exec-000001") == []
    store.apply([CreateExecution(record=execution())])
    store.apply([event("exec-000001", seq, data={"seq": seq}) for seq in (3, 1, 2, 5, 4)])
    store.apply([event("other-00001", 9)])
    assert [e.seq for e in store.events_after("exec-000001")] == [1, 2, 3, 4, 5]
    assert [e.seq for e in store.events_after("exec-000001", after_seq=2, limit=2)] == [3, 4]
    first = store.events_after("exec-000001", limit=1)[0]
    assert first.data == {"seq": 1} and first.ts == T0 and first.execution_id == "exec-000001"
    assert store.max_event_seq("exec-000001") == 5
    assert store.max_event_seq("other-00001") == 9


def test_a_duplicate_event_seq_is_rejected(store: Store) -> None:
    store.apply([event("exec-000001", 1)])
    with pytest.raises(StoreError, match="rejected a write"):
        store.apply([event("exec-000001", 1)])
    assert [e.seq for e in store.events_after("exec-000001")] == [1]


def test_unnumbered_events_get_the_next_numbers_of_their_execution(store: Store) -> None:
    """Events written with seq 0 (the supervisor's, the desktop's) are numbered in the writing
    transaction, after what is stored and after numbered events of the same batch."""
    store.apply([event("exec-000001", 1), event("exec-000001", 2), event("other-00001", 4)])
    batch = [
        event("exec-000001", 0, "a"),
        event("other-00001", 0, "b"),
        event("exec-000001", 0, "c"),
        event("fresh-000001", 0, "d"),
    ]
    store.apply(batch)
    assert [w.event.seq for w in batch] == [3, 5, 4, 1]  # numbered in place, for fan-out
    stored = [(e.seq, e.type) for e in store.events_after("exec-000001")]
    assert stored == [(1, "step_started"), (2, "step_started"), (3, "a"), (4, "c")]
    mixed = [event("exec-000001", 7, "numbered"), event("exec-000001", 0, "after it")]
    store.apply(mixed)
    assert [w.event.seq for w in mixed] == [7, 8]


def test_log_events_land_in_logs(store: Store) -> None:
    store.apply(
        [
            log("exec-000001", 1, "info", "starting"),
            event("exec-000001", 2),
            log("exec-000001", 3, "warning", "slow", node_id="a", metadata={"ms": 1200}),
            log("exec-000001", 4, "ERROR", "failed", node_id="a", source="node"),
            log("exec-000001", 5, "info", "done"),
        ]
    )
    entries = store.logs("exec-000001")
    assert [(e.seq, e.level, e.message) for e in entries] == [
        (1, "info", "starting"),
        (3, "warning", "slow"),
        (4, "error", "failed"),
        (5, "info", "done"),
    ]
    assert entries[0].source == "engine" and entries[0].node_id is None
    assert entries[1].metadata == {"ms": 1200} and entries[1].node_id == "a"
    assert entries[2].source == "node"
    assert entries[1].ts == T0 + timedelta(seconds=3)
    assert [e.seq for e in store.logs("exec-000001", level="info")] == [1, 5]
    assert [e.seq for e in store.logs("exec-000001", level="ERROR")] == [4]
    assert [e.seq for e in store.logs("exec-000001", after_seq=3, limit=1)] == [4]
    assert store.logs("other-00001") == []


# --- lookups --------------------------------------------------------------------------------------


def test_idempotency_key_lookup_and_uniqueness(store: Store) -> None:
    assert store.find_execution_by_idempotency_key("k1") is None
    store.apply(
        [
            CreateExecution(record=execution("exec-000001", idempotency_key="k1")),
            CreateExecution(record=execution("exec-000002")),
            CreateExecution(record=execution("exec-000003")),  # several NULL keys are fine
        ]
    )
    found = store.find_execution_by_idempotency_key("k1")
    assert found is not None and found.id == "exec-000001"
    with pytest.raises(StoreError, match="idempotency key 'k1' is already used by execution "):
        store.apply([CreateExecution(record=execution("exec-000004", idempotency_key="k1"))])
    with pytest.raises(StoreError, match="is used by both execution exec-000005 and execution"):
        store.apply(
            [
                CreateExecution(record=execution("exec-000005", idempotency_key="k2")),
                CreateExecution(record=execution("exec-000006", idempotency_key="k2")),
            ]
        )
    assert store.find_execution_by_idempotency_key("k2") is None
    assert len(store.list_executions()) == 3


def test_list_executions_filters_ordering_limit(store: Store) -> None:
    specs = [
        ("exec-000001", "wf-a", ExecutionStatus.COMPLETED, 0),
        ("exec-000002", "wf-b", ExecutionStatus.RUNNING, 1),
        ("exec-000003", "wf-a", ExecutionStatus.FAILED, 2),
        ("exec-000004", "wf-a", ExecutionStatus.RUNNING, 3),
        ("exec-000005", "wf-b", ExecutionStatus.QUEUED, 4),
    ]
    store.apply(
        [
            CreateExecution(
                record=execution(
                    id,
                    workflow_id=wf,
                    status=status,
                    created_at=T0 + timedelta(minutes=minutes),
                    outputs={"n": minutes},
                    steps=[step("a")],
                )
            )
            for id, wf, status, minutes in specs
        ]
    )
    ids = [e.id for e in store.list_executions()]
    assert ids == ["exec-000005", "exec-000004", "exec-000003", "exec-000002", "exec-000001"]
    listed = store.list_executions(limit=2)
    assert [e.id for e in listed] == ["exec-000005", "exec-000004"]
    assert listed[0].steps == [] and listed[1].outputs == {"n": 3}
    assert [e.id for e in store.list_executions(status="running")] == [
        "exec-000004",
        "exec-000002",
    ]
    assert [e.id for e in store.list_executions(status=ExecutionStatus.FAILED)] == ["exec-000003"]
    running_or_queued = store.list_executions(status=["running", ExecutionStatus.QUEUED])
    assert [e.id for e in running_or_queued] == ["exec-000005", "exec-000004", "exec-000002"]
    assert [e.id for e in store.list_executions(workflow_id="wf-a", limit=2)] == [
        "exec-000004",
        "exec-000003",
    ]
    before = T0 + timedelta(minutes=2)
    assert [e.id for e in store.list_executions(before=before)] == [
        "exec-000002",
        "exec-000001",
    ]
    assert store.list_executions(workflow_id="wf-b", status="failed") == []
    unfinished = store.non_terminal_executions()
    assert [e.id for e in unfinished] == ["exec-000002", "exec-000004", "exec-000005"]
    assert [s.node_id for s in unfinished[0].steps] == ["a"]


def test_prefix_lookup(store: Store) -> None:
    store.apply(
        [
            CreateExecution(record=execution(id))
            for id in ("abcdef01-x", "abcdef02-y", "12345678-z", "a_cdef99")
        ]
    )
    assert store.get_execution("123456").id == "12345678-z"
    assert store.get_execution("abcdef01").id == "abcdef01-x"
    with pytest.raises(InvalidRequest, match="ambiguous") as info:
        store.get_execution("abcdef")
    assert "abcdef01-x" in str(info.value) and "abcdef02-y" in str(info.value)
    with pytest.raises(NotFound, match="at least 6 characters"):
        store.get_execution("12345")
    with pytest.raises(NotFound, match="execution 'abcdeg' not found"):
        store.get_execution("abcdeg")
    with pytest.raises(NotFound):
        store.get_execution("a%cdef")  # LIKE wildcards are literal
    with pytest.raises(NotFound):
        store.get_execution("abcde_")
    assert store.get_execution("a_cdef").id == "a_cdef99"


def test_not_found_messages(store: Store) -> None:
    with pytest.raises(NotFound, match="execution 'does-not-exist' not found"):
        store.get_execution("does-not-exist")
    with pytest.raises(NotFound, match="workflow 'nope' not found"):
        store.get_workflow("nope")
    with pytest.raises(NotFound, match="workflow 'nope' not found"):
        store.get_workflow("nope", "1")


# --- workflows ------------------------------------------------------------------------------------


def test_workflow_versions(store: Store) -> None:
    v1 = workflow("wf", "1", created_at=T0, name="First", diagnostics=[{"code": "W1"}])
    v2 = workflow("wf", "2", created_at=T0 + timedelta(hours=1), description="second")
    v10 = workflow("wf", "10", created_at=T0 + timedelta(hours=2))
    other = workflow("other", "1.0.0", created_at=T0)
    for record in (v1, v10, v2, other):
        store.save_workflow(record)
    store.save_workflow(v1)  # the same definition again: no-op
    store.save_workflow(workflow("wf", "1", created_at=T0 + timedelta(days=1)))
    assert store.get_workflow("wf") == v10
    assert store.get_workflow("wf", "1") == v1
    assert store.get_workflow("wf", "2").description == "second"
    assert store.workflow_versions("wf") == ["1", "2", "10"]
    assert store.workflow_versions("unknown") == []
    assert [(w.id, w.version) for w in store.list_workflows()] == [("other", "1.0.0"), ("wf", "10")]
    with pytest.raises(Conflict) as info:
        store.save_workflow(workflow("wf", "2", definition={"changed": True}))
    assert str(info.value) == "workflow wf version 2 already exists with a different definition"
    with pytest.raises(NotFound) as missing:
        store.get_workflow("wf", "3")
    assert str(missing.value) == "workflow 'wf' has no version '3' (known versions: 1, 2, 10)"
    assert missing.value.details["known_versions"] == ["1", "2", "10"]


# --- settings -------------------------------------------------------------------------------------


def test_settings(store: Store) -> None:
    assert store.get_setting("missing") is None
    assert store.get_setting("missing", 7) == 7
    store.set_setting("nodes.code.enabled", True)
    store.set_setting("limits", {"max_parallel": 4, "names": ["a", "b"]})
    store.set_setting("limits", {"max_parallel": 8})
    assert store.get_setting("nodes.code.enabled") is True
    assert store.get_setting("limits") == {"max_parallel": 8}


# --- errors and configuration ---------------------------------------------------------------------


def test_unreachable_postgres_gives_a_clear_store_error() -> None:
    with pytest.raises(StoreError) as info:
        Store("postgresql://hub:s3cr3t-pw@127.0.0.1:1/hubdb")
    message = str(info.value)
    assert message == "cannot reach the database at postgresql://hub@127.0.0.1:1/hubdb: " + (
        "connection refused"
    )
    assert "s3cr3t" not in repr(info.value.details)


def test_unreachable_postgres_without_migrating(tmp_path: Path) -> None:
    s = Store("postgresql://postgres@127.0.0.1:1/test", migrate=False)
    with pytest.raises(StoreError, match="cannot reach the database at postgresql://"):
        s.get_execution("exec-000001")
    s.close()


def test_unopenable_sqlite_gives_a_clear_store_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'hub.db'}"
    with pytest.raises(StoreError, match=r"cannot reach the database at sqlite:///.*missing-dir"):
        Store(url)


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.list_executions()


def test_database_url_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "home"))
    assert database_url_from_env() == f"sqlite:///{tmp_path / 'home' / 'hub.db'}"
    assert (tmp_path / "home").is_dir()
    explicit = tmp_path / "explicit"
    assert database_url_from_env(explicit) == f"sqlite:///{explicit / 'hub.db'}"
    assert explicit.is_dir()
    monkeypatch.delenv("HUB_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert database_url_from_env() == f"sqlite:///{tmp_path / 'user' / '.runtime-hub' / 'hub.db'}"
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql://u:p@db.example/hub")
    assert database_url_from_env() == "postgresql+psycopg://u:p@db.example/hub"
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://u@db/hub")
    assert database_url_from_env() == "postgresql+psycopg://u@db/hub"
    monkeypatch.setenv("HUB_DATABASE_URL", "sqlite:////var/hub.db")
    assert database_url_from_env() == "sqlite:////var/hub.db"


# --- triggers -------------------------------------------------------------------------------------


def test_trigger_states_keep_the_operators_switch_apart_from_the_runtimes_state(
    store: Store,
) -> None:
    store.save_trigger_state("wf", "tick", {"fires": 1})
    store.set_trigger_enabled("wf", "tick", False)
    store.save_trigger_state("wf", "tick", {"fires": 2})  # does not undo the switch
    store.set_trigger_enabled("wf", "hook", True)  # a switch before any state
    rows = {(r["workflow_id"], r["trigger_id"]): r for r in store.trigger_states()}
    assert rows[("wf", "tick")]["enabled"] is False
    assert rows[("wf", "tick")]["state"] == {"fires": 2}
    assert rows[("wf", "hook")]["enabled"] is True and rows[("wf", "hook")]["state"] == {}
    store.set_trigger_enabled("wf", "tick", None)  # back to what the document says
    assert {r["trigger_id"]: r["enabled"] for r in store.trigger_states()}["tick"] is None
    assert store.delete_trigger_states("wf", keep=["hook"]) == 1
    assert [r["trigger_id"] for r in store.trigger_states()] == ["hook"]
    assert store.delete_trigger_states("wf") == 1
    assert store.trigger_states() == []


def test_an_execution_keeps_its_trigger_info(store: Store) -> None:
    record = execution()
    record.trigger = "schedule"
    record.trigger_info = {"id": "tick", "type": "schedule", "slot": "2026-01-01T00:00:00.000Z"}
    store.apply([CreateExecution(record=record)])
    assert store.get_execution(record.id).trigger_info == record.trigger_info
    assert store.list_executions()[0].trigger_info == record.trigger_info


def test_the_sqlite_step_writer_keeps_one_connection_and_gives_it_back(tmp_path: Path) -> None:
    """Step commits reuse one pooled connection (a checkout per commit cost a quarter of it);
    a failed commit gives it back, and so does closing the store."""
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    pool = store._engine.pool
    store.apply([CreateExecution(record=execution())])
    assert store.commit_steps("exec-000001", "tok", [step("a")])
    assert store.commit_steps("exec-000001", "tok", [step("b")])
    assert pool.checkedout() == 1  # kept between commits, the same one
    with pytest.raises(NotFound, match="nope-0001"):
        store.commit_steps("nope-0001", "tok", [step("c")])
    assert pool.checkedout() == 0  # given back with the failure
    assert store.commit_steps("exec-000001", "tok", [step("c")])
    assert [s.node_id for s in store.get_execution("exec-000001").steps] == ["a", "b", "c"]
    store.close()
    assert pool.checkedout() == 0
