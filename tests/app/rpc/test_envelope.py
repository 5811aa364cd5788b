"""The frame rules of Clubby v1: one response per command in order, ids echoed, src/dst swapped,
each command in its own transaction, deadlines, limits, and the per-method routes' error shape."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.keys import Caller
from app.composition import create_app
from app.rollout import store as rollout_store
from app.settings import Settings
from tests.helpers import TEST_PRINCIPAL, cmd, create_args, create_rollout, ok, send, snapshot, untimed

JSON = {"content-type": "application/json"}
USER = TEST_PRINCIPAL  # the address of the admin key the `http` client sends


def rollouts_of(http: TestClient, project: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = ok(http, "List", projectid=project)
    return listed


@pytest.fixture
def rollout(http: TestClient, project: str) -> str:
    return create_rollout(http, project)


ADMIN = Caller(principal=USER, role="admin", projects=None)


# --- Responses: one per command, in order, ids echoed -------------------------------------------------


def test_one_response_per_command_in_order_with_ids_echoed(http: TestClient, project: str, rollout: str) -> None:
    answer = send(
        http,
        cmd("Get", 7, projectid=project, rolloutid=rollout),
        cmd("Get", 3, projectid=project, rolloutid="0"),
        cmd("List", 2**53 - 1, projectid=project),
        cmd("Get", 7, projectid=project, rolloutid=rollout),
    )
    entries = answer["resp"]
    assert [e.get("id") for e in entries] == [7, 3, 2**53 - 1, 7]
    assert [e["status"] for e in entries] == [0, 404, 0, 0]
    assert entries[0]["resp"]["id"] == rollout
    assert entries[1]["status_msg"] == f"rollout '0' not found in project {project!r}"
    assert [item["id"] for item in entries[2]["resp"]] == [rollout]


def test_command_without_id_gets_response_without_id(http: TestClient, project: str, rollout: str) -> None:
    answer = send(
        http,
        cmd("Get", projectid=project, rolloutid=rollout),
        cmd("Get", 5, projectid=project, rolloutid=rollout),
        cmd("Get", projectid=project, rolloutid="0"),
    )
    first, second, third = answer["resp"]
    assert set(first) == {"status", "resp"}
    assert first["status"] == 0
    assert second["id"] == 5
    assert set(third) == {"status", "status_msg"}
    assert third["status"] == 404


def test_success_entry_has_no_status_msg_and_error_entry_has_no_resp(
    http: TestClient, project: str, rollout: str
) -> None:
    good, bad = send(
        http, cmd("Get", 1, projectid=project, rolloutid=rollout), cmd("Get", 2, projectid=project, rolloutid="0")
    )["resp"]
    assert set(good) == {"id", "status", "resp"}
    assert set(bad) == {"id", "status", "status_msg"}


# --- src and dst ---------------------------------------------------------------------------------------


def test_src_and_dst_are_swapped(http: TestClient, project: str) -> None:
    answer = send(http, cmd("List", 1, projectid=project), src=USER, dst="//server/b")
    assert answer == {"v": 1, "src": "//server/b", "dst": USER, "resp": [{"id": 1, "status": 0, "resp": []}]}


def test_without_dst_the_server_answers_from_its_own_address(
    http: TestClient, project: str, settings: Settings
) -> None:
    answer = send(http, cmd("List", 1, projectid=project))
    assert settings.server_address == "//api.cesanta.com"
    assert answer["src"] == "//api.cesanta.com"
    assert answer["dst"] == USER


def test_without_src_the_callers_address_is_filled_in(http: TestClient, project: str) -> None:
    response = http.post("/v1", json={"v": 1, "dst": "//server/b", "cmds": [cmd("List", 1, projectid=project)]})
    assert response.status_code == 200
    answer = response.json()
    assert answer["src"] == "//server/b"
    assert answer["dst"] == USER


def test_null_src_dst_and_key_count_as_absent(http: TestClient, project: str) -> None:
    """The published frame schema allows null for them; null means the same as leaving them out."""
    frame = {"v": 1, "src": None, "dst": None, "key": None, "cmds": [cmd("List", 1, projectid=project)]}
    response = http.post("/v1", json=frame)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["src"], answer["dst"], answer["resp"]) == (
        "//api.cesanta.com",
        USER,
        [{"id": 1, "status": 0, "resp": []}],
    )


def test_key_is_accepted_as_part_of_the_frame(http: TestClient, project: str, admin_key: str) -> None:
    answer = send(http, cmd("List", 1, projectid=project), key=admin_key)
    assert answer["resp"] == [{"id": 1, "status": 0, "resp": []}]


# --- Mixed frames and transactions -------------------------------------------------------------------


def test_mixed_frame_good_commands_take_effect_bad_ones_answer_errors(http: TestClient, project: str) -> None:
    answer = send(
        http,
        cmd("Create", 1, **create_args(project, firmwareid="fw-good")),
        cmd("Create", 2, **create_args(project, firmwareid="fw-bad", deviceFilter="a=b=c")),
        {"cmd": "/v1/Rollout.Nope", "id": 3},
        cmd("List", 4, projectid=project),
        "not a command",
        cmd("Create", 6, **create_args(project, firmwareid="fw-second")),
    )
    entries = answer["resp"]
    assert [e.get("id") for e in entries] == [1, 2, 3, 4, None, 6]
    assert [e["status"] for e in entries] == [0, 400, 404, 0, 400, 0]
    created = entries[0]["resp"]["id"]
    assert entries[1]["status_msg"].startswith('args.deviceFilter: "a=b=c" does not match the pattern')
    assert entries[2]["status_msg"].startswith("No handler for /v1/Rollout.Nope. Methods: ")
    # The List in the middle sees the first Create (committed) and not the sixth (not yet run).
    assert [(r["id"], r["firmwareid"]) for r in entries[3]["resp"]] == [(created, "fw-good")]
    assert entries[4]["status_msg"] == "cmds[4]: a command must be a JSON object, got a string"
    second = entries[5]["resp"]["id"]
    # After the frame: both good Creates are there, the bad one is not.
    assert [(r["id"], r["firmwareid"]) for r in rollouts_of(http, project)] == [
        (created, "fw-good"),
        (second, "fw-second"),
    ]
    assert ok(http, "Get", projectid=project, rolloutid=created)["firmwareid"] == "fw-good"


def test_later_command_sees_earlier_commands_effect(http: TestClient, project: str, rollout: str) -> None:
    answer = send(
        http,
        cmd("SetState", 1, projectid=project, rolloutid=rollout, state="inProgress"),
        cmd("Get", 2, projectid=project, rolloutid=rollout),
        cmd("SetState", 3, projectid=project, rolloutid=rollout, state="init"),
        cmd("Get", 4, projectid=project, rolloutid=rollout),
    )
    entries = answer["resp"]
    assert [e["status"] for e in entries] == [0, 0, 409, 0]
    assert entries[1]["resp"]["state"] == "inProgress"
    assert entries[2]["status_msg"] == (
        f"cannot move rollout {rollout} from inProgress to init; allowed from inProgress: paused, finished"
    )
    assert entries[3]["resp"]["state"] == "inProgress"


def test_each_command_runs_in_its_own_transaction(
    http: TestClient, project: str, rollout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that fails after writing is rolled back alone: earlier and later commands keep their effect."""
    real_add_devices = rollout_store.add_devices

    def add_then_fail(*args: Any, **kwargs: Any) -> None:
        real_add_devices(*args, **kwargs)
        raise RuntimeError("failed after the insert")

    monkeypatch.setattr(rollout_store, "add_devices", add_then_fail)
    answer = send(
        http,
        cmd("SetState", 1, projectid=project, rolloutid=rollout, state="inProgress"),
        cmd("AddDevices", 2, projectid=project, rolloutid=rollout, devices=["dev-1", "dev-2"]),
        cmd("ListDevices", 3, projectid=project, rolloutid=rollout),
        cmd("SetState", 4, projectid=project, rolloutid=rollout, state="paused"),
    )
    entries = answer["resp"]
    assert [e["status"] for e in entries] == [0, 500, 0, 0]
    assert entries[2]["resp"] == []
    monkeypatch.undo()
    assert ok(http, "Get", projectid=project, rolloutid=rollout)["state"] == "paused"
    assert ok(http, "ListDevices", projectid=project, rolloutid=rollout) == []


def test_a_failing_command_does_not_undo_an_earlier_one(http: TestClient, project: str, rollout: str) -> None:
    answer = send(
        http,
        cmd("AddDevices", 1, projectid=project, rolloutid=rollout, devices=["dev-1"]),
        cmd("SetDeviceState", 2, projectid=project, rolloutid=rollout, deviceid="dev-1", state="succeeded"),
        cmd("SetDeviceState", 3, projectid=project, rolloutid=rollout, deviceid="dev-1", state="started"),
        cmd("SetDeviceState", 4, projectid=project, rolloutid=rollout, deviceid="dev-9", state="started"),
    )
    assert [e["status"] for e in answer["resp"]] == [0, 0, 409, 404]
    assert untimed(ok(http, "ListDevices", projectid=project, rolloutid=rollout)) == [
        {"id": "dev-1", "state": "succeeded"}
    ]


# --- resp present only when the method has a result -----------------------------------------------------


def test_resp_is_absent_for_methods_without_result_and_present_otherwise(
    http: TestClient, project: str, rollout: str
) -> None:
    answer = send(
        http,
        cmd("Get", 1, projectid=project, rolloutid=rollout),
        cmd("List", 2, projectid=project),
        cmd("ListDevices", 3, projectid=project, rolloutid=rollout),
        cmd("AddDevices", 4, projectid=project, rolloutid=rollout, devices=["dev-1"]),
        cmd("SetDeviceState", 5, projectid=project, rolloutid=rollout, deviceid="dev-1", state="started"),
        cmd("SetState", 6, projectid=project, rolloutid=rollout, state="inProgress"),
        cmd("Create", 7, **create_args(project)),
        cmd("Delete", 8, projectid=project, rolloutid=rollout),
    )
    entries = {e["id"]: e for e in answer["resp"]}
    assert all(e["status"] == 0 for e in entries.values()), answer
    for with_result in (1, 2, 3, 7):
        assert "resp" in entries[with_result], entries[with_result]
    assert entries[3]["resp"] == []  # an empty result is still present
    assert set(entries[7]["resp"]) == {"id"}
    for without_result in (4, 5, 6, 8):
        assert entries[without_result] == {"id": without_result, "status": 0}


# --- deadline and timeout -------------------------------------------------------------------------------


def test_command_past_its_deadline_answers_504_and_does_not_run(http: TestClient, project: str) -> None:
    before = snapshot(http)
    deadline = time.time() - 60
    answer = send(http, {**cmd("Create", 1, **create_args(project)), "deadline": deadline})
    assert answer["resp"] == [
        {"id": 1, "status": 504, "status_msg": f"deadline {deadline} passed before the command ran"}
    ]
    assert snapshot(http) == before
    assert rollouts_of(http, project) == []


def test_command_with_future_deadline_runs(http: TestClient, project: str) -> None:
    answer = send(http, {**cmd("Create", 1, **create_args(project)), "deadline": time.time() + 600})
    (entry,) = answer["resp"]
    assert entry["status"] == 0, entry
    assert [r["id"] for r in rollouts_of(http, project)] == [entry["resp"]["id"]]


def test_past_deadline_in_a_frame_blocks_only_that_command(http: TestClient, project: str) -> None:
    answer = send(
        http,
        {**cmd("Create", 1, **create_args(project, firmwareid="late")), "deadline": time.time() - 1},
        cmd("Create", 2, **create_args(project, firmwareid="on-time")),
    )
    assert [e["status"] for e in answer["resp"]] == [504, 0]
    assert [r["firmwareid"] for r in rollouts_of(http, project)] == ["on-time"]


def test_command_within_its_timeout_runs(http: TestClient, project: str) -> None:
    answer = send(http, {**cmd("Create", 1, **create_args(project)), "timeout": 30})
    (entry,) = answer["resp"]
    assert entry["status"] == 0, entry
    assert len(rollouts_of(http, project)) == 1


def test_command_whose_timeout_passed_while_earlier_ones_ran_answers_504(
    http: TestClient, project: str, rollout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timeout counts from the frame's arrival: a slow first command uses up the second one's time."""
    real_find = rollout_store.find_rollout

    def slow_find(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return real_find(*args, **kwargs)

    monkeypatch.setattr(rollout_store, "find_rollout", slow_find)
    answer = send(
        http,
        cmd("Get", 1, projectid=project, rolloutid=rollout),
        {**cmd("Create", 2, **create_args(project, firmwareid="late")), "timeout": 0.2},
        {**cmd("Create", 3, **create_args(project, firmwareid="patient")), "timeout": 60},
    )
    monkeypatch.undo()
    entries = answer["resp"]
    assert [e["status"] for e in entries] == [0, 504, 0]
    assert entries[1]["status_msg"] == "timeout of 0.2s passed before the command ran"
    assert [r["firmwareid"] for r in rollouts_of(http, project)] == ["fw-1", "patient"]


# --- The per-method routes ------------------------------------------------------------------------------


def test_method_route_answers_the_bare_result(http: TestClient, project: str, rollout: str) -> None:
    response = http.post("/v1/Rollout.Get", json={"projectid": project, "rolloutid": rollout})
    assert response.status_code == 200
    assert response.json() == ok(http, "Get", projectid=project, rolloutid=rollout)
    assert response.json()["id"] == rollout


def test_method_route_create_answers_the_new_id(http: TestClient, project: str) -> None:
    response = http.post("/v1/Rollout.Create", json=create_args(project))
    assert response.status_code == 200
    new_id = response.json()["id"]
    assert [r["id"] for r in rollouts_of(http, project)] == [new_id]


def test_method_route_missing_rollout_is_404(http: TestClient, project: str) -> None:
    response = http.post("/v1/Rollout.Get", json={"projectid": project, "rolloutid": "999999999"})
    assert response.status_code == 404
    assert response.json() == {"status": 404, "status_msg": f"rollout '999999999' not found in project {project!r}"}


def test_method_route_bad_arg_is_400(http: TestClient, project: str) -> None:
    response = http.post("/v1/Rollout.Get", json={"projectid": project, "rolloutid": 5})
    assert response.status_code == 400
    assert response.json() == {"status": 400, "status_msg": "args.rolloutid: must be a string, got 5"}


def test_method_route_illegal_transition_is_409(http: TestClient, project: str, rollout: str) -> None:
    done = http.post("/v1/Rollout.SetState", json={"projectid": project, "rolloutid": rollout, "state": "finished"})
    assert done.status_code == 200, done.text
    response = http.post("/v1/Rollout.SetState", json={"projectid": project, "rolloutid": rollout, "state": "init"})
    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "status_msg": f"cannot move rollout {rollout} from finished to init; allowed from finished: none: finished is final",
    }
    assert ok(http, "Get", projectid=project, rolloutid=rollout)["state"] == "finished"


def test_method_route_for_an_unknown_method_answers_the_error_object(http: TestClient) -> None:
    """Like every other error of the /v1 routes: {"status", "status_msg"} with the matching HTTP status."""
    response = http.post("/v1/Rollout.Nope", json={})
    assert response.status_code == 404
    assert set(response.json()) == {"status", "status_msg"}
    assert response.json()["status"] == 404
    assert response.json()["status_msg"].startswith("No handler for /v1/Rollout.Nope. Methods: ")


@pytest.mark.parametrize("path", ["/v1", "/v1/Rollout.Get"])
def test_other_http_methods_on_rpc_routes_answer_405_with_allow(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"status": 405, "status_msg": f"GET is not allowed on {path}; use POST"}


def test_wrong_http_method_on_other_routes_answers_405_with_allow(http: TestClient) -> None:
    response = http.post("/healthz")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json() == {"status": 405, "status_msg": "POST is not allowed on /healthz"}


# --- Size limits -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    """An app with a 1000-byte body limit and at most 3 commands per frame, on the same database."""
    limited = create_app(settings.model_copy(update={"max_body_bytes": 1000, "max_commands": 3}))
    with TestClient(limited, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        yield client
    limited.state.engine.dispose()


def padded_frame(project: str, size: int) -> bytes:
    """A valid one-command frame of exactly `size` bytes (padding goes into dst)."""
    base = b'{"v": 1, "dst": "", "cmds": [{"cmd": "/v1/Rollout.List", "id": 1, "args": {"projectid": "%s"}}]}'
    body = base % project.encode()
    assert len(body) <= size
    return body.replace(b'"dst": ""', b'"dst": "' + b"x" * (size - len(body)) + b'"')


def test_body_at_the_limit_is_accepted(small: TestClient, project: str) -> None:
    body = padded_frame(project, 1000)
    assert len(body) == 1000
    response = small.post("/v1", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json()["resp"] == [{"id": 1, "status": 0, "resp": []}]


def test_body_over_the_limit_is_413(small: TestClient, project: str) -> None:
    before = snapshot(small)
    response = small.post("/v1", content=padded_frame(project, 1001), headers=JSON)
    assert response.status_code == 413
    assert response.json() == {"status": 413, "status_msg": "body of 1001 bytes is larger than the limit of 1000 bytes"}
    assert snapshot(small) == before


def test_streamed_body_over_the_limit_is_413(small: TestClient) -> None:
    """Without a Content-Length the limit is enforced while reading."""
    response = small.post("/v1", content=iter([b"x" * 600, b"y" * 600]), headers=JSON)
    assert response.status_code == 413
    assert response.json() == {"status": 413, "status_msg": "body is larger than the limit of 1000 bytes"}


def test_method_route_body_over_the_limit_is_413(small: TestClient, project: str) -> None:
    before = snapshot(small)
    args = create_args(project, name="n" * 1000)
    response = small.post("/v1/Rollout.Create", json=args)
    assert response.status_code == 413
    assert response.json()["status"] == 413
    assert "larger than the limit of 1000 bytes" in response.json()["status_msg"]
    assert snapshot(small) == before
    assert rollouts_of(small, project) == []


def test_too_many_commands_is_413(small: TestClient, project: str) -> None:
    before = snapshot(small)
    four = [cmd("Create", i, **create_args(project)) for i in range(1, 5)]
    response = small.post("/v1", json={"v": 1, "cmds": four})
    assert response.status_code == 413
    assert response.json() == {"status": 413, "status_msg": "cmds: 4 commands in one frame; at most 3 are allowed"}
    assert snapshot(small) == before


def test_commands_up_to_the_limit_run(small: TestClient, project: str) -> None:
    three = [cmd("Create", i, **create_args(project)) for i in range(1, 4)]
    response = small.post("/v1", json={"v": 1, "cmds": three})
    assert response.status_code == 200
    assert [e["status"] for e in response.json()["resp"]] == [0, 0, 0]
    assert len(rollouts_of(small, project)) == 3


# --- Internal errors and unimplemented methods -----------------------------------------------------------


def _explode(*args: Any, **kwargs: Any) -> int:
    raise RuntimeError("secret detail")


def test_unexpected_exception_answers_500_with_request_id_and_no_internals(
    http: TestClient, project: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rollout_store, "create_rollout", _explode)
    before = snapshot(http)
    with caplog.at_level(logging.ERROR):
        answer = send(http, cmd("Create", 1, **create_args(project)), cmd("List", 2, projectid=project))
    failed, listed = answer["resp"]
    assert failed["id"] == 1
    assert failed["status"] == 500
    message = failed["status_msg"]
    assert "request id" in message
    for internal in ("secret", "RuntimeError", "Traceback", "store", ".py"):
        assert internal not in message
    assert listed == {"id": 2, "status": 0, "resp": []}
    assert snapshot(http) == before
    # Operators find the detail in the log under the same request id.
    match = re.search(r"request id (\w+)", message)
    assert match is not None
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged, caplog.text
    assert "secret detail" in caplog.text


def test_unexpected_exception_on_method_route_answers_http_500(
    http: TestClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollout_store, "create_rollout", _explode)
    response = http.post("/v1/Rollout.Create", json=create_args(project))
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"status", "status_msg"}
    assert body["status"] == 500
    assert "request id" in body["status_msg"]
    assert "secret" not in body["status_msg"]


def test_too_many_devices_in_one_add_devices_is_413(settings: Settings, admin_key: str, project: str) -> None:
    limited = create_app(settings.model_copy(update={"max_devices_per_add": 3}))
    try:
        with TestClient(limited, headers={"Authorization": f"Bearer {admin_key}"}) as client:
            rollout_id = create_rollout(client, project)
            before = snapshot(client)
            answer = send(client, cmd("AddDevices", 1, projectid=project, rolloutid=rollout_id, devices=list("abcd")))
            assert answer["resp"] == [
                {"id": 1, "status": 413, "status_msg": "args.devices: 4 devices in one call; at most 3 are allowed"}
            ]
            assert snapshot(client) == before
            ok(client, "AddDevices", projectid=project, rolloutid=rollout_id, devices=list("abc"))
    finally:
        limited.state.engine.dispose()
