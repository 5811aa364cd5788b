"""Rollouts and the devices in them.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and only that spelling autoincrements.
ROLLOUT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollout",
        sa.Column("id", ROLLOUT_KEY, primary_key=True, nullable=False),
        sa.Column("project_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("firmware_id", sa.String(), nullable=False),
        sa.Column("device_filter", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
    )
    op.create_index("ix_rollout_project_id", "rollout", ["project_id", "id"])
    op.create_index("ix_rollout_state_id", "rollout", ["state", "id"])
    op.create_table(
        "rollout_device",
        sa.Column("rollout_id", ROLLOUT_KEY, sa.ForeignKey("rollout.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("update_command_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("rollout_id", "device_id"),
    )
    op.create_index("ix_rollout_device_state", "rollout_device", ["rollout_id", "state", "device_id"])


def downgrade() -> None:
    op.drop_index("ix_rollout_device_state", table_name="rollout_device")
    op.drop_table("rollout_device")
    op.drop_index("ix_rollout_state_id", table_name="rollout")
    op.drop_index("ix_rollout_project_id", table_name="rollout")
    op.drop_table("rollout")
