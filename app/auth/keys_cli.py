"""`python -m app keys ...`: create, list and revoke API keys; grant and revoke users' projects."""

from __future__ import annotations

import argparse
import datetime
import sys

from sqlalchemy import Engine

from app.auth.keys import (
    ROLES,
    active_roles,
    create_key,
    grant_project,
    grants_of,
    list_keys,
    revoke_key,
    revoke_project,
)
from app.storage.db import transaction


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="manage API keys and project grants")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key; it is printed once and cannot be shown again")
    create.add_argument("--principal", required=True, help="the caller's address, e.g. //api.cesanta.com/user_123")
    create.add_argument("--role", required=True, choices=ROLES)
    actions.add_parser("list", help="list keys with the projects each reaches (never the keys themselves)")
    grants = actions.add_parser("grants", help="the projects a principal may reach")
    grants.add_argument("principal")
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
            grants = grants_of(connection)
            for row in list_keys(connection):
                created = datetime.datetime.fromtimestamp(row.created_at, datetime.UTC).isoformat(timespec="seconds")
                revoked = " revoked" if row.revoked_at is not None else ""
                print(
                    f"{row.id}\t{row.role}\t{row.principal}\tcreated {created}{revoked}\t{_reach(row.role, grants.get(row.principal, []))}"
                )
        elif args.action == "grants":
            projects = grants_of(connection, args.principal).get(args.principal, [])
            for project in projects:
                print(project)
            roles = active_roles(connection, args.principal)
            if not roles:
                print(f"note: {args.principal} has no active key", file=sys.stderr)
            elif "user" not in roles:
                print(
                    f"note: {args.principal}'s keys are {', '.join(roles)}: they reach every project", file=sys.stderr
                )
        elif args.action == "revoke":
            if not revoke_key(connection, key_id=args.key_id):
                print(f"no active key with id {args.key_id}")
                return 1
            print(f"revoked key {args.key_id}")
        elif args.action == "grant":
            grant_project(connection, principal=args.principal, project_id=args.project)
            print(f"{args.principal} may reach {args.project}")
            roles = active_roles(connection, args.principal)
            if not roles:
                # Granted all the same (a key may come later), but a typo in the principal would go unnoticed.
                print(
                    f"warning: {args.principal} has no active key; the grant takes effect once one is created "
                    f"(keys create --principal {args.principal} --role user)",
                    file=sys.stderr,
                )
            elif "user" not in roles:
                print(
                    f"note: {args.principal}'s keys are {', '.join(roles)}: they reach every project anyway",
                    file=sys.stderr,
                )
        else:
            if not revoke_project(connection, principal=args.principal, project_id=args.project):
                print(f"{args.principal} had no grant for {args.project}")
                return 1
            print(f"{args.principal} may no longer reach {args.project}")
    return 0


def _reach(role: str, projects: list[str]) -> str:
    """What a key reaches: every project (backend, admin), or its principal's grants (user)."""
    if role != "user":
        return "every project"
    return f"projects: {', '.join(projects)}" if projects else "no projects granted"
