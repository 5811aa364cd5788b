"""The bench's raw PostgreSQL limit starts only once the servers measured before it have stopped writing."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from app.storage.db import make_engine
from bench.throughput import wait_idle
from tests.helpers import BACKENDS

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs TEST_DATABASE_URL")


@pytest.fixture
def waiting() -> Iterator[Engine]:
    engine = make_engine(os.environ["TEST_DATABASE_URL"])
    yield engine
    engine.dispose()


@pytest.fixture
def other_transaction() -> Iterator[Connection]:
    """Another session, idle in a transaction, as a server is between two statements of a command."""
    engine = make_engine(os.environ["TEST_DATABASE_URL"])
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        yield connection
    engine.dispose()


def test_wait_idle_waits_for_another_sessions_transaction(waiting: Engine, other_transaction: Connection) -> None:
    waiter = threading.Thread(target=wait_idle, args=(waiting,), kwargs={"every": 0.01}, daemon=True)
    waiter.start()
    waiter.join(1.0)
    assert waiter.is_alive(), "wait_idle returned while another session held a transaction open"
    other_transaction.rollback()
    waiter.join(10)
    assert not waiter.is_alive(), "wait_idle still waits after the other session ended its transaction"


def test_wait_idle_names_the_busy_sessions_when_it_gives_up(waiting: Engine, other_transaction: Connection) -> None:
    with pytest.raises(RuntimeError, match=r"\d+ other database sessions still busy after 0\.2 s"):
        wait_idle(waiting, every=0.01, timeout=0.2)
