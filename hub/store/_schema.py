"""The store's tables, as SQLAlchemy Core tables (not ORM models: nothing here maps rows to
objects, and the ORM's import is a quarter of a second in every process that opens the store).

Every change here needs a migration under ``migrations/versions`` (the tests compare the
migrated database with these tables).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops tz info).

    Naive datetimes are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type() -> TypeEngine[Any]:
    """JSON everywhere, JSONB on PostgreSQL; Python ``None`` is stored as SQL NULL."""
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _column(name: str, kind: Any, *, nullable: bool = False, **options: Any) -> Column[Any]:
    """A column, NOT NULL unless said (what the declarative models this replaced inferred)."""
    return Column(name, kind, nullable=nullable, **options)


def _key(name: str, kind: Any, *extra: Any, **options: Any) -> Column[Any]:
    return Column(name, kind, *extra, primary_key=True, nullable=False, **options)


Table(
    "workflows",
    metadata,
    _key("id", String(255)),
    _key("version", String(255)),
    _column("name", Text, nullable=True),
    _column("description", Text, nullable=True),
    _column("definition", json_type()),
    _column("diagnostics", json_type()),
    _column("created_at", UTCDateTime()),
)

Table(
    "workflow_executions",
    metadata,
    _key("id", String(64)),
    _column("workflow_id", String(255)),
    _column("workflow_version", String(255)),
    _column("status", String(16)),
    _column("trigger", String(64)),
    _column("inputs", json_type()),
    _column("outputs", json_type()),
    _column("settings", json_type()),
    _column("error", json_type(), nullable=True),
    _column("idempotency_key", String(255), nullable=True, unique=True),
    _column("created_at", UTCDateTime()),
    _column("started_at", UTCDateTime(), nullable=True),
    _column("ended_at", UTCDateTime(), nullable=True),
    # The execution this one retries or re-runs (settings["origin"] says how).
    _column("parent_id", String(64), nullable=True, index=True),
    # What a trigger received: its id and type, and the slot, message id or caller's key.
    _column("trigger_info", json_type(), nullable=True),
    # The token of the runner that holds it (Store.claim_runner on a resume, or a fresh run's
    # first write): a runner's own writes carry theirs and are refused when it is another
    # (Store.commit_run).
    _column("runner", String(64), nullable=True),
    Index("ix_workflow_executions_status", "status"),
    Index("ix_workflow_executions_workflow_id_created_at", "workflow_id", "created_at"),
    Index("ix_workflow_executions_created_at", "created_at"),
)

Table(
    "step_executions",
    metadata,
    _key("execution_id", String(64), ForeignKey("workflow_executions.id", ondelete="CASCADE")),
    _key("node_id", String(255)),
    _column("node_type", String(255)),
    _column("status", String(16)),
    _column("attempts", Integer),
    _column("started_at", UTCDateTime(), nullable=True),
    _column("ended_at", UTCDateTime(), nullable=True),
    _column("input", json_type(), nullable=True),
    _column("output", json_type(), nullable=True),
    _column("error", json_type(), nullable=True),
    _column("category", String(32), nullable=True),
    Index("ix_step_executions_category", "category"),
)

Table(
    "execution_events",
    metadata,
    _key("execution_id", String(64)),
    _key("seq", Integer, autoincrement=False),
    _column("type", String(64)),
    _column("node_id", String(255), nullable=True),
    _column("ts", UTCDateTime()),
    _column("data", json_type()),
)

Table(
    "execution_logs",
    metadata,
    _key("execution_id", String(64)),
    _key("seq", Integer, autoincrement=False),
    _column("ts", UTCDateTime()),
    _column("level", String(16)),
    _column("node_id", String(255), nullable=True),
    _column("source", String(64)),
    _column("message", Text),
    _column("metadata", json_type()),
    Index("ix_execution_logs_execution_id_level", "execution_id", "level"),
)

Table(
    "execution_metrics",
    metadata,
    _key("id", Integer, autoincrement=True),
    _column("execution_id", String(64)),
    _column("name", String(255)),
    _column("value", Float),
    _column("tags", json_type()),
    _column("ts", UTCDateTime()),
    Index("ix_execution_metrics_execution_id_name", "execution_id", "name"),
)

Table(
    "saved_inputs",
    metadata,
    _key("id", String(64)),
    _column("workflow_id", String(255)),
    _column("name", String(255)),
    _column("inputs", json_type()),
    _column("created_at", UTCDateTime()),
    Index("ix_saved_inputs_workflow_id", "workflow_id"),
)

Table(
    "settings",
    metadata,
    _key("key", String(255)),
    _column("value", json_type(), nullable=True),
    _column("updated_at", UTCDateTime()),
)

# A trigger's runtime state: the operator's enable/disable (None: as the document says) and
# what the runtime keeps about it (hub.triggers.TriggerState, as JSON).
Table(
    "trigger_states",
    metadata,
    _key("workflow_id", String(255)),
    _key("trigger_id", String(64)),
    _column("enabled", Boolean, nullable=True),
    _column("state", json_type()),
    _column("updated_at", UTCDateTime()),
)

Table(
    "credentials",
    metadata,
    _key("name", String(255)),
    _column("ciphertext", LargeBinary),
    _column("created_at", UTCDateTime()),
    _column("updated_at", UTCDateTime()),
)

Table(
    "audit_log",
    metadata,
    _key("id", Integer, autoincrement=True),
    _column("ts", UTCDateTime()),
    _column("actor", String(255)),
    _column("action", String(255)),
    _column("target", String(255), nullable=True),
    _column("details", json_type()),
    Index("ix_audit_log_ts", "ts"),
)

INT_COLUMN_MAX = 2**31 - 1
"""The largest value an Integer column holds on every database (PostgreSQL's int4). Ids and
seqs never pass it; a bound given past it (an API accepts any 64-bit id) is clamped before it
reaches a query, since PostgreSQL casts the bound to INTEGER and fails out of range."""

workflows: Table = metadata.tables["workflows"]
executions: Table = metadata.tables["workflow_executions"]
steps: Table = metadata.tables["step_executions"]
events: Table = metadata.tables["execution_events"]
logs: Table = metadata.tables["execution_logs"]
metrics: Table = metadata.tables["execution_metrics"]
saved_inputs: Table = metadata.tables["saved_inputs"]
settings: Table = metadata.tables["settings"]
credentials: Table = metadata.tables["credentials"]
audit_log: Table = metadata.tables["audit_log"]
trigger_states: Table = metadata.tables["trigger_states"]
