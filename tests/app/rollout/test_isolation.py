"""A rollout of one project is invisible to every other project: 404 exactly as if it did not exist."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api import METHODS as ALL_METHODS
from rollout_api import Idempotency

from tests.helpers import call, create_rollout, ok, sample_args, snapshot, untimed

SPECS = {spec.method: spec for spec in ALL_METHODS.values() if spec.service == "Rollout"}
# Each Rollout method that names a rollout, by its definition: it requires a rolloutid.
METHODS = sorted(name for name, spec in SPECS.items() if "rolloutid" in spec.definition["required_args"])


def args_for(method: str, device: str) -> dict[str, Any]:
    """The method's args besides projectid and rolloutid; the device is the one in project A's rollout."""
    state = "inProgress" if method == "SetState" else "started"
    args = sample_args(SPECS[method], deviceid=device, devices=[device, f"{device}_new"], state=state)
    return {name: value for name, value in args.items() if name not in ("projectid", "rolloutid")}


def other_project() -> str:
    return f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"


def normalise(message: str, **placeholders: str) -> str:
    """The message with each given value replaced by its placeholder name; longest values first."""
    for name, value in sorted(placeholders.items(), key=lambda item: -len(item[1])):
        message = message.replace(value, f"<{name}>")
    return message


def missing_rollout_id(http: TestClient, project: str) -> str:
    """An id that no rollout has: one that existed and was deleted."""
    rollout_id = create_rollout(http, project)
    ok(http, "Delete", projectid=project, rolloutid=rollout_id)
    return rollout_id


@pytest.fixture
def rollout_of_a(http: TestClient, project: str) -> tuple[str, str]:
    """A rollout of `project` (project A), with one device, moved a little so it has state worth protecting."""
    rollout_id = create_rollout(http, project)
    device = f"{project}/device_1"
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[device])
    ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    ok(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state="started")
    return rollout_id, device


@pytest.mark.parametrize("method", sorted(METHODS))
def test_other_project_gets_404_like_a_missing_rollout(
    http: TestClient, project: str, rollout_of_a: tuple[str, str], method: str
) -> None:
    rollout_id, device = rollout_of_a
    project_b = other_project()
    missing = missing_rollout_id(http, project_b)
    args = args_for(method, device)
    before = snapshot(http)

    foreign = call(http, method, projectid=project_b, rolloutid=rollout_id, **args)
    absent = call(http, method, projectid=project_b, rolloutid=missing, **args)

    assert foreign["status"] == 404, foreign
    assert absent["status"] == 404, absent
    assert "resp" not in foreign
    assert normalise(foreign["status_msg"], project=project_b, rollout=rollout_id) == normalise(
        absent["status_msg"], project=project_b, rollout=missing
    )
    # The message says nothing of the project that does own the rollout.
    assert project not in foreign["status_msg"]
    assert snapshot(http) == before


# Ids no rollout has: just past a 32-bit integer (2**31), and not a number at all.
@pytest.mark.parametrize("missing", ["2147483648", "not-a-rollout-id"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_unknown_ids_answer_404_like_a_deleted_rollout(
    http: TestClient, project: str, method: str, missing: str
) -> None:
    rollout_id = missing_rollout_id(http, project)
    args = args_for(method, f"{project}/device_1")
    deleted = call(http, method, projectid=project, rolloutid=rollout_id, **args)
    unknown = call(http, method, projectid=project, rolloutid=missing, **args)
    assert deleted["status"] == 404, deleted
    assert unknown["status"] == 404, unknown
    assert normalise(deleted["status_msg"], project=project, rollout=rollout_id) == normalise(
        unknown["status_msg"], project=project, rollout=missing
    )


def test_other_project_list_does_not_contain_it(http: TestClient, project: str, rollout_of_a: tuple[str, str]) -> None:
    rollout_id, _ = rollout_of_a
    project_b = other_project()
    own_b = create_rollout(http, project_b)

    listed_b = ok(http, "List", projectid=project_b)
    assert [item["id"] for item in listed_b] == [own_b]
    for state in ("init", "inProgress"):
        assert rollout_id not in [item["id"] for item in ok(http, "List", projectid=project_b, state=state)]
    # Project A still sees its rollout, and only its rollout.
    assert [item["id"] for item in ok(http, "List", projectid=project)] == [rollout_id]


def test_project_a_is_unchanged_after_every_method_from_b(
    http: TestClient, project: str, rollout_of_a: tuple[str, str]
) -> None:
    rollout_id, device = rollout_of_a
    project_b = other_project()
    before = snapshot(http)
    got_before = ok(http, "Get", projectid=project, rolloutid=rollout_id)
    devices_before = ok(http, "ListDevices", projectid=project, rolloutid=rollout_id)

    # The most destructive order: everything that writes first, then the reads, Delete last.
    order = sorted(METHODS, key=lambda m: (m == "Delete", SPECS[m].idempotency is Idempotency.NO_SIDE_EFFECTS))
    for method in order:
        entry = call(http, method, projectid=project_b, rolloutid=rollout_id, **args_for(method, device))
        assert entry["status"] == 404, (method, entry)
    for state in ("paused", "finished"):
        entry = call(http, "SetState", projectid=project_b, rolloutid=rollout_id, state=state)
        assert entry["status"] == 404, entry

    assert snapshot(http) == before
    assert ok(http, "Get", projectid=project, rolloutid=rollout_id) == got_before
    assert ok(http, "ListDevices", projectid=project, rolloutid=rollout_id) == devices_before
    assert got_before["state"] == "inProgress"
    assert untimed(devices_before) == [{"id": device, "state": "started"}]


def test_same_rollout_id_is_found_again_in_its_own_project(
    http: TestClient, project: str, rollout_of_a: tuple[str, str]
) -> None:
    """The 404s above come from the project check, not from a broken rollout id."""
    rollout_id, _ = rollout_of_a
    assert ok(http, "Get", projectid=project, rolloutid=rollout_id)["id"] == rollout_id
    assert call(http, "Get", projectid=other_project(), rolloutid=rollout_id)["status"] == 404
