"""Set-based runs: consecutive commands of a method with a batch implementation (SetDeviceState, Get) run through
it first, in one transaction, and only the commands it leaves run one by one. Every command answers, and every
move, count, reason and event happens, exactly as with BATCH_COMMANDS=false (each command alone, as before)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api.rollout.models import GetArgs, GetResult, SetDeviceStateArgs
from rollout_api.server import Services
from rollout_api.spec import Settled

from app.composition import create_app
from app.rollout.service import RolloutHandlers
from app.rpc.context import RequestContext
from app.settings import Settings
from tests.helpers import cmd, create_rollout, ok, send, untimed


@contextmanager
def served(settings: Settings, admin_key: str, handlers: RolloutHandlers | None = None) -> Iterator[TestClient]:
    """Another app on the same database, with these settings and (when given) these handlers."""
    application = create_app(settings, services=None if handlers is None else Services(rollout=handlers))
    with TestClient(application, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        yield client
    application.state.engine.dispose()


@pytest.fixture(scope="module")
def one_by_one(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    """The same database served with BATCH_COMMANDS=false: today's path, to compare with."""
    with served(settings.model_copy(update={"batch_commands": False}), admin_key) as client:
        yield client


def fleet(http: TestClient, project: str, devices: list[str]) -> dict[str, str]:
    """Rollouts that exercise every rule a move can meet, by role: a failure percentage, a cap, autoFinish, one
    already finished, one not started; each with the same devices."""
    settings: dict[str, dict[str, Any]] = {
        "percent": {"failureThreshold": {"percent": 30, "minReported": 3}},
        "count": {"maxFailures": 2},
        "capped": {"maxInProgress": 2},
        "finishing": {"autoFinish": True},
        "finished": {},
        "plain": {},
    }
    rollouts = {}
    for role, extra in settings.items():
        rollout_id = create_rollout(http, project, **extra)
        ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
        ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
        rollouts[role] = rollout_id
    ok(http, "SetState", projectid=project, rolloutid=rollouts["finished"], state="finished")
    return rollouts


def mixed_frame(project: str, rollouts: dict[str, str], devices: list[str], seed: int) -> list[dict[str, Any]]:
    """SetDeviceState commands over every rollout at once: legal moves, illegal ones, repeats (with the same and
    another updateCommandId), a device's several moves, missing devices and rollouts, another project, ids that
    name nothing or are too long, a bad argument and a role-free malformed command."""
    rng = random.Random(seed)
    commands: list[dict[str, Any]] = []
    for index in range(160):
        role = rng.choice(list(rollouts))
        rollout_id = rollouts[role]
        device = rng.choice([*devices, *devices, f"{project}/missing"])
        args: dict[str, Any] = {
            "projectid": project,
            "rolloutid": rollout_id,
            "deviceid": device,
            "state": rng.choice(["started", "started", "succeeded", "failed", "failed", "init"]),
        }
        if rng.random() < 0.2:
            args["updateCommandId"] = rng.choice(["u1", "u2"])
        if rng.random() < 0.2:
            args["reason"] = f"reason {index}"
        if index % 40 == 10:
            args["projectid"] = f"{project}-other"
        elif index % 40 == 20:
            args["rolloutid"] = "0" + rollout_id
        elif index % 40 == 30:
            args["deviceid"] = "d" * 300
        elif index == 35:
            args["updateCommandId"] = ""
        elif index == 75:
            args["state"] = "bogus"
        commands.append(cmd("SetDeviceState", index + 1, **args))
    return commands


def outcome(http: TestClient, project: str, rollout_id: str) -> tuple[Any, ...]:
    rollout = ok(http, "Get", projectid=project, rolloutid=rollout_id)
    devices = untimed(ok(http, "ListDevices", projectid=project, rolloutid=rollout_id))
    events = [
        (e.get("deviceid"), e["from"], e["to"], e.get("reason"))
        for e in ok(http, "ListEvents", projectid=project, rolloutid=rollout_id)
    ]
    return rollout["state"], rollout.get("reason"), rollout["counts"], devices, events


def comparable(entries: list[dict[str, Any]], rollouts: dict[str, str]) -> list[dict[str, Any]]:
    """The answers with each rollout's id replaced by its role, so two fleets' answers compare."""
    by_id = {rollout_id: role for role, rollout_id in rollouts.items()}

    def message(text: str) -> str:
        for rollout_id, role in sorted(by_id.items(), key=lambda item: -len(item[0])):
            text = text.replace(f"rollout {rollout_id}", f"rollout <{role}>").replace(f"'{rollout_id}'", f"<{role}>")
            text = text.replace(f"'0{rollout_id}'", f"0<{role}>")
        return text

    return [{**entry, "status_msg": message(entry.get("status_msg", ""))} for entry in entries]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_mixed_frame_answers_and_stores_what_each_command_alone_does(
    http: TestClient, one_by_one: TestClient, project: str, seed: int
) -> None:
    devices = [f"{project}/device_{n}" for n in range(8)]
    batched_fleet, alone_fleet = fleet(http, project, devices), fleet(http, project, devices)

    batched = send(http, *mixed_frame(project, batched_fleet, devices, seed))["resp"]
    alone = send(one_by_one, *mixed_frame(project, alone_fleet, devices, seed))["resp"]

    assert comparable(batched, batched_fleet) == comparable(alone, alone_fleet)
    assert {e["status"] for e in batched} >= {0, 400, 404, 409, 413}, "the frame mixes every kind of answer"
    for role in batched_fleet:
        assert outcome(http, project, batched_fleet[role]) == outcome(http, project, alone_fleet[role]), role


def test_a_threshold_crossed_inside_a_run_pauses_with_the_figures_of_that_command(
    http: TestClient, project: str
) -> None:
    """Moves happen in the commands' order, so the pause's reason and its event fall where they would alone."""
    devices = [f"{project}/device_{n}" for n in range(10)]
    rollout_id = create_rollout(http, project, failureThreshold={"percent": 50, "minReported": 4})
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    outcomes = ["succeeded", "failed", "failed", "failed", "succeeded", "failed", "succeeded"]
    commands = [
        cmd("SetDeviceState", n + 1, projectid=project, rolloutid=rollout_id, deviceid=devices[n], state=state)
        for n, state in enumerate(outcomes)
    ]
    assert [e["status"] for e in send(http, *commands)["resp"]] == [0] * len(outcomes)

    rollout = ok(http, "Get", projectid=project, rolloutid=rollout_id)
    # Crossed at the fourth report (3 of 4 failed), not at the end of the frame (4 of 7).
    assert rollout["reason"] == "paused automatically: 3 of 4 reported devices failed (75 %), over the 50 % threshold"
    events = [(e.get("deviceid"), e["to"]) for e in ok(http, "ListEvents", projectid=project, rolloutid=rollout_id)]
    assert events[1:] == [
        *((devices[n], outcomes[n]) for n in range(4)),
        (None, "paused"),
        *((devices[n], outcomes[n]) for n in range(4, 7)),
    ]


class CountingHandlers(RolloutHandlers):
    """Counts which path each command took."""

    alone: list[str]
    batched: list[int]

    def forget(self) -> None:
        self.alone, self.batched = [], []

    def set_device_state(self, ctx: RequestContext, args: SetDeviceStateArgs) -> None:
        self.alone.append(args.deviceid)
        super().set_device_state(ctx, args)

    def set_device_state_batch(
        self, ctx: RequestContext, batch: Sequence[SetDeviceStateArgs]
    ) -> Sequence[Settled[None] | None]:
        self.batched.append(len(batch))
        return super().set_device_state_batch(ctx, batch)

    def get(self, ctx: RequestContext, args: GetArgs) -> GetResult:
        self.alone.append(args.rolloutid)
        return super().get(ctx, args)


@pytest.fixture(scope="module")
def counted(settings: Settings, admin_key: str) -> Iterator[tuple[TestClient, CountingHandlers]]:
    handlers = CountingHandlers(settings)
    handlers.forget()
    with served(settings, admin_key, handlers) as client:
        yield client, handlers


def test_a_run_of_legal_moves_is_one_batch_and_runs_nothing_alone(
    counted: tuple[TestClient, CountingHandlers], project: str
) -> None:
    http, handlers = counted
    devices = [f"{project}/device_{n}" for n in range(100)]
    rollout_id = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    handlers.forget()
    started = [
        cmd("SetDeviceState", n + 1, projectid=project, rolloutid=rollout_id, deviceid=d, state="started")
        for n, d in enumerate(devices)
    ]
    assert [e["status"] for e in send(http, *started)["resp"]] == [0] * 100
    assert (handlers.batched, handlers.alone) == ([100], [])
    assert ok(http, "Get", projectid=project, rolloutid=rollout_id)["counts"]["started"] == 100


def test_a_device_moved_twice_in_a_run_starts_a_new_batch_at_its_second_move(
    counted: tuple[TestClient, CountingHandlers], project: str
) -> None:
    http, handlers = counted
    devices = [f"{project}/device_{n}" for n in range(4)]
    rollout_id = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    handlers.forget()
    states = [(0, "started"), (1, "started"), (0, "succeeded"), (2, "failed"), (3, "succeeded")]
    commands = [
        cmd("SetDeviceState", n + 1, projectid=project, rolloutid=rollout_id, deviceid=devices[d], state=state)
        for n, (d, state) in enumerate(states)
    ]
    assert [e["status"] for e in send(http, *commands)["resp"]] == [0] * 5
    assert (handlers.batched, handlers.alone) == ([5, 3], [])
    listed = ok(http, "ListDevices", projectid=project, rolloutid=rollout_id)
    assert [d["state"] for d in listed] == ["succeeded", "started", "failed", "succeeded"]


def test_a_run_of_gets_is_one_query_and_leaves_only_what_it_cannot_answer(
    http: TestClient, one_by_one: TestClient, counted: tuple[TestClient, CountingHandlers], project: str
) -> None:
    counting, handlers = counted
    rollouts = [create_rollout(http, project) for _ in range(3)]
    other = create_rollout(http, f"{project}-other")
    asked = [
        *rollouts,
        rollouts[0],
        other,  # in another project: 404, as missing
        "999999999999",
        "0" + rollouts[1],  # not an id
        "9" * 300,  # too long: 413
    ]
    commands = [cmd("Get", n + 1, projectid=project, rolloutid=rollout_id) for n, rollout_id in enumerate(asked)]
    handlers.forget()
    batched = send(counting, *commands)["resp"]
    assert batched == send(one_by_one, *commands)["resp"]
    assert [e["status"] for e in batched] == [0, 0, 0, 0, 404, 404, 404, 413]
    assert handlers.alone == asked[4:]


class FailingBatch(RolloutHandlers):
    """A batch that writes, then fails: its writes must not survive, and each command then runs alone."""

    def set_device_state_batch(
        self, ctx: RequestContext, batch: Sequence[SetDeviceStateArgs]
    ) -> Sequence[Settled[None] | None]:
        super().set_device_state_batch(ctx, batch)
        raise RuntimeError("the batch broke after its statement")


def test_a_batch_that_fails_is_undone_and_each_command_runs_alone(
    settings: Settings, admin_key: str, project: str
) -> None:
    with served(settings, admin_key, FailingBatch(settings)) as http:
        devices = [f"{project}/device_{n}" for n in range(3)]
        rollout_id = create_rollout(http, project)
        ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
        commands = [
            cmd("SetDeviceState", n + 1, projectid=project, rolloutid=rollout_id, deviceid=d, state="started")
            for n, d in enumerate(devices)
        ]
        assert [e["status"] for e in send(http, *commands)["resp"]] == [0, 0, 0]
        # One event per device: the batch's moves were rolled back before each command ran alone.
        events = ok(http, "ListEvents", projectid=project, rolloutid=rollout_id)
        assert [(e.get("deviceid"), e["from"], e["to"]) for e in events] == [(d, "init", "started") for d in devices]


def test_a_move_after_the_one_that_finishes_a_rollout_is_refused_as_alone(
    http: TestClient, one_by_one: TestClient, project: str
) -> None:
    """autoFinish: the third success finishes the rollout; the failed device's restart after it is then refused."""
    answers, stored = [], []
    for client in (http, one_by_one):
        devices = [f"{project}/device_{n}" for n in range(4)]
        rollout_id = create_rollout(client, project, autoFinish=True)
        ok(client, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
        ok(client, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
        ok(client, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=devices[3], state="failed")
        states = ["succeeded", "succeeded", "succeeded", "started"]
        commands = [
            cmd("SetDeviceState", n + 1, projectid=project, rolloutid=rollout_id, deviceid=devices[n], state=state)
            for n, state in enumerate(states)
        ]
        answers.append(comparable(send(client, *commands)["resp"], {"R": rollout_id}))
        stored.append(outcome(client, project, rollout_id))
    assert answers[0] == answers[1]
    assert answers[0][3] == {
        "id": 4,
        "status": 409,
        "status_msg": "rollout <R> is finished; its devices' states are final",
    }
    assert stored[0] == stored[1]
    assert stored[0][0] == "finished"
