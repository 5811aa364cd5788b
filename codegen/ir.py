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

    @property
    def field_arguments(self) -> str:
        """The arguments of the model field's pydantic Field(...)."""
        parts = [] if self.required else ["default=None"]
        if self.name != self.wire:
            parts.append(f"alias={self.wire!r}")
        parts += [f"{key}={value}" for key, value in self.constraints]
        if self.doc:
            parts.append(f"description={self.doc!r}")
        return ", ".join(parts)


@dataclass(frozen=True)
class EnumIR:
    """A string enum, rendered as a StrEnum."""

    name: str
    doc: str
    members: tuple[tuple[str, str], ...]  # (Python member name, wire value)


@dataclass(frozen=True)
class ModelIR:
    """A pydantic model: a method's args, a result object, or a nested object."""

    name: str
    doc: str
    fields: tuple[FieldIR, ...]
    is_args: bool  # args models refuse unknown keys; result models ignore them (forward compatible)


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
    readonly: bool
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
    def handler_result(self) -> str:
        """What the server contract's method returns: array results may be any iterable, so they can stream."""
        if self.result_item is not None:
            return f"Iterable[{self.result_item}]"
        return self.result_type or "None"


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
