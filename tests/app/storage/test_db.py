"""DATABASE_URL handling: plain PostgreSQL URLs use psycopg 3, and a printed URL never shows the password."""

from __future__ import annotations

import pytest

from app.storage.db import normalise_url, redact_url


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://user:pw@db:5432/rollout", "postgresql+psycopg://user:pw@db:5432/rollout"),
        ("postgres://db/rollout?sslmode=require", "postgresql+psycopg://db/rollout?sslmode=require"),
        ("postgresql+psycopg://db/rollout", "postgresql+psycopg://db/rollout"),
        ("sqlite:///rollout.db", "sqlite:///rollout.db"),
    ],
)
def test_plain_postgresql_urls_use_psycopg(given: str, used: str) -> None:
    assert normalise_url(given).render_as_string(hide_password=False) == used


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        ("postgresql://user:s3cret@db:5432/rollout", "postgresql://user:***@db:5432/rollout"),
        ("postgresql://user:p%40ss%3Aw%2Frd@db/rollout", "postgresql://user:***@db/rollout"),
        ("postgresql://user@db/rollout", "postgresql://user@db/rollout"),
        ("sqlite:///rollout.db", "sqlite:///rollout.db"),
    ],
)
def test_printed_urls_hide_the_password(given: str, printed: str) -> None:
    assert redact_url(given) == printed
