"""API keys and project grants: making, checking and revoking them. Keys are stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlmodel import col

from app.storage.db import Transaction
from app.storage.sql import AnyRow, Statement
from app.storage.tables import ApiKey, ProjectGrant

ROLES = ("user", "backend", "admin")
KEY_PREFIX = "rk_"


@dataclass(frozen=True)
class Caller:
    """Who sent a command: the key's principal, its role, and (for users) the projects it may reach."""

    principal: str
    role: str
    projects: frozenset[str] | None  # None: every project

    def may_reach(self, project_id: str) -> bool:
        return self.projects is None or project_id in self.projects


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 cannot be brute-forced back to the key.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(connection: Connection, *, principal: str, role: str) -> tuple[int, str]:
    """A new key's id and the key itself; the key is not stored and cannot be shown again."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not principal.startswith("//"):
        raise ValueError(f"principal must be an address like //api.cesanta.com/user_123, got {principal!r}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    statement = (
        insert(ApiKey)
        .values(key_hash=hash_key(key), principal=principal, role=role, created_at=time.time())
        .returning(col(ApiKey.id))
    )
    key_id: int | None = connection.execute(statement).scalar_one()
    assert key_id is not None
    return key_id, key


def revoke_key(connection: Connection, *, key_id: int) -> bool:
    statement = (
        update(ApiKey).where(col(ApiKey.id) == key_id, col(ApiKey.revoked_at).is_(None)).values(revoked_at=time.time())
    )
    return bool(connection.execute(statement).rowcount)


def list_keys(connection: Connection) -> Sequence[AnyRow]:
    columns = (col(ApiKey.id), col(ApiKey.principal), col(ApiKey.role), col(ApiKey.created_at), col(ApiKey.revoked_at))
    return connection.execute(select(*columns).order_by(col(ApiKey.id))).all()


def grants_of(connection: Connection, principal: str | None = None) -> dict[str, list[str]]:
    """Each principal's granted projects, sorted (only `principal`'s when given)."""
    statement = select(col(ProjectGrant.principal), col(ProjectGrant.project_id)).order_by(
        col(ProjectGrant.principal), col(ProjectGrant.project_id)
    )
    if principal is not None:
        statement = statement.where(col(ProjectGrant.principal) == principal)
    grants: dict[str, list[str]] = {}
    for row in connection.execute(statement):
        grants.setdefault(row.principal, []).append(row.project_id)
    return grants


def active_roles(connection: Connection, principal: str) -> list[str]:
    """The roles of the principal's keys that are not revoked."""
    statement = select(col(ApiKey.role)).where(col(ApiKey.principal) == principal, col(ApiKey.revoked_at).is_(None))
    return sorted(set(connection.execute(statement).scalars()))


def count_keys(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(ApiKey)).scalar_one())


def grant_project(connection: Connection, *, principal: str, project_id: str) -> None:
    exists = select(col(ProjectGrant.principal)).where(
        col(ProjectGrant.principal) == principal, col(ProjectGrant.project_id) == project_id
    )
    if connection.execute(exists).first() is None:
        connection.execute(insert(ProjectGrant).values(principal=principal, project_id=project_id))


def revoke_project(connection: Connection, *, principal: str, project_id: str) -> bool:
    statement = delete(ProjectGrant).where(
        col(ProjectGrant.principal) == principal, col(ProjectGrant.project_id) == project_id
    )
    return bool(connection.execute(statement).rowcount)


# Every request that is not answered from the key cache runs these.
_KEY_OWNER = Statement(
    "SELECT principal, role FROM api_key WHERE key_hash = :key_hash AND revoked_at IS NULL", ["principal", "role"]
)
_GRANTED_PROJECTS = Statement("SELECT project_id FROM project_grant WHERE principal = :principal")


def caller_for_key(tx: Transaction, key: str) -> Caller | None:
    """The caller a key stands for, or None when it is unknown or revoked."""
    row = _KEY_OWNER.first(tx, {"key_hash": hash_key(key)})
    if row is None:
        return None
    projects = None
    if row.role == "user":
        projects = frozenset(_GRANTED_PROJECTS.scalars(tx, {"principal": row.principal}))
    return Caller(principal=row.principal, role=row.role, projects=projects)
