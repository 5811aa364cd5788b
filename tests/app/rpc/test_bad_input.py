"""Bad input, case by case: each is pinned to its status and to a message that says what is wrong.

Three layers reject input: the HTTP body (not JSON, not a frame: an HTTP error), the command envelope
(a response entry with an error inside an HTTP 200 frame), and the method's args (checked against the
definition, then by the handler). Every case runs against a real rollout holding one device, so a
rejection is about the bad value and not about a missing rollout, and proves that nothing was written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api import METHODS
from rollout_api.rollout.contract import CREATE

from app.settings import Settings
from tests.helpers import create_rollout, ok, snapshot

MAX_ID = 2**53 - 1
_FILTER = CREATE.definition["args"]["deviceFilter"]
_AFTER = METHODS["/v1/Rollout.List"].definition["args"]["after"]


def filter_refused(expression: str) -> str:
    """The message for a deviceFilter that breaks its pattern: the value, the pattern and the arg's doc."""
    return (
        f"args.deviceFilter: {json.dumps(expression)} does not match the pattern {_FILTER['pattern']}; {_FILTER['doc']}"
    )


ESCAPE_HINT = "a \\u escape must name a character, or be half of a surrogate pair next to its other half"
# NaN and Infinity are not JSON: refused where they stand (column 60 and 61 of the bodies below).
NAN_MSG = "body is not valid JSON: expected value at line 1 column 60"
INFINITY_MSG = "body is not valid JSON: invalid number at line 1 column 61"
DUPLICATE_MSG = (
    'body is ambiguous: the key "{key}" at line 1 column {column} appears twice in one object; send each key once'
)
ROLLOUT_STATES_MSG = "must be 'init', 'inProgress', 'paused' or 'finished'"
DEVICE_STATES_MSG = "must be 'init', 'started', 'succeeded' or 'failed'"
METHODS_MSG = f"Methods: {', '.join(sorted(METHODS))}"
"""How a 404 for an unknown method ends: every method of the table."""
# Placeholders filled in per test: the project, a real rollout in it, a real device in that rollout.
PROJECT, ROLLOUT, DEVICE, TOO_LONG, MAX_LEN = "<project>", "<rollout>", "<device>", "<too-long>", "<max-len>"


@dataclass(frozen=True)
class Target:
    """What the placeholders stand for in one test."""

    project: str
    rollout: str
    device: str
    too_long: str
    max_len: int

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            replacements = {
                PROJECT: self.project,
                ROLLOUT: self.rollout,
                DEVICE: self.device,
                TOO_LONG: self.too_long,
                MAX_LEN: str(self.max_len),
            }
            for placeholder, real in replacements.items():
                value = value.replace(placeholder, real)
            return value
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if isinstance(value, dict):
            return {self.fill(key): self.fill(item) for key, item in value.items()}
        return value


@pytest.fixture
def target(http: TestClient, project: str, settings: Settings) -> Target:
    rollout_id = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=["dev-1"])
    return Target(
        project=project,
        rollout=rollout_id,
        device="dev-1",
        too_long="d" * (settings.max_id_length + 1),
        max_len=settings.max_id_length,
    )


# --- 1. Bodies that are not frames: HTTP 400 with {"status": 400, "status_msg": ...} -------------------

FRAME_CASES: list[tuple[str, bytes, str]] = [
    (
        "not-json",
        b"{nope",
        "body is not valid JSON: key must be a string at line 1 column 2",
    ),
    ("empty-body", b"", "body is empty; expected a JSON object"),
    ("json-list", b"[1, 2]", "a frame must be a JSON object, got a list"),
    ("json-string", b'"hello"', "a frame must be a JSON object, got a string"),
    ("json-null", b"null", "a frame must be a JSON object, got null"),
    ("v-missing", b'{"cmds": [{"cmd": "/v1/Rollout.List"}]}', "v: missing; must be 1 (protocol version)"),
    ("v-2", b'{"v": 2, "cmds": [{"cmd": "/v1/Rollout.List"}]}', "v: must be 1 (protocol version), got 2"),
    ("v-true", b'{"v": true, "cmds": [{"cmd": "/v1/Rollout.List"}]}', "v: must be 1 (protocol version), got true"),
    ("v-string", b'{"v": "1", "cmds": [{"cmd": "/v1/Rollout.List"}]}', 'v: must be 1 (protocol version), got "1"'),
    ("v-fraction", b'{"v": 1.5, "cmds": [{"cmd": "/v1/Rollout.List"}]}', "v: must be 1 (protocol version), got 1.5"),
    ("cmds-missing", b'{"v": 1}', "cmds: missing; a frame carries a non-empty list of commands"),
    ("cmds-object", b'{"v": 1, "cmds": {}}', "cmds: must be a list of commands, got an object"),
    ("cmds-string", b'{"v": 1, "cmds": "x"}', 'cmds: must be a list of commands, got "x"'),
    ("cmds-empty", b'{"v": 1, "cmds": []}', "cmds: must not be empty; send at least one command"),
    (
        "nul-in-a-string",
        rb'{"v": 1, "cmds": [{"cmd": "/v1/Rollout.Get", "args": {"projectid": "a\u0000b", "rolloutid": "1"}}]}',
        "body.cmds[0].args.projectid: text may not contain NUL (\\u0000)",
    ),
    (
        "lone-surrogate",
        rb'{"v": 1, "cmds": [{"cmd": "/v1/Rollout.AddDevices", "args": {"devices": ["d\ud800"]}}]}',
        "body is not valid JSON: unexpected end of hex escape at line 1 column 82; " + ESCAPE_HINT,
    ),
    ("nan", b'{"v": 1, "cmds": [{"cmd": "/v1/Rollout.Get", "args": {"x": NaN}}]}', NAN_MSG),
    ("infinity", b'{"v": 1, "cmds": [{"cmd": "/v1/Rollout.Get", "args": {"x": -Infinity}}]}', INFINITY_MSG),
    # One key twice: which did the caller mean? Refused wherever it is, never resolved to the last one.
    (
        "duplicate-frame-key",
        b'{"v": 1, "src": "//a", "src": "//b", "cmds": [{"cmd": "/v1/Rollout.List"}]}',
        DUPLICATE_MSG.format(key="src", column=30),
    ),
    (
        "duplicate-command-key",
        b'{"v": 1, "cmds": [{"cmd": "/v1/Rollout.List", "cmd": "/v1/Rollout.Delete"}]}',
        DUPLICATE_MSG.format(key="cmd", column=53),
    ),
    (
        "duplicate-arg",
        b'{"v": 1, "cmds": [{"cmd": "/v1/Rollout.List", "args": {"state": "init", "state": "paused"}}]}',
        DUPLICATE_MSG.format(key="state", column=81),
    ),
    ("src-number", b'{"v": 1, "src": 5, "cmds": [{"cmd": "/v1/Rollout.List"}]}', "src: must be a string, got 5"),
    ("dst-list", b'{"v": 1, "dst": [], "cmds": [{"cmd": "/v1/Rollout.List"}]}', "dst: must be a string, got a list"),
    (
        "unknown-frame-field",
        b'{"v": 1, "cmd": "/v1/Rollout.List", "cmds": [{"cmd": "/v1/Rollout.List"}]}',
        "unknown frame field 'cmd'; allowed: v, src, dst, key, cmds",
    ),
]


@pytest.mark.parametrize(("body", "message"), [c[1:] for c in FRAME_CASES], ids=[c[0] for c in FRAME_CASES])
def test_body_that_is_not_a_frame(http: TestClient, body: bytes, message: str) -> None:
    before = snapshot(http)
    response = http.post("/v1", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json() == {"status": 400, "status_msg": message}
    assert snapshot(http) == before


def test_a_number_too_large_for_a_float_is_refused_in_its_own_entry(http: TestClient, project: str) -> None:
    """1e400 reads as infinity: that command is refused, the one before it is stored and answered."""
    create = {
        "cmd": "/v1/Rollout.Create",
        "id": 1,
        "args": {"projectid": project, "firmwareid": "f", "deviceFilter": "a=b"},
    }
    body = json.dumps({"v": 1, "cmds": [create]})[:-2] + ', {"cmd": "/v1/Rollout.List", "id": 2, "timeout": 1e400}]}'
    response = http.post("/v1", content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    created, refused = response.json()["resp"]
    assert (created["id"], created["status"]) == (1, 0)
    assert refused == {
        "id": 2,
        "status": 400,
        "status_msg": "cmds[1].timeout: must be a positive number of seconds, got Infinity",
    }
    assert ok(http, "Get", projectid=project, rolloutid=created["resp"]["id"])["firmwareid"] == "f"


# --- 2. Commands rejected inside a frame: HTTP 200, that entry carries the error -------------------------


def _cmd(method: str, **args: Any) -> dict[str, Any]:
    return {"cmd": f"/v1/Rollout.{method}", "id": 7, "args": args}


def _get(**extra: Any) -> dict[str, Any]:
    """A good Get of the real rollout, with envelope fields added or overridden."""
    return {"cmd": "/v1/Rollout.Get", "args": {"projectid": PROJECT, "rolloutid": ROLLOUT}, **extra}


# (case id, command, status, exact status_msg, whether the command's id is echoed)
COMMAND_CASES: list[tuple[str, Any, int, str, bool]] = [
    # The command itself.
    ("cmd-is-number", 5, 400, "cmds[0]: a command must be a JSON object, got a number", False),
    ("cmd-is-string", "/v1/Rollout.Get", 400, "cmds[0]: a command must be a JSON object, got a string", False),
    ("cmd-is-list", [], 400, "cmds[0]: a command must be a JSON object, got a list", False),
    ("cmd-is-null", None, 400, "cmds[0]: a command must be a JSON object, got null", False),
    ("cmd-missing", {"id": 7, "args": {}}, 400, 'cmds[0].cmd: missing; e.g. "/v1/Service.Method"', True),
    (
        "cmd-not-string",
        {"id": 7, "cmd": 5},
        400,
        'cmds[0].cmd: must be a string, got 5; e.g. "/v1/Service.Method"',
        True,
    ),
    # An unknown method: the nearest one when it is near (wrong case, no /v1/ prefix, a typo), and every method.
    (
        "cmd-unknown-method",
        {"id": 7, "cmd": "/v1/Rollout.Nope"},
        404,
        f"No handler for /v1/Rollout.Nope. {METHODS_MSG}",
        True,
    ),
    ("cmd-unknown-service", {"id": 7, "cmd": "/v1/Nope.Get"}, 404, f"No handler for /v1/Nope.Get. {METHODS_MSG}", True),
    *[
        (
            f"cmd-{case}",
            {"id": 7, "cmd": cmd},
            404,
            f"No handler for {cmd}; did you mean /v1/Rollout.Get? {METHODS_MSG}",
            True,
        )
        for case, cmd in [
            ("without-version", "Rollout.Get"),
            ("without-v1", "/Rollout.Get"),
            ("wrong-case", "/v1/rollout.get"),
            ("typo-in-service", "/v1/Rolout.Get"),
            ("typo-in-method", "/v1/Rollout.Gte"),
        ]
    ],
    (
        "unknown-command-field",
        _get(id=7, arg={"projectid": PROJECT}),
        400,
        "cmds[0]: unknown command field 'arg'; allowed: cmd, id, args, timeout, deadline",
        True,
    ),
    # The command id.
    *[
        (
            f"id-{name}",
            _get(id=value),
            400,
            f"cmds[0].id: must be an integer from 1 to {MAX_ID}, got {shown}",
            False,
        )
        for name, value, shown in [
            ("negative", -1, "-1"),
            ("zero", 0, "0"),
            ("fractional", 1.5, "1.5"),
            ("above-2^53-1", MAX_ID + 1, str(MAX_ID + 1)),
            ("string", "7", '"7"'),
            ("true", True, "true"),
        ]
    ],
    # args, timeout, deadline.
    ("args-list", _get(id=7, args=[]), 400, "cmds[0].args: must be an object, got a list", True),
    ("args-string", _get(id=7, args="x"), 400, 'cmds[0].args: must be an object, got "x"', True),
    ("timeout-zero", _get(id=7, timeout=0), 400, "cmds[0].timeout: must be a positive number of seconds, got 0", True),
    (
        "timeout-negative",
        _get(id=7, timeout=-5),
        400,
        "cmds[0].timeout: must be a positive number of seconds, got -5",
        True,
    ),
    (
        "timeout-string",
        _get(id=7, timeout="5"),
        400,
        'cmds[0].timeout: must be a positive number of seconds, got "5"',
        True,
    ),
    # Past the largest float: once an OverflowError that turned the whole frame into HTTP 500.
    (
        "timeout-beyond-float",
        _get(id=7, timeout=10**309),
        400,
        "cmds[0].timeout: must be a positive number of seconds, got 1000000000000000000000000000000000000...",
        True,
    ),
    (
        "deadline-beyond-float",
        _get(id=7, deadline=-(10**309)),
        400,
        "cmds[0].deadline: must be a unix time in seconds, got -100000000000000000000000000000000000...",
        True,
    ),
    (
        "deadline-string",
        _get(id=7, deadline="tomorrow"),
        400,
        'cmds[0].deadline: must be a unix time in seconds, got "tomorrow"',
        True,
    ),
    (
        "deadline-bool",
        _get(id=7, deadline=True),
        400,
        "cmds[0].deadline: must be a unix time in seconds, got true",
        True,
    ),
    # Required arguments missing.
    (
        "Create-no-firmwareid",
        _cmd("Create", projectid=PROJECT, deviceFilter="a=b"),
        400,
        "args.firmwareid: required argument is missing",
        True,
    ),
    (
        "Create-no-deviceFilter",
        _cmd("Create", projectid=PROJECT, firmwareid="fw"),
        400,
        "args.deviceFilter: required argument is missing",
        True,
    ),
    (
        "Create-no-projectid",
        _cmd("Create", firmwareid="fw", deviceFilter="a=b"),
        400,
        "args.projectid: required argument is missing",
        True,
    ),
    ("Get-no-rolloutid", _cmd("Get", projectid=PROJECT), 400, "args.rolloutid: required argument is missing", True),
    ("Get-no-projectid", _cmd("Get", rolloutid=ROLLOUT), 400, "args.projectid: required argument is missing", True),
    (
        "Get-no-args",
        {"id": 7, "cmd": "/v1/Rollout.Get"},
        400,
        "args.projectid: required argument is missing; args.rolloutid: required argument is missing",
        True,
    ),
    (
        "SetDeviceState-no-deviceid",
        _cmd("SetDeviceState", projectid=PROJECT, rolloutid=ROLLOUT, state="started"),
        400,
        "args.deviceid: required argument is missing",
        True,
    ),
    (
        "SetDeviceState-no-state",
        _cmd("SetDeviceState", projectid=PROJECT, rolloutid=ROLLOUT, deviceid=DEVICE),
        400,
        "args.state: required argument is missing",
        True,
    ),
    (
        "SetState-no-state",
        _cmd("SetState", projectid=PROJECT, rolloutid=ROLLOUT),
        400,
        "args.state: required argument is missing",
        True,
    ),
    (
        "AddDevices-no-devices",
        _cmd("AddDevices", projectid=PROJECT, rolloutid=ROLLOUT),
        400,
        "args.devices: required argument is missing",
        True,
    ),
    (
        "Delete-no-rolloutid",
        _cmd("Delete", projectid=PROJECT),
        400,
        "args.rolloutid: required argument is missing",
        True,
    ),
    (
        "ListDevices-no-projectid",
        _cmd("ListDevices", rolloutid=ROLLOUT),
        400,
        "args.projectid: required argument is missing",
        True,
    ),
    # Arguments of the wrong type.
    (
        "Get-projectid-number",
        _cmd("Get", projectid=123, rolloutid=ROLLOUT),
        400,
        "args.projectid: must be a string, got 123",
        True,
    ),
    (
        "Get-rolloutid-number",
        _cmd("Get", projectid=PROJECT, rolloutid=1),
        400,
        "args.rolloutid: must be a string, got 1",
        True,
    ),
    (
        "AddDevices-devices-string",
        _cmd("AddDevices", projectid=PROJECT, rolloutid=ROLLOUT, devices="dev-2"),
        400,
        'args.devices: must be a list, got "dev-2"',
        True,
    ),
    (
        "AddDevices-devices-with-number",
        _cmd("AddDevices", projectid=PROJECT, rolloutid=ROLLOUT, devices=["dev-2", 3]),
        400,
        "args.devices[1]: must be a string, got 3",
        True,
    ),
    (
        "AddDevices-devices-null-and-bool",
        _cmd("AddDevices", projectid=PROJECT, rolloutid=ROLLOUT, devices=[None, True]),
        400,
        "args.devices[0]: must be a string, got null; args.devices[1]: must be a string, got true",
        True,
    ),
    (
        "AddDevices-devices-object",
        _cmd("AddDevices", projectid=PROJECT, rolloutid=ROLLOUT, devices=[{"id": "dev-2"}]),
        400,
        "args.devices[0]: must be a string, got an object",
        True,
    ),
    (
        "List-limit-string",
        _cmd("List", projectid=PROJECT, limit="5"),
        400,
        'args.limit: must be an integer, got "5"',
        True,
    ),
    (
        "List-limit-fractional",
        _cmd("List", projectid=PROJECT, limit=1.5),
        400,
        "args.limit: must be an integer, got 1.5",
        True,
    ),
    (
        "List-limit-bool",
        _cmd("List", projectid=PROJECT, limit=True),
        400,
        "args.limit: must be an integer, got true",
        True,
    ),
    (
        "ListDevices-limit-fractional",
        _cmd("ListDevices", projectid=PROJECT, rolloutid=ROLLOUT, limit=2.5),
        400,
        "args.limit: must be an integer, got 2.5",
        True,
    ),
    (
        "SetState-state-number",
        _cmd("SetState", projectid=PROJECT, rolloutid=ROLLOUT, state=1),
        400,
        f"args.state: {ROLLOUT_STATES_MSG}, got 1",
        True,
    ),
    (
        "SetState-state-null",
        _cmd("SetState", projectid=PROJECT, rolloutid=ROLLOUT, state=None),
        400,
        f"args.state: {ROLLOUT_STATES_MSG}, got null",
        True,
    ),
    (
        "SetDeviceState-deviceid-number",
        _cmd("SetDeviceState", projectid=PROJECT, rolloutid=ROLLOUT, deviceid=5, state="started"),
        400,
        "args.deviceid: must be a string, got 5",
        True,
    ),
    (
        "SetDeviceState-updateCommandId-number",
        _cmd(
            "SetDeviceState", projectid=PROJECT, rolloutid=ROLLOUT, deviceid=DEVICE, state="started", updateCommandId=9
        ),
        400,
        "args.updateCommandId: must be a string, got 9",
        True,
    ),
    (
        "Create-name-number",
        _cmd("Create", projectid=PROJECT, firmwareid="fw", deviceFilter="a=b", name=5),
        400,
        "args.name: must be a string, got 5",
        True,
    ),
    ("List-after-number", _cmd("List", projectid=PROJECT, after=5), 400, "args.after: must be a string, got 5", True),
    # Unknown arguments.
    (
        "Get-unknown-arg",
        _cmd("Get", projectid=PROJECT, rolloutid=ROLLOUT, verbose=True),
        400,
        "args.verbose: unknown argument for /v1/Rollout.Get; known arguments: projectid, rolloutid",
        True,
    ),
    (
        "Create-misspelt-arg",
        _cmd("Create", projectid=PROJECT, firmwareid="fw", deviceFilter="a=b", devicefilter="a=b"),
        400,
        "args.devicefilter: unknown argument for /v1/Rollout.Create; "
        "known arguments: deviceFilter, projectid, name, firmwareid, failureThreshold, maxFailures, deviceTimeout, "
        "maxInProgress, autoFinish",
        True,
    ),
    # States outside the enums.
    (
        "SetState-state-outside-enum",
        _cmd("SetState", projectid=PROJECT, rolloutid=ROLLOUT, state="done"),
        400,
        f'args.state: {ROLLOUT_STATES_MSG}, got "done"',
        True,
    ),
    (
        "SetState-state-wrong-case",
        _cmd("SetState", projectid=PROJECT, rolloutid=ROLLOUT, state="InProgress"),
        400,
        f'args.state: {ROLLOUT_STATES_MSG}, got "InProgress"',
        True,
    ),
    (
        "SetDeviceState-state-outside-enum",
        _cmd("SetDeviceState", projectid=PROJECT, rolloutid=ROLLOUT, deviceid=DEVICE, state="done"),
        400,
        f'args.state: {DEVICE_STATES_MSG}, got "done"',
        True,
    ),
    (
        "SetDeviceState-rollout-state",
        _cmd("SetDeviceState", projectid=PROJECT, rolloutid=ROLLOUT, deviceid=DEVICE, state="inProgress"),
        400,
        f'args.state: {DEVICE_STATES_MSG}, got "inProgress"',
        True,
    ),
    (
        "ListDevices-state-outside-enum",
        _cmd("ListDevices", projectid=PROJECT, rolloutid=ROLLOUT, state="done"),
        400,
        f'args.state: {DEVICE_STATES_MSG}, got "done"',
        True,
    ),
    (
        "List-state-outside-enum",
        _cmd("List", projectid=PROJECT, state="done"),
        400,
        f'args.state: {ROLLOUT_STATES_MSG}, got "done"',
        True,
    ),
    (
        "List-device-state",
        _cmd("List", projectid=PROJECT, state="started"),
        400,
        f'args.state: {ROLLOUT_STATES_MSG}, got "started"',
        True,
    ),
    # Malformed deviceFilter.
    *[
        (
            f"Create-deviceFilter-{name}",
            _cmd("Create", projectid=PROJECT, firmwareid="fw", deviceFilter=expression),
            400,
            filter_refused(expression),
            True,
        )
        for name, expression in [
            ("empty", ""),
            ("no-equals", "a"),
            ("no-name", "=b"),
            ("two-equals", "a=b=c"),
            ("leading-space", " a=b"),
            ("space-before-equals", "a =b"),
            ("trailing-space", "a=b "),
            ("no-value", "a="),
        ]
    ],
    (
        # The pattern's `$` matches before a final newline; the handler refuses what it lets through.
        "Create-deviceFilter-final-newline",
        _cmd("Create", projectid=PROJECT, firmwareid="fw", deviceFilter="a=b\n"),
        400,
        "args.deviceFilter: 'a=b\\n' ends with whitespace; expected 'labelname=labelvalue', e.g. 'location=Bathroom'",
        True,
    ),
    # Ids: empty, too long.
    (
        "AddDevices-empty-device-id",
        _cmd("AddDevices", projectid=PROJECT, rolloutid=ROLLOUT, devices=["dev-2", ""]),
        400,
        "args.devices[1]: must not be empty",
        True,
    ),
    (
        "AddDevices-over-long-device-id",
        _cmd("AddDevices", projectid=PROJECT, rolloutid=ROLLOUT, devices=[TOO_LONG]),
        413,
        f"args.devices[0]: longer than {MAX_LEN} characters",
        True,
    ),
    (
        "Create-empty-projectid",
        _cmd("Create", projectid="", firmwareid="fw", deviceFilter="a=b"),
        400,
        "args.projectid: must not be empty",
        True,
    ),
    (
        "Get-over-long-projectid",
        _cmd("Get", projectid=TOO_LONG, rolloutid=ROLLOUT),
        413,
        f"args.projectid: longer than {MAX_LEN} characters",
        True,
    ),
    (
        "SetDeviceState-over-long-deviceid",
        _cmd("SetDeviceState", projectid=PROJECT, rolloutid=ROLLOUT, deviceid=TOO_LONG, state="started"),
        413,
        f"args.deviceid: longer than {MAX_LEN} characters",
        True,
    ),
    (
        "ListDevices-over-long-after",
        _cmd("ListDevices", projectid=PROJECT, rolloutid=ROLLOUT, after=TOO_LONG),
        413,
        f"args.after: longer than {MAX_LEN} characters",
        True,
    ),
    (
        "Create-over-long-projectid",
        _cmd("Create", projectid=TOO_LONG, firmwareid="fw", deviceFilter="a=b"),
        413,
        f"args.projectid: longer than {MAX_LEN} characters",
        True,
    ),
    (
        "Create-empty-firmwareid",
        _cmd("Create", projectid=PROJECT, firmwareid="", deviceFilter="a=b"),
        400,
        "args.firmwareid: must not be empty",
        True,
    ),
    # limit and after out of range.
    (
        "List-limit-0",
        _cmd("List", projectid=PROJECT, limit=0),
        400,
        "args.limit: must be greater than or equal to 1, got 0",
        True,
    ),
    (
        "List-limit-10001",
        _cmd("List", projectid=PROJECT, limit=10001),
        400,
        "args.limit: must be less than or equal to 10000, got 10001",
        True,
    ),
    (
        "ListDevices-limit-0",
        _cmd("ListDevices", projectid=PROJECT, rolloutid=ROLLOUT, limit=0),
        400,
        "args.limit: must be greater than or equal to 1, got 0",
        True,
    ),
    (
        "ListDevices-limit-10001",
        _cmd("ListDevices", projectid=PROJECT, rolloutid=ROLLOUT, limit=10001),
        400,
        "args.limit: must be less than or equal to 10000, got 10001",
        True,
    ),
    # 7.0 is the JSON number 7: echoed as 7, by a command that runs and by one that cannot.
    (
        "id-zero-fraction",
        {"id": 7.0, "cmd": "/v1/Rollout.Nope"},
        404,
        f"No handler for /v1/Rollout.Nope. {METHODS_MSG}",
        True,
    ),
    (
        "id-zero-fraction-bad-command",
        {"id": 7.0, "cmd": "/v1/Rollout.Get", "args": 5},
        400,
        "cmds[0].args: must be an object, got 5",
        True,
    ),
    (
        "List-after-not-an-id",
        _cmd("List", projectid=PROJECT, after="abc"),
        400,
        f'args.after: "abc" does not match the pattern {_AFTER["pattern"]}; {_AFTER["doc"]}',
        True,
    ),
    (
        "List-after-empty",
        _cmd("List", projectid=PROJECT, after=""),
        400,
        f'args.after: "" does not match the pattern {_AFTER["pattern"]}; {_AFTER["doc"]}',
        True,
    ),
    # Python's `$` also matches before a final newline: the handler refuses what the pattern lets through.
    (
        "List-after-newline",
        _cmd("List", projectid=PROJECT, after="1\n"),
        400,
        "args.after: '1\\n' is not a rollout id; pass the id of the last rollout seen",
        True,
    ),
]


@pytest.mark.parametrize(
    ("command", "status", "message", "echoes_id"),
    [c[1:] for c in COMMAND_CASES],
    ids=[c[0] for c in COMMAND_CASES],
)
def test_bad_command_in_frame(
    http: TestClient, target: Target, command: Any, status: int, message: str, echoes_id: bool
) -> None:
    before = snapshot(http)
    frame = {"v": 1, "src": "//test", "cmds": [target.fill(command)]}
    response = http.post("/v1", json=frame)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["resp"]
    expected: dict[str, Any] = {"id": 7} if echoes_id else {}
    expected.update(status=status, status_msg=target.fill(message))
    assert entry == expected
    assert snapshot(http) == before


# --- 3. The per-method routes: the same checks, answered as {"status", "status_msg"} with that HTTP status ---

# (case id, method, raw body, status, exact status_msg)
ROUTE_CASES: list[tuple[str, str, bytes, int, str]] = [
    (
        "not-json",
        "Get",
        b"{projectid:",
        400,
        "body is not valid JSON: key must be a string at line 1 column 2",
    ),
    # The body is required, as the route's OpenAPI says: {} for no args, not nothing.
    ("empty-body", "List", b"", 400, "body is empty; expected a JSON object"),
    ("blank-body", "List", b" \n", 400, "body is empty; expected a JSON object"),
    ("args-list", "Get", b"[]", 400, "args: must be an object, got a list"),
    ("args-null", "Get", b"null", 400, "args: must be an object, got null"),
    ("args-number", "Get", b"5", 400, "args: must be an object, got a number"),
    ("missing-arg", "Get", b'{"projectid": "<project>"}', 400, "args.rolloutid: required argument is missing"),
    (
        "wrong-type",
        "SetState",
        b'{"projectid": "<project>", "rolloutid": "<rollout>", "state": 2}',
        400,
        f"args.state: {ROLLOUT_STATES_MSG}, got 2",
    ),
    (
        "unknown-arg",
        "Delete",
        b'{"projectid": "<project>", "rolloutid": "<rollout>", "force": true}',
        400,
        "args.force: unknown argument for /v1/Rollout.Delete; known arguments: projectid, rolloutid",
    ),
    (
        "bad-filter",
        "Create",
        b'{"projectid": "<project>", "firmwareid": "fw", "deviceFilter": "a=b=c"}',
        400,
        filter_refused("a=b=c"),
    ),
    (
        "empty-device-id",
        "AddDevices",
        b'{"projectid": "<project>", "rolloutid": "<rollout>", "devices": [""]}',
        400,
        "args.devices[0]: must not be empty",
    ),
    (
        "List-state-outside-enum",
        "List",
        b'{"state": "running"}',
        400,
        f'args.state: {ROLLOUT_STATES_MSG}, got "running"',
    ),
]


@pytest.mark.parametrize(
    ("method", "body", "status", "message"), [c[1:] for c in ROUTE_CASES], ids=[c[0] for c in ROUTE_CASES]
)
def test_bad_args_on_method_route(
    http: TestClient, target: Target, method: str, body: bytes, status: int, message: str
) -> None:
    before = snapshot(http)
    content = target.fill(body.decode()).encode()
    response = http.post(f"/v1/Rollout.{method}", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json() == {"status": status, "status_msg": target.fill(message)}
    assert snapshot(http) == before
