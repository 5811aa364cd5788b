"""A command's Transaction: when its transaction begins and ends, and pooled connections the server closed."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from app.storage.db import ConnectionLease, Transaction, make_engine
from tests.helpers import BACKENDS


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def in_transaction(session: Transaction) -> bool:
    if session.postgres:
        from psycopg.pq import TransactionStatus

        return bool(session.driver.info.transaction_status != TransactionStatus.IDLE)
    return bool(session.driver.in_transaction)


def run(session: Transaction, sql: str, *, alone: bool = False) -> Any:
    cursor = session.cursor(alone=alone)
    cursor.execute(sql)
    return cursor.fetchall()


def test_a_command_alone_statement_runs_outside_a_transaction(engine: Engine) -> None:
    with ConnectionLease(engine) as lease, lease.transaction(writes=False) as session:
        assert run(session, "SELECT 1", alone=True) == [(1,)]
        assert not in_transaction(session)


def test_alone_statements_skip_the_transaction_only_while_none_is_open(engine: Engine) -> None:
    with ConnectionLease(engine) as lease, lease.transaction(writes=False) as session:
        run(session, "SELECT 1", alone=True)
        # Statements that say so run alone while no transaction is open; the first that does not begins one,
        # and every statement after it runs inside it, alone or not.
        run(session, "SELECT 2", alone=True)
        assert not in_transaction(session)
        run(session, "SELECT 3")
        assert in_transaction(session)
        run(session, "SELECT 4", alone=True)
        assert in_transaction(session)
    assert not in_transaction(session)


def test_an_ordinary_first_statement_begins_the_transaction(engine: Engine) -> None:
    with ConnectionLease(engine) as lease, lease.transaction(writes=True) as session:
        run(session, "SELECT 1")
        assert in_transaction(session)


def test_a_command_that_raises_rolls_back_and_the_next_command_commits(engine: Engine) -> None:
    marker = f"session-test-{time.monotonic_ns()}"
    insert = (
        "INSERT INTO rollout (project_id, name, firmware_id, device_filter, state) "
        f"VALUES ('{marker}', NULL, 'fw', 'a=b', 'init')"
    )
    with ConnectionLease(engine) as lease:
        with pytest.raises(RuntimeError), lease.transaction(writes=True) as session:
            session.cursor().execute(insert)
            raise RuntimeError("the command failed after its write")
        with lease.transaction(writes=True) as session:
            session.cursor().execute(insert)
            session.cursor().execute(insert)
    with engine.connect() as connection:
        count = connection.execute(text(f"SELECT count(*) FROM rollout WHERE project_id = '{marker}'")).scalar()
    assert count == 2


def test_a_pooled_connection_is_not_left_in_autocommit(engine: Engine) -> None:
    """Sessions run the PostgreSQL driver in autocommit; SQLAlchemy's own users of the pool must not."""
    with ConnectionLease(engine) as lease, lease.transaction(writes=False) as session:
        run(session, "SELECT 1")
    with engine.connect() as connection:
        assert connection.connection.driver_connection is not None
        if engine.dialect.name == "postgresql":
            assert connection.connection.driver_connection.autocommit is False


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs TEST_DATABASE_URL")
def test_a_connection_the_server_closed_is_replaced_on_checkout() -> None:
    """After a PostgreSQL restart or an idle timeout, the next command gets a live connection, not an error."""
    engine = make_engine(os.environ["TEST_DATABASE_URL"])
    admin = make_engine(os.environ["TEST_DATABASE_URL"])
    try:
        with ConnectionLease(engine) as lease, lease.transaction(writes=False) as session:
            (pid,) = run(session, "SELECT pg_backend_pid()")[0]
            socket = session.driver.fileno()
        with admin.begin() as connection:
            assert connection.execute(text(f"SELECT pg_terminate_backend({pid})")).scalar() is True
        # The pooled connection's socket becomes readable (end of file) once the server has closed it.
        assert select.select([socket], [], [], 10)[0], "the server did not close the connection"
        with ConnectionLease(engine) as lease, lease.transaction(writes=False) as session:
            (new_pid,) = run(session, "SELECT pg_backend_pid()")[0]
        assert new_pid != pid
    finally:
        engine.dispose()
        admin.dispose()


def test_a_commit_that_fails_is_rolled_back_and_the_lease_stays_usable(engine: Engine) -> None:
    """A constraint checked only at COMMIT fails the command, and the next command runs normally."""
    with ConnectionLease(engine) as lease:
        with pytest.raises(Exception, match=r"(?i)foreign key|duplicate|unique"), lease.transaction(writes=True) as s:
            if s.postgres:
                s.cursor().execute("CREATE TEMP TABLE deferred_check (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
                s.cursor().execute("INSERT INTO deferred_check VALUES (1), (1)")
            else:
                s.cursor().execute("PRAGMA defer_foreign_keys = ON")
                s.cursor().execute(
                    "INSERT INTO rollout_device (rollout_id, device_id, state) VALUES (-1, 'orphan', 'init')"
                )
        with lease.transaction(writes=True) as session:
            assert run(session, "SELECT 1") == [(1,)]
            assert in_transaction(session)
    with engine.connect() as connection:
        orphans = connection.execute(text("SELECT count(*) FROM rollout_device WHERE rollout_id = -1")).scalar()
    assert orphans == 0
