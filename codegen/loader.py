"""Read definitions/ from disk, validate every file, resolve shared types and normalise the shorthand.

Every problem of every file is collected, so one run reports them all (`DefinitionErrors`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from codegen.errors import DefinitionError, DefinitionErrors, Problems
from codegen.reader import read_json
from codegen.schema_check import SchemaChecker, TypeRegistry, describe, pointer_of, to_json_schema

META_SCHEMA_FILE = "meta-schema.json"
SERVICE_FILE = "_service.json"
TYPES_FILE = "_types.json"


@dataclass(frozen=True)
class LoadedMethod:
    """One method file, validated and normalised (shared types resolved inline, each marked with its title)."""

    name: str
    source: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class LoadedService:
    """One service folder: its _service.json, its shared types and its method files, sorted by name."""

    folder: str
    source: str
    wire_path: str
    doc: str
    methods: tuple[LoadedMethod, ...]
    types: dict[str, dict[str, Any]]  # shared type name -> resolved schema, in file order
    types_source: str


def load_definitions(root: Path) -> tuple[LoadedService, ...]:
    """Load every service folder under root, in sorted order; raise DefinitionErrors listing every problem."""
    problems = Problems()
    meta = read_json(root / META_SCHEMA_FILE, _display(root / META_SCHEMA_FILE, root))
    defs = meta["$defs"]
    validators = {
        name: jsonschema.Draft202012Validator({"$defs": defs, "$ref": f"#/$defs/{name}"})
        for name in ("service", "types")
    }
    validators["method"] = jsonschema.Draft202012Validator(meta)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        raise DefinitionErrors(
            [
                DefinitionError(
                    _display(root, root), "", "no service folders found; expected definitions/<Service>/<Method>.json"
                )
            ]
        )
    services = []
    for folder in folders:
        service = _load_service(folder, root, validators, problems)
        if service is not None:
            services.append(service)
    problems.raise_if_any()
    return tuple(services)


def _load_service(
    folder: Path, root: Path, validators: dict[str, jsonschema.Draft202012Validator], problems: Problems
) -> LoadedService | None:
    where = _display(folder, root)
    if not folder.name.isascii() or not folder.name.isidentifier() or not folder.name[0].isupper():
        problems.add(where, "", "service folder names must be ASCII CapitalisedIdentifiers, e.g. Rollout")
        return None
    service = _load_service_file(folder, root, validators["service"], problems)
    types_path = folder / TYPES_FILE
    types_source = _display(types_path, root)
    registry = TypeRegistry(types_source, {})
    if types_path.exists():
        raw_types = _read(types_path, root, problems)
        if raw_types is not None and _validate(validators["types"], raw_types, types_source, problems):
            registry = TypeRegistry(types_source, raw_types["$defs"])
    types = registry.resolve_all(problems)
    methods = []
    for path in sorted(p for p in folder.glob("*.json") if p.name not in (SERVICE_FILE, TYPES_FILE)):
        method = _load_method(path, root, service, registry, validators["method"], problems)
        if method is not None:
            methods.append(method)
    stray = sorted(p.name for p in folder.glob("_*.json") if p.name not in (SERVICE_FILE, TYPES_FILE))
    for name in stray:
        problems.add(
            f"{where}/{name}", "", f"unknown service file; expected {SERVICE_FILE}, {TYPES_FILE} or Method.json"
        )
    if not any(p.name not in (SERVICE_FILE, TYPES_FILE) for p in folder.glob("*.json")):
        problems.add(where, "", "service folder has no method files")
    if service is None:
        return None
    return LoadedService(
        folder=folder.name,
        source=where,
        wire_path=service["name"],
        doc=service["doc"],
        methods=tuple(methods),
        types=types,
        types_source=types_source,
    )


def _load_service_file(
    folder: Path, root: Path, validator: jsonschema.Draft202012Validator, problems: Problems
) -> dict[str, Any] | None:
    path = folder / SERVICE_FILE
    source = _display(path, root)
    if not path.is_file():
        problems.add(source, "", 'missing service file; expected {"name": "/v1/<Service>", "doc": "..."}')
        return None
    service = _read(path, root, problems)
    if service is None or not _validate(validator, service, source, problems):
        return None
    expected_suffix = "/" + folder.name
    if not service["name"].endswith(expected_suffix):
        problems.add(
            source,
            "/name",
            f"service name {service['name']!r} does not match its folder {folder.name!r}; expected '/v1{expected_suffix}'",
        )
        return None
    return dict(service)


def _load_method(
    path: Path,
    root: Path,
    service: dict[str, Any] | None,
    registry: TypeRegistry,
    validator: jsonschema.Draft202012Validator,
    problems: Problems,
) -> LoadedMethod | None:
    source = _display(path, root)
    if not path.stem.isascii() or not path.stem.isidentifier() or not path.stem[0].isupper():
        problems.add(
            source, "", "method file names must be ASCII CapitalisedIdentifiers (letters, digits, _), e.g. Get.json"
        )
        return None
    raw = _read(path, root, problems)
    if raw is None or not _validate(validator, raw, source, problems):
        return None
    checker = SchemaChecker(source, registry, problems)
    definition = _normalise_method(raw, source, checker, problems)
    if definition is None:
        return None
    definition["scope"] = _scope(definition, service, source, problems)
    if service is not None:
        _check_examples(definition, f"{service['name']}.{path.stem}", source, problems)
    return LoadedMethod(name=path.stem, source=source, definition=definition)


def _scope(
    definition: dict[str, Any], service: dict[str, Any] | None, source: str, problems: Problems
) -> dict[str, str] | None:
    """The method's effective scope: the service's argument and 404 message, the method's own message, or none.

    A method is scoped when the service declares a scope and the method has its argument (unless it says
    "scope": false); the argument must then be required, or the dispatcher could not check it."""
    own = definition.get("scope")
    declared = (service or {}).get("scope")
    if own is False:
        return None
    if declared is None:
        if own is not None:
            problems.add(
                source,
                "/scope",
                'the service declares no scope: add {"arg": ..., "notFound": ...} to its _service.json',
            )
        return None
    arg = declared["arg"]
    if arg not in definition["args"]:
        if own is not None:
            problems.add(source, "/scope", f"the service scopes methods by {arg!r}, which this method does not take")
        return None
    if arg not in definition["required_args"]:
        problems.add(
            source,
            f"/args/{arg}",
            f"the service scopes methods by {arg!r}, which is optional here: make it required, or say "
            '"scope": false and filter by the caller\'s reach in the handler',
        )
        return None
    message = (own or declared)["notFound"]
    pointer = "/scope/notFound" if own else "/scope"
    for name in re.findall(r"\{([^{}]*)\}", message):
        if name not in definition["args"]:
            problems.add(
                source,
                pointer,
                f"the 404 message names {{{name}}}, which is not an argument of this method; "
                f"arguments: {', '.join(definition['args'])}",
            )
    return {"arg": arg, "notFound": message}


def _read(path: Path, root: Path, problems: Problems) -> Any:
    try:
        return read_json(path, _display(path, root))
    except DefinitionErrors as exc:
        problems.extend(exc.errors)
        return None


def _validate(validator: jsonschema.Draft202012Validator, instance: Any, source: str, problems: Problems) -> bool:
    """Report every place the file breaks the meta-schema (one message per place); True when it passes."""
    reported: set[str] = set()
    for error in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]):
        for pointer, message in describe(error):
            if pointer not in reported:
                reported.add(pointer)
                problems.add(source, pointer, message)
    return not reported


def _display(path: Path, root: Path) -> str:
    """Name a file as definitions/<relative path>, so messages do not depend on the checkout's location."""
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def _normalise_method(
    raw: dict[str, Any], source: str, checker: SchemaChecker, problems: Problems
) -> dict[str, Any] | None:
    before = len(problems)
    args = {name: checker.schema(schema, f"/args/{name}") for name, schema in raw["args"].items()}
    required = raw.get("required_args", [])
    for index, name in enumerate(required):
        if name not in args:
            problems.add(
                source,
                f"/required_args/{index}",
                f"required arg {name!r} is not declared in args; declared: {', '.join(args) or 'none'}",
            )
    for name, schema in args.items():
        if name in required and "default" in schema:
            problems.add(source, f"/args/{name}/default", "a required argument cannot have a default; drop one")
    result = raw.get("result")
    if raw.get("batch") and result is not None and result.get("type") == "array":
        problems.add(
            source, "/batch", "a method whose result is an array cannot be batched (its items stream); drop batch"
        )
    normalised = {
        **raw,
        "args": args,
        "required_args": list(required),
        "result": None if result is None else checker.schema(result, "/result"),
    }
    return normalised if len(problems) == before else None


def _check_examples(definition: dict[str, Any], wire_name: str, source: str, problems: Problems) -> None:
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
                problems.add(
                    source, f"{at}/cmd", f"example calls {command['cmd']!r}, not this method; expected {wire_name!r}"
                )
                continue
            _check_value(args_schema, command.get("args", {}), source, f"{at}/args", problems)
        answers = example["response"].get("resp", [])
        if len(answers) != len(commands):
            problems.add(
                source,
                f"{where}/response/resp",
                f"{len(answers)} responses for {len(commands)} commands; a frame answers each command once",
            )
            continue
        for index, answer in enumerate(answers):
            at = f"{where}/response/resp/{index}"
            if answer.get("status", 0) != 0:
                continue
            if result is None and "resp" in answer:
                problems.add(source, f"{at}/resp", "this method declares no result; leave out resp")
            if result is not None:
                if "resp" not in answer:
                    problems.add(source, at, "a successful answer of this method carries its result in resp")
                else:
                    _check_value(result, answer["resp"], source, f"{at}/resp", problems)


def _check_value(schema: dict[str, Any], value: Any, source: str, pointer: str, problems: Problems) -> None:
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(to_json_schema(schema)).iter_errors(value))
    if error is not None:
        problems.add(source, pointer + pointer_of(error.absolute_path), error.message)
