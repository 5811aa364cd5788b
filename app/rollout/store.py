"""Persistence of rollouts and their devices; functions take one connection and keyword arguments only.

These statements run on every request, so they are plain SQL run on the driver's cursor (app/storage/sql.py).
The tables are declared in app/storage/tables.py and created by the migrations.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Literal, NamedTuple

from app.storage.db import Transaction
from app.storage.sql import AnyRow, Statement

_ROLLOUT_COLUMNS = (
    "id", "project_id", "name", "firmware_id", "device_filter", "state",
    "failure_percent", "failure_min_reported", "max_failures", "device_timeout", "max_in_progress", "auto_finish",
    "count_init", "count_started", "count_succeeded", "count_failed", "reason", "created_at", "updated_at",
)  # fmt: skip
_DEVICE_COLUMNS = ("device_id", "state", "update_command_id", "reason", "updated_at")
_EVENT_COLUMNS = ("id", "at", "device_id", "from_state", "to_state", "by", "reason")
_SELECT_ROLLOUT = f"SELECT {', '.join(_ROLLOUT_COLUMNS)} FROM rollout"
_SELECT_DEVICE = f"SELECT {', '.join(_DEVICE_COLUMNS)} FROM rollout_device"

_SETTINGS = (
    "failure_percent",
    "failure_min_reported",
    "max_failures",
    "device_timeout",
    "max_in_progress",
    "auto_finish",
)
_CREATE_ROLLOUT = Statement(
    f"INSERT INTO rollout (project_id, name, firmware_id, device_filter, state, {', '.join(_SETTINGS)}, "
    "created_at, updated_at, updated_by) "
    f"VALUES (:project_id, :name, :firmware_id, :device_filter, 'init', {', '.join(':' + n for n in _SETTINGS)}, "
    ":now, :now, :by) RETURNING id",
    ["id"],
)
_FIND_ROLLOUT = Statement(f"{_SELECT_ROLLOUT} WHERE id = :rollout_id AND project_id = :project_id", _ROLLOUT_COLUMNS)
# Row locks, PostgreSQL only: SQLite writers already hold the database's write lock (BEGIN IMMEDIATE).
# Every command that writes a rollout's devices locks the rollout's row first ("write"), so two such commands
# meet at that row and never each hold a lock the other waits for: the trigger that keeps the rollout's
# counts (migration 0003) writes that row anyway, so a shared lock would only be upgraded into a deadlock.
_FIND_ROLLOUT_LOCKED = {
    "write": Statement(f"{_FIND_ROLLOUT.sql} FOR NO KEY UPDATE", _ROLLOUT_COLUMNS),
    "delete": Statement(f"{_FIND_ROLLOUT.sql} FOR UPDATE", _ROLLOUT_COLUMNS),
}
RowLock = Literal["write", "delete"]
_MOVE_ROLLOUT = Statement(
    "UPDATE rollout SET state = :target, reason = :reason, updated_at = :now, updated_by = :by "
    "WHERE id = :rollout_id AND state = :expected"
)
_COUNT_ADDED = Statement(
    "UPDATE rollout SET count_init = count_init + :added, updated_at = :now WHERE id = :rollout_id"
)
_DELETE_EVENTS = Statement("DELETE FROM rollout_event WHERE rollout_id = :rollout_id")
_DELETE_DEVICES = Statement("DELETE FROM rollout_device WHERE rollout_id = :rollout_id")
_DELETE_ROLLOUT = Statement("DELETE FROM rollout WHERE id = :rollout_id")
# The ids travel as one array parameter and are inserted deduplicated in sorted order, so two
# overlapping calls lock rows in the same order and cannot deadlock each other.
_ADD_DEVICES_POSTGRESQL = Statement(
    "INSERT INTO rollout_device (rollout_id, device_id, state, updated_at) "
    "SELECT :rollout_id, d, 'init', :now FROM unnest(CAST(:ids AS text[])) AS d GROUP BY d ORDER BY d "
    "ON CONFLICT DO NOTHING"
)
# "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
_ADD_DEVICES_SQLITE = Statement(
    "INSERT INTO rollout_device (rollout_id, device_id, state, updated_at) "
    "SELECT :rollout_id, value, 'init', :now FROM json_each(:ids) WHERE true GROUP BY value ORDER BY value "
    "ON CONFLICT DO NOTHING"
)
_FIND_DEVICE = Statement(f"{_SELECT_DEVICE} WHERE rollout_id = :rollout_id AND device_id = :device_id", _DEVICE_COLUMNS)
_SET_DEVICE_STATE = (
    "UPDATE rollout_device SET state = :target, update_command_id = COALESCE(:update_command_id, update_command_id), "
    "reason = :reason, updated_at = :now, updated_by = :by"
)
# Under the rollout's maxInProgress (the cap applies to moves to started only).
_UNDER_CAP = "(max_in_progress IS NULL OR count_started < max_in_progress)"
_CLAIM_DEVICES = Statement(
    "UPDATE rollout_device SET state = 'started', update_command_id = COALESCE(:update_command_id, update_command_id), "
    "reason = :reason, updated_at = :now, updated_by = :by WHERE rollout_id = :rollout_id AND state = 'init' "
    "AND device_id IN (SELECT device_id FROM rollout_device WHERE rollout_id = :rollout_id AND state = 'init' "
    "ORDER BY device_id LIMIT :limit) RETURNING device_id",
    ["device_id"],
)
_SELECT_EVENT = "SELECT id, at, device_id, from_state, to_state, by, reason FROM rollout_event"
_LOCK_ROLLOUT = Statement("SELECT id FROM rollout WHERE id = :rollout_id FOR NO KEY UPDATE", ["id"])
_ANY_EXPIRED = Statement(
    "SELECT 1 FROM rollout_device WHERE rollout_id = :rollout_id AND state = 'started' "
    "AND updated_at < :started_before LIMIT 1",
    ["found"],
)
_ROLLOUTS_WITH_TIMEOUTS = Statement(
    "SELECT id, device_timeout FROM rollout WHERE device_timeout IS NOT NULL AND state <> 'finished' ORDER BY id",
    ["id", "device_timeout"],
)
_EXPIRE_DEVICES = Statement(
    "UPDATE rollout_device SET state = 'failed', reason = 'timeout', updated_at = :now, updated_by = NULL "
    "WHERE rollout_id = :rollout_id AND state = 'started' AND updated_at < :started_before"
)
_MOVE_DEVICE = Statement(
    f"{_SET_DEVICE_STATE} WHERE rollout_id = :rollout_id AND device_id = :device_id AND state = :expected"
)


_FIND_ROLLOUTS = {
    "postgresql": Statement(f"{_SELECT_ROLLOUT} WHERE id = ANY(CAST(:ids AS bigint[]))", _ROLLOUT_COLUMNS),
    "sqlite": Statement(f"{_SELECT_ROLLOUT} WHERE id IN (SELECT value FROM json_each(:ids))", _ROLLOUT_COLUMNS),
}


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """What Create was given beyond the seed's fields; None where nothing was."""

    failure_percent: float | None = None
    failure_min_reported: int | None = None
    max_failures: int | None = None
    device_timeout: int | None = None
    max_in_progress: int | None = None
    auto_finish: bool = False


def create_rollout(
    tx: Transaction,
    *,
    project_id: str,
    name: str | None,
    firmware_id: str,
    device_filter: str,
    settings: RolloutSettings,
    now: float,
    by: str,
) -> int:
    values = {"project_id": project_id, "name": name, "firmware_id": firmware_id, "device_filter": device_filter}
    values |= {name: getattr(settings, name) for name in _SETTINGS} | {"now": now, "by": by}
    rollout_id: int = _CREATE_ROLLOUT.scalars(tx, values)[0]
    return rollout_id


def find_rollouts(tx: Transaction, *, rollout_ids: Sequence[int], alone: bool = False) -> dict[int, AnyRow]:
    """The rollouts with those ids, of any project, by id (read without a lock)."""
    if not rollout_ids:
        return {}
    if tx.postgres:
        return {row.id: row for row in _FIND_ROLLOUTS["postgresql"].rows(tx, {"ids": list(rollout_ids)}, alone=alone)}
    ids = json.dumps(list(rollout_ids))
    return {row.id: row for row in _FIND_ROLLOUTS["sqlite"].rows(tx, {"ids": ids}, alone=alone)}


def find_rollout(
    tx: Transaction, *, project_id: str, rollout_id: int, lock: RowLock | None = None, alone: bool = False
) -> AnyRow | None:
    """The rollout with that id in that project. lock="write" keeps others from changing it or its devices
    until commit; "delete" also from reading it with a lock. alone: this read is the whole command."""
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


def move_rollout(
    tx: Transaction, *, rollout_id: int, expected: str, target: str, now: float, by: str | None, reason: str | None
) -> bool:
    """Set the state only if it is still `expected`; False means someone else changed it first.
    `by` None and a reason: the service moved it by itself."""
    params = {"rollout_id": rollout_id, "expected": expected, "target": target, "now": now, "by": by, "reason": reason}
    return _MOVE_ROLLOUT.rowcount(tx, params) == 1


def delete_rollout(tx: Transaction, *, rollout_id: int) -> None:
    _DELETE_EVENTS.rowcount(tx, {"rollout_id": rollout_id})
    _DELETE_DEVICES.rowcount(tx, {"rollout_id": rollout_id})
    _DELETE_ROLLOUT.rowcount(tx, {"rollout_id": rollout_id})


def add_devices(tx: Transaction, *, rollout_id: int, device_ids: Sequence[str], now: float) -> int:
    """Insert the devices not yet in the rollout in one statement, existing ones left as they are, and count
    the new ones in the rollout's init count (the caller holds the rollout's row); how many were new."""
    if not device_ids:
        return 0
    if tx.postgres:
        params = {"rollout_id": rollout_id, "ids": list(device_ids), "now": now}
        added = _ADD_DEVICES_POSTGRESQL.rowcount(tx, params)
    else:
        params = {"rollout_id": rollout_id, "ids": json.dumps(list(device_ids)), "now": now}
        added = _ADD_DEVICES_SQLITE.rowcount(tx, params)
    if added:
        _COUNT_ADDED.rowcount(tx, {"rollout_id": rollout_id, "added": added, "now": now})
    return added


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


@dataclass(frozen=True, slots=True)
class DeviceMove:
    """What a device's move records besides its state: when, who (None: the service itself), and why."""

    now: float
    by: str | None
    reason: str | None = None
    update_command_id: str | None = None

    def params(self) -> dict[str, Any]:
        return {"now": self.now, "by": self.by, "reason": self.reason, "update_command_id": self.update_command_id}


def move_device(
    tx: Transaction, *, rollout_id: int, device_id: str, expected: str, target: str, move: DeviceMove
) -> bool:
    """Set the device's state only if it is still `expected`; False means someone else changed it first."""
    params = {"rollout_id": rollout_id, "device_id": device_id, "expected": expected, "target": target}
    return _MOVE_DEVICE.rowcount(tx, params | move.params()) == 1


def move_device_if_allowed(
    tx: Transaction,
    *,
    project_id: str,
    rollout_id: int,
    device_id: str,
    sources: frozenset[str],
    target: str,
    move: DeviceMove,
) -> bool:
    """Move the device in one statement, the whole command, when the move is legal as things stand: the
    device is in the rollout, the rollout is in that project and not finished (and, to started, under its
    maxInProgress), and the device's state is one of `sources`. False when any of that fails; nothing
    changed then, and the caller finds out why."""
    params = {"rollout_id": rollout_id, "project_id": project_id, "device_id": device_id, "target": target}
    statement = _move_device_if_allowed_statement(tuple(sorted(sources)), target == "started", tx.postgres)
    return statement.rowcount(tx, params | move.params(), alone=True) == 1


class BatchedMove(NamedTuple):
    """One device's move in a set-based batch of moves (move_devices); a named tuple, made once per command of a
    run (a frozen dataclass took more than twice as long to make)."""

    rollout_id: int
    device_id: str
    target: str
    update_command_id: str | None
    reason: str | None


LegalMoves = tuple[tuple[str, tuple[str, ...]], ...]
"""(target, the states a device may move to it from), for every target that can be moved to."""


def move_devices(
    tx: Transaction, *, moves: Sequence[BatchedMove], legal: LegalMoves, run_length: int, now: float, by: str | None
) -> set[tuple[int, str]]:
    """Move every device whose current state may move to its target; the (rollout id, device id) of those that
    moved, in `moves`' order, at most one move per device. Each statement checks again what the caller planned on
    from an unlocked read (find_rollouts): its rollout is not finished, and not an autoFinish rollout that
    `run_length` commands could finish; moves of a rollout that fails that do not happen. On PostgreSQL one
    statement locks the rollouts (in id order, as every writer of their devices does first) and moves every
    device, so the rollouts are held only while it runs; the triggers count and record the moves in order."""
    if not moves:
        return set()
    if not tx.postgres:
        # SQLite's UPDATE ... FROM moves rows in the table's order, not the commands': the triggers would record
        # the events (and a threshold's figures) in another order. Its statements cost microseconds in-process:
        # here each move is its own statement, run in order, in the caller's transaction.
        return _move_devices_one_by_one(tx, moves, legal, run_length, now, by)
    params: dict[str, Any] = {
        "rollout_ids": sorted({m.rollout_id for m in moves}),
        "rollouts": [m.rollout_id for m in moves],
        "devices": [m.device_id for m in moves],
        "targets": [m.target for m in moves],
        "update_command_ids": [m.update_command_id for m in moves],
        "reasons": [m.reason for m in moves],
        "run_length": run_length,
        "now": now,
        "by": by,
    }
    rows = _move_devices_statement(legal).rows(tx, params, alone=True)
    return {(row.rollout_id, row.device_id) for row in rows}


def _move_devices_one_by_one(
    tx: Transaction, moves: Sequence[BatchedMove], legal: LegalMoves, run_length: int, now: float, by: str | None
) -> set[tuple[int, str]]:
    # The plan's check, once per run: the caller's write transaction (SQLite's write lock) keeps it true until the
    # moves are done. (An executemany of the moves took as long: the triggers are most of a move's time.)
    ids = json.dumps(sorted({m.rollout_id for m in moves}))
    may_move = set(_ROLLOUTS_THAT_MAY_MOVE.scalars(tx, {"ids": ids, "run_length": run_length}))
    statements = {target: _move_device_statement(froms) for target, froms in legal}
    moved: set[tuple[int, str]] = set()
    # Consecutive moves to the same target run on one cursor; every move is still its own statement, in order.
    for target, group in itertools.groupby((m for m in moves if m.rollout_id in may_move), key=attrgetter("target")):
        statement = statements.get(target)
        if statement is None:
            continue
        runs = list(group)
        params = (
            {
                "rollout_id": move.rollout_id,
                "device_id": move.device_id,
                "target": target,
                "update_command_id": move.update_command_id,
                "reason": move.reason,
                "now": now,
                "by": by,
            }
            for move in runs
        )
        for move, count in zip(runs, statement.rowcounts(tx, params), strict=True):
            if count == 1:
                moved.add((move.rollout_id, move.device_id))
    return moved


def claim_devices(tx: Transaction, *, rollout_id: int, limit: int, move: DeviceMove) -> list[str]:
    """Move up to `limit` init devices to started, lowest ids first; their ids in order. The caller holds the
    rollout's row (lock "write"), so no other claim or move runs on this rollout until it commits."""
    if limit <= 0:
        return []
    params = {"rollout_id": rollout_id, "limit": limit} | move.params()
    return sorted(_CLAIM_DEVICES.scalars(tx, params))


def list_events(tx: Transaction, *, rollout_id: int, after: int | None, limit: int | None) -> Sequence[AnyRow]:
    """The rollout's events in the order they happened, after an event id, at most `limit`."""
    statement = _list_events_statement(after is not None, limit is not None)
    return statement.rows(tx, {"rollout_id": rollout_id, "after": after, "limit": limit})


def iter_events(tx: Transaction, *, rollout_id: int, after: int | None) -> Iterator[AnyRow]:
    """Every event after an id, read a batch at a time."""
    return _list_events_statement(after is not None, False).iterate(tx, {"rollout_id": rollout_id, "after": after})


def rollouts_with_timeouts(tx: Transaction) -> list[tuple[int, int]]:
    """(id, deviceTimeout) of every rollout whose devices can time out: those not finished that have one."""
    return [(row.id, row.device_timeout) for row in _ROLLOUTS_WITH_TIMEOUTS.rows(tx, {})]


def any_expired(tx: Transaction, *, rollout_id: int, started_before: float) -> bool:
    """Whether a device of the rollout was started before then and is still started (a read, by index)."""
    return _ANY_EXPIRED.first(tx, {"rollout_id": rollout_id, "started_before": started_before}) is not None


def lock_rollout(tx: Transaction, *, rollout_id: int) -> None:
    """Hold the rollout's row until commit, as every writer of its devices does first (PostgreSQL; a SQLite
    writer holds the database's write lock already)."""
    if tx.postgres:
        _LOCK_ROLLOUT.first(tx, {"rollout_id": rollout_id})


def expire_started_devices(tx: Transaction, *, rollout_id: int, started_before: float, now: float) -> int:
    """Fail the rollout's devices started before `started_before` with reason "timeout", as the service
    (the triggers count them and may pause the rollout); how many. The caller holds the rollout's row."""
    return _EXPIRE_DEVICES.rowcount(tx, {"rollout_id": rollout_id, "started_before": started_before, "now": now})


@functools.cache
def _move_device_if_allowed_statement(sources: tuple[str, ...], capped: bool, postgres: bool) -> Statement:
    if not sources or not all(state.isalnum() for state in sources):
        # (An empty IN () is a syntax error on PostgreSQL: no move leads to the target, so there is no statement.)
        raise ValueError(f"device states are plain words, at least one, got {sources!r}")
    # The states are the state machine's own constants, written into the SQL: one statement per target.
    listed = ", ".join(f"'{state}'" for state in sources)
    # As in the two-step path, PostgreSQL locks the rollout's row first: a concurrent change of its state
    # (to finished) or of its counts waits for this command, or this one sees it.
    lock = " FOR NO KEY UPDATE" if postgres else ""
    cap = f" AND {_UNDER_CAP}" if capped else ""
    return Statement(
        f"{_SET_DEVICE_STATE} WHERE rollout_id = :rollout_id AND device_id = :device_id AND state IN ({listed}) "
        "AND EXISTS (SELECT 1 FROM rollout WHERE id = :rollout_id AND project_id = :project_id "
        f"AND state <> 'finished'{cap}{lock})"
    )


# What a batch planned on from an unlocked read, checked again where the moves happen: the rollout takes moves,
# and the run cannot finish it (autoFinish: a finished rollout changes the answers of the commands after it).
_BATCH_MAY_MOVE = "state <> 'finished' AND NOT (auto_finish AND count_init + count_started <= :run_length)"


@functools.cache
def _move_devices_statement(legal: LegalMoves) -> Statement:
    """PostgreSQL's: the moves as arrays, unnested in order; the triggers fire in the order the rows are moved."""
    allowed = " OR ".join(
        f"(m.target = '{target}' AND rollout_device.state IN ({_states(froms)}))" for target, froms in legal
    )
    moves = (
        "(SELECT * FROM unnest(CAST(:rollouts AS bigint[]), CAST(:devices AS text[]), CAST(:targets AS text[]), "
        "CAST(:update_command_ids AS text[]), CAST(:reasons AS text[])) WITH ORDINALITY "
        "AS u(rollout_id, device_id, target, update_command_id, reason, position) ORDER BY position) AS m"
    )
    # ARRAY(SELECT ...) is an InitPlan: every rollout is locked, in id order, before the first device moves.
    locked = (
        f"ARRAY(SELECT id FROM rollout WHERE id = ANY(CAST(:rollout_ids AS bigint[])) AND {_BATCH_MAY_MOVE} "
        "ORDER BY id FOR NO KEY UPDATE)"
    )
    return Statement(
        "UPDATE rollout_device SET state = m.target, "
        "update_command_id = COALESCE(m.update_command_id, rollout_device.update_command_id), "
        f"reason = m.reason, updated_at = :now, updated_by = :by FROM {moves} "
        "WHERE rollout_device.rollout_id = m.rollout_id AND rollout_device.device_id = m.device_id "
        f"AND m.rollout_id = ANY({locked}) AND ({allowed}) "
        "RETURNING rollout_device.rollout_id, rollout_device.device_id",
        ["rollout_id", "device_id"],
    )


_ROLLOUTS_THAT_MAY_MOVE = Statement(
    f"SELECT id FROM rollout WHERE id IN (SELECT value FROM json_each(:ids)) AND {_BATCH_MAY_MOVE}", ["id"]
)


@functools.cache
def _move_device_statement(froms: tuple[str, ...]) -> Statement:
    """One device's move from one of `froms` (SQLite's batch, in the write transaction, its rollout checked)."""
    return Statement(
        f"{_SET_DEVICE_STATE} WHERE rollout_id = :rollout_id AND device_id = :device_id AND state IN ({_states(froms)})"
    )


def _states(states: tuple[str, ...]) -> str:
    """Device states as SQL literals: the state machine's own constants (plain words), written into the SQL."""
    if not states or not all(state.isalnum() for state in states):
        raise ValueError(f"device states are plain words, at least one, got {states!r}")
    return ", ".join(f"'{state}'" for state in states)


@functools.cache
def _list_events_statement(after: bool, limit: bool) -> Statement:
    conditions = ["rollout_id = :rollout_id"] + (["id > :after"] if after else [])
    return Statement(_select(_SELECT_EVENT, conditions, "id", limit), _EVENT_COLUMNS)


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
