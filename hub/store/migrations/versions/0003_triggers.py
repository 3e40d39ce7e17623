"""Triggers: each execution records what its trigger received, and triggers keep their state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> Any:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.add_column(sa.Column("trigger_info", _json(), nullable=True))
    op.create_table(
        "trigger_states",
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("trigger_id", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("state", _json(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "trigger_id", name="pk_trigger_states"),
    )


def downgrade() -> None:
    op.drop_table("trigger_states")
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("trigger_info")
