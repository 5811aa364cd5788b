"""When no pooled connection is free in time, a request is answered 503 "try again" before any of its commands
ran, on both routes; the event loop's own connection keeps serving quick reads meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.rpc.asgi import RpcApp
from app.storage import db
from tests.helpers import TEST_PRINCIPAL, cmd, create_args, snapshot


@contextmanager
def exhausted(app: RpcApp) -> Iterator[None]:
    """Every connection the pool can lend is taken, and a wait for one gives up after a tenth of a second."""
    engine = app.state.engine
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine.pool, "_timeout", 0.1)
        taken = []
        with suppress(PoolTimeout):  # the loop's own lease may hold one already
            for _ in range(db.pool_capacity(engine)):
                taken.append(engine.raw_connection())
        try:
            yield
        finally:
            for connection in taken:
                connection.close()


def test_a_request_without_a_free_connection_is_503_and_runs_nothing(
    app: RpcApp, http: TestClient, project: str
) -> None:
    before = snapshot(http)
    frame = {"v": 1, "src": TEST_PRINCIPAL, "cmds": [cmd("Create", 1, **create_args(project))]}
    with exhausted(app):
        started = time.monotonic()
        framed = http.post("/v1", json=frame)
        routed = http.post("/v1/Rollout.Create", json=create_args(project))
        took = time.monotonic() - started
    busy = {"status": 503, "status_msg": "no database connection was free in time; the server is busy, try again"}
    assert (framed.status_code, framed.json()) == (503, busy)
    assert (routed.status_code, routed.json()) == (503, busy)
    assert took < 2, "refused after the pool's timeout, not after a long wait"
    assert snapshot(http) == before
