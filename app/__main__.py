"""`python -m app serve`: migrate the database, then serve the API."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from app.db import make_engine
from app.migrate import upgrade
from app.settings import Settings
from app.web import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="The Rollout service.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="apply migrations and serve on HOST:PORT (environment)")
    commands.add_parser("migrate", help="apply migrations and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    if args.command == "migrate":
        return 0
    base = f"http://{settings.host}:{settings.port}"
    print(
        f"Rollout service on {base}  (API docs: {base}/docs, {base}/redoc; database: {_redact(settings.database_url)})"
    )
    sys.stdout.flush()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def _redact(url: str) -> str:
    """Hide a password in the database URL before printing it."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        rest = f"{user}:***@{rest.split('@', 1)[1]}"
    return scheme + sep + rest


if __name__ == "__main__":
    sys.exit(main())
