"""`python -m app serve | migrate | keys ...`: run the service and manage who may call it."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

from sqlalchemy import Engine

from app import logs, serving, workers
from app.auth import keys_cli
from app.auth.keys import count_keys, create_key
from app.composition import create_app
from app.operator_errors import explain_bind, explain_database
from app.settings import Settings
from app.storage.db import make_engine, redact_url, transaction
from app.storage.migrate import upgrade

log = logging.getLogger("app")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="The Rollout service.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="apply migrations and serve on HOST:PORT (environment)")
    commands.add_parser("migrate", help="apply migrations and exit")
    keys_cli.add_commands(commands)
    args = parser.parse_args(argv)
    logs.configure("text")
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        return _refuse(str(exc))
    logs.configure(settings.log_format)
    sockets: list[list[socket.socket]] = []  # a set per worker
    if args.command == "serve":
        try:
            sockets = serving.bind(settings.host, settings.port, copies=settings.workers)
        except OSError as exc:
            return _refuse(explain_bind(exc, settings.host, settings.port))
    try:
        status = _prepare(args, settings)
    except Exception as exc:
        for sock in (sock for each in sockets for sock in each):
            sock.close()
        message = explain_database(exc, settings.database_url)
        if message is None:
            raise
        return _refuse(message)
    if args.command == "serve":
        base = f"http://{settings.host}:{settings.port}"
        processes = f"; {settings.workers} worker processes" if settings.workers > 1 else ""
        print(
            f"Rollout service on {base}  (API docs: {base}/docs; database: {redact_url(settings.database_url)}"
            f"{processes})"
        )
        sys.stdout.flush()
        if settings.workers > 1:
            return workers.serve(settings, sockets)
        serving.run(create_app(settings), sockets[0], grace_seconds=settings.shutdown_grace_seconds)
    return status


def _prepare(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, then run a `keys` command, or make sure that `serve` has a key to be called with."""
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        if args.command == "keys":
            return keys_cli.run(engine, args)
        if args.command == "serve":
            _prepare_access(engine, settings)
    finally:
        engine.dispose()
    return 0


def _refuse(message: str) -> int:
    """An operator's mistake: one line on stderr that says what to do, and exit status 1."""
    print(f"error: {message}", file=sys.stderr)
    return 1


def _prepare_access(engine: Engine, settings: Settings) -> None:
    """Warn about insecure mode, or make the first admin key on an empty database and show it once."""
    if settings.auth_disabled:
        log.warning("AUTH_DISABLED is set: every caller is treated as an admin. Use this only for local experiments.")
        return
    with transaction(engine, writes=True) as connection:
        if count_keys(connection):
            return
        key_id, key = create_key(connection, principal=settings.admin_principal, role="admin")
    print(
        f"No API keys existed, so an admin key (id {key_id}, principal {settings.admin_principal}) was created.\n"
        f"It is shown only now; keep it safe and send it as 'Authorization: Bearer <key>':\n\n    {key}\n\n"
        "Make more with `python3 -m nox -s keys -- create --principal //... --role user|backend|admin`."
    )


if __name__ == "__main__":
    sys.exit(main())
