"""SIGTERM stops a server gracefully: it stops accepting connections, lets the frames it is running finish (for up
to SHUTDOWN_GRACE_SECONDS), closes its pool and exits 0. Every acknowledged command is stored; no command is
half done.

To catch frames in the middle, the test holds the database's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
table lock that blocks inserts into rollout_device) while the frames arrive, so they are certainly running,
blocked at their first AddDevices, when SIGTERM comes; then it lets go. Every test runs on each backend of the
`database_url` fixture.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import text

from app.storage.db import make_engine, transaction
from tests.helpers import LiveServer

CALLER = "//api.cesanta.com/shutdown"
COMMANDS = 1000
DEVICES_PER_COMMAND = 5
# How long the frames are held at the lock before SIGTERM: enough for them to reach the database.
ARRIVAL_SECONDS = 1.5


@contextmanager
def write_lock(database_url: str) -> Iterator[None]:
    """Writers of rollout_device wait while this is held (readers do not)."""
    engine = make_engine(database_url)
    try:
        with transaction(engine, writes=True) as connection:  # on SQLite: BEGIN IMMEDIATE
            if engine.dialect.name == "postgresql":
                connection.execute(text("LOCK TABLE rollout_device IN SHARE ROW EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


class Frames:
    """Frames of COMMANDS AddDevices each, sent from threads; what each got back."""

    def __init__(self, server: LiveServer, project: str, rollout_id: str) -> None:
        self.url = f"{server.url}/v1"
        self.headers = {"Authorization": f"Bearer {server.key(CALLER)}"}
        self.project, self.rollout_id = project, rollout_id
        self.answers: dict[int, Any] = {}
        self._threads: list[threading.Thread] = []

    def devices(self, frame: int, command: int) -> list[str]:
        return [f"f{frame}-c{command:04d}-d{device}" for device in range(DEVICES_PER_COMMAND)]

    def send(self, frame: int) -> None:
        args = {"projectid": self.project, "rolloutid": self.rollout_id}
        cmds = [
            {
                "cmd": "/v1/Rollout.AddDevices",
                "id": command + 1,
                "args": {**args, "devices": self.devices(frame, command)},
            }
            for command in range(COMMANDS)
        ]

        def post() -> None:
            try:
                response = httpx.post(self.url, json={"v": 1, "cmds": cmds}, headers=self.headers, timeout=120.0)
                self.answers[frame] = response.json() if response.status_code == 200 else response.text
            except httpx.TransportError as exc:
                self.answers[frame] = exc

        thread = threading.Thread(target=post)
        thread.start()
        self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=120)
            assert not thread.is_alive()

    def acknowledged(self, frame: int) -> list[int]:
        """The commands of `frame` whose success the client was told (indexes)."""
        answer = self.answers.get(frame)
        if not isinstance(answer, dict):
            return []
        return [entry["id"] - 1 for entry in answer["resp"] if entry["status"] == 0]


def stored_devices(database_url: str, rollout_id: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT device_id FROM rollout_device WHERE rollout_id = :id"), {"id": int(rollout_id)}
            )
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def start(database_url: str, grace: int) -> tuple[LiveServer, Frames]:
    server = LiveServer(database_url, SHUTDOWN_GRACE_SECONDS=str(grace))
    project = f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"
    headers = {"Authorization": f"Bearer {server.key(CALLER)}"}
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Lab"}
    created = httpx.post(
        f"{server.url}/v1", json={"v": 1, "cmds": [{"cmd": "/v1/Rollout.Create", "args": args}]}, headers=headers
    )
    rollout_id = created.json()["resp"][0]["resp"]["id"]
    return server, Frames(server, project, rollout_id)


def whole_commands(frames: Frames, frame: int, stored: set[str]) -> list[int]:
    """The commands of `frame` whose devices are stored; fails on a command stored in part."""
    done = []
    for command in range(COMMANDS):
        devices = set(frames.devices(frame, command))
        assert devices <= stored or not devices & stored, f"frame {frame} command {command} is half done"
        if devices <= stored:
            done.append(command)
    return done


def test_sigterm_lets_running_frames_finish_and_exits_0(database_url: str) -> None:
    server, frames = start(database_url, grace=60)
    try:
        with write_lock(database_url):
            for frame in range(3):
                frames.send(frame)
            time.sleep(ARRIVAL_SECONDS)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            # Stopped accepting, but still running what it has.
            try:
                httpx.get(f"{server.url}/healthz", timeout=2.0)
                accepted = True
            except httpx.TransportError:
                accepted = False
            assert not accepted, "the server still accepts connections after SIGTERM"
            assert server.process.poll() is None, server.output()[-3000:]
        frames.join()
        assert server.process.wait(timeout=60) == 0, server.output()[-3000:]
        output = server.output()
    finally:
        server.stop()
    assert "Traceback" not in output, output[-3000:]
    stored = stored_devices(database_url, frames.rollout_id)
    for frame in range(3):
        assert frames.acknowledged(frame) == list(range(COMMANDS)), (frame, str(frames.answers.get(frame))[:500])
        assert whole_commands(frames, frame, stored) == list(range(COMMANDS))


def test_after_the_grace_period_the_running_command_finishes_and_no_other_starts(database_url: str) -> None:
    server, frames = start(database_url, grace=1)
    try:
        with write_lock(database_url):
            frames.send(0)
            time.sleep(ARRIVAL_SECONDS)
            server.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 20
            while "graceful shutdown exceeded" not in server.output():
                assert time.monotonic() < deadline, server.output()[-3000:]
                time.sleep(0.05)
            time.sleep(0.3)
            assert server.process.poll() is None, "the server did not wait for the command it was running"
        assert server.process.wait(timeout=30) == 0, server.output()[-3000:]
        frames.join()
    finally:
        server.stop()
    assert frames.acknowledged(0) == [], "the client was not answered: the grace period had passed"
    stored = stored_devices(database_url, frames.rollout_id)
    # The command that held the lock's wait finished; none after it started.
    assert whole_commands(frames, 0, stored) == [0]
