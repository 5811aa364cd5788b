"""Persistence of rollouts and their devices; functions take one session and keyword arguments only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select, text, update
from sqlmodel import Session, col

from app.tables import Rollout, RolloutDevice

_ROLLOUT_COLUMNS = (
    col(Rollout.id),
    col(Rollout.project_id),
    col(Rollout.name),
    col(Rollout.firmware_id),
    col(Rollout.device_filter),
    col(Rollout.state),
)
_DEVICE_COLUMNS = (col(RolloutDevice.device_id), col(RolloutDevice.state), col(RolloutDevice.update_command_id))


def create_rollout(session: Session, *, project_id: str, name: str | None, firmware_id: str, device_filter: str) -> int:
    statement = (
        insert(Rollout)
        .values(project_id=project_id, name=name, firmware_id=firmware_id, device_filter=device_filter, state="init")
        .returning(col(Rollout.id))
    )
    rollout_id: int = session.execute(statement).scalar_one()
    return rollout_id


def find_rollout(session: Session, *, project_id: str, rollout_id: int, share_lock: bool = False) -> Row[Any] | None:
    """The rollout with that id in that project; share_lock keeps it from changing state until commit."""
    statement = select(*_ROLLOUT_COLUMNS).where(col(Rollout.id) == rollout_id, col(Rollout.project_id) == project_id)
    if share_lock:
        statement = statement.with_for_update(read=True)
    return session.execute(statement).first()


def list_rollouts(
    session: Session,
    *,
    project_id: str | None,
    within: frozenset[str] | None,
    state: str | None,
    after: int | None,
    limit: int | None,
) -> Sequence[Row[Any]]:
    """Rollouts in id order; `within` (when not None) limits them to those projects."""
    statement = select(*_ROLLOUT_COLUMNS).order_by(col(Rollout.id))
    if project_id is not None:
        statement = statement.where(col(Rollout.project_id) == project_id)
    if within is not None:
        statement = statement.where(col(Rollout.project_id).in_(sorted(within)))
    if state is not None:
        statement = statement.where(col(Rollout.state) == state)
    if after is not None:
        statement = statement.where(col(Rollout.id) > after)
    if limit is not None:
        statement = statement.limit(limit)
    return session.execute(statement).all()


def move_rollout(session: Session, *, rollout_id: int, expected: str, target: str) -> bool:
    """Set the state only if it is still `expected`; False means someone else changed it first."""
    statement = (
        update(Rollout).where(col(Rollout.id) == rollout_id, col(Rollout.state) == expected).values(state=target)
    )
    return _rowcount(session.execute(statement)) == 1


def delete_rollout(session: Session, *, rollout_id: int) -> None:
    session.execute(delete(RolloutDevice).where(col(RolloutDevice.rollout_id) == rollout_id))
    session.execute(delete(Rollout).where(col(Rollout.id) == rollout_id))


def add_devices(session: Session, *, rollout_id: int, device_ids: Sequence[str]) -> None:
    """Insert the devices not yet in the rollout in one statement; existing ones are left as they are.

    The ids travel as one array parameter, and rows are inserted in sorted order so that two
    overlapping calls lock rows in the same order and cannot deadlock each other.
    """
    if not device_ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        statement = text(
            "INSERT INTO rollout_device (rollout_id, device_id, state) "
            "SELECT :rollout_id, d, 'init' FROM unnest(CAST(:ids AS text[])) AS d GROUP BY d ORDER BY d "
            "ON CONFLICT DO NOTHING"
        )
        session.execute(statement, {"rollout_id": rollout_id, "ids": list(device_ids)})
    else:
        # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
        statement = text(
            "INSERT INTO rollout_device (rollout_id, device_id, state) "
            "SELECT :rollout_id, value, 'init' FROM json_each(:ids) WHERE true GROUP BY value ORDER BY value "
            "ON CONFLICT DO NOTHING"
        )
        session.execute(statement, {"rollout_id": rollout_id, "ids": json.dumps(list(device_ids))})


def find_device(session: Session, *, rollout_id: int, device_id: str) -> Row[Any] | None:
    statement = select(*_DEVICE_COLUMNS).where(
        col(RolloutDevice.rollout_id) == rollout_id, col(RolloutDevice.device_id) == device_id
    )
    return session.execute(statement).first()


def list_devices(
    session: Session, *, rollout_id: int, state: str | None, after: str | None, limit: int | None
) -> Sequence[Row[Any]]:
    statement = (
        select(*_DEVICE_COLUMNS)
        .where(col(RolloutDevice.rollout_id) == rollout_id)
        .order_by(col(RolloutDevice.device_id))
    )
    if state is not None:
        statement = statement.where(col(RolloutDevice.state) == state)
    if after is not None:
        statement = statement.where(col(RolloutDevice.device_id) > after)
    if limit is not None:
        statement = statement.limit(limit)
    return session.execute(statement).all()


def move_device(
    session: Session, *, rollout_id: int, device_id: str, expected: str, target: str, update_command_id: str | None
) -> bool:
    """Set the device's state only if it is still `expected`; False means someone else changed it first."""
    values: dict[str, Any] = {"state": target}
    if update_command_id is not None:
        values["update_command_id"] = update_command_id
    statement = (
        update(RolloutDevice)
        .where(
            col(RolloutDevice.rollout_id) == rollout_id,
            col(RolloutDevice.device_id) == device_id,
            col(RolloutDevice.state) == expected,
        )
        .values(**values)
    )
    return _rowcount(session.execute(statement)) == 1


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count
