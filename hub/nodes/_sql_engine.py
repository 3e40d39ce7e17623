"""What the ``sql`` node does in its node actor's process: engines pooled per URL, the
statements run in one transaction, database values as JSON (:func:`json_value`). Imported on
the node's first call, so SQLAlchemy stays out of every process that only compiles workflows
(the CLI's precheck, the supervisor, ExecutionActors)."""

from __future__ import annotations

import base64
import math
import threading
from collections import OrderedDict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Connection, Engine, create_engine, exc, text
from sqlalchemy.engine import URL, make_url

from hub.errors import ErrorCategory, StepFailed
from hub.nodes._files import files_root, resolve_inside

if TYPE_CHECKING:
    from hub.nodes._sql import SqlParams

MAX_ENGINES = 16  # engines (connection pools) a node process keeps, the least used dropped
# Drivers that ship with the runtime, used when a URL names none.
DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

# --- values -----------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A database value as JSON: Decimal as an integer when whole, a number when a float holds
    it exactly, else a string of its digits; date/time values as ISO 8601 text; an interval as
    seconds; bytes as base64 text; UUIDs as text; NaN and infinities as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)


# --- engines ----------------------------------------------------------------------------------


def database_url(raw: str) -> URL:
    """The URL to connect to: the runtime's driver when none is named; a SQLite file only
    inside the files root (HUB_FILES_ROOT), so a workflow cannot open the runtime's own store
    or any other file of the machine."""
    try:
        url = make_url(raw)
    except exc.ArgumentError:
        raise StepFailed(
            "url is not a database URL (e.g. postgresql://user@host/db, "
            "mysql://user@host/db, sqlite:///data/app.db)",
            category=ErrorCategory.VALIDATION,
        ) from None
    backend = url.get_backend_name()
    if url.drivername in DEFAULT_DRIVERS:
        url = url.set(drivername=DEFAULT_DRIVERS[url.drivername])
    elif backend not in ("postgresql", "mysql", "mariadb", "sqlite"):
        raise StepFailed(
            f"url: {backend!r} databases are not supported (postgresql, mysql, mariadb, sqlite)",
            category=ErrorCategory.VALIDATION,
        )
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        path = resolve_inside(files_root(), url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=str(path))
    return url


class Engines:
    """Engines by URL, least recently used dropped (and disposed) beyond ``size``."""

    def __init__(self, size: int = MAX_ENGINES) -> None:
        self.size = size
        self.engines: OrderedDict[str, Engine] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, url: URL) -> Engine:
        key = url.render_as_string(hide_password=False)
        with self.lock:
            engine = self.engines.get(key)
            if engine is None:
                engine = self.engines[key] = _create(url)
                while len(self.engines) > self.size:
                    _, dropped = self.engines.popitem(last=False)
                    dropped.dispose()
            self.engines.move_to_end(key)
            return engine


def _create(url: URL) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            return create_engine(url)
        return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=8)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as error:
        raise StepFailed(
            f"url {url.render_as_string(hide_password=True)}: {error}",
            category=ErrorCategory.VALIDATION,
        ) from None


_ENGINES = Engines()


# --- running ----------------------------------------------------------------------------------


def _statement_timeout(conn: Connection, seconds: float) -> None:
    """Have the server stop a statement that runs past the node's timeout."""
    dialect = conn.dialect
    if dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}"))
    elif dialect.name == "mysql" and getattr(dialect, "is_mariadb", False):
        conn.execute(text(f"SET SESSION max_statement_time = {seconds:.3f}"))
    elif dialect.name == "mysql":
        conn.execute(text(f"SET SESSION max_execution_time = {max(1, int(seconds * 1000))}"))


def _result(conn: Connection, query: str, values: dict[str, Any], max_rows: int) -> dict[str, Any]:
    result = conn.execute(text(query), values)
    if not result.returns_rows:
        return {"rows": [], "columns": [], "rowcount": max(result.rowcount, 0), "truncated": False}
    columns = list(result.keys())
    fetched = result.fetchmany(max_rows + 1)
    truncated = len(fetched) > max_rows
    rows = [
        {column: json_value(value) for column, value in zip(columns, row, strict=True)}
        for row in fetched[:max_rows]
    ]
    result.close()
    return {"rows": rows, "columns": columns, "rowcount": len(rows), "truncated": truncated}


def _shape(mode: str, out: dict[str, Any]) -> dict[str, Any]:
    if mode == "one":
        if out["rowcount"] != 1 or out["truncated"]:
            count = "more than one row" if out["rowcount"] > 1 or out["truncated"] else "no row"
            raise StepFailed(f"mode 'one' wants exactly one row; the query returned {count}")
        out["row"] = out["rows"][0]
    elif mode == "scalar":
        out["value"] = next(iter(out["rows"][0].values()), None) if out["rows"] else None
    return out


def run_sql(params: SqlParams) -> dict[str, Any]:
    """Run the statement(s) in one transaction (committed at the end, rolled back on error)."""
    url = database_url(params.url)
    engine = _ENGINES.get(url)
    where = url.render_as_string(hide_password=True)
    try:
        conn = engine.connect()
    except exc.SQLAlchemyError as error:
        raise StepFailed(
            f"{where}: cannot connect: {_said(error)}",
            category=ErrorCategory.CONNECTION,
            retryable=True,
        ) from None
    try:
        with conn, conn.begin():
            _statement_timeout(conn, params.timeout_s)
            if params.statements is None:
                assert params.query is not None
                out = _result(conn, params.query, params.params, params.max_rows)
                return _shape(params.mode, out)
            results = [_result(conn, s.query, s.params, params.max_rows) for s in params.statements]
            return {"results": results, "rowcount": sum(r["rowcount"] for r in results)}
    except exc.SQLAlchemyError as error:
        raise _failure(error, where, params.timeout_s) from None


def _said(error: exc.SQLAlchemyError) -> str:
    """What the database (or driver) said, first line: never the URL, so never its password."""
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or ["?"])[0][:500]


def _failure(error: exc.SQLAlchemyError, where: str, timeout_s: float) -> StepFailed:
    """A database error of a statement as a step failure."""
    said = _said(error)
    lowered = said.lower()
    if "timeout" in lowered or "max_statement_time" in lowered or "interrupted" in lowered:
        return StepFailed(
            f"{where}: the statement ran past {timeout_s:g}s and was stopped ({said})",
            category=ErrorCategory.TIMEOUT,
            retryable=True,
        )
    if isinstance(error, exc.StatementError) and not isinstance(error, exc.DBAPIError):
        return StepFailed(f"{where}: {said}", category=ErrorCategory.VALIDATION)
    retryable = isinstance(error, exc.OperationalError)  # deadlocks, lost connections
    return StepFailed(f"{where}: {said}", category=ErrorCategory.NODE_ERROR, retryable=retryable)
