"""Read definitions/ from disk, validate every file, and normalise the shorthand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from codegen.errors import DefinitionError

META_SCHEMA_FILE = "meta-schema.json"
SERVICE_FILE = "_service.json"
TYPE_NAMES = ("string", "integer", "number", "boolean")


@dataclass(frozen=True)
class LoadedMethod:
    """One method file, validated and normalised."""

    name: str
    source: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class LoadedService:
    """One service folder: its _service.json and its method files, sorted by name."""

    folder: str
    source: str
    wire_path: str
    doc: str
    methods: tuple[LoadedMethod, ...]


def load_definitions(root: Path) -> tuple[LoadedService, ...]:
    """Load every service folder under root, in sorted order."""
    meta = _read_json(root / META_SCHEMA_FILE, root)
    method_validator = jsonschema.Draft202012Validator(meta)
    service_validator = jsonschema.Draft202012Validator({"$defs": meta["$defs"], "$ref": "#/$defs/service"})
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        raise DefinitionError(
            _display(root, root), "", "no service folders found; expected definitions/<Service>/<Method>.json"
        )
    return tuple(_load_service(folder, root, method_validator, service_validator) for folder in folders)


def _load_service(
    folder: Path,
    root: Path,
    method_validator: jsonschema.Draft202012Validator,
    service_validator: jsonschema.Draft202012Validator,
) -> LoadedService:
    service_path = folder / SERVICE_FILE
    if not service_path.is_file():
        raise DefinitionError(
            _display(service_path, root), "", 'missing service file; expected {"name": "/v1/<Service>", "doc": "..."}'
        )
    service = _read_json(service_path, root)
    _validate(service_validator, service, _display(service_path, root))
    expected_suffix = "/" + folder.name
    if not service["name"].endswith(expected_suffix):
        raise DefinitionError(
            _display(service_path, root),
            "/name",
            f"service name {service['name']!r} does not match its folder {folder.name!r}; expected '/v1{expected_suffix}'",
        )
    method_paths = sorted(p for p in folder.glob("*.json") if p.name != SERVICE_FILE)
    methods = []
    for path in method_paths:
        source = _display(path, root)
        if not path.stem.isidentifier() or not path.stem[0].isupper():
            raise DefinitionError(source, "", "method file names must be CapitalisedIdentifiers, e.g. Get.json")
        raw = _read_json(path, root)
        _validate(method_validator, raw, source)
        definition = _normalise_method(raw, source)
        _check_examples(definition, f"{service['name']}.{path.stem}", source)
        methods.append(LoadedMethod(name=path.stem, source=source, definition=definition))
    if not methods:
        raise DefinitionError(_display(folder, root), "", "service folder has no method files")
    return LoadedService(
        folder=folder.name,
        source=_display(folder, root),
        wire_path=service["name"],
        doc=service["doc"],
        methods=tuple(methods),
    )


def _read_json(path: Path, root: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError(_display(path, root), "", f"cannot read file: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            _display(path, root), "", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc


def _validate(validator: jsonschema.Draft202012Validator, instance: Any, source: str) -> None:
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise DefinitionError(source, _pointer(error.absolute_path), _describe(error))


def _describe(error: ValidationError) -> str:
    if error.validator == "additionalProperties":
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = sorted(schema.get("properties", {}))
        return f"{error.message}; allowed keys: {', '.join(allowed)}"
    if error.validator == "anyOf" and isinstance(error.instance, str):
        return f"unknown type {error.instance!r}; expected one of {', '.join(TYPE_NAMES)} or a schema object"
    return error.message


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _display(path: Path, root: Path) -> str:
    """Name a file as definitions/<relative path>, so messages do not depend on the checkout's location."""
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def _normalise_method(raw: dict[str, Any], source: str) -> dict[str, Any]:
    args = {name: _normalise_schema(schema, source, f"/args/{name}") for name, schema in raw["args"].items()}
    required = raw.get("required_args", [])
    for index, name in enumerate(required):
        if name not in args:
            raise DefinitionError(
                source,
                f"/required_args/{index}",
                f"required arg {name!r} is not declared in args; declared: {', '.join(args)}",
            )
    result = raw.get("result")
    return {
        **raw,
        "args": args,
        "required_args": list(required),
        "result": None if result is None else _normalise_schema(result, source, "/result"),
    }


def _normalise_schema(schema: Any, source: str, pointer: str) -> dict[str, Any]:
    """Expand the bare-type shorthand and check what the meta-schema cannot express."""
    if isinstance(schema, str):
        return {"type": schema}
    out = dict(schema)
    kind = out["type"]
    if "enum" in out and kind != "string":
        raise DefinitionError(source, pointer + "/enum", f"enum is only supported on strings, not on type {kind!r}")
    if kind == "array":
        if "items" not in out:
            raise DefinitionError(
                source, pointer, 'an array needs "items", e.g. {"type": "array", "items": {"type": "string"}}'
            )
        out["items"] = _normalise_schema(out["items"], source, pointer + "/items")
    elif "items" in out:
        raise DefinitionError(source, pointer + "/items", f'"items" only applies to arrays, not to type {kind!r}')
    if kind == "object":
        props = out.get("properties", {})
        out["properties"] = {k: _normalise_schema(v, source, f"{pointer}/properties/{k}") for k, v in props.items()}
        for index, name in enumerate(out.get("required", [])):
            if name not in props:
                raise DefinitionError(
                    source, f"{pointer}/required/{index}", f"required property {name!r} is not in properties"
                )
    elif "properties" in out or "required" in out:
        raise DefinitionError(source, pointer, f'"properties"/"required" only apply to objects, not to type {kind!r}')
    return out


def _check_examples(definition: dict[str, Any], wire_name: str, source: str) -> None:
    """Examples are shown in the docs and replayed as contract tests, so they must call this method
    with args it accepts, and show a result of the declared shape."""
    args_schema = {
        "type": "object",
        "properties": definition["args"],
        "required": definition["required_args"],
        "additionalProperties": False,
    }
    result = definition["result"]
    for number, example in enumerate(definition.get("examples", [])):
        where = f"/examples/{number}"
        commands = example["request"]["cmds"]
        for index, command in enumerate(commands):
            at = f"{where}/request/cmds/{index}"
            if command["cmd"] != wire_name:
                raise DefinitionError(
                    source, f"{at}/cmd", f"example calls {command['cmd']!r}, not this method; expected {wire_name!r}"
                )
            _check_value(args_schema, command.get("args", {}), source, f"{at}/args")
        answers = example["response"].get("resp", [])
        if len(answers) != len(commands):
            raise DefinitionError(
                source,
                f"{where}/response/resp",
                f"{len(answers)} responses for {len(commands)} commands; a frame answers each command once",
            )
        for index, answer in enumerate(answers):
            at = f"{where}/response/resp/{index}"
            if answer.get("status", 0) != 0:
                continue
            if result is None and "resp" in answer:
                raise DefinitionError(source, f"{at}/resp", "this method declares no result; leave out resp")
            if result is not None:
                if "resp" not in answer:
                    raise DefinitionError(source, at, "a successful answer of this method carries its result in resp")
                _check_value(result, answer["resp"], source, f"{at}/resp")


def _check_value(schema: dict[str, Any], value: Any, source: str, pointer: str) -> None:
    error = best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if error is not None:
        raise DefinitionError(source, pointer + _pointer(error.absolute_path), error.message)
