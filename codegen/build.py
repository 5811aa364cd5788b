"""Turn loaded definitions into the intermediate representation: types, models, enums and names."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from codegen import naming
from codegen.errors import DefinitionError, DefinitionErrors, Problems
from codegen.ir import AliasIR, ApiIR, EnumIR, FieldIR, MethodIR, ModelIR, ServiceIR
from codegen.loader import LoadedMethod, LoadedService

_SCALARS = {
    "string": ("StrictStr", "str"),
    "integer": ("JsonInt", "int"),  # 3 or 3.0: JSON's one kind of number (codegen/runtime/wire.py)
    "number": ("StrictFloat | StrictInt", "float"),
    "boolean": ("StrictBool", "bool"),
}
_DEFAULT_PAGE_SIZE = 1000
_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_length",
    "maxItems": "max_length",
    "pattern": "pattern",
}
# Names the generated modules import or define for every service; a shared type must not take one.
_TAKEN_NAMES = frozenset(
    {
        "Annotated",
        "Any",
        "AsyncCaller",
        "AsyncIterator",
        "AwareDatetime",
        "BaseModel",
        "Commands",
        "ConfigDict",
        "Field",
        "Idempotency",
        "IntEnum",
        "JsonInt",
        "Iterable",
        "Iterator",
        "Literal",
        "Mapping",
        "MethodSpec",
        "NOT_NULL",
        "Pending",
        "Protocol",
        "Sequence",
        "StrEnum",
        "StrictBool",
        "StrictFloat",
        "StrictInt",
        "StrictStr",
        "SyncCaller",
        "TypeAdapter",
        "TypeAlias",
        "Unimplemented",
        "datetime",
        "warnings",
    }
)


def _constraints(schema: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The schema's limits as pydantic Field keywords and Python literals."""
    return tuple((_CONSTRAINTS[k], repr(schema[k])) for k in _CONSTRAINTS if k in schema)


@dataclass(frozen=True)
class _Type:
    annotation: str
    param: str


@dataclass
class _ServiceTypes:
    """Collects the enums, models and aliases one service's schemas need; a shared type becomes one class."""

    source: str
    shared: dict[str, dict[str, Any]]
    shared_source: str
    result_types: frozenset[str]  # shared types that some result uses: they keep unknown fields
    enums: list[EnumIR] = field(default_factory=list)
    models: list[ModelIR] = field(default_factory=list)
    aliases: list[AliasIR] = field(default_factory=list)

    def resolve(self, schema: dict[str, Any], class_name: str, pointer: str, *, is_args: bool) -> _Type:
        if "title" in schema:
            return self._shared(schema["title"], is_args=is_args)
        kind = schema["type"]
        if "enum" in schema:
            return self._enum(schema, class_name, pointer, is_args=is_args)
        if kind in _SCALARS:
            if schema.get("format") == "date-time":
                return _Type("AwareDatetime", "datetime")
            annotation, param = _SCALARS[kind]
            return _Type(annotation, param)
        if kind == "array":
            items = schema["items"]
            item = self.resolve(items, class_name + "Item", pointer + "/items", is_args=is_args)
            return _Type(f"list[{_with_limits(item.annotation, items)}]", f"Sequence[{item.param}]")
        if "additionalProperties" in schema:
            values = schema["additionalProperties"]
            value = self.resolve(values, class_name + "Value", pointer + "/additionalProperties", is_args=is_args)
            return _Type(f"dict[str, {_with_limits(value.annotation, values)}]", f"Mapping[str, {value.param}]")
        if not schema.get("properties"):
            return _Type("dict[str, Any]", "Mapping[str, Any]")
        self.model(class_name, schema, pointer + "/properties", is_args=is_args)
        return _Type(class_name, class_name)

    def model(self, name: str, schema: dict[str, Any], properties_pointer: str, *, is_args: bool) -> None:
        required = set(schema.get("required", []))
        fields = self.fields(schema.get("properties", {}), required, name, properties_pointer, is_args=is_args)
        self.models.append(ModelIR(name=name, doc=schema.get("doc", ""), fields=fields, is_args=is_args))

    def fields(
        self, properties: dict[str, Any], required: set[str], owner: str, pointer: str, *, is_args: bool
    ) -> tuple[FieldIR, ...]:
        out = []
        for wire in properties:
            schema = properties[wire]
            name = naming.field_name(wire)
            resolved = self.resolve(schema, owner + naming.pascal(wire), f"{pointer}/{wire}", is_args=is_args)
            out.append(
                FieldIR(
                    wire=wire,
                    name=name,
                    annotation=resolved.annotation,
                    param_annotation=resolved.param,
                    required=wire in required,
                    doc=schema.get("doc", ""),
                    constraints=() if "title" in schema else _constraints(schema),
                    nullable=bool(schema.get("nullable", False)),
                    default=_default(schema, owner + naming.pascal(wire)),
                    default_json=json.dumps(schema["default"]) if "default" in schema else None,
                    deprecated=bool(schema.get("deprecated", False)),
                )
            )
        self._unique([(f.wire, f.name) for f in out], "arguments" if is_args else "properties", pointer)
        # Required first keeps the generated signatures readable; the wire order is kept within each group.
        return tuple(sorted(out, key=lambda f: not f.required))

    def _shared(self, name: str, *, is_args: bool) -> _Type:
        """A shared type from _types.json: built once, under its own name, wherever it is used."""
        schema = self.shared[name]
        built = {e.name for e in self.enums} | {m.name for m in self.models} | {a.name for a in self.aliases}
        if name not in built:
            if name in _TAKEN_NAMES:
                raise DefinitionError(
                    self.shared_source, f"/$defs/{name}", f"the name {name!r} is taken by the generated code; rename it"
                )
            source, self.source = self.source, self.shared_source
            try:
                plain = {k: v for k, v in schema.items() if k != "title"}
                resolved = self.resolve(plain, name, f"/$defs/{name}", is_args=name not in self.result_types)
                if resolved.annotation != name and "enum" not in schema:
                    self.aliases.append(AliasIR(name=name, annotation=_with_limits(resolved.annotation, plain)))
            finally:
                self.source = source
        if "enum" in schema:
            return self._enum_type(name, schema["enum"], is_args=is_args)
        return _Type(name, name)

    def _enum(self, schema: dict[str, Any], name: str, pointer: str, *, is_args: bool) -> _Type:
        values = schema["enum"]
        members = tuple((naming.enum_member(v), v) for v in values)
        self._unique([(str(v), m) for m, v in members], "enum values", pointer + "/enum")
        self.enums.append(
            EnumIR(name=name, doc=schema.get("doc", ""), members=members, integer=schema["type"] == "integer")
        )
        return self._enum_type(name, values, is_args=is_args)

    @staticmethod
    def _enum_type(name: str, values: list[Any], *, is_args: bool) -> _Type:
        literal = f"{name} | Literal[{', '.join(repr(v) for v in values)}]"
        if is_args:
            return _Type(name, literal)
        # Results are open: a value a newer server added is kept as the plain value instead of failing the call.
        plain = "StrictInt" if isinstance(values[0], int) else "StrictStr"
        return _Type(f'Annotated[{name} | {plain}, Field(union_mode="left_to_right")]', literal)

    def _unique(self, pairs: list[tuple[str, str]], what: str, pointer: str) -> None:
        try:
            naming.check_unique(pairs, what)
        except naming.NameCollision as exc:
            raise DefinitionError(self.source, pointer, str(exc)) from exc


def _default(schema: dict[str, Any], inline_enum: str) -> str | None:
    """The Python literal of the schema's default; an enum's default is its member."""
    if "default" not in schema:
        return None
    value = schema["default"]
    if "enum" in schema and value is not None:
        return f"{schema.get('title', inline_enum)}.{naming.enum_member(value)}"
    return repr(value)


def _with_limits(annotation: str, schema: dict[str, Any]) -> str:
    """An item's or map value's own limits, e.g. "items": {"type": "string", "minLength": 1}."""
    if "title" in schema or not (constraints := _constraints(schema)):
        return annotation
    return f"Annotated[{annotation}, Field({', '.join(f'{k}={v}' for k, v in constraints)})]"


def build_api(services: tuple[LoadedService, ...], *, package: str, distribution: str, version: str) -> ApiIR:
    """Build the IR for every service; names are checked for collisions as they are made.

    Every service is built even when an earlier one fails, so one run reports every problem."""
    problems = Problems()
    built = []
    for service in services:
        try:
            built.append(_build_service(service, problems))
        except DefinitionError as exc:
            problems.extend(exc.errors if isinstance(exc, DefinitionErrors) else [exc])
    try:
        naming.check_unique([(s.name, s.module) for s in built], "services")
    except naming.NameCollision as exc:
        problems.add("definitions", "", str(exc))
    owners: dict[str, str] = {}
    for service_ir in built:
        for name in service_ir.shared_types:
            if name in owners:
                problems.add(
                    service_ir.source + "/_types.json",
                    f"/$defs/{name}",
                    f"the type {name!r} is defined by {owners[name]} too; /openapi.json names each shared type "
                    "once, so rename one of them",
                )
            owners[name] = service_ir.source
    problems.raise_if_any()
    return ApiIR(package=package, distribution=distribution, version=version, services=tuple(built))


def _build_service(service: LoadedService, problems: Problems) -> ServiceIR:
    in_args = {name for m in service.methods for name in _titles(m.definition["args"])}
    in_results = {name for m in service.methods for name in _titles(m.definition["result"])}
    for name in sorted(in_args & in_results):
        if service.types[name]["type"] == "object":
            raise DefinitionError(
                service.types_source,
                f"/$defs/{name}",
                f"the object type {name!r} is used in both args and results; results keep unknown fields and args "
                "refuse them, so one class cannot serve both: make two types",
            )
    types = _ServiceTypes(
        source=service.source,
        shared=service.types,
        shared_source=service.types_source,
        result_types=frozenset(in_results),
    )
    built = []
    for loaded in service.methods:
        try:
            built.append(_build_method(service, loaded, types))
        except DefinitionError as exc:
            problems.append(exc)
    if len(built) < len(service.methods):
        raise DefinitionErrors(problems.take())
    methods = tuple(built)
    try:
        naming.check_unique([(m.name, m.python_name) for m in methods], "methods")
    except naming.NameCollision as exc:
        raise DefinitionError(service.source, "", str(exc)) from exc
    _check_generated_helpers(methods)
    _check_no_duplicate_classes(service.source, types)
    return ServiceIR(
        name=service.folder,
        wire_path=service.wire_path,
        module=naming.module_name(service.folder),
        doc=service.doc,
        source=service.source,
        contract=service.folder + "Service",
        methods=methods,
        enums=tuple(types.enums),
        models=tuple(types.models),
        aliases=tuple(types.aliases),
        client_names=_names_used(methods, types),
        has_pattern=any(_has_pattern(m.definition[part]) for m in service.methods for part in ("args", "result")),
        shared_types={
            name: {k: v for k, v in schema.items() if k != "title"} for name, schema in service.types.items()
        },
    )


def _names_used(methods: tuple[MethodIR, ...], types: _ServiceTypes) -> tuple[str, ...]:
    declared = {e.name for e in types.enums} | {m.name for m in types.models} | {a.name for a in types.aliases}
    used: set[str] = set()
    for method in methods:
        annotations = [f.param_annotation for f in method.args] + [method.result_type or "", method.page_item or ""]
        used.update(token for a in annotations for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", a))
    return tuple(sorted(used & declared))


def _has_pattern(schema: Any) -> bool:
    """Some schema in it has a pattern (a string value; a property named "pattern" holds a schema instead)."""
    if isinstance(schema, dict):
        return isinstance(schema.get("pattern"), str) or any(_has_pattern(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_pattern(v) for v in schema)
    return False


def _titles(schema: Any) -> set[str]:
    """The shared types a normalised schema uses, nested ones included."""
    if isinstance(schema, dict):
        found = {schema["title"]} if isinstance(schema.get("title"), str) else set()
        return found.union(*(_titles(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_titles(v) for v in schema))
    return set()


def _check_generated_helpers(methods: tuple[MethodIR, ...]) -> None:
    """The client adds names of its own (iter_<method>, page_size): a definition must not take them."""
    helpers = {f"iter_{m.python_name.strip('_')}": m for m in methods if m.page_item}
    for method in methods:
        if method.python_name in helpers:
            paged = helpers[method.python_name]
            raise DefinitionError(
                method.source,
                "",
                f"method {method.name!r} maps to the Python name {method.python_name!r}, which the client generates "
                f"to iterate over the pages of {paged.name!r}; rename the method",
            )
        if method.page_item:
            for arg in method.args:
                if arg.name == "page_size":
                    raise DefinitionError(
                        method.source,
                        f"/args/{arg.wire}",
                        f"argument {arg.wire!r} maps to the Python name 'page_size', which the generated "
                        f"iter_{method.python_name.strip('_')}() uses for its own page size; rename the argument",
                    )


def _check_no_duplicate_classes(source: str, types: _ServiceTypes) -> None:
    names = [e.name for e in types.enums] + [m.name for m in types.models] + [a.name for a in types.aliases]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DefinitionError(
                source, "", f"two schemas would both generate the class {name!r}; rename a method or argument"
            )
        seen.add(name)


def _build_method(service: LoadedService, method: LoadedMethod, types: _ServiceTypes) -> MethodIR:
    definition = method.definition
    types.source = method.source
    args_model = method.name + "Args"
    args_schema = {"type": "object", "properties": definition["args"], "required": definition["required_args"]}
    types.model(
        args_model, {**args_schema, "doc": f"Arguments of {service.folder}.{method.name}."}, "/args", is_args=True
    )
    result_type = result_item = None
    result = definition.get("result")
    if result is not None:
        result_type = method.name + "Result"
        resolved = types.resolve(result, result_type, "/result", is_args=False)
        if resolved.annotation != result_type:
            types.aliases.append(AliasIR(name=result_type, annotation=resolved.annotation))
        if result["type"] == "array":
            listed = resolved.annotation
            if "title" in result:
                listed = next(a.annotation for a in types.aliases if a.name == result["title"])
            result_item = listed.removeprefix("list[").removesuffix("]")
            if "title" in result["items"] and "title" not in result:
                # The item class keeps the name it would have without the shared type (ListResultItem).
                types.aliases.append(AliasIR(name=result_type + "Item", annotation=result_item))
    args = next(m for m in types.models if m.name == args_model).fields
    return MethodIR(
        name=method.name,
        python_name=naming.method_name(method.name),
        constant=naming.snake(method.name).upper(),
        wire_name=f"{service.wire_path}.{method.name}",
        doc=definition["doc"],
        idempotency=definition.get("idempotency", "none"),
        deprecated=bool(definition.get("deprecated", False)),
        batch=bool(definition.get("batch", False)),
        scope=(definition["scope"]["arg"], definition["scope"]["notFound"]) if definition.get("scope") else None,
        roles=tuple(definition.get("roles", ())),
        source=method.source,
        args_model=args_model,
        args=args,
        result_type=result_type,
        result_item=result_item,
        page_item=_page_item(definition, result_type),
        page_cursor=naming.field_name("id"),
        page_size=min(_DEFAULT_PAGE_SIZE, definition["args"].get("limit", {}).get("maximum", _DEFAULT_PAGE_SIZE)),
        definition={k: v for k, v in definition.items() if k != "examples"},
        examples=tuple(definition.get("examples", [])),
    )


def _page_item(definition: dict[str, Any], result_type: str | None) -> str | None:
    """Paging by convention: integer `limit`, string `after`, and a result that is a list of objects with a string id."""
    args = definition["args"]
    result = definition.get("result") or {}
    items = result.get("items", {})
    pages = (
        args.get("limit", {}).get("type") == "integer"
        and args.get("after", {}).get("type") == "string"
        and result.get("type") == "array"
        and items.get("type") == "object"
        and items.get("properties", {}).get("id", {}).get("type") == "string"
    )
    if not pages:
        return None
    return str(items["title"]) if "title" in items else f"{result_type}Item"
