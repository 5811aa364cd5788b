"""Every answer carries its request's id in X-Request-Id: the caller's own when usable, else a new one; an
internal error's message names the same id, and the request's log line carries it with the caller's
principal (never the key), the method, the status and the duration."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.rollout import store as rollout_store
from tests.helpers import TEST_PRINCIPAL, cmd, create_args

FRAME = {"v": 1, "cmds": [{"cmd": "/v1/Rollout.List", "id": 1}]}
NEW_ID = re.compile(r"[0-9a-f]{12}")


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/v1", {"json": FRAME}),
        ("POST", "/v1/Rollout.List", {"json": {}}),
        ("POST", "/v1", {"content": b"not json", "headers": {"content-type": "application/json"}}),
        ("POST", "/v1", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
        ("GET", "/v1", {}),
        ("GET", "/healthz", {}),
        ("GET", "/openapi.json", {}),
    ],
    ids=["frame", "route", "not-json", "not-declared-json", "wrong-method", "healthz", "openapi"],
)
def test_every_answer_carries_a_request_id(http: TestClient, method: str, path: str, kwargs: dict[str, Any]) -> None:
    fresh = http.request(method, path, **kwargs)
    assert NEW_ID.fullmatch(fresh.headers["x-request-id"]), fresh.headers
    headers = {**kwargs.pop("headers", {}), "x-request-id": "trace-42.a:b"}
    echoed = http.request(method, path, headers=headers, **kwargs)
    assert echoed.headers["x-request-id"] == "trace-42.a:b"


@pytest.mark.parametrize("sent", ["", "x" * 129, "a b", "a/b", "a\tb"])
def test_an_unusable_request_id_is_replaced(http: TestClient, sent: str) -> None:
    response = http.post("/v1", json=FRAME, headers={"x-request-id": sent})
    assert NEW_ID.fullmatch(response.headers["x-request-id"])


def test_an_internal_error_names_the_request_id_of_its_answer(
    http: TestClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(rollout_store, "create_rollout", explode)
    framed = http.post(
        "/v1", json={"v": 1, "cmds": [cmd("Create", 1, **create_args(project))]}, headers={"x-request-id": "mine-1"}
    )
    assert framed.json()["resp"][0]["status_msg"] == "internal error; request id mine-1"
    routed = http.post("/v1/Rollout.Create", json=create_args(project))
    assert routed.json()["status_msg"] == f"internal error; request id {routed.headers['x-request-id']}"


def test_each_request_is_logged_once_with_its_id_caller_method_status_and_duration(
    http: TestClient, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.requests"):
        http.post("/v1", json={"v": 1, "cmds": [cmd("List", 1), cmd("List", 2)]}, headers={"x-request-id": "log-1"})
        http.post("/v1/Rollout.Get", json={"projectid": "p", "rolloutid": "1"}, headers={"x-request-id": "log-2"})
    records = [r for r in caplog.records if r.name == "app.requests"]
    assert [(r.request_id, r.principal, r.method, r.commands, r.status) for r in records] == [  # type: ignore[attr-defined]
        ("log-1", TEST_PRINCIPAL, "/v1", 2, 200),
        ("log-2", TEST_PRINCIPAL, "/v1/Rollout.Get", 1, 404),
    ]
    assert all(isinstance(r.duration_ms, float) and r.duration_ms >= 0 for r in records)  # type: ignore[attr-defined]
    assert admin_key not in caplog.text
