"""Persistence of rollouts and their devices; functions take one connection and keyword arguments only.

These statements run on every request, so they are plain SQL run on the driver's cursor (app/storage/sql.py).
The tables are declared in app/storage/tables.py and created by the migrations.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from app.storage.db import Transaction
from app.storage.sql import AnyRow, Statement

_ROLLOUT_COLUMNS = ("id", "project_id", "name", "firmware_id", "device_filter", "state")
_DEVICE_COLUMNS = ("device_id", "state", "update_command_id")
_SELECT_ROLLOUT = f"SELECT {', '.join(_ROLLOUT_COLUMNS)} FROM rollout"
_SELECT_DEVICE = f"SELECT {', '.join(_DEVICE_COLUMNS)} FROM rollout_device"

_CREATE_ROLLOUT = Statement(
    "INSERT INTO rollout (project_id, name, firmware_id, device_filter, state) "
    "VALUES (:project_id, :name, :firmware_id, :device_filter, 'init') RETURNING id",
    ["id"],
)
_FIND_ROLLOUT = Statement(f"{_SELECT_ROLLOUT} WHERE id = :rollout_id AND project_id = :project_id", _ROLLOUT_COLUMNS)
# Row locks, PostgreSQL only: SQLite writers already hold the database's write lock (BEGIN IMMEDIATE).
# Every command that writes a rollout's devices locks the rollout's row first, so two such commands
# meet at that row and never each hold a lock the other waits for.
_FIND_ROLLOUT_LOCKED = {
    "share": Statement(f"{_FIND_ROLLOUT.sql} FOR SHARE", _ROLLOUT_COLUMNS),
    "update": Statement(f"{_FIND_ROLLOUT.sql} FOR UPDATE", _ROLLOUT_COLUMNS),
}
RowLock = Literal["share", "update"]
_MOVE_ROLLOUT = Statement("UPDATE rollout SET state = :target WHERE id = :rollout_id AND state = :expected")
_DELETE_DEVICES = Statement("DELETE FROM rollout_device WHERE rollout_id = :rollout_id")
_DELETE_ROLLOUT = Statement("DELETE FROM rollout WHERE id = :rollout_id")
# The ids travel as one array parameter and are inserted deduplicated in sorted order, so two
# overlapping calls lock rows in the same order and cannot deadlock each other.
_ADD_DEVICES_POSTGRESQL = Statement(
    "INSERT INTO rollout_device (rollout_id, device_id, state) "
    "SELECT :rollout_id, d, 'init' FROM unnest(CAST(:ids AS text[])) AS d GROUP BY d ORDER BY d "
    "ON CONFLICT DO NOTHING"
)
# "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
_ADD_DEVICES_SQLITE = Statement(
    "INSERT INTO rollout_device (rollout_id, device_id, state) "
    "SELECT :rollout_id, value, 'init' FROM json_each(:ids) WHERE true GROUP BY value ORDER BY value "
    "ON CONFLICT DO NOTHING"
)
_FIND_DEVICE = Statement(f"{_SELECT_DEVICE} WHERE rollout_id = :rollout_id AND device_id = :device_id", _DEVICE_COLUMNS)
_SET_DEVICE_STATE = (
    "UPDATE rollout_device SET state = :target, update_command_id = COALESCE(:update_command_id, update_command_id)"
)
_MOVE_DEVICE = Statement(
    f"{_SET_DEVICE_STATE} WHERE rollout_id = :rollout_id AND device_id = :device_id AND state = :expected"
)


def create_rollout(tx: Transaction, *, project_id: str, name: str | None, firmware_id: str, device_filter: str) -> int:
    values = {"project_id": project_id, "name": name, "firmware_id": firmware_id, "device_filter": device_filter}
    rollout_id: int = _CREATE_ROLLOUT.scalars(tx, values)[0]
    return rollout_id


def find_rollout(
    tx: Transaction, *, project_id: str, rollout_id: int, lock: RowLock | None = None, alone: bool = False
) -> AnyRow | None:
    """The rollout with that id in that project. lock="share" keeps it from changing until commit;
    "update" also keeps others from locking it. alone: this read is the whole command (Transaction)."""
    statement = _FIND_ROLLOUT_LOCKED[lock] if lock is not None and tx.postgres else _FIND_ROLLOUT
    return statement.first(tx, {"rollout_id": rollout_id, "project_id": project_id}, alone=alone)


def list_rollouts(
    tx: Transaction,
    *,
    project_id: str | None,
    within: frozenset[str] | None,
    state: str | None,
    after: int | None,
    limit: int | None,
) -> Sequence[AnyRow]:
    """Rollouts in id order; `within` (when not None) limits them to those projects."""
    params: dict[str, Any] = {"project_id": project_id, "state": state, "after": after, "limit": limit}
    filters = (project_id is not None, state is not None, after is not None, limit is not None)
    if within is None:
        return _list_rollouts_statement(*filters).rows(tx, params)
    # One placeholder per granted project; users have few, so this statement is not worth keeping.
    names = [f"within_{index}" for index in range(len(within))]
    params.update(zip(names, sorted(within), strict=True))
    return Statement(_rollouts_sql(*filters, within=names), _ROLLOUT_COLUMNS).rows(tx, params)


def move_rollout(tx: Transaction, *, rollout_id: int, expected: str, target: str) -> bool:
    """Set the state only if it is still `expected`; False means someone else changed it first."""
    return _MOVE_ROLLOUT.rowcount(tx, {"rollout_id": rollout_id, "expected": expected, "target": target}) == 1


def delete_rollout(tx: Transaction, *, rollout_id: int) -> None:
    _DELETE_DEVICES.rowcount(tx, {"rollout_id": rollout_id})
    _DELETE_ROLLOUT.rowcount(tx, {"rollout_id": rollout_id})


def add_devices(tx: Transaction, *, rollout_id: int, device_ids: Sequence[str]) -> None:
    """Insert the devices not yet in the rollout in one statement; existing ones are left as they are."""
    if not device_ids:
        return
    if tx.postgres:
        _ADD_DEVICES_POSTGRESQL.rowcount(tx, {"rollout_id": rollout_id, "ids": list(device_ids)})
    else:
        _ADD_DEVICES_SQLITE.rowcount(tx, {"rollout_id": rollout_id, "ids": json.dumps(list(device_ids))})


def find_device(tx: Transaction, *, rollout_id: int, device_id: str) -> AnyRow | None:
    return _FIND_DEVICE.first(tx, {"rollout_id": rollout_id, "device_id": device_id})


def list_devices(
    tx: Transaction, *, rollout_id: int, state: str | None, after: str | None, limit: int | None
) -> Sequence[AnyRow]:
    """The rollout's devices in id order, optionally one state only, after an id, at most `limit`."""
    statement = _list_devices_statement(state is not None, after is not None, limit is not None)
    params = {"rollout_id": rollout_id, "state": state, "after": after, "limit": limit}
    return statement.rows(tx, params)


def iter_devices(tx: Transaction, *, rollout_id: int, state: str | None, after: str | None) -> Iterator[AnyRow]:
    """Every matching device in id order, read a batch at a time: for rollouts of millions of devices."""
    statement = _list_devices_statement(state is not None, after is not None, False)
    return statement.iterate(tx, {"rollout_id": rollout_id, "state": state, "after": after})


def move_device(
    tx: Transaction, *, rollout_id: int, device_id: str, expected: str, target: str, update_command_id: str | None
) -> bool:
    """Set the device's state only if it is still `expected`; False means someone else changed it first."""
    params = {
        "rollout_id": rollout_id,
        "device_id": device_id,
        "expected": expected,
        "target": target,
        "update_command_id": update_command_id,
    }
    return _MOVE_DEVICE.rowcount(tx, params) == 1


def move_device_if_allowed(
    tx: Transaction,
    *,
    project_id: str,
    rollout_id: int,
    device_id: str,
    sources: frozenset[str],
    target: str,
    update_command_id: str | None,
) -> bool:
    """Move the device in one statement, the whole command, when the move is legal as things stand: the
    device is in the rollout, the rollout is in that project and not finished, and the device's state is
    one of `sources`. False when any of that fails; nothing changed then, and the caller finds out why."""
    params = {
        "rollout_id": rollout_id,
        "project_id": project_id,
        "device_id": device_id,
        "target": target,
        "update_command_id": update_command_id,
    }
    statement = _move_device_if_allowed_statement(tuple(sorted(sources)), tx.postgres)
    return statement.rowcount(tx, params, alone=True) == 1


@functools.cache
def _move_device_if_allowed_statement(sources: tuple[str, ...], postgres: bool) -> Statement:
    if not sources or not all(state.isalnum() for state in sources):
        # (An empty IN () is a syntax error on PostgreSQL: no move leads to the target, so there is no statement.)
        raise ValueError(f"device states are plain words, at least one, got {sources!r}")
    # The states are the state machine's own constants, written into the SQL: one statement per target.
    listed = ", ".join(f"'{state}'" for state in sources)
    # As in the two-step path, PostgreSQL holds the rollout's row in share mode: a concurrent change of
    # its state (to finished) waits for this command, or this one sees it.
    lock = " FOR SHARE" if postgres else ""
    return Statement(
        f"{_SET_DEVICE_STATE} WHERE rollout_id = :rollout_id AND device_id = :device_id AND state IN ({listed}) "
        "AND EXISTS (SELECT 1 FROM rollout WHERE id = :rollout_id AND project_id = :project_id "
        f"AND state <> 'finished'{lock})"
    )


@functools.cache
def _list_rollouts_statement(by_project: bool, by_state: bool, after: bool, limit: bool) -> Statement:
    return Statement(_rollouts_sql(by_project, by_state, after, limit, within=None), _ROLLOUT_COLUMNS)


def _rollouts_sql(by_project: bool, by_state: bool, after: bool, limit: bool, *, within: list[str] | None) -> str:
    conditions = [c for wanted, c in ((by_project, "project_id = :project_id"), (by_state, "state = :state")) if wanted]
    if within is not None:
        # A user granted no project may list nothing.
        conditions.append(f"project_id IN ({', '.join(':' + name for name in within)})" if within else "1 = 0")
    if after:
        conditions.append("id > :after")
    return _select(_SELECT_ROLLOUT, conditions, "id", limit)


@functools.cache
def _list_devices_statement(by_state: bool, after: bool, limit: bool) -> Statement:
    conditions = ["rollout_id = :rollout_id"]
    conditions += [c for wanted, c in ((by_state, "state = :state"), (after, "device_id > :after")) if wanted]
    return Statement(_select(_SELECT_DEVICE, conditions, "device_id", limit), _DEVICE_COLUMNS)


def _select(head: str, conditions: list[str], order: str, limit: bool) -> str:
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{head}{where} ORDER BY {order}" + (" LIMIT :limit" if limit else "")
