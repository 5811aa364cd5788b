"""codegen/naming.py: every rule that turns a wire name into a Python name."""

from __future__ import annotations

import keyword

import pytest
from pydantic import BaseModel

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
        # builtins keep their names: an attribute or keyword argument hides no builtin its caller needs
        ("id", "id"),
        ("type", "type"),
        ("filter", "filter"),
        ("print", "print"),
        ("format", "format"),
        ("datetime", "datetime"),
        ("object", "object"),
        ("int", "int"),
        # ... except the ones the generated code uses in model bodies, signatures and iterators
        ("list", "list_"),
        ("dict", "dict_"),
        ("str", "str_"),
        ("len", "len_"),
        ("self", "self_"),
        # names pydantic models already use
        ("json", "json_"),
        ("copy", "copy_"),
        ("schema", "schema_"),
        ("parseObj", "parse_obj_"),
        ("updateForwardRefs", "update_forward_refs_"),
        ("model_config", "field_model_config"),
        ("modelName", "field_model_name"),
        # pydantic refuses field names with a leading underscore
        ("_private", "private"),
        ("_id", "id"),
        ("None", "none"),
    ],
)
def test_field_name(wire: str, python: str) -> None:
    assert naming.field_name(wire) == python


def test_field_names_protect_every_attribute_of_base_model() -> None:
    # BASE_MODEL_ATTRIBUTES is fixed so that the output does not depend on the installed pydantic; it must still
    # cover what this pydantic's BaseModel has (its model_* names all get the field_ prefix).
    public = {name for name in dir(BaseModel) if not name.startswith(("_", "model_"))}
    assert public <= naming.BASE_MODEL_ATTRIBUTES
    for name in public:
        assert naming.field_name(name) == name + "_"


def test_field_names_do_not_depend_on_the_python_version() -> None:
    # `type` is a soft keyword from Python 3.12 on; it is a usable name there too, and kept on every version.
    assert naming.field_name("type") == "type"
    assert naming.field_name("match") == "match_"


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
    naming.check_unique([("deviceFilter", "device_filter"), ("id", "id"), ("id", "id")], "arguments")
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
