"""Engines and the one boundary where SQLAlchemy / DB-API errors become :class:`StoreError`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from hub.errors import HubError, StoreError
from hub.store._url import parse_url, password_of, redact_url

_WRITE_OPTION = "hub_write"
SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 10


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


# One encoder for every value the store writes: json.dumps with an argument makes a new one
# per call, a third of the cost of a small value.
_json_dumps = json.JSONEncoder(default=_json_default).encode


def create_store_engine(url: str | URL) -> Engine:
    """An engine for the store; on SQLite with WAL, NORMAL sync, a busy timeout and FKs on."""
    parsed = url if isinstance(url, URL) else parse_url(url)
    try:
        return _create_engine(parsed)
    except (ImportError, ArgumentError) as exc:
        raise StoreError(
            f"unsupported database URL {redact_url(parsed)}: {exc}; use sqlite:///<path> or "
            "postgresql://user@host/db"
        ) from exc


def _create_engine(parsed: URL) -> Engine:
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps}
    if backend == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        kwargs["connect_args"] = {"check_same_thread": False}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(parsed, **kwargs)
        _install_sqlite_hooks(engine, wal=not memory)
        return engine
    if backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    return create_engine(parsed, **kwargs)


def _install_sqlite_hooks(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below); sqlite3's legacy transaction control is off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                # Lets Store.vacuum give pruned space back. SQLite takes it only on a new, empty
                # file (older files: _retention.ensure_incremental_vacuum), and setting it on an
                # existing one writes page 1 under the write lock on every connect: new files only.
                cursor.execute("PRAGMA page_count")
                if cursor.fetchone()[0] == 0:
                    cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that upgrades from read
        # to write fails at once with SQLITE_BUSY instead of waiting for the busy timeout.
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def transaction(engine: Engine, *, write: bool, what: str) -> Iterator[Connection]:
    """A connection in a transaction, committed on success; errors become StoreError."""
    try:
        conn = engine.connect()
    except SQLAlchemyError as exc:
        raise unreachable(engine.url, exc) from exc
    try:
        with conn:
            if write:
                conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn
    except HubError:
        raise
    except SQLAlchemyError as exc:
        raise translate(engine.url, exc, what) from exc


def unreachable(url: URL, exc: BaseException) -> StoreError:
    return StoreError(
        f"cannot reach the database at {redact_url(url)}: {reason(exc, url)}",
        details={"url": redact_url(url)},
    )


def translate(url: URL, exc: BaseException, what: str) -> StoreError:
    """A StoreError for ``exc`` raised while doing ``what`` (e.g. "applying writes")."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return StoreError(
            f"lost the connection to the database at {redact_url(url)} while {what}: "
            f"{reason(exc, url)}",
            details={"url": redact_url(url)},
        )
    if isinstance(exc, IntegrityError):
        return StoreError(
            f"the database rejected a write while {what}: {reason(exc, url)}",
            details={"url": redact_url(url), "constraint": True},
        )
    return StoreError(
        f"database error while {what} ({redact_url(url)}): {reason(exc, url)}",
        details={"url": redact_url(url)},
    )


_KNOWN_REASONS = (
    (re.compile(r"connection refused", re.I), "connection refused"),
    (re.compile(r"password authentication failed", re.I), "password authentication failed"),
    (re.compile(r"could not translate host name|name or service not known", re.I), "unknown host"),
    (re.compile(r"timeout expired|timed out", re.I), "connection timed out"),
    (re.compile(r"unable to open database file", re.I), "unable to open database file"),
)


def reason(exc: BaseException, url: URL | None = None) -> str:
    """A one-line, password-free reason for a database error."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(orig).strip()
    if isinstance(exc, SQLAlchemyError) and orig is exc:
        # SQLAlchemy's own messages carry a trailing "(Background on this error at: ...)".
        text = re.sub(r"\s*\(Background on this error at:[^)]*\)\s*$", "", text)
    for pattern, short in _KNOWN_REASONS:
        if pattern.search(text):
            text = short
            break
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        first = lines[0] if lines else type(orig).__name__
        # libpq: 'connection failed: connection to server at ... failed: FATAL:  <reason>'
        first = re.sub(r"^.*\bFATAL:\s*", "", first)
        details = [line[len("DETAIL:") :].strip() for line in lines if line.startswith("DETAIL:")]
        text = f"{first} ({details[0]})" if details else first
    if url is not None:
        secret = password_of(url)
        if secret:
            text = text.replace(secret, "***")
    return text
