"""Persistence of rollouts and their devices; functions take one connection and keyword arguments only.

The statements are plain SQL built once: they run on every request, and building SQLAlchemy
expressions per call cost more than the queries themselves. The tables are app/tables.py.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import Connection, CursorResult, Row, TextClause, bindparam, text

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row; columns are read by name (row.state, row.device_id)."""

_ROLLOUT_COLUMNS = "id, project_id, name, firmware_id, device_filter, state"
_DEVICE_COLUMNS = "device_id, state, update_command_id"

_CREATE_ROLLOUT = text(
    "INSERT INTO rollout (project_id, name, firmware_id, device_filter, state) "
    "VALUES (:project_id, :name, :firmware_id, :device_filter, 'init') RETURNING id"
)
_FIND_ROLLOUT = text(f"SELECT {_ROLLOUT_COLUMNS} FROM rollout WHERE id = :rollout_id AND project_id = :project_id")
# PostgreSQL only: SQLite writers already hold the database's write lock (BEGIN IMMEDIATE).
_FIND_ROLLOUT_FOR_SHARE = text(f"{_FIND_ROLLOUT.text} FOR SHARE")
_MOVE_ROLLOUT = text("UPDATE rollout SET state = :target WHERE id = :rollout_id AND state = :expected")
_DELETE_DEVICES = text("DELETE FROM rollout_device WHERE rollout_id = :rollout_id")
_DELETE_ROLLOUT = text("DELETE FROM rollout WHERE id = :rollout_id")
# The ids travel as one array parameter and are inserted deduplicated in sorted order, so two
# overlapping calls lock rows in the same order and cannot deadlock each other.
_ADD_DEVICES = {
    "postgresql": text(
        "INSERT INTO rollout_device (rollout_id, device_id, state) "
        "SELECT :rollout_id, d, 'init' FROM unnest(CAST(:ids AS text[])) AS d GROUP BY d ORDER BY d "
        "ON CONFLICT DO NOTHING"
    ),
    # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
    "sqlite": text(
        "INSERT INTO rollout_device (rollout_id, device_id, state) "
        "SELECT :rollout_id, value, 'init' FROM json_each(:ids) WHERE true GROUP BY value ORDER BY value "
        "ON CONFLICT DO NOTHING"
    ),
}
_FIND_DEVICE = text(
    f"SELECT {_DEVICE_COLUMNS} FROM rollout_device WHERE rollout_id = :rollout_id AND device_id = :device_id"
)
_MOVE_DEVICE = text(
    "UPDATE rollout_device SET state = :target, update_command_id = COALESCE(:update_command_id, update_command_id) "
    "WHERE rollout_id = :rollout_id AND device_id = :device_id AND state = :expected"
)


def create_rollout(
    session: Connection, *, project_id: str, name: str | None, firmware_id: str, device_filter: str
) -> int:
    values = {"project_id": project_id, "name": name, "firmware_id": firmware_id, "device_filter": device_filter}
    rollout_id: int = session.execute(_CREATE_ROLLOUT, values).scalar_one()
    return rollout_id


def find_rollout(session: Connection, *, project_id: str, rollout_id: int, share_lock: bool = False) -> AnyRow | None:
    """The rollout with that id in that project; share_lock keeps it from changing state until commit."""
    statement = _FIND_ROLLOUT_FOR_SHARE if share_lock and session.dialect.name == "postgresql" else _FIND_ROLLOUT
    return session.execute(statement, {"rollout_id": rollout_id, "project_id": project_id}).first()


def list_rollouts(
    session: Connection,
    *,
    project_id: str | None,
    within: frozenset[str] | None,
    state: str | None,
    after: int | None,
    limit: int | None,
) -> Sequence[AnyRow]:
    """Rollouts in id order; `within` (when not None) limits them to those projects."""
    params: dict[str, Any] = {"project_id": project_id, "state": state, "after": after, "limit": limit}
    statement = _list_rollouts_statement(
        project_id is not None, within is not None, state is not None, after is not None, limit is not None
    )
    if within is not None:
        params["within"] = sorted(within)
    return session.execute(statement, params).all()


def move_rollout(session: Connection, *, rollout_id: int, expected: str, target: str) -> bool:
    """Set the state only if it is still `expected`; False means someone else changed it first."""
    result = session.execute(_MOVE_ROLLOUT, {"rollout_id": rollout_id, "expected": expected, "target": target})
    return _rowcount(result) == 1


def delete_rollout(session: Connection, *, rollout_id: int) -> None:
    session.execute(_DELETE_DEVICES, {"rollout_id": rollout_id})
    session.execute(_DELETE_ROLLOUT, {"rollout_id": rollout_id})


def add_devices(session: Connection, *, rollout_id: int, device_ids: Sequence[str]) -> None:
    """Insert the devices not yet in the rollout in one statement; existing ones are left as they are."""
    if not device_ids:
        return
    postgres = session.dialect.name == "postgresql"
    ids: Any = list(device_ids) if postgres else json.dumps(list(device_ids))
    session.execute(_ADD_DEVICES["postgresql" if postgres else "sqlite"], {"rollout_id": rollout_id, "ids": ids})


def find_device(session: Connection, *, rollout_id: int, device_id: str) -> AnyRow | None:
    return session.execute(_FIND_DEVICE, {"rollout_id": rollout_id, "device_id": device_id}).first()


def list_devices(
    session: Connection, *, rollout_id: int, state: str | None, after: str | None, limit: int | None
) -> Sequence[AnyRow]:
    """The rollout's devices in id order, optionally one state only, after an id, at most `limit`."""
    statement = _list_devices_statement(state is not None, after is not None, limit is not None)
    params = {"rollout_id": rollout_id, "state": state, "after": after, "limit": limit}
    return session.execute(statement, params).all()


def move_device(
    session: Connection, *, rollout_id: int, device_id: str, expected: str, target: str, update_command_id: str | None
) -> bool:
    """Set the device's state only if it is still `expected`; False means someone else changed it first."""
    params = {
        "rollout_id": rollout_id,
        "device_id": device_id,
        "expected": expected,
        "target": target,
        "update_command_id": update_command_id,
    }
    return _rowcount(session.execute(_MOVE_DEVICE, params)) == 1


@functools.cache
def _list_rollouts_statement(by_project: bool, within: bool, by_state: bool, after: bool, limit: bool) -> TextClause:
    conditions = [
        condition
        for wanted, condition in (
            (by_project, "project_id = :project_id"),
            (within, "project_id IN :within"),
            (by_state, "state = :state"),
            (after, "id > :after"),
        )
        if wanted
    ]
    statement = text(_select(f"SELECT {_ROLLOUT_COLUMNS} FROM rollout", conditions, "id", limit))
    # An expanding parameter: one placeholder per granted project.
    return statement.bindparams(bindparam("within", expanding=True)) if within else statement


@functools.cache
def _list_devices_statement(by_state: bool, after: bool, limit: bool) -> TextClause:
    conditions = ["rollout_id = :rollout_id"]
    conditions += [c for wanted, c in ((by_state, "state = :state"), (after, "device_id > :after")) if wanted]
    return text(_select(f"SELECT {_DEVICE_COLUMNS} FROM rollout_device", conditions, "device_id", limit))


def _select(head: str, conditions: list[str], order: str, limit: bool) -> str:
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{head}{where} ORDER BY {order}" + (" LIMIT :limit" if limit else "")


def _rowcount(result: CursorResult[*tuple[Any, ...]]) -> int:
    count: int = result.rowcount
    return count
