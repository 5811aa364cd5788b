"""The migrations are the only way the schema changes, so they must build exactly what the tables declare."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import SQLModel

import app.storage.tables  # noqa: F401  # registers the tables on SQLModel.metadata
from app.storage.db import make_engine
from app.storage.migrate import alembic_config, upgrade
from app.storage.sqlite_file import create_missing, sqlite_path
from tests.helpers import BACKENDS, postgres_schema_url


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    # The newest migration, whichever it is: a migration added later must not break this test.
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    engine.dispose()
    assert head is not None
    assert revision == head


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(os.environ["TEST_DATABASE_URL"])
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield postgres_schema_url(os.environ["TEST_DATABASE_URL"], schema)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_progress_migration_counts_the_devices_of_existing_rollouts(empty_url: str) -> None:
    """A database of the first release (revision 0002) with rollouts in it: 0003 counts and dates them, and from
    then on its triggers keep the counts."""
    engine = make_engine(empty_url)
    path = sqlite_path(engine.url)
    if path is not None:
        create_missing(path)  # (the serving engine never creates a file; upgrade() does, but this starts at 0002)
    command.upgrade(alembic_config(engine), "0002")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO rollout (id, project_id, firmware_id, device_filter, state) "
                "VALUES (1, 'p', 'fw', 'a=b', 'inProgress'), (2, 'p', 'fw', 'a=b', 'init')"
            )
        )
        states = ["init", "init", "started", "succeeded", "failed", "failed"]
        for n, state in enumerate(states):
            connection.execute(
                text("INSERT INTO rollout_device (rollout_id, device_id, state) VALUES (1, :d, :s)"),
                {"d": f"d{n}", "s": state},
            )
    before = time.time()
    upgrade(engine)
    counts = "SELECT count_init, count_started, count_succeeded, count_failed FROM rollout WHERE id = :id"
    with engine.begin() as connection:
        assert tuple(connection.execute(text(counts), {"id": 1}).one()) == (2, 1, 1, 2)
        assert tuple(connection.execute(text(counts), {"id": 2}).one()) == (0, 0, 0, 0)
        assert connection.execute(text("SELECT min(created_at) FROM rollout")).scalar_one() >= before
        assert connection.execute(text("SELECT min(updated_at) FROM rollout_device")).scalar_one() >= before
        connection.execute(text("UPDATE rollout_device SET state = 'succeeded' WHERE device_id = 'd2'"))
        assert tuple(connection.execute(text(counts), {"id": 1}).one()) == (2, 0, 2, 2)
        moved = connection.execute(text("SELECT device_id, from_state, to_state FROM rollout_event")).all()
        assert [tuple(row) for row in moved] == [("d2", "started", "succeeded")]
    engine.dispose()
