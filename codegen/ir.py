"""The typed intermediate representation that templates render; nothing here reads files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldIR:
    """One argument or property of a generated model."""

    wire: str
    name: str
    annotation: str  # the type in the pydantic model
    param_annotation: str  # the type a client method accepts for it
    required: bool
    doc: str
    constraints: tuple[tuple[str, str], ...]  # pydantic Field keyword -> Python literal
    nullable: bool = False  # null is a valid value
    default: str | None = None  # Python literal of the definition's default
    default_json: str | None = None  # the default as the definition writes it, for docs
    deprecated: bool = False

    @property
    def optional_annotation(self) -> bool:
        """The model field may hold None: it is nullable, or optional without a default."""
        return self.nullable or (not self.required and self.default is None)

    @property
    def refuses_null(self) -> bool:
        """An argument that may be left out but is not nullable: its Python type holds None (left out), yet an
        explicit null is refused (NOT_NULL in codegen/runtime/wire.py)."""
        return not self.nullable and not self.required and self.default is None

    @property
    def field_arguments(self) -> str:
        """The arguments of the model field's pydantic Field(...)."""
        parts = [] if self.required else [f"default={self.default or 'None'}"]
        if self.name != self.wire:
            parts.append(f"alias={self.wire!r}")
        parts += [f"{key}={value}" for key, value in self.constraints]
        if self.description:
            parts.append(f"description={self.description!r}")
        if self.deprecated:
            parts.append("json_schema_extra={'deprecated': True}")
        return ", ".join(parts)

    @property
    def description(self) -> str:
        """The doc as the docs and the client's docstrings show it: with the default and deprecation."""
        notes = [self.doc] if self.doc else []
        if self.default_json is not None:
            notes.append(f"Default: {self.default_json}.")
        if self.deprecated:
            notes.append("Deprecated.")
        return " ".join(notes)


@dataclass(frozen=True)
class EnumIR:
    """An enum, rendered as a StrEnum (or an IntEnum for integer values)."""

    name: str
    doc: str
    members: tuple[tuple[str, str | int], ...]  # (Python member name, wire value)
    integer: bool = False


@dataclass(frozen=True)
class ModelIR:
    """A pydantic model: a method's args, a result object, or a nested object."""

    name: str
    doc: str
    fields: tuple[FieldIR, ...]
    is_args: bool  # args models refuse unknown keys; result models keep them (forward compatible)

    @property
    def nullable_fields(self) -> tuple[FieldIR, ...]:
        return tuple(f for f in self.fields if f.nullable)


@dataclass(frozen=True)
class AliasIR:
    """A module-level type alias, used for results that are not objects (e.g. a list)."""

    name: str
    annotation: str


@dataclass(frozen=True)
class MethodIR:
    """One definition file."""

    name: str  # Get
    python_name: str  # get
    constant: str  # GET: the module-level MethodSpec
    wire_name: str  # /v1/Rollout.Get
    doc: str
    idempotency: str  # no_side_effects, idempotent or none: what calling it again does
    deprecated: bool
    batch: bool  # the contract has <python_name>_batch: runs of this method's commands run set-based
    scope: tuple[str, str] | None  # (argument naming the tenant, 404 message) when the dispatcher checks reach
    roles: tuple[str, ...]  # who may call it; empty means every role
    source: str  # definitions/Rollout/Get.json
    args_model: str
    args: tuple[FieldIR, ...]
    result_type: str | None
    result_item: str | None  # the item type when the result is an array: handlers may stream such results
    page_item: str | None  # item class when the method pages with limit/after over items that have an id
    page_cursor: str  # the item's Python attribute that holds its id, for `after`
    page_size: int  # default page size of the iterator: 1000, or less when `limit` allows less
    definition: dict[str, Any]  # normalised definition without examples, for docs and validation
    examples: tuple[dict[str, Any], ...]

    @property
    def deprecated_args(self) -> tuple[str, ...]:
        return tuple(f.wire for f in self.args if f.deprecated)

    @property
    def warns(self) -> bool:
        """The client warns when this method is called, or when one of its deprecated arguments is given."""
        return self.deprecated or bool(self.deprecated_args)

    @property
    def handler_result(self) -> str:
        """What the server contract's method returns: array results may be any iterable, so they can stream."""
        if self.result_item is not None:
            return f"Iterable[{self.result_item}]"
        return self.result_type or "None"

    @property
    def batch_name(self) -> str:
        """The contract's method that runs a run of this method's commands at once."""
        return f"{self.python_name}_batch"


@dataclass(frozen=True)
class ServiceIR:
    """One service folder."""

    name: str  # Rollout
    wire_path: str  # /v1/Rollout
    module: str  # rollout
    doc: str
    source: str  # definitions/Rollout
    contract: str  # RolloutService
    methods: tuple[MethodIR, ...]
    enums: tuple[EnumIR, ...]
    models: tuple[ModelIR, ...]  # in dependency order: nested models first
    aliases: tuple[AliasIR, ...]
    client_names: tuple[str, ...]  # the model, enum and alias names that client signatures use
    has_pattern: bool  # some schema has a pattern: models check it with Python's re, as the generator did
    shared_types: dict[str, Any]  # _types.json's types, resolved: /openapi.json's component schemas

    @property
    def model_names(self) -> frozenset[str]:
        return frozenset(m.name for m in self.models)


@dataclass(frozen=True)
class ApiIR:
    """Everything one generator run emits."""

    package: str
    distribution: str
    version: str
    services: tuple[ServiceIR, ...]
