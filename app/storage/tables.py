"""The database tables; only Alembic migrations (app/migrations) change their shape."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, String, false, text
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
    # Settings given to Create (app/rollout/service.py reads them; the triggers of migration 0003 act on them).
    failure_percent: float | None = None
    failure_min_reported: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    max_failures: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    device_timeout: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    max_in_progress: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    auto_finish: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # Devices per state, kept by the trigger on rollout_device: Get reads them instead of counting.
    count_init: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    count_started: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    count_succeeded: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    count_failed: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    reason: str | None = None  # why the service moved it to its state; None after a caller's move
    created_at: float = Field(default=0, sa_column=Column(Float, nullable=False, server_default="0"))
    updated_at: float = Field(default=0, sa_column=Column(Float, nullable=False, server_default="0"))
    updated_by: str | None = None  # the caller's principal; None: the service itself


class RolloutDevice(SQLModel, table=True):
    """A device taking part in a rollout, and how far it has got."""

    __tablename__ = "rollout_device"
    __table_args__ = (
        Index("ix_rollout_device_state", "rollout_id", "state", "device_id"),
        Index(
            "ix_rollout_device_started",
            "rollout_id",
            "updated_at",
            sqlite_where=text("state = 'started'"),
            postgresql_where=text("state = 'started'"),
        ),
    )

    rollout_id: int = Field(
        sa_column=Column(RolloutKey, ForeignKey("rollout.id", ondelete="CASCADE"), primary_key=True, nullable=False)
    )
    device_id: str = Field(sa_column=Column(String, primary_key=True, nullable=False))
    state: str = "init"
    update_command_id: str | None = None
    reason: str | None = None
    updated_at: float = Field(default=0, sa_column=Column(Float, nullable=False, server_default="0"))
    updated_by: str | None = None  # the caller's principal; None: the service itself (a timeout)


class RolloutEvent(SQLModel, table=True):
    """One transition of a rollout (device_id None) or of one of its devices; written by the triggers."""

    __tablename__ = "rollout_event"
    __table_args__ = (Index("ix_rollout_event_rollout", "rollout_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(RolloutKey, primary_key=True))
    rollout_id: int = Field(sa_column=Column(RolloutKey, nullable=False))
    device_id: str | None = None
    from_state: str
    to_state: str
    at: float
    by: str | None = None  # None: the service itself (threshold, timeout, autoFinish)
    reason: str | None = None


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
