"""The OpenAPI document, derived from the definitions: one operation per method plus the frame endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from rollout_api.envelope import ErrorBody, RequestFrame, ResponseFrame
from rollout_api.methods import TYPES
from rollout_api.spec import Idempotency, MethodSpec

_REF = "#/components/schemas/{model}"
# The frame the docs show first for POST /v1: the seed document's Create.
FRAME_EXAMPLE = "/v1/Rollout.Create"
FRAME_DOC = (
    'Send a Clubby v1 frame: `{"v": 1, "src", "dst", "key", "cmds": [{"cmd", "id", "args"}]}`. '
    "Commands run in order, each succeeding or failing on its own; the answer has one response per command."
)
_ERRORS = {
    "400": "Malformed body, or an invalid or unknown argument.",
    "401": "No API key, or an invalid or revoked one.",
    "403": "The caller's role may not call this method.",
    "404": "No such object in that project.",
    "409": "Conflict with the object's current state (illegal transition, already finished).",
    "413": "Body, command list or argument too large.",
    "415": "The body is not sent as Content-Type: application/json.",
    "500": "Internal error; status_msg carries the request id to look up in the server log.",
    "501": "Defined but not implemented by this server.",
    "503": "The server is busy (no database connection free in time, or the caller's share of streamed answers "
    "is in use): try again.",
    "504": "Deadline passed before the command ran.",
}
# What POST /v1 answers besides 200: the frame as a whole is refused (each command's own errors are entries).
_FRAME_ERRORS = {
    "400": "The body is not JSON or not a frame.",
    "401": "No API key, or an invalid or revoked one.",
    "403": "The frame's src is not the caller's own address.",
    "413": "Body or command list too large.",
    "415": _ERRORS["415"],
    "500": _ERRORS["500"],
    "503": _ERRORS["503"],
}
# Text in this API never holds NUL (U+0000): the server refuses a body with one anywhere (400) and so never stores
# or answers one. Every string of the definitions says so; one with a pattern of its own excludes NUL in it.
NO_NUL = "^[^\\x00]*$"

# What each idempotency level means for a caller, appended to the operation's description.
_IDEMPOTENCY_DOC = {
    Idempotency.NO_SIDE_EFFECTS: "Idempotency: no_side_effects. It changes nothing; the client retries it after "
    "a connection failure.",
    Idempotency.IDEMPOTENT: "Idempotency: idempotent. Calling it again has the effect of calling it once, though "
    "the answer may differ; the client retries it after a connection failure.",
    Idempotency.NONE: "Idempotency: none. Calling it again may apply it again; the client retries it only when "
    "the connection could not be made.",
}


def json_schema(schema: Mapping[str, Any], types: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A normalised definition schema as OpenAPI 3.1 JSON Schema: `doc` becomes `description`, `nullable` a
    "null" alternative, a string without a pattern of its own the NO_NUL pattern, and a shared type (marked by
    its title) a $ref to its named component schema, with what this use says differently (its own doc, a
    default) beside the $ref."""
    known = TYPES if types is None else types
    title = schema.get("title")
    if isinstance(title, str) and title in known:
        shared = known[title]
        out: dict[str, Any] = {"$ref": _REF.format(model=title)}
        for key, value in schema.items():
            if key not in ("title", "nullable") and shared.get(key) != value:
                out["description" if key == "doc" else key] = value
        return {"anyOf": [out, {"type": "null"}]} if schema.get("nullable") else out
    out = {}
    for key, value in schema.items():
        if key in ("title", "nullable"):
            continue
        if key == "doc":
            out["description"] = value
        elif key == "properties":
            out[key] = {name: json_schema(item, known) for name, item in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = json_schema(value, known)
        else:
            out[key] = value
    _exclude_nul(out)
    if schema.get("nullable"):
        out["type"] = [out["type"], "null"]
    return out


def component_schemas(types: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Each shared type as a named component schema, so that one type is one class in generated clients."""
    return {name: json_schema(schema, types) for name, schema in types.items()}


def args_schema(spec: MethodSpec[Any, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: arg_schema(arg) for name, arg in spec.definition["args"].items()},
        "additionalProperties": False,
    }
    if spec.definition["required_args"]:
        schema["required"] = list(spec.definition["required_args"])
    return schema


def arg_schema(arg: Mapping[str, Any]) -> dict[str, Any]:
    """One argument's schema: its inline objects refuse unknown fields, as the generated args models do."""
    return _closed(json_schema(arg))


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """additionalProperties false on every inline object (the generated args models have extra="forbid")."""
    if "properties" in schema:
        schema.setdefault("additionalProperties", False)
        for item in schema["properties"].values():
            _closed(item)
    if isinstance(schema.get("items"), dict):
        _closed(schema["items"])
    return schema


def method_operation(spec: MethodSpec[Any, Any]) -> dict[str, Any]:
    """openapi_extra for POST /v1/Service.Method: body, result and error responses, with the seed's example."""
    body: dict[str, Any] = {"schema": args_schema(spec)}
    result: dict[str, Any] = {"schema": json_schema(spec.definition["result"]) if spec.result else {"type": "null"}}
    if spec.examples:
        example = spec.examples[0]
        body["example"] = _tryable_args(example["request"]["cmds"][0].get("args", {}))
        answer = example["response"]["resp"][0]
        result["example"] = answer.get("resp")
    errors = {code: _error_response(code, text) for code, text in _ERRORS.items()}
    if spec.readonly:
        del errors["409"]
    deprecated = {"deprecated": True} if spec.deprecated else {}
    return {
        **deprecated,
        "x-idempotency": spec.idempotency.value,
        "requestBody": {"required": True, "content": {"application/json": body}},
        "responses": {
            "200": {
                "description": "The method's result (null for methods without one).",
                "content": {"application/json": result},
            },
            **errors,
        },
    }


# "Try it out" sends the example as it stands: it should work with the admin key on a fresh database. The seed's
# frames carry the seed's own `src` (any other key's address is refused, 403) and rollout id 123 (which a fresh
# database does not have); the docs show them without `src` (the server fills in the key's own address) and
# with rollout 1, the id the example Create makes first.
_FIRST_ROLLOUT = "1"


def _tryable_args(args: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _FIRST_ROLLOUT if name == "rolloutid" else value for name, value in args.items()}


def _tryable_frame(frame: Mapping[str, Any]) -> dict[str, Any]:
    commands = [{**command, "args": _tryable_args(command.get("args", {}))} for command in frame.get("cmds", [])]
    return {**{key: value for key, value in frame.items() if key != "src"}, "cmds": commands}


def frame_operation(methods: Mapping[str, MethodSpec[Any, Any]], first_example: str) -> dict[str, Any]:
    """openapi_extra for POST /v1: the frame schemas, with every method's example frame (first_example first)."""
    ordered = sorted(methods.values(), key=lambda spec: spec.wire_name != first_example)
    requests = {
        f"{s.service}.{s.method}": {"value": _tryable_frame(s.examples[0]["request"])} for s in ordered if s.examples
    }
    responses = {f"{s.service}.{s.method}": {"value": s.examples[0]["response"]} for s in ordered if s.examples}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model="RequestFrame")}, "examples": requests}
            },
        },
        "responses": {
            "200": {
                "description": "One response per command, in order.",
                "content": {
                    "application/json": {"schema": {"$ref": _REF.format(model="ResponseFrame")}, "examples": responses}
                },
            },
            **{code: _error_response(code, text) for code, text in _FRAME_ERRORS.items()},
        },
    }


def openapi_builder(
    app: FastAPI, methods: Mapping[str, MethodSpec[Any, Any]], services: Mapping[str, str]
) -> Callable[[], dict[str, Any]]:
    """app.docs.openapi replacement: the RPC routes from the method table, then FastAPI's own routes."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            tags = [{"name": "Envelope", "description": FRAME_DOC}]
            tags += [{"name": name, "description": doc} for name, doc in services.items()]
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes, tags=tags
            )
            document["paths"] = {**rpc_paths(methods), **document.get("paths", {})}
            components = document.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            for model in (RequestFrame, ResponseFrame, ErrorBody):
                schemas.update(_component(model))
            schemas.update(request_frame_schemas(schemas["RequestFrame"], schemas["Command"]))
            schemas.update(component_schemas(TYPES))
            components["securitySchemes"] = {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `nox -s keys -- create` (or the one the first start printed).",
                }
            }
            document["security"] = [{"apiKey": []}]
            app.openapi_schema = document
        return app.openapi_schema

    return build


def rpc_paths(methods: Mapping[str, MethodSpec[Any, Any]]) -> dict[str, Any]:
    """POST /v1 and one POST operation per method, in the method table's order."""
    frame = {
        "tags": ["Envelope"],
        "summary": "Send a frame of commands",
        "description": FRAME_DOC,
        "operationId": "frame",
        **frame_operation(methods, first_example=FRAME_EXAMPLE),
    }
    paths: dict[str, Any] = {"/v1": {"post": frame}}
    for spec in methods.values():
        operation = {
            "tags": [spec.service],
            "summary": spec.doc,
            "description": f"`{spec.service}.{spec.method}`: {spec.doc}\n\n{_IDEMPOTENCY_DOC[spec.idempotency]}",
            "operationId": f"{spec.service}_{spec.method}",
            **method_operation(spec),
        }
        paths[spec.wire_name] = {"post": operation}
    return paths


def request_frame_schemas(frame: Mapping[str, Any], command: Mapping[str, Any]) -> dict[str, Any]:
    """RequestFrame and Command as the server takes them, and the JsonValue they use.

    A frame is refused whole (400) when its envelope is wrong or any text in it holds NUL; a command that is
    not a valid Command is answered in its own response entry and the frame is still taken. So the frame's
    strings and args exclude NUL, and an item of `cmds` is a Command or, as far as HTTP goes, any JSON value."""
    json_value = {"$ref": _REF.format(model="JsonValue")}
    no_nul_keys: dict[str, Any] = {"propertyNames": {"pattern": NO_NUL}, "additionalProperties": json_value}
    # No `type` and no anyOf: each keyword applies to its own kind of value, and this form (unlike a union
    # with a recursive array in it) is one that openapi-python-client reads.
    value = {
        "description": "Any JSON value in which no text, object keys included, holds NUL (U+0000).",
        "pattern": NO_NUL,
        "items": json_value,
        **no_nul_keys,
    }
    frame_out = _no_nul_strings(frame)
    cmds = frame_out["properties"]["cmds"]
    cmds["description"] += (
        " An item that is not a valid Command is answered in its own response entry (status 400); the other "
        "commands still run."
    )
    cmds["items"] = {"anyOf": [cmds["items"], json_value]}
    command_out = _no_nul_strings(command)
    command_out["properties"]["args"] = {**command_out["properties"]["args"], **no_nul_keys}
    return {"RequestFrame": frame_out, "Command": command_out, "JsonValue": value}


def _no_nul_strings(schema: Any) -> Any:
    """A copy of a pydantic JSON schema whose plain strings (no enum, const, pattern or format) exclude NUL."""
    if isinstance(schema, list):
        return [_no_nul_strings(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {key: _no_nul_strings(value) for key, value in schema.items()}
    _exclude_nul(out)
    return out


def _exclude_nul(schema: dict[str, Any]) -> None:
    """Give a plain string schema (no enum, const, pattern or format of its own) the NO_NUL pattern."""
    if schema.get("type") == "string" and not {"enum", "const", "pattern", "format"} & schema.keys():
        schema["pattern"] = NO_NUL


def _error_response(code: str, description: str) -> dict[str, Any]:
    body = {
        "schema": {"$ref": _REF.format(model="ErrorBody")},
        "example": {"status": int(code), "status_msg": description},
    }
    return {"description": description, "content": {"application/json": body}}


def _component(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {**nested, model.__name__: schema}
