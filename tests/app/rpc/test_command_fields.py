"""No value in any field of a command turns a frame into HTTP 500: every envelope field and every argument of
every method, each given every kind of hostile JSON value, behind a Create in the same frame. The Create is
answered and stored whatever follows it (a 500 once lost its new id after it had committed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api import METHODS

from tests.helpers import create_args, ok, sample_args

HOSTILE: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**63,
    -(2**63) - 1,
    10**309,  # past the largest float
    -(10**309),
    0.5,
    -0.0,
    1.7976931348623157e308,
    5e-324,
    "",
    "0" * 400,
    "x" * 70_000,
    "1e309",
    "NaN",
    "\U0001f680",
    [],
    [None, {}],
    {},
    {"nested": {"deeper": [1, "two"]}},
    json.loads("[" * 120 + "]" * 120),
]
"""Every JSON kind, at its edges."""
FIELDS = ["cmd", "id", "args", "timeout", "deadline"]
STATUSES = {0, 400, 403, 404, 409, 413, 501, 504}
"""What a command may answer: anything but 500."""


def _cases() -> list[tuple[str, str, str, str]]:
    """(case id, method, "envelope" or "arg", the field or arg to spoil): every field, every arg of every method."""
    cases = [(f"envelope-{field}", "/v1/Rollout.Get", "envelope", field) for field in FIELDS]
    for wire_name, spec in METHODS.items():
        cases += [(f"{spec.method}-{arg}", wire_name, "arg", arg) for arg in spec.definition["args"]]
    return cases


@pytest.mark.parametrize(("method", "part", "name"), [c[1:] for c in _cases()], ids=[c[0] for c in _cases()])
def test_no_value_of_a_command_field_makes_the_frame_fail(
    http: TestClient, project: str, method: str, part: str, name: str
) -> None:
    spec = METHODS[method]
    for value in HOSTILE:
        args = sample_args(spec, projectid=project, rolloutid="1")
        command: dict[str, Any] = {"cmd": method, "id": 2, "args": args}
        if part == "envelope":
            command[name] = value
        else:
            command["args"] = {**args, name: value}
        frame = {"v": 1, "cmds": [{"cmd": "/v1/Rollout.Create", "id": 1, "args": create_args(project)}, command]}
        response = http.post("/v1", json=frame)
        where = f"{method} {part} {name} = {json.dumps(value)[:80]}"
        assert response.status_code == 200, f"{where}: HTTP {response.status_code} {response.text[:300]}"
        created, answered = response.json()["resp"]
        assert created["status"] == 0, where
        assert ok(http, "Get", projectid=project, rolloutid=created["resp"]["id"])["projectid"] == project, where
        assert answered["status"] in STATUSES, f"{where}: {answered}"
