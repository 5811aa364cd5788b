"""The SQLite file a server serves: opened only when it exists, and watched while it is served.

SQLite creates a missing file when it opens one, and a connection keeps the file it opened after the file is
deleted. So a server whose file was deleted went on acknowledging writes into the deleted file (lost at the next
start) while its new connections made an empty file beside it. Now the serving engine opens the file with
`mode=rw` (it exists, or opening fails), only the migration at a first start creates it (create_missing), and
a pooled connection is lent out only while the path still names the file that connection opened.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import URL, Engine, event
from sqlalchemy.exc import DisconnectionError

_OPENED = "rollout_sqlite_file"
"""Key of the connection record's info: (device, inode) of the file the connection opened."""


def sqlite_path(url: URL) -> Path | None:
    """The file a SQLite URL names, made absolute; None for another backend, an in-memory database or a URI."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).absolute()


def open_existing(path: Path, timeout: float) -> Callable[[], sqlite3.Connection]:
    """The engine's `creator`: a connection to the file at `path`, which must exist (SQLite's mode=rw)."""
    uri = f"file:{quote(str(path))}?mode=rw"
    return partial(sqlite3.connect, uri, uri=True, check_same_thread=False, timeout=timeout)


def create_missing(path: Path) -> bool:
    """Create an empty database file at `path` unless there is one; True when it was created."""
    if path.exists():
        return False
    sqlite3.connect(path).close()
    return True


def watch(engine: Engine, path: Path) -> None:
    """Refuse to lend out a pooled connection once `path` names another file than it opened, or none: the pool
    then opens a new connection, which fails while the file is missing and uses a file put back in its place.

    One stat() per checkout (a frame's worth of commands), about a microsecond."""
    event.listen(engine, "connect", partial(_remember, path))
    event.listen(engine, "checkout", partial(_check, path))


def problems(path: Path) -> list[str]:
    """What keeps the file from being served: missing, or not writable (it or its directory)."""
    if not path.exists():
        return [
            f"the database file {path} is missing: it was deleted or moved while the server ran; put it back "
            "(a restart would begin a new, empty database)"
        ]
    found = []
    if not os.access(path, os.W_OK):
        found.append(f"the database file {path} is read-only for this server: make it writable (chmod u+w {path})")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        found.append(
            f"the directory {path.parent} is read-only for this server, and SQLite keeps {path.name}-wal and "
            f"{path.name}-shm in it: make it writable (chmod u+w {path.parent})"
        )
    return found


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


def _remember(path: Path, _dbapi_connection: Any, record: Any) -> None:
    record.info[_OPENED] = _identity(path)


def _check(path: Path, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    current = _identity(path)
    if current is None or current != record.info.get(_OPENED):
        raise DisconnectionError(f"the database file {path} was deleted or replaced since this connection opened it")
