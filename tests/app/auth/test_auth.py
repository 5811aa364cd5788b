"""Who may call what: every role on every method in its own and another project, and the credentials rules.

Roles: a `user` reaches only the projects granted to its principal (here project A); `backend` and `admin`
reach every project. AddDevices and SetDeviceState are for backend and admin only, and that role check
comes before any project check. A project a user may not reach looks exactly like a project without
that rollout.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api import METHODS as ALL_METHODS

from app.auth.keys import create_key, grant_project, revoke_key
from app.rpc.asgi import RpcApp
from app.storage.db import transaction
from tests.helpers import call, create_rollout, make_key, ok, sample_args, snapshot, untimed

SPECS = {spec.method: spec for spec in ALL_METHODS.values() if spec.service == "Rollout"}
METHODS = sorted(SPECS)
ROLES = ("user", "backend", "admin")
SIDES = ("own", "other")  # own: project A, granted to the user; other: project B, granted to nobody
SERVER = "//api.cesanta.com"
_ids = itertools.count(1)


def new_project() -> str:
    return f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Actor:
    """A caller: its role, its principal (the frame's src) and a client that sends its key."""

    role: str
    principal: str
    client: TestClient


@pytest.fixture(scope="module")
def project_a() -> str:
    """The one project the module's user is granted."""
    return new_project()


@pytest.fixture(scope="module")
def actors(app: RpcApp, database_url: str, project_a: str) -> Iterator[dict[str, Actor]]:
    tag = uuid.uuid4().hex[:8]
    made: dict[str, Actor] = {}
    clients: list[TestClient] = []
    for role in ROLES:
        principal = f"//api.cesanta.com/{role}_{tag}"
        key = make_key(database_url, principal=principal, role=role)
        client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
        clients.append(client)
        made[role] = Actor(role=role, principal=principal, client=client)
    with transaction(app.state.engine, writes=True) as session:
        grant_project(session, principal=made["user"].principal, project_id=project_a)
    yield made
    for client in clients:
        client.close()


def send(actor: Actor, method: str, args: dict[str, Any], *, transport: str = "frame") -> dict[str, Any]:
    """One command as `actor`: in a frame whose src is the actor's principal, or on the method's own route.

    Both answer the same shape: {"status", "status_msg"} or {"status": 0, "resp"?}.
    """
    if transport == "frame":
        command_id = next(_ids)
        body = {
            "v": 1,
            "src": actor.principal,
            "dst": SERVER,
            "cmds": [{"cmd": f"/v1/Rollout.{method}", "id": command_id, "args": args}],
        }
        response = actor.client.post("/v1", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["dst"] == actor.principal
        (entry,) = answer["resp"]
        assert entry.pop("id") == command_id
        result: dict[str, Any] = entry
        return result
    response = actor.client.post(f"/v1/Rollout.{method}", json=args)
    body = response.json()
    if response.status_code == 200:
        return {"status": 0} if body is None else {"status": 0, "resp": body}
    assert body["status"] == response.status_code, response.text
    assert set(body) == {"status", "status_msg"}, body
    return dict(body)


@dataclass
class Case:
    """A fresh rollout (made by the admin) to call `method` on, and a way to see that the call did its work."""

    args: dict[str, Any]
    rollout_id: str | None
    device: str | None


def prepare(http: TestClient, method: str, project: str) -> Case:
    if method == "Create":
        create = {"projectid": project, "firmwareid": "fw-2", "deviceFilter": "location=Kitchen", "name": "by role"}
        return Case(args=create, rollout_id=None, device=None)
    rollout_id = create_rollout(http, project)
    device = f"{project}/device_1"
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[device])
    args: dict[str, Any] = {"projectid": project}
    if method != "List":
        args["rolloutid"] = rollout_id
    if method == "SetState":
        args["state"] = "inProgress"
    elif method == "AddDevices":
        args["devices"] = [f"{project}/device_new"]
    elif method == "SetDeviceState":
        args.update(deviceid=device, state="started", updateCommandId="cmd-1")
    elif method == "ClaimDevices":
        ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
        args["limit"] = 10
    elif method not in ("Get", "ListDevices", "Delete"):
        # A method this module does not know yet: its definition's required args, on this rollout.
        args = sample_args(SPECS[method], **args, deviceid=device)
    return Case(args=args, rollout_id=rollout_id, device=device)


def check_effect(http: TestClient, method: str, project: str, case: Case, entry: dict[str, Any]) -> None:
    """The successful call did what the method does (checked through the admin client)."""
    resp = entry.get("resp")
    if method == "Create":
        assert resp is not None
        got = ok(http, "Get", projectid=project, rolloutid=resp["id"])
        assert got["firmwareid"] == "fw-2"
        assert got["state"] == "init"
        return
    rollout_id = case.rollout_id
    assert rollout_id is not None
    if method == "Get":
        assert resp is not None
        assert resp["id"] == rollout_id
        assert resp["state"] == "init"
    elif method == "List":
        assert resp is not None
        assert rollout_id in [item["id"] for item in resp]
        assert {item["projectid"] for item in resp} == {project}
    elif method == "ListDevices":
        assert isinstance(resp, list)
        assert untimed(resp) == [{"id": case.device, "state": "init"}]
    elif method == "SetState":
        assert ok(http, "Get", projectid=project, rolloutid=rollout_id)["state"] == "inProgress"
    elif method == "AddDevices":
        devices = ok(http, "ListDevices", projectid=project, rolloutid=rollout_id)
        assert {d["id"] for d in devices} == {case.device, f"{project}/device_new"}
    elif method == "SetDeviceState":
        devices = ok(http, "ListDevices", projectid=project, rolloutid=rollout_id)
        assert untimed(devices) == [{"id": case.device, "state": "started", "updateCommandId": "cmd-1"}]
    elif method == "ClaimDevices":
        assert resp == [{"id": case.device}]
        assert ok(http, "Get", projectid=project, rolloutid=rollout_id)["counts"]["started"] == 1
    elif method == "Delete":
        assert call(http, "Get", projectid=project, rolloutid=rollout_id)["status"] == 404
    # A method this module does not know yet is checked for its status alone.


def expected_status(role: str, method: str, side: str) -> int:
    roles = SPECS[method].roles
    if roles and role not in roles:
        return 403  # the role check comes first, whichever the project
    if role == "user" and side == "other" and method != "List":
        return 404  # List answers [] instead
    return 0


def normalise(message: str, **placeholders: str) -> str:
    """The message with each given value replaced by its placeholder name; longest values first."""
    for name, value in sorted(placeholders.items(), key=lambda item: -len(item[1])):
        message = message.replace(value, f"<{name}>")
    return message


def missing_rollout_id(http: TestClient, project: str) -> str:
    """An id no rollout has any more: one that existed in `project` and was deleted."""
    rollout_id = create_rollout(http, project)
    ok(http, "Delete", projectid=project, rolloutid=rollout_id)
    return rollout_id


# Every combination through frames; a few through the per-method routes as well.
ROUTE_CASES = [
    *(("user", method, side) for method in METHODS for side in SIDES),
    ("backend", "AddDevices", "other"),
    ("backend", "SetDeviceState", "own"),
    ("admin", "SetDeviceState", "other"),
    ("admin", "Delete", "other"),
]
CASES = [
    *(pytest.param(r, m, s, "frame", id=f"{r}-{m}-{s}-frame") for r in ROLES for m in METHODS for s in SIDES),
    *(pytest.param(r, m, s, "route", id=f"{r}-{m}-{s}-route") for r, m, s in ROUTE_CASES),
]


@pytest.mark.parametrize(("role", "method", "side", "transport"), CASES)
def test_role_method_project_matrix(
    http: TestClient,
    actors: dict[str, Actor],
    project_a: str,
    role: str,
    method: str,
    side: str,
    transport: str,
) -> None:
    actor = actors[role]
    project = project_a if side == "own" else new_project()
    case = prepare(http, method, project)
    expected = expected_status(role, method, side)
    before = snapshot(http)

    entry = send(actor, method, case.args, transport=transport)

    assert entry["status"] == expected, (role, method, side, entry)
    if expected == 0:
        if role == "user" and method == "List" and side == "other":
            assert entry["resp"] == []
            assert snapshot(http) == before
        else:
            check_effect(http, method, project, case, entry)
        return
    assert "resp" not in entry
    assert isinstance(entry["status_msg"], str)
    assert entry["status_msg"]
    assert snapshot(http) == before, f"{method} refused with {expected} but changed the database"
    if expected == 403:
        assert role in entry["status_msg"]
        assert method in entry["status_msg"]
        # The refusal is the same in every project: it tells nothing about the project.
        assert project not in entry["status_msg"]
    elif method == "Create":
        assert entry["status_msg"] == f"project {project!r} not found"
    else:
        # Exactly what the user hears about a rollout that does not exist in a project it may reach.
        assert case.rollout_id is not None
        missing = missing_rollout_id(http, project_a)
        absent = send(actor, method, {**case.args, "projectid": project_a, "rolloutid": missing}, transport=transport)
        assert absent["status"] == 404, absent
        assert normalise(entry["status_msg"], project=project, rollout=case.rollout_id) == normalise(
            absent["status_msg"], project=project_a, rollout=missing
        )
        assert snapshot(http) == before


@pytest.mark.parametrize("transport", ["frame", "route"])
def test_user_list_without_projectid_shows_only_granted_projects(
    http: TestClient, actors: dict[str, Actor], project_a: str, transport: str
) -> None:
    own = create_rollout(http, project_a)
    project_b = new_project()
    foreign = create_rollout(http, project_b)

    listed = send(actors["user"], "List", {}, transport=transport)

    assert listed["status"] == 0, listed
    assert own in [item["id"] for item in listed["resp"]]
    assert foreign not in [item["id"] for item in listed["resp"]]
    assert {item["projectid"] for item in listed["resp"]} == {project_a}
    in_init = send(actors["user"], "List", {"state": "init"}, transport=transport)
    assert {item["projectid"] for item in in_init["resp"]} == {project_a}
    # Backend and admin see both.
    for role in ("backend", "admin"):
        everything = [item["id"] for item in send(actors[role], "List", {}, transport=transport)["resp"]]
        assert own in everything
        assert foreign in everything


def test_user_reaches_project_b_once_granted(
    app: RpcApp, http: TestClient, actors: dict[str, Actor], project: str
) -> None:
    """Grants are read per request: the 404s above come from the grant, not from the rollout."""
    rollout_id = create_rollout(http, project)
    user = actors["user"]
    assert send(user, "Get", {"projectid": project, "rolloutid": rollout_id})["status"] == 404
    with transaction(app.state.engine, writes=True) as session:
        grant_project(session, principal=user.principal, project_id=project)
    got = send(user, "Get", {"projectid": project, "rolloutid": rollout_id})
    assert got["status"] == 0, got
    assert got["resp"]["id"] == rollout_id


@pytest.mark.parametrize(("method", "statuses"), [("Get", [0, 404, 0, 404]), ("SetDeviceState", [403] * 4)])
def test_a_run_of_commands_is_scoped_command_by_command(
    http: TestClient, actors: dict[str, Actor], project_a: str, method: str, statuses: list[int]
) -> None:
    """A user's run of one method's commands (run set-based, their args validated together) reaches the granted
    project and answers every other as missing, or is refused whole for the role, each as it is alone."""
    user, project_b = actors["user"], new_project()
    args = []
    for project in (project_a, project_b, project_a, project_b):
        case = prepare(http, method, project)
        if method == "SetDeviceState":
            ok(http, "SetState", projectid=project, rolloutid=case.rollout_id, state="inProgress")
        args.append(case.args)
    body = {
        "v": 1,
        "src": user.principal,
        "cmds": [{"cmd": f"/v1/Rollout.{method}", "id": n + 1, "args": a} for n, a in enumerate(args)],
    }
    response = user.client.post("/v1", json=body)
    assert response.status_code == 200, response.text
    entries = response.json()["resp"]
    assert [entry["status"] for entry in entries] == statuses
    # Each as alone, word for word.
    for n, (entry, given) in enumerate(zip(entries, args, strict=True)):
        assert entry.pop("id") == n + 1
        assert entry == send(user, method, given)


# --- credentials -------------------------------------------------------------------------------------

EDGE_PRINCIPAL = "//api.cesanta.com/auth_edge"


@pytest.fixture(scope="module")
def anonymous(app: RpcApp) -> Iterator[TestClient]:
    """A client that sends no credentials of its own."""
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def edge_key(database_url: str) -> str:
    return make_key(database_url, principal=EDGE_PRINCIPAL, role="admin")


def create_frame(project: str, *, src: str | None = EDGE_PRINCIPAL, key: str | None = None) -> dict[str, Any]:
    """A frame that would change the database if it ran: a Create."""
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Bathroom"}
    body: dict[str, Any] = {"v": 1, "dst": SERVER, "cmds": [{"cmd": "/v1/Rollout.Create", "id": 1, "args": args}]}
    if src is not None:
        body["src"] = src
    if key is not None:
        body["key"] = key
    return body


def assert_refused(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "status_msg"}, body
    assert body["status"] == status
    assert isinstance(body["status_msg"], str)
    assert body["status_msg"]


def created(response: Any) -> str:
    """The id the frame's one Create answered."""
    assert response.status_code == 200, response.text
    (entry,) = response.json()["resp"]
    assert entry["status"] == 0, entry
    rollout_id: str = entry["resp"]["id"]
    return rollout_id


def test_no_credentials_is_401_on_the_envelope(anonymous: TestClient, http: TestClient, project: str) -> None:
    before = snapshot(http)
    assert_refused(anonymous.post("/v1", json=create_frame(project)), 401)
    assert_refused(anonymous.post("/v1", json=create_frame(project, src=None)), 401)
    assert snapshot(http) == before


def test_no_credentials_is_401_on_a_method_route(anonymous: TestClient, http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    assert_refused(anonymous.post("/v1/Rollout.Get", json={"projectid": project, "rolloutid": rollout_id}), 401)
    before = snapshot(http)
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "a=b"}
    assert_refused(anonymous.post("/v1/Rollout.Create", json=args), 401)
    assert snapshot(http) == before


BAD_HEADERS = {
    "unknown-key": "Bearer rk_this-is-not-a-key",
    "basic": "Basic xxx",
    "basic-base64": "Basic " + base64.b64encode(b"admin:admin").decode(),
    "bearer-empty": "Bearer",
    "bearer-blank": "Bearer   ",
    "bare-key": "{key}",  # a valid key without the scheme
    "other-scheme": "Token {key}",  # a valid key under another scheme
}


@pytest.mark.parametrize("header", list(BAD_HEADERS.values()), ids=list(BAD_HEADERS))
def test_bad_authorization_header_is_401(
    anonymous: TestClient, http: TestClient, edge_key: str, project: str, header: str
) -> None:
    headers = {"Authorization": header.format(key=edge_key)}
    before = snapshot(http)
    assert_refused(anonymous.post("/v1", json=create_frame(project), headers=headers), 401)
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "a=b"}
    assert_refused(anonymous.post("/v1/Rollout.Create", json=args, headers=headers), 401)
    assert snapshot(http) == before


def test_bad_key_in_the_frame_is_401(anonymous: TestClient, http: TestClient, project: str) -> None:
    before = snapshot(http)
    assert_refused(anonymous.post("/v1", json=create_frame(project, key="rk_this-is-not-a-key")), 401)
    assert snapshot(http) == before


def test_revoked_key_is_401(app: RpcApp, anonymous: TestClient, http: TestClient, project: str) -> None:
    with transaction(app.state.engine, writes=True) as session:
        key_id, key = create_key(session, principal=EDGE_PRINCIPAL, role="admin")
    headers = {"Authorization": f"Bearer {key}"}
    created(anonymous.post("/v1", json=create_frame(project), headers=headers))  # works before

    with transaction(app.state.engine, writes=True) as session:
        assert revoke_key(session, key_id=key_id)

    before = snapshot(http)
    assert_refused(anonymous.post("/v1", json=create_frame(project), headers=headers), 401)
    assert_refused(anonymous.post("/v1", json=create_frame(project, key=key)), 401)
    assert_refused(anonymous.post("/v1/Rollout.List", json={"projectid": project}, headers=headers), 401)
    assert snapshot(http) == before


def test_key_in_the_frame_without_a_header_works(
    anonymous: TestClient, http: TestClient, edge_key: str, project: str
) -> None:
    response = anonymous.post("/v1", json=create_frame(project, key=edge_key))
    rollout_id = created(response)
    assert response.json()["dst"] == EDGE_PRINCIPAL
    assert ok(http, "Get", projectid=project, rolloutid=rollout_id)["id"] == rollout_id


def test_same_key_in_the_frame_and_the_header_works(anonymous: TestClient, edge_key: str, project: str) -> None:
    headers = {"Authorization": f"Bearer {edge_key}"}
    created(anonymous.post("/v1", json=create_frame(project, key=edge_key), headers=headers))


def test_frame_key_disagreeing_with_the_header_is_401(
    anonymous: TestClient, http: TestClient, database_url: str, edge_key: str, project: str
) -> None:
    # Both keys are valid and belong to the same principal: only the disagreement is wrong.
    other_key = make_key(database_url, principal=EDGE_PRINCIPAL, role="admin")
    before = snapshot(http)
    for header_key, frame_key in ((edge_key, other_key), (other_key, edge_key), (edge_key, "rk_not-a-key")):
        headers = {"Authorization": f"Bearer {header_key}"}
        assert_refused(anonymous.post("/v1", json=create_frame(project, key=frame_key), headers=headers), 401)
    assert snapshot(http) == before


@pytest.mark.parametrize("role", ["user", "backend", "admin"])
def test_spoofed_src_is_403_for_the_whole_frame(
    http: TestClient, actors: dict[str, Actor], project_a: str, role: str
) -> None:
    actor = actors[role]
    rollout_id = create_rollout(http, project_a)
    others = [a.principal for a in actors.values() if a.principal != actor.principal]
    before = snapshot(http)
    for src in [*others, "//api.cesanta.com/someone_else", "//test", ""]:
        body = create_frame(project_a, src=src)
        named = {"projectid": project_a, "rolloutid": rollout_id}
        body["cmds"] += [
            {"cmd": "/v1/Rollout.SetState", "id": 2, "args": {**named, "state": "finished"}},
            {"cmd": "/v1/Rollout.Delete", "id": 3, "args": named},
        ]
        response = actor.client.post("/v1", json=body)
        assert_refused(response, 403)
        assert "resp" not in response.json()
    assert snapshot(http) == before
    assert ok(http, "Get", projectid=project_a, rolloutid=rollout_id)["state"] == "init"


@pytest.mark.parametrize("role", ["user", "admin"])
def test_absent_src_is_filled_in_with_the_callers_principal(
    http: TestClient, actors: dict[str, Actor], project_a: str, role: str
) -> None:
    actor = actors[role]
    response = actor.client.post("/v1", json=create_frame(project_a, src=None))
    rollout_id = created(response)
    answer = response.json()
    assert answer["dst"] == actor.principal
    assert answer["src"] == SERVER
    assert ok(http, "Get", projectid=project_a, rolloutid=rollout_id)["id"] == rollout_id


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/healthz"])
def test_docs_and_health_need_no_credentials(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 200, response.text
