"""Whether the database can be served: the file is there (SQLite), the database answers, and its schema revision
is the one this server's migrations end at. A database dropped and re-created under a running server answers
but has no revision; one migrated by a newer server has a revision this one does not know."""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.storage import sqlite_file
from app.storage.migrate import MIGRATIONS


def problems(engine: Engine, head: str) -> list[str]:
    """What keeps the database from being served, each in a sentence; none when it is ready."""
    path = sqlite_file.sqlite_path(engine.url)
    found = [] if path is None else sqlite_file.problems(path)
    if path is not None and not path.exists():
        return found  # nothing more to learn from a file that is not there
    try:
        with engine.connect() as connection:
            revisions = MigrationContext.configure(connection).get_current_heads()
    except SQLAlchemyError as exc:
        return [*found, f"the database does not answer: {_first_line(exc)}"]
    return [*found, *_revision_problems(revisions, head)]


def _revision_problems(revisions: tuple[str, ...], head: str) -> list[str]:
    if revisions == (head,):
        return []
    if not revisions:
        return [
            f"the database has no schema revision (no alembic_version): it is empty or was re-created; this "
            f"server needs {head}: run `python -m app migrate` (or restart the server, which migrates)"
        ]
    known = {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    found = ", ".join(revisions)
    if set(revisions) <= known:
        return [f"the database is at schema revision {found}; this server needs {head}: run `python -m app migrate`"]
    return [
        f"the database is at schema revision {found}, which this server does not know (a newer server migrated "
        f"it?); this server needs {head}"
    ]


def _first_line(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's SQL and background link."""
    message = str(getattr(exc, "orig", None) or exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__
