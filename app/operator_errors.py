"""Mistakes an operator makes starting the service, each said in one line with what to do instead of a traceback:
the database URL, the database itself, the address to listen on. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

import difflib
import errno
import re
import socket
import sqlite3
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from app.storage import sqlite_file
from app.storage.db import redact_url

_EXAMPLES = "postgresql://user@host:5432/db or sqlite:///rollout.db"
_MISSING_DATABASE = re.compile(r'database "(?P<name>[^"]+)" does not exist')


def explain_bind(exc: OSError, host: str, port: int) -> str:
    """Why HOST:PORT could not be listened on."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{host}:{port} is in use (is another server running?): stop it, or choose another port, "
            f"e.g. PORT={port + 1}"
        )
    if exc.errno == errno.EACCES:
        return f"port {port} needs privileges on {host}: choose one above 1023, e.g. PORT=8000"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"HOST={host!r} is not an address of this machine: use 127.0.0.1 (this machine only) or 0.0.0.0 (all)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def explain_database(exc: Exception, database_url: str) -> str | None:
    """What is wrong with DATABASE_URL or the database it names; None for an error that is not the operator's."""
    if isinstance(exc, NoSuchModuleError):
        return _unknown_driver(database_url)
    if isinstance(exc, ArgumentError):
        return _bad_url(database_url)
    if isinstance(exc, ImportError) and exc.name and not exc.name.startswith(("app", "rollout_api")):
        # SQLAlchemy knows the dialect but its driver is not installed (mysql://, mssql://, ...).
        return f"DATABASE_URL needs the Python module {exc.name!r}, which is not installed (use {_EXAMPLES})"
    driver_error: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    message = _first_line(driver_error)
    url = make_url(database_url)
    if isinstance(driver_error, sqlite3.Error):
        return _sqlite(message, sqlite_file.sqlite_path(url))
    if isinstance(exc, DBAPIError) and url.get_backend_name() == "postgresql":
        return _postgresql(message, url.host or "localhost", url.port or 5432, url.username)
    if isinstance(exc, DBAPIError):
        return f"cannot use the database {redact_url(database_url)}: {message}"
    return None


def _unknown_driver(database_url: str) -> str:
    scheme = database_url.partition(":")[0]
    backend = scheme.partition("+")[0]
    meant = difflib.get_close_matches(backend, ["postgresql", "sqlite"], n=1)
    guess = f"; did you mean {meant[0]}://?" if meant else ""
    return f"DATABASE_URL names the database driver {scheme!r}, which does not exist{guess} (use {_EXAMPLES})"


def _bad_url(database_url: str) -> str:
    try:
        url = make_url(database_url)
    except ArgumentError:
        # Not echoed: a URL that does not parse may still hold a password.
        return f"DATABASE_URL is not a database URL (use {_EXAMPLES})"
    if url.get_backend_name() == "sqlite" and url.host:
        fixed = "sqlite:///" + "/".join(part for part in (url.host, url.database) if part)
        return (
            f"DATABASE_URL={redact_url(url)} puts the file where a host goes: a SQLite URL has three slashes before "
            f"a relative path ({fixed}) and four before an absolute one (sqlite:////var/lib/rollout/rollout.db)"
        )
    return f"DATABASE_URL={redact_url(url)} is not a valid URL for its database (use {_EXAMPLES})"


def _sqlite(message: str, path: Path | None) -> str:
    if path is None:
        return f"cannot use the SQLite database: {message}"
    if not path.parent.is_dir():
        return f"cannot create the SQLite database {path}: the directory {path.parent} does not exist"
    problems = sqlite_file.problems(path)
    return "; ".join(problems) if problems else f"cannot use the SQLite database {path}: {message}"


def _postgresql(message: str, host: str, port: int, user: str | None) -> str:
    missing = _MISSING_DATABASE.search(message)
    if missing:
        name = missing["name"]
        as_user = f" -U {user}" if user else ""
        return (
            f'database "{name}" does not exist on {host}:{port}: '
            f"create it with `createdb -h {host} -p {port}{as_user} {name}`"
        )
    if "Connection refused" in message:
        return (
            f"cannot connect to PostgreSQL at {host}:{port} (connection refused): is it running, and are "
            "DATABASE_URL's host and port right?"
        )
    return f"cannot use the PostgreSQL database at {host}:{port}: {message}"


def _first_line(error: BaseException) -> str:
    """The driver's message, first line only (psycopg adds hints on further lines; SQLAlchemy adds the SQL)."""
    lines = str(error).strip().splitlines()
    return lines[0].removeprefix("connection failed: ") if lines else type(error).__name__
