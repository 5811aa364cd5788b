"""What the headers alone refuse, before any of the body is read: a body not declared JSON (415), two
Authorization headers (400), and, while AUTH_DISABLED is set, a browser page of a foreign origin (403)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.composition import create_app
from app.settings import Settings
from tests.helpers import create_args, snapshot

GET_FRAME = b'{"v": 1, "cmds": [{"cmd": "/v1/Rollout.List", "id": 1}]}'


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        (None, "no Content-Type"),
        ("text/plain", "Content-Type 'text/plain'"),
        ("application/x-www-form-urlencoded", "Content-Type 'application/x-www-form-urlencoded'"),
        ("multipart/form-data; boundary=x", "Content-Type 'multipart/form-data; boundary=x'"),
    ],
)
@pytest.mark.parametrize("path", ["/v1", "/v1/Rollout.Create"])
def test_a_body_not_declared_json_is_415_and_changes_nothing(
    http: TestClient, project: str, path: str, content_type: str | None, shown: str
) -> None:
    """A browser sends these across sites without asking first; application/json it would have to ask for."""
    before = snapshot(http)
    body = GET_FRAME if path == "/v1" else str(create_args(project)).replace("'", '"').encode()
    headers = {} if content_type is None else {"content-type": content_type}
    response = http.post(path, content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert response.json() == {"status": 415, "status_msg": f"{shown}; send the body as Content-Type: application/json"}
    assert snapshot(http) == before


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_json_in_any_spelling_is_served(http: TestClient, content_type: str) -> None:
    response = http.post("/v1", content=GET_FRAME, headers={"content-type": content_type})
    assert response.status_code == 200, response.text


def test_two_authorization_headers_are_400(http: TestClient, admin_key: str) -> None:
    headers = [("content-type", "application/json"), ("authorization", f"Bearer {admin_key}")] * 2
    response = http.post("/v1", content=GET_FRAME, headers=headers)
    assert (response.status_code, response.json()) == (
        400,
        {"status": 400, "status_msg": "two Authorization headers; send one"},
    )


@pytest.fixture(scope="module")
def open_app(settings: Settings) -> Iterator[TestClient]:
    """The service with AUTH_DISABLED, one origin allowed besides its own address."""
    allowed = frozenset({"https://ops.example.com"})
    application = create_app(settings.model_copy(update={"auth_disabled": True, "allowed_origins": allowed}))
    with TestClient(application, base_url="http://127.0.0.1:8000") as client:
        yield client
    application.state.engine.dispose()


@pytest.mark.parametrize(
    ("origin", "host", "status"),
    [
        ("https://evil.example", "127.0.0.1:8000", 403),
        # DNS rebinding: the attacker's name now points here, so origin and host agree, on a name.
        ("http://rebound.example:8000", "rebound.example:8000", 403),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", 200),
        ("http://localhost:8000", "localhost:8000", 200),
        ("http://[::1]:8000", "[::1]:8000", 200),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", 403),
        ("https://ops.example.com", "rollouts.example.com", 200),
        (None, "rebound.example:8000", 200),  # not a browser: nothing to forge
    ],
)
def test_without_keys_only_own_or_allowed_origins_may_call(
    open_app: TestClient, origin: str | None, host: str, status: int
) -> None:
    headers = {"content-type": "application/json", "host": host}
    if origin is not None:
        headers["origin"] = origin
    response = open_app.post("/v1", content=GET_FRAME, headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["status_msg"] == (
            f"Origin {origin!r} may not call this server while AUTH_DISABLED is set; add it to ALLOWED_ORIGINS if it should"
        )


def test_with_keys_the_origin_is_not_checked(http: TestClient) -> None:
    """A page elsewhere has no key to send: the key is the protection."""
    headers = {"content-type": "application/json", "origin": "https://evil.example"}
    assert http.post("/v1", content=GET_FRAME, headers=headers).status_code == 200
