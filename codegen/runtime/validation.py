"""Turn pydantic's validation errors into one status_msg that says where, what, and what is expected."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .errors import InvalidArgument
from .spec import ArgsT, MethodSpec

_MAX_REPORTED = 3
_EXPECTED = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


def validated_args(spec: MethodSpec[ArgsT, Any], args: Mapping[str, Any]) -> ArgsT:
    """The args of a call made from Python, checked against the definition before anything is sent:
    a bad value raises InvalidArgument with the message the server would answer."""
    try:
        return spec.args_model.model_validate(spec.args_given(args))
    except ValidationError as exc:
        raise InvalidArgument(describe_validation_error(exc, spec)) from None


def describe_validation_error(exc: ValidationError, spec: MethodSpec[Any, Any]) -> str:
    errors = _dedupe_union_branches(exc.errors(include_url=False))
    parts = [_describe(error, spec) for error in errors[:_MAX_REPORTED]]
    more = len(errors) - _MAX_REPORTED
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _describe(error: ErrorDetails, spec: MethodSpec[Any, Any]) -> str:
    where = _location(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return (
            f"{where}: required argument is missing"
            if len(error["loc"]) == 1
            else f"{where}: required field is missing"
        )
    if kind == "extra_forbidden":
        if len(error["loc"]) == 1:
            known = ", ".join(spec.definition["args"]) or "none"
            return f"{where}: unknown argument for {spec.wire_name}; known arguments: {known}"
        return f"{where}: unknown field"
    if kind == "string_too_short" and error.get("ctx", {}).get("min_length") == 1:
        return f"{where}: must not be empty"
    got = _show(error.get("input"))
    if kind == "string_pattern_mismatch":
        # The pattern alone is hard to read: the argument's doc says in words what it accepts.
        doc = _doc(spec, error["loc"])
        return f"{where}: {got} does not match the pattern {error.get('ctx', {}).get('pattern')}" + (
            f"; {doc}" if doc else ""
        )
    if kind in _EXPECTED:
        return f"{where}: {_EXPECTED[kind]}, got {got}"
    message = error["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    return (
        f"{where}: must be {message}, got {got}"
        if error["msg"].startswith("Input should be")
        else f"{where}: {message}"
    )


def _dedupe_union_branches(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """A number field is `float | int`: report one 'must be a number' instead of one error per branch."""
    out: list[ErrorDetails] = []
    seen: set[tuple[Any, ...]] = set()
    for error in errors:
        loc = tuple(part for part in error["loc"] if part not in ("float", "int", "function-after[float]"))
        if error["type"] in ("float_type", "int_type") and len(loc) < len(error["loc"]):
            error = {**error, "loc": loc, "type": "float_type"}
        key = (loc, error["type"])
        if key not in seen:
            seen.add(key)
            out.append(error)
    return out


def _doc(spec: MethodSpec[Any, Any], loc: tuple[int | str, ...]) -> str:
    """The doc of the argument or property at loc, when the definition gives one."""
    schema: Any = {"properties": spec.definition["args"]}
    for part in loc:
        if isinstance(part, int):
            schema = schema.get("items", {})
        else:
            schema = schema.get("properties", {}).get(part) or schema.get("additionalProperties") or {}
    return str(schema.get("doc", "")) if isinstance(schema, dict) else ""


def _location(loc: tuple[int | str, ...]) -> str:
    text = "args"
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
