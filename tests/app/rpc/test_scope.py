"""Scope is declared in the definitions and enforced once, by the dispatcher: a new method is scoped by default,
and its handler needs no reach check for another project's data to stay unreachable."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api import METHODS, MethodSpec
from rollout_api.errors import NotFound
from rollout_api.rollout.contract import GET
from rollout_api.rollout.models import GetArgs, Rollout
from rollout_api.spec import Scope

from app.auth.keys import Caller
from app.rollout import store
from app.rollout.service import as_rollout
from app.rpc.asgi import RpcApp
from app.rpc.context import RequestContext
from app.rpc.dispatch import Dispatcher
from codegen.build import build_api
from codegen.loader import load_definitions
from tests.helpers import ROOT, create_rollout

PEEK = {
    "doc": "Shows a rollout, with no checks of its own.",
    "args": {"projectid": "string", "rolloutid": "string"},
    "required_args": ["projectid", "rolloutid"],
    "result": {"$ref": "_types.json#/$defs/Rollout"},
}


@pytest.fixture(scope="module")
def peek_scope(tmp_path_factory: pytest.TempPathFactory) -> Scope:
    """Peek.json added to a copy of the definitions, with no word about scope: what the generator makes of it."""
    definitions = tmp_path_factory.mktemp("scoped") / "definitions"
    shutil.copytree(ROOT / "definitions", definitions)
    (definitions / "Rollout" / "Peek.json").write_text(json.dumps(PEEK), encoding="utf-8")
    api = build_api(load_definitions(definitions), package="rollout_api", distribution="rollout-api", version="0")
    (peek,) = [m for s in api.services for m in s.methods if m.name == "Peek"]
    assert peek.scope is not None, "a method that takes the service's scope argument is scoped by default"
    return Scope(*peek.scope)


def _peek(ctx: RequestContext, args: GetArgs) -> Rollout:
    """A careless handler: no reach check, it reads whatever project it is told to."""
    row = store.find_rollout(
        ctx.transaction, project_id=args.projectid, rollout_id=int(args.rolloutid), lock=None, alone=True
    )
    if row is None:
        raise NotFound(f"rollout {args.rolloutid!r} not found in project {args.projectid!r}")
    return as_rollout(row)


def test_a_new_method_keeps_other_projects_unreachable_without_a_check_of_its_own(
    app: RpcApp, http: TestClient, project: str, peek_scope: Scope
) -> None:
    spec: MethodSpec[Any, Any] = dataclasses.replace(
        GET, method="Peek", wire_name="/v1/Rollout.Peek", attr="peek", examples=(), scope=peek_scope
    )
    dispatcher = Dispatcher(
        methods={**METHODS, spec.wire_name: spec},
        handlers={spec.wire_name: _peek},
        engine=app.state.engine,
        server_address="//api.cesanta.com",
    )
    rollout_id = create_rollout(http, project)
    other = f"{project}_other"
    owner = Caller(principal="//owner", role="user", projects=frozenset({project}))
    stranger = Caller(principal="//stranger", role="user", projects=frozenset({other}))

    mine = dispatcher.call(spec, {"projectid": project, "rolloutid": rollout_id}, owner, "test")
    assert (mine.status, mine.result["name"]) == (0, "Today's rollout")

    theirs = dispatcher.call(spec, {"projectid": project, "rolloutid": rollout_id}, stranger, "test")
    missing = dispatcher.call(spec, {"projectid": other, "rolloutid": "999999999"}, stranger, "test")
    assert (theirs.status, theirs.result) == (404, None)
    assert theirs.message == f"rollout {rollout_id!r} not found in project {project!r}"
    # Exactly what a missing rollout in a project the stranger does reach looks like.
    assert missing.status == 404
    assert missing.message == "rollout '999999999' not found in project " + repr(other)


def test_no_handler_checks_reach_itself() -> None:
    handlers = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "app" / "rollout").glob("*.py"))
    assert "may_reach" not in handlers


def test_every_rollout_method_that_names_a_project_is_scoped_or_says_why_not() -> None:
    for spec in METHODS.values():
        if "projectid" in spec.definition["required_args"]:
            assert spec.scope is not None and spec.scope.arg == "projectid", spec.wire_name
        elif "projectid" in spec.definition["args"]:
            # Optional projectid (List): not scoped by the dispatcher; the definition says so explicitly.
            assert spec.scope is None, spec.wire_name


def test_scope_declarations_are_checked(tmp_path: Path) -> None:
    definitions = tmp_path / "definitions"
    shutil.copytree(ROOT / "definitions", definitions)
    list_path = definitions / "Rollout" / "List.json"
    listing = json.loads(list_path.read_text(encoding="utf-8"))
    del listing["scope"]
    list_path.write_text(json.dumps(listing), encoding="utf-8")
    (definitions / "Rollout" / "Peek.json").write_text(
        json.dumps({**PEEK, "scope": {"notFound": "no {thing} here"}}), encoding="utf-8"
    )
    with pytest.raises(Exception) as caught:
        load_definitions(definitions)
    assert str(caught.value).splitlines() == [
        "definitions/Rollout/List.json: /args/projectid: the service scopes methods by 'projectid', which is "
        'optional here: make it required, or say "scope": false and filter by the caller\'s reach in the handler',
        "definitions/Rollout/Peek.json: /scope/notFound: the 404 message names {thing}, which is not an argument "
        "of this method; arguments: projectid, rolloutid",
    ]
