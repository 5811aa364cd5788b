"""Turn loaded definitions into the intermediate representation: types, models, enums and names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from codegen import naming
from codegen.errors import DefinitionError
from codegen.ir import AliasIR, ApiIR, EnumIR, FieldIR, MethodIR, ModelIR, ServiceIR
from codegen.loader import LoadedMethod, LoadedService

_SCALARS = {
    "string": ("StrictStr", "str"),
    "integer": ("StrictInt", "int"),
    "number": ("StrictFloat | StrictInt", "float"),
    "boolean": ("StrictBool", "bool"),
}
_DEFAULT_PAGE_SIZE = 1000
_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_length",
    "maxItems": "max_length",
}


def _constraints(schema: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The schema's limits as pydantic Field keywords and Python literals."""
    return tuple((_CONSTRAINTS[k], repr(schema[k])) for k in _CONSTRAINTS if k in schema)


@dataclass(frozen=True)
class _Type:
    annotation: str
    param: str


@dataclass
class _ServiceTypes:
    """Collects the enums, models and aliases one service's schemas need."""

    source: str
    enums: list[EnumIR] = field(default_factory=list)
    models: list[ModelIR] = field(default_factory=list)
    aliases: list[AliasIR] = field(default_factory=list)

    def resolve(self, schema: dict[str, Any], class_name: str, pointer: str, *, is_args: bool) -> _Type:
        kind = schema["type"]
        if "enum" in schema:
            return self._enum(schema, class_name, pointer)
        if kind in _SCALARS:
            annotation, param = _SCALARS[kind]
            return _Type(annotation, param)
        if kind == "array":
            items = schema["items"]
            item = self.resolve(items, class_name + "Item", pointer + "/items", is_args=is_args)
            annotation = item.annotation
            if constraints := _constraints(items):
                # Each item is checked, e.g. "items": {"type": "string", "minLength": 1}.
                annotation = f"Annotated[{annotation}, Field({', '.join(f'{k}={v}' for k, v in constraints)})]"
            return _Type(f"list[{annotation}]", f"Sequence[{item.param}]")
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
            constraints = _constraints(schema)
            out.append(
                FieldIR(
                    wire=wire,
                    name=name,
                    annotation=resolved.annotation,
                    param_annotation=resolved.param,
                    required=wire in required,
                    doc=schema.get("doc", ""),
                    constraints=constraints,
                )
            )
        self._unique([(f.wire, f.name) for f in out], "arguments" if is_args else "properties", pointer)
        # Required first keeps the generated signatures readable; the wire order is kept within each group.
        return tuple(sorted(out, key=lambda f: not f.required))

    def _enum(self, schema: dict[str, Any], name: str, pointer: str) -> _Type:
        values = schema["enum"]
        members = tuple((naming.enum_member(v), v) for v in values)
        self._unique([(v, m) for m, v in members], "enum values", pointer + "/enum")
        self.enums.append(EnumIR(name=name, doc=schema.get("doc", ""), members=members))
        literal = ", ".join(repr(v) for v in values)
        return _Type(name, f"{name} | Literal[{literal}]")

    def _unique(self, pairs: list[tuple[str, str]], what: str, pointer: str) -> None:
        try:
            naming.check_unique(pairs, what)
        except naming.NameCollision as exc:
            raise DefinitionError(self.source, pointer, str(exc)) from exc


def build_api(services: tuple[LoadedService, ...], *, package: str, distribution: str, version: str) -> ApiIR:
    """Build the IR for every service; names are checked for collisions as they are made."""
    built = tuple(_build_service(s) for s in services)
    try:
        naming.check_unique([(s.name, s.module) for s in built], "services")
    except naming.NameCollision as exc:
        raise DefinitionError("definitions", "", str(exc)) from exc
    return ApiIR(package=package, distribution=distribution, version=version, services=built)


def _build_service(service: LoadedService) -> ServiceIR:
    types = _ServiceTypes(source=service.source)
    methods = tuple(_build_method(service, m, types) for m in service.methods)
    try:
        naming.check_unique([(m.name, m.python_name) for m in methods], "methods")
    except naming.NameCollision as exc:
        raise DefinitionError(service.source, "", str(exc)) from exc
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
    )


def _names_used(methods: tuple[MethodIR, ...], types: _ServiceTypes) -> tuple[str, ...]:
    declared = {e.name for e in types.enums} | {m.name for m in types.models} | {a.name for a in types.aliases}
    used: set[str] = set()
    for method in methods:
        annotations = [f.param_annotation for f in method.args] + [method.result_type or "", method.page_item or ""]
        used.update(token for a in annotations for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", a))
    return tuple(sorted(used & declared))


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
            result_item = resolved.annotation.removeprefix("list[").removesuffix("]")
    args = next(m for m in types.models if m.name == args_model).fields
    return MethodIR(
        name=method.name,
        python_name=naming.method_name(method.name),
        constant=naming.snake(method.name).upper(),
        wire_name=f"{service.wire_path}.{method.name}",
        doc=definition["doc"],
        readonly=bool(definition.get("readonly", False)),
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
    return f"{result_type}Item" if pages else None
