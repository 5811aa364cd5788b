"""The migrations are the only way the schema changes, so they must build exactly what the tables declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import app.storage.tables  # noqa: F401  # registers the tables on SQLModel.metadata
from app.storage.db import make_engine
from app.storage.migrate import alembic_config, upgrade


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
