"""Hot-path SQL run straight on the driver's cursor, inside a transaction SQLAlchemy manages.

Going through SQLAlchemy's execution machinery costs about 50 microseconds per statement; the
driver's cursor about 6. Statements here are plain SQL with :name parameters, rewritten once per
dialect (sqlite3 takes :name itself, psycopg wants %(name)s); rows come back as named tuples.
"""

from __future__ import annotations

import re
import uuid
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

AnyRow = Any
"""A result row: a named tuple whose fields are the selected columns (row.state, row.device_id)."""

_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


class Statement:
    """One SQL statement and the names of the columns it returns (none for writes)."""

    def __init__(self, sql: str, columns: Sequence[str] = ()) -> None:
        if "%" in sql:
            raise ValueError("statements may not contain '%': psycopg would read it as a placeholder")
        self.sql = sql
        # Rows get attribute access by column name; the type is made at run time, so it is Any here.
        self._row: Any = namedtuple("Row", columns) if columns else None
        self._pyformat = _PARAMETER.sub(r"%(\1)s", sql)

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        assert self._row is not None, "rows() of a statement that returns no columns"
        make = self._row._make
        return [make(row) for row in self._run(connection, params, "all")]

    def first(self, connection: Connection, params: Mapping[str, Any]) -> Any | None:
        assert self._row is not None, "first() of a statement that returns no columns"
        row = self._run(connection, params, "one")
        return None if row is None else self._row._make(row)

    def iterate(self, connection: Connection, params: Mapping[str, Any], *, batch: int = 2000) -> Iterator[Any]:
        """Rows a batch at a time, so a result of millions of rows never sits in memory whole."""
        assert self._row is not None, "iterate() of a statement that returns no columns"
        postgres = connection.dialect.name == "postgresql"
        driver = connection.connection.driver_connection
        assert driver is not None
        # psycopg sends a plain cursor's whole result at once; a named (server-side) cursor pages it.
        cursor = driver.cursor(name=f"stream_{uuid.uuid4().hex}") if postgres else driver.cursor()
        try:
            cursor.execute(self._pyformat if postgres else self.sql, params)
            make = self._row._make
            while rows := cursor.fetchmany(batch):
                yield from map(make, rows)
        finally:
            cursor.close()

    def scalars(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        return [row[0] for row in self._run(connection, params, "all")]

    def rowcount(self, connection: Connection, params: Mapping[str, Any]) -> int:
        count: int = self._run(connection, params, "count")
        return count

    def _run(self, connection: Connection, params: Mapping[str, Any], fetch: str) -> Any:
        sql = self._pyformat if connection.dialect.name == "postgresql" else self.sql
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, params)
            if fetch == "all":
                return cursor.fetchall()
            if fetch == "one":
                return cursor.fetchone()
            return cursor.rowcount
        finally:
            cursor.close()
