"""Check and normalise the schemas inside definitions: what the meta-schema cannot say, in plain words.

The meta-schema checks shapes; this module turns its errors into messages that say what would be right,
checks what it cannot express (limits that contradict each other, keywords on the wrong type, defaults that
break their own schema), and resolves `$ref`s to the service's shared types in `_types.json`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from codegen.errors import Problems

TYPE_NAMES = ("string", "integer", "number", "boolean")
FORMATS = ("date-time",)
TYPES_FILE = "_types.json"
_REF_PREFIX = TYPES_FILE + "#/$defs/"
_LOCAL_REF_PREFIX = "#/$defs/"
# What may stand beside a $ref: things about this use of the type, not about the type.
_REF_SIBLINGS = ("doc", "deprecated", "nullable", "default")
_ALTERNATIVES = "not supported; use an enum for alternative values, or optional fields for alternative shapes"
# JSON Schema keywords the format does not take, with what to write instead.
_UNSUPPORTED = {
    "oneOf": _ALTERNATIVES,
    "anyOf": _ALTERNATIVES,
    "allOf": "not supported; write the combined object out, or share it as a type in _types.json",
    "not": "not supported; describe the allowed values with enum or pattern",
    "if": "not supported; check conditional rules in the handler",
    "const": 'not supported; use an enum with one value, e.g. "enum": ["v1"]',
    "multipleOf": "not supported; check it in the handler",
    "uniqueItems": "not supported; check it in the handler",
    "description": 'not supported; write "doc"',
    "title": 'not supported; write "doc" (a shared type takes its name from its key in _types.json)',
    "$defs": 'not supported here; put shared types in _types.json under "$defs" and refer to them '
    'with {"$ref": "_types.json#/$defs/<Name>"}',
    "definitions": 'not supported; put shared types in _types.json under "$defs" and refer to them '
    'with {"$ref": "_types.json#/$defs/<Name>"}',
    "examples": 'not supported on a schema; put example frames in the method\'s "examples"',
    "patternProperties": 'not supported; use "additionalProperties" with a value schema for a map',
    "propertyNames": 'not supported; use "additionalProperties" with a value schema for a map',
    "prefixItems": 'not supported; use "items" (every item has one schema)',
    "x-nullable": 'not supported; write "nullable": true',
    "optional": "not supported; an argument is optional unless listed in required_args, "
    'a property unless listed in "required"',
}
# Method keys the format no longer takes, with what replaced them.
_REPLACED_METHOD_KEYS = {
    "readonly": 'readonly is replaced by idempotency: write "idempotency": "no_side_effects" (or false → leave it out)',
}
# Which keywords belong to which types, for "minLength applies to strings" messages.
_KEYWORD_TYPES = {
    "minLength": ("string",),
    "maxLength": ("string",),
    "pattern": ("string",),
    "format": ("string",),
    "minimum": ("integer", "number"),
    "maximum": ("integer", "number"),
    "exclusiveMinimum": ("integer", "number"),
    "exclusiveMaximum": ("integer", "number"),
    "minItems": ("array",),
    "maxItems": ("array",),
    "items": ("array",),
    "properties": ("object",),
    "required": ("object",),
    "additionalProperties": ("object",),
    "enum": ("string", "integer"),
}
_LIMIT_PAIRS = (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems"))


def pointer_of(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def describe(error: ValidationError) -> list[tuple[str, str]]:
    """A meta-schema error as (JSON pointer, message that says what would be right), one per place."""
    pointer = pointer_of(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = sorted(schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in allowed:
                continue
            where = f"{pointer}/{pointer_of([key])[1:]}"
            if key in _UNSUPPORTED and "type" in allowed:
                out.append((where, f"{key!r} is {_UNSUPPORTED[key]}"))
                continue
            if key in _REPLACED_METHOD_KEYS and "required_args" in allowed:
                out.append((where, _REPLACED_METHOD_KEYS[key]))
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            out.append((where, f"unexpected key {key!r}; {hint}allowed keys: {', '.join(allowed)}"))
        return out
    if error.validator == "anyOf" and error.context:
        if isinstance(error.instance, str):
            return [
                (
                    pointer,
                    f"unknown type {error.instance!r}; expected one of {', '.join(TYPE_NAMES)} or a schema object",
                )
            ]
        if isinstance(error.instance, dict):
            branch = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == 1]
            found = [item for e in branch for item in describe(e)]
            if found:
                return found
        return [(pointer, f"must be a type name ({', '.join(TYPE_NAMES)}) or a schema object, got {error.instance!r}")]
    if error.validator == "enum" and error.path and error.path[-1] == "type" and isinstance(error.instance, list):
        return [(pointer, 'one type name per schema; for "may be null" write "nullable": true')]
    if error.validator == "enum" and error.path and error.path[-1] == "format":
        return [
            (
                pointer,
                f"format {error.instance!r} is not supported; supported: {', '.join(FORMATS)} "
                '(use "pattern" for other string shapes)',
            )
        ]
    return [(pointer, error.message)]


class TypeRegistry:
    """The shared types of one service (`_types.json`'s `$defs`), resolved on first use."""

    def __init__(self, source: str, raw: dict[str, Any]) -> None:
        self.source = source
        self._raw = raw
        self._resolved: dict[str, dict[str, Any]] = {}
        self._resolving: list[str] = []
        self._broken: set[str] = set()  # reported once; later uses stay quiet

    @property
    def names(self) -> list[str]:
        return list(self._raw)

    def resolve_all(self, problems: Problems) -> dict[str, dict[str, Any]]:
        for name in self._raw:
            self.resolve(name, problems)
        return {name: self._resolved[name] for name in self._raw if name in self._resolved}

    def resolve(self, name: str, problems: Problems) -> dict[str, Any] | None:
        """The type's normalised schema, titled with its name; None when it is broken (already reported)."""
        if name in self._resolved:
            return self._resolved[name]
        if name in self._broken:
            return None
        if name in self._resolving:
            cycle = " -> ".join([*self._resolving[self._resolving.index(name) :], name])
            problems.add(self.source, f"/$defs/{name}", f"recursive types are not supported ({cycle})")
            return None
        self._resolving.append(name)
        try:
            before = len(problems)
            schema = SchemaChecker(self.source, self, problems).schema(self._raw[name], f"/$defs/{name}")
        finally:
            self._resolving.pop()
        if len(problems) != before:
            self._broken.add(name)
            return None
        titled = {"title": name, **schema}
        self._resolved[name] = titled
        return titled


class SchemaChecker:
    """Normalises the schemas of one file, reporting every problem to `problems`."""

    def __init__(self, source: str, registry: TypeRegistry, problems: Problems) -> None:
        self._source = source
        self._registry = registry
        self._problems = problems

    def schema(self, raw: Any, pointer: str) -> dict[str, Any]:
        """The normalised schema: shorthand expanded, shared types resolved inline (marked by "title")."""
        if isinstance(raw, str):
            return {"type": raw}
        if "$ref" in raw:
            return self._reference(raw, pointer)
        out = dict(raw)
        kind = out.get("type")
        if kind is None:
            self._error(
                pointer, f'a schema needs "type" (one of {", ".join((*TYPE_NAMES, "array", "object"))}) or a "$ref"'
            )
            return out
        for keyword, kinds in _KEYWORD_TYPES.items():
            if keyword in out and kind not in kinds:
                self._error(pointer + "/" + keyword, _wrong_type(keyword, kinds, kind))
        if kind == "array":
            if "items" not in out:
                self._error(pointer, 'an array needs "items", e.g. {"type": "array", "items": {"type": "string"}}')
            else:
                out["items"] = self.schema(out["items"], pointer + "/items")
        if kind == "object":
            self._object(out, pointer)
        self._enum(out, pointer)
        self._limits(out, pointer)
        if "pattern" in out:
            try:
                re.compile(out["pattern"])
            except re.error as exc:
                self._error(pointer + "/pattern", f"not a valid regular expression: {exc}")
        self._default(out, pointer)
        return out

    def _reference(self, raw: dict[str, Any], pointer: str) -> dict[str, Any]:
        ref = raw["$ref"]
        for key in raw:
            if key not in ("$ref", *_REF_SIBLINGS):
                self._error(
                    f"{pointer}/{key}",
                    f"{key!r} cannot stand beside $ref (only {', '.join(_REF_SIBLINGS)} can); "
                    "change the shared type instead, or make a new one",
                )
        name = None
        if ref.startswith(_REF_PREFIX):
            name = ref.removeprefix(_REF_PREFIX)
        elif ref.startswith(_LOCAL_REF_PREFIX) and self._source == self._registry.source:
            name = ref.removeprefix(_LOCAL_REF_PREFIX)
        known = ", ".join(self._registry.names) or f"none yet: add them to {self._registry.source}"
        if name is None:
            self._error(
                pointer + "/$ref",
                f"unsupported reference {ref!r}; refer to a shared type as '{_REF_PREFIX}<Name>' (defined: {known})",
            )
            return {"type": "object"}
        if name not in self._registry.names:
            close = difflib.get_close_matches(name, self._registry.names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            self._error(
                pointer + "/$ref", f"no shared type {name!r} in {self._registry.source}; {hint}defined: {known}"
            )
            return {"type": "object"}
        resolved = self._registry.resolve(name, self._problems)
        if resolved is None:
            return {"type": "object"}
        out = {**resolved, **{k: v for k, v in raw.items() if k != "$ref"}}
        self._default(out, pointer)
        return out

    def _object(self, out: dict[str, Any], pointer: str) -> None:
        props = out.get("properties", {})
        out["properties"] = {k: self.schema(v, f"{pointer}/properties/{k}") for k, v in props.items()}
        for index, name in enumerate(out.get("required", [])):
            if name not in props:
                self._error(f"{pointer}/required/{index}", f"required property {name!r} is not in properties")
        if "additionalProperties" in out:
            if props:
                self._error(
                    pointer + "/additionalProperties",
                    'an object has either "properties" (a record) or "additionalProperties" (a map), not both',
                )
            out["additionalProperties"] = self.schema(out["additionalProperties"], pointer + "/additionalProperties")

    def _enum(self, out: dict[str, Any], pointer: str) -> None:
        if "enum" not in out or out["type"] not in ("string", "integer"):
            return
        wanted = str if out["type"] == "string" else int
        for index, value in enumerate(out["enum"]):
            if not isinstance(value, wanted) or isinstance(value, bool):
                self._error(
                    f"{pointer}/enum/{index}",
                    f"enum value {value!r} is not of type {out['type']!r}; the values of an enum have its type",
                )
        if out["type"] == "string" and any(isinstance(v, str) and not v for v in out["enum"]):
            self._error(pointer + "/enum", "an enum value must not be empty")

    def _limits(self, out: dict[str, Any], pointer: str) -> None:
        for low, high in _LIMIT_PAIRS:
            if low in out and high in out and out[low] > out[high]:
                self._error(
                    f"{pointer}/{low}",
                    f"{low} {out[low]} is greater than {high} {out[high]}, so no value could pass; "
                    f"make {low} at most {high}",
                )

    def _default(self, out: dict[str, Any], pointer: str) -> None:
        if "default" not in out:
            return
        if out.get("format") == "date-time" or out.get("properties"):
            what = "a date-time" if out.get("format") == "date-time" else "an object with properties"
            self._error(
                pointer + "/default",
                f"a default is not supported for {what}; leave it out and say in the doc what a missing value means",
            )
            return
        check = to_json_schema({k: v for k, v in out.items() if k != "default"})
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(check).iter_errors(out["default"]))
        if error is not None:
            self._error(
                pointer + "/default", f"the default {out['default']!r} does not fit its own schema: {error.message}"
            )

    def _error(self, pointer: str, message: str) -> None:
        self._problems.add(self._source, pointer, message)


def _wrong_type(keyword: str, kinds: tuple[str, ...], kind: str) -> str:
    plural = " and ".join(f"{k}s" for k in kinds)
    return f'"{keyword}" applies to {plural}, not to type {kind!r}'


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A normalised definition schema as standard JSON Schema (2020-12), for checking example values:
    `nullable` becomes a "null" type, the extension keywords are dropped."""
    out = {k: v for k, v in schema.items() if k not in ("doc", "nullable", "deprecated", "title")}
    if "items" in schema:
        out["items"] = to_json_schema(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(schema["additionalProperties"])
    if "properties" in schema:
        out["properties"] = {name: to_json_schema(value) for name, value in schema["properties"].items()}
    if schema.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out
