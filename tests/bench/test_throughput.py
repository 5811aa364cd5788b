"""The bench's raw PostgreSQL limit starts only once the servers measured before it have stopped writing."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import text

from app.storage.db import make_engine
from bench.throughput import wait_idle
from tests.helpers import BACKENDS


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs TEST_DATABASE_URL")
def test_wait_idle_waits_for_another_sessions_transaction() -> None:
    url = os.environ["TEST_DATABASE_URL"]
    waiting, other = make_engine(url), make_engine(url)
    try:
        with other.connect() as connection:
            connection.execute(text("SELECT 1"))  # now idle in a transaction, as a server between two statements
            waiter = threading.Thread(target=wait_idle, args=(waiting,), kwargs={"every": 0.01}, daemon=True)
            waiter.start()
            waiter.join(1.0)
            assert waiter.is_alive(), "wait_idle returned while another session held a transaction open"
            connection.rollback()
            waiter.join(10)
        assert not waiter.is_alive(), "wait_idle still waits after the other session ended its transaction"
    finally:
        waiting.dispose()
        other.dispose()


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs TEST_DATABASE_URL")
def test_wait_idle_names_the_busy_sessions_when_it_gives_up() -> None:
    url = os.environ["TEST_DATABASE_URL"]
    waiting, other = make_engine(url), make_engine(url)
    try:
        with other.connect() as connection:
            connection.execute(text("SELECT 1"))
            with pytest.raises(RuntimeError, match=r"1 other database sessions still busy after 0\.2 s"):
                wait_idle(waiting, every=0.01, timeout=0.2)
    finally:
        waiting.dispose()
        other.dispose()
