"""The serving engine opens an existing SQLite file and never creates one: only the migration at the first start
does. A pooled connection whose file was deleted is not used again, so no write goes into a deleted file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app.storage.db import ConnectionLease, make_engine
from app.storage.migrate import upgrade


def test_the_engine_does_not_create_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "rollout.db"
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(OperationalError), engine.connect():
        pass
    engine.dispose()
    assert not path.exists()


def test_the_migration_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rollout.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM rollout")).scalar_one() == 0
    engine.dispose()


def add_rollout(engine: Engine) -> None:
    with ConnectionLease(engine) as lease, lease.transaction(writes=True) as tx:
        cursor = tx.cursor()
        cursor.execute(
            "INSERT INTO rollout (project_id, firmware_id, device_filter, state) VALUES ('p', 'f', 'a=b', 'init')"
        )
        cursor.close()


def count_rollouts(path: Path) -> int:
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        count: int = connection.execute(text("SELECT count(*) FROM rollout")).scalar_one()
    engine.dispose()
    return count


def test_a_write_after_the_file_was_deleted_fails_and_a_restored_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "rollout.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    add_rollout(engine)  # the pool now holds a connection to this file
    for file in tmp_path.glob("rollout.db*"):
        file.unlink()
    with pytest.raises((OperationalError, sqlite3.OperationalError)):  # raw_connection() leaves the driver's unwrapped
        add_rollout(engine)
    assert not path.exists()

    # A file put back at the path (restored from a backup, or migrated anew) is the one written to.
    restored = make_engine(f"sqlite:///{path}")
    upgrade(restored)
    restored.dispose()
    add_rollout(engine)
    engine.dispose()
    assert count_rollouts(path) == 1
