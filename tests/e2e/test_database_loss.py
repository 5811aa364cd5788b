"""The SQLite file deleted or made read-only under a running server (`python -m app serve`).

Deleted, the server used to go on acknowledging writes into the deleted file (lost at the next start), and new
pooled connections created an empty file, so answers split between success and `no such table`. Now a write
fails instead of being acknowledged, no file is created behind the operator's back, /readyz answers 503 naming
the file while /healthz (liveness) stays 200, and the process lives on.
"""

from __future__ import annotations

import os
import stat
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from app.storage.db import SQLITE_CONNECTIONS
from tests.helpers import LiveServer, as_plain_user

CALLER = "//api.cesanta.com/backend"


class Api:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {server.key(CALLER)}"}
        self.project = f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"

    def command(self, method: str, **args: Any) -> tuple[int, int | None]:
        """HTTP status and the command's status (None when the answer is not a response frame)."""
        frame = {
            "v": 1,
            "cmds": [{"cmd": f"/v1/Rollout.{method}", "id": 1, "args": {"projectid": self.project, **args}}],
        }
        response = httpx.post(f"{self.server.url}/v1", json=frame, headers=self.headers, timeout=30.0)
        try:
            return response.status_code, response.json()["resp"][0]["status"]
        except (ValueError, KeyError, IndexError, TypeError):
            return response.status_code, None

    def create(self) -> str:
        frame = {"v": 1, "cmds": [{"cmd": "/v1/Rollout.Create", "id": 1, "args": self._create_args()}]}
        response = httpx.post(f"{self.server.url}/v1", json=frame, headers=self.headers, timeout=30.0)
        (entry,) = response.json()["resp"]
        assert entry["status"] == 0, entry
        rollout_id: str = entry["resp"]["id"]
        return rollout_id

    def _create_args(self) -> dict[str, str]:
        return {"projectid": self.project, "firmwareid": "fw-1", "deviceFilter": "location=Lab"}


def readiness(server: LiveServer) -> httpx.Response:
    return httpx.get(f"{server.url}/readyz", timeout=30.0)


def test_a_deleted_sqlite_file_fails_writes_and_readiness_instead_of_losing_them(tmp_path: Path) -> None:
    path = tmp_path / "rollout.db"
    server = LiveServer(f"sqlite:///{path}")
    try:
        api = Api(server)
        rollout_id = api.create()

        for file in tmp_path.glob("rollout.db*"):  # what `rm rollout.db*` does
            file.unlink()
        # More writes at once than the pool has connections, so that fresh connections are opened too.
        writes = 3 * SQLITE_CONNECTIONS

        def add(index: int) -> tuple[int, int | None]:
            return api.command("AddDevices", rolloutid=rollout_id, devices=[f"dev-{index}"])

        with ThreadPoolExecutor(max_workers=writes) as pool:
            answers = list(pool.map(add, range(writes)))
        acknowledged = [answer for answer in answers if answer == (200, 0)]
        assert acknowledged == [], f"writes acknowledged into a deleted file: {answers}"
        assert not path.exists(), "a connection created an empty database file"

        ready = readiness(server)
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert body["status"] == "not ready"
        assert any(str(path) in problem and "missing" in problem for problem in body["problems"]), body
        assert httpx.get(f"{server.url}/healthz", timeout=10.0).status_code == 200
        assert server.process.poll() is None, server.output()[-3000:]
    finally:
        server.stop()


def test_a_sqlite_file_made_read_only_under_the_server_is_not_ready_and_does_not_crash_it(tmp_path: Path) -> None:
    path = tmp_path / "rollout.db"
    server = LiveServer(f"sqlite:///{path}", prefix=as_plain_user())
    try:
        api = Api(server)
        rollout_id = api.create()
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        ready = readiness(server)
        assert ready.status_code == 503, ready.text
        assert any(str(path) in problem and "read-only" in problem for problem in ready.json()["problems"])
        # Connections opened before keep their write access; what matters is an answer, not a crash.
        http_status, _status = api.command("AddDevices", rolloutid=rollout_id, devices=["dev-1"])
        assert http_status in (200, 500)
        assert server.process.poll() is None, server.output()[-3000:]
        assert httpx.get(f"{server.url}/healthz", timeout=10.0).status_code == 200
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        assert readiness(server).status_code == 200
    finally:
        server.stop()
