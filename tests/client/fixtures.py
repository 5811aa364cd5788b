"""Fixtures of the client tests: a live server run by another Python, a fresh project, a Client.

The `client_tests` nox session loads this module as a plugin (`-p tests.client.fixtures`, with
`--noconftest`) in a venv that holds only the client, so it imports nothing but the stdlib,
httpx, pytest, rollout_api and tests.helpers (which keeps to the same). The server runs as
`python -m app serve` from the Python named by ROLLOUT_SERVER_PYTHON (a venv where the service
is installed), or this one when that is unset.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rollout_api import Client

from tests.helpers import ROOT, free_port

__all__ = ["client", "project", "server_url"]

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
MAX_COMMANDS = 1000
"""Commands per frame the test server accepts (its default, set explicitly so the environment cannot change it)."""


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of `python -m app serve` on a fresh SQLite database, for the whole session."""
    directory = tmp_path_factory.mktemp("client_server")
    log_path = directory / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{directory / 'client.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MAX_COMMANDS": str(MAX_COMMANDS),
    }
    python = os.environ.get("ROLLOUT_SERVER_PYTHON", sys.executable)
    # Every Client, example and CLI call in these tests finds the key where users keep it: ROLLOUT_API_KEY.
    previous_key = os.environ.get("ROLLOUT_API_KEY")
    os.environ["ROLLOUT_API_KEY"] = create_admin_key(python, env)
    # The output goes to a file, not a pipe: nobody reads it while tests run, and a full pipe would block the server.
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [python, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(process, url, log_path)
        yield url
    finally:
        _stop(process)
        if previous_key is None:
            os.environ.pop("ROLLOUT_API_KEY", None)
        else:
            os.environ["ROLLOUT_API_KEY"] = previous_key


def create_admin_key(python: str, env: dict[str, str]) -> str:
    """`python -m app keys create` on the server's database; the key is the last line it prints."""
    command = [python, "-m", "app", "keys", "create", "--principal", "//client-tests", "--role", "admin"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before it was ready:\n{_output(log_path)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server on {url} was not ready after {READY_TIMEOUT}s:\n{_output(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _output(log_path: Path) -> str:
    return log_path.read_text(errors="replace")


@pytest.fixture
def project() -> str:
    """A project id no other test uses, so tests sharing the server never see each other's rollouts."""
    return f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(server_url: str) -> Iterator[Client]:
    """A Client on the live server, closed after the test."""
    with Client(server_url) as rollout_client:
        yield rollout_client
