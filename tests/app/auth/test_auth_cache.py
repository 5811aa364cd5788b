"""A server remembers a checked key for auth_cache_seconds: revocation takes effect within that time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.auth.keys import revoke_key
from app.composition import create_app
from app.rpc.asgi import RpcApp
from app.settings import Settings
from app.storage.db import make_engine, transaction
from tests.helpers import make_key

CACHE_SECONDS = 1


@pytest.fixture
def cached_app(settings: Settings) -> Iterator[RpcApp]:
    application = create_app(settings.model_copy(update={"auth_cache_seconds": CACHE_SECONDS}))
    yield application
    application.state.engine.dispose()


def _key_id(database_url: str, principal: str) -> int:
    from sqlalchemy import text

    engine = make_engine(database_url)
    with transaction(engine, writes=False) as connection:
        key_id: int = connection.execute(
            text("SELECT id FROM api_key WHERE principal = :p"), {"p": principal}
        ).scalar_one()
    engine.dispose()
    return key_id


def test_revoked_key_stops_working_once_the_cache_expires(cached_app: RpcApp, settings: Settings) -> None:
    principal = f"//cache-test-{time.monotonic_ns()}"
    key = make_key(settings.database_url, principal=principal, role="admin")
    with TestClient(cached_app, headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.post("/v1/Rollout.List", json={"projectid": "p"}).status_code == 200
        engine = make_engine(settings.database_url)
        with transaction(engine, writes=True) as connection:
            assert revoke_key(connection, key_id=_key_id(settings.database_url, principal))
        engine.dispose()
        # Still remembered: the cache is what saves a database round trip per request.
        assert client.post("/v1/Rollout.List", json={"projectid": "p"}).status_code == 200
        time.sleep(CACHE_SECONDS + 0.2)
        answer = client.post("/v1/Rollout.List", json={"projectid": "p"})
        assert answer.status_code == 401
        assert answer.json() == {"status": 401, "status_msg": "invalid or revoked API key"}


def test_unknown_keys_are_never_cached(cached_app: RpcApp, settings: Settings) -> None:
    with TestClient(cached_app, headers={"Authorization": "Bearer rk_not-a-key"}) as client:
        assert client.post("/v1/Rollout.List", json={}).status_code == 401
    # A key made afterwards works at once, even though a wrong one was just refused.
    key = make_key(settings.database_url, principal="//cache-new", role="admin")
    with TestClient(cached_app, headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.post("/v1/Rollout.List", json={}).status_code == 200
