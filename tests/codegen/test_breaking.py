"""`python -m codegen breaking`: every kind of change is found, named by file and pointer, and classified.

The definitions are the repository's: methods that use shared types from definitions/Rollout/_types.json
(Rollout, Device, RolloutState, DeviceState). A change inside a shared type is reported at each use (the
method file and the pointer where the method uses the type), ending with where it was made in _types.json.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codegen import breaking, breaking_cli, cli, naming
from tests.codegen.support import REPO, child_env, copy_definitions, run_codegen

Definition = dict[str, Any]
Edit = Callable[[Definition], object]
TYPES = "_types"  # Checkout.edit(TYPES, ...) edits definitions/Rollout/_types.json


@dataclass
class Run:
    code: int
    out: str
    err: str

    def lines(self, category: str) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith(f"{category}: ")]


class Checkout:
    """A copy of the repository's definitions (without examples, so any edit keeps them loadable), with
    its own baseline and allow-list under api/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.definitions = copy_definitions(root)
        for path in self.definitions.glob("*/*.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            data.pop("examples", None)
            path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        self.baseline = root / "api" / "baseline.json"
        self.allow_list = root / "api" / "breaking-allow.json"

    def path(self, method: str) -> Path:
        """A method file of the Rollout service, or its _types.json (TYPES)."""
        return self.definitions / "Rollout" / f"{method}.json"

    def edit(self, method: str, change: Edit) -> None:
        data = json.loads(self.path(method).read_text(encoding="utf-8"))
        change(data)
        self.path(method).write_text(json.dumps(data, indent=2), encoding="utf-8")

    def allow(self, *entries: dict[str, str]) -> None:
        self.allow_list.write_text(json.dumps(list(entries)), encoding="utf-8")

    def run(self, *args: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        options = ["--definitions", str(self.definitions), "--package", "rollout_api"]
        options += ["--baseline", str(self.baseline), "--allow-list", str(self.allow_list)]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = breaking_cli.main([*options, *args], {})
        return Run(code, out.getvalue(), err.getvalue())

    def release(self) -> None:
        result = self.run("--update-baseline")
        assert result.code == 0, result.out + result.err


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    released = Checkout(tmp_path)
    released.release()
    return released


def _line(category: str, method: str, pointer: str, message: str) -> str:
    return f"{category}: definitions/Rollout/{method}.json: {pointer}: {message}"


def _in(shared_type: str, pointer: str = "") -> str:
    """How a line ends when the change was made in a shared type: where in _types.json."""
    return f" [in the shared type {shared_type}: definitions/Rollout/_types.json: /$defs/{shared_type}{pointer}]"


def _defs(name: str) -> Callable[[Edit], Edit]:
    """Turns an edit of the shared type `name` into an edit of _types.json."""
    return lambda change: lambda data: change(data["$defs"][name])


_rollout, _device, _rollout_state = _defs("Rollout"), _defs("Device"), _defs("RolloutState")


def _field(name: str, change: Edit) -> Edit:
    """An edit of _types.json that applies `change` to the property `name` of the shared type Rollout."""
    return _rollout(lambda rollout: change(rollout["properties"][name]))


Expected = tuple[str, str, str]  # (method or TYPES, pointer, message)


@dataclass(frozen=True)
class Case:
    """Edit a file (a method, or TYPES; no edit: remove it) and expect these lines. `setup` edits the same
    file before the release the change is compared with."""

    file: str
    edit: Edit | None
    lines: tuple[Expected, ...]
    setup: Edit | None = None


def _case(file: str, edit: Edit | None, *lines: Expected, setup: Edit | None = None) -> Case:
    return Case(file, edit, lines, setup)


def _apply(checkout: Checkout, case: Case) -> None:
    if case.setup is not None:
        checkout.edit(case.file, case.setup)
        checkout.release()
    if case.edit is None:
        checkout.path(case.file).unlink()
    else:
        checkout.edit(case.file, case.edit)


# --- wire ---------------------------------------------------------------------------------------------


def _rename_arg(data: Definition) -> None:
    data["args"]["filter"] = data["args"].pop("deviceFilter")
    data["required_args"] = ["filter" if a == "deviceFilter" else a for a in data["required_args"]]


def _rename_name_to_title(rollout: Definition) -> None:
    rollout["properties"]["title"] = rollout["properties"].pop("name")


_DEVICE_FILTER_PATTERN = json.loads((REPO / "definitions" / "Rollout" / "Create.json").read_text(encoding="utf-8"))[
    "args"
]["deviceFilter"]["pattern"]
_LIST_STATE_DOC = "If present, only rollouts in this state are returned."

WIRE = {
    "arg removed": _case(
        "Create",
        lambda d: d["args"].pop("name"),
        (
            "Create",
            "/args/name",
            "arg `name` removed: an old client that sends `name` (client.rollout.create(name=)) "
            "gets 400 (unknown argument)",
        ),
    ),
    "arg renamed": _case(
        "Create",
        _rename_arg,
        (
            "Create",
            "/args/deviceFilter",
            "arg `deviceFilter` renamed to `filter`: an old client that sends `deviceFilter` "
            "(client.rollout.create(device_filter=)) gets 400 (unknown argument)",
        ),
    ),
    "arg type changed": _case(
        "List",
        lambda d: d["args"].update(limit={"type": "string"}),
        (
            "List",
            "/args/limit",
            "type changed from integer to string: an old client's integer value (client.rollout.list(limit=)) gets 400",
        ),
    ),
    "optional arg made required": _case(
        "List",
        lambda d: d.update(required_args=["projectid"]),
        ("List", "/args/projectid", "arg `projectid` is now required: an old client that leaves it out gets 400"),
    ),
    "new required arg": _case(
        "Delete",
        lambda d: (d["args"].update(reason="string"), d["required_args"].append("reason")),
        ("Delete", "/args/reason", "new required arg `reason`: an old client does not send it and gets 400"),
    ),
    "maximum lowered": _case(
        "List",
        lambda d: d["args"]["limit"].update(maximum=100),
        (
            "List",
            "/args/limit/maximum",
            "maximum lowered from 10000 to 100: an old client's values outside the new limit get 400",
        ),
    ),
    "exclusiveMinimum added": _case(
        "List",
        lambda d: d["args"]["limit"].update(exclusiveMinimum=5),
        (
            "List",
            "/args/limit/exclusiveMinimum",
            "exclusiveMinimum 5 added: an old client's values outside the new limit get 400",
        ),
    ),
    "maxLength added": _case(
        "Create",
        lambda d: d["args"]["name"].update(maxLength=64),
        ("Create", "/args/name/maxLength", "maxLength 64 added: an old client's values outside the new limit get 400"),
    ),
    "maxLength lowered": _case(
        "Create",
        lambda d: d["args"]["name"].update(maxLength=64),
        (
            "Create",
            "/args/name/maxLength",
            "maxLength lowered from 256 to 64: an old client's values outside the new limit get 400",
        ),
        setup=lambda d: d["args"]["name"].update(maxLength=256),
    ),
    "minLength raised in array items": _case(
        "AddDevices",
        lambda d: d["args"]["devices"]["items"].update(minLength=3),
        (
            "AddDevices",
            "/args/devices/items/minLength",
            "minLength raised from 1 to 3: an old client's values outside the new limit get 400",
        ),
    ),
    "plain string arg becomes a shared enum": _case(
        "List",
        lambda d: d["args"].update(state={"doc": _LIST_STATE_DOC, "$ref": "_types.json#/$defs/RolloutState"}),
        (
            "List",
            "/args/state/enum",
            "now limited to 'init', 'inProgress', 'paused', 'finished': an old client's other values "
            "(client.rollout.list(state=)) get 400",
        ),
        setup=lambda d: d["args"].update(state={"doc": _LIST_STATE_DOC, "type": "string"}),
    ),
    "pattern added": _case(
        "Create",
        lambda d: d["args"]["name"].update(pattern="^[^=]+$"),
        ("Create", "/args/name/pattern", "pattern '^[^=]+$' added: an old client's values that do not match get 400"),
    ),
    "pattern changed": _case(
        "Create",
        lambda d: d["args"]["deviceFilter"].update(pattern="^[^=]+=[^=]+$"),
        (
            "Create",
            "/args/deviceFilter/pattern",
            f"pattern changed from {_DEVICE_FILTER_PATTERN!r} to '^[^=]+=[^=]+$': an old client's values that do not "
            "match get 400",
        ),
    ),
    "method removed": _case(
        "Get",
        None,
        (
            "Get",
            "/",
            "method /v1/Rollout.Get removed: an old client's call answers 404 (No handler for /v1/Rollout.Get)",
        ),
    ),
    "result field removed": _case(
        TYPES,
        _rollout(lambda r: r["properties"].pop("name")),
        (
            "Get",
            "/result/properties/name",
            "result field `name` removed: an old client's GetResult.name is always None: "
            "the server no longer sends `name`" + _in("Rollout", "/properties/name"),
        ),
        (
            "List",
            "/result/items/properties/name",
            "result field `name` removed: an old client's ListResultItem.name is always None: "
            "the server no longer sends `name`" + _in("Rollout", "/properties/name"),
        ),
    ),
    "result field renamed": _case(
        TYPES,
        _rollout(_rename_name_to_title),
        (
            "Get",
            "/result/properties/name",
            "result field `name` renamed to `title`: an old client's GetResult.name is always None: "
            "the server no longer sends `name` (it sends `title` instead)" + _in("Rollout", "/properties/name"),
        ),
        (
            "List",
            "/result/items/properties/name",
            "result field `name` renamed to `title`: an old client's ListResultItem.name is always None: "
            "the server no longer sends `name` (it sends `title` instead)" + _in("Rollout", "/properties/name"),
        ),
    ),
    "result field retyped": _case(
        TYPES,
        _field("name", lambda f: f.update(type="integer")),
        (
            "Get",
            "/result/properties/name",
            "type changed from string to integer: an old client expects string (GetResult.name) "
            "and fails to read the result" + _in("Rollout", "/properties/name"),
        ),
        (
            "List",
            "/result/items/properties/name",
            "type changed from string to integer: an old client expects string (ListResultItem.name) "
            "and fails to read the result" + _in("Rollout", "/properties/name"),
        ),
    ),
    "required result field no longer always sent": _case(
        TYPES,
        _rollout(lambda r: r["required"].remove("firmwareid")),
        (
            "Get",
            "/result/properties/firmwareid",
            "result field `firmwareid` is no longer always sent: an old client fails to read a result without "
            "it (GetResult.firmwareid is required)" + _in("Rollout", "/properties/firmwareid"),
        ),
        (
            "List",
            "/result/items/properties/firmwareid",
            "result field `firmwareid` is no longer always sent: an old client fails to read a result without "
            "it (ListResultItem.firmwareid is required)" + _in("Rollout", "/properties/firmwareid"),
        ),
    ),
    "required result field removed": _case(
        "Create",
        lambda d: (d["result"]["properties"].pop("id"), d["result"].pop("required")),
        (
            "Create",
            "/result/properties/id",
            "result field `id` removed: an old client fails to read the result: CreateResult.id is required "
            "and the server no longer sends `id`",
        ),
    ),
    "required result field made optional": _case(
        "Create",
        lambda d: d["result"].pop("required"),
        (
            "Create",
            "/result/properties/id",
            "result field `id` is no longer always sent: an old client fails to read a result without it "
            "(CreateResult.id is required)",
        ),
    ),
    "required result field made nullable": _case(
        "Create",
        lambda d: d["result"]["properties"]["id"].update(nullable=True),
        (
            "Create",
            "/result/properties/id/nullable",
            "may be null now: an old client (CreateResult.id) cannot hold None and fails to read it",
        ),
    ),
    "result item field retyped": _case(
        TYPES,
        _device(lambda d: d["properties"]["id"].update(type="integer")),
        (
            "ListDevices",
            "/result/items/properties/id",
            "type changed from string to integer: an old client expects string (ListDevicesResultItem.id) "
            "and fails to read the result" + _in("Device", "/properties/id"),
        ),
    ),
    "role removed": _case(
        "AddDevices",
        lambda d: d.update(roles=["admin"]),
        ("AddDevices", "/roles", "role 'backend' may no longer call it: an old client with that role gets 403"),
    ),
    "roles added where every role could call": _case(
        "Delete",
        lambda d: d.update(roles=["admin"]),
        ("Delete", "/roles", "only 'admin' may call it now: an old client with another role gets 403"),
    ),
    "idempotency dropped": _case(
        "Get",
        lambda d: d.pop("idempotency"),
        (
            "Get",
            "/idempotency",
            "idempotency lowered from no_side_effects to none: old clients retry it after a connection failure, "
            "so a retry may apply it twice",
        ),
    ),
    "idempotent lowered to none": _case(
        "SetState",
        lambda d: d.update(idempotency="none"),
        (
            "SetState",
            "/idempotency",
            "idempotency lowered from idempotent to none: old clients retry it after a connection failure, "
            "so a retry may apply it twice",
        ),
    ),
    "no_side_effects lowered to idempotent": _case(
        "List",
        lambda d: d.update(idempotency="idempotent"),
        (
            "List",
            "/idempotency",
            "idempotency lowered from no_side_effects to idempotent: it has side effects now, and old clients may "
            "call it as one that changes nothing",
        ),
    ),
    "result removed": _case(
        "Create",
        lambda d: d.pop("result"),
        ("Create", "/result", "answers no result any more: an old client expects CreateResult and fails"),
    ),
}


@pytest.mark.parametrize("case", WIRE)
def test_wire_breaking_change_fails_naming_file_and_pointer(checkout: Checkout, case: str) -> None:
    _apply(checkout, WIRE[case])

    result = checkout.run()

    assert result.code == 1, result.out + result.err
    assert result.lines("wire") == [_line("wire", *line) for line in WIRE[case].lines]
    assert result.lines("code") == [], "a name that vanishes with a wire break is not reported twice"
    assert "not in the allow-list" in result.err


def test_enum_value_removed_from_a_shared_enum_is_wire_in_args_and_safe_in_results(checkout: Checkout) -> None:
    """RolloutState is what List and SetState take and what Get and List send: one edit, four uses."""
    checkout.edit(TYPES, _rollout_state(lambda s: s["enum"].remove("paused")))

    result = checkout.run()

    assert result.code == 1
    at_type = _in("RolloutState", "/enum")
    assert result.lines("wire") == [
        _line(
            "wire",
            "List",
            "/args/state/enum",
            "enum value 'paused' removed: an old client that sends it (client.rollout.list(state=)) gets 400" + at_type,
        ),
        _line(
            "wire",
            "SetState",
            "/args/state/enum",
            "enum value 'paused' removed: an old client that sends it (client.rollout.set_state(state=)) gets 400"
            + at_type,
        ),
    ]
    removed = "enum value 'paused' removed: the server no longer sends it" + at_type
    assert result.lines("safe") == [
        _line("safe", "Get", "/result/properties/state/enum", removed),
        _line("safe", "List", "/result/items/properties/state/enum", removed),
    ]
    assert result.lines("code") == [], "RolloutState.PAUSED goes with the wire break it comes from"


def test_enum_value_added_to_a_shared_enum_is_safe_in_args_and_results(checkout: Checkout) -> None:
    """Args: the server accepts one more value. Results: old clients keep a value they do not know (open enums)."""
    checkout.edit(TYPES, _rollout_state(lambda s: s["enum"].append("cancelled")))

    result = checkout.run()

    assert result.code == 0, result.out + result.err
    at_type = _in("RolloutState", "/enum")
    accepted = "enum value 'cancelled' added" + at_type
    kept = "enum value 'cancelled' added: old clients keep the unknown value" + at_type
    assert result.lines("safe") == [
        _line("safe", "Get", "/result/properties/state/enum", kept),
        _line("safe", "List", "/args/state/enum", accepted),
        _line("safe", "List", "/result/items/properties/state/enum", kept),
        _line("safe", "SetState", "/args/state/enum", accepted),
    ]
    assert result.out.splitlines()[-1].startswith("summary: 0 wire, 0 code, 4 safe (0 allowed)")


def test_enum_value_added_to_a_result_is_wire_if_result_enums_were_closed(
    checkout: Checkout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes the added value safe in results is that generated result enums are open."""
    monkeypatch.setattr(breaking, "OPEN_RESULT_ENUMS", False)
    checkout.edit(TYPES, _rollout_state(lambda s: s["enum"].append("cancelled")))

    result = checkout.run()

    assert result.code == 1
    at_type = _in("RolloutState", "/enum")
    assert result.lines("wire") == [
        _line(
            "wire",
            "Get",
            "/result/properties/state/enum",
            "enum value 'cancelled' added: an old client (GetResult.state) fails to read it" + at_type,
        ),
        _line(
            "wire",
            "List",
            "/result/items/properties/state/enum",
            "enum value 'cancelled' added: an old client (ListResultItem.state) fails to read it" + at_type,
        ),
    ]


def test_a_change_beside_a_ref_belongs_to_the_use_not_to_the_shared_type(checkout: Checkout) -> None:
    checkout.edit("SetState", lambda d: d["args"]["state"].update(nullable=True))
    checkout.release()
    checkout.edit("SetState", lambda d: d["args"]["state"].pop("nullable"))

    result = checkout.run()

    assert result.lines("wire") == [
        _line(
            "wire",
            "SetState",
            "/args/state/nullable",
            "no longer nullable: an old client that sends null (client.rollout.set_state(state=)) gets 400",
        )
    ]


def test_nullable_removed_from_an_arg_is_wire(checkout: Checkout) -> None:
    checkout.edit("Create", lambda d: d["args"]["name"].update(nullable=True))
    checkout.release()
    checkout.edit("Create", lambda d: d["args"]["name"].pop("nullable"))

    result = checkout.run()

    assert result.code == 1
    assert result.lines("wire") == [
        _line(
            "wire",
            "Create",
            "/args/name/nullable",
            "no longer nullable: an old client that sends null (client.rollout.create(name=)) gets 400",
        )
    ]


def test_changed_default_of_an_arg_is_wire(checkout: Checkout) -> None:
    checkout.edit("List", lambda d: d["args"]["limit"].update(default=100))
    checkout.release()
    checkout.edit("List", lambda d: d["args"]["limit"].update(default=1000))

    result = checkout.run()

    assert result.lines("wire") == [
        _line(
            "wire",
            "List",
            "/args/limit/default",
            "default changed from 100 to 1000: an old client that leaves it out no longer gets 100",
        )
    ]


def test_unknown_schema_keyword_changed_is_wire_to_review(checkout: Checkout) -> None:
    meta_path = checkout.definitions / "meta-schema.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["$defs"]["schema"]["properties"]["x-unit"] = {"type": "string"}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    checkout.edit("List", lambda d: d["args"]["limit"].update({"x-unit": "rollouts"}))

    result = checkout.run()

    assert result.code == 1
    (line,) = result.lines("wire")
    assert line.startswith("wire: definitions/Rollout/List.json: /args/limit/x-unit: `x-unit` changed from None to")
    assert "review it" in line


# --- safe ---------------------------------------------------------------------------------------------

RENAME = {
    "doc": "Renames the rollout.",
    "args": {"projectid": "string", "rolloutid": "string", "name": "string"},
    "required_args": ["projectid", "rolloutid", "name"],
}


def _both_uses_of_rollout(pointer: str, message: str) -> tuple[Expected, Expected]:
    """A change in the shared type Rollout, as Get (its result) and List (its result's items) see it."""
    return (
        ("Get", f"/result{pointer}", message + _in("Rollout", pointer)),
        ("List", f"/result/items{pointer}", message + _in("Rollout", pointer)),
    )


SAFE = {
    "method added": _case(
        "Rename",
        None,
        (
            "Rename",
            "/",
            "new method /v1/Rollout.Rename: needs an implementation in the server (answers 501 until then)",
        ),
    ),
    "optional arg added": _case(
        "Get",
        lambda d: d["args"].update(fields={"type": "array", "items": "string"}),
        ("Get", "/args/fields", "new optional arg `fields`: old clients leave it out"),
    ),
    "required arg made optional": _case(
        "Create",
        lambda d: d["required_args"].remove("deviceFilter"),
        ("Create", "/args/deviceFilter", "arg `deviceFilter` is no longer required"),
    ),
    "result field added": _case(
        TYPES,
        _rollout(lambda r: r["properties"].update(archivedAt="integer")),
        *_both_uses_of_rollout("/properties/archivedAt", "new result field `archivedAt`: old clients ignore it"),
    ),
    "constraint widened": _case(
        "List",
        lambda d: d["args"]["limit"].update(maximum=20000),
        ("List", "/args/limit/maximum", "maximum raised from 10000 to 20000: the limit is wider"),
    ),
    "minLength removed": _case(
        "Create",
        lambda d: d["args"]["projectid"].pop("minLength"),
        ("Create", "/args/projectid/minLength", "minLength 1 removed: the limit is wider"),
    ),
    "doc changed": _case("Get", lambda d: d.update(doc="Returns one rollout."), ("Get", "/doc", "doc changed")),
    "arg doc changed": _case(
        "Get",
        lambda d: d["args"]["projectid"].update(doc="The project."),
        ("Get", "/args/projectid", "doc changed"),
    ),
    "result doc changed beside the $ref": _case(
        "Get", lambda d: d["result"].update(doc="The rollout asked for."), ("Get", "/result", "doc changed")
    ),
    "doc changed in a shared type": _case(
        TYPES,
        _field("name", lambda f: f.update(doc="The rollout's name.")),
        *_both_uses_of_rollout("/properties/name", "doc changed"),
    ),
    "deprecated added": _case(
        "Get",
        lambda d: d["args"]["projectid"].update(deprecated=True),
        ("Get", "/args/projectid/deprecated", "deprecated: old clients keep working; new code gets a warning"),
    ),
    "optional result field made nullable": _case(
        TYPES,
        _field("name", lambda f: f.update(nullable=True)),
        *_both_uses_of_rollout(
            "/properties/name/nullable", "may be null now: old clients read null as None, as when it is left out"
        ),
    ),
    "result constraint narrowed": _case(
        TYPES,
        _field("name", lambda f: f.update(maxLength=1024)),
        *_both_uses_of_rollout(
            "/properties/name/maxLength", "maxLength 1024 added: the server sends values within a narrower limit"
        ),
    ),
    "idempotency added": _case(
        "Create",
        lambda d: d.update(idempotency="idempotent"),
        (
            "Create",
            "/idempotency",
            "idempotency raised from none to idempotent: new clients retry it after a connection failure",
        ),
    ),
    "idempotent raised to no_side_effects": _case(
        "Delete",
        lambda d: d.update(idempotency="no_side_effects"),
        ("Delete", "/idempotency", "idempotency raised from idempotent to no_side_effects: it changes nothing now"),
    ),
    "none written out": _case("Create", lambda d: d.update(idempotency="none")),
    "role added": _case(
        "AddDevices", lambda d: d["roles"].append("user"), ("AddDevices", "/roles", "role 'user' may call it now")
    ),
    "integer arg widened to number": _case(
        "List",
        lambda d: d["args"]["limit"].update(type="number"),
        ("List", "/args/limit", "type changed from integer to number: old values still fit"),
    ),
}


@pytest.mark.parametrize("case", SAFE)
def test_safe_change_passes(checkout: Checkout, case: str) -> None:
    safe = SAFE[case]
    if safe.edit is None:
        checkout.path(safe.file).write_text(json.dumps(RENAME), encoding="utf-8")
    else:
        _apply(checkout, safe)

    result = checkout.run()

    assert result.code == 0, result.out + result.err
    assert result.lines("safe") == [_line("safe", *line) for line in safe.lines]
    assert result.out.splitlines()[-1].startswith(
        f"summary: 0 wire, 0 code, {len(safe.lines)} safe (0 allowed) against the baseline"
    )


def test_examples_changed_is_safe(checkout: Checkout) -> None:
    shutil.copyfile(REPO / "definitions" / "Rollout" / "Get.json", checkout.path("Get"))

    result = checkout.run()

    assert result.code == 0, result.out + result.err
    assert result.lines("safe") == [_line("safe", "Get", "/examples", "examples changed")]


def test_unchanged_definitions_pass_with_an_empty_report(checkout: Checkout) -> None:
    result = checkout.run()

    assert result.code == 0, result.out + result.err
    assert result.out == f"summary: 0 wire, 0 code, 0 safe (0 allowed) against the baseline {checkout.baseline}\n"
    assert result.err == ""


def _baseline_in_the_readonly_format(checkout: Checkout) -> None:
    """Rewrite the baseline as released before `idempotency` replaced `readonly`: `"readonly": true` where the
    level is no_side_effects, nothing for the other levels, and a meta-schema that takes readonly."""
    data = json.loads(checkout.baseline.read_text(encoding="utf-8"))
    definitions = data["definitions"]
    properties = definitions["meta-schema.json"]["properties"]
    del properties["idempotency"]
    properties["readonly"] = {"type": "boolean"}
    methods = [d for name, d in definitions.items() if name.startswith("Rollout/") and "/_" not in name]
    for definition in methods:
        if definition.pop("idempotency", "none") == "no_side_effects":
            definition["readonly"] = True
    checkout.baseline.write_text(json.dumps(data, indent=2), encoding="utf-8")


def test_readonly_in_an_old_baseline_reads_as_its_idempotency_level(checkout: Checkout) -> None:
    """`"readonly": true` is no_side_effects and no readonly is none: the move to idempotency is no change where
    the meaning stays, a safe one where a method becomes retryable, and a wire one where it becomes less so."""
    _baseline_in_the_readonly_format(checkout)
    checkout.edit("ListDevices", lambda d: d.update(idempotency="idempotent"))

    result = checkout.run()

    assert result.code == 1, result.out + result.err
    assert result.lines("wire") == [
        _line(
            "wire",
            "ListDevices",
            "/idempotency",
            "idempotency lowered from no_side_effects to idempotent: it has side effects now, and old clients may "
            "call it as one that changes nothing",
        )
    ]
    raised = "idempotency raised from none to idempotent: new clients retry it after a connection failure"
    assert result.lines("safe") == [
        _line("safe", method, "/idempotency", raised)
        for method in ("AddDevices", "Delete", "SetDeviceState", "SetState")
    ]
    assert result.lines("code") == []


# --- code ---------------------------------------------------------------------------------------------


def _add_stage(rollout: Definition) -> None:
    """Give the shared type Rollout an enum of its own (the class RolloutStage), which only results use."""
    rollout["properties"]["stage"] = {"type": "string", "enum": ["download", "install", "reboot"]}


def test_enum_value_removed_from_a_result_is_safe_on_the_wire_but_breaks_code(checkout: Checkout) -> None:
    checkout.edit(TYPES, _rollout(_add_stage))
    checkout.release()
    checkout.edit(TYPES, _field("stage", lambda f: f["enum"].remove("reboot")))

    result = checkout.run()

    assert result.code == 1
    removed = "enum value 'reboot' removed: the server no longer sends it" + _in("Rollout", "/properties/stage/enum")
    assert result.lines("safe") == [
        _line("safe", "Get", "/result/properties/stage/enum", removed),
        _line("safe", "List", "/result/items/properties/stage/enum", removed),
    ]
    assert result.lines("code") == [
        _line(
            "code",
            TYPES,
            "/$defs/Rollout/properties/stage/enum",
            "enum member rollout_api.rollout.models.RolloutStage.REBOOT no longer exists: "
            "code that uses it fails with AttributeError",
        )
    ]
    assert result.lines("wire") == []


def test_a_naming_rule_change_is_a_code_change(checkout: Checkout, monkeypatch: pytest.MonkeyPatch) -> None:
    """The definitions stay as released, but the generator now keeps camelCase argument names."""
    field_name = naming.field_name
    monkeypatch.setattr(naming, "field_name", lambda wire: wire if wire == "deviceFilter" else field_name(wire))

    result = checkout.run()

    assert result.code == 1
    assert result.lines("wire") == []
    models = "rollout_api.rollout.models"
    renamed = "code that reads it fails with AttributeError under the old name"
    assert result.lines("code") == [
        _line(
            "code",
            "Create",
            "/args/deviceFilter",
            "keyword argument client.rollout.create(device_filter=) is now client.rollout.create(deviceFilter=): "
            "calls that pass it fail with TypeError under the old name",
        ),
        _line(
            "code",
            "Create",
            "/args/deviceFilter",
            f"field {models}.CreateArgs.device_filter is now {models}.CreateArgs.deviceFilter: {renamed}",
        ),
        _line(
            "code",
            "Get",
            "/result/properties/deviceFilter",
            f"field {models}.GetResult.device_filter is now {models}.GetResult.deviceFilter: {renamed}",
        ),
        _line(
            "code",
            TYPES,
            "/$defs/Rollout/properties/deviceFilter",
            f"field {models}.Rollout.device_filter is now {models}.Rollout.deviceFilter: {renamed}",
        ),
        _line(
            "code",
            "List",
            "/result/items/properties/deviceFilter",
            f"field {models}.ListResultItem.device_filter is now {models}.ListResultItem.deviceFilter: {renamed}",
        ),
    ]


def test_a_renamed_class_is_reported_once_not_per_member(checkout: Checkout, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout.edit(TYPES, _rollout(_add_stage))
    checkout.release()
    pascal = naming.pascal
    monkeypatch.setattr(naming, "pascal", lambda name: "Phase" if name == "stage" else pascal(name))

    result = checkout.run()

    assert result.code == 1
    assert result.lines("code") == [
        _line(
            "code",
            TYPES,
            "/$defs/Rollout/properties/stage",
            "class rollout_api.rollout.models.RolloutStage is now rollout_api.rollout.models.RolloutPhase: "
            "code that imports it fails under the old name",
        )
    ]


def test_a_class_replaced_by_a_shared_type_is_named_as_its_successor(tmp_path: Path) -> None:
    """SetState.state had an enum of its own (SetStateArgsState); now it uses RolloutState from _types.json."""
    checkout = Checkout(tmp_path)
    checkout.edit(
        "SetState",
        lambda d: d["args"].update(state={"type": "string", "enum": ["init", "inProgress", "paused", "finished"]}),
    )
    checkout.release()
    checkout.edit("SetState", lambda d: d["args"].update(state={"$ref": "_types.json#/$defs/RolloutState"}))

    result = checkout.run()

    assert result.lines("code") == [
        _line(
            "code",
            "SetState",
            "/args/state",
            "class rollout_api.rollout.models.SetStateArgsState is now rollout_api.rollout.models.RolloutState: "
            "code that imports it fails under the old name",
        )
    ]
    assert result.lines("safe") == [
        _line("safe", "SetState", "/args/state", "doc changed"),
        _line("safe", "SetState", "/args/state", "now the shared type RolloutState"),
    ]
    assert result.lines("wire") == []


def test_an_object_that_was_a_dict_becomes_a_class_is_a_code_change(tmp_path: Path) -> None:
    checkout = Checkout(tmp_path)
    checkout.edit(TYPES, _rollout(lambda r: r["properties"].update(labels={"type": "object"})))
    checkout.release()
    checkout.edit(TYPES, _field("labels", lambda f: f.update(properties={"room": "string"})))

    result = checkout.run()

    assert result.code == 1
    assert result.lines("code") == [
        _line("code", *line)
        for line in _both_uses_of_rollout(
            "/properties/labels", "now a model class, no longer a dict: code that indexes it breaks"
        )
    ]


# --- the allow-list -----------------------------------------------------------------------------------


def _allow_name_removed(method: str, pointer: str) -> dict[str, str]:
    return {
        "file": f"definitions/Rollout/{method}.json",
        "pointer": pointer,
        "category": "wire",
        "reason": "no client reads the name",
    }


def test_allow_list_lets_a_listed_change_pass_and_says_why(checkout: Checkout) -> None:
    checkout.edit(TYPES, _rollout(lambda r: r["properties"].pop("name")))
    checkout.allow(
        _allow_name_removed("Get", "/result/properties/name"),
        _allow_name_removed("List", "/result/items/properties/name"),
    )

    result = checkout.run()

    assert result.code == 0, result.out + result.err
    assert result.lines("wire") == []
    at_type = _in("Rollout", "/properties/name")
    assert result.out.splitlines()[:2] == [
        "allowed wire: definitions/Rollout/Get.json: /result/properties/name: result field `name` removed: "
        f"an old client's GetResult.name is always None: the server no longer sends `name`{at_type} "
        "(reason: no client reads the name)",
        "allowed wire: definitions/Rollout/List.json: /result/items/properties/name: result field `name` removed: "
        f"an old client's ListResultItem.name is always None: the server no longer sends `name`{at_type} "
        "(reason: no client reads the name)",
    ]
    assert "2 wire, 0 code, 0 safe (2 allowed)" in result.out
    assert result.err == ""


def test_allow_list_accepts_a_change_in_a_shared_type_per_use(checkout: Checkout) -> None:
    """Allowing Get's use of Rollout.name does not allow List's: each method's old clients are a separate decision."""
    checkout.edit(TYPES, _rollout(lambda r: r["properties"].pop("name")))
    checkout.allow(_allow_name_removed("Get", "/result/properties/name"))

    result = checkout.run()

    assert result.code == 1
    assert [line.split(": result field")[0] for line in result.lines("wire")] == [
        "wire: definitions/Rollout/List.json: /result/items/properties/name"
    ]
    assert "2 wire, 0 code, 0 safe (1 allowed)" in result.out
    assert "error: 1 breaking change(s) not in the allow-list" in result.err


def test_allow_list_entry_for_a_whole_file_uses_the_pointer_slash(checkout: Checkout) -> None:
    checkout.path("Delete").unlink()
    checkout.allow(
        {"file": "definitions/Rollout/Delete.json", "pointer": "/", "category": "wire", "reason": "never used"}
    )

    assert checkout.run().code == 0


def test_allow_list_entry_needs_a_reason(checkout: Checkout) -> None:
    checkout.allow({"file": "definitions/Rollout/Get.json", "pointer": "/roles", "category": "wire", "reason": " "})

    result = checkout.run()

    assert result.code == 2
    assert result.err == (
        f"error: the allow-list {checkout.allow_list}, entry 0: a reason is required: "
        "say why old clients can live with this change\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"file": "x"}', "must be a JSON list of entries like"),
        ('[{"file": "x", "pointer": "/", "category": "wire"}]', "entry 0: expected exactly the keys file, pointer"),
        ('[{"file": "x", "pointer": "/", "category": "safe", "reason": "r"}]', "category must be 'wire' or 'code'"),
    ],
)
def test_unreadable_allow_list_exits_2(checkout: Checkout, content: str, message: str) -> None:
    checkout.allow_list.write_text(content, encoding="utf-8")

    result = checkout.run()

    assert result.code == 2
    assert result.out == ""
    assert message in result.err


def test_stale_allow_list_entry_warns_but_passes(checkout: Checkout) -> None:
    checkout.allow(
        {"file": "definitions/Rollout/Get.json", "pointer": "/roles", "category": "wire", "reason": "planned"}
    )

    result = checkout.run()

    assert result.code == 0
    assert result.err == (
        f"warning: {checkout.allow_list}, entry 0 (wire at definitions/Rollout/Get.json /roles) matches no change; "
        "remove it\n"
    )


def test_update_baseline_accepts_the_changes_and_empties_the_allow_list(checkout: Checkout) -> None:
    checkout.edit(TYPES, _rollout(lambda r: r["properties"].pop("name")))
    checkout.allow(
        _allow_name_removed("Get", "/result/properties/name"),
        _allow_name_removed("List", "/result/items/properties/name"),
    )

    released = checkout.run("--update-baseline")

    assert released.code == 0, released.err
    assert released.out.splitlines()[1] == f"emptied {checkout.allow_list}: the release accepts its 2 entries"
    assert json.loads(checkout.allow_list.read_text(encoding="utf-8")) == []
    assert checkout.run().code == 0


# --- the baseline -------------------------------------------------------------------------------------


def test_repository_definitions_match_the_committed_baseline() -> None:
    result = run_codegen("breaking")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "against the baseline api/baseline.json" in result.stdout


def test_committed_allow_list_is_readable() -> None:
    assert breaking_cli.read_allow_list(REPO / "api" / "breaking-allow.json") is not None


def test_missing_baseline_exits_2(checkout: Checkout) -> None:
    checkout.baseline.unlink()

    result = checkout.run()

    assert result.code == 2
    assert result.err.startswith(f"error: no API baseline at {checkout.baseline}; `python -m codegen breaking")


@pytest.mark.parametrize("content", ["{", '{"format": 99}', '{"format": 1, "definitions": {}}'])
def test_unreadable_baseline_exits_2(checkout: Checkout, content: str) -> None:
    checkout.baseline.write_text(content, encoding="utf-8")

    result = checkout.run()

    assert result.code == 2
    assert str(checkout.baseline) in result.err
    assert "--update-baseline" in result.err


def test_baseline_that_does_not_load_exits_2(checkout: Checkout) -> None:
    data = json.loads(checkout.baseline.read_text(encoding="utf-8"))
    del data["definitions"]["Rollout/Get.json"]["doc"]
    checkout.baseline.write_text(json.dumps(data), encoding="utf-8")

    result = checkout.run()

    assert result.code == 2
    assert result.err.startswith(
        f"error: the definitions in the baseline {checkout.baseline} do not load: definitions/Rollout/Get.json: /:"
    )


def test_a_bad_definition_in_the_working_tree_exits_2(checkout: Checkout) -> None:
    checkout.edit("Get", lambda d: d.pop("doc"))

    result = checkout.run()

    assert result.code == 2
    assert result.err.startswith("error: definitions/Rollout/Get.json: /: 'doc' is a required property")


# --- git refs -----------------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    result = subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60)
    return result.stdout


@pytest.fixture
def repository(tmp_path: Path) -> Checkout:
    """A checkout whose definitions are committed in a git repository of their own."""
    checkout = Checkout(tmp_path)
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "definitions")
    _git(tmp_path, "commit", "-q", "-m", "API v1")
    _git(tmp_path, "tag", "v1")
    return checkout


def test_against_a_git_ref(repository: Checkout) -> None:
    repository.edit(TYPES, _rollout(lambda r: r["properties"].pop("name")))
    _git(repository.root, "commit", "-q", "-am", "drop name")
    repository.edit("List", lambda d: d["args"]["limit"].update(maximum=20000))

    against_tag = repository.run("--against", "v1")
    against_head = repository.run("--against", "HEAD")

    assert against_tag.code == 1
    assert [line.split(": result field")[0] for line in against_tag.lines("wire")] == [
        "wire: definitions/Rollout/Get.json: /result/properties/name",
        "wire: definitions/Rollout/List.json: /result/items/properties/name",
    ]
    assert against_tag.out.splitlines()[-1] == (
        f"summary: 2 wire, 0 code, 1 safe (0 allowed) against {repository.definitions}/ at v1"
    )
    assert against_head.code == 0, against_head.out + against_head.err
    assert against_head.lines("safe") == [
        _line("safe", "List", "/args/limit/maximum", "maximum raised from 10000 to 20000: the limit is wider")
    ]


def test_bad_ref_exits_2_with_a_message(repository: Checkout) -> None:
    result = repository.run("--against", "no-such-ref")

    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("error: 'no-such-ref' is not a commit in the git repository at ")


def test_ref_without_definitions_exits_2(repository: Checkout) -> None:
    (repository.root / "README").write_text("x", encoding="utf-8")
    _git(repository.root, "rm", "-rq", "definitions")
    _git(repository.root, "add", "README")
    _git(repository.root, "commit", "-q", "-m", "no API")
    _git(repository.root, "checkout", "-q", "v1", "--", "definitions")

    result = repository.run("--against", "HEAD")

    assert result.code == 2
    assert result.err == "error: definitions/ does not exist at 'HEAD'\n"


def test_against_outside_a_git_repository_exits_2(checkout: Checkout) -> None:
    result = checkout.run("--against", "HEAD")

    assert result.code == 2
    assert "is not in a git repository" in result.err


# --- after `python -m codegen` --------------------------------------------------------------------------


def test_generate_reports_the_api_changes_since_the_last_commit(
    repository: Checkout, capsys: pytest.CaptureFixture[str]
) -> None:
    repository.path("Rename").write_text(json.dumps(RENAME), encoding="utf-8")
    repository.path("Delete").unlink()
    repository.edit(TYPES, _rollout(lambda r: r["properties"].pop("name")))

    output = repository.root / "generated"
    code = cli.main(["--definitions", str(repository.definitions), "--output", str(output), "--package", "rollout_api"])

    assert code == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"API changes since the last commit ({repository.definitions}/ at HEAD):",
        "  added:   /v1/Rollout.Rename: needs an implementation in the server (answers 501 until then)",
        "  removed: /v1/Rollout.Delete",
        "  changed: /v1/Rollout.Get: 1 wire",
        "  changed: /v1/Rollout.List: 1 wire",
        "what old clients see: python -m codegen breaking --against HEAD",
    ]


def test_generate_says_nothing_more_outside_git_or_without_changes(repository: Checkout, tmp_path: Path) -> None:
    assert breaking_cli.api_changes_since_commit(repository.definitions, "rollout_api") == []
    outside = Checkout(tmp_path / "outside")
    assert breaking_cli.api_changes_since_commit(outside.definitions, "rollout_api") == []


# --- the command line ---------------------------------------------------------------------------------


def test_command_in_a_copy_of_the_repository_fails_on_a_wire_break(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "definitions", "api"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copyfile(source, tmp_path / name)
    types = tmp_path / "definitions" / "Rollout" / "_types.json"
    data = json.loads(types.read_text(encoding="utf-8"))
    _rename_name_to_title(data["$defs"]["Rollout"])
    types.write_text(json.dumps(data, indent=2), encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "codegen", "breaking"],
        cwd=tmp_path,
        env=child_env({"PYTHONPATH": str(REPO)}),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert [
        line.split(": result field `name` ")[0] for line in result.stdout.splitlines() if line.startswith("wire")
    ] == [
        "wire: definitions/Rollout/Get.json: /result/properties/name",
        "wire: definitions/Rollout/List.json: /result/items/properties/name",
    ]
    assert "allowed) against the baseline api/baseline.json" in result.stdout
    assert "error: 2 breaking change(s) not in the allow-list api/breaking-allow.json" in result.stderr


def test_help_mentions_the_breaking_check() -> None:
    result = run_codegen("--help")

    assert result.returncode == 0
    assert "python -m codegen breaking" in result.stdout
    breaking_help = run_codegen("breaking", "--help")
    assert breaking_help.returncode == 0
    assert "--against REF" in breaking_help.stdout
    assert "--update-baseline" in breaking_help.stdout
