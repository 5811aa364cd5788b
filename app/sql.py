"""Hot-path SQL run straight on the driver's cursor, in a command's Session (app/db.py).

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

from app.db import Session

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

    # `alone=True`: this statement is the whole command, and may run without BEGIN and COMMIT (see Session).

    def rows(self, session: Session, params: Mapping[str, Any], *, alone: bool = False) -> list[Any]:
        assert self._row is not None, "rows() of a statement that returns no columns"
        make = self._row._make
        return [make(row) for row in self._run(session, params, "all", alone)]

    def first(self, session: Session, params: Mapping[str, Any], *, alone: bool = False) -> Any | None:
        assert self._row is not None, "first() of a statement that returns no columns"
        row = self._run(session, params, "one", alone)
        return None if row is None else self._row._make(row)

    def iterate(self, session: Session, params: Mapping[str, Any], *, batch: int = 2000) -> Iterator[Any]:
        """Rows a batch at a time, so a result of millions of rows never sits in memory whole."""
        assert self._row is not None, "iterate() of a statement that returns no columns"
        postgres = session.postgres
        # psycopg sends a plain cursor's whole result at once; a named (server-side) cursor pages it.
        cursor = session.cursor(name=f"stream_{uuid.uuid4().hex}" if postgres else None)
        try:
            cursor.execute(self._pyformat if postgres else self.sql, params)
            make = self._row._make
            while rows := cursor.fetchmany(batch):
                yield from map(make, rows)
        finally:
            cursor.close()

    def scalars(self, session: Session, params: Mapping[str, Any], *, alone: bool = False) -> list[Any]:
        return [row[0] for row in self._run(session, params, "all", alone)]

    def rowcount(self, session: Session, params: Mapping[str, Any], *, alone: bool = False) -> int:
        count: int = self._run(session, params, "count", alone)
        return count

    def _run(self, session: Session, params: Mapping[str, Any], fetch: str, alone: bool) -> Any:
        sql = self._pyformat if session.postgres else self.sql
        cursor = session.cursor(alone=alone)
        try:
            cursor.execute(sql, params)
            if fetch == "all":
                return cursor.fetchall()
            if fetch == "one":
                return cursor.fetchone()
            return cursor.rowcount
        finally:
            cursor.close()
