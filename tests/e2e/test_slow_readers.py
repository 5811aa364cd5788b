"""Readers that never read cannot freeze the service. Callers ask for every device of a 400,000-device rollout
and then read nothing, some keeping the connection open and some going away: another caller's Get and
/healthz still answer within a second, callers past their share of the pool are told to try again at once
(503), and once the readers have gone away or stalled past the send timeout no transaction stays open."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.helpers import LiveServer, make_key

DEVICES = 400_000
SEND_TIMEOUT = 5.0
STALL_SECONDS = 3.0
PROJECT = "//slow/project"


# The server's PostgreSQL connections carry this name, so only its transactions are counted.
APPLICATION = "slow-readers-test"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[LiveServer]:
    if not database_url.startswith("sqlite"):
        named = make_url(database_url).update_query_dict({"application_name": APPLICATION})
        database_url = named.render_as_string(hide_password=False)
    live = LiveServer(database_url, SEND_TIMEOUT_SECONDS=str(SEND_TIMEOUT))
    yield live
    live.stop()


def _readers(database_url: str) -> int:
    """8 on SQLite (more than its pool's share for streams); the pool's size plus one on PostgreSQL."""
    return 8 if database_url.startswith("sqlite") else 11


def _ask_and_never_read(url: str, key: str, rollout_id: str) -> socket.socket:
    """A socket that sent ListDevices of every device and reads nothing of the answer."""
    body = json.dumps({"projectid": PROJECT, "rolloutid": rollout_id}).encode()
    address = urlsplit(url)
    sock = socket.create_connection((address.hostname, address.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server must wait for it
    head = (
        f"POST /v1/Rollout.ListDevices HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def _open_transactions(database_url: str) -> int:
    """Transactions holding a snapshot: backends idle in one (PostgreSQL), or readers a checkpoint must wait
    for (SQLite in WAL mode: a full checkpoint is busy while any reader holds an old snapshot)."""
    if database_url.startswith("sqlite"):
        sqlite = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            busy, _, _ = sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return int(busy)
        finally:
            sqlite.close()
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1).split("?")[0])
    try:
        with engine.connect() as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND application_name = :name"
            return int(connection.execute(text(query), {"name": APPLICATION}).scalar_one())
    finally:
        engine.dispose()


def _timed(request: httpx.Request, client: httpx.Client) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = client.send(request)
    return time.monotonic() - started, response


def test_readers_that_never_read_freeze_nothing(server: LiveServer, database_url: str) -> None:
    admin = make_key(database_url, principal="//slow/admin", role="admin")
    user = make_key(database_url, principal="//slow/user", role="admin")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as client:
        create = {"projectid": PROJECT, "firmwareid": "fw", "deviceFilter": "a=b"}
        rollout_id = client.post("/v1/Rollout.Create", json=create).json()["id"]
        devices = [f"device-{i:07d}" for i in range(DEVICES)]
        added = client.post(
            "/v1/Rollout.AddDevices", json={"projectid": PROJECT, "rolloutid": rollout_id, "devices": devices}
        )
        assert added.status_code == 200, added.text

        stalled = [_ask_and_never_read(server.url, user, rollout_id) for _ in range(_readers(database_url))]
        leaving = [_ask_and_never_read(server.url, user, rollout_id) for _ in range(2)]
        try:
            for sock in leaving:
                sock.close()
            # The answers start and fill what the sockets can take (megabytes each: seconds of CPU for a dozen
            # answers on two cores); then they wait on their readers, holding connections.
            time.sleep(STALL_SECONDS)
            get = client.build_request("POST", "/v1/Rollout.Get", json={"projectid": PROJECT, "rolloutid": rollout_id})
            took, answered = _timed(get, client)
            assert answered.status_code == 200, answered.text
            assert took < 1.0, f"Get took {took:.2f}s beside {len(stalled)} readers that read nothing"
            took, health = _timed(client.build_request("GET", "/healthz"), client)
            assert health.status_code == 200 and took < 1.0, f"/healthz took {took:.2f}s"

            # Past the caller's share (half of what the worker threads leave of the pool) the answer is 503
            # at once, not a wait for a connection.
            stalled += [_ask_and_never_read(server.url, user, rollout_id) for _ in range(3)]
            time.sleep(1.0)  # for the server to take them in
            extra = client.post(
                "/v1/Rollout.ListDevices",
                json={"projectid": PROJECT, "rolloutid": rollout_id},
                headers={"Authorization": f"Bearer {user}"},
            )
            assert extra.status_code == 503, extra.text[:200]
            assert "try again" in extra.json()["status_msg"]

            # The stalled readers' answers end after the send timeout; their transactions with them.
            deadline = time.monotonic() + SEND_TIMEOUT + 5
            while _open_transactions(database_url) and time.monotonic() < deadline:
                time.sleep(0.25)
            assert _open_transactions(database_url) == 0, server.output()[-3000:]
        finally:
            for sock in stalled + leaving:
                sock.close()
        # And the server is whole: a full read still works.
        listed = client.post(
            "/v1/Rollout.ListDevices", json={"projectid": PROJECT, "rolloutid": rollout_id, "limit": 5}
        )
        assert [d["id"] for d in listed.json()] == devices[:5]
