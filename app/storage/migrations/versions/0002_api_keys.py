"""API keys (stored as hashes) and the projects granted to users.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), primary_key=True, nullable=False),
        sa.Column("key_hash", sa.String(), nullable=False, unique=True),
        sa.Column("principal", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
    )
    op.create_table(
        "project_grant",
        sa.Column("principal", sa.String(), nullable=False),
        sa.Column("project_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("principal", "project_id"),
    )


def downgrade() -> None:
    op.drop_table("project_grant")
    op.drop_table("api_key")
