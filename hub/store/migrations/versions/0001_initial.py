"""Initial schema: workflows, executions, steps, events, logs, metrics, inputs, settings,
credentials, audit log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> Any:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _ts(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("diagnostics", _json(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", "version", name="pk_workflows"),
    )

    op.create_table(
        "workflow_executions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("workflow_version", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("inputs", _json(), nullable=False),
        sa.Column("outputs", _json(), nullable=False),
        sa.Column("settings", _json(), nullable=False),
        sa.Column("error", _json(), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_executions"),
        sa.UniqueConstraint("idempotency_key", name="uq_workflow_executions_idempotency_key"),
    )
    op.create_index("ix_workflow_executions_status", "workflow_executions", ["status"])
    op.create_index(
        "ix_workflow_executions_workflow_id_created_at",
        "workflow_executions",
        ["workflow_id", "created_at"],
    )
    op.create_index("ix_workflow_executions_created_at", "workflow_executions", ["created_at"])

    op.create_table(
        "step_executions",
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(255), nullable=False),
        sa.Column("node_type", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("started_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.Column("input", _json(), nullable=True),
        sa.Column("output", _json(), nullable=True),
        sa.Column("error", _json(), nullable=True),
        sa.Column("category", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("execution_id", "node_id", name="pk_step_executions"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["workflow_executions.id"],
            name="fk_step_executions_execution_id_workflow_executions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_step_executions_category", "step_executions", ["category"])

    op.create_table(
        "execution_events",
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(255), nullable=True),
        _ts("ts"),
        sa.Column("data", _json(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "seq", name="pk_execution_events"),
    )

    op.create_table(
        "execution_logs",
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        _ts("ts"),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("node_id", sa.String(255), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("metadata", _json(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "seq", name="pk_execution_logs"),
    )
    op.create_index(
        "ix_execution_logs_execution_id_level", "execution_logs", ["execution_id", "level"]
    )

    op.create_table(
        "execution_metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("tags", _json(), nullable=False),
        _ts("ts"),
        sa.PrimaryKeyConstraint("id", name="pk_execution_metrics"),
    )
    op.create_index(
        "ix_execution_metrics_execution_id_name", "execution_metrics", ["execution_id", "name"]
    )

    op.create_table(
        "saved_inputs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("inputs", _json(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_saved_inputs"),
    )
    op.create_index("ix_saved_inputs_workflow_id", "saved_inputs", ["workflow_id"])

    op.create_table(
        "settings",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", _json(), nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )

    op.create_table(
        "credentials",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("name", name="pk_credentials"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _ts("ts"),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("details", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_ts", "audit_log", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_ts", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("credentials")
    op.drop_table("settings")
    op.drop_index("ix_saved_inputs_workflow_id", table_name="saved_inputs")
    op.drop_table("saved_inputs")
    op.drop_index("ix_execution_metrics_execution_id_name", table_name="execution_metrics")
    op.drop_table("execution_metrics")
    op.drop_index("ix_execution_logs_execution_id_level", table_name="execution_logs")
    op.drop_table("execution_logs")
    op.drop_table("execution_events")
    op.drop_index("ix_step_executions_category", table_name="step_executions")
    op.drop_table("step_executions")
    op.drop_index("ix_workflow_executions_created_at", table_name="workflow_executions")
    op.drop_index("ix_workflow_executions_workflow_id_created_at", table_name="workflow_executions")
    op.drop_index("ix_workflow_executions_status", table_name="workflow_executions")
    op.drop_table("workflow_executions")
    op.drop_table("workflows")
