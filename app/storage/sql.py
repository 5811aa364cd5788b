"""Hot-path SQL run straight on the driver's cursor, in a command's Transaction (app/storage/db.py).

Going through SQLAlchemy's execution machinery costs about 50 microseconds per statement; the
driver's cursor about 6. Statements here are plain SQL with :name parameters, compiled by SQLAlchemy
once per dialect into the driver's own placeholders (sqlite3: `?` in order; psycopg: %(name)s, with
a literal % doubled); rows come back as named tuples.
"""

from __future__ import annotations

import functools
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Dialect

from app.storage.db import Transaction

AnyRow = Any
"""A result row: a named tuple whose fields are the selected columns (row.state, row.device_id)."""

Arrange = Callable[[Mapping[str, Any]], Any]
"""Named parameters to what the driver takes: a tuple in placeholder order for a positional paramstyle."""


class Statement:
    """One SQL statement and the names of the columns it returns (none for writes)."""

    def __init__(self, sql: str, columns: Sequence[str] = ()) -> None:
        self.sql = sql
        # Rows get attribute access by column name; the type is made at run time, so it is Any here.
        self._row: Any = _row_type(tuple(columns)) if columns else None
        self._compiled: dict[Dialect, tuple[str, Arrange | None]] = {}

    # `alone=True`: this statement is the whole command, and may run without BEGIN and COMMIT (see Transaction).

    def rows(self, tx: Transaction, params: Mapping[str, Any], *, alone: bool = False) -> list[Any]:
        assert self._row is not None, "rows() of a statement that returns no columns"
        make = self._row._make
        return [make(row) for row in self._run(tx, params, "all", alone)]

    def first(self, tx: Transaction, params: Mapping[str, Any], *, alone: bool = False) -> Any | None:
        assert self._row is not None, "first() of a statement that returns no columns"
        row = self._run(tx, params, "one", alone)
        return None if row is None else self._row._make(row)

    def iterate(self, tx: Transaction, params: Mapping[str, Any], *, batch: int = 2000) -> Iterator[Any]:
        """Rows a batch at a time, so a result of millions of rows never sits in memory whole."""
        assert self._row is not None, "iterate() of a statement that returns no columns"
        sql, arrange = self._compiled.get(tx.dialect) or self._compile_for(tx.dialect)
        # psycopg sends a plain cursor's whole result at once; a named (server-side) cursor pages it.
        cursor = tx.cursor(name=f"stream_{uuid.uuid4().hex}" if tx.postgres else None)
        try:
            cursor.execute(sql, params if arrange is None else arrange(params))
            make = self._row._make
            while rows := cursor.fetchmany(batch):
                yield from map(make, rows)
        finally:
            cursor.close()

    def scalars(self, tx: Transaction, params: Mapping[str, Any], *, alone: bool = False) -> list[Any]:
        return [row[0] for row in self._run(tx, params, "all", alone)]

    def rowcount(self, tx: Transaction, params: Mapping[str, Any], *, alone: bool = False) -> int:
        count: int = self._run(tx, params, "count", alone)
        return count

    def rowcounts(self, tx: Transaction, params: Iterable[Mapping[str, Any]]) -> list[int]:
        """rowcount() of each of several runs, in order, on one cursor (a statement per run, not executemany,
        whose rowcount is their sum)."""
        sql, arrange = self._compiled.get(tx.dialect) or self._compile_for(tx.dialect)
        cursor = tx.cursor()
        try:
            counts = []
            for each in params:
                cursor.execute(sql, each if arrange is None else arrange(each))
                counts.append(cursor.rowcount)
            return counts
        finally:
            cursor.close()

    def _run(self, tx: Transaction, params: Mapping[str, Any], fetch: str, alone: bool) -> Any:
        sql, arrange = self._compiled.get(tx.dialect) or self._compile_for(tx.dialect)
        cursor = tx.cursor(alone=alone)
        try:
            cursor.execute(sql, params if arrange is None else arrange(params))
            if fetch == "all":
                return cursor.fetchall()
            if fetch == "one":
                return cursor.fetchone()
            return cursor.rowcount
        finally:
            cursor.close()

    def _compile_for(self, dialect: Dialect) -> tuple[str, Arrange | None]:
        """At the statement's first use on a dialect: compiled once, then kept."""
        compiled = self._compiled[dialect] = _compile(self.sql, dialect)
        return compiled


@functools.lru_cache(maxsize=512)
def _compile(sql: str, dialect: Dialect) -> tuple[str, Arrange | None]:
    """SQLAlchemy's compilation of the text for the dialect: the SQL the driver takes, and how to pass the
    parameters (None: the mapping as it is). Cached by text too, for statements made per call."""
    compiled = text(sql).compile(dialect=dialect)
    names = compiled.positiontup
    if names is None:
        return compiled.string, None
    return compiled.string, _positional(tuple(names))


def _positional(names: tuple[str, ...]) -> Arrange:
    if not names:
        return lambda _params: ()
    if len(names) == 1:
        (name,) = names
        return lambda params: (params[name],)
    return itemgetter(*names)


@functools.cache
def _row_type(columns: tuple[str, ...]) -> Any:
    return namedtuple("Row", columns)
