"""SQLite's writers queue on one lock across the processes of a server, not in SQLite's busy handler."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import make_url

from app.storage.db import ConnectionLease, make_engine
from app.storage.write_lock import WriteLock, lock_file
from tests.helpers import ROOT, migrate

# A second process's write, with SQLite's busy handler off: it succeeds only by waiting on the lock before it
# begins; waiting on SQLite instead, it fails at once with "database is locked".
_OTHER_WRITER = textwrap.dedent(
    """
    import sys, time
    from app.storage.db import ConnectionLease, make_engine
    engine = make_engine(sys.argv[1])
    with ConnectionLease(engine) as lease:
        lease.acquire()
        lease._connection.driver_connection.execute("PRAGMA busy_timeout = 0")
        print("ready", flush=True)
        with lease.transaction(writes=True) as tx:
            began = time.time()
            tx.cursor().execute("DELETE FROM rollout WHERE 0")
    print(began, flush=True)
    """
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'rollout.db'}"
    migrate(url)
    return url


def test_a_write_in_another_process_waits_for_this_one_to_commit(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_WRITER, sqlite_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with ConnectionLease(engine) as lease, lease.transaction(writes=True) as tx:
            tx.cursor().execute("DELETE FROM rollout WHERE 0")
            assert other.stdout is not None
            assert other.stdout.readline().strip() == "ready"
            time.sleep(0.5)  # the other process tries to write meanwhile
            committed = time.time()
        out, err = other.communicate(timeout=30)
    finally:
        other.kill()
        engine.dispose()
    assert other.returncode == 0, err
    assert float(out.strip()) >= committed


def test_the_lock_file_is_beside_the_database(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    database = Path(str(make_url(sqlite_url).database))
    try:
        with ConnectionLease(engine) as lease, lease.transaction(writes=True):
            pass
    finally:
        engine.dispose()
    assert lock_file(database) == database.with_name("rollout.db.writelock")
    assert lock_file(database).exists()


def test_a_forked_child_takes_the_lock_apart_from_its_parent(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "rollout.db")
    with lock:
        pass  # the parent opened the lock file before the fork: the child inherits its descriptor
    go_read, go_write = os.pipe()
    took_read, took_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.read(go_read, 1)
            with lock:
                os.write(took_write, repr(time.time()).encode())
        finally:
            os._exit(0)
    try:
        with lock:
            os.write(go_write, b"x")
            time.sleep(0.5)  # the child tries to take the lock meanwhile
            released = time.time()
        took = os.read(took_read, 100)
    finally:
        os.waitpid(pid, 0)
        for fd in (go_read, go_write, took_read, took_write):
            os.close(fd)
    assert float(took) >= released


def test_without_a_lock_file_writers_still_write(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lock = WriteLock(tmp_path / "missing folder" / "rollout.db")
    with lock:
        pass
    assert "cannot open the lock file" in caplog.text
