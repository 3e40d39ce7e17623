"""The SQL store: durable executions, steps, events, logs, workflows and settings.

Synchronous SQLAlchemy; the Recorder actor calls it from a worker thread. Every SQLAlchemy or
DB-API error becomes a :class:`hub.errors.StoreError` here.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from hub.analysis import ErrorPattern, FailureSample, group_failures
from hub.errors import Conflict, InvalidRequest, NotFound, StoreError
from hub.history import (
    DeleteResult,
    ExecutionPage,
    ExecutionQuery,
    ExecutionStats,
    PerformanceReport,
)
from hub.records import (
    AppendAudit,
    AppendEvent,
    CreateExecution,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    LogEntry,
    StepRecord,
    StoreWrite,
    UpdateExecution,
    UpsertStep,
    WorkflowRecord,
    utcnow,
)
from hub.store import _analysis_queries, _catalog, _history_queries, _retention, _rows
from hub.store import _schema as t
from hub.store._catalog import Catalog
from hub.store._db import create_store_engine, transaction
from hub.store._history_queries import contains, escape_like
from hub.store._migrate import migrate_engine
from hub.store._sqlite_steps import RunWrites, SqliteStepWriter
from hub.store._url import parse_url, redact_url
from hub.store._writes import apply_writes, merged_update, upsert

MIN_PREFIX = 6
_NON_TERMINAL = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.PAUSED)


class Store(Catalog):
    """The store at ``url`` (``sqlite:///...`` or ``postgresql://...``).

    With ``migrate=True`` (the default) the schema is brought to the newest version first.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self._url = parse_url(url)
        self._engine = create_store_engine(self._url)
        self._closed = False
        # On SQLite, step rows go straight through the driver (hub.store._sqlite_steps).
        self._sqlite_steps = (
            SqliteStepWriter(self._engine) if self._engine.dialect.name == "sqlite" else None
        )
        if migrate:
            try:
                migrate_engine(self._engine)
                _retention.ensure_incremental_vacuum(self._engine)
            except BaseException:
                self._engine.dispose()
                raise

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return redact_url(self._url)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def check(self) -> int:
        """Run one real query (on a table of the schema, not only ``SELECT 1``); returns the
        round trip in milliseconds. Raises StoreError when the database does not answer."""
        started = time.perf_counter()
        with self._tx("checking the database") as conn:
            conn.execute(select(func.count()).select_from(t.settings)).scalar_one()
        return round((time.perf_counter() - started) * 1000)

    def close(self) -> None:
        self._closed = True
        if self._sqlite_steps is not None:
            self._sqlite_steps.close()
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.url} is closed")

    @contextmanager
    def _tx(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        self._check_open()
        with transaction(self._engine, write=write, what=what) as conn:
            yield conn

    # --- writes ---------------------------------------------------------------------------------

    def apply(self, writes: Sequence[StoreWrite]) -> None:
        """Apply a batch of writes, in order, in one transaction (all or nothing)."""
        if not writes:
            return
        created = _plain_creations(writes) if self._sqlite_steps is not None else None
        if created is not None and self._sqlite_steps is not None:
            self._check_open()  # new runs' rows straight through the driver
            self._sqlite_steps.create(created)
            return
        with self._tx("applying store writes", write=True) as conn:
            apply_writes(conn, writes)

    def claim_runner(self, execution_id: str, token: str) -> None:
        """Make ``token`` the execution's runner: from now on ``commit_steps`` refuses the
        steps of any other (a runner presumed lost that still runs)."""
        e = t.executions
        with self._tx(f"claiming execution {execution_id}", write=True) as conn:
            conn.execute(update(e).where(e.c.id == execution_id).values(runner=token))

    def commit_steps(self, execution_id: str, token: str, steps: Sequence[StepRecord]) -> bool:
        """``commit_run`` with step rows only."""
        return self.commit_run(
            execution_id, token, [UpsertStep(execution_id=execution_id, step=s) for s in steps]
        )

    def commit_run(self, execution_id: str, token: str, writes: Sequence[StoreWrite]) -> bool:
        """Store a runner's writes for its execution (step rows, events, the execution's own
        updates) in one transaction, unless another runner claimed the execution since
        (``claim_runner``): then nothing is written and the answer is False. The first write
        to an execution nobody claimed (a fresh run's) claims it for ``token``: a second runner
        of the same fresh run (one presumed lost) is refused from then on. Events without a
        number are numbered after the highest stored (hub.store._writes.number_events)."""
        _check_runner_writes(execution_id, writes)
        if self._sqlite_steps is not None:
            self._check_open()
            return self._sqlite_steps.commit(*_sqlite_run(execution_id, token, writes))
        e = t.executions
        what = f"storing the steps of execution {execution_id}"
        with self._tx(what, write=True) as conn:
            # FOR UPDATE (PostgreSQL, MySQL): a claim waits for this transaction, or this for
            # it; SQLite's write transactions are serial already (BEGIN IMMEDIATE).
            holder = conn.execute(
                select(e.c.runner).where(e.c.id == execution_id).with_for_update()
            ).first()
            if holder is None:
                raise NotFound(f"execution {execution_id} not found")
            if holder.runner is None:  # a fresh run's first write: its runner claims it
                conn.execute(update(e).where(e.c.id == execution_id).values(runner=token))
            elif holder.runner != token:
                return False
            apply_writes(conn, writes)
        return True

    def commit_runs(
        self, runs: Sequence[tuple[str, str, Sequence[StoreWrite]]]
    ) -> list[bool | Exception]:
        """``commit_run`` for several runners' writes, ``(execution_id, token, writes)`` each:
        on SQLite in one transaction (a host of many runs commits what they wrote meanwhile
        at once), elsewhere one transaction each. Each run's outcome is its own: True, False
        (another runner holds the execution) or the error that refused its writes."""
        outcomes: list[bool | Exception] = [False] * len(runs)
        batch: list[tuple[int, Any]] = []
        for i, (execution_id, token, writes) in enumerate(runs):
            try:
                if self._sqlite_steps is None:  # checks the writes itself
                    outcomes[i] = self.commit_run(execution_id, token, writes)
                else:
                    _check_runner_writes(execution_id, writes)
                    batch.append((i, _sqlite_run(execution_id, token, writes)))
            except Exception as exc:
                outcomes[i] = exc
        if batch and self._sqlite_steps is not None:
            try:
                self._check_open()
                stored = self._sqlite_steps.commit_many([run for _, run in batch])
            except Exception as exc:
                stored = [exc] * len(batch)
            for (i, _), outcome in zip(batch, stored, strict=True):
                outcomes[i] = outcome
        return outcomes

    # --- workflows ------------------------------------------------------------------------------

    def save_workflow(self, record: WorkflowRecord) -> None:
        """Store a workflow version; saving the same definition again does nothing."""
        try:
            with self._tx(f"saving workflow {record.id}", write=True) as conn:
                if self._check_existing_workflow(conn, record):
                    return
                conn.execute(t.workflows.insert(), [_rows.workflow_row(record)])
        except StoreError as exc:
            # Lost a race with a concurrent save of the same version: compare with the winner.
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            with self._tx(f"saving workflow {record.id}") as conn:
                if not self._check_existing_workflow(conn, record):
                    raise

    @staticmethod
    def _check_existing_workflow(conn: Connection, record: WorkflowRecord) -> bool:
        existing = conn.execute(
            select(t.workflows.c.definition).where(
                t.workflows.c.id == record.id, t.workflows.c.version == record.version
            )
        ).first()
        if existing is None:
            return False
        if existing.definition != record.definition:
            raise Conflict(
                f"workflow {record.id} version {record.version} already exists with a "
                "different definition",
                details={"workflow_id": record.id, "version": record.version},
            )
        return True

    def get_workflow(self, workflow_id: str, version: str | None = None) -> WorkflowRecord:
        """A workflow version; without ``version`` the most recently created one."""
        w = t.workflows
        with self._tx(f"reading workflow {workflow_id}") as conn:
            query = select(w).where(w.c.id == workflow_id)
            if version is not None:
                query = query.where(w.c.version == version)
            row = (
                conn.execute(query.order_by(w.c.created_at.desc(), w.c.version.desc()).limit(1))
                .mappings()
                .first()
            )
            if row is not None:
                return _rows.workflow_record(row)
            known = self._versions(conn, workflow_id)
        if not known:
            raise NotFound(f"workflow {workflow_id!r} not found", details={"id": workflow_id})
        raise NotFound(
            f"workflow {workflow_id!r} has no version {version!r} "
            f"(known versions: {', '.join(known)})",
            details={"id": workflow_id, "version": version, "known_versions": known},
        )

    def list_workflows(self) -> list[WorkflowRecord]:
        """The latest version of every workflow, by id."""
        w = t.workflows
        rank = (
            func.row_number()
            .over(partition_by=w.c.id, order_by=(w.c.created_at.desc(), w.c.version.desc()))
            .label("rank")
        )
        ranked = select(w, rank).subquery()
        query = (
            select(*(ranked.c[c.name] for c in w.columns))
            .where(ranked.c.rank == 1)
            .order_by(ranked.c.id)
        )
        with self._tx("listing workflows") as conn:
            return [_rows.workflow_record(r) for r in conn.execute(query).mappings()]

    def workflow_versions(self, workflow_id: str) -> list[str]:
        """The versions of a workflow, oldest first (empty when the workflow is unknown)."""
        with self._tx(f"reading versions of workflow {workflow_id}") as conn:
            return self._versions(conn, workflow_id)

    @staticmethod
    def _versions(conn: Connection, workflow_id: str) -> list[str]:
        w = t.workflows
        query = (
            select(w.c.version).where(w.c.id == workflow_id).order_by(w.c.created_at, w.c.version)
        )
        return list(conn.execute(query).scalars())

    def delete_workflow(self, workflow_id: str, version: str | None = None) -> int:
        """Delete one version of a workflow (all of them without ``version``); returns how many
        went. Its executions stay, as history. NotFound when there was nothing to delete."""
        with self._tx(f"deleting workflow {workflow_id}", write=True) as conn:
            return _catalog.delete_workflow(conn, workflow_id, version)

    # --- executions -----------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """An execution with its steps, by id or by a unique id prefix of at least 6 chars."""
        e = t.executions
        with self._tx(f"reading execution {execution_id}") as conn:
            row = conn.execute(select(e).where(e.c.id == execution_id)).mappings().first()
            if row is None and len(execution_id) >= MIN_PREFIX:
                pattern = escape_like(execution_id) + "%"
                rows = (
                    conn.execute(
                        select(e)
                        .where(e.c.id.like(pattern, escape="\\"))
                        .order_by(e.c.id)
                        .limit(11)
                    )
                    .mappings()
                    .all()
                )
                if len(rows) > 1:
                    shown = [r["id"] for r in rows[:10]]
                    more = ", ..." if len(rows) > 10 else ""
                    raise InvalidRequest(  # the caller's mistake, not the store's failure
                        f"execution id prefix {execution_id!r} is ambiguous: it matches "
                        f"{', '.join(shown)}{more}",
                        details={"prefix": execution_id, "candidates": shown},
                    )
                row = rows[0] if rows else None
            if row is None:
                hint = (
                    f" (an id prefix needs at least {MIN_PREFIX} characters)"
                    if len(execution_id) < MIN_PREFIX
                    else ""
                )
                raise NotFound(
                    f"execution {execution_id!r} not found{hint}", details={"id": execution_id}
                )
            steps = self._steps(conn, [row["id"]])
            return _rows.execution_record(row, steps.get(row["id"], []))

    def list_executions(
        self,
        *,
        status: ExecutionStatus | str | Collection[ExecutionStatus | str] | None = None,
        workflow_id: str | None = None,
        limit: int = 50,
        before: datetime | None = None,
    ) -> list[ExecutionRecord]:
        """Executions newest first, without steps. ``before`` keeps those created earlier."""
        e = t.executions
        query = select(e)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            query = query.where(e.c.status.in_([ExecutionStatus(s).value for s in statuses]))
        if workflow_id is not None:
            query = query.where(e.c.workflow_id == workflow_id)
        if before is not None:
            query = query.where(e.c.created_at < before)
        query = query.order_by(e.c.created_at.desc(), e.c.id.desc()).limit(max(limit, 0))
        with self._tx("listing executions") as conn:
            return [_rows.execution_record(r) for r in conn.execute(query).mappings()]

    def find_execution_by_idempotency_key(self, key: str) -> ExecutionRecord | None:
        e = t.executions
        with self._tx("looking up an idempotency key") as conn:
            row = conn.execute(select(e).where(e.c.idempotency_key == key)).mappings().first()
            if row is None:
                return None
            steps = self._steps(conn, [row["id"]])
            return _rows.execution_record(row, steps.get(row["id"], []))

    def non_terminal_executions(self) -> list[ExecutionRecord]:
        """Queued, running and paused executions, oldest first, with their steps."""
        e = t.executions
        query = (
            select(e)
            .where(e.c.status.in_([s.value for s in _NON_TERMINAL]))
            .order_by(e.c.created_at, e.c.id)
        )
        with self._tx("listing unfinished executions") as conn:
            rows = conn.execute(query).mappings().all()
            steps = self._steps(conn, [r["id"] for r in rows])
        return [_rows.execution_record(r, steps.get(r["id"], [])) for r in rows]

    def search_executions(self, query: ExecutionQuery) -> ExecutionPage:
        """A page of the executions matching ``query`` (without steps), in a stable order.

        Pass ``next_cursor`` back (with the same sort) for the next page: paging visits each
        matching execution once, also while new ones are created. Executions without the sort
        value (not ended, never started) come last in either direction.
        """
        with self._tx("searching executions") as conn:
            return _history_queries.search(conn, query)

    def execution_stats(self, query: ExecutionQuery) -> ExecutionStats:
        """Counts, success rate and duration percentiles of the executions matching ``query``'s
        filters (its sort, limit and cursor play no part)."""
        with self._tx("summarising executions") as conn:
            return _history_queries.stats(conn, query)

    def delete_executions(self, ids: Sequence[str]) -> DeleteResult:
        """Delete finished executions with their steps, events, logs and metrics, in one
        transaction; queued, running and paused ones are left alone (``unfinished``)."""
        with self._tx("deleting executions", write=True) as conn:
            return _history_queries.delete(conn, ids)

    def performance(
        self,
        *,
        workflow_id: str | None = None,
        since: datetime | None = None,
        now: datetime | None = None,
    ) -> PerformanceReport:
        """How workflows and node types perform (executions created since ``since``), the
        slowest steps, and advice. ``now`` (default: the current time) ends a ``since`` window."""
        with self._tx("reading performance") as conn:
            return _history_queries.performance(conn, workflow_id=workflow_id, since=since, now=now)

    @staticmethod
    def _steps(conn: Connection, execution_ids: list[str]) -> dict[str, list[StepRecord]]:
        found: dict[str, list[StepRecord]] = {}
        for start in range(0, len(execution_ids), 500):
            chunk = execution_ids[start : start + 500]
            query = select(t.steps).where(t.steps.c.execution_id.in_(chunk))
            for row in conn.execute(query).mappings():
                found.setdefault(row["execution_id"], []).append(_rows.step_record(row))
        return {k: _rows.ordered_steps(v) for k, v in found.items()}

    # --- events and logs ------------------------------------------------------------------------

    def events_after(self, execution_id: str, after_seq: int = 0, limit: int = 1000) -> list[Event]:
        """Events of an execution with ``seq > after_seq``, in order."""
        ev = t.events
        query = (
            select(ev)
            .where(ev.c.execution_id == execution_id, ev.c.seq > min(after_seq, t.INT_COLUMN_MAX))
            .order_by(ev.c.seq)
            .limit(max(limit, 0))
        )
        with self._tx(f"reading events of execution {execution_id}") as conn:
            return [_rows.event_record(r) for r in conn.execute(query).mappings()]

    def max_event_seq(self, execution_id: str) -> int:
        """The highest event seq of an execution (0 when it has none)."""
        ev = t.events
        query = select(func.max(ev.c.seq)).where(ev.c.execution_id == execution_id)
        with self._tx(f"reading events of execution {execution_id}") as conn:
            value = conn.execute(query).scalar()
        return int(value or 0)

    def latest_event_seqs(self, execution_ids: Sequence[str]) -> dict[str, int]:
        """The highest event seq of each of ``execution_ids`` that has events, in one query
        (per 500): what live streams poll (hub.recording.EventWatch)."""
        ev = t.events
        found: dict[str, int] = {}
        ids = list(dict.fromkeys(execution_ids))
        with self._tx("reading the newest events") as conn:
            for start in range(0, len(ids), 500):
                query = (
                    select(ev.c.execution_id, func.max(ev.c.seq))
                    .where(ev.c.execution_id.in_(ids[start : start + 500]))
                    .group_by(ev.c.execution_id)
                )
                found.update({str(i): int(seq) for i, seq in conn.execute(query)})
        return found

    def logs(
        self,
        execution_id: str,
        *,
        after_seq: int = 0,
        level: str | None = None,
        limit: int = 1000,
        search: str | None = None,
    ) -> list[LogEntry]:
        """Log entries of an execution with ``seq > after_seq``, in order; optionally only one
        level, or only those whose message contains ``search`` (ignoring case)."""
        lg = t.logs
        cond = [lg.c.execution_id == execution_id, lg.c.seq > min(after_seq, t.INT_COLUMN_MAX)]
        if level is not None:
            cond.append(lg.c.level == level.lower())
        if search:
            cond.append(contains(lg.c.message, search))
        query = select(lg).where(and_(*cond)).order_by(lg.c.seq).limit(max(limit, 0))
        with self._tx(f"reading logs of execution {execution_id}") as conn:
            return [_rows.log_record(r) for r in conn.execute(query).mappings()]

    # --- settings -------------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A stored setting (a JSON value), or ``default`` when it was never set."""
        s = t.settings
        with self._tx(f"reading setting {key}") as conn:
            row = conn.execute(select(s.c.value).where(s.c.key == key)).first()
        return default if row is None else row.value

    def set_setting(self, key: str, value: Any) -> None:
        """Store a setting (any JSON value), replacing the previous one."""
        with self._tx(f"saving setting {key}", write=True) as conn:
            upsert(
                conn, t.settings, [{"key": key, "value": value, "updated_at": utcnow()}], ["key"]
            )

    # --- triggers -------------------------------------------------------------------------------

    def trigger_states(self) -> list[dict[str, Any]]:
        """Every trigger's stored state: workflow_id, trigger_id, enabled, state, updated_at."""
        ts = t.trigger_states
        with self._tx("reading trigger states") as conn:
            rows = conn.execute(select(ts).order_by(ts.c.workflow_id, ts.c.trigger_id))
            return [dict(r) for r in rows.mappings()]

    def save_trigger_state(self, workflow_id: str, trigger_id: str, state: dict[str, Any]) -> None:
        """Replace what the runtime keeps about a trigger (its operator's switch stays)."""
        row: dict[str, Any] = {
            "workflow_id": workflow_id,
            "trigger_id": trigger_id,
            "enabled": None,
            "state": state,
            "updated_at": utcnow(),
        }
        with self._tx(f"saving the state of trigger {workflow_id}/{trigger_id}", write=True) as c:
            upsert(
                c,
                t.trigger_states,
                [row],
                ["workflow_id", "trigger_id"],
                replace=["state", "updated_at"],
            )

    def set_trigger_enabled(self, workflow_id: str, trigger_id: str, enabled: bool | None) -> None:
        """The operator's switch: True/False, or None to follow the workflow document."""
        row: dict[str, Any] = {
            "workflow_id": workflow_id,
            "trigger_id": trigger_id,
            "enabled": enabled,
            "state": {},
            "updated_at": utcnow(),
        }
        with self._tx(f"switching trigger {workflow_id}/{trigger_id}", write=True) as c:
            upsert(
                c,
                t.trigger_states,
                [row],
                ["workflow_id", "trigger_id"],
                replace=["enabled", "updated_at"],
            )

    def delete_trigger_states(self, workflow_id: str, keep: Sequence[str] = ()) -> int:
        """Forget the triggers of a workflow (but ``keep``): it was deleted, or its latest
        version no longer declares them."""
        ts = t.trigger_states
        cond = [ts.c.workflow_id == workflow_id]
        if keep:
            cond.append(ts.c.trigger_id.not_in(list(keep)))
        with self._tx(f"forgetting the triggers of {workflow_id}", write=True) as conn:
            return int(conn.execute(delete(ts).where(*cond)).rowcount or 0)

    # --- error analysis -------------------------------------------------------------------------

    def failures(
        self,
        *,
        since: datetime | None = None,
        workflow_id: str | None = None,
        limit: int = 10_000,
    ) -> list[FailureSample]:
        """Recorded failures, newest first: failed steps, and failed executions whose error
        belongs to no failed step (the execution timeout, an interrupted runtime...)."""
        with self._tx("reading failures") as conn:
            return _analysis_queries.failures(
                conn, since=since, workflow_id=workflow_id, limit=limit
            )

    def error_patterns(
        self, *, since: datetime | None = None, workflow_id: str | None = None
    ) -> list[ErrorPattern]:
        """Recorded failures grouped into patterns, most frequent first (hub.analysis)."""
        return group_failures(self.failures(since=since, workflow_id=workflow_id))

    # --- retention ------------------------------------------------------------------------------

    def prune(
        self,
        *,
        max_age_s: float | None = None,
        max_count: int | None = None,
        batch_size: int = _retention.DEFAULT_BATCH_SIZE,
        now: datetime | None = None,
    ) -> int:
        """Delete finished executions (with their steps, events, logs and metrics) that ended
        more than ``max_age_s`` ago, and/or all but the newest ``max_count`` finished ones.

        Queued, running and paused executions are never deleted nor counted; those that ended
        less than a minute before ``now`` count but stay (the runtime may still record them).
        Works in batches of ``batch_size`` executions, one short write transaction each. Without
        either limit nothing is deleted. Returns how many executions were deleted.
        """
        if max_age_s is not None and max_age_s < 0:
            raise ValueError(f"max_age_s must not be negative, got {max_age_s}")
        now = now or utcnow()
        return _retention.prune(
            lambda: self._tx("pruning history", write=True),
            cutoff=None if max_age_s is None else now - timedelta(seconds=max_age_s),
            keep=max_count,
            settled_before=now - timedelta(seconds=_retention.SETTLE_S),
            batch_size=batch_size,
        )

    def vacuum(self, pages: int | None = None) -> None:
        """Give free pages (up to ``pages``; None: all) back to the file system.

        SQLite only (``PRAGMA incremental_vacuum``); PostgreSQL's autovacuum needs no help.
        """
        _retention.vacuum(lambda: self._tx("vacuuming", write=True), self._engine, pages)


def _plain_creations(writes: Sequence[StoreWrite]) -> list[ExecutionRecord] | None:
    """The records when ``writes`` only create executions, with no steps to seed them and no
    idempotency key to check; else None."""
    records = [w.record for w in writes if isinstance(w, CreateExecution)]
    if len(records) < len(writes) or any(r.steps or r.idempotency_key for r in records):
        return None
    return records


def _check_runner_writes(execution_id: str, writes: Sequence[StoreWrite]) -> None:
    """A runner stores its own execution's steps, events and updates, nothing else."""
    for write in writes:
        owner = write.event.execution_id if isinstance(write, AppendEvent) else None
        owner = owner or getattr(write, "execution_id", None)
        if owner != execution_id or isinstance(write, CreateExecution | AppendAudit):
            raise StoreError(
                f"a runner of execution {execution_id} cannot store "
                f"{type(write).__name__} of {owner or 'another record'}"
            )


def _sqlite_run(execution_id: str, token: str, writes: Sequence[StoreWrite]) -> RunWrites:
    """A runner's writes as the SQLite writer takes them: its steps (the last row of each),
    events and the execution's merged update."""
    steps = {w.step.node_id: w.step for w in writes if isinstance(w, UpsertStep)}
    events = [w.event for w in writes if isinstance(w, AppendEvent)]
    changed = merged_update([w for w in writes if isinstance(w, UpdateExecution)])
    return execution_id, token, list(steps.values()), events, changed
