"""/healthz says the process is alive; /readyz says whether it can serve: the database answers and its schema
revision (Alembic's `alembic_version`) is the one this server's migrations end at."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.composition import create_app
from app.settings import Settings
from app.storage.db import make_engine, normalise_url
from app.storage.migrate import MIGRATIONS
from tests.helpers import migrate


def head() -> str:
    """The newest migration, whichever it is: one added later must not break these tests."""
    revision = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert revision is not None
    return revision


def test_readyz_is_ready_on_a_migrated_database(http: TestClient) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "revision": head()}


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    path = tmp_path / "rollout.db"
    migrate(f"sqlite:///{path}")
    with TestClient(create_app(Settings(database_url=f"sqlite:///{path}", auth_disabled=True))) as client:
        yield client, path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("DROP TABLE alembic_version", "no schema revision"),
        ("UPDATE alembic_version SET version_num = '0001'", "schema revision 0001"),
        ("UPDATE alembic_version SET version_num = '9999'", "schema revision 9999"),
    ],
    ids=["missing", "older", "unknown"],
)
def test_readyz_names_a_schema_revision_that_is_not_this_servers(
    sqlite_client: tuple[TestClient, Path], change: str, expected: str
) -> None:
    client, path = sqlite_client
    assert client.get("/readyz").status_code == 200
    with sqlite3.connect(path) as connection:
        connection.execute(change)
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "not ready"
    (problem,) = body["problems"]
    assert expected in problem and head() in problem, problem
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_a_dropped_and_recreated_postgresql_database_is_not_ready() -> None:
    base = normalise_url(os.environ["TEST_DATABASE_URL"])
    name = f"rollout_ready_{uuid.uuid4().hex[:10]}"
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")

    def sql(statement: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(statement))

    sql(f'CREATE DATABASE "{name}"')
    try:
        migrate(url)
        with TestClient(create_app(Settings(database_url=url, auth_disabled=True))) as client:
            assert client.get("/readyz").status_code == 200
            sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            sql(f'CREATE DATABASE "{name}"')
            response = client.get("/readyz")
            assert response.status_code == 503, response.text
            (problem,) = response.json()["problems"]
            assert "no schema revision" in problem, problem
            assert client.get("/healthz").status_code == 200
    finally:
        sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_readyz_is_documented_beside_healthz(http: TestClient) -> None:
    paths: dict[str, Any] = http.get("/openapi.json").json()["paths"]
    health, ready = paths["/healthz"]["get"], paths["/readyz"]["get"]
    assert ready["tags"] == health["tags"] == ["Health"]
    assert ready["security"] == health["security"] == []
    assert {"200", "503"} <= set(ready["responses"])
