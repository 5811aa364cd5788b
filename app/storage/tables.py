"""The database tables; only Alembic migrations (app/migrations) change their shape."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit and only that spelling autoincrements.
RolloutKey = BigInteger().with_variant(Integer(), "sqlite")


class Rollout(SQLModel, table=True):
    """One firmware rollout of a project."""

    __tablename__ = "rollout"
    __table_args__ = (
        Index("ix_rollout_project_id", "project_id", "id"),
        Index("ix_rollout_state_id", "state", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(RolloutKey, primary_key=True))
    project_id: str
    name: str | None = None
    firmware_id: str
    device_filter: str
    state: str = "init"


class RolloutDevice(SQLModel, table=True):
    """A device taking part in a rollout, and how far it has got."""

    __tablename__ = "rollout_device"
    __table_args__ = (Index("ix_rollout_device_state", "rollout_id", "state", "device_id"),)

    rollout_id: int = Field(
        sa_column=Column(RolloutKey, ForeignKey("rollout.id", ondelete="CASCADE"), primary_key=True, nullable=False)
    )
    device_id: str = Field(sa_column=Column(String, primary_key=True, nullable=False))
    state: str = "init"
    update_command_id: str | None = None


class ApiKey(SQLModel, table=True):
    """An API key: only its SHA-256 is stored; the key itself is shown once, when it is made."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(unique=True)
    principal: str
    role: str
    created_at: float
    revoked_at: float | None = None


class ProjectGrant(SQLModel, table=True):
    """A project that a principal with the `user` role may reach."""

    __tablename__ = "project_grant"

    principal: str = Field(primary_key=True)
    project_id: str = Field(primary_key=True)
