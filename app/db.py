"""The database engine and the one-transaction-per-command scope."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

_IMMEDIATE = "rollout_begin_immediate"
SQLITE_CONNECTIONS = 8
_WRITE_LOCKS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # A fixed set of connections, never closed and reopened between requests: opening one runs the
        # PRAGMAs below, and SQLite serialises writers anyway, so more connections would only wait.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=SQLITE_CONNECTIONS,
            max_overflow=0,
            pool_timeout=60,
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        _WRITE_LOCKS[engine] = threading.Lock()
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


@contextmanager
def transaction(engine: Engine, *, writes: bool) -> Iterator[Connection]:
    """A connection in a transaction that commits when the block ends and rolls back when it raises."""
    with engine.connect() as connection, command_transaction(connection, writes=writes):
        yield connection


@contextmanager
def command_transaction(connection: Connection, *, writes: bool) -> Iterator[Connection]:
    """A transaction on a connection already checked out: commits at the end, rolls back on error."""
    # On SQLite a writer takes the write lock up front, so a read-then-write command cannot
    # fail half-way when another writer commits between its read and its write.
    connection.execution_options(**{_IMMEDIATE: writes})
    # SQLite admits one writer at a time; writers of this process queue on a lock instead of in
    # SQLite's busy handler, which sleeps and retries (most of a write batch's time, in profiles).
    lock = _WRITE_LOCKS.get(connection.engine) if writes else None
    with lock or nullcontext(), connection.begin():
        yield connection


class ConnectionLease:
    """One pooled connection for every command of a frame, taken at first use; each command still
    runs in its own transaction. Checking a connection out per command cost more than a small query."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def transaction(self, *, writes: bool) -> AbstractContextManager[Connection]:
        if self._connection is None:
            self._connection = self._engine.connect()
        return command_transaction(self._connection, writes=writes)

    def __enter__(self) -> ConnectionLease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
