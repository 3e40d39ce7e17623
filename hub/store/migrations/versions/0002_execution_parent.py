"""Executions remember the execution they retry or re-run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(64), nullable=True))
        batch.create_index("ix_workflow_executions_parent_id", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_index("ix_workflow_executions_parent_id")
        batch.drop_column("parent_id")
