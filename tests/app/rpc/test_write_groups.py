"""Write groups: on SQLite, consecutive write commands of a frame share one transaction, each in a savepoint, and are
answered after it commits. Every command answers exactly as it would alone; a failing command undoes only its own
writes; a transaction that breaks answers no command as done. (PostgreSQL commits each command alone; the test that
does not look inside runs on both backends.)"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api.errors import Conflict
from rollout_api.rollout.models import CreateArgs, CreateResult, SetStateArgs
from rollout_api.server import Services

from app.composition import create_app
from app.rollout.service import RolloutHandlers
from app.rpc.context import RequestContext
from app.settings import Settings
from tests.helpers import TEST_PRINCIPAL, cmd, create_rollout, make_key, migrate, ok, send, snapshot, untimed


def mixed_commands(project: str, rollout_id: str, devices: list[str]) -> list[dict[str, Any]]:
    """SetDeviceState commands that mix legal moves, illegal ones, missing devices and repeats (some of the same
    device in a row), with a bad argument and a Get in between."""
    rng = random.Random(14)
    commands = []
    for index in range(120):
        device = rng.choice([*devices, f"{project}/missing"])
        state = rng.choice(["started", "succeeded", "failed", "init"])
        args: dict[str, Any] = {"projectid": project, "rolloutid": rollout_id, "deviceid": device, "state": state}
        if rng.random() < 0.2:
            args["updateCommandId"] = rng.choice(["u1", "u2"])
        commands.append(cmd("SetDeviceState", index + 1, **args))
        if index == 40:
            commands.append(cmd("SetDeviceState", 1000, projectid=project, rolloutid=rollout_id, state="bogus"))
        if index == 80:
            commands.append(cmd("Get", 1001, projectid=project, rolloutid=rollout_id))
    return commands


def outcome(http: TestClient, project: str, rollout_id: str) -> tuple[Any, ...]:
    rollout = ok(http, "Get", projectid=project, rolloutid=rollout_id)
    devices = untimed(ok(http, "ListDevices", projectid=project, rolloutid=rollout_id))
    events = [
        (e.get("deviceid"), e["from"], e["to"]) for e in ok(http, "ListEvents", projectid=project, rolloutid=rollout_id)
    ]
    return rollout["state"], rollout["counts"], devices, events


def test_a_frame_answers_and_stores_what_one_command_per_frame_does(http: TestClient, project: str) -> None:
    devices = [f"{project}/device_{n}" for n in range(6)]
    rollouts = []
    for _ in range(2):
        rollout_id = create_rollout(http, project, maxFailures=3)
        ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
        ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
        rollouts.append(rollout_id)
    together, alone = rollouts

    framed = send(http, *mixed_commands(project, together, devices))["resp"]
    one_by_one = [send(http, command)["resp"][0] for command in mixed_commands(project, alone, devices)]

    def comparable(entries: list[dict[str, Any]], rollout_id: str) -> list[dict[str, Any]]:
        return [
            {**e, "status_msg": e.get("status_msg", "").replace(f"rollout {rollout_id}", "rollout R")}
            for e in entries
            if e["id"] != 1001  # the Get, whose answer names the rollout
        ]

    assert comparable(framed, together) == comparable(one_by_one, alone)
    assert {e["status"] for e in framed} >= {0, 400, 404, 409}, "the frame mixes every kind of answer"
    assert outcome(http, project, together) == outcome(http, project, alone)


class WritesThenFails(RolloutHandlers):
    """SetState to paused writes a rollout, then refuses: its write must not survive it."""

    in_transaction_at_start: list[bool]

    def create(self, ctx: RequestContext, args: CreateArgs) -> CreateResult:
        self.in_transaction_at_start.append(ctx.transaction.driver.in_transaction)
        return super().create(ctx, args)

    def set_state(self, ctx: RequestContext, args: SetStateArgs) -> None:
        if args.state == "paused":
            super().create(ctx, CreateArgs.model_validate({**_create(args.projectid), "name": "half done"}))
            raise Conflict("refused after a write")
        if args.state == "finished":
            ctx.transaction.driver.execute("ROLLBACK")  # breaks the frame's transaction from under it
        super().set_state(ctx, args)


def _create(project: str) -> dict[str, Any]:
    return {"projectid": project, "firmwareid": "fw", "deviceFilter": "a=b"}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, WritesThenFails]]:
    """The app on a SQLite database of its own (write groups are SQLite's: PostgreSQL commits each command
    alone), with handlers that misbehave on purpose."""
    url = f"sqlite:///{tmp_path_factory.mktemp('groups') / 'groups.db'}"
    migrate(url)
    settings = Settings(database_url=url, server_address="//api.cesanta.com", auth_cache_seconds=0)
    handlers = WritesThenFails(settings)
    handlers.in_transaction_at_start = []
    application = create_app(settings, services=Services(rollout=handlers))
    key = make_key(url, principal=TEST_PRINCIPAL, role="admin")
    with TestClient(application, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client, handlers
    application.state.engine.dispose()


def test_commands_share_one_transaction_and_a_failure_undoes_only_its_own_writes(
    faulty: tuple[TestClient, WritesThenFails], project: str
) -> None:
    http, handlers = faulty
    rollout_id = create_rollout(http, project)
    handlers.in_transaction_at_start.clear()
    answer = send(
        http,
        cmd("Create", 1, **_create(project), name="first"),
        cmd("SetState", 2, projectid=project, rolloutid=rollout_id, state="paused"),
        cmd("Create", 3, **_create(project), name="third"),
    )
    assert [(e["status"], e.get("status_msg")) for e in answer["resp"]] == [
        (0, None),
        (409, "refused after a write"),
        (0, None),
    ]
    names = sorted(r.get("name", "") for r in ok(http, "List", projectid=project))
    assert names == ["Today's rollout", "first", "third"]  # no "half done"
    # The second Create began inside the transaction the frame's writes share (one commit for all three).
    assert handlers.in_transaction_at_start == [True, True]


def test_a_broken_transaction_answers_no_command_as_done(
    faulty: tuple[TestClient, WritesThenFails], project: str
) -> None:
    http, _ = faulty
    rollout_id = create_rollout(http, project)
    before = snapshot(http)
    answer = send(
        http,
        cmd("Create", 1, **_create(project), name="lost"),
        cmd("SetState", 2, projectid=project, rolloutid=rollout_id, state="finished"),
        cmd("Create", 3, **_create(project), name="lost too"),
    )
    statuses = [e["status"] for e in answer["resp"]]
    assert 0 not in statuses, answer
    assert all("request id" in e["status_msg"] for e in answer["resp"]), answer
    assert snapshot(http) == before
