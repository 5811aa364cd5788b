"""A response entry written as JSON text in one step (a batch's) is what the encoder writes for its dict."""

from __future__ import annotations

import json

import pytest
from rollout_api.status import Status

from app.rpc.dispatch import CommandResponse
from app.rpc.jsonio import dumps

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
