"""Every example request frame of the seed, replayed over real HTTP against a live server.

The seed's examples refer to rollout "123"; here Create's example runs first and every later frame
names the rollout Create answered instead. The order makes each example succeed as the seed shows it:
SetState (to inProgress) runs before Get and List, so Get shows the seed's state and List's state
filter finds the rollout; devices are added before their state is set; Delete comes last.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import rollout_api

from tests.conftest import LiveServer

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
SEED_ROLLOUT_ID = "123"
SEED_DEVICE = "//api.cesanta.com/device_123"
# The order the examples are replayed in (see the module docstring).
REPLAY_ORDER = ("Create", "SetState", "Get", "List", "AddDevices", "SetDeviceState", "ListDevices", "Delete")


def load_examples() -> dict[str, list[dict[str, Any]]]:
    """Method wire name (/v1/Service.Method) -> the examples in its definition file."""
    examples: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(DEFINITIONS.glob("*/*.json")):
        if path.name.startswith("_"):
            continue
        service = json.loads((path.parent / "_service.json").read_text())["name"]
        examples[f"{service}.{path.stem}"] = json.loads(path.read_text()).get("examples", [])
    return examples


EXAMPLES = load_examples()


def only_example(method: str) -> dict[str, Any]:
    (example,) = EXAMPLES[f"/v1/Rollout.{method}"]
    return example


def result_schema(method: str) -> Mapping[str, Any]:
    schema: Mapping[str, Any] = rollout_api.METHODS[f"/v1/Rollout.{method}"].definition["result"]
    return schema


def with_rollout(request: dict[str, Any], rollout_id: str) -> dict[str, Any]:
    """The seed's request frame, with the seed's rollout id replaced by the real one."""
    request = copy.deepcopy(request)
    for command in request["cmds"]:
        args = command.get("args", {})
        if args.get("rolloutid") == SEED_ROLLOUT_ID:
            args["rolloutid"] = rollout_id
    return request


def replay(client: httpx.Client, method: str, rollout_id: str | None, keys: dict[str, str]) -> dict[str, Any]:
    """POST the method's example request; check the frame against the example response; return the entry."""
    example = only_example(method)
    request = example["request"] if rollout_id is None else with_rollout(example["request"], rollout_id)
    expected = example["response"]
    response = client.post("/v1", json=request, headers={"Authorization": f"Bearer {keys[request['src']]}"})
    assert response.status_code == 200, f"{method}: HTTP {response.status_code}: {response.text}"
    got = response.json()
    context = f"{method}: sent {json.dumps(request)}\n got {json.dumps(got)}\n seed {json.dumps(expected)}"

    assert set(got) == set(expected) == {"v", "src", "dst", "resp"}, context
    assert got["v"] == expected["v"] == 1, context
    # The answer travels back: its src is the request's dst and its dst the request's src.
    assert got["src"] == request["dst"] == expected["src"], context
    assert got["dst"] == request["src"] == expected["dst"], context
    assert len(got["resp"]) == len(expected["resp"]) == len(request["cmds"]), context
    for entry, seed_entry, command in zip(got["resp"], expected["resp"], request["cmds"], strict=True):
        assert set(entry) == set(seed_entry), context
        assert entry["id"] == command["id"] == seed_entry["id"], context
        assert entry["status"] == seed_entry["status"] == 0, context
        if "resp" in entry:
            jsonschema.Draft202012Validator(result_schema(method)).validate(entry["resp"])
    (entry,) = got["resp"]
    result: dict[str, Any] = entry
    return result


def seed_result(method: str) -> Any:
    (entry,) = only_example(method)["response"]["resp"]
    return entry["resp"]


def test_every_method_is_replayed() -> None:
    """A method added to definitions/ must get a place in the replay order, or this fails."""
    assert sorted(f"/v1/Rollout.{m}" for m in REPLAY_ORDER) == sorted(EXAMPLES)
    assert sorted(EXAMPLES) == sorted(rollout_api.METHODS)
    for method in REPLAY_ORDER:
        assert len(EXAMPLES[f"/v1/Rollout.{method}"]) == 1, f"{method}: expected exactly one example"


@pytest.mark.parametrize("method", REPLAY_ORDER)
def test_example_response_matches_result_schema(method: str) -> None:
    """The seed's own example responses satisfy the result schemas the replay checks against."""
    (entry,) = only_example(method)["response"]["resp"]
    if "resp" in entry:
        jsonschema.Draft202012Validator(result_schema(method)).validate(entry["resp"])
    else:
        assert rollout_api.METHODS[f"/v1/Rollout.{method}"].definition.get("result") is None


def test_seed_examples_replay_in_order(live_server: LiveServer) -> None:
    create_args = only_example("Create")["request"]["cmds"][0]["args"]
    project = create_args["projectid"]
    # The seed's frames come from a user and from the backend's updater; each sends its own key.
    keys = {
        "//api.cesanta.com/user_123": live_server.key("//api.cesanta.com/user_123", "admin"),
        "//api.cesanta.com/cloud.updater": live_server.key("//api.cesanta.com/cloud.updater", "backend"),
    }
    with httpx.Client(base_url=live_server.url, timeout=30.0) as client:
        created = replay(client, "Create", None, keys)
        rollout_id = created["resp"]["id"]
        assert isinstance(rollout_id, str) and rollout_id, created
        assert set(created["resp"]) == set(seed_result("Create"))

        replay(client, "SetState", rollout_id, keys)

        got = replay(client, "Get", rollout_id, keys)["resp"]
        seed_got = seed_result("Get")
        # The seed's fields, and the project: the shared Rollout shape added it to Get's result.
        assert got == {**seed_got, "id": rollout_id, "projectid": project}
        assert {k: got[k] for k in ("name", "deviceFilter", "firmwareid")} == {
            "name": create_args["name"],
            "deviceFilter": create_args["deviceFilter"],
            "firmwareid": create_args["firmwareid"],
        }

        listed = replay(client, "List", rollout_id, keys)["resp"]
        # Other tests may use the seed's project too: find this rollout, check the filter held for all.
        list_args = only_example("List")["request"]["cmds"][0]["args"]
        assert all(item["state"] == list_args["state"] for item in listed), listed
        assert all(item.get("projectid", project) == project for item in listed), listed
        ids = [item["id"] for item in listed]
        assert ids == sorted(ids, key=int), "List answers in id order"
        (ours,) = [item for item in listed if item["id"] == rollout_id]
        (seed_item,) = seed_result("List")
        assert {k: v for k, v in ours.items() if k != "projectid"} == {**seed_item, "id": rollout_id}

        replay(client, "AddDevices", rollout_id, keys)
        replay(client, "SetDeviceState", rollout_id, keys)

        devices = replay(client, "ListDevices", rollout_id, keys)["resp"]
        device_state = only_example("SetDeviceState")["request"]["cmds"][0]["args"]["state"]
        # No updateCommandId was ever set, so none is answered (the seed's example shows one that was).
        assert devices == [{"id": SEED_DEVICE, "state": device_state}]
        assert device_state == "succeeded"

        replay(client, "Delete", rollout_id, keys)

        # And the rollout is really gone: Get's example now answers 404.
        request = with_rollout(only_example("Get")["request"], rollout_id)
        after = client.post("/v1", json=request, headers={"Authorization": f"Bearer {keys[request['src']]}"})
        assert after.status_code == 200, after.text
        (entry,) = after.json()["resp"]
        assert entry["status"] == 404, entry
        assert entry["status_msg"], entry
