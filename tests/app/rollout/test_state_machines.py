"""Both state machines, every (from, to) pair: the rollout's and a device's within a rollout."""

from __future__ import annotations

import itertools
from typing import Any
from unittest.mock import ANY

import pytest
from fastapi.testclient import TestClient

from tests.helpers import call, create_rollout, ok, snapshot, untimed

ROLLOUT_STATES = ("init", "inProgress", "paused", "finished")
ROLLOUT_LEGAL = {
    ("init", "inProgress"),
    ("init", "finished"),
    ("inProgress", "paused"),
    ("inProgress", "finished"),
    ("paused", "inProgress"),
    ("paused", "finished"),
}
ROLLOUT_ALLOWED = {state: [to for (frm, to) in sorted(ROLLOUT_LEGAL) if frm == state] for state in ROLLOUT_STATES}
# A legal path from init to each state (the states to set, in order).
ROLLOUT_PATH = {
    "init": [],
    "inProgress": ["inProgress"],
    "paused": ["inProgress", "paused"],
    "finished": ["finished"],
}

DEVICE_STATES = ("init", "started", "succeeded", "failed")
DEVICE_LEGAL = {
    ("init", "started"),
    ("init", "succeeded"),
    ("init", "failed"),
    ("started", "succeeded"),
    ("started", "failed"),
    ("failed", "started"),
}
DEVICE_PATH = {
    "init": [],
    "started": ["started"],
    "succeeded": ["succeeded"],
    "failed": ["failed"],
}

ROLLOUT_PAIRS = list(itertools.product(ROLLOUT_STATES, repeat=2))
DEVICE_PAIRS = list(itertools.product(DEVICE_STATES, repeat=2))


def rollout_state(http: TestClient, project: str, rollout_id: str) -> str:
    state: str = ok(http, "Get", projectid=project, rolloutid=rollout_id)["state"]
    return state


def rollout_in(http: TestClient, project: str, state: str) -> str:
    """A new rollout brought to `state` by a legal path from init."""
    rollout_id = create_rollout(http, project)
    for step in ROLLOUT_PATH[state]:
        ok(http, "SetState", projectid=project, rolloutid=rollout_id, state=step)
    assert rollout_state(http, project, rollout_id) == state
    return rollout_id


def devices(http: TestClient, project: str, rollout_id: str) -> dict[str, dict[str, str]]:
    """The devices by id, without their updatedAt (test_progress checks it)."""
    listed = untimed(ok(http, "ListDevices", projectid=project, rolloutid=rollout_id))
    return {item["id"]: item for item in listed}


def device_in(http: TestClient, project: str, state: str) -> tuple[str, str]:
    """A new rollout with one device, the device brought to `state` by a legal path from init."""
    rollout_id = create_rollout(http, project)
    device = f"{project}/device_1"
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[device])
    for step in DEVICE_PATH[state]:
        ok(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state=step)
    assert devices(http, project, rollout_id)[device]["state"] == state
    return rollout_id, device


def test_the_tables_cover_every_state() -> None:
    assert set(ROLLOUT_PATH) == set(ROLLOUT_STATES)
    assert set(DEVICE_PATH) == set(DEVICE_STATES)
    assert len(ROLLOUT_PAIRS) == 16
    assert len(DEVICE_PAIRS) == 16


# ---------------------------------------------------------------------------------------------- rollout states


@pytest.mark.parametrize(("current", "target"), ROLLOUT_PAIRS)
def test_rollout_transition(http: TestClient, project: str, current: str, target: str) -> None:
    rollout_id = rollout_in(http, project, current)
    entry = call(http, "SetState", projectid=project, rolloutid=rollout_id, state=target)
    if current == target or (current, target) in ROLLOUT_LEGAL:
        assert entry["status"] == 0, entry
        assert "resp" not in entry
        assert "status_msg" not in entry
        assert rollout_state(http, project, rollout_id) == target
    else:
        assert entry["status"] == 409, entry
        message = entry["status_msg"]
        assert current in message
        assert "allowed" in message
        for allowed_target in ROLLOUT_ALLOWED[current]:
            assert allowed_target in message
        assert rollout_state(http, project, rollout_id) == current


@pytest.mark.parametrize("state", ROLLOUT_STATES)
def test_setting_the_same_rollout_state_twice_changes_nothing(http: TestClient, project: str, state: str) -> None:
    rollout_id = rollout_in(http, project, state)
    before = ok(http, "Get", projectid=project, rolloutid=rollout_id)
    for _ in range(2):
        ok(http, "SetState", projectid=project, rolloutid=rollout_id, state=state)
    assert ok(http, "Get", projectid=project, rolloutid=rollout_id) == before


def test_finished_rollout_names_no_allowed_target(http: TestClient, project: str) -> None:
    rollout_id = rollout_in(http, project, "finished")
    entry = call(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    assert entry["status"] == 409, entry
    assert "finished" in entry["status_msg"]
    for other in ("init", "paused"):
        assert other not in entry["status_msg"]


def test_rollout_state_outside_the_enum_is_400(http: TestClient, project: str) -> None:
    rollout_id = rollout_in(http, project, "init")
    entry = call(http, "SetState", projectid=project, rolloutid=rollout_id, state="running")
    assert entry["status"] == 400, entry
    assert rollout_state(http, project, rollout_id) == "init"


# ----------------------------------------------------------------------------------------------- device states


@pytest.mark.parametrize(("current", "target"), DEVICE_PAIRS)
def test_device_transition(http: TestClient, project: str, current: str, target: str) -> None:
    rollout_id, device = device_in(http, project, current)
    entry = call(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state=target)
    if current == target or (current, target) in DEVICE_LEGAL:
        assert entry["status"] == 0, entry
        assert "resp" not in entry
        assert devices(http, project, rollout_id)[device]["state"] == target
    else:
        assert entry["status"] == 409, entry
        assert entry["status_msg"]
        assert devices(http, project, rollout_id)[device]["state"] == current
    # The rollout itself is untouched by its devices' moves.
    assert rollout_state(http, project, rollout_id) == "init"


def test_device_transition_moves_only_that_device(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    one, two = f"{project}/device_1", f"{project}/device_2"
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[one, two])
    ok(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=one, state="started")
    listed = devices(http, project, rollout_id)
    assert listed[one]["state"] == "started"
    assert listed[two]["state"] == "init"


def test_update_command_id_is_stored_and_listed(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    device = f"{project}/device_1"
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[device])
    assert devices(http, project, rollout_id)[device] == {"id": device, "state": "init"}
    ok(
        http,
        "SetDeviceState",
        projectid=project,
        rolloutid=rollout_id,
        deviceid=device,
        state="started",
        updateCommandId="12346878",
    )
    assert devices(http, project, rollout_id)[device] == {
        "id": device,
        "state": "started",
        "updateCommandId": "12346878",
    }


def _report(http: TestClient, project: str, rollout_id: str, device: str, state: str, **extra: Any) -> dict[str, Any]:
    return call(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state=state, **extra)


def test_a_move_stores_its_update_command_id(http: TestClient, project: str) -> None:
    rollout_id, device = device_in(http, project, "init")
    assert _report(http, project, rollout_id, device, "started", updateCommandId="cmd-1")["status"] == 0
    assert devices(http, project, rollout_id)[device] == {"id": device, "state": "started", "updateCommandId": "cmd-1"}


@pytest.mark.parametrize("state", ["started", "succeeded", "failed"])
@pytest.mark.parametrize("repeated_with", ["cmd-1", None], ids=["same-id", "no-id"])
def test_a_repeated_report_succeeds_and_changes_nothing(
    http: TestClient, project: str, state: str, repeated_with: str | None
) -> None:
    rollout_id, device = device_in(http, project, "init")
    assert _report(http, project, rollout_id, device, state, updateCommandId="cmd-1")["status"] == 0
    before = snapshot(http)
    extra = {} if repeated_with is None else {"updateCommandId": repeated_with}
    assert _report(http, project, rollout_id, device, state, **extra) == {"id": ANY, "status": 0}
    assert snapshot(http) == before


@pytest.mark.parametrize("state", ["started", "succeeded", "failed"])
def test_a_repeat_by_another_update_command_is_409_and_changes_nothing(
    http: TestClient, project: str, state: str
) -> None:
    """Once overwritten silently, even on a final device; a device is attributed to the command that moved it."""
    rollout_id, device = device_in(http, project, "init")
    assert _report(http, project, rollout_id, device, state, updateCommandId="cmd-1")["status"] == 0
    before = snapshot(http)
    entry = _report(http, project, rollout_id, device, state, updateCommandId="cmd-2")
    assert entry["status"] == 409, entry
    assert entry["status_msg"] == (
        f"device {device!r} of rollout {rollout_id} is already {state} by update command 'cmd-1'; update command "
        "'cmd-2' cannot report it again: repeat a report with the same updateCommandId (or none), or move the "
        "device to another state"
    )
    assert snapshot(http) == before


def test_set_device_state_on_a_device_not_in_the_rollout_is_404(http: TestClient, project: str) -> None:
    rollout_id, device = device_in(http, project, "init")
    stranger = f"{project}/device_not_added"
    entry = call(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=stranger, state="started")
    assert entry["status"] == 404, entry
    assert stranger in entry["status_msg"]
    # Nothing was created for the stranger, and the device that is there is untouched.
    assert devices(http, project, rollout_id) == {device: {"id": device, "state": "init"}}


def test_set_device_state_of_a_device_of_another_rollout_is_404(http: TestClient, project: str) -> None:
    _, device = device_in(http, project, "init")
    other_rollout = create_rollout(http, project)
    entry = call(http, "SetDeviceState", projectid=project, rolloutid=other_rollout, deviceid=device, state="started")
    assert entry["status"] == 404, entry
    assert devices(http, project, other_rollout) == {}


@pytest.mark.parametrize("target", DEVICE_STATES)
def test_set_device_state_on_a_finished_rollout_is_409(http: TestClient, project: str, target: str) -> None:
    rollout_id, device = device_in(http, project, "started")
    ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="finished")
    entry = call(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state=target)
    if target == "started":
        # The state it has: a repeat, answered as every repeat is, and still nothing changes.
        assert entry["status"] == 0, entry
        assert devices(http, project, rollout_id)[device]["state"] == "started"
        return
    assert entry["status"] == 409, entry
    assert entry["status_msg"]
    assert devices(http, project, rollout_id)[device]["state"] == "started"


def test_device_state_outside_the_enum_is_400(http: TestClient, project: str) -> None:
    rollout_id, device = device_in(http, project, "init")
    entry = call(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state="done")
    assert entry["status"] == 400, entry
    assert devices(http, project, rollout_id)[device]["state"] == "init"
