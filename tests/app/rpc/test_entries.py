"""A response entry written as JSON text in one step (a batch's) is what the encoder writes for its dict."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from rollout_api import METHODS
from rollout_api.envelope import Command
from rollout_api.spec import Fields
from rollout_api.status import Status

from app.rollout.service import as_rollout, rollout_fields
from app.rpc.dispatch import CommandResponse, _entries
from app.rpc.frames import BadCommand
from app.rpc.jsonio import dumps
from tests.app.test_trusted import PLAIN

RESULT = {"id": "7", "name": "caf\u00e9 \u2603", "counts": {"init": 1}}


@pytest.mark.parametrize("command_id", [None, 1, 2**53 - 1])
@pytest.mark.parametrize("has_result", [True, False])
def test_a_success_with_its_result_as_text_is_the_encoded_entry(command_id: int | None, has_result: bool) -> None:
    written = CommandResponse(Status.OK, result_json=dumps(RESULT)).entry_json(command_id, has_result=has_result)
    expected = CommandResponse(Status.OK, result=RESULT).entry(command_id, has_result=has_result)
    assert written == dumps(expected)
    assert json.loads(written) == expected


@pytest.mark.parametrize("command_id", [None, 5])
def test_an_error_or_a_result_not_yet_written_goes_through_the_encoder(command_id: int | None) -> None:
    failed = CommandResponse(Status.NOT_FOUND, message='rollout "9" not found')
    assert failed.entry_json(command_id, has_result=True) == dumps(failed.entry(command_id, has_result=True))
    alone = CommandResponse(Status.OK, result=RESULT)
    assert alone.entry_json(command_id, has_result=True) == dumps(alone.entry(command_id, has_result=True))


def test_a_run_answered_by_its_batch_is_written_in_one_call_as_entry_by_entry() -> None:
    """The typed one-call path (MethodSpec.dump_entries_json) writes what one result at a time writes."""
    get = METHODS["/v1/Rollout.Get"]
    rows = [PLAIN, PLAIN | {"name": "r1", "reason": "paused"}, PLAIN | {"failure_percent": 12.5, "max_failures": 3}]
    results = [as_rollout(SimpleNamespace(**row)) for row in rows]
    commands: list[Command | BadCommand] = [
        Command(cmd=get.wire_name, id=command_id, args={}) for command_id in (1, None, 2**53 - 1)
    ]
    settled = dict(enumerate(results))
    one_call = _entries(get, commands, [None] * 3, settled)
    one_by_one = _entries(replace(get, entries=None), commands, [None] * 3, settled)
    assert one_call == one_by_one
    assert json.loads(b"[" + one_call + b"]")[1] == {"status": 0, "resp": get.dump_result(results[1])}


def test_a_run_answered_with_fields_is_written_as_the_same_run_answered_with_models() -> None:
    """Fields (Get's batch: no model built) in both paths: all in one call, and entry by entry beside a refusal."""
    get = METHODS["/v1/Rollout.Get"]
    rows = [SimpleNamespace(**row) for row in (PLAIN, PLAIN | {"name": "r1", "failure_percent": 20.0})]
    models = dict(enumerate(as_rollout(row) for row in rows))
    fields: dict[int, Any] = dict(enumerate(Fields(rollout_fields(row)) for row in rows))
    commands: list[Command | BadCommand] = [Command(cmd=get.wire_name, id=n, args={}) for n in (1, 2)]
    assert _entries(get, commands, [None] * 2, fields) == _entries(get, commands, [None] * 2, models)
    refused = CommandResponse(Status.NOT_FOUND, message="rollout '9' not found")
    three = [*commands, Command(cmd=get.wire_name, id=3, args={})]
    assert _entries(get, three, [None, None, refused], fields) == _entries(get, three, [None, None, refused], models)


def test_a_run_answered_partly_with_fields_is_written_as_the_same_run_answered_with_models() -> None:
    """A batch may give some results as models and others as Fields: each is written as its model would be."""
    get = METHODS["/v1/Rollout.Get"]
    rows = [SimpleNamespace(**row) for row in (PLAIN, PLAIN | {"name": "r1", "failure_percent": 20.0})]
    models = dict(enumerate(as_rollout(row) for row in rows))
    mixed: dict[int, Any] = {0: models[0], 1: Fields(rollout_fields(rows[1]))}
    commands: list[Command | BadCommand] = [Command(cmd=get.wire_name, id=n, args={}) for n in (1, 2)]
    assert _entries(get, commands, [None] * 2, mixed) == _entries(get, commands, [None] * 2, models)
