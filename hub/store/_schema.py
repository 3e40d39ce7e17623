"""The store's tables as SQLAlchemy 2 declarative models.

Every change here needs a migration under ``migrations/versions`` (the tests compare the
migrated database with these models).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class WorkflowRow(Base):
    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(json_type())
    diagnostics: Mapped[list[dict[str, Any]]] = mapped_column(json_type())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExecutionRow(Base):
    __tablename__ = "workflow_executions"
    __table_args__ = (
        Index("ix_workflow_executions_status", "status"),
        Index("ix_workflow_executions_workflow_id_created_at", "workflow_id", "created_at"),
        Index("ix_workflow_executions_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(255))
    workflow_version: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict[str, Any]] = mapped_column(json_type())
    outputs: Mapped[dict[str, Any]] = mapped_column(json_type())
    settings: Mapped[dict[str, Any]] = mapped_column(json_type())
    error: Mapped[dict[str, Any] | None] = mapped_column(json_type(), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The execution this one retries or re-runs (settings["origin"] says how).
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # What a trigger received: its id and type, and the slot, message id or caller's key.
    trigger_info: Mapped[dict[str, Any] | None] = mapped_column(json_type(), nullable=True)
    # The token of the runner that holds it (Store.claim_runner on a resume, or a fresh run's
    # first write): a runner's own writes carry theirs and are refused when it is another
    # (Store.commit_run).
    runner: Mapped[str | None] = mapped_column(String(64), nullable=True)


class StepRow(Base):
    __tablename__ = "step_executions"
    __table_args__ = (Index("ix_step_executions_category", "category"),)

    execution_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("workflow_executions.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    node_type: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    input: Mapped[dict[str, Any] | None] = mapped_column(json_type(), nullable=True)
    output: Mapped[Any] = mapped_column(json_type(), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(json_type(), nullable=True)
    category: Mapped[str | None] = mapped_column(String(32))


class EventRow(Base):
    __tablename__ = "execution_events"

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str | None] = mapped_column(String(255))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(json_type())


class LogRow(Base):
    __tablename__ = "execution_logs"
    __table_args__ = (Index("ix_execution_logs_execution_id_level", "execution_id", "level"),)

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", json_type())


class MetricRow(Base):
    __tablename__ = "execution_metrics"
    __table_args__ = (Index("ix_execution_metrics_execution_id_name", "execution_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[float] = mapped_column(Float)
    tags: Mapped[dict[str, Any]] = mapped_column(json_type())
    ts: Mapped[datetime] = mapped_column(UTCDateTime())


class SavedInputRow(Base):
    __tablename__ = "saved_inputs"
    __table_args__ = (Index("ix_saved_inputs_workflow_id", "workflow_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    inputs: Mapped[dict[str, Any]] = mapped_column(json_type())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SettingRow(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(json_type(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TriggerStateRow(Base):
    """A trigger's runtime state: the operator's enable/disable (None: as the document says)
    and what the runtime keeps about it (hub.triggers.TriggerState, as JSON)."""

    __tablename__ = "trigger_states"

    workflow_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    trigger_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(json_type())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CredentialRow(Base):
    __tablename__ = "credentials"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_ts", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(255))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(json_type())


metadata = Base.metadata

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
