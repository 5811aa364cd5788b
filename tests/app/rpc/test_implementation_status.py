"""What the server answers for methods it does not serve: a defined method without an implementation answers
501 on both routes and is named in a warning at start; a name that is no method answers 404 with the
nearest method and every method."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api import METHODS, MethodSpec
from rollout_api.envelope import FrameHead
from rollout_api.server import Services

from app.auth.keys import Caller
from app.composition import create_app
from app.rpc.asgi import RpcApp
from app.rpc.dispatch import Dispatcher
from app.settings import Settings
from tests.helpers import TEST_PRINCIPAL, sample_args, snapshot

ADMIN = Caller(principal=TEST_PRINCIPAL, role="admin", projects=None)
ALL_METHODS = f"Methods: {', '.join(sorted(METHODS))}"
# A method added to the definitions that the app's class does not have yet: a copy of the first Rollout
# method under a new name (one no real method will take), as the generator would add it to the table.
_TEMPLATE = next(spec for spec in METHODS.values() if spec.service == "Rollout")
LATER: MethodSpec[Any, Any] = dataclasses.replace(
    _TEMPLATE,
    method="ImplementedLater",
    wire_name="/v1/Rollout.ImplementedLater",
    attr="implemented_later",
    doc="A method defined before it is implemented.",
    examples=(),
)
NOT_IMPLEMENTED = "/v1/Rollout.ImplementedLater is not implemented by this server"


def _client(application: RpcApp, key: str) -> TestClient:
    return TestClient(application, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def with_later(settings: Settings, caplog: pytest.LogCaptureFixture) -> Iterator[RpcApp]:
    """The app with ImplementedLater in its method table, started while the log is captured."""
    with caplog.at_level(logging.WARNING, logger="app.composition"):
        application = create_app(settings, methods={**METHODS, LATER.wire_name: LATER})
    yield application
    application.state.engine.dispose()


def test_defined_method_without_implementation_answers_501_on_both_routes(
    with_later: RpcApp, admin_key: str, project: str
) -> None:
    args = sample_args(LATER, projectid=project)
    with _client(with_later, admin_key) as client:
        before = snapshot(client)
        frame = {"v": 1, "src": TEST_PRINCIPAL, "cmds": [{"cmd": LATER.wire_name, "id": 1, "args": args}]}
        response = client.post("/v1", json=frame)
        assert response.status_code == 200, response.text
        assert response.json()["resp"] == [{"id": 1, "status": 501, "status_msg": NOT_IMPLEMENTED}]
        routed = client.post(LATER.wire_name, json=args)
        assert routed.status_code == 501, routed.text
        assert routed.json() == {"status": 501, "status_msg": NOT_IMPLEMENTED}
        assert snapshot(client) == before
        # The methods the class does implement still work beside it.
        listed = client.post("/v1/Rollout.List", json={"projectid": project})
        assert listed.status_code == 200, listed.text


def test_start_warns_about_each_unimplemented_method(with_later: RpcApp, caplog: pytest.LogCaptureFixture) -> None:
    # The app started in the fixture, so its log is the setup phase's.
    logged = caplog.get_records("setup")
    warnings = [r.getMessage() for r in logged if r.name == "app.composition" and r.levelno == logging.WARNING]
    assert warnings == ["/v1/Rollout.ImplementedLater is defined but not implemented by this server; it answers 501"]


def test_start_warns_about_nothing_when_every_method_is_implemented(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.composition"):
        create_app(settings).state.engine.dispose()
    assert [r for r in caplog.records if r.name == "app.composition"] == []


class _Nothing:
    """Implements no method at all."""


def _bound_to_nothing() -> Services[Any]:
    return Services(rollout=_Nothing())  # type: ignore[arg-type]  # mypy refuses it: the ignore is needed


def _service_left_out() -> Services[Any]:
    return Services()  # type: ignore[call-arg]  # a new service nobody has bound yet


@pytest.mark.parametrize("binding", [_bound_to_nothing, _service_left_out], ids=["empty-class", "service-left-out"])
def test_class_that_implements_nothing_answers_501_for_every_method(
    settings: Settings,
    admin_key: str,
    project: str,
    caplog: pytest.LogCaptureFixture,
    binding: Callable[[], Services[Any]],
) -> None:
    # mypy refuses both bindings (the ignores would be unused otherwise); the server still starts and answers 501.
    with caplog.at_level(logging.WARNING, logger="app.composition"):
        bare = create_app(settings, services=binding())
    try:
        with _client(bare, admin_key) as client:
            before = snapshot(client)
            for spec in METHODS.values():
                message = f"{spec.wire_name} is not implemented by this server"
                args = sample_args(spec, projectid=project)
                frame = {"v": 1, "src": TEST_PRINCIPAL, "cmds": [{"cmd": spec.wire_name, "id": 1, "args": args}]}
                assert client.post("/v1", json=frame).json()["resp"] == [
                    {"id": 1, "status": 501, "status_msg": message}
                ]
                routed = client.post(spec.wire_name, json=args)
                assert (routed.status_code, routed.json()) == (501, {"status": 501, "status_msg": message})
            assert snapshot(client) == before
    finally:
        bare.state.engine.dispose()
    warned = {r.getMessage().split(" ")[0] for r in caplog.records if r.name == "app.composition"}
    assert warned == set(METHODS)


def test_dispatcher_without_a_handler_answers_501_after_checking_args(app: RpcApp, project: str) -> None:
    dispatcher = Dispatcher(methods=METHODS, handlers={}, engine=app.state.engine, server_address="//api.cesanta.com")
    spec = next(iter(METHODS.values()))
    outcome = dispatcher.call(spec, sample_args(spec, projectid=project), ADMIN, "test")
    assert (outcome.status, outcome.message) == (501, f"{spec.wire_name} is not implemented by this server")
    # Args are still checked first: a malformed call is 400 even for an unimplemented method.
    frame = FrameHead(v=1, src=TEST_PRINCIPAL, cmds=[{"cmd": spec.wire_name, "id": 4, "args": {"x": 1}}])
    (entry,) = dispatcher.run_frame(frame, time.time(), ADMIN)["resp"]
    assert (entry["id"], entry["status"]) == (4, 400)


# --- a name that is no method: 404, the nearest method, every method ---------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/Rollout.get", f"No handler for /v1/Rollout.get; did you mean /v1/Rollout.Get? {ALL_METHODS}"),
        ("/v1/Rolout.Get", f"No handler for /v1/Rolout.Get; did you mean /v1/Rollout.Get? {ALL_METHODS}"),
        ("/v1/Rollout.Nope", f"No handler for /v1/Rollout.Nope. {ALL_METHODS}"),
        ("/v1/Nope", f"No handler for /v1/Nope. {ALL_METHODS}"),
        # Outside /v1/ a path names a method only when it is near one.
        ("/Rollout.Get", f"No handler for /Rollout.Get; did you mean /v1/Rollout.Get? {ALL_METHODS}"),
        ("/Rollout.get", f"No handler for /Rollout.get; did you mean /v1/Rollout.Get? {ALL_METHODS}"),
        ("/nothing/here", "No handler for /nothing/here"),
    ],
)
def test_unknown_route_answers_404_with_the_nearest_method(http: TestClient, path: str, message: str) -> None:
    response = http.post(path, json={})
    assert response.status_code == 404
    assert response.json() == {"status": 404, "status_msg": message}


def test_a_very_long_unknown_name_gets_no_suggestion(http: TestClient) -> None:
    cmd = "/v1/Rollout.Get" + "x" * 10_000
    frame = {"v": 1, "src": TEST_PRINCIPAL, "cmds": [{"cmd": cmd, "id": 1}]}
    (entry,) = http.post("/v1", json=frame).json()["resp"]
    assert entry == {"id": 1, "status": 404, "status_msg": f"No handler for {cmd}. {ALL_METHODS}"}
