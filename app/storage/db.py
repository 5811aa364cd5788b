"""The database engine and the one-transaction-per-command scope."""

from __future__ import annotations

import logging
import select
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any
from weakref import WeakKeyDictionary

from rollout_api.errors import DeadlineExceeded
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DisconnectionError

from app.storage.pool import WaitCountingPool
from app.storage.sqlite_file import open_existing, sqlite_path, watch
from app.storage.write_lock import WriteLock

log = logging.getLogger("app.storage.db")

_IMMEDIATE = "rollout_begin_immediate"
SQLITE_CONNECTIONS = 12
POSTGRES_POOL, POSTGRES_OVERFLOW = 10, 20
# How long a command waits for a pooled connection before it is answered 503 ("try again"): long enough for a
# burst to pass, short enough that a caller is not left hanging while slow readers hold the pool.
POOL_TIMEOUT_SECONDS = 5
_WRITE_LOCKS: WeakKeyDictionary[Engine, WriteLock] = WeakKeyDictionary()


class _Stop:
    """Whether a stopping server's grace period is over (stop_commands); then commands not begun are refused.
    A plain attribute, not a threading.Event: it is read before every command."""

    __slots__ = ("over",)

    def __init__(self) -> None:
        self.over = False


_STOPS: WeakKeyDictionary[Engine, _Stop] = WeakKeyDictionary()


def normalise_url(url: str | URL) -> URL:
    """Accept plain postgresql:// (and postgres://) URLs and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def redact_url(url: str | URL) -> str:
    """The database URL with its password hidden, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL) -> Engine:
    engine = _make_engine(normalise_url(url))
    _STOPS[engine] = _Stop()
    return engine


def stop_commands(engine: Engine) -> None:
    """From now on a command that has not begun answers 504 and does nothing; one that runs finishes. For a
    stopping server whose grace period is over: a frame's remaining commands would otherwise all still run."""
    stop = _STOPS.get(engine)
    if stop is not None:
        stop.over = True


def _make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        # The file must exist (only the migration at a first start creates it), and is watched: see sqlite_file.
        path = sqlite_path(url)
        opening: dict[str, Any] = {} if path is None else {"creator": open_existing(path, timeout=30)}
        # A fixed set of connections, never closed and reopened between requests: opening one runs the
        # PRAGMAs below, and SQLite serialises writers anyway, so more connections would only wait.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=WaitCountingPool,
            pool_size=SQLITE_CONNECTIONS,
            max_overflow=0,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            **opening,
        )
        if path is not None:
            watch(engine, path)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        _WRITE_LOCKS[engine] = WriteLock(path)
        return engine
    engine = create_engine(
        url,
        poolclass=WaitCountingPool,
        pool_size=POSTGRES_POOL,
        max_overflow=POSTGRES_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_SECONDS,
    )
    event.listen(engine, "checkout", _replace_if_closed)
    return engine


def pool_capacity(engine: Engine) -> int:
    """How many connections the engine's pool lends at most."""
    return SQLITE_CONNECTIONS if engine.dialect.name == "sqlite" else POSTGRES_POOL + POSTGRES_OVERFLOW


@contextmanager
def transaction(engine: Engine, *, writes: bool) -> Iterator[Connection]:
    """A SQLAlchemy connection in a transaction that commits when the block ends and rolls back when it raises.

    For work off the request path (keys, start-up); commands run in a Transaction (below).
    """
    with engine.connect() as connection:
        connection.execution_options(**{_IMMEDIATE: writes})
        lock = _WRITE_LOCKS.get(engine) if writes else None
        with lock or nullcontext(), connection.begin():
            yield connection


@contextmanager
def standalone_transaction(engine: Engine, *, writes: bool) -> Iterator[Transaction]:
    """One Transaction on a connection of its own, for a single piece of work outside a frame."""
    with ConnectionLease(engine) as lease, lease.transaction(writes=writes) as tx:
        yield tx


class Transaction:
    """One command's statements in one database transaction, straight on a leased driver connection.

    BEGIN and COMMIT go straight to the driver: through SQLAlchemy's transaction object they cost about a
    third of a small command. The transaction begins at the first statement. A statement that needs no other
    beside it in a transaction may say so (`alone`) and, while no transaction is open, run without BEGIN and
    COMMIT: one statement is atomic by itself, and on PostgreSQL they are two network round trips. A statement
    that does not say so begins a transaction as usual, so a command that finds more to do falls back to the
    ordinary path.
    """

    def __init__(self, driver: Any, *, dialect: Dialect, writes: bool, in_group: bool = False) -> None:
        self.driver = driver
        self.dialect = dialect  # statements are compiled for it (app/storage/sql.py)
        self.postgres = postgres = dialect.name == "postgresql"
        # On SQLite a writer takes the write lock up front, so a read-then-write command cannot
        # fail half-way when another writer commits between its read and its write.
        self._begin = "BEGIN IMMEDIATE" if writes and not postgres else "BEGIN"
        self._end = ("COMMIT", "ROLLBACK")
        if in_group:
            # Inside a write group (ConnectionLease.write_group) the command is a savepoint of the group's
            # transaction: its own writes undo alone when it fails, and commit with the group.
            self._begin = "SAVEPOINT command"
            self._end = ("RELEASE command", "ROLLBACK TO command; RELEASE command")
        self._in_group = in_group
        self._open = False

    def cursor(self, *, alone: bool = False, name: str | None = None) -> Any:
        """A driver cursor for the next statement (a named one is a PostgreSQL server-side cursor)."""
        if self._in_group and not self.driver.in_transaction:
            # (SQLite ends a transaction by itself on some errors; a savepoint now would begin a new one.)
            raise WriteGroupFailed("the transaction this command shares with others has ended")
        if not self._open and (not alone or self._in_group):
            self.driver.execute(self._begin)
            self._open = True
        return self.driver.cursor() if name is None else self.driver.cursor(name=name)

    def end(self, *, commit: bool) -> None:
        if self._in_group and commit and not self.driver.in_transaction:
            raise WriteGroupFailed("the transaction this command shares with others has ended")
        if self._open:
            # Still open until this succeeds: a COMMIT that fails (a constraint checked at commit) may
            # leave the transaction open on SQLite, and then it must be rolled back.
            for statement in (self._end[0] if commit else self._end[1]).split("; "):
                self.driver.execute(statement)
            self._open = False


class WriteGroupFailed(Exception):
    """The transaction of a write group could not begin or commit: none of its commands took effect."""


class ConnectionLease:
    """One pooled connection for every command of a frame, taken at first use; each command still
    runs in its own transaction (or its own savepoint of a write group). Checking a connection out per
    command cost more than a small query."""

    def __init__(self, engine: Engine, *, keep: bool = False) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self.group_limit = 1 if self._postgres else 100
        """Most consecutive write commands that share a transaction (write_group). On SQLite a commit per command
        was most of a small write's time, and writers take turns anyway. Not on PostgreSQL: there a group holds
        its rollouts' rows locked over three round trips per command (savepoint, statement, release), and one
        rollout's frames of 100 SetDeviceState fell to a quarter of the one-by-one rate."""
        self._group_broken: BaseException | None = None
        self._in_group = False
        self._group_commands = 0
        self._write_lock = _WRITE_LOCKS.get(engine)
        self._stop = _STOPS.get(engine)
        self._connection: Any = None
        self._keep = keep
        """Keep the connection across uses (close() does not return it): the event loop's own lease."""

    def acquire(self) -> None:
        """Take the connection now, if not yet taken: sqlalchemy.exc.TimeoutError when none is free in time."""
        if self._connection is None:
            self._connection = self._engine.raw_connection()
            if self._postgres:
                # Transactions are begun and ended by Transaction, explicitly.
                self._connection.driver_connection.autocommit = True

    @contextmanager
    def transaction(self, *, writes: bool) -> Iterator[Transaction]:
        """A command's transaction: commits when the block ends, rolls back when it raises."""
        if self._in_group:
            yield from self._savepoint(writes=writes)
            return
        if self._stop is not None and self._stop.over:
            # The dispatcher answers an RpcError as the command's status, without logging it as an internal error.
            raise DeadlineExceeded("the server is stopping and its grace period is over; the command did not run")
        if self._connection is None:
            self.acquire()
        # SQLite admits one writer at a time; writers of every process of the server queue on a lock instead of
        # in SQLite's busy handler, which sleeps and retries (most of a write batch's time, in profiles).
        lock = self._write_lock if writes else None
        with lock or nullcontext():
            tx = Transaction(self._connection.driver_connection, dialect=self._engine.dialect, writes=writes)
            try:
                yield tx
                tx.end(commit=True)
            except BaseException:
                self._roll_back(tx)
                raise

    @contextmanager
    def write_group(self) -> Iterator[None]:
        """The commands run in this block share one transaction (SQLite only: groups_writes), each in a savepoint
        of its own, and commit together when it ends: nothing of them is visible, or may be answered as done,
        before that. WriteGroupFailed when the transaction cannot begin or commit (none took effect then)."""
        assert self.group_limit > 1 and not self._in_group
        if self._stop is not None and self._stop.over:
            raise DeadlineExceeded("the server is stopping and its grace period is over; the command did not run")
        if self._connection is None:
            self.acquire()
        with self._write_lock or nullcontext():
            driver = self._connection.driver_connection
            try:
                driver.execute("BEGIN IMMEDIATE")
            except Exception as exc:
                raise WriteGroupFailed(str(exc)) from exc
            self._in_group, self._group_broken, self._group_commands = True, None, 0
            try:
                yield
                if self._group_broken is not None:
                    raise WriteGroupFailed(str(self._group_broken)) from self._group_broken
                driver.execute("COMMIT")
            except BaseException as exc:
                try:
                    driver.execute("ROLLBACK")
                except Exception:
                    log.warning("rollback of a write group failed; the connection is dropped", exc_info=True)
                    self._connection.invalidate()
                    self._connection = None
                if isinstance(exc, Exception) and not isinstance(exc, WriteGroupFailed):
                    raise WriteGroupFailed(str(exc)) from exc
                raise
            finally:
                self._in_group = False

    def _savepoint(self, *, writes: bool) -> Iterator[Transaction]:
        """A command inside a write group: its savepoint is released, or rolled back when the command fails."""
        if self._group_broken is not None:
            raise WriteGroupFailed(f"an earlier command broke the frame's transaction: {self._group_broken}")
        # The group's first command is the one that was waiting for the write lock: it runs, as a command
        # that began before the grace period ended; the others have not begun.
        if self._group_commands and self._stop is not None and self._stop.over:
            raise DeadlineExceeded("the server is stopping and its grace period is over; the command did not run")
        self._group_commands += 1
        driver = self._connection.driver_connection
        tx = Transaction(driver, dialect=self._engine.dialect, writes=writes, in_group=True)
        try:
            yield tx
            tx.end(commit=True)
        except BaseException as failure:
            try:
                tx.end(commit=False)
            except Exception as exc:
                # The group's transaction is gone with it (SQLite rolls back everything on some errors).
                self._group_broken = exc
            if self._group_broken is None and not driver.in_transaction:
                self._group_broken = failure
            raise

    def __enter__(self) -> ConnectionLease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Give the connection back to the pool (a lease that keeps its connection keeps it)."""
        if not self._keep:
            self.release()

    def release(self) -> None:
        """Give the connection back to the pool, even a kept one (at shutdown)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._postgres:
            try:
                connection.driver_connection.autocommit = False
            except Exception:
                # A broken connection cannot change mode; it must not go back to the pool.
                connection.invalidate()  # this also returns it
                return
        connection.close()

    def _roll_back(self, tx: Transaction) -> None:
        try:
            tx.end(commit=False)
        except Exception:
            # The connection failed (that is likely why the command did); the command's own error matters.
            log.warning("rollback failed; the connection is dropped", exc_info=True)
            self._connection.invalidate()
            self._connection = None


def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout on PostgreSQL: a connection the server has closed (a restart, an idle timeout) is
    replaced instead of failing the request it was lent to.

    An idle connection's socket is readable only when the server closed it or sent something unasked,
    so a poll of the socket tells; only then does a real query confirm it. SQLAlchemy's pool_pre_ping
    sends that query every time, a network round trip that was a third of a one-Get request.
    """
    try:
        dead = dbapi_connection.closed or dbapi_connection.broken
        if not dead and select.select([dbapi_connection.fileno()], [], [], 0)[0]:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
    except Exception as exc:
        raise DisconnectionError(f"pooled connection was closed by the server: {exc}") from exc
    if dead:
        raise DisconnectionError("pooled connection was closed")


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
