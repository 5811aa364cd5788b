"""The OpenAPI document is valid and says, for every method, what its definition says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from rollout_api import METHODS

from app.composition import create_app
from app.docs.openapi import NO_NUL, arg_schema, json_schema
from app.settings import Settings
from tests.helpers import make_key, migrate


@pytest.fixture(scope="module")
def document(http: TestClient) -> dict[str, Any]:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


@pytest.mark.parametrize("wire_name", sorted(METHODS))
def test_each_method_is_documented_from_its_definition(document: dict[str, Any], wire_name: str) -> None:
    spec = METHODS[wire_name]
    operation = document["paths"][wire_name]["post"]
    assert operation["tags"] == [spec.service]
    assert operation["summary"] == spec.doc
    assert spec.doc in operation["description"]
    assert operation["x-idempotency"] == spec.idempotency.value
    assert f"Idempotency: {spec.idempotency.value}." in operation["description"]
    body = operation["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"] == {name: arg_schema(arg) for name, arg in spec.definition["args"].items()}
    assert body["schema"].get("required", []) == spec.definition["required_args"]
    result = operation["responses"]["200"]["content"]["application/json"]
    if spec.result is None:
        assert result["schema"] == {"type": "null"}
    else:
        assert result["schema"] == json_schema(spec.definition["result"])
    for status in ("400", "401", "403", "404", "413", "415", "500", "501", "503", "504"):
        error = operation["responses"][status]["content"]["application/json"]
        assert error["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        assert error["example"]["status"] == int(status)


def test_every_status_a_route_can_answer_is_documented(document: dict[str, Any]) -> None:
    """What the RPC routes answer besides 200 (schemathesis's status_code_conformance holds the server to it):
    415 for a body not sent as JSON and 503 when busy on every route, 409 where a method changes state."""
    frame = document["paths"]["/v1"]["post"]["responses"]
    assert set(frame) == {"200", "400", "401", "403", "413", "415", "500", "503"}
    for wire_name, spec in METHODS.items():
        answers = set(document["paths"][wire_name]["post"]["responses"])
        conflicts = set() if spec.readonly else {"409"}
        expected = {"200", "400", "401", "403", "404", "413", "415", "500", "501", "503", "504"}
        assert answers == expected | conflicts, wire_name


def test_request_text_excludes_nul(document: dict[str, Any]) -> None:
    """The server refuses a body with NUL anywhere in its text (400): every request string says so, the frame's
    free-form args too, so schemathesis generates no such body as valid."""
    schemas = document["components"]["schemas"]
    for wire_name in METHODS:
        body = document["paths"][wire_name]["post"]["requestBody"]["content"]["application/json"]["schema"]
        for name, arg in body["properties"].items():
            if arg.get("type") == "string" and "enum" not in arg:
                for text in ("a\x00b", "a=b\x00c", "1\x002"):
                    assert re.search(arg["pattern"], text) is None, (wire_name, name, text)
    frame = schemas["RequestFrame"]["properties"]
    for name in ("src", "dst", "key"):
        assert frame[name]["anyOf"][0] == {"type": "string", "pattern": NO_NUL}
    assert schemas["Command"]["properties"]["cmd"]["pattern"] == NO_NUL
    args = schemas["Command"]["properties"]["args"]
    assert args["propertyNames"] == {"pattern": NO_NUL}
    assert args["additionalProperties"] == {"$ref": "#/components/schemas/JsonValue"}
    value = schemas["JsonValue"]
    assert (value["pattern"], value["propertyNames"]) == (NO_NUL, {"pattern": NO_NUL})
    assert value["items"] == value["additionalProperties"] == {"$ref": "#/components/schemas/JsonValue"}


@pytest.mark.parametrize("wire_name", sorted(METHODS))
def test_each_method_shows_its_definitions_example(document: dict[str, Any], wire_name: str) -> None:
    spec = METHODS[wire_name]
    if not spec.examples:
        pytest.skip(f"{wire_name} has no example in its definition (examples are optional)")
    operation = document["paths"][wire_name]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    seed_args = spec.examples[0]["request"]["cmds"][0]["args"]
    # As "Try it out" can send it on a fresh database: rollout 1, the one the example Create makes.
    assert body["example"] == {**seed_args, **({"rolloutid": "1"} if "rolloutid" in seed_args else {})}
    if spec.result is not None:
        result = operation["responses"]["200"]["content"]["application/json"]
        assert result["example"] == spec.examples[0]["response"]["resp"][0]["resp"]


def test_frame_endpoint_documents_frames_with_the_seed_create_example(document: dict[str, Any]) -> None:
    operation = document["paths"]["/v1"]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/RequestFrame"}
    first_name, first = next(iter(body["examples"].items()))
    assert first_name == "Rollout.Create"
    seed = METHODS["/v1/Rollout.Create"].examples[0]["request"]
    # Without the seed's src, which only the seed's own key may send: the server fills in the caller's address.
    assert first["value"] == {key: value for key, value in seed.items() if key != "src"}
    # One example frame per method that has an example in its definition.
    assert set(body["examples"]) == {f"{s.service}.{s.method}" for s in METHODS.values() if s.examples}
    schemas = document["components"]["schemas"]
    assert {"RequestFrame", "Command", "ResponseFrame", "Response", "ErrorBody"} <= set(schemas)
    # A command that is not valid is answered in its own entry, not refused with the frame: as far as HTTP goes,
    # an item may be any JSON value (without NUL); Command says what it should be.
    assert schemas["RequestFrame"]["properties"]["cmds"]["items"] == {
        "anyOf": [{"$ref": "#/components/schemas/Command"}, {"$ref": "#/components/schemas/JsonValue"}]
    }


def test_docs_pages_use_only_local_assets(http: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = http.get(page).text
        assert "cdn." not in html
        assert "/docs-assets/" in html
    bundle = http.get("/docs-assets/redoc-offline.js").text
    assert "cdn.redoc.ly" not in bundle
    assert http.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_shared_types_are_named_component_schemas(document: dict[str, Any]) -> None:
    """One type is one schema: external generators make Rollout, Device and the state enums from them."""
    schemas = document["components"]["schemas"]
    assert schemas["RolloutState"]["enum"] == ["init", "inProgress", "paused", "finished"]
    assert schemas["DeviceState"]["enum"] == ["init", "started", "succeeded", "failed"]
    rollout = schemas["Rollout"]
    seed = {"id", "state", "firmwareid", "deviceFilter"}
    assert set(rollout["required"]) == seed | {"counts", "total", "createdAt", "updatedAt", "autoFinish"}
    assert rollout["properties"]["counts"] == {
        "$ref": "#/components/schemas/DeviceCounts",
        "description": rollout["properties"]["counts"]["description"],
    }
    assert rollout["properties"]["state"] == {
        "$ref": "#/components/schemas/RolloutState",
        "description": "Where the rollout is.",
    }
    assert set(schemas["Device"]["required"]) == {"id", "state", "updatedAt"}
    assert schemas["Event"]["properties"]["at"] == {
        "type": "string",
        "format": "date-time",
        "description": "When it happened (RFC 3339, UTC).",
    }

    def result(method: str) -> Any:
        return document["paths"][f"/v1/Rollout.{method}"]["post"]["responses"]["200"]["content"]["application/json"]

    def arg(method: str, name: str) -> Any:
        body = document["paths"][f"/v1/Rollout.{method}"]["post"]["requestBody"]["content"]["application/json"]
        return body["schema"]["properties"][name]

    # An inline object argument refuses unknown fields in the docs, as the server does.
    threshold = arg("Create", "failureThreshold")
    assert threshold["additionalProperties"] is False
    assert threshold["properties"]["percent"]["exclusiveMinimum"] == 0

    assert result("Get")["schema"]["$ref"] == "#/components/schemas/Rollout"
    assert result("List")["schema"]["items"] == {"$ref": "#/components/schemas/Rollout"}
    assert result("ListDevices")["schema"]["items"] == {"$ref": "#/components/schemas/Device"}
    assert arg("SetState", "state")["$ref"] == "#/components/schemas/RolloutState"
    assert arg("List", "state")["$ref"] == "#/components/schemas/RolloutState"
    assert arg("SetDeviceState", "state")["$ref"] == "#/components/schemas/DeviceState"
    # What the docs promise is what the server checks (schemathesis found plain strings documented here before).
    assert (
        arg("Create", "deviceFilter")["pattern"]
        == METHODS["/v1/Rollout.Create"].definition["args"]["deviceFilter"]["pattern"]
    )


def test_schema_features_are_rendered_as_openapi_3_1() -> None:
    """nullable, default, format, pattern, maps and deprecated say in the docs what the models check; a plain
    string excludes NUL, which the server refuses in any body."""
    shared = {"Level": {"type": "integer", "enum": [1, 2]}}
    level = {"title": "Level", "type": "integer", "enum": [1, 2]}
    assert json_schema({"doc": "A note.", "type": "string", "nullable": True, "deprecated": True}, shared) == {
        "description": "A note.",
        "type": ["string", "null"],
        "deprecated": True,
        "pattern": NO_NUL,
    }
    assert json_schema({**level, "nullable": True, "default": 1, "doc": "How bad."}, shared) == {
        "anyOf": [{"$ref": "#/components/schemas/Level", "default": 1, "description": "How bad."}, {"type": "null"}]
    }
    when = {"type": "string", "format": "date-time", "pattern": "Z$"}
    assert json_schema(when, shared) == when
    labels = {"type": "object", "additionalProperties": {"doc": "A label.", "type": "string"}}
    assert json_schema(labels, shared) == {
        "type": "object",
        "additionalProperties": {"description": "A label.", "type": "string", "pattern": NO_NUL},
    }
    # A property may be called "doc" or "title": only schema keywords are translated.
    record = {"type": "object", "properties": {"doc": {"type": "string"}, "title": level}}
    assert json_schema(record, shared) == {
        "type": "object",
        "properties": {"doc": {"type": "string", "pattern": NO_NUL}, "title": {"$ref": "#/components/schemas/Level"}},
    }


def test_try_it_out_works_with_the_admin_key_on_a_fresh_database(tmp_path: Path) -> None:
    """The docs' default bodies, sent as they stand: the frame example, then each method's, Create first."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    key = make_key(url, principal="//admin", role="admin")
    application = create_app(Settings(database_url=url))
    try:
        with TestClient(application, headers={"Authorization": f"Bearer {key}"}) as client:
            document = client.get("/openapi.json").json()
            frames = document["paths"]["/v1"]["post"]["requestBody"]["content"]["application/json"]["examples"]
            framed = client.post("/v1", json=frames["Rollout.Create"]["value"])
            assert framed.status_code == 200, framed.text
            assert [entry["status"] for entry in framed.json()["resp"]] == [0]
            for wire_name in (
                "/v1/Rollout.Create",
                "/v1/Rollout.Get",
                "/v1/Rollout.AddDevices",
                "/v1/Rollout.ListDevices",
            ):
                body = document["paths"][wire_name]["post"]["requestBody"]["content"]["application/json"]["example"]
                answered = client.post(wire_name, json=body)
                assert answered.status_code == 200, (wire_name, answered.text)
    finally:
        application.state.engine.dispose()
