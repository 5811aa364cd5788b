"""Mistakes an operator makes starting `python -m app serve` answer in one line that says what to do, without a
traceback: a PostgreSQL database that does not exist, a misspelt driver, a SQLite URL without its third slash, a
read-only database file, a port already in use, a setting that is not a number."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from app.storage.db import normalise_url
from tests.helpers import ROOT, as_plain_user, child_env, free_port, migrate


def serve(cwd: Path, *prefix: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m app serve` as an operator runs it; it should stop at once, so a server that starts is a failure."""
    environ = child_env(ROOT, {"HOST": "127.0.0.1", "PORT": str(free_port()), **env})
    try:
        return subprocess.run(
            [*prefix, sys.executable, "-m", "app", "serve"],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the server started instead of refusing to: {exc.stdout!r} {exc.stderr!r}") from None


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error:` line, last on stderr; exit status 1 and no traceback."""
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 1, output
    assert "Traceback" not in result.stdout + result.stderr, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    assert result.stderr.rstrip().splitlines()[-1] == errors[0], output
    assert "Rollout service on" not in result.stdout, output
    return errors[0]


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_a_postgresql_database_that_does_not_exist(tmp_path: Path) -> None:
    name = f"rollout_missing_{uuid.uuid4().hex[:10]}"
    url = normalise_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql", database=name)
    line = error_line(serve(tmp_path, DATABASE_URL=url.render_as_string(hide_password=False)))
    assert f'database "{name}" does not exist' in line, line
    assert f"createdb -h {url.host} -p {url.port or 5432} -U {url.username} {name}" in line, line


def test_a_misspelt_driver(tmp_path: Path) -> None:
    line = error_line(serve(tmp_path, DATABASE_URL="postgresq://rollout@db.internal:5432/rollout"))
    assert "'postgresq'" in line and "postgresql://" in line, line


def test_a_sqlite_url_without_its_third_slash(tmp_path: Path) -> None:
    line = error_line(serve(tmp_path, DATABASE_URL="sqlite://rollout.db"))
    assert "sqlite:///rollout.db" in line, line
    assert not list(tmp_path.iterdir())


def test_a_read_only_database_file(tmp_path: Path) -> None:
    path = tmp_path / "rollout.db"
    migrate(f"sqlite:///{path}")
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    line = error_line(serve(tmp_path, *as_plain_user(), DATABASE_URL=f"sqlite:///{path}"))
    assert str(path) in line and "read-only" in line and "chmod" in line, line


def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'rollout.db'}", PORT=str(port))
    line = error_line(result)
    assert f"127.0.0.1:{port}" in line and "in use" in line and "PORT=" in line, line


def test_a_setting_that_is_not_a_number(tmp_path: Path) -> None:
    line = error_line(serve(tmp_path, PORT="eighty"))
    assert "PORT='eighty' is not an integer" in line, line
