"""Hot-path statements: compiled by SQLAlchemy for each backend's driver, once, then run on the cursor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import Dialect

from app.storage import sql
from app.storage.db import ConnectionLease, make_engine
from app.storage.sql import Statement


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


# A literal % (psycopg would read it as a placeholder unless doubled), a parameter used twice, and a
# parameter the statement does not use (callers pass one mapping for several statements).
PERCENT_AND_REPEATS = Statement(
    "SELECT CAST(:word AS TEXT) || '%' AS word, :n + :n AS twice, :n AS n", ["word", "twice", "n"]
)


def test_parameters_reach_the_driver_in_its_own_style(engine: Engine) -> None:
    params = {"n": 21, "word": "100", "unused": object()}
    with ConnectionLease(engine) as lease, lease.transaction(writes=False) as session:
        row = PERCENT_AND_REPEATS.first(session, params)
        assert row is not None
        assert (row.word, row.twice, row.n) == ("100%", 42, 21)
        assert [tuple(row) for row in PERCENT_AND_REPEATS.iterate(session, params)] == [("100%", 42, 21)]


def test_a_statement_is_compiled_once_per_dialect(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real_compile = sql._compile.__wrapped__

    def counting_compile(text: str, dialect: Dialect) -> Any:
        compiled.append(dialect.name)
        return real_compile(text, dialect)

    monkeypatch.setattr(sql, "_compile", counting_compile)
    statement = Statement("SELECT :a AS a", ["a"])
    with ConnectionLease(engine) as lease:
        for value in range(3):
            with lease.transaction(writes=False) as session:
                assert statement.scalars(session, {"a": value}) == [value]
    assert compiled == [engine.dialect.name]


def test_rowcounts_are_each_runs_own_in_order(engine: Engine) -> None:
    with ConnectionLease(engine) as lease, lease.transaction(writes=True) as session:
        session.cursor().execute("CREATE TEMPORARY TABLE counted (n INTEGER)")
        session.cursor().execute("INSERT INTO counted VALUES (1), (2), (2), (3), (3), (3)")
        statement = Statement("UPDATE counted SET n = n WHERE n = :n")
        params = ({"n": n} for n in (3, 0, 1, 2))  # (any iterable: the service passes a generator)
        assert statement.rowcounts(session, params) == [3, 0, 1, 2]
