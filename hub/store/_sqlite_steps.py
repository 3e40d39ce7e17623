"""``Store.commit_run`` on SQLite, straight on the driver's connection: a runner's step rows,
events (with their log rows) and its execution's update, in one fenced transaction.

A runner stores each action step's row in its own transaction, before the step's dependents
run, so this transaction is on every step's path. SQLAlchemy's per-statement work (cache keys,
execution contexts, result set-up) costs about three times SQLite's own for it (0.175 against
0.045 ms a commit: bench/step_commit.py; bench/README.md, "Threaded node actors and step commits
on the driver"). Here the same statements run on a DB-API connection of the pool, kept
between commits: the SQL is built once from the table, and every value goes through its
column's bind processor (SQLAlchemy's, or the same conversion in one C call for the store's
timestamp and JSON columns), so the rows are exactly what the SQLAlchemy path writes
(tests/unit/test_store.py compares them)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import JSON, Column, Dialect, Engine, Table
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import NotFound, StoreError
from hub.records import Event, ExecutionRecord, StepRecord
from hub.store import _rows
from hub.store import _schema as t
from hub.store._db import _json_dumps, unreachable
from hub.store._url import redact_url
from hub.store._writes import number_events

# One run's writes as ``commit`` takes them: execution id, runner token, step rows, events and
# the execution's changed columns (or None).
RunWrites = tuple[str, str, Sequence[StepRecord], Sequence[Event], dict[str, Any] | None]


class _Run(NamedTuple):
    """One run's writes, made rows (``SqliteStepWriter._prepare``)."""

    args: RunWrites  # as given: what ``commit`` takes to store it alone
    step_rows: list[tuple[Any, ...]]
    changed: tuple[str, tuple[Any, ...]] | None

    @property
    def execution_id(self) -> str:
        return self.args[0]

    @property
    def token(self) -> str:
        return self.args[1]

    @property
    def events(self) -> Sequence[Event]:
        return self.args[3]


def _sqlite_timestamp(value: datetime | None) -> str | None:
    """UTCDateTime's value on SQLite (UTC, naive, SQLAlchemy's DATETIME storage format
    ``YYYY-MM-DD HH:MM:SS.ffffff``), in C: the generic processor's two Python steps cost more
    than the rest of a row."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _json_or_null(value: Any) -> str | None:
    """json_type()'s value on SQLite: None is SQL NULL (none_as_null), the rest the store's
    JSON (hub.store._db._json_dumps)."""
    return None if value is None else _json_dumps(value)


def _processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column's bind processor: SQLAlchemy's, but for the store's timestamp and JSON
    columns, whose same values come from one C call each (tests/unit/test_store.py compares
    the rows with SQLAlchemy's)."""
    kind = column.type
    if isinstance(kind, t.UTCDateTime):
        return _sqlite_timestamp
    if isinstance(kind, JSON) and kind.none_as_null:  # json_type(), as SQLite sees it
        return _json_or_null
    return kind.dialect_impl(dialect).bind_processor(dialect)


class _Statement:
    """One table's INSERT (an upsert on ``keys`` when given) as SQLite SQL, with each column's
    bind processor: rows become exactly the values SQLAlchemy would send."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        keys: Sequence[str] = (),
        columns: Sequence[str] | None = None,
    ) -> None:
        dialect = engine.dialect
        quote = dialect.identifier_preparer.quote
        self.columns = (
            list(columns)
            if columns is not None
            else [c.name for c in table.columns if c.autoincrement is not True]
        )
        self.processors: list[Callable[[Any], Any] | None] = [
            _processor(table.c[name], dialect) for name in self.columns
        ]
        self.sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in self.columns)}) "
            f"VALUES ({', '.join('?' for _ in self.columns)})"
        )
        if keys:
            replaced = ", ".join(
                f"{quote(c)} = excluded.{quote(c)}" for c in self.columns if c not in keys
            )
            conflict = ", ".join(quote(k) for k in keys)
            self.sql += f" ON CONFLICT ({conflict}) DO UPDATE SET {replaced}"

    def values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            row[name] if process is None else process(row[name])
            for name, process in zip(self.columns, self.processors, strict=True)
        )


class SqliteStepWriter:
    """A runner's step rows and events in one fenced transaction (``Store.commit_run``)."""

    def __init__(self, engine: Engine) -> None:
        quote = engine.dialect.identifier_preparer.quote
        self.engine = engine
        self.steps = _Statement(engine, t.steps, [c.name for c in t.steps.primary_key.columns])
        self.events = _Statement(engine, t.events)
        # A new execution's row has no runner yet (hub.store._rows.execution_row).
        self.executions = _Statement(engine, t.executions, columns=_rows.EXECUTION_COLUMNS)
        self.logs = _Statement(engine, t.logs)
        runner, execution_id = t.executions.c.runner, t.executions.c.id
        self.holder = (
            f"SELECT {quote(runner.name)} FROM {quote(t.executions.name)} "
            f"WHERE {quote(execution_id.name)} = ?"
        )
        self.quote = quote
        self.lock = threading.Lock()  # one commit at a time on the kept connection
        self.kept: Any = None  # the pool's connection this writer keeps between commits
        self.updates: dict[tuple[str, ...], tuple[str, list[Callable[[Any], Any] | None]]] = {}
        self.claim = (
            f"UPDATE {quote(t.executions.name)} SET {quote(runner.name)} = ? "
            f"WHERE {quote(execution_id.name)} = ?"
        )
        ev = t.events
        self.max_seq = (
            f"SELECT max({quote(ev.c.seq.name)}) FROM {quote(ev.name)} "
            f"WHERE {quote(ev.c.execution_id.name)} = ?"
        )

    def commit(
        self,
        execution_id: str,
        token: str,
        steps: Sequence[StepRecord],
        events: Sequence[Event] = (),
        update: dict[str, Any] | None = None,
    ) -> bool:
        """As ``Store.commit_run``: False (nothing written) when another runner holds the
        execution; its errors are the same StoreError / NotFound. Events without a number
        (seq 0) are numbered after the highest stored, inside the transaction; ``update`` is
        the execution's changed columns (hub.store._writes.merged_update)."""
        run = self._prepare((execution_id, token, steps, events, update))
        with self.lock:
            what = f"storing the steps of execution {execution_id}"
            return bool(self._transaction(lambda cursor: self._write(cursor, run), what))

    def commit_many(self, runs: Sequence[RunWrites]) -> list[bool | Exception]:
        """``commit`` for several runs in one transaction (one BEGIN, one COMMIT: what a host
        running many executions does with the writes they made meanwhile). Each run's outcome
        is its own: True, False (another runner holds it: none of its writes land) or the
        error that refused it. A run whose rows the database refuses fails the transaction;
        the runs are then committed one by one, so it fails alone."""
        outcomes: list[bool | Exception] = [False] * len(runs)
        prepared: list[tuple[int, _Run]] = []
        for i, given in enumerate(runs):
            try:
                prepared.append((i, self._prepare(given)))
            except StoreError as exc:
                outcomes[i] = exc

        def write_all(cursor: Any) -> None:
            for i, one in prepared:
                try:
                    outcomes[i] = self._write(cursor, one)
                except NotFound as exc:  # checked before any of its writes: the rest goes on
                    outcomes[i] = exc

        if prepared:
            try:
                with self.lock:
                    self._transaction(write_all, "storing the steps of several executions")
            except Exception:  # one by one: each run gets its own outcome
                for i, one in prepared:
                    try:
                        outcomes[i] = self.commit(*one.args)
                    except Exception as exc:
                        outcomes[i] = exc
        return outcomes

    def create(self, records: Sequence[ExecutionRecord]) -> None:
        """Insert new executions' rows (no steps, no idempotency key: ``Store.apply`` sends
        only those here) in one transaction; StoreError, with ``constraint``, for an id
        already stored."""
        try:
            rows = [self.executions.values(_rows.execution_row(r)) for r in records]
        except (TypeError, ValueError) as exc:  # a value its column cannot take (bad JSON)
            raise StoreError(f"database error while {_CREATING} ({self.url}): {exc}") from exc
        with self.lock:
            self._transaction(
                lambda cursor: cursor.executemany(self.executions.sql, rows), _CREATING
            )

    def _prepare(self, given: RunWrites) -> _Run:
        """A run's rows as the statements take them; StoreError for a value its column cannot
        take (bad JSON) or an event of another execution."""
        execution_id, _, steps, events, update = given
        try:
            step_rows = [self.steps.values(_rows.step_row(execution_id, s)) for s in steps]
            for event in events:
                _check_owner(event, execution_id)
            changed = self._update(execution_id, update) if update else None
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"database error while storing the steps of execution {execution_id} "
                f"({self.url}): {exc}"
            ) from exc
        return _Run(given, step_rows, changed)

    def _transaction(self, body: Callable[[Any], Any], what: str) -> Any:
        """``body(cursor)`` in one write transaction on the kept connection (the caller holds
        ``lock``); the connection is given back after any failure."""
        connection = self._connection()
        try:
            return self._in_transaction(connection, body)
        except BaseException as exc:
            connection.close()  # back to the pool, which rolls back what is left
            self.kept = None  # the next commit takes a fresh one
            if isinstance(exc, TypeError | ValueError):  # an event value its column refuses
                raise StoreError(f"database error while {what} ({self.url}): {exc}") from exc
            if isinstance(exc, sqlite3.Error):
                raise self._store_error(what, exc) from exc
            raise

    def _connection(self) -> Any:
        """One of the pool's connections, kept between commits (a checkout and a check-in cost
        a quarter of a commit's own time); given back after any failure and by ``close``."""
        if self.kept is None:
            try:
                self.kept = self.engine.raw_connection()  # set up by the pool's connect hook
            except (SQLAlchemyError, sqlite3.Error) as exc:
                raise unreachable(self.engine.url, exc) from exc
        return self.kept

    def close(self) -> None:
        """Give the kept connection back to the pool (before the engine is disposed)."""
        with self.lock:
            if self.kept is not None:
                self.kept.close()
                self.kept = None

    def _store_error(self, what: str, exc: sqlite3.Error) -> StoreError:
        details: dict[str, Any] = {"url": self.url}
        if isinstance(exc, sqlite3.IntegrityError):
            details["constraint"] = True
            return StoreError(f"the database rejected a write while {what}: {exc}", details=details)
        return StoreError(f"database error while {what} ({self.url}): {exc}", details=details)

    @staticmethod
    def _in_transaction(connection: Any, body: Callable[[Any], Any]) -> Any:
        cursor = connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")  # the write lock up front, as every store writer
        except BaseException:
            cursor.close()
            raise
        try:
            result = body(cursor)
            cursor.execute("COMMIT")
            return result
        except BaseException:
            if connection.dbapi_connection.in_transaction:  # this call's own BEGIN
                with contextlib.suppress(sqlite3.Error):
                    cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.close()

    def _write(self, cursor: Any, run: _Run) -> bool:
        """One run's writes in the open transaction: False, and none written, when another
        runner holds the execution."""
        execution_id = run.execution_id
        holder = cursor.execute(self.holder, (execution_id,)).fetchone()
        if holder is None:
            raise NotFound(f"execution {execution_id} not found")
        if holder[0] is None:  # a fresh run's first write: its runner claims it
            cursor.execute(self.claim, (run.token, execution_id))
        elif holder[0] != run.token:
            return False
        if run.changed is not None:  # updates first, as apply_writes orders them
            cursor.execute(*run.changed)
        if run.step_rows:
            cursor.executemany(self.steps.sql, run.step_rows)
        events = run.events
        if events:
            number_events(events, lambda i: cursor.execute(self.max_seq, (i,)).fetchone()[0] or 0)
            cursor.executemany(
                self.events.sql, [self.events.values(_rows.event_row(e)) for e in events]
            )
            logs = [self.logs.values(_rows.log_row(e)) for e in events if e.type == "log"]
            if logs:
                cursor.executemany(self.logs.sql, logs)
        return True

    def _update(self, execution_id: str, fields: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """The UPDATE of the execution's row for ``fields``, and its values."""
        columns = tuple(sorted(fields))
        if columns not in self.updates:
            e, quote, dialect = t.executions, self.quote, self.engine.dialect
            sets = ", ".join(f"{quote(c)} = ?" for c in columns)
            self.updates[columns] = (
                f"UPDATE {quote(e.name)} SET {sets} WHERE {quote(e.c.id.name)} = ?",
                [_processor(e.c[c], dialect) for c in columns],
            )
        sql, processors = self.updates[columns]
        values = [
            fields[c] if process is None else process(fields[c])
            for c, process in zip(columns, processors, strict=True)
        ]
        return sql, (*values, execution_id)

    @property
    def url(self) -> str:
        return redact_url(self.engine.url)


_CREATING = "creating executions"


def _check_owner(event: Event, execution_id: str) -> None:
    if event.execution_id != execution_id:
        raise ValueError(f"event {event.type!r} is of execution {event.execution_id}")
