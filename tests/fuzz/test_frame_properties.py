# mypy: allow-untyped-decorators
"""Random bodies at POST /v1, from nearly-right frames to junk, and what must hold for every one.

Bodies are built as JSON text by hand, so they can hold what `json.dumps` never writes: duplicate
keys, NaN and 1e400, 5000-digit numbers, nesting thousands deep, lone surrogates (escaped, or raw
and so not UTF-8). Commands call the real methods with arguments drawn from their definitions (right
types, wrong types, odd unicode, huge numbers) against a real rollout with one device and a finished
rollout, made afresh for every example, or call names that are no method at all.

Properties, for every body:
- never a 5xx, in the HTTP status or in any command's status (504 only for a command with a
  deadline or timeout);
- HTTP 200 comes with a well-formed response frame: one entry per command, ids echoed exactly when
  they were valid, a status_msg on every error, results matching the method's result schema;
- anything else is a 4xx whose body is exactly {"status": <that code>, "status_msg": "..."};
- when no command succeeded, the database is exactly as it was;
- afterwards the example's rollouts still answer Get and ListDevices (or 404 once the frame deleted
  them), and hold every device id that a successful AddDevices of the frame named, unchanged.

KNOWN_BAD pins the frames that broke the service once, so each is tried on every run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings  # type: ignore[import-not-found,unused-ignore]
from hypothesis import strategies as st  # type: ignore[import-not-found,unused-ignore]
from rollout_api import ResponseFrame
from rollout_api.envelope import MAX_COMMAND_ID
from rollout_api.methods import METHODS

from tests.fuzz.conftest import VOLUME, fuzz_examples
from tests.helpers import TEST_PRINCIPAL, call, create_rollout, ok, snapshot

# Filled in per example: a project of its own, a rollout in `init` holding DEVICE, a finished rollout.
PROJECT, ROLLOUT, FINISHED, DEVICE, KEY = "<project>", "<rollout>", "<finished>", "<device>", "<key>"


@dataclass(frozen=True)
class Raw:
    """JSON text that goes into the body as it is."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object written member by member, in this order, duplicate keys included."""

    items: tuple[tuple[str, Any], ...]


def render(value: Any, ascii_only: bool) -> str:
    """JSON text for a value tree of plain values, Raw and Pairs."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs | dict):
        items = value.items if isinstance(value, Pairs) else tuple(value.items())
        members = (f"{json.dumps(k, ensure_ascii=ascii_only)}: {render(v, ascii_only)}" for k, v in items)
        return "{" + ", ".join(members) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def weighted(*choices: tuple[int, Any]) -> Any:
    """One of the strategies, each drawn in proportion to its weight; shrinking goes to the first."""
    total = sum(weight for weight, _ in choices)

    @st.composite
    def pick(draw: Any) -> Any:
        number = draw(st.integers(0, total - 1))
        for weight, strategy in choices:
            if number < weight:
                return draw(strategy)
            number -= weight
        raise AssertionError("unreachable")

    return pick()


def percent(draw: Any) -> int:
    """0..99; Hypothesis favours the ends, so rare features are tested as `percent(draw) >= 100 - p`."""
    value: int = draw(st.integers(0, 99))
    return value


def rarely(draw: Any, chance: int) -> bool:
    """True about `chance` percent of the time (a little more: 99 comes up often); shrinks to False."""
    return percent(draw) >= 100 - chance


def usually(draw: Any, chance: int) -> bool:
    """True about `chance` percent of the time; shrinks to True."""
    return percent(draw) < chance


# --- values ------------------------------------------------------------------------------------

ODD_CHARS = [
    "\x00",
    "\ud800",  # lone surrogates: escaped in ASCII JSON, not UTF-8 at all otherwise
    "\udfff",
    "\udbff\udfff",  # a valid pair: U+10FFFF
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",
    "\ufeff",
    "\uffff",
    "e\u0301",
    "\U0001f680",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\\",
    '"',
    "\n",
    "=",
    " ",
    "%s",
    "'",
    "Ω",
    "a",
    "1",
    "/",
]
ODD_STRINGS = [
    "",
    " ",
    "null",
    "1e3",
    "0",
    "-1",
    "00012",
    "18446744073709551616",
    "' OR 1=1 --",
    "a" * 257,
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() says yes
    "location=Bathroom",
    "init",
    "finished",
    PROJECT,
    ROLLOUT,
    FINISHED,
    DEVICE,
]
strings = weighted(
    (3, st.lists(st.sampled_from(ODD_CHARS), max_size=6).map("".join)),
    (2, st.sampled_from(ODD_STRINGS)),
    (1, st.text(max_size=12)),
)
big_numbers = st.sampled_from(
    [0, -1, 1, 2**31, 2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 2**80, -(2**80)]
)
floats = st.sampled_from([1e308, -1e308, 5e-324, -0.0, 0.5, 1.0, 10000.0, 1.5e9, 4.1e9])
raw_numbers = st.sampled_from(
    [
        "1e400",
        "-1e400",
        "NaN",
        "Infinity",
        "-Infinity",
        "1" * 4300,
        "9" * 4301,
        "-" + "9" * 5000,
        "1E2",
        "-0",
        "1.0e-400",
    ]
).map(Raw)
numbers = weighted((3, st.integers()), (3, big_numbers), (2, floats), (1, raw_numbers))


def nested(depth: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * depth + "]" * depth)
    return Raw('{"a": ' * depth + "1" + "}" * depth)


deep = st.builds(
    nested,
    st.one_of(st.sampled_from([100, 900, 950, 980, 990, 999, 1000, 2000, 100_000]), st.integers(1, 3000)),
    st.sampled_from(["list", "object"]),
)
scalars = weighted((3, strings), (2, numbers), (1, st.booleans()), (1, st.none()))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4),
    max_leaves=10,
)
weird = weighted((9, json_values), (1, deep))


def with_duplicates(obj: dict[str, Any]) -> Any:
    """The same members, some written twice with another value (JSON keeps the last one)."""

    @st.composite
    def build(draw: Any) -> Pairs:
        items = list(obj.items())
        for _ in range(draw(st.integers(1, 2))):
            key = draw(st.sampled_from([k for k, _ in items] or ["x"]))
            position = draw(st.integers(0, len(items)))
            items.insert(position, (key, draw(weird)))
        return Pairs(tuple(items))

    return build()


def obj(draw: Any, members: dict[str, Any]) -> Any:
    """The object, or now and then the same object written with duplicate keys."""
    if members and rarely(draw, 6):
        return draw(with_duplicates(members))
    return members


# --- arguments of the real methods, from their definitions ----------------------------------------

BY_NAME: dict[str, Any] = {
    "projectid": weighted((8, st.just(PROJECT)), (1, strings)),
    "rolloutid": weighted(
        (12, st.sampled_from([ROLLOUT, FINISHED])), (1, st.sampled_from(["999999999", "0", "-1", " 1"])), (1, strings)
    ),
    "deviceid": weighted((5, st.sampled_from([DEVICE, "dev-2"])), (1, strings)),
    "devices": st.lists(weighted((3, st.sampled_from([DEVICE, "dev-2", "dev-3"])), (1, strings)), max_size=5),
    "deviceFilter": st.sampled_from(["location=Bathroom", "a=b", "=b", "a=", "a==b", " a=b", "a = b", "ab"]),
}


def plausible(name: str, schema: Mapping[str, Any]) -> Any:
    """Values of the argument's own type (and right names), which the handlers get to see."""
    if name in BY_NAME:
        return BY_NAME[name]
    if "enum" in schema:
        return weighted((4, st.sampled_from(list(schema["enum"]))), (1, strings))
    kind = schema.get("type")
    if kind == "integer":
        return weighted((3, st.integers(-2, 10_002)), (1, numbers), (1, st.sampled_from([1.0, True])))
    if kind == "array":
        return st.lists(strings, max_size=4)
    if name == "state":
        return weighted((3, st.sampled_from(["init", "inProgress", "paused", "finished", "started"])), (1, strings))
    return strings


@st.composite
def arguments(draw: Any, definition: Mapping[str, Any]) -> Any:
    args: dict[str, Any] = {}
    required = set(definition["required_args"])
    for name, schema in definition["args"].items():
        if usually(draw, 95 if name in required else 50):
            args[name] = draw(weighted((12, plausible(name, schema)), (1, weird)))
    if rarely(draw, 3):
        args[draw(strings)] = draw(weird)
    return obj(draw, args)


# --- commands and frames -----------------------------------------------------------------------

WIRE_NAMES = sorted(METHODS)
command_ids = weighted(
    (14, st.integers(1, MAX_COMMAND_ID)),
    (1, st.sampled_from([0, -1, MAX_COMMAND_ID + 1, 2**63, 1.0, 2.5, "1", True, None, [1]])),
    (1, weird),
)
times = weighted(
    (2, st.sampled_from([1, 1.5e9, 4.1e9, 0.001, 3600, -1, 0])), (1, numbers), (1, weird)
)  # past and future deadlines, tiny and long timeouts


@st.composite
def method_command(draw: Any) -> Any:
    wire_name = draw(st.sampled_from(WIRE_NAMES))
    command: dict[str, Any] = {"cmd": wire_name}
    if usually(draw, 90):
        command["id"] = draw(command_ids)
    if usually(draw, 95):
        command["args"] = draw(weighted((20, arguments(METHODS[wire_name].definition)), (1, weird)))
    for field in ("timeout", "deadline"):
        if rarely(draw, 5):
            command[field] = draw(times)
    if rarely(draw, 2):
        command[draw(strings)] = draw(weird)
    return obj(draw, command)


@st.composite
def odd_command(draw: Any) -> Any:
    """A command naming no method, or not a command at all."""
    cmd = draw(
        weighted(
            (2, strings.map(lambda name: f"/v1/Rollout.{name}")),
            (1, st.sampled_from(["/v1/Rollout.get", "/v1/Rollout.", "Rollout.Get", "/v2/Rollout.Get", "/v1/X.Y"])),
            (1, strings),
            (1, weird),
        )
    )
    command = {"cmd": cmd, "id": draw(command_ids), "args": draw(weird)}
    return draw(st.one_of(st.just(obj(draw, command)), weird))


commands = weighted((6, method_command()), (1, odd_command()))


@st.composite
def frames(draw: Any) -> tuple[str, Any]:
    members: dict[str, Any] = {}
    if usually(draw, 98):
        members["v"] = draw(weighted((12, st.just(1)), (1, weird)))
    src = percent(draw)
    if src < 45:
        members["src"] = TEST_PRINCIPAL
    elif src >= 92:
        members["src"] = draw(weighted((1, strings), (1, weird)))
    if rarely(draw, 40):
        members["dst"] = draw(weighted((3, st.just("//api.cesanta.com")), (1, strings), (1, weird)))
    key = percent(draw)
    if key >= 94:
        members["key"] = KEY
    elif key >= 90:
        members["key"] = draw(weighted((1, strings), (1, weird)))
    if usually(draw, 97):
        members["cmds"] = draw(
            weighted(
                (20, st.lists(commands, min_size=1, max_size=5)),
                (1, st.sampled_from([[], Raw("[" + ", ".join(["{}"] * 1001) + "]")])),
                (1, weird),
            )
        )
    if rarely(draw, 2):
        members[draw(strings)] = draw(weird)
    return "frame", obj(draw, members)


not_frames = st.one_of(
    weird.map(lambda value: ("json, not a frame", value)),
    st.binary(max_size=40).map(lambda data: ("bytes", data)),
    st.sampled_from(["", " ", "{", '{"v": 1,}', "NaN", "[1, 2", "\ufeff{}", '{"v": 1} {"v": 1}']).map(
        lambda text: ("broken JSON", Raw(text))
    ),
)
bodies = weighted((12, frames()), (1, deep.map(lambda value: ("deep", value))), (2, not_frames))


def encode(value: Any, ascii_only: bool) -> bytes:
    if isinstance(value, bytes):
        return value
    # Lone surrogates in non-ASCII text make bytes that are not UTF-8: the server must say 400.
    return render(value, ascii_only).encode("utf-8", "surrogatepass")


# --- the properties ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The real objects of one example, and how to put them into a body."""

    project: str
    rollout: str
    finished: str
    key: str

    def fill(self, body: bytes) -> bytes:
        for placeholder, real in (
            (PROJECT, self.project),
            (ROLLOUT, self.rollout),
            (FINISHED, self.finished),
            (DEVICE, "dev-1"),
            (KEY, self.key),
        ):
            body = body.replace(placeholder.encode(), real.encode())
        return body


def make_target(http: TestClient, admin_key: str) -> Target:
    project = f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"
    rollout = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout, devices=["dev-1"])
    finished = create_rollout(http, project, name="done")
    ok(http, "SetState", projectid=project, rolloutid=finished, state="finished")
    return Target(project, rollout, finished, admin_key)


def clean_up(http: TestClient, target: Target) -> None:
    """Delete the example's rollouts (those the frame created too), so examples never see each other."""
    listed = call(http, "List", projectid=target.project)
    for rollout in listed.get("resp") or []:
        call(http, "Delete", projectid=target.project, rolloutid=rollout["id"])


def parse(data: bytes) -> Any:
    """The body as the server read it (the same parser: duplicate keys keep the last value).

    In a thread of its own: the server parsed it near the top of a worker thread's stack, while this
    test runs deep inside pytest and Hypothesis, where nesting near the limit would not fit.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(json.loads, data).result()


def valid_id(command: Any) -> int | None:
    """The id the answer must echo: the command's own, when it is a valid one."""
    if not isinstance(command, dict):
        return None
    command_id = command.get("id")
    if type(command_id) is float and command_id.is_integer():
        command_id = int(command_id)  # 7.0 is the JSON number 7
    if type(command_id) is int and 1 <= command_id <= MAX_COMMAND_ID:
        return command_id
    return None


def check_entry(command: Any, entry: dict[str, Any], context: Callable[[], str]) -> None:
    status = entry["status"]
    assert type(status) is int, context()
    assert entry.get("id") == valid_id(command), context()
    if status != 0:
        timed = isinstance(command, dict) and ("deadline" in command or "timeout" in command)
        assert 400 <= status < 500 or (status == 504 and timed), context()
        assert set(entry) <= {"id", "status", "status_msg"}, context()
        assert isinstance(entry.get("status_msg"), str) and entry["status_msg"], context()
        return
    assert "status_msg" not in entry, context()
    spec = METHODS[command["cmd"]]
    assert ("resp" in entry) == (spec.result is not None), context()
    if spec.result is not None:
        jsonschema.validate(entry["resp"], spec.definition["result"])


def added_devices(target: Target, sent: dict[str, Any], answer: dict[str, Any]) -> set[str]:
    """Device ids that AddDevices commands of this frame were told went into the example's rollout."""
    added: set[str] = set()
    for command, entry in zip(sent["cmds"], answer["resp"], strict=True):
        if entry["status"] == 0 and command["cmd"] == "/v1/Rollout.AddDevices":
            args = command["args"]
            if args["projectid"] == target.project and args["rolloutid"] == target.rollout:
                added.update(args["devices"])
    return added


def check_still_served(http: TestClient, target: Target, added: set[str], context: Callable[[], str]) -> None:
    """The example's rollout still answers (unless the frame deleted it), holding every device added."""
    for rollout in (target.rollout, target.finished):
        assert call(http, "Get", projectid=target.project, rolloutid=rollout)["status"] in (0, 404), context()
    listed = call(http, "ListDevices", projectid=target.project, rolloutid=target.rollout)
    assert listed["status"] in (0, 404), f"{context()}\n then ListDevices of the rollout -> {listed}"
    if listed["status"] == 0:
        ids = {device["id"] for device in listed["resp"]}
        assert added <= ids, f"{context()}\n devices added {sorted(added)!r} but listed {sorted(ids)!r}"


def one_command(cmd: Any, args: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "src": TEST_PRINCIPAL, "cmds": [{"cmd": cmd, "id": 7, "args": args}]}


# Frames that once broke the service, each tried on every run so it cannot come back unnoticed.
KNOWN_BAD = {
    # A lone surrogate, escaped: valid JSON, but no UTF-8 text for the database to store.
    "surrogate-in-create-name": one_command(
        "/v1/Rollout.Create", {"projectid": PROJECT, "firmwareid": "fw", "deviceFilter": "a=b", "name": "\ud800"}
    ),
    "surrogate-in-device-id": one_command(
        "/v1/Rollout.AddDevices", {"projectid": PROJECT, "rolloutid": ROLLOUT, "devices": ["d\ud800"]}
    ),
    "surrogate-in-projectid": one_command("/v1/Rollout.Get", {"projectid": "\udfff", "rolloutid": ROLLOUT}),
    # NUL inside an id: PostgreSQL text cannot hold it, and SQLite's json_each cuts the id short.
    "nul-in-device-id": one_command(
        "/v1/Rollout.AddDevices", {"projectid": PROJECT, "rolloutid": ROLLOUT, "devices": ["x\x00y"]}
    ),
    "nul-in-firmwareid": one_command(
        "/v1/Rollout.Create", {"projectid": PROJECT, "firmwareid": "fw\x00", "deviceFilter": "a=b"}
    ),
    # A `cmd` that is an object or a list: a 400 for that command, not a crash before it is even read.
    "object-as-cmd": one_command({}, {}),
    "list-as-cmd": one_command(["/v1/Rollout.List"], {}),
}


@pytest.mark.parametrize("name", sorted(KNOWN_BAD))
def test_frames_that_broke_the_service(http: TestClient, admin_key: str, name: str) -> None:
    target = make_target(http, admin_key)
    try:
        check_frame(http, target, "known bad", target.fill(encode(KNOWN_BAD[name], ascii_only=True)))
    finally:
        clean_up(http, target)


@settings(
    max_examples=fuzz_examples(),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=bodies, ascii_only=weighted((4, st.just(True)), (1, st.just(False))))
def test_random_frames(http: TestClient, admin_key: str, body: tuple[str, Any], ascii_only: bool) -> None:
    kind, value = body
    target = make_target(http, admin_key)
    try:
        check_frame(http, target, kind, target.fill(encode(value, ascii_only)))
    finally:
        clean_up(http, target)


def check_frame(http: TestClient, target: Target, kind: str, data: bytes) -> None:
    before = snapshot(http)
    try:
        response = http.post("/v1", content=data, headers={"Content-Type": "application/json"})
    except Exception as exc:  # raised out of the app: a real server answers HTTP 500
        raise AssertionError(f"body {data[:600]!r}\n -> the app raised {exc!r} (HTTP 500)") from exc

    def context() -> str:
        return f"body {data[:600]!r}\n -> HTTP {response.status_code} {response.text[:1500]}"

    assert response.status_code < 500, context()
    if response.status_code != 200:
        VOLUME[f"frames: {kind}: HTTP {response.status_code}"] += 1
        assert 400 <= response.status_code < 500, context()
        error = response.json()
        assert error == {"status": response.status_code, "status_msg": error["status_msg"]}, context()
        assert isinstance(error["status_msg"], str) and error["status_msg"], context()
        assert snapshot(http) == before, context()
        check_still_served(http, target, set(), context)
        return

    answer = response.json()
    ResponseFrame.model_validate(answer)
    sent = parse(data)
    assert answer["v"] == 1 and answer["dst"] == TEST_PRINCIPAL, context()
    assert len(answer["resp"]) == len(sent["cmds"]), context()
    for command, entry in zip(sent["cmds"], answer["resp"], strict=True):
        check_entry(command, entry, context)
    if all(entry["status"] != 0 for entry in answer["resp"]):
        VOLUME[f"frames: {kind}: every command refused"] += 1
        assert snapshot(http) == before, context()
    else:
        VOLUME[f"frames: {kind}: some command succeeded"] += 1
    check_still_served(http, target, added_devices(target, sent, answer), context)
