"""Which requests run on the event loop: small frames of bounded reads, and only on SQLite."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rollout_api import METHODS

from app.rpc.asgi import RpcApp
from app.rpc.exchange import QUICK_BODY_LIMIT, Exchange
from app.rpc.frames import FrameError


def frame(*cmds: dict[str, Any]) -> bytes:
    return json.dumps({"v": 1, "cmds": list(cmds)}).encode()


def get() -> dict[str, Any]:
    return {"cmd": "/v1/Rollout.Get", "args": {"projectid": "p", "rolloutid": "1"}}


@pytest.fixture
def exchange(app: RpcApp, database_url: str) -> Exchange:
    quick = app._exchange  # the app's own exchange, configured for its database
    assert quick._quick_reads is database_url.startswith("sqlite")
    return Exchange(
        dispatcher=app.state.dispatcher,
        authenticator=app.state.authenticator,
        max_commands=1000,
        quick_reads=True,
        streams=quick.streams,
    )


@pytest.mark.parametrize(
    ("body", "quick"),
    [
        (frame(get()), True),
        (frame(*[get()] * 100), True),
        (frame({"cmd": "/v1/Rollout.ListDevices", "args": {"projectid": "p", "rolloutid": "1", "limit": 100}}), True),
        # 100.0 is the JSON number 100: a page too.
        (frame({"cmd": "/v1/Rollout.List", "args": {"limit": 100.0}}), True),
        (frame({"cmd": "/v1/Rollout.ListDevices", "args": {"projectid": "p", "rolloutid": "1"}}), False),
        (frame({"cmd": "/v1/Rollout.List", "args": {}}), False),
        (frame(get(), {"cmd": "/v1/Rollout.Delete", "args": {"projectid": "p", "rolloutid": "1"}}), False),
        (frame({"cmd": "/v1/Rollout.Create", "args": {}}), False),
        (b"not json", True),
        (frame(*[get()] * (QUICK_BODY_LIMIT // 60)), False),
    ],
    ids=[
        "get",
        "100-gets",
        "page",
        "page-limit-with-zero-fraction",
        "unlimited-list-devices",
        "unlimited-list",
        "with-a-write",
        "write",
        "garbage",
        "big",
    ],
)
def test_frames_that_run_on_the_loop(exchange: Exchange, body: bytes, quick: bool) -> None:
    assert runs_on_the_loop(exchange, body) is quick


def runs_on_the_loop(exchange: Exchange, body: bytes) -> bool:
    """As the ASGI front decides: a small body is read on the loop, and runs there when its commands are
    all bounded reads; a body that is not a frame is answered at once."""
    if not exchange.may_parse_here(body):
        return False
    try:
        return exchange.frame_is_quick(exchange.read_frame(body))
    except FrameError:
        return True


def test_method_routes_follow_the_same_rule(exchange: Exchange) -> None:
    assert exchange.method_is_quick(METHODS["/v1/Rollout.Get"], {"projectid": "p", "rolloutid": "1"})
    assert not exchange.method_is_quick(METHODS["/v1/Rollout.ListDevices"], {"projectid": "p", "rolloutid": "1"})
    assert not exchange.method_is_quick(METHODS["/v1/Rollout.SetState"], {})
