"""codegen/naming.py: every rule that turns a wire name into a Python name."""

from __future__ import annotations

import keyword

import pytest

from codegen import naming


@pytest.mark.parametrize(
    ("wire", "python"),
    [
        ("deviceFilter", "device_filter"),
        ("updateCommandId", "update_command_id"),
        ("HTTPCode", "http_code"),
        ("getHTTPResponse", "get_http_response"),
        ("userID", "user_id"),
        ("version2Name", "version2_name"),
        ("projectid", "projectid"),
        ("already_snake", "already_snake"),
        ("set-state", "set_state"),
        ("__private__", "private"),
        ("ListDevices", "list_devices"),
        ("", "_"),
    ],
)
def test_snake(wire: str, python: str) -> None:
    assert naming.snake(wire) == python


@pytest.mark.parametrize(
    ("wire", "python"),
    [
        ("set_state", "SetState"),
        ("setState", "SetState"),
        ("SetState", "SetState"),
        ("deviceFilter", "DeviceFilter"),
        ("list devices", "ListDevices"),
        ("HTTPCode", "HTTPCode"),
        ("x_1", "X1"),
        ("a", "A"),
    ],
)
def test_pascal(wire: str, python: str) -> None:
    assert naming.pascal(wire) == python


@pytest.mark.parametrize(
    ("wire", "python"),
    [
        ("deviceFilter", "device_filter"),
        ("updateCommandId", "update_command_id"),
        ("projectid", "projectid"),
        # keywords and soft keywords
        ("from", "from_"),
        ("class", "class_"),
        ("import", "import_"),
        ("match", "match_"),
        ("case", "case_"),
        # builtins
        ("id", "id_"),
        ("type", "type_"),
        ("list", "list_"),
        ("print", "print_"),
        # names pydantic models already use
        ("json", "json_"),
        ("copy", "copy_"),
        ("schema", "schema_"),
        ("self", "self_"),
        ("model_config", "field_model_config"),
        ("modelName", "field_model_name"),
        # pydantic refuses field names with a leading underscore
        ("_private", "private"),
        ("None", "none"),
    ],
)
def test_field_name(wire: str, python: str) -> None:
    assert naming.field_name(wire) == python


def test_field_name_never_returns_a_keyword() -> None:
    for word in [*keyword.kwlist, *keyword.softkwlist]:
        name = naming.field_name(word)
        assert name.isidentifier() and not keyword.iskeyword(name), word


@pytest.mark.parametrize(
    ("wire", "python"),
    [
        ("Get", "get"),
        ("ListDevices", "list_devices"),
        ("SetDeviceState", "set_device_state"),
        # a method may shadow a builtin that annotations do not use ...
        ("List", "list"),
        # ... but not a keyword, nor a name the generated annotations use
        ("Import", "import_"),
        ("Match", "match_"),
        ("Str", "str_"),
        ("Float", "float_"),
        ("Type", "type_"),
        ("Object", "object_"),
    ],
)
def test_method_name(wire: str, python: str) -> None:
    assert naming.method_name(wire) == python


@pytest.mark.parametrize(
    ("service", "module"),
    [
        ("Rollout", "rollout"),
        ("Inventory", "inventory"),
        ("HTTPApi", "http_api"),
        ("Import", "import_"),
        # the package's own modules
        ("Client", "client_"),
        ("Status", "status_"),
        ("Methods", "methods_"),
    ],
)
def test_module_name(service: str, module: str) -> None:
    assert naming.module_name(service) == module


def test_module_name_never_takes_a_runtime_module() -> None:
    for runtime in naming.RUNTIME_MODULES:
        assert naming.module_name(naming.pascal(runtime)) not in naming.RUNTIME_MODULES


@pytest.mark.parametrize(
    ("value", "member"),
    [
        ("init", "INIT"),
        ("inProgress", "IN_PROGRESS"),
        ("succeeded", "SUCCEEDED"),
        ("spareParts", "SPARE_PARTS"),
        ("HTTP2", "HTTP2"),
        ("a-b", "A_B"),
        ("2ndHand", "V_2ND_HAND"),
        ("-", "V__"),
    ],
)
def test_enum_member(value: str, member: str) -> None:
    assert naming.enum_member(value) == member
    assert member.isidentifier()


def test_check_unique_accepts_distinct_names_and_repeated_pairs() -> None:
    naming.check_unique([("deviceFilter", "device_filter"), ("id", "id_"), ("id", "id_")], "arguments")
    naming.check_unique([], "arguments")


def test_check_unique_names_both_wire_names_and_the_python_name() -> None:
    pairs = [("fooBar", "foo_bar"), ("other", "other"), ("foo_bar", "foo_bar")]
    with pytest.raises(naming.NameCollision) as caught:
        naming.check_unique(pairs, "arguments")
    assert str(caught.value) == (
        "arguments 'fooBar' and 'foo_bar' both map to the Python name 'foo_bar'; rename one of them"
    )


def test_field_name_never_starts_with_an_underscore() -> None:
    for wire in ("_", "__", "_x", "x_"):
        assert not naming.field_name(wire).startswith("_"), wire
