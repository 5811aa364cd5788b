"""Fixtures shared by every test: a database per backend, the app in-process, a live server.

Only fixtures live here; the helpers they and the tests use are in tests/helpers.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.composition import create_app
from app.rpc.asgi import RpcApp
from app.settings import Settings
from app.storage.db import make_engine
from tests.helpers import BACKENDS, TEST_PRINCIPAL, LiveServer, make_key, migrate, postgres_schema_url

# The browser suite needs Playwright and Chromium; it runs in its own session (nox -s browser).
collect_ignore = [] if os.environ.get("RUN_BROWSER_TESTS") else ["browser"]
# The external-generator check needs openapi-python-client; it runs in its own session (nox -s openapi_client).
collect_ignore += [] if os.environ.get("RUN_OPENAPI_CLIENT") else ["external"]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a fresh schema in the PostgreSQL test database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'rollout.db'}"
        migrate(url)
        yield url
        return
    base = os.environ["TEST_DATABASE_URL"]
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_schema_url(base, schema)
    migrate(url)
    yield url
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # No key cache in tests: a revoked key must fail on the very next request.
    return Settings(database_url=database_url, server_address="//api.cesanta.com", auth_cache_seconds=0)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[RpcApp]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="session")
def admin_key(database_url: str) -> str:
    return make_key(database_url, principal=TEST_PRINCIPAL, role="admin")


@pytest.fixture(scope="session")
def http(app: RpcApp, admin_key: str) -> Iterator[TestClient]:
    """The app in-process over HTTP semantics (no socket), as an admin whose address is TEST_PRINCIPAL."""
    with TestClient(app, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        yield client


@pytest.fixture
def project() -> str:
    """A project id no other test uses, so tests sharing a database never see each other's rollouts."""
    return f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(database_url, SERVER_ADDRESS="//api.cesanta.com")
    yield server
    server.stop()
