"""A bad definition fails generation with one message that names the file, the JSON pointer and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from codegen.cli import generate_files
from codegen.errors import DefinitionError
from tests.codegen.support import REPO, WriteDefinitions

GET = "definitions/Shop/Get.json"


def _generate(definitions: Path) -> dict[str, str]:
    return generate_files(definitions, package="shop_api", distribution="shop-api", version="0.0.1")


def _method(**fields: Any) -> dict[str, Any]:
    return {"doc": "Gets a thing.", "args": {"thing": "string"}, **fields}


def _example(command: dict[str, Any], *answers: dict[str, Any]) -> dict[str, Any]:
    """An example frame pair with one command and the given answers (one success by default)."""
    return {
        "request": {"v": 1, "cmds": [command]},
        "response": {"v": 1, "resp": list(answers) or [{"status": 0}]},
    }


CASES = [
    pytest.param(
        {"Get.json": _method(rezult={"type": "string"})},
        f"{GET}: /: Additional properties are not allowed ('rezult' was unexpected); "
        "allowed keys: args, doc, examples, readonly, required_args, result, roles",
        id="unknown-top-level-key",
    ),
    pytest.param(
        {"Get.json": _method(required_args="thing")},
        f"{GET}: /required_args: 'thing' is not of type 'array'",
        id="required_args-not-a-list",
    ),
    pytest.param(
        {"Get.json": _method(args={"thing": {"type": "strin"}})},
        f"{GET}: /args/thing/type: 'strin' is not one of ['string', 'integer', 'number', 'boolean', 'array', 'object']",
        id="unknown-type",
    ),
    pytest.param(
        {"Get.json": _method(args={"thing": "strin"})},
        f"{GET}: /args/thing: unknown type 'strin'; expected one of string, integer, number, boolean or a schema object",
        id="unknown-type-shorthand",
    ),
    pytest.param(
        {"Get.json": _method(args={"things": {"type": "array", "items": "strin"}})},
        f"{GET}: /args/things/items: unknown type 'strin'; "
        "expected one of string, integer, number, boolean or a schema object",
        id="unknown-type-shorthand-in-items",
    ),
    pytest.param(
        {"Get.json": _method(args={"thing": {"type": "object", "properties": {"size": {"type": "strin"}}}})},
        f"{GET}: /args/thing/properties/size/type: "
        "'strin' is not one of ['string', 'integer', 'number', 'boolean', 'array', 'object']",
        id="unknown-type-nested",
    ),
    pytest.param(
        {"Get.json": _method(result="string")},
        f"{GET}: /result: 'string' is not of type 'object'",
        id="result-shorthand",
    ),
    pytest.param(
        {"Get.json": _method(args={"fooBar": "string", "foo_bar": "string"})},
        f"{GET}: /args: arguments 'fooBar' and 'foo_bar' both map to the Python name 'foo_bar'; rename one of them",
        id="args-with-one-python-name",
    ),
    pytest.param(
        {"Get.json": _method(result={"type": "object", "properties": {"fooBar": "string", "foo_bar": "string"}})},
        f"{GET}: /result/properties: properties 'fooBar' and 'foo_bar' both map to the Python name 'foo_bar'; "
        "rename one of them",
        id="properties-with-one-python-name",
    ),
    pytest.param(
        {"Get.json": _method(args={"state": {"type": "string", "enum": ["inProgress", "in_progress"]}})},
        f"{GET}: /args/state/enum: enum values 'inProgress' and 'in_progress' both map to the Python name "
        "'IN_PROGRESS'; rename one of them",
        id="enum-values-with-one-python-name",
    ),
    pytest.param(
        {"Get.json": _method(), "GET.json": _method()},
        "definitions/Shop: /: methods 'GET' and 'Get' both map to the Python name 'get'; rename one of them",
        id="methods-with-one-python-name",
    ),
    pytest.param(
        {
            "Get.json": _method(args={"result": {"type": "object", "properties": {"a": "string"}}}),
            "GetArgs.json": _method(result={"type": "object", "properties": {"a": "string"}}),
        },
        "definitions/Shop: /: two schemas would both generate the class 'GetArgsResult'; rename a method or argument",
        id="schemas-with-one-class-name",
    ),
    pytest.param(
        {"Get.json": '{"doc": "Gets a thing.", "args": {}'},
        f"{GET}: /: not valid JSON: Expecting ',' delimiter at line 1, column 36",
        id="not-json",
    ),
    pytest.param(
        {"Get.json": _method(required_args=["thing", "size"])},
        f"{GET}: /required_args/1: required arg 'size' is not declared in args; declared: thing",
        id="required-arg-not-in-args",
    ),
    pytest.param(
        {"Get.json": _method(result={"type": "object", "properties": {"a": "string"}, "required": ["b"]})},
        f"{GET}: /result/required/0: required property 'b' is not in properties",
        id="required-property-not-in-properties",
    ),
    pytest.param(
        {"Get.json": _method(args={"things": {"type": "array"}})},
        f'{GET}: /args/things: an array needs "items", e.g. {{"type": "array", "items": {{"type": "string"}}}}',
        id="array-without-items",
    ),
    pytest.param(
        {"Get.json": _method(args={"size": {"type": "integer", "enum": ["1"]}})},
        f"{GET}: /args/size/enum: enum is only supported on strings, not on type 'integer'",
        id="enum-on-integer",
    ),
    pytest.param(
        {"Get.json": _method(args={"thing-id": "string"})},
        f"{GET}: /args: 'thing-id' does not match '^[A-Za-z_][A-Za-z0-9_]*$'",
        id="arg-name-not-an-identifier",
    ),
    pytest.param(
        {"Get.json": {"args": {}}},
        f"{GET}: /: 'doc' is a required property",
        id="doc-missing",
    ),
    pytest.param(
        {"get.json": _method()},
        "definitions/Shop/get.json: /: method file names must be CapitalisedIdentifiers, e.g. Get.json",
        id="method-file-name-not-capitalised",
    ),
    pytest.param(
        {},
        "definitions/Shop: /: service folder has no method files",
        id="service-without-methods",
    ),
    pytest.param(
        {"Get.json": _method(examples=[_example({"cmd": "/v1/Shop.Got", "args": {"thing": "t"}})])},
        f"{GET}: /examples/0/request/cmds/0/cmd: example calls '/v1/Shop.Got', not this method; "
        "expected '/v1/Shop.Get'",
        id="example-calls-another-method",
    ),
    pytest.param(
        {"Get.json": _method(examples=[_example({"cmd": "/v1/Shop.Get", "args": {"thing": 5}})])},
        f"{GET}: /examples/0/request/cmds/0/args/thing: 5 is not of type 'string'",
        id="example-arg-of-the-wrong-type",
    ),
    pytest.param(
        {"Get.json": _method(examples=[_example({"cmd": "/v1/Shop.Get", "args": {"thang": "t"}})])},
        f"{GET}: /examples/0/request/cmds/0/args: Additional properties are not allowed ('thang' was unexpected)",
        id="example-unknown-arg",
    ),
    pytest.param(
        {"Get.json": _method(required_args=["thing"], examples=[_example({"cmd": "/v1/Shop.Get", "args": {}})])},
        f"{GET}: /examples/0/request/cmds/0/args: 'thing' is a required property",
        id="example-missing-required-arg",
    ),
    pytest.param(
        {
            "Get.json": _method(
                result={"type": "object", "properties": {"size": "integer"}},
                examples=[_example({"cmd": "/v1/Shop.Get", "args": {}}, {"status": 0, "resp": {"size": "big"}})],
            )
        },
        f"{GET}: /examples/0/response/resp/0/resp/size: 'big' is not of type 'integer'",
        id="example-result-of-the-wrong-shape",
    ),
    pytest.param(
        {"Get.json": _method(examples=[_example({"cmd": "/v1/Shop.Get"}, {"status": 0, "resp": 1})])},
        f"{GET}: /examples/0/response/resp/0/resp: this method declares no result; leave out resp",
        id="example-result-of-a-method-without-one",
    ),
    pytest.param(
        {"Get.json": _method(examples=[_example({"cmd": "/v1/Shop.Get"}, {"status": 0}, {"status": 0})])},
        f"{GET}: /examples/0/response/resp: 2 responses for 1 commands; a frame answers each command once",
        id="example-answer-count",
    ),
]


@pytest.mark.parametrize(("files", "message"), CASES)
def test_bad_definition_fails_with_message(
    write_definitions: WriteDefinitions, files: dict[str, object], message: str
) -> None:
    definitions = write_definitions(files)
    with pytest.raises(DefinitionError) as caught:
        _generate(definitions)
    assert str(caught.value) == message


def test_missing_service_file(write_definitions: WriteDefinitions) -> None:
    definitions = write_definitions({"Get.json": _method()}, service_file=False)
    with pytest.raises(DefinitionError) as caught:
        _generate(definitions)
    assert str(caught.value) == (
        'definitions/Shop/_service.json: /: missing service file; expected {"name": "/v1/<Service>", "doc": "..."}'
    )
    assert (caught.value.source, caught.value.pointer) == ("definitions/Shop/_service.json", "")


def test_service_name_must_match_its_folder(write_definitions: WriteDefinitions) -> None:
    service = {"name": "/v1/Store", "doc": "Sells things."}
    definitions = write_definitions({"_service.json": service, "Get.json": _method()}, service_file=False)
    with pytest.raises(DefinitionError) as caught:
        _generate(definitions)
    assert str(caught.value) == (
        "definitions/Shop/_service.json: /name: service name '/v1/Store' does not match its folder 'Shop'; "
        "expected '/v1/Shop'"
    )


def test_missing_meta_schema(write_definitions: WriteDefinitions) -> None:
    definitions = write_definitions({"Get.json": _method()})
    (definitions / "meta-schema.json").unlink()
    with pytest.raises(DefinitionError) as caught:
        _generate(definitions)
    assert str(caught.value) == "definitions/meta-schema.json: /: cannot read file: No such file or directory"


def test_no_service_folders(tmp_path: Path) -> None:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    shutil.copyfile(REPO / "definitions" / "meta-schema.json", definitions / "meta-schema.json")
    with pytest.raises(DefinitionError) as caught:
        _generate(definitions)
    assert str(caught.value) == (
        "definitions: /: no service folders found; expected definitions/<Service>/<Method>.json"
    )


def test_doc_ending_in_a_quote_is_rendered(write_definitions: WriteDefinitions) -> None:
    definitions = write_definitions({"Get.json": _method(doc='Says "hi"')})
    files = _generate(definitions)
    assert 'Says "hi"' in files["shop_api/shop/contract.py"]
