"""The Rollout service's methods, implementing the generated RolloutService contract (bound in app/composition.py)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from rollout_api.errors import Conflict, InvalidArgument, NotFound, TooLarge
from rollout_api.rollout.models import (
    AddDevicesArgs,
    ClaimDevicesArgs,
    ClaimedDevice,
    CreateArgs,
    CreateResult,
    DeleteArgs,
    Device,
    DeviceCounts,
    DeviceState,
    Event,
    FailureThreshold,
    GetArgs,
    GetResult,
    ListArgs,
    ListDevicesArgs,
    ListEventsArgs,
    Rollout,
    RolloutState,
    SetDeviceStateArgs,
    SetStateArgs,
)
from rollout_api.spec import Fields, Settled

from app.rollout import store
from app.rollout.states import DEVICE_TRANSITIONS, ROLLOUT_TRANSITIONS, allowed, refusal, sources
from app.rpc.context import RequestContext
from app.settings import Settings
from app.storage.db import Transaction
from app.storage.sql import AnyRow
from app.trusted import build

# A conditional update that loses a race re-reads and tries again; a few rounds always settle it.
_RACE_RETRIES = 5
_MAX_ROLLOUT_KEY_DIGITS = 18  # keeps the id inside a signed 64-bit integer


# Every move SetDeviceState can make, for the set-based statement (a move to init is never one: it is a repeat).
_LEGAL_MOVES: store.LegalMoves = tuple(
    (target.value, tuple(sorted(sources(DEVICE_TRANSITIONS, target))))
    for target in DeviceState
    if sources(DEVICE_TRANSITIONS, target)
)

Clock = Callable[[], float]
"""Seconds since the epoch: time.time, or a test's own clock."""


class RolloutHandlers:
    """Implements RolloutService: one instance serves every command, each with its own RequestContext
    (transaction, caller, deadline, request id); the instance holds only the configured limits and a clock."""

    def __init__(self, settings: Settings, *, clock: Clock = time.time) -> None:
        self._limits = settings
        self._clock = clock
        self._server = settings.server_address  # `by` of the moves the service makes by itself

    def create(self, ctx: RequestContext, args: CreateArgs) -> CreateResult:
        self._check_id("args.projectid", args.projectid)
        self._check_id("args.firmwareid", args.firmwareid)
        _check_filter(args.device_filter, self._limits.max_filter_length)
        if args.name is not None and len(args.name) > self._limits.max_name_length:
            raise TooLarge(f"args.name: longer than {self._limits.max_name_length} characters")
        threshold = args.failure_threshold  # (its percent in (0, 100]: the definition's exclusiveMinimum)
        settings = store.RolloutSettings(
            failure_percent=None if threshold is None else threshold.percent,
            failure_min_reported=None if threshold is None else threshold.min_reported,
            max_failures=args.max_failures,
            device_timeout=args.device_timeout,
            max_in_progress=args.max_in_progress,
            auto_finish=bool(args.auto_finish),
        )
        rollout_id = store.create_rollout(
            ctx.transaction,
            project_id=args.projectid,
            name=args.name,
            firmware_id=args.firmwareid,
            device_filter=args.device_filter,
            settings=settings,
            now=self._clock(),
            by=ctx.caller.principal,
        )
        return CreateResult(id=str(rollout_id))

    def get(self, ctx: RequestContext, args: GetArgs) -> GetResult:
        row = self._rollout(ctx.transaction, args.projectid, args.rolloutid, alone=True)
        return as_rollout(row)

    def get_batch(self, ctx: RequestContext, batch: Sequence[GetArgs]) -> Sequence[Settled[GetResult] | None]:
        """Every rollout of the run in one query; one that is missing (or not in the project) is left to get()."""
        keys = [self._batch_key(args.projectid, args.rolloutid) for args in batch]
        rows = store.find_rollouts(ctx.transaction, rollout_ids=sorted({k for k in keys if k is not None}), alone=True)
        answered: dict[int, Settled[GetResult]] = {}
        outcomes: list[Settled[GetResult] | None] = []
        for args, key in zip(batch, keys, strict=True):
            row = None if key is None else rows.get(key)
            if row is None or row.project_id != args.projectid:
                outcomes.append(None)
                continue
            if row.id not in answered:
                answered[row.id] = Settled(Fields(rollout_fields(row)))
            outcomes.append(answered[row.id])
        return outcomes

    def list(self, ctx: RequestContext, args: ListArgs) -> list[Rollout]:
        self._check_length("args.projectid", args.projectid)
        self._check_length("args.after", args.after)
        after = None
        if args.after is not None:
            after = _rollout_key(args.after)
            if after is None:
                raise InvalidArgument(
                    f"args.after: {args.after!r} is not a rollout id; pass the id of the last rollout seen"
                )
        # List is not scoped by the dispatcher (its projectid is optional): the query keeps to the caller's reach.
        rows = store.list_rollouts(
            ctx.transaction,
            project_id=args.projectid,
            within=ctx.caller.projects,
            state=None if args.state is None else args.state.value,
            after=after,
            limit=args.limit,
        )
        return [as_rollout(r) for r in rows]

    def add_devices(self, ctx: RequestContext, args: AddDevicesArgs) -> None:
        if len(args.devices) > self._limits.max_devices_per_add:
            raise TooLarge(
                f"args.devices: {len(args.devices)} devices in one call; at most {self._limits.max_devices_per_add} are allowed"
            )
        for index, device_id in enumerate(args.devices):
            self._check_id(f"args.devices[{index}]", device_id)
        row = self._rollout(ctx.transaction, args.projectid, args.rolloutid, lock="write")
        if row.state == "finished":
            raise Conflict(f"rollout {row.id} is finished; devices cannot be added to it")
        store.add_devices(ctx.transaction, rollout_id=row.id, device_ids=args.devices, now=self._clock())

    def set_state(self, ctx: RequestContext, args: SetStateArgs) -> None:
        target = args.state
        row = self._rollout(ctx.transaction, args.projectid, args.rolloutid)
        for _ in range(_RACE_RETRIES):
            current = RolloutState(row.state)
            if current == target:
                return
            if not allowed(ROLLOUT_TRANSITIONS, current, target):
                raise Conflict(refusal(f"rollout {row.id}", ROLLOUT_TRANSITIONS, current, target))
            now = self._clock()
            moved = store.move_rollout(
                ctx.transaction,
                rollout_id=row.id,
                expected=current.value,
                target=target.value,
                now=now,
                by=ctx.caller.principal,
                reason=None,
            )
            if moved:
                if target == RolloutState.IN_PROGRESS:
                    self._finish_if_done(ctx.transaction, args.projectid, args.rolloutid, now)
                return
            row = self._rollout(ctx.transaction, args.projectid, args.rolloutid)
        raise Conflict(f"rollout {row.id} kept changing state; try again")

    def _finish_if_done(self, tx: Transaction, project_id: str, rollout_id: str, now: float) -> None:
        """autoFinish of a rollout that a caller (re)starts after its last device reported: the trigger
        finishes a rollout when a device reports, so one that had nothing left to report finishes here."""
        row = self._rollout(tx, project_id, rollout_id)
        reported = row.count_succeeded + row.count_failed
        if row.auto_finish and row.count_init == 0 and row.count_started == 0 and reported > 0:
            reason = (
                "finished automatically: every device reported an outcome "
                f"({row.count_succeeded} succeeded, {row.count_failed} failed)"
            )
            store.move_rollout(
                tx, rollout_id=row.id, expected="inProgress", target="finished", now=now, by=None, reason=reason
            )

    def list_devices(self, ctx: RequestContext, args: ListDevicesArgs) -> Iterable[Device]:
        self._check_length("args.after", args.after)
        row = self._rollout(ctx.transaction, args.projectid, args.rolloutid)
        state = None if args.state is None else args.state.value
        if args.limit is None:
            # Without a limit the answer may hold millions of devices: it streams, a batch at a time.
            stream = store.iter_devices(ctx.transaction, rollout_id=row.id, state=state, after=args.after)
            return (_device(r) for r in stream)
        rows = store.list_devices(ctx.transaction, rollout_id=row.id, state=state, after=args.after, limit=args.limit)
        return [_device(r) for r in rows]

    def set_device_state(self, ctx: RequestContext, args: SetDeviceStateArgs) -> None:
        if args.update_command_id is not None:
            self._check_id("args.updateCommandId", args.update_command_id)
        self._check_length("args.deviceid", args.deviceid)
        target = args.state
        key = self._rollout_key(args.projectid, args.rolloutid)
        move = store.DeviceMove(
            now=self._clock(), by=ctx.caller.principal, reason=args.reason, update_command_id=args.update_command_id
        )
        # No state moves to init: only the step-by-step path can answer that (a repeat, or a 409).
        froms = sources(DEVICE_TRANSITIONS, target)
        if (
            key is not None
            and froms
            and store.move_device_if_allowed(
                ctx.transaction,
                project_id=args.projectid,
                rollout_id=key,
                device_id=args.deviceid,
                sources=froms,
                target=target.value,
                move=move,
            )
        ):
            return
        # It did not move: a repeat (nothing to do), or find out why (404, 409), or step by step if it
        # changed state meanwhile.
        rollout = self._rollout(ctx.transaction, args.projectid, args.rolloutid, lock="write")
        find = self._device_finder(ctx.transaction, rollout.id, args.deviceid)
        device = find()
        what = f"device {args.deviceid!r} of rollout {rollout.id}"
        for _ in range(_RACE_RETRIES):
            current = DeviceState(device.state)
            if current == target:
                # A repeat changes nothing, not even the update command a device is attributed to.
                if args.update_command_id in (None, device.update_command_id):
                    return
                raise Conflict(_taken_over(what, current, device.update_command_id, args.update_command_id))
            if rollout.state == "finished":
                raise Conflict(f"rollout {rollout.id} is finished; its devices' states are final")
            if not allowed(DEVICE_TRANSITIONS, current, target):
                raise Conflict(refusal(what, DEVICE_TRANSITIONS, current, target))
            if target == DeviceState.STARTED and _at_cap(rollout):
                raise Conflict(
                    f"rollout {rollout.id} already has {rollout.count_started} devices started, its maxInProgress; "
                    f"{what} can start when one of them succeeds or fails"
                )
            moved = store.move_device(
                ctx.transaction,
                rollout_id=rollout.id,
                device_id=args.deviceid,
                expected=current.value,
                target=target.value,
                move=move,
            )
            if moved:
                return
            device = find()
        raise Conflict(f"device {args.deviceid!r} kept changing state; try again")

    def set_device_state_batch(
        self, ctx: RequestContext, batch: Sequence[SetDeviceStateArgs]
    ) -> Sequence[Settled[None] | None]:
        """The legal moves of a run, in the commands' order, in one statement (PostgreSQL) that locks its rollouts.

        A command that is not a move as things stand (bad ids, a missing or finished rollout, a missing device, a
        repeat, a move the state machine refuses) is left to set_device_state, which finds out why and says so:
        it changes nothing, so it may run after the commands settled here. The answer covers the commands before
        the first one that could change something only after those before it ran, and that command is left to
        the next call: a device's second command in the run; a move to started in a rollout with maxInProgress
        (moves out of started before it free room); any command of an autoFinish rollout that the run could
        finish (a finished rollout refuses the moves after the one that finished it). So every command answers,
        and every move and event happens, as when each runs alone, in order."""
        keys = [
            self._batch_key(args.projectid, args.rolloutid, args.deviceid, args.update_command_id) for args in batch
        ]
        tx = ctx.transaction
        # Planned on an unlocked read: move_devices checks again, under the rollouts' locks, what the plan relies on.
        rollouts = store.find_rollouts(tx, rollout_ids=sorted({k for k in keys if k is not None}), alone=True)
        seen: set[tuple[int, str]] = set()
        moves: list[tuple[int, store.BatchedMove]] = []
        run_length = covered = len(batch)
        for position, (args, key) in enumerate(zip(batch, keys, strict=True)):
            row = None if key is None else rollouts.get(key)
            if key is None or row is None or row.project_id != args.projectid or row.state == "finished":
                continue
            device = (key, args.deviceid)
            # (A state's _value_, not .value: .value is a descriptor call, and this loop runs once per command.)
            target = args.state._value_
            if (
                device in seen
                or (target == "started" and row.max_in_progress is not None)
                or (row.auto_finish and row.count_init + row.count_started <= run_length)
            ):
                covered = max(position, 1)
                break
            seen.add(device)
            if target != "init":
                moves.append(
                    (position, store.BatchedMove(key, args.deviceid, target, args.update_command_id, args.reason))
                )
        moved = store.move_devices(
            tx,
            moves=[move for _, move in moves],
            legal=_LEGAL_MOVES,
            run_length=run_length,
            now=self._clock(),
            by=ctx.caller.principal,
        )
        outcomes: list[Settled[None] | None] = [None] * covered
        done: Settled[None] = Settled(None)
        for position, move in moves:
            if (move.rollout_id, move.device_id) in moved:
                outcomes[position] = done
        return outcomes

    def _batch_key(self, project_id: str, rollout_id: str, *ids: str | None) -> int | None:
        """The rollout's key when every id of a batched command is well-formed; None leaves the command to the
        one-command path, which says what is wrong."""
        limit = self._limits.max_id_length
        if len(project_id) > limit or len(rollout_id) > limit:
            return None
        for value in ids:  # (a loop, not any() over a generator: this runs once per command of a run)
            if value is not None and not 0 < len(value) <= limit:
                return None
        return _rollout_key(rollout_id)

    def delete(self, ctx: RequestContext, args: DeleteArgs) -> None:
        # The rollout's row first, as every writer of its devices does; deleting the devices first could
        # deadlock with a SetDeviceState that holds the rollout's row and waits for its device.
        row = self._rollout(ctx.transaction, args.projectid, args.rolloutid, lock="delete")
        store.delete_rollout(ctx.transaction, rollout_id=row.id)

    def claim_devices(self, ctx: RequestContext, args: ClaimDevicesArgs) -> Iterable[ClaimedDevice]:
        if args.update_command_id is not None:
            self._check_id("args.updateCommandId", args.update_command_id)
        # The rollout's row first, locked: claims and moves of its devices wait for this one, so no device is
        # claimed twice and the started count read here stays true until the claim commits.
        row = self._rollout(ctx.transaction, args.projectid, args.rolloutid, lock="write")
        if row.state != "inProgress":
            raise Conflict(f"rollout {row.id} is {row.state}; devices are claimed only while it is inProgress")
        room = args.limit if row.max_in_progress is None else min(args.limit, row.max_in_progress - row.count_started)
        move = store.DeviceMove(now=self._clock(), by=ctx.caller.principal, update_command_id=args.update_command_id)
        claimed = store.claim_devices(ctx.transaction, rollout_id=row.id, limit=room, move=move)
        return [build(ClaimedDevice, {"id": device_id}) for device_id in claimed]

    def list_events(self, ctx: RequestContext, args: ListEventsArgs) -> Iterable[Event]:
        row = self._rollout(ctx.transaction, args.projectid, args.rolloutid)
        after = None if args.after is None else int(args.after)
        if args.limit is None:
            stream = store.iter_events(ctx.transaction, rollout_id=row.id, after=after)
            return (self._event(r) for r in stream)
        rows = store.list_events(ctx.transaction, rollout_id=row.id, after=after, limit=args.limit)
        return [self._event(r) for r in rows]

    def _event(self, row: AnyRow) -> Event:
        """A row of store's event columns as the Event result (built, not validated: see app/trusted.py)."""
        fields = {
            "id": str(row.id),
            "at": _time(row.at),
            "from_": row.from_state,
            "to": row.to_state,
            "by": self._server if row.by is None else row.by,
        }
        if row.device_id is not None:
            fields["deviceid"] = row.device_id
        if row.reason is not None:
            fields["reason"] = row.reason
        return build(Event, fields)

    def _rollout(
        self,
        tx: Transaction,
        project_id: str,
        rollout_id: str,
        *,
        lock: store.RowLock | None = None,
        alone: bool = False,
    ) -> AnyRow:
        key = self._rollout_key(project_id, rollout_id)
        row = None
        if key is not None:
            row = store.find_rollout(tx, project_id=project_id, rollout_id=key, lock=lock, alone=alone)
        if row is None:
            raise NotFound(f"rollout {rollout_id!r} not found in project {project_id!r}")
        return row

    def _rollout_key(self, project_id: str, rollout_id: str) -> int | None:
        """The rollout's key, or None when no rollout can have that id."""
        self._check_length("args.projectid", project_id)
        self._check_length("args.rolloutid", rollout_id)
        return _rollout_key(rollout_id)

    def _device_finder(self, tx: Transaction, rollout_id: int, device_id: str) -> Callable[[], AnyRow]:
        def find() -> AnyRow:
            device = store.find_device(tx, rollout_id=rollout_id, device_id=device_id)
            if device is None:
                raise NotFound(f"device {device_id!r} is not in rollout {rollout_id}")
            return device

        return find

    def _check_id(self, where: str, value: str) -> None:
        if not value:
            raise InvalidArgument(f"{where}: must not be empty")
        self._check_length(where, value)

    def _check_length(self, where: str, value: str | None) -> None:
        """Ids longer than the limit are refused as too large (413), whichever method they come to."""
        if value is not None and len(value) > self._limits.max_id_length:
            raise TooLarge(f"{where}: longer than {self._limits.max_id_length} characters")


def _taken_over(what: str, state: DeviceState, stored: str | None, given: str | None) -> str:
    by = "with no updateCommandId" if stored is None else f"by update command {stored!r}"
    return (
        f"{what} is already {state.value} {by}; update command {given!r} cannot report it again: repeat a "
        "report with the same updateCommandId (or none), or move the device to another state"
    )


def _check_filter(expression: str, max_length: int) -> None:
    """deviceFilter's length limit, and the one case its pattern lets through: the definition's `$` also
    matches before a final newline (in Python's re, as in many others), so "a=b\n" passes the pattern."""
    if len(expression) > max_length:
        raise TooLarge(f"args.deviceFilter: longer than {max_length} characters")
    if expression != expression.rstrip():
        raise InvalidArgument(
            f"args.deviceFilter: {expression!r} ends with whitespace; "
            "expected 'labelname=labelvalue', e.g. 'location=Bathroom'"
        )


@functools.lru_cache(maxsize=1024)
def _rollout_key(rollout_id: str) -> int | None:
    """Rollout ids are decimal integers as Create answered them; anything else names no rollout. One rollout has
    one id: "01" is not rollout 1 (callers that compare ids as strings would otherwise see two rollouts). Cached:
    a frame's batch asks it once per command, mostly of one rollout."""
    if not rollout_id.isascii() or not rollout_id.isdigit() or len(rollout_id) > _MAX_ROLLOUT_KEY_DIGITS:
        return None
    if rollout_id.startswith("0") and rollout_id != "0":
        return None
    return int(rollout_id)


def _at_cap(rollout: AnyRow) -> bool:
    return rollout.max_in_progress is not None and rollout.count_started >= rollout.max_in_progress


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def as_rollout(row: AnyRow) -> Rollout:
    """A row of store's rollout columns as the Rollout result (built, not validated: see app/trusted.py)."""
    fields = rollout_fields(row)
    fields["counts"] = build(DeviceCounts, fields["counts"])
    threshold = fields.get("failure_threshold")
    if threshold is not None:
        fields["failure_threshold"] = build(FailureThreshold, threshold)
    return build(Rollout, fields)


def rollout_fields(row: AnyRow) -> dict[str, Any]:
    """A row of store's rollout columns as the Rollout result's field values, nested ones as dicts: what
    Fields[Rollout] holds, to be written without building the model (tests/app/test_trusted.py checks both)."""
    # (Written out, without helpers or loops: a frame of 100 Get builds 100 of these.)
    # In the model's field order: a model is written in that order, a dict of its fields in the dict's.
    fields: dict[str, Any] = {
        "id": str(row.id),
        "firmwareid": row.firmware_id,
        "device_filter": row.device_filter,
        "state": _ROLLOUT_STATES.get(row.state, row.state),
        "counts": {
            "init": row.count_init,
            "started": row.count_started,
            "succeeded": row.count_succeeded,
            "failed": row.count_failed,
        },
        "total": row.count_init + row.count_started + row.count_succeeded + row.count_failed,
        "created_at": datetime.fromtimestamp(row.created_at, UTC),
        "updated_at": datetime.fromtimestamp(row.updated_at, UTC),
        "auto_finish": bool(row.auto_finish),
        "projectid": row.project_id,
    }
    if row.name is not None:
        fields["name"] = row.name
    if row.reason is not None:
        fields["reason"] = row.reason
    if row.failure_percent is not None:
        # A whole percentage is answered as it was most likely given: 20, not 20.0.
        percent = row.failure_percent
        fields["failure_threshold"] = {
            "percent": int(percent) if percent.is_integer() else percent,
            "min_reported": row.failure_min_reported,
        }
    if row.max_failures is not None:
        fields["max_failures"] = row.max_failures
    if row.device_timeout is not None:
        fields["device_timeout"] = row.device_timeout
    if row.max_in_progress is not None:
        fields["max_in_progress"] = row.max_in_progress
    return fields


def _device(row: AnyRow) -> Device:
    """A row of store's device columns as the Device result (built, not validated: see app/trusted.py)."""
    fields = {
        "id": row.device_id,
        "state": _DEVICE_STATES.get(row.state, row.state),
        "updated_at": _time(row.updated_at),
    }
    if row.update_command_id is not None:
        fields["update_command_id"] = row.update_command_id
    if row.reason is not None:
        fields["reason"] = row.reason
    return build(Device, fields)


# A state the service knows is its enum member, as validation would give; another (from a newer server sharing
# the database) stays a string, as the models' `Enum | str` fields allow.
_ROLLOUT_STATES: dict[str, RolloutState] = {state.value: state for state in RolloutState}
_DEVICE_STATES: dict[str, DeviceState] = {state.value: state for state in DeviceState}
