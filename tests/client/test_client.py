"""The generated client against a live server: every method sync and async, errors, retries, batches, paging.

Statuses the server does not produce on demand (401, 403, 500, 501, 504 and unknown ones) and connection
failures are answered by an httpx.MockTransport instead.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from rollout_api import (
    METHODS,
    AsyncClient,
    Client,
    Conflict,
    DeadlineExceeded,
    Error,
    Idempotency,
    InvalidArgument,
    MethodSpec,
    NotFound,
    PermissionDenied,
    RpcError,
    ServerError,
    Status,
    TooLarge,
    TransportError,
    Unauthenticated,
    Unimplemented,
)
from rollout_api.rollout.models import (
    ClaimedDevice,
    CreateResult,
    Device,
    DeviceCounts,
    DeviceState,
    Event,
    GetResult,
    Rollout,
    RolloutState,
)

from codegen.naming import module_name
from tests.client.fixtures import MAX_COMMANDS
from tests.helpers import free_port, sample_args

FILTER = "location=Bathroom"
FIRMWARE = "fw-2.1.0"
MISSING = "999999999"
"""A rollout id no test creates."""


def create(client: Client, project: str, name: str | None = None) -> str:
    return client.rollout.create(projectid=project, firmwareid=FIRMWARE, device_filter=FILTER, name=name).id


async def create_async(client: AsyncClient, project: str, name: str | None = None) -> str:
    result = await client.rollout.create(projectid=project, firmwareid=FIRMWARE, device_filter=FILTER, name=name)
    return result.id


# --- every method, typed results ---------------------------------------------------------------


def test_every_method_sync(client: Client, project: str) -> None:
    created = client.rollout.create(projectid=project, firmwareid=FIRMWARE, device_filter=FILTER, name="Today's")
    assert isinstance(created, CreateResult)
    assert created.id.isdigit()
    rollout = created.id

    got = client.rollout.get(projectid=project, rolloutid=rollout)
    assert isinstance(got, GetResult)
    assert (got.id, got.projectid, got.state, got.device_filter, got.firmwareid, got.name) == (
        rollout,
        project,
        RolloutState.INIT,
        FILTER,
        FIRMWARE,
        "Today's",
    )
    assert got.counts == DeviceCounts(init=0, started=0, succeeded=0, failed=0)
    assert (got.total, got.auto_finish, got.reason) == (0, False, None)
    assert got.created_at == got.updated_at and got.created_at.utcoffset() == timedelta(0)

    listed = client.rollout.list(projectid=project)
    assert all(isinstance(item, Rollout) for item in listed)
    assert listed == [got]

    client.rollout.add_devices(projectid=project, rolloutid=rollout, devices=["dev-2", "dev-1", "dev-3"])
    devices = client.rollout.list_devices(projectid=project, rolloutid=rollout)
    assert all(isinstance(item, Device) for item in devices)
    assert [(d.id, d.state) for d in devices] == [(f"dev-{i}", DeviceState.INIT) for i in (1, 2, 3)]

    client.rollout.set_state(projectid=project, rolloutid=rollout, state="inProgress")
    assert client.rollout.get(projectid=project, rolloutid=rollout).state == RolloutState.IN_PROGRESS
    assert [r.id for r in client.rollout.list(projectid=project, state="inProgress")] == [rollout]
    assert client.rollout.list(projectid=project, state="init") == []

    client.rollout.set_device_state(
        projectid=project, rolloutid=rollout, deviceid="dev-1", state="started", update_command_id="cmd-1"
    )
    client.rollout.set_device_state(projectid=project, rolloutid=rollout, deviceid="dev-2", state=DeviceState.FAILED)
    (started,) = client.rollout.list_devices(projectid=project, rolloutid=rollout, state="started")
    assert (started.id, started.state, started.update_command_id) == ("dev-1", DeviceState.STARTED, "cmd-1")
    (failed,) = client.rollout.list_devices(projectid=project, rolloutid=rollout, limit=1, after="dev-1")
    assert (failed.id, failed.state, failed.update_command_id) == ("dev-2", DeviceState.FAILED, None)

    claimed = client.rollout.claim_devices(projectid=project, rolloutid=rollout, limit=5, update_command_id="cmd-2")
    assert claimed == [ClaimedDevice(id="dev-3")]
    progress = client.rollout.get(projectid=project, rolloutid=rollout)
    assert progress.counts == DeviceCounts(init=0, started=2, succeeded=0, failed=1)
    events = client.rollout.list_events(projectid=project, rolloutid=rollout)
    assert all(isinstance(event, Event) for event in events)
    assert [(e.deviceid, e.from_, e.to) for e in events] == [
        (None, "init", "inProgress"),
        ("dev-1", "init", "started"),
        ("dev-2", "init", "failed"),
        ("dev-3", "init", "started"),
    ]
    assert list(client.rollout.iter_list_events(projectid=project, rolloutid=rollout, page_size=1)) == events

    client.rollout.set_state(projectid=project, rolloutid=rollout, state=RolloutState.PAUSED)
    assert client.rollout.get(projectid=project, rolloutid=rollout).state == RolloutState.PAUSED

    client.rollout.delete(projectid=project, rolloutid=rollout)
    with pytest.raises(NotFound):
        client.rollout.get(projectid=project, rolloutid=rollout)
    assert client.rollout.list(projectid=project) == []


def test_every_method_async(server_url: str, project: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(server_url) as client:
            created = await client.rollout.create(projectid=project, firmwareid=FIRMWARE, device_filter=FILTER)
            assert isinstance(created, CreateResult)
            assert created.id.isdigit()
            rollout = created.id

            got = await client.rollout.get(projectid=project, rolloutid=rollout)
            assert isinstance(got, GetResult)
            assert (got.id, got.projectid, got.state, got.device_filter, got.firmwareid, got.name) == (
                rollout,
                project,
                RolloutState.INIT,
                FILTER,
                FIRMWARE,
                None,
            )
            assert got.counts == DeviceCounts(init=0, started=0, succeeded=0, failed=0)

            listed = await client.rollout.list(projectid=project)
            assert listed == [got]
            assert isinstance(listed[0], Rollout)

            await client.rollout.add_devices(projectid=project, rolloutid=rollout, devices=["b", "a"])
            devices = await client.rollout.list_devices(projectid=project, rolloutid=rollout)
            assert [(d.id, d.state) for d in devices] == [("a", DeviceState.INIT), ("b", DeviceState.INIT)]
            assert isinstance(devices[0], Device)

            await client.rollout.set_state(projectid=project, rolloutid=rollout, state=RolloutState.IN_PROGRESS)
            assert (await client.rollout.get(projectid=project, rolloutid=rollout)).state == RolloutState.IN_PROGRESS

            await client.rollout.set_device_state(
                projectid=project, rolloutid=rollout, deviceid="a", state="succeeded", update_command_id="u-7"
            )
            (done,) = await client.rollout.list_devices(projectid=project, rolloutid=rollout, state="succeeded")
            assert (done.id, done.state, done.update_command_id) == ("a", DeviceState.SUCCEEDED, "u-7")
            assert await client.rollout.claim_devices(projectid=project, rolloutid=rollout, limit=9) == [
                ClaimedDevice(id="b")
            ]
            events = [e async for e in client.rollout.iter_list_events(projectid=project, rolloutid=rollout)]
            assert [(e.deviceid, e.to) for e in events] == [(None, "inProgress"), ("a", "succeeded"), ("b", "started")]
            assert (
                await client.rollout.list_events(projectid=project, rolloutid=rollout, after=events[0].id) == events[1:]
            )

            await client.rollout.delete(projectid=project, rolloutid=rollout)
            with pytest.raises(NotFound):
                await client.rollout.get(projectid=project, rolloutid=rollout)
            assert await client.rollout.list(projectid=project) == []

    asyncio.run(scenario())


# --- errors the server answers ------------------------------------------------------------------


def test_error_tree() -> None:
    for cls in (InvalidArgument, Unauthenticated, PermissionDenied, NotFound, Conflict, TooLarge, DeadlineExceeded):
        assert issubclass(cls, RpcError)
        assert not issubclass(cls, ServerError)
    assert issubclass(Unimplemented, ServerError)
    assert issubclass(ServerError, RpcError)
    assert issubclass(RpcError, Error)
    assert issubclass(TransportError, Error)
    assert not issubclass(TransportError, RpcError)


def test_invalid_argument(client: Client, project: str) -> None:
    """A value the definition's pattern lets through but the server refuses: the server's 400, with the command id.
    (Python's `$` also matches before a final newline; the handler refuses "1\\n", which is no rollout id.)"""
    with pytest.raises(InvalidArgument) as caught:
        client.rollout.list(projectid=project, after="1\n")
    error = caught.value
    assert error.status == 400
    assert Status(error.status) is Status.INVALID_ARGUMENT
    assert error.status_msg.startswith("args.after: '1\\n' is not a rollout id")
    assert isinstance(error.command_id, int)
    assert str(error) == f"400: {error.status_msg} (command {error.command_id})"


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("create", {"projectid": "p", "firmwareid": FIRMWARE, "device_filter": "location"}),
        ("list", {"projectid": "p", "state": "running"}),
        ("list_devices", {"projectid": "p", "rolloutid": "1", "limit": 0}),
    ],
)
def test_values_the_definition_refuses_are_refused_before_sending(
    server_url: str, method: str, args: dict[str, object]
) -> None:
    """The client checks args against the definition: same status and message as the server, nothing sent."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    offline = Client("http://unused", transport=httpx.MockTransport(record))
    with pytest.raises(InvalidArgument) as caught:
        getattr(offline.rollout, method)(**args)
    assert sent == []
    spec = next(s for s in METHODS.values() if s.attr == method)
    wire = {spec.args_model.model_fields[k].alias or k: v for k, v in args.items()}
    key = {"Authorization": f"Bearer {os.environ['ROLLOUT_API_KEY']}"}
    answer = httpx.post(f"{server_url}{spec.wire_name}", json=wire, headers=key)
    assert answer.status_code == 400
    assert caught.value.status_msg == answer.json()["status_msg"]
    assert caught.value.command_id is None


def test_client_side_invalid_argument_is_a_rollout_api_error() -> None:
    """`except rollout_api.Error` catches what the client refuses itself, in a call, an async call and a batch."""
    offline = httpx.MockTransport(lambda request: pytest.fail("nothing may be sent"))
    caught: list[Error] = []
    with Client("http://unused", transport=offline) as client:
        try:
            client.rollout.list(projectid="p", state="running")  # type: ignore[arg-type]
        except Error as error:
            caught.append(error)
        try:
            with client.batch() as batch:
                batch.rollout.list_devices(projectid="p", rolloutid="1", limit=0)
        except Error as error:
            caught.append(error)

    async def scenario() -> None:
        async with AsyncClient("http://unused", transport=offline) as client:
            try:
                await client.rollout.create(projectid="p", firmwareid=FIRMWARE, device_filter="no equals sign")
            except Error as error:
                caught.append(error)

    asyncio.run(scenario())
    assert [type(error) for error in caught] == [InvalidArgument] * 3
    assert [error.status_msg.split(":")[0] for error in caught if isinstance(error, InvalidArgument)] == [
        "args.state",
        "args.limit",
        "args.deviceFilter",
    ]


def test_not_found(client: Client, project: str) -> None:
    with pytest.raises(NotFound) as caught:
        client.rollout.get(projectid=project, rolloutid=MISSING)
    assert caught.value.status == 404
    assert MISSING in caught.value.status_msg
    assert isinstance(caught.value.command_id, int)

    rollout = create(client, project)
    with pytest.raises(NotFound):  # a rollout belongs to its project
        client.rollout.get(projectid=project + "-other", rolloutid=rollout)
    with pytest.raises(NotFound, match="dev-x"):
        client.rollout.set_device_state(projectid=project, rolloutid=rollout, deviceid="dev-x", state="started")


def test_conflict(client: Client, project: str) -> None:
    rollout = create(client, project)
    with pytest.raises(Conflict) as caught:
        client.rollout.set_state(projectid=project, rolloutid=rollout, state="paused")
    assert caught.value.status == 409
    assert "cannot move" in caught.value.status_msg
    assert client.rollout.get(projectid=project, rolloutid=rollout).state == RolloutState.INIT

    client.rollout.add_devices(projectid=project, rolloutid=rollout, devices=["d"])
    client.rollout.set_state(projectid=project, rolloutid=rollout, state="finished")
    with pytest.raises(Conflict, match="finished"):
        client.rollout.set_device_state(projectid=project, rolloutid=rollout, deviceid="d", state="started")


def test_errors_async(server_url: str, project: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(server_url) as client:
            with pytest.raises(InvalidArgument, match="deviceFilter"):
                await client.rollout.create(projectid=project, firmwareid=FIRMWARE, device_filter="a=b=c")
            with pytest.raises(NotFound) as missing:
                await client.rollout.get(projectid=project, rolloutid=MISSING)
            assert missing.value.status == 404
            rollout = await create_async(client, project)
            await client.rollout.set_state(projectid=project, rolloutid=rollout, state="finished")
            with pytest.raises(Conflict) as conflict:
                await client.rollout.set_state(projectid=project, rolloutid=rollout, state="inProgress")
            assert conflict.value.status == 409
            assert isinstance(conflict.value.command_id, int)

    asyncio.run(scenario())


def test_too_large_batch(client: Client, project: str) -> None:
    rollout = create(client, project)
    with pytest.raises(TooLarge) as caught, client.batch() as batch:
        for _ in range(MAX_COMMANDS + 1):
            batch.rollout.get(projectid=project, rolloutid=rollout)
    assert caught.value.status == 413
    assert Status(caught.value.status) is Status.TOO_LARGE
    assert str(MAX_COMMANDS) in caught.value.status_msg
    assert caught.value.command_id is None  # the whole frame was refused, not one command

    # The limit itself is allowed.
    with client.batch() as batch:
        pendings = [batch.rollout.get(projectid=project, rolloutid=rollout) for _ in range(MAX_COMMANDS)]
    assert all(p.error is None and p.result().id == rollout for p in pendings)


def test_too_large_batch_async(server_url: str, project: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(server_url) as client:
            with pytest.raises(TooLarge):
                async with client.batch() as batch:
                    for _ in range(MAX_COMMANDS + 1):
                        batch.rollout.list(projectid=project)

    asyncio.run(scenario())


# --- statuses answered by a mock server ---------------------------------------------------------

STATUS_CLASSES: list[tuple[int, type[RpcError]]] = [
    (400, InvalidArgument),
    (401, Unauthenticated),
    (403, PermissionDenied),
    (404, NotFound),
    (409, Conflict),
    (413, TooLarge),
    (418, ServerError),
    (500, ServerError),
    (501, Unimplemented),
    (503, ServerError),
    (504, DeadlineExceeded),
]


def answering(status: int, command_ids: list[int]) -> httpx.MockTransport:
    """A server that answers every command of a frame with `status`, echoing its id into command_ids."""

    def handler(request: httpx.Request) -> httpx.Response:
        frame = json.loads(request.content)
        ids = [cmd["id"] for cmd in frame["cmds"]]
        command_ids.extend(ids)
        responses = [{"id": i, "status": status, "status_msg": f"mock says {status}"} for i in ids]
        return httpx.Response(200, json={"v": 1, "resp": responses})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES, ids=[str(s) for s, _ in STATUS_CLASSES])
def test_status_raises_its_class(status: int, cls: type[RpcError]) -> None:
    sent: list[int] = []
    with Client("http://mock", transport=answering(status, sent)) as client, pytest.raises(RpcError) as caught:
        client.rollout.get(projectid="p", rolloutid="1")
    error = caught.value
    assert type(error) is cls
    assert isinstance(error, Error)
    assert error.status == status
    assert error.status_msg == f"mock says {status}"
    assert error.command_id == sent[0]

    async def scenario() -> RpcError:
        async with AsyncClient("http://mock", transport=answering(status, sent)) as client:
            try:
                await client.rollout.set_state(projectid="p", rolloutid="1", state="paused")
            except RpcError as exc:
                return exc
        raise AssertionError("no error raised")

    error = asyncio.run(scenario())
    assert type(error) is cls
    assert (error.status, error.status_msg, error.command_id) == (status, f"mock says {status}", sent[1])


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES, ids=[str(s) for s, _ in STATUS_CLASSES])
def test_http_error_body_raises_its_class(status: int, cls: type[RpcError]) -> None:
    """A request refused as a whole answers the HTTP status with {status, status_msg}: no command id."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"status": status, "status_msg": "refused whole"})

    with Client("http://mock", transport=httpx.MockTransport(handler)) as client, pytest.raises(RpcError) as caught:
        client.rollout.list()
    assert type(caught.value) is cls
    assert (caught.value.status, caught.value.status_msg, caught.value.command_id) == (status, "refused whole", None)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"hello": "world"}),
        httpx.Response(200, json={"v": 1, "resp": [{"id": 12345, "status": 0}]}),
        httpx.Response(200, json={"v": 1, "resp": [{"id": 1, "status": 0, "resp": {"state": "exploded"}}]}),
    ],
    ids=["http-not-json", "not-json", "not-a-frame", "wrong-id", "result-off-schema"],
)
def test_answer_that_is_not_a_response_frame(answer: httpx.Response) -> None:
    with (
        Client("http://mock", transport=httpx.MockTransport(lambda request: answer)) as client,
        pytest.raises(TransportError),
    ):
        client.rollout.get(projectid="p", rolloutid="1")


def test_key_src_dst_are_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_API_KEY", raising=False)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ids = [cmd["id"] for cmd in json.loads(request.content)["cmds"]]
        return httpx.Response(200, json={"v": 1, "resp": [{"id": i, "status": 0, "resp": []} for i in ids]})

    transport = httpx.MockTransport(handler)
    with Client("http://mock", key="s3cret", src="//me", dst="//them", transport=transport) as client:
        assert client.rollout.list(projectid="p", limit=5) == []
    with Client("http://mock", transport=transport) as client:
        assert client.rollout.list() == []
    keyed, plain = seen
    assert keyed.url.path == "/v1"
    assert keyed.headers["Authorization"] == "Bearer s3cret"
    frame = json.loads(keyed.content)
    assert (frame["v"], frame["src"], frame["dst"]) == (1, "//me", "//them")
    assert frame["cmds"] == [
        {"cmd": "/v1/Rollout.List", "id": frame["cmds"][0]["id"], "args": {"projectid": "p", "limit": 5}}
    ]
    assert "Authorization" not in plain.headers
    assert "src" not in json.loads(plain.content)
    assert json.loads(plain.content)["cmds"][0]["args"] == {}


def test_key_and_url_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ids = [cmd["id"] for cmd in json.loads(request.content)["cmds"]]
        return httpx.Response(200, json={"v": 1, "resp": [{"id": i, "status": 0, "resp": []} for i in ids]})

    monkeypatch.setenv("ROLLOUT_API_KEY", "from-env")
    monkeypatch.setenv("ROLLOUT_API_URL", "http://env-host:9999")
    with Client(transport=httpx.MockTransport(handler)) as client:
        client.rollout.list()
    with Client("http://given", key="given-key", transport=httpx.MockTransport(handler)) as client:
        client.rollout.list()
    from_env, given = seen
    assert (from_env.url.host, from_env.url.port) == ("env-host", 9999)
    assert from_env.headers["Authorization"] == "Bearer from-env"
    assert given.url.host == "given"
    assert given.headers["Authorization"] == "Bearer given-key"


# --- your own httpx client, timeouts -----------------------------------------------------------


def empty_lists(seen: list[httpx.Request]) -> httpx.MockTransport:
    """A server that answers every command with an empty list, recording the requests."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ids = [cmd["id"] for cmd in json.loads(request.content)["cmds"]]
        return httpx.Response(200, json={"v": 1, "resp": [{"id": i, "status": 0, "resp": []} for i in ids]})

    return httpx.MockTransport(handler)


def test_own_http_client_is_used_and_left_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_API_URL", "http://env-host:9999")
    monkeypatch.delenv("ROLLOUT_API_KEY", raising=False)
    seen: list[httpx.Request] = []
    http = httpx.Client(transport=empty_lists(seen), base_url="http://own/prefix", headers={"X-Team": "fleet"})
    with Client(http_client=http, key="k1") as client:
        assert client.rollout.list(projectid="p") == []
    assert not http.is_closed  # the caller's client: the caller closes it
    with Client("http://given", http_client=http) as client:
        client.rollout.list(projectid="p")
    with Client(http_client=httpx.Client(transport=empty_lists(seen))) as client:
        client.rollout.list(projectid="p")
    http.close()

    own, given, plain = seen
    assert str(own.url) == "http://own/prefix/v1"  # the passed client's base_url, when base_url is not given
    assert (own.headers["X-Team"], own.headers["Authorization"]) == ("fleet", "Bearer k1")
    assert own.headers["Content-Type"] == "application/json"
    assert str(given.url) == "http://given/v1"  # base_url, when given, wins
    assert "Authorization" not in given.headers
    assert str(plain.url) == "http://env-host:9999/v1"  # a client without base_url: the environment


def test_own_async_http_client_is_used_and_left_open() -> None:
    seen: list[httpx.Request] = []

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=empty_lists(seen), base_url="http://own") as http:
            async with AsyncClient(http_client=http, key="k2") as client:
                assert await client.rollout.list(projectid="p") == []
            assert not http.is_closed
            async with AsyncClient(http_client=http) as client, client.batch() as batch:
                pending = batch.rollout.list_devices(projectid="p", rolloutid="1")
            assert pending.result() == []

    asyncio.run(scenario())
    assert [str(request.url) for request in seen] == ["http://own/v1", "http://own/v1"]
    assert seen[0].headers["Authorization"] == "Bearer k2"


def test_transport_and_http_client_are_not_both_accepted() -> None:
    with httpx.Client() as http, pytest.raises(ValueError, match="transport or http_client, not both"):
        Client("http://mock", transport=httpx.MockTransport(lambda r: httpx.Response(200)), http_client=http)


def timeout_of(request: httpx.Request) -> dict[str, float | None]:
    timeouts: dict[str, float | None] = request.extensions["timeout"]
    return timeouts


def test_timeout_in_seconds_or_as_an_httpx_timeout() -> None:
    seen: list[httpx.Request] = []
    transport = empty_lists(seen)
    with Client("http://mock", transport=transport) as client:
        client.rollout.list()
    with Client("http://mock", transport=transport, timeout=5) as client:
        client.rollout.list()
    with Client("http://mock", transport=transport, timeout=httpx.Timeout(10.0, connect=2.0)) as client:
        client.rollout.list()
    with httpx.Client(transport=transport, timeout=httpx.Timeout(7.0)) as http:
        with Client("http://mock", http_client=http) as client:
            client.rollout.list()
        with Client("http://mock", http_client=http, timeout=httpx.Timeout(None, connect=1.0)) as client:
            client.rollout.list()

    async def scenario() -> None:
        async with AsyncClient("http://mock", transport=transport, timeout=httpx.Timeout(3.0, pool=0.5)) as client:
            await client.rollout.list()

    asyncio.run(scenario())
    assert [timeout_of(request) for request in seen] == [
        {"connect": 30.0, "read": 30.0, "write": 30.0, "pool": 30.0},  # the default
        {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0},
        {"connect": 2.0, "read": 10.0, "write": 10.0, "pool": 10.0},
        {"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0},  # the passed client's own
        {"connect": 1.0, "read": None, "write": None, "pool": None},  # timeout given: it wins
        {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 0.5},
    ]


# --- connection failures and retries ------------------------------------------------------------


def test_transport_error_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, retries=0) as client, pytest.raises(TransportError) as caught:
        client.rollout.get(projectid="p", rolloutid="1")
    assert isinstance(caught.value, Error)
    assert not isinstance(caught.value, RpcError)
    assert url in str(caught.value)

    async def scenario() -> None:
        async with AsyncClient(url, retries=1) as client:
            with pytest.raises(TransportError, match="cannot reach"):
                await client.rollout.create(projectid="p", firmwareid="f", device_filter=FILTER)

    asyncio.run(scenario())


def failing(attempts: list[httpx.Request], error: type[httpx.TransportError]) -> httpx.MockTransport:
    """A server that fails every request with `error`, counting the attempts."""

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise error("failed", request=request)

    return httpx.MockTransport(handler)


def refusing(attempts: list[httpx.Request]) -> httpx.MockTransport:
    """A server that never accepts the connection (nothing is sent), counting the attempts."""
    return failing(attempts, httpx.ConnectError)


def dropping(attempts: list[httpx.Request]) -> httpx.MockTransport:
    """A server that takes the request and never answers (it may have run it), counting the attempts."""
    return failing(attempts, httpx.ReadTimeout)


def typed_method(client: Client | AsyncClient, spec: MethodSpec[Any, Any]) -> Callable[..., Any]:
    """client.<service>.<method> for the spec: the attribute names the generator gives them."""
    return getattr(getattr(client, module_name(spec.service)), spec.attr)  # type: ignore[no-any-return]


def python_args(spec: MethodSpec[Any, Any]) -> dict[str, Any]:
    """Valid args for the spec's typed client method: keyword names as in Python, values from the definition."""
    args = spec.args_model.model_validate(sample_args(spec))
    return {name: getattr(args, name) for name in args.model_fields_set}


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without waiting between attempts."""
    monkeypatch.setattr("rollout_api.client.RETRY_BACKOFF_SECONDS", 0)


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ReadError])
@pytest.mark.parametrize("wire_name", sorted(METHODS))
def test_retries_follow_the_idempotency_level(wire_name: str, error: type[httpx.TransportError]) -> None:
    """A connect failure (nothing was sent) is retried for every method; a failure after the request may have
    reached the server only for methods whose idempotency is no_side_effects or idempotent."""
    spec = METHODS[wire_name]
    retries = 2
    nothing_sent = error in (httpx.ConnectError, httpx.ConnectTimeout)
    expected = 1 + retries if nothing_sent or spec.idempotency is not Idempotency.NONE else 1

    attempts: list[httpx.Request] = []
    with (
        Client("http://mock", retries=retries, transport=failing(attempts, error)) as client,
        pytest.raises(TransportError, match="http://mock"),
    ):
        typed_method(client, spec)(**python_args(spec))
    assert len(attempts) == expected
    assert len({request.content for request in attempts}) == 1  # the same frame each time

    async_attempts: list[httpx.Request] = []

    async def scenario() -> None:
        async with AsyncClient("http://mock", retries=retries, transport=failing(async_attempts, error)) as client:
            with pytest.raises(TransportError):
                await typed_method(client, spec)(**python_args(spec))

    asyncio.run(scenario())
    assert len(async_attempts) == expected


@pytest.mark.parametrize(
    ("wire_name", "level"),
    [
        ("/v1/Rollout.AddDevices", Idempotency.IDEMPOTENT),  # devices already in the rollout are left as they are
        ("/v1/Rollout.Create", Idempotency.NONE),  # each call makes a new rollout
        ("/v1/Rollout.Delete", Idempotency.IDEMPOTENT),  # gone either way; deleting again answers 404
        ("/v1/Rollout.Get", Idempotency.NO_SIDE_EFFECTS),
        ("/v1/Rollout.List", Idempotency.NO_SIDE_EFFECTS),
        ("/v1/Rollout.ListDevices", Idempotency.NO_SIDE_EFFECTS),
        ("/v1/Rollout.SetDeviceState", Idempotency.IDEMPOTENT),  # setting the current state again changes nothing
        ("/v1/Rollout.SetState", Idempotency.IDEMPOTENT),
    ],
)
def test_idempotency_level_of_each_rollout_method(wire_name: str, level: Idempotency) -> None:
    spec = METHODS[wire_name]
    assert spec.idempotency is level
    assert spec.readonly is (level is Idempotency.NO_SIDE_EFFECTS)


@pytest.mark.usefixtures("no_backoff")
def test_default_retries_and_batches() -> None:
    attempts: list[httpx.Request] = []
    with Client("http://mock", transport=dropping(attempts)) as client:
        with pytest.raises(TransportError):
            client.rollout.list_devices(projectid="p", rolloutid="1")
        assert len(attempts) == 3  # retries=2 by default

        attempts.clear()
        with pytest.raises(TransportError), client.batch() as batch:
            batch.rollout.get(projectid="p", rolloutid="1")
            batch.rollout.delete(projectid="p", rolloutid="1")
        assert len(attempts) == 3  # reads and idempotent writes may be repeated

        attempts.clear()
        with pytest.raises(TransportError), client.batch() as batch:
            batch.rollout.get(projectid="p", rolloutid="1")
            batch.rollout.create(projectid="p", firmwareid="f", device_filter=FILTER)
        assert len(attempts) == 1  # one command that may not be repeated keeps the whole frame from it

    refused: list[httpx.Request] = []
    with Client("http://mock", transport=refusing(refused)) as client:
        with pytest.raises(TransportError), client.batch() as batch:
            batch.rollout.get(projectid="p", rolloutid="1")
            batch.rollout.create(projectid="p", firmwareid="f", device_filter=FILTER)
        assert len(refused) == 3  # nothing was sent, so even that frame is sent again

    with Client("http://mock", retries=0, transport=dropping(attempts)) as client:
        attempts.clear()
        with pytest.raises(TransportError):
            client.rollout.get(projectid="p", rolloutid="1")
        assert len(attempts) == 1


class LosingFirstAnswer(httpx.BaseTransport):
    """Sends each request to the server, but loses the first answer on its way back, as a dropped connection
    would: the server has run the frame and the client sees a read error."""

    def __init__(self) -> None:
        self._http = httpx.HTTPTransport()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        response = self._http.handle_request(request)
        if self.sent == 1:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset while reading the answer", request=request)
        return response

    def close(self) -> None:
        self._http.close()


@pytest.mark.usefixtures("no_backoff")
def test_a_retried_idempotent_call_does_what_one_call_does(client: Client, server_url: str, project: str) -> None:
    """The service's rules make these methods idempotent: after an answer is lost, the re-sent command
    succeeds and leaves what one call leaves; a re-sent Delete answers 404, the rollout being gone either way."""
    rollout = create(client, project)
    client.rollout.add_devices(projectid=project, rolloutid=rollout, devices=["a"])

    def lossy() -> tuple[Client, LosingFirstAnswer]:
        transport = LosingFirstAnswer()
        return Client(server_url, transport=transport), transport

    calls: list[Callable[[Client], object]] = [
        lambda c: c.rollout.set_state(projectid=project, rolloutid=rollout, state=RolloutState.IN_PROGRESS),
        lambda c: c.rollout.add_devices(projectid=project, rolloutid=rollout, devices=["a", "b"]),
        lambda c: c.rollout.set_device_state(
            projectid=project, rolloutid=rollout, deviceid="a", state=DeviceState.STARTED, update_command_id="u1"
        ),
    ]
    for call in calls:
        retrying, transport = lossy()
        with retrying:
            call(retrying)
        assert transport.sent == 2
    assert client.rollout.get(projectid=project, rolloutid=rollout).state == RolloutState.IN_PROGRESS
    devices = client.rollout.list_devices(projectid=project, rolloutid=rollout)
    assert [(d.id, d.state, d.update_command_id) for d in devices] == [
        ("a", DeviceState.STARTED, "u1"),
        ("b", DeviceState.INIT, None),
    ]

    retrying, transport = lossy()
    with retrying, pytest.raises(NotFound):
        retrying.rollout.delete(projectid=project, rolloutid=rollout)
    assert transport.sent == 2
    with pytest.raises(NotFound):
        client.rollout.get(projectid=project, rolloutid=rollout)


def test_negative_retries_are_refused() -> None:
    with pytest.raises(ValueError, match="retries must be 0 or more, got -1"):
        Client("http://mock", retries=-1)


def test_retry_succeeds_after_a_connection_failure() -> None:
    attempts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        (cmd,) = json.loads(request.content)["cmds"]
        return httpx.Response(200, json={"v": 1, "resp": [{"id": cmd["id"], "status": 0, "resp": answered}]})

    answered = {
        "id": "7",
        "state": "paused",
        "deviceFilter": FILTER,
        "firmwareid": "f",
        "counts": {"init": 1, "started": 0, "succeeded": 0, "failed": 0},
        "total": 1,
        "createdAt": "2026-12-03T10:00:00Z",
        "updatedAt": "2026-12-03T10:00:00Z",
        "autoFinish": False,
    }
    with Client("http://mock", transport=httpx.MockTransport(handler)) as client:
        got = client.rollout.get(projectid="p", rolloutid="7")
    assert got == GetResult.model_validate(answered)
    assert got.state == RolloutState.PAUSED
    assert got.projectid is None
    assert len(attempts) == 2


# --- batches ------------------------------------------------------------------------------------


def test_mixed_batch(client: Client, project: str) -> None:
    rollout = create(client, project)
    with client.batch() as batch:
        got = batch.rollout.get(projectid=project, rolloutid=rollout)
        missing = batch.rollout.get(projectid=project, rolloutid=MISSING)
        added = batch.rollout.add_devices(projectid=project, rolloutid=rollout, devices=["y", "x"])
        bad = batch.rollout.list(projectid=project, after="1\n")  # passes the pattern (Python's $), not the server
        new = batch.rollout.create(projectid=project, firmwareid=FIRMWARE, device_filter=FILTER)
        illegal = batch.rollout.set_state(projectid=project, rolloutid=rollout, state="paused")
        devices = batch.rollout.list_devices(projectid=project, rolloutid=rollout)
        with pytest.raises(RuntimeError, match="not been sent"):
            got.result()
        with pytest.raises(RuntimeError, match="not been sent"):
            _ = got.error

    assert got.error is None
    assert isinstance(got.result(), GetResult)
    assert got.result().id == rollout
    assert isinstance(missing.error, NotFound)
    with pytest.raises(NotFound):
        missing.result()
    assert added.error is None
    added.result()
    assert isinstance(bad.error, InvalidArgument)
    with pytest.raises(InvalidArgument):
        bad.result()
    assert isinstance(new.result(), CreateResult)
    assert int(new.result().id) > int(rollout)
    assert isinstance(illegal.error, Conflict)
    # Commands ran in order: the devices added earlier in the frame are listed by a later command.
    assert [d.id for d in devices.result()] == ["x", "y"]
    errors = [p.error for p in (missing, bad, illegal)]
    error_ids = [e.command_id for e in errors if e is not None and e.command_id is not None]
    assert len(error_ids) == 3
    assert error_ids == sorted(error_ids)
    assert [r.id for r in client.rollout.list(projectid=project)] == [rollout, new.result().id]


def test_mixed_batch_async(server_url: str, project: str) -> None:
    async def scenario() -> None:
        async with AsyncClient(server_url) as client:
            rollout = await create_async(client, project)
            async with client.batch() as batch:
                started = batch.rollout.set_state(projectid=project, rolloutid=rollout, state="inProgress")
                missing = batch.rollout.delete(projectid=project, rolloutid=MISSING)
                got = batch.rollout.get(projectid=project, rolloutid=rollout)
                listed = batch.rollout.list(projectid=project, after="1\n")
                with pytest.raises(RuntimeError):
                    got.result()
            started.result()
            assert started.error is None
            assert isinstance(missing.error, NotFound)
            assert isinstance(got.result(), GetResult)
            assert got.result().state == RolloutState.IN_PROGRESS
            assert isinstance(listed.error, InvalidArgument)
            with pytest.raises(InvalidArgument):
                listed.result()

    asyncio.run(scenario())


def test_batch_is_not_sent_when_its_block_raises(client: Client, project: str) -> None:
    with pytest.raises(KeyError), client.batch() as batch:
        pending = batch.rollout.create(projectid=project, firmwareid=FIRMWARE, device_filter=FILTER)
        raise KeyError("stop")
    with pytest.raises(RuntimeError):
        pending.result()
    assert client.rollout.list(projectid=project) == []


def test_empty_batch_sends_nothing() -> None:
    attempts: list[httpx.Request] = []
    with Client("http://mock", transport=refusing(attempts)) as client, client.batch():
        pass
    assert attempts == []


# --- paging -------------------------------------------------------------------------------------


class CountingTransport(httpx.HTTPTransport):
    """The real transport, counting the requests (one per page)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


class AsyncCountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await super().handle_async_request(request)


def pages(items: int, page_size: int) -> int:
    """Requests an iterator makes: full pages, then the short (possibly empty) last one."""
    return items // page_size + 1


def add_many(client: Client, project: str, rollout: str, count: int) -> list[str]:
    devices = [f"dev-{i:03d}" for i in range(count)]
    client.rollout.add_devices(projectid=project, rolloutid=rollout, devices=devices[::-1])
    for device in devices[::3]:
        client.rollout.set_device_state(projectid=project, rolloutid=rollout, deviceid=device, state="failed")
    return devices


@pytest.mark.parametrize("count", [25, 21])
def test_iter_list_devices(server_url: str, client: Client, project: str, count: int) -> None:
    rollout = create(client, project)
    devices = add_many(client, project, rollout, count)
    everything = client.rollout.list_devices(projectid=project, rolloutid=rollout)
    assert [d.id for d in everything] == devices

    counting = CountingTransport()
    with Client(server_url, transport=counting) as paging:
        items = list(paging.rollout.iter_list_devices(projectid=project, rolloutid=rollout, page_size=7))
        assert items == everything
        assert counting.requests == pages(count, 7) > 3

        failed = list(
            paging.rollout.iter_list_devices(projectid=project, rolloutid=rollout, state="failed", page_size=2)
        )
        assert [d.id for d in failed] == devices[::3]
        assert all(d.state == DeviceState.FAILED for d in failed)

    async def scenario() -> None:
        transport = AsyncCountingTransport()
        async with AsyncClient(server_url, transport=transport) as paging:
            items = [
                d async for d in paging.rollout.iter_list_devices(projectid=project, rolloutid=rollout, page_size=7)
            ]
            assert items == everything
            assert transport.requests == pages(count, 7)
            failed = [
                d.id
                async for d in paging.rollout.iter_list_devices(
                    projectid=project, rolloutid=rollout, state="failed", page_size=3
                )
            ]
            assert failed == devices[::3]

    asyncio.run(scenario())


def test_iter_list(server_url: str, client: Client, project: str) -> None:
    rollouts = [create(client, project, name=f"r{i}") for i in range(7)]
    for rollout in rollouts[1::2]:
        client.rollout.set_state(projectid=project, rolloutid=rollout, state="inProgress")
    everything = client.rollout.list(projectid=project)
    assert [r.id for r in everything] == rollouts
    assert rollouts == sorted(rollouts, key=int)

    counting = CountingTransport()
    with Client(server_url, transport=counting) as paging:
        items = list(paging.rollout.iter_list(projectid=project, page_size=2))
        assert items == everything
        assert counting.requests == pages(len(rollouts), 2) > 3
        running = list(paging.rollout.iter_list(projectid=project, state="inProgress", page_size=2))
        assert [r.id for r in running] == rollouts[1::2]

    async def scenario() -> None:
        transport = AsyncCountingTransport()
        async with AsyncClient(server_url, transport=transport) as paging:
            items = [r async for r in paging.rollout.iter_list(projectid=project, page_size=2)]
            assert items == everything
            assert transport.requests == pages(len(rollouts), 2)
            running = [r.id async for r in paging.rollout.iter_list(projectid=project, state="inProgress", page_size=1)]
            assert running == rollouts[1::2]

    asyncio.run(scenario())


def test_iter_list_of_nothing(client: Client, project: str) -> None:
    assert list(client.rollout.iter_list(projectid=project, page_size=3)) == []
    rollout = create(client, project)
    assert list(client.rollout.iter_list_devices(projectid=project, rolloutid=rollout, page_size=3)) == []
