"""What each method does: Create, AddDevices, Delete, List and ListDevices (filters, paging, no nulls)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import call, create_rollout, ok, snapshot, untimed

ROLLOUT_STATES = ("init", "inProgress", "paused", "finished")
PATH_TO = {"init": [], "inProgress": ["inProgress"], "paused": ["inProgress", "paused"], "finished": ["finished"]}


def device_ids(project: str, count: int) -> list[str]:
    """Zero-padded, so string order is numeric order on every backend and collation."""
    return [f"{project}/device_{n:03d}" for n in range(count)]


def listed_devices(http: TestClient, project: str, rollout_id: str, **args: Any) -> list[dict[str, Any]]:
    """The devices without their updatedAt (test_progress checks it)."""
    return untimed(ok(http, "ListDevices", projectid=project, rolloutid=rollout_id, **args))


def set_state(http: TestClient, project: str, rollout_id: str, state: str) -> None:
    for step in PATH_TO[state]:
        ok(http, "SetState", projectid=project, rolloutid=rollout_id, state=step)


def pages(http: TestClient, method: str, key: str, limit: int, **args: Any) -> list[list[dict[str, Any]]]:
    """Walk `method` page by page with `limit` and `after` (the last `key` of the previous page)."""
    collected: list[list[dict[str, Any]]] = []
    after: str | None = None
    for _ in range(1000):
        extra = {} if after is None else {"after": after}
        page: list[dict[str, Any]] = ok(http, method, limit=limit, **args, **extra)
        assert len(page) <= limit
        if not page:
            return collected
        collected.append(page)
        if len(page) < limit:
            return collected
        after = page[-1][key]
    raise AssertionError("paging did not end")


def assert_no_nulls(value: Any, where: str = "result") -> None:
    assert value is not None, f"{where} is null"
    if isinstance(value, dict):
        for key, item in value.items():
            assert_no_nulls(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_no_nulls(item, f"{where}[{index}]")


# --------------------------------------------------------------------------------------------------------- Create


def test_create_answers_a_new_numeric_id(http: TestClient, project: str) -> None:
    first = create_rollout(http, project)
    second = create_rollout(http, project)
    for rollout_id in (first, second):
        assert isinstance(rollout_id, str)
        assert rollout_id.isascii()
        assert rollout_id.isdigit()
    assert first != second
    assert int(first) < int(second)
    assert ok(http, "Get", projectid=project, rolloutid=first)["id"] == first


def test_create_answers_exactly_the_id(http: TestClient, project: str) -> None:
    resp = ok(http, "Create", projectid=project, firmwareid="fw-1", deviceFilter="location=Bathroom")
    assert set(resp) == {"id"}


@pytest.mark.parametrize(
    "device_filter",
    [
        "",
        "location",
        "=Bathroom",
        "=",
        "a=b=c",
        "location==Bathroom",
        " location=Bathroom",
        "location =Bathroom",
        "location= Bathroom",
        "location=Bathroom ",
    ],
)
def test_create_rejects_a_malformed_device_filter(http: TestClient, project: str, device_filter: str) -> None:
    entry = call(http, "Create", projectid=project, firmwareid="fw-1", deviceFilter=device_filter)
    assert entry["status"] == 400, entry
    assert "deviceFilter" in entry["status_msg"]
    assert "resp" not in entry
    assert ok(http, "List", projectid=project) == []


@pytest.mark.parametrize("device_filter", ["location=Bathroom", "a=b", "hw.rev=2"])
def test_create_accepts_a_well_formed_device_filter(http: TestClient, project: str, device_filter: str) -> None:
    rollout_id = create_rollout(http, project, deviceFilter=device_filter)
    assert ok(http, "Get", projectid=project, rolloutid=rollout_id)["deviceFilter"] == device_filter


@pytest.mark.parametrize("missing", ["projectid", "firmwareid", "deviceFilter"])
def test_create_requires_its_required_args(http: TestClient, project: str, missing: str) -> None:
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Bathroom"}
    del args[missing]
    entry = call(http, "Create", **args)
    assert entry["status"] == 400, entry
    assert missing in entry["status_msg"]


# ----------------------------------------------------------------------------------------------------- AddDevices


def test_add_devices_starts_them_in_init(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    devices = device_ids(project, 3)
    assert ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices) is None
    assert listed_devices(http, project, rollout_id) == [{"id": d, "state": "init"} for d in devices]


def test_add_devices_is_idempotent(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    first, second, third = device_ids(project, 3)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[first, second])
    ok(
        http,
        "SetDeviceState",
        projectid=project,
        rolloutid=rollout_id,
        deviceid=first,
        state="started",
        updateCommandId="cmd-1",
    )

    # Already present, duplicated within the list, and new: only the new one is added.
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[first, third, third, second, first])
    expected = [
        {"id": first, "state": "started", "updateCommandId": "cmd-1"},
        {"id": second, "state": "init"},
        {"id": third, "state": "init"},
    ]
    assert listed_devices(http, project, rollout_id) == expected

    # And again, unchanged.
    before = snapshot(http)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[third, second, first])
    assert listed_devices(http, project, rollout_id) == expected
    assert snapshot(http) == before


def test_add_devices_with_duplicates_in_a_fresh_rollout(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    device = device_ids(project, 1)[0]
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[device, device, device])
    assert listed_devices(http, project, rollout_id) == [{"id": device, "state": "init"}]


def test_add_no_devices_changes_nothing(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[])
    assert listed_devices(http, project, rollout_id) == []


def test_the_same_device_in_two_rollouts_is_two_records(http: TestClient, project: str) -> None:
    one, two = create_rollout(http, project), create_rollout(http, project)
    device = device_ids(project, 1)[0]
    for rollout_id in (one, two):
        ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[device])
    ok(http, "SetDeviceState", projectid=project, rolloutid=one, deviceid=device, state="failed")
    assert listed_devices(http, project, one) == [{"id": device, "state": "failed"}]
    assert listed_devices(http, project, two) == [{"id": device, "state": "init"}]


@pytest.mark.parametrize("state", ["init", "inProgress", "paused"])
def test_add_devices_works_until_finished(http: TestClient, project: str, state: str) -> None:
    rollout_id = create_rollout(http, project)
    set_state(http, project, rollout_id, state)
    devices = device_ids(project, 2)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    assert [item["id"] for item in listed_devices(http, project, rollout_id)] == devices


def test_add_devices_on_a_finished_rollout_is_409(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    first, second = device_ids(project, 2)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[first])
    ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="finished")
    before = snapshot(http)
    entry = call(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[second])
    assert entry["status"] == 409, entry
    assert entry["status_msg"]
    assert snapshot(http) == before
    assert listed_devices(http, project, rollout_id) == [{"id": first, "state": "init"}]


def test_add_devices_on_a_missing_rollout_is_404(http: TestClient, project: str) -> None:
    entry = call(http, "AddDevices", projectid=project, rolloutid="2147483648", devices=device_ids(project, 1))
    assert entry["status"] == 404, entry


# --------------------------------------------------------------------------------------------------------- Delete


def test_delete_removes_the_rollout_and_its_devices(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    kept = create_rollout(http, project)
    devices = device_ids(project, 4)
    for target in (rollout_id, kept):
        ok(http, "AddDevices", projectid=project, rolloutid=target, devices=devices)
    ok(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=devices[0], state="started")

    assert ok(http, "Delete", projectid=project, rolloutid=rollout_id) is None

    for method in ("Get", "ListDevices", "Delete"):
        entry = call(http, method, projectid=project, rolloutid=rollout_id)
        assert entry["status"] == 404, (method, entry)
    assert [item["id"] for item in ok(http, "List", projectid=project)] == [kept]

    rows = snapshot(http)
    key = int(rollout_id)
    # rollout_device is (rollout_id, device_id, state, update_command_id); rollout starts with id.
    assert [row for row in rows["rollout_device"] if row[0] == key] == []
    assert [row for row in rows["rollout"] if row[0] == key] == []
    # The other rollout keeps its devices.
    assert len([row for row in rows["rollout_device"] if row[0] == int(kept)]) == len(devices)
    assert [item["id"] for item in listed_devices(http, project, kept)] == devices


def test_delete_of_a_rollout_without_devices(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    set_state(http, project, rollout_id, "finished")
    ok(http, "Delete", projectid=project, rolloutid=rollout_id)
    assert call(http, "Get", projectid=project, rolloutid=rollout_id)["status"] == 404


# ----------------------------------------------------------------------------------------------------------- List


def test_list_filters_by_project(http: TestClient, project: str) -> None:
    other = f"{project}_other"
    mine = [create_rollout(http, project) for _ in range(2)]
    theirs = create_rollout(http, other)
    listed = ok(http, "List", projectid=project)
    assert [item["id"] for item in listed] == mine
    assert all(item["projectid"] == project for item in listed)
    assert [item["id"] for item in ok(http, "List", projectid=other)] == [theirs]
    assert ok(http, "List", projectid=f"{project}_nobody") == []


def test_list_filters_by_state(http: TestClient, project: str) -> None:
    by_state = {}
    for state in ROLLOUT_STATES:
        rollout_id = create_rollout(http, project, name=f"rollout {state}")
        set_state(http, project, rollout_id, state)
        by_state[state] = rollout_id
    for state, rollout_id in by_state.items():
        listed = ok(http, "List", projectid=project, state=state)
        assert [(item["id"], item["state"]) for item in listed] == [(rollout_id, state)]

        # Without a project: every project's rollouts in that state, ours among them.
        everywhere = ok(http, "List", state=state)
        assert all(item["state"] == state for item in everywhere)
        assert rollout_id in [item["id"] for item in everywhere]


@pytest.mark.parametrize("state", ["running", "INIT", "", "started"])
def test_list_state_outside_the_enum_is_400(http: TestClient, project: str, state: str) -> None:
    create_rollout(http, project)
    entry = call(http, "List", projectid=project, state=state)
    assert entry["status"] == 400, entry
    assert "state" in entry["status_msg"]


def test_list_returns_ascending_id_order(http: TestClient, project: str) -> None:
    created = [create_rollout(http, project) for _ in range(5)]
    # Move some so that state changes do not reorder anything.
    set_state(http, project, created[0], "paused")
    set_state(http, project, created[3], "finished")
    listed = [item["id"] for item in ok(http, "List", projectid=project)]
    assert listed == created
    keys = [int(rollout_id) for rollout_id in listed]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    everything = [int(item["id"]) for item in ok(http, "List")]
    assert everything == sorted(everything)
    assert len(set(everything)) == len(everything)


def test_list_items_have_every_field(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project, firmwareid="fw-9", deviceFilter="a=b", name="named")
    (item,) = ok(http, "List", projectid=project)
    assert item["createdAt"] == item["updatedAt"]
    assert {k: v for k, v in item.items() if k not in ("createdAt", "updatedAt")} == {
        "id": rollout_id,
        "name": "named",
        "state": "init",
        "deviceFilter": "a=b",
        "firmwareid": "fw-9",
        "projectid": project,
        "counts": {"init": 0, "started": 0, "succeeded": 0, "failed": 0},
        "total": 0,
        "autoFinish": False,
    }


def test_list_paging(http: TestClient, project: str) -> None:
    created = [create_rollout(http, project) for _ in range(7)]
    full = ok(http, "List", projectid=project)
    assert [item["id"] for item in full] == created
    for limit in (1, 2, 3, 7, 8):
        walked = pages(http, "List", "id", limit, projectid=project)
        flat = [item for page in walked for item in page]
        assert flat == full, limit
        assert len({item["id"] for item in flat}) == len(flat)
        assert all(len(page) == limit for page in walked[:-1])


def test_list_paging_with_a_state_filter(http: TestClient, project: str) -> None:
    created = [create_rollout(http, project) for _ in range(6)]
    for rollout_id in created[::2]:
        set_state(http, project, rollout_id, "inProgress")
    walked = pages(http, "List", "id", 2, projectid=project, state="inProgress")
    assert [item["id"] for page in walked for item in page] == created[::2]


def test_list_after_the_last_id_is_empty(http: TestClient, project: str) -> None:
    created = [create_rollout(http, project) for _ in range(3)]
    assert ok(http, "List", projectid=project, after=created[-1]) == []
    assert [item["id"] for item in ok(http, "List", projectid=project, after=created[0])] == created[1:]
    assert [item["id"] for item in ok(http, "List", projectid=project, after="0")] == created


def test_a_limit_written_with_a_zero_fraction_is_that_integer(http: TestClient, project: str) -> None:
    """JSON has one kind of number and JSON Schema's `integer` takes 2.0: so does the server, on both routes."""
    created = [create_rollout(http, project) for _ in range(3)]
    assert [item["id"] for item in ok(http, "List", projectid=project, limit=2.0)] == created[:2]
    response = http.post("/v1/Rollout.List", json={"projectid": project, "limit": 2.0})
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()] == created[:2]
    entry = call(http, "List", projectid=project, limit=2.5)
    assert (entry["status"], entry["status_msg"]) == (400, "args.limit: must be an integer, got 2.5")


def test_null_for_an_optional_argument_is_refused(http: TestClient, project: str) -> None:
    """null is a value only of nullable arguments (none here): an optional one is left out to give none."""
    entry = call(http, "Create", projectid=project, firmwareid="f", deviceFilter="a=b", name=None)
    assert (entry["status"], entry["status_msg"]) == (400, "args.name: must not be null; leave it out to give none")
    assert ok(http, "List", projectid=project) == []
    response = http.post("/v1/Rollout.List", json={"projectid": project, "state": None})
    assert response.status_code == 400
    assert response.json()["status_msg"] == "args.state: must not be null; leave it out to give none"


@pytest.mark.parametrize("after", ["2147483648", "999999999999999999"])
def test_list_after_an_id_beyond_every_rollout_is_empty(http: TestClient, project: str, after: str) -> None:
    create_rollout(http, project)
    assert ok(http, "List", projectid=project, after=after) == []


@pytest.mark.parametrize("method", ["List", "ListDevices"])
@pytest.mark.parametrize("limit", [0, -1, 10001])
def test_limit_out_of_range_is_400(http: TestClient, project: str, method: str, limit: int) -> None:
    rollout_id = create_rollout(http, project)
    args = {"projectid": project} if method == "List" else {"projectid": project, "rolloutid": rollout_id}
    entry = call(http, method, limit=limit, **args)
    assert entry["status"] == 400, entry
    assert "limit" in entry["status_msg"]


@pytest.mark.parametrize("method", ["List", "ListDevices"])
@pytest.mark.parametrize("limit", [1, 10000])
def test_limit_at_the_bounds_is_accepted(http: TestClient, project: str, method: str, limit: int) -> None:
    rollout_id = create_rollout(http, project)
    args = {"projectid": project} if method == "List" else {"projectid": project, "rolloutid": rollout_id}
    ok(http, method, limit=limit, **args)


# ---------------------------------------------------------------------------------------------------- ListDevices


def test_list_devices_paging(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    devices = device_ids(project, 25)
    # Added out of order: the listing is in id order whatever the insertion order.
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices[::-1])
    full = listed_devices(http, project, rollout_id)
    assert [item["id"] for item in full] == devices

    walked = pages(http, "ListDevices", "id", 7, projectid=project, rolloutid=rollout_id)
    assert [len(page) for page in walked] == [7, 7, 7, 4]
    flat = [item for page in walked for item in page]
    assert untimed(flat) == full
    assert len({item["id"] for item in flat}) == 25


def test_list_devices_paging_exact_multiple(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    devices = device_ids(project, 14)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    walked = pages(http, "ListDevices", "id", 7, projectid=project, rolloutid=rollout_id)
    assert [item["id"] for page in walked for item in page] == devices
    assert ok(http, "ListDevices", projectid=project, rolloutid=rollout_id, after=devices[-1]) == []


def test_list_devices_state_filter(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    devices = device_ids(project, 10)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    wanted = {"started": devices[1:4], "succeeded": devices[4:6], "failed": devices[6:7]}
    for state, chosen in wanted.items():
        for device in chosen:
            ok(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state=state)
    wanted["init"] = [devices[0], *devices[7:]]

    for state, chosen in wanted.items():
        listed = listed_devices(http, project, rollout_id, state=state)
        assert listed == [{"id": device, "state": state} for device in chosen], state

    # Filter and paging together.
    walked = pages(http, "ListDevices", "id", 2, projectid=project, rolloutid=rollout_id, state="init")
    assert [item["id"] for page in walked for item in page] == wanted["init"]


def test_list_devices_state_outside_the_enum_is_400(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    entry = call(http, "ListDevices", projectid=project, rolloutid=rollout_id, state="paused")
    assert entry["status"] == 400, entry
    assert "state" in entry["status_msg"]


# ------------------------------------------------------------------------------------------------------- no nulls


def test_results_never_contain_null(http: TestClient, project: str) -> None:
    rollout_id = ok(http, "Create", projectid=project, firmwareid="fw-1", deviceFilter="location=Bathroom")["id"]
    device = device_ids(project, 1)[0]
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[device])

    got = ok(http, "Get", projectid=project, rolloutid=rollout_id)
    assert "name" not in got
    assert {k: v for k, v in got.items() if k not in ("createdAt", "updatedAt")} == {
        "id": rollout_id,
        "projectid": project,
        "state": "init",
        "deviceFilter": "location=Bathroom",
        "firmwareid": "fw-1",
        "counts": {"init": 1, "started": 0, "succeeded": 0, "failed": 0},
        "total": 1,
        "autoFinish": False,
    }
    assert_no_nulls(got)

    listed = ok(http, "List", projectid=project)
    assert "name" not in listed[0]
    assert_no_nulls(listed)

    devices = listed_devices(http, project, rollout_id)
    assert devices == [{"id": device, "state": "init"}]
    assert "updateCommandId" not in devices[0]
    assert_no_nulls(devices)

    ok(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state="started")
    assert listed_devices(http, project, rollout_id) == [{"id": device, "state": "started"}]
    assert_no_nulls(ok(http, "List"))


def test_methods_without_a_result_answer_no_resp(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    device = device_ids(project, 1)[0]
    for method, args in (
        ("AddDevices", {"devices": [device]}),
        ("SetDeviceState", {"deviceid": device, "state": "started"}),
        ("SetState", {"state": "inProgress"}),
        ("Delete", {}),
    ):
        entry = call(http, method, projectid=project, rolloutid=rollout_id, **args)
        assert entry == {"id": entry["id"], "status": 0}, method


@pytest.mark.parametrize("spelling", ["0{id}", "00000000000000{id}", "+{id}", " {id}"])
def test_a_rollout_has_one_id_and_one_spelling(http: TestClient, project: str, spelling: str) -> None:
    """ "01" once read rollout 1 too: callers that compare ids as text would have seen two rollouts."""
    rollout_id = create_rollout(http, project)
    other = spelling.format(id=rollout_id)
    entry = call(http, "Get", projectid=project, rolloutid=other)
    assert entry["status"] == 404, entry
    listed = call(http, "List", projectid=project, after=other)
    assert listed["status"] == 400, listed
    assert ok(http, "Get", projectid=project, rolloutid=rollout_id)["id"] == rollout_id
