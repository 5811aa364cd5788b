"""A server killed (SIGKILL) in the middle of a large AddDevices leaves all of the devices or none.

Each round starts a server, creates a rollout, sends AddDevices of DEVICES new ids from a thread and
kills the server while the insert runs. The kill is timed by watching the database, not the clock:

- PostgreSQL: the server connects with its own `application_name`, and the test polls
  pg_stat_activity until that connection is running the INSERT into rollout_device;
- SQLite: a transaction this big spills pages into the write-ahead log long before it commits, so
  the first change of the `-wal` file after the request was sent means the insert is under way.

Each round then waits a different extra delay before the kill, so kills land early and late in the
insert. A new server on the same database must then show the rollout intact with 0 or exactly
DEVICES devices, no device rows without their rollout, a sound SQLite file, and must serve a new
AddDevices normally. Every test here runs on each backend of the `database_url` fixture.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, text

from app.storage.db import make_engine
from tests.helpers import LiveServer

DEVICES = 300_000
# Extra seconds between "the insert is running" and the kill, one round per delay.
DELAYS = {"sqlite": (0.0, 0.1, 0.25), "postgresql": (0.0, 0.8)}
CALLER = "//api.cesanta.com/crash"
PROJECT = "//api.cesanta.com/project_crash"
SIGNAL_TIMEOUT = 30.0
# An orphaned PostgreSQL backend finishes its statement before it notices that its client is gone.
ORPHAN_TIMEOUT = 60.0


@dataclass
class Round:
    """What happened in one kill: when, and whether the request had already been answered."""

    delay: float
    rollout_id: str
    signal_after: float | None = None
    killed_after: float = 0.0
    answer: int | None = None
    error: str | None = None
    devices_after: int | None = None

    @property
    def mid_command(self) -> bool:
        """The kill came before the server answered: the command was cut off."""
        return self.answer is None


class Api:
    """Frames to one server, as CALLER."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {server.key(CALLER)}", "Content-Type": "application/json"}

    def body(self, method: str, **args: Any) -> bytes:
        frame = {"v": 1, "src": CALLER, "cmds": [{"cmd": f"/v1/Rollout.{method}", "id": 1, "args": args}]}
        return json.dumps(frame).encode()

    def post(self, body: bytes, timeout: float = 60.0) -> httpx.Response:
        return httpx.post(f"{self.server.url}/v1", content=body, headers=self.headers, timeout=timeout)

    def ok(self, method: str, **args: Any) -> Any:
        response = self.post(self.body(method, **args))
        assert response.status_code == 200, response.text
        (entry,) = response.json()["resp"]
        assert entry["status"] == 0, (method, entry, self.server.output()[-3000:])
        return entry.get("resp")


def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def server_url(database_url: str, app_name: str) -> str:
    """The database URL the server uses: on PostgreSQL its connections carry `app_name`."""
    if backend(database_url) == "sqlite":
        return database_url
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}application_name={app_name}"


def sqlite_path(database_url: str) -> str:
    return database_url.split(":///", 1)[1]


def insert_started(database_url: str, engine: Engine, app_name: str) -> Callable[[], bool]:
    """A probe that turns true once the server's insert of devices is running (see the module doc)."""
    if backend(database_url) == "sqlite":
        wal = sqlite_path(database_url) + "-wal"

        def wal_state() -> tuple[int, int]:
            try:
                stat = os.stat(wal)
            except FileNotFoundError:
                return (0, 0)
            return (stat.st_mtime_ns, stat.st_size)

        before = wal_state()
        return lambda: wal_state() != before

    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND state = 'active' "
        "AND query LIKE 'INSERT INTO rollout_device%'"
    )

    def running() -> bool:
        # Autocommit: pg_stat_activity is a snapshot taken once per transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return bool(connection.execute(query, {"name": app_name}).scalar_one())

    return running


def wait_for_orphans(engine: Engine, app_name: str) -> None:
    """Wait until no PostgreSQL backend of the killed server is left (their transactions are over)."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    deadline = time.monotonic() + ORPHAN_TIMEOUT
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while connection.execute(query, {"name": app_name}).scalar_one():
            assert time.monotonic() < deadline, f"backends of the killed server still there after {ORPHAN_TIMEOUT}s"
            time.sleep(0.05)


def kill_during_add(api: Api, round_: Round, probe: Callable[[], bool]) -> None:
    """Send the big AddDevices from a thread and SIGKILL the server once `probe` says the insert runs."""
    devices = [f"crash-{round_.rollout_id}-{i:07d}" for i in range(DEVICES)]
    body = api.body("AddDevices", projectid=PROJECT, rolloutid=round_.rollout_id, devices=devices)

    def send() -> None:
        try:
            response = api.post(body)
            round_.answer = response.status_code
        except httpx.TransportError as exc:
            round_.error = repr(exc)

    sender = threading.Thread(target=send)
    started = time.monotonic()
    sender.start()
    while sender.is_alive() and time.monotonic() - started < SIGNAL_TIMEOUT:
        if probe():
            round_.signal_after = time.monotonic() - started
            break
        time.sleep(0.002)
    time.sleep(round_.delay)
    os.kill(api.server.process.pid, signal.SIGKILL)
    round_.killed_after = time.monotonic() - started
    api.server.process.wait(timeout=10)
    sender.join(timeout=30)
    assert not sender.is_alive(), "the request did not end after the server was killed"


def check_consistent(database_url: str, engine: Engine, api: Api, round_: Round) -> int:
    """The database and a fresh server after the kill: all or none, no orphans, a sound file."""
    context = f"{backend(database_url)} {round_}"
    if backend(database_url) == "sqlite":
        with sqlite3.connect(sqlite_path(database_url)) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)], context
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == [], context
    with engine.connect() as connection:
        orphans = connection.execute(
            text("SELECT count(*) FROM rollout_device d LEFT JOIN rollout r ON r.id = d.rollout_id WHERE r.id IS NULL")
        ).scalar_one()
        assert orphans == 0, context
    rollout = api.ok("Get", projectid=PROJECT, rolloutid=round_.rollout_id)
    seed_fields = ("id", "projectid", "name", "state", "deviceFilter", "firmwareid")
    assert {k: rollout[k] for k in seed_fields} == {
        "id": round_.rollout_id,
        "projectid": PROJECT,
        "name": "crash",
        "state": "init",
        "deviceFilter": "location=Lab",
        "firmwareid": "fw-crash",
    }, context
    count = len(api.ok("ListDevices", projectid=PROJECT, rolloutid=round_.rollout_id))
    assert count in (0, DEVICES), f"partial AddDevices after the kill: {count} of {DEVICES} devices; {context}"
    # The maintained count is committed with the devices, or not at all.
    assert rollout["counts"] == {"init": count, "started": 0, "succeeded": 0, "failed": 0}, context
    if round_.answer == 200:  # answered before the kill: it had committed
        assert count == DEVICES, context
    return count


def test_sigkill_during_add_devices_leaves_all_or_none(database_url: str) -> None:
    name = backend(database_url)
    app_name = f"rollout_crash_{uuid.uuid4().hex[:10]}"
    engine = make_engine(database_url)
    server = LiveServer(server_url(database_url, app_name))
    rounds: list[Round] = []
    try:
        api = Api(server)
        for delay in DELAYS[name]:
            rollout_id = api.ok(
                "Create", projectid=PROJECT, firmwareid="fw-crash", deviceFilter="location=Lab", name="crash"
            )["id"]
            round_ = Round(delay=delay, rollout_id=rollout_id)
            rounds.append(round_)
            kill_during_add(api, round_, insert_started(database_url, engine, app_name))
            server.stop()
            if name == "postgresql":
                wait_for_orphans(engine, app_name)
            server = LiveServer(server_url(database_url, app_name))
            api = Api(server)
            count = round_.devices_after = check_consistent(database_url, engine, api, round_)
            # The restarted server works normally: more devices go into the same rollout.
            api.ok("AddDevices", projectid=PROJECT, rolloutid=rollout_id, devices=["after-1", "after-2"])
            devices = api.ok("ListDevices", projectid=PROJECT, rolloutid=rollout_id, after="after", limit=10)
            assert [d["id"] for d in devices[:2]] == ["after-1", "after-2"], devices
            assert len(api.ok("ListDevices", projectid=PROJECT, rolloutid=rollout_id)) == count + 2
            # And leaves the shared test database as small as it found it.
            api.ok("Delete", projectid=PROJECT, rolloutid=rollout_id)
    finally:
        server.stop()
        engine.dispose()
    summary = "; ".join(
        f"delay {r.delay}s: insert seen at {r.signal_after and round(r.signal_after, 3)}s, "
        f"killed at {r.killed_after:.3f}s, answer {r.answer or r.error}, devices after restart {r.devices_after}"
        for r in rounds
    )
    print(f"{name}: {summary}")
    # The probes make sure the kills really cut commands off, and did so after the insert had begun.
    assert all(r.signal_after is not None for r in rounds), summary
    assert any(r.mid_command for r in rounds), summary
