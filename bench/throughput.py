"""Fleet-scale figures: the raw driver's limit for the SetDeviceState sweep, and a fleet's reports ingested in frames.

The raw limit is what the database does with the same row updates sent straight through the driver, with no
HTTP, no frame and no validation: sqlite3's `executemany` of one conditional UPDATE per device, or one PostgreSQL
`UPDATE ... FROM unnest(...)` per block, each block its own transaction, as a frame's batch is. The schema's
triggers (counts, events) run in both, as they do under the service.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from app.storage.db import make_engine

# The sweep moves devices between started and failed (bench/run.py, Bench.sds_bodies): the states each leaves.
_SOURCES = {"failed": ("init", "started"), "started": ("init", "failed")}
_BY = "//bench"


def sweep(devices: Sequence[str], batch: int) -> list[tuple[str, list[str]]]:
    """The sweep's blocks in the order the service is sent them: every block to failed, then every block back to
    started (devices start in started)."""
    return [
        (state, list(devices[start : start + batch]))
        for state in ("failed", "started")
        for start in range(0, len(devices), batch)
    ]


def raw_sqlite_rate(path: Path, rollout: str, devices: Sequence[str], batch: int, seconds: float) -> float:
    """Device updates per second through sqlite3: one executemany and one commit per block, blocks in a cycle."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    statement = (
        "UPDATE rollout_device SET state = ?, updated_at = ?, updated_by = ? "
        "WHERE rollout_id = ? AND device_id = ? AND state IN (?, ?)"
    )
    try:
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
            connection.execute(f"PRAGMA {pragma}")
        blocks = sweep(devices, batch)
        moved = 0
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            for state, block in blocks:
                now = time.time()
                rows = [(state, now, _BY, int(rollout), device, *_SOURCES[state]) for device in block]
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(statement, rows)
                connection.execute("COMMIT")
                moved += len(block)
                if time.perf_counter() - began >= seconds:
                    break
        return moved / (time.perf_counter() - began)
    finally:
        connection.close()


# Client sessions of this database other than the caller's that are in a statement or a transaction.
_BUSY_SESSIONS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend' AND state <> 'idle'"
)


def wait_idle(engine: Engine, *, quiet_polls: int = 3, every: float = 0.05, timeout: float = 30) -> None:
    """Until no other client session of the database is in a statement or a transaction, `quiet_polls` polls in a
    row. A server keeps running a frame's commands after wrk has closed its connection at the end of a round; its
    last commands, still running, would otherwise contend with the statements timed next (and may deadlock with
    them: a command holds its rollout FOR SHARE while it waits for a device that a raw statement has moved)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    with engine.connect() as connection:
        while quiet < quiet_polls:
            busy = connection.execute(_BUSY_SESSIONS).scalar_one()
            connection.rollback()  # no snapshot held between polls
            quiet = quiet + 1 if busy == 0 else 0
            if time.monotonic() > deadline:
                raise RuntimeError(f"{busy} other database sessions still busy after {timeout:g} s")
            time.sleep(every)


def raw_postgres_rate(
    url: str, targets: Sequence[tuple[str, Sequence[str]]], batch: int, seconds: float, *, connections: int
) -> float:
    """Device updates per second through psycopg, `connections` threads and connections per (rollout, devices) at
    once, as many as the service is loaded with, each taking every `connections`-th block of its rollout's sweep:
    one UPDATE ... FROM unnest(...) per block, in autocommit. The rates of the threads, summed."""
    engine = make_engine(url)
    wait_idle(engine)
    # The rows to move joined on the whole key, in the order given, as the service's statement does: joined on the
    # device id alone with the rollout id a constant, PostgreSQL hashed every device of the rollout for each block
    # of 100 (EXPLAIN ANALYZE: 6-17 ms a statement, against 2 ms through the key's index), and the "limit" came
    # out below the service.
    statement = (
        "UPDATE rollout_device AS d SET state = v.state, updated_at = %s, updated_by = %s "
        "FROM (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]) WITH ORDINALITY "
        "AS u(rollout_id, device_id, state, position) ORDER BY position) AS v "
        "WHERE d.rollout_id = v.rollout_id AND d.device_id = v.device_id AND d.state = ANY(%s::text[])"
    )
    rates: list[float] = []
    failures: list[BaseException] = []

    def run(rollout: str, devices: Sequence[str], share: int) -> None:
        pooled = engine.raw_connection()
        connection: Any = pooled.driver_connection
        try:
            # One statement is one transaction: committed by the server as it ends, without a COMMIT round trip
            # while the rollout's row is held (as the service runs its batches).
            connection.autocommit = True
            blocks = sweep(devices, batch)[share::connections]
            moved = 0
            began = time.perf_counter()
            while time.perf_counter() - began < seconds:
                for state, block in blocks:
                    with connection.cursor() as cursor:
                        rollouts = [int(rollout)] * len(block)
                        params = (time.time(), _BY, rollouts, block, [state] * len(block), list(_SOURCES[state]))
                        cursor.execute(statement, params)
                    moved += len(block)
                    if time.perf_counter() - began >= seconds:
                        break
            rates.append(moved / (time.perf_counter() - began))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.autocommit = False
            pooled.close()

    threads = [
        threading.Thread(target=run, args=(rollout, devices, share))
        for rollout, devices in targets
        for share in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    if failures:
        raise failures[0]
    return sum(rates)


@dataclass(frozen=True)
class Ingestion:
    seconds: float
    reports: int
    frames: int


def ingest(
    urls: Sequence[str], key: str, project: str, rollout: str, devices: Sequence[str], *, clients: int, batch: int
) -> Ingestion:
    """Every device reports started, then succeeded, in frames of `batch` SetDeviceState: `clients` threads at
    once, each with a slice of the devices (its frames in order: all its starts, then all its successes), spread
    over the servers at `urls`. Every command must answer status 0."""
    failures: list[str] = []
    frames = [0] * clients

    def client(index: int) -> None:
        mine = devices[index::clients]
        url = urls[index % len(urls)]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            for state in ("started", "succeeded"):
                for start in range(0, len(mine), batch):
                    cmds = [
                        {
                            "cmd": "/v1/Rollout.SetDeviceState",
                            "id": n + 1,
                            "args": {"projectid": project, "rolloutid": rollout, "deviceid": device, "state": state},
                        }
                        for n, device in enumerate(mine[start : start + batch])
                    ]
                    response = http.post("/v1", content=json.dumps({"v": 1, "cmds": cmds}, separators=(",", ":")))
                    frames[index] += 1
                    bad = [] if response.status_code != 200 else [e for e in response.json()["resp"] if e["status"]]
                    if response.status_code != 200 or bad:
                        failures.append(f"HTTP {response.status_code}: {(bad or [response.text[:300]])[0]}")
                        return

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"fleet ingestion: {len(failures)} clients stopped on a wrong answer; first: {failures[0]}")
    return Ingestion(seconds=seconds, reports=2 * len(devices), frames=sum(frames))
