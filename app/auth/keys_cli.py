"""`python -m app keys ...`: create, list and revoke API keys; grant and revoke users' projects."""

from __future__ import annotations

import argparse
import datetime
import sys

from sqlalchemy import Engine

from app.auth.keys import ROLES, create_key, grant_project, list_keys, revoke_key, revoke_project
from app.storage.db import transaction


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="manage API keys and project grants")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key; it is printed once and cannot be shown again")
    create.add_argument("--principal", required=True, help="the caller's address, e.g. //api.cesanta.com/user_123")
    create.add_argument("--role", required=True, choices=ROLES)
    actions.add_parser("list", help="list keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", type=int)
    for name, text in (("grant", "let a user's principal reach a project"), ("ungrant", "take a project away")):
        grant = actions.add_parser(name, help=text)
        grant.add_argument("principal")
        grant.add_argument("project")


def run(engine: Engine, args: argparse.Namespace) -> int:
    try:
        return _run(engine, args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(engine: Engine, args: argparse.Namespace) -> int:
    with transaction(engine, writes=True) as connection:
        if args.action == "create":
            key_id, key = create_key(connection, principal=args.principal, role=args.role)
            print(f"created key {key_id} for {args.principal} ({args.role}); it is shown only now:")
            print(key)
        elif args.action == "list":
            for row in list_keys(connection):
                created = datetime.datetime.fromtimestamp(row.created_at, datetime.UTC).isoformat(timespec="seconds")
                revoked = " revoked" if row.revoked_at is not None else ""
                print(f"{row.id}\t{row.role}\t{row.principal}\tcreated {created}{revoked}")
        elif args.action == "revoke":
            if not revoke_key(connection, key_id=args.key_id):
                print(f"no active key with id {args.key_id}")
                return 1
            print(f"revoked key {args.key_id}")
        elif args.action == "grant":
            grant_project(connection, principal=args.principal, project_id=args.project)
            print(f"{args.principal} may reach {args.project}")
        else:
            if not revoke_project(connection, principal=args.principal, project_id=args.project):
                print(f"{args.principal} had no grant for {args.project}")
                return 1
            print(f"{args.principal} may no longer reach {args.project}")
    return 0
