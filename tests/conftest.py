"""Fixtures shared by every test: a database per backend, the app in-process, a live server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.auth.keys import create_key
from app.composition import create_app
from app.rpc.asgi import RpcApp
from app.settings import Settings
from app.storage.db import make_engine, normalise_url, transaction
from app.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
# The browser suite needs Playwright and Chromium; it runs in its own session (nox -s browser).
collect_ignore = [] if os.environ.get("RUN_BROWSER_TESTS") else ["browser"]
# The external-generator check needs openapi-python-client; it runs in its own session (nox -s openapi_client).
collect_ignore += [] if os.environ.get("RUN_OPENAPI_CLIENT") else ["external"]
# PostgreSQL runs only when TEST_DATABASE_URL names one (CI sets it); SQLite always runs.
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])]


def postgres_schema_url(base: str, schema: str) -> str:
    url = normalise_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def migrate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


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


TEST_PRINCIPAL = "//test"


def make_key(database_url: str, *, principal: str, role: str) -> str:
    """A new API key in the database (as `python -m app keys create` would make it)."""
    engine = make_engine(database_url)
    with transaction(engine, writes=True) as session:
        _, key = create_key(session, principal=principal, role=role)
    engine.dispose()
    return key


@pytest.fixture(scope="session")
def admin_key(database_url: str) -> str:
    return make_key(database_url, principal=TEST_PRINCIPAL, role="admin")


@pytest.fixture(scope="session")
def http(app: RpcApp, admin_key: str) -> Iterator[TestClient]:
    """The app in-process over HTTP semantics (no socket), as an admin whose address is //test."""
    with TestClient(app, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        yield client


@pytest.fixture
def project() -> str:
    """A project id no other test uses, so tests sharing a database never see each other's rollouts."""
    return f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """`python -m app serve` in a child process, as a user would run it."""

    def __init__(self, database_url: str, *, cwd: Path = ROOT, **env: str) -> None:
        """env is added to this process's environment; cwd is where `python -m app` runs."""
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {**os.environ, "DATABASE_URL": database_url, "HOST": "127.0.0.1", "PORT": str(self.port), **env}
        # A file, not a pipe: nobody has to keep reading the request log for the server to keep running.
        self.log = tempfile.NamedTemporaryFile(prefix="rollout-server-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=cwd, env=environ, stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    def key(self, principal: str, role: str = "admin") -> str:
        """A new API key on this server's database."""
        return make_key(self.database_url, principal=principal, role=role)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on {self.url} did not become ready in {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(database_url, SERVER_ADDRESS="//api.cesanta.com")
    yield server
    server.stop()


def frame(*cmds: dict[str, Any], src: str = "//api.cesanta.com/user_123") -> dict[str, Any]:
    """A request frame around the given commands."""
    return {"v": 1, "src": src, "dst": "//api.cesanta.com", "cmds": list(cmds)}
