"""The README's curl blocks, run as written (but for the server's address) against a fresh server on a port of its
own; the client's README examples are in tests/client/test_readme.py, which marks these blocks."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.client.test_readme import CURL_BLOCKS, README_URL, readme_examples
from tests.helpers import LiveServer


@pytest.fixture(scope="module")
def curl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, str]]:
    """A server on a fresh database and a port of its own, with METRICS_KEY set; an admin key named //admin."""
    database = f"sqlite:///{tmp_path_factory.mktemp('curl') / 'curl.db'}"
    metrics_key = f"metrics-{uuid.uuid4().hex}"
    server = LiveServer(database, METRICS_KEY=metrics_key)
    try:
        yield server, server.key("//admin", "admin"), metrics_key
    finally:
        server.stop()


def run_shell(block: str, server: LiveServer, key: str, metrics_key: str) -> subprocess.CompletedProcess[str]:
    """A README shell block as written, but for the server's address, with the keys where the README says."""
    script = block.replace(README_URL, server.url)
    env = {**os.environ, "ROLLOUT_API_KEY": key, "METRICS_KEY": metrics_key}
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def json_values(text: str) -> list[Any]:
    """The JSON values curl printed one after another (no separator between them)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def test_readme_curl_blocks_run_as_written(curl_server: tuple[LiveServer, str, str]) -> None:
    examples = readme_examples()
    assert set(CURL_BLOCKS) <= set(examples)
    server, key, metrics_key = curl_server

    done = run_shell(examples["curl"][1], server, key, metrics_key)
    assert done.returncode == 0, done.stderr
    created, listed = json_values(done.stdout)
    # As the README shows it, on a fresh database.
    assert created == {
        "v": 1,
        "src": "//api.cesanta.com",
        "dst": "//admin",
        "resp": [{"id": 123, "status": 0, "resp": {"id": "1"}}],
    }
    assert [rollout["id"] for rollout in listed["resp"][0]["resp"]] == ["1"]

    done = run_shell(examples["curl-route"][1], server, key, metrics_key)
    assert done.returncode == 0, done.stderr
    (got,) = json_values(done.stdout)
    assert (got["id"], got["name"], got["state"]) == ("1", "Today's rollout", "init")

    done = run_shell(examples["curl-metrics"][1], server, key, metrics_key)
    assert done.returncode == 0, done.stderr
    assert any(
        line.startswith('rollout_commands_total{method="/v1/Rollout.Get",status="0"} ')
        for line in done.stdout.splitlines()
    ), done.stdout
