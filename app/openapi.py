"""OpenAPI pieces derived from the definitions: request and response schemas of each method."""

from __future__ import annotations

from typing import Any

from rollout_api.spec import MethodSpec


def json_schema(definition_schema: Any) -> Any:
    """A definition schema as standard JSON Schema: `doc` becomes `description`."""
    if isinstance(definition_schema, dict):
        return {("description" if k == "doc" else k): json_schema(v) for k, v in definition_schema.items()}
    if isinstance(definition_schema, list):
        return [json_schema(v) for v in definition_schema]
    return definition_schema


def args_schema(spec: MethodSpec[Any, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": json_schema(spec.definition["args"]),
        "additionalProperties": False,
    }
    if spec.definition["required_args"]:
        schema["required"] = list(spec.definition["required_args"])
    return schema


def error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"status": {"type": "integer"}, "status_msg": {"type": "string"}},
        "required": ["status", "status_msg"],
    }


def method_operation(spec: MethodSpec[Any, Any]) -> dict[str, Any]:
    """openapi_extra for POST /v1/Service.Method: body, result and error responses."""
    body: dict[str, Any] = {"schema": args_schema(spec)}
    result: dict[str, Any] = {"schema": json_schema(spec.definition["result"]) if spec.result else {"type": "null"}}
    if spec.examples:
        example = spec.examples[0]
        body["example"] = example["request"]["cmds"][0].get("args", {})
        if spec.result is not None and "resp" in example["response"]["resp"][0]:
            result["example"] = example["response"]["resp"][0]["resp"]
    error = {"content": {"application/json": {"schema": error_schema()}}}
    return {
        "requestBody": {"required": True, "content": {"application/json": body}},
        "responses": {
            "200": {"description": "The method's result.", "content": {"application/json": result}},
            "400": {"description": "Invalid or unknown argument.", **error},
            "404": {"description": "No such object in that project.", **error},
            "409": {"description": "Conflict with the object's current state.", **error},
            "500": {"description": "Internal error.", **error},
        },
    }
