"""The record the method table holds for each method: wire name, models, doc and handler name."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, NotRequired, TypeVar

from pydantic import BaseModel, TypeAdapter
from pydantic_core import SchemaSerializer
from typing_extensions import TypedDict

ArgsT = TypeVar("ArgsT", bound=BaseModel)
ResultT = TypeVar("ResultT")


class ResponseEntry(TypedDict, Generic[ResultT]):
    """One entry of a response frame as a server writes it, its result typed (envelope.Response is what a client
    reads). typing_extensions' TypedDict: pydantic needs it before Python 3.12."""

    id: NotRequired[int]
    status: int
    status_msg: NotRequired[str]
    resp: NotRequired[ResultT]


class Idempotency(StrEnum):
    """What calling a method again does: the definition's `idempotency`, with connect's levels."""

    NO_SIDE_EFFECTS = "no_side_effects"
    """It changes nothing."""
    IDEMPOTENT = "idempotent"
    """Calling it again with the same arguments has the effect of calling it once; the answer may differ."""
    NONE = "none"
    """Calling it again may apply it again."""


@dataclass(frozen=True, slots=True)
class Fields(Generic[ResultT]):
    """A result given as its model's field values, by Python name (a nested model as a dict of its own), for a
    server to write without building the model: MethodSpec writes it exactly as it writes the model holding
    those values. The values are not validated: they must be what the model's fields would hold, in the model's
    field order (a model is written in that order, a dict in its own), as a server's tests check against the
    model. A field whose default is None may be left out; leaving out another, or giving one the model does not
    have, is a TypeError when it is written."""

    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Settled(Generic[ResultT]):
    """A command that a service's batch implementation ran to the end, and its result (None for a method without
    one), the model or its Fields. The batch answers None instead for a command it leaves to the one-by-one
    path."""

    result: ResultT | Fields[ResultT]


@dataclass(frozen=True)
class Scope:
    """The argument that names a method's tenant (e.g. projectid), and what a caller that may not reach it is told."""

    arg: str
    not_found: str
    """The 404 message, the same as for a missing object; {name} stands for the argument `name`, quoted."""

    def refusal(self, args: Mapping[str, Any]) -> str:
        """The 404 message for these args."""
        return re.sub(r"\{([^{}]*)\}", lambda match: repr(args.get(match.group(1))), self.not_found)


@dataclass(frozen=True, eq=False)
class MethodSpec(Generic[ArgsT, ResultT]):
    """Everything the client, the dispatch and the docs need to know about one method."""

    service: str
    """Service name, e.g. Rollout."""
    method: str
    """Method name, e.g. Get."""
    wire_name: str
    """What a command's `cmd` says, e.g. /v1/Rollout.Get."""
    attr: str
    """The Python name of the method on the service contract and the client."""
    doc: str
    idempotency: Idempotency
    """What calling it again does: the client re-sends it after a failure that may have come after it reached
    the server only when it is not NONE."""
    roles: tuple[str, ...]
    """The caller roles that may call the method; empty means every role."""
    args_model: type[ArgsT]
    result: TypeAdapter[ResultT] | None
    """Validates and serialises the result; None when the method answers nothing."""
    result_item: TypeAdapter[Any] | None
    """For array results: validates and serialises one item, so a server can stream the array."""
    definition: Mapping[str, Any]
    """The normalised definition (args, required_args, result) as JSON Schema."""
    examples: tuple[Mapping[str, Any], ...]
    """Example request and response frames."""
    deprecated: bool = False
    """The method will be removed: calling it from the client warns with DeprecationWarning."""
    deprecated_args: tuple[str, ...] = ()
    """Wire names of the arguments that will be removed: giving one warns with DeprecationWarning."""
    scope: Scope | None = None
    """How the method is scoped to a tenant: a server checks the caller's reach before running it."""
    batch: bool = False
    """The service contract has a batch implementation of the method (`<attr>_batch`): a server may run a run of
    its commands at once, answering each as if it ran alone."""
    entries: TypeAdapter[list[ResponseEntry[ResultT]]] | None = None
    """For a method with a batch implementation and a result: writes a run's response entries in one step."""

    @property
    def readonly(self) -> bool:
        """The method changes nothing (NO_SIDE_EFFECTS), so a server may run it in a read-only transaction."""
        return self.idempotency is Idempotency.NO_SIDE_EFFECTS

    @property
    def repeatable(self) -> bool:
        """Sending the method again after it may have reached the server is safe (NO_SIDE_EFFECTS or IDEMPOTENT)."""
        return self.idempotency is not Idempotency.NONE

    def warn_if_deprecated(self, args: Mapping[str, Any], *, stacklevel: int = 1) -> None:
        """DeprecationWarning for a call of a deprecated method, and for each deprecated argument given."""
        if self.deprecated:
            warnings.warn(f"{self.wire_name} is deprecated", DeprecationWarning, stacklevel=stacklevel + 1)
        for name in self.deprecated_args:
            if args.get(name) is not None:
                message = f"argument {name!r} of {self.wire_name} is deprecated"
                warnings.warn(message, DeprecationWarning, stacklevel=stacklevel + 1)

    def args_given(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments a caller gave: an optional argument passed as None counts as left out."""
        required = self.definition["required_args"]
        return {name: value for name, value in args.items() if value is not None or name in required}

    def dump_args(self, args: ArgsT) -> dict[str, Any]:
        """The args object as it goes on the wire: wire names, arguments that were not given left out."""
        return args.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def dump_result(self, result: ResultT) -> Any:
        """The result as it goes on the wire; None when the method has no result."""
        if self.result is None:
            return None
        return self.result.dump_python(result, mode="json", by_alias=True, exclude_none=True)

    def dump_result_json(self, result: ResultT | Fields[ResultT]) -> bytes:
        """The result as JSON text, as dump_result's value would be written: in one step, without the dict
        between (for a server that writes many results, that is about half the cost); b"null" without a result."""
        if self.result is None:
            return b"null"
        if isinstance(result, Fields):
            writer = _fields_writer(self.result)
            writer.check(result.values)
            return writer.serializer.to_json(result.values, by_alias=True, exclude_none=True)
        return self.result.dump_json(result, by_alias=True, exclude_none=True)

    def dump_entries_json(self, entries: list[ResponseEntry[ResultT]]) -> bytes:
        """Response entries as the items of a JSON array, comma-separated, without its brackets: each result
        written as dump_result writes it, all in one call (about 40 % less than one call per entry)."""
        if self.entries is None:
            raise TypeError(f"{self.wire_name} has no batch implementation with a result")
        return self.entries.dump_json(entries, by_alias=True, exclude_none=True)[1:-1]

    def dump_field_entries_json(self, entries: list[ResponseEntry[dict[str, Any]]]) -> bytes:
        """As dump_entries_json, each result given as the values of its Fields: written as its model would be,
        without building it (about half the cost of building and writing a model of a dozen fields)."""
        if self.entries is None or self.result is None:
            raise TypeError(f"{self.wire_name} has no batch implementation with a result")
        writer = _fields_writer(self.entries)
        check = _fields_writer(self.result).check
        for entry in entries:
            if "resp" in entry:
                check(entry["resp"])
        return writer.serializer.to_json(entries, by_alias=True, exclude_none=True)[1:-1]

    def dump_items(self, items: Iterable[Any]) -> Iterator[Any]:
        """An array result's items as they go on the wire, one at a time."""
        if self.result_item is None:
            raise TypeError(f"{self.wire_name} does not answer an array")
        dump = self.result_item.dump_python
        for item in items:
            yield dump(item, mode="json", by_alias=True, exclude_none=True)

    def load_result(self, data: Any) -> ResultT:
        """Validate a result received from the wire."""
        if self.result is None:
            return None  # type: ignore[return-value]  # ResultT is None for methods without a result
        return self.result.validate_python(data)


@dataclass(frozen=True)
class _FieldsWriter:
    """Writes a type's values with every model in it given as a dict of its field values (see Fields)."""

    serializer: SchemaSerializer
    required: frozenset[str]
    """The top model's fields that Fields must give (see _must_give; for a list of entries: none, their results
    are checked alone). Nested models' fields are not checked when written: the server's tests check them."""
    known: frozenset[str]

    def check(self, values: dict[str, Any]) -> None:
        # (Two comparisons of key sets, in C: this runs once per result of a run.)
        keys = values.keys()
        if not (self.required <= keys and keys <= self.known):
            missing, unknown = sorted(self.required - keys), sorted(keys - self.known)
            raise TypeError(f"result fields: missing {missing}, unknown {unknown}")


@functools.cache
def _fields_writer(adapter: TypeAdapter[Any]) -> _FieldsWriter:
    """A serializer made from the adapter's own core schema with each model's schema replaced by a typed dict of
    its fields (_fields_schema), which writes a dict of a model's field values as the model's schema writes the
    model: the same names, nested types and exclusions, in the dict's order. Made once per adapter."""
    schema = _fields_schema(adapter.core_schema)
    top = schema.get("schema", schema) if schema.get("type") == "definitions" else schema
    fields: dict[str, Any] = top.get("fields", {}) if top.get("type") == "typed-dict" else {}
    required = frozenset(name for name, field in fields.items() if field["required"])
    return _FieldsWriter(SchemaSerializer(schema), required, frozenset(fields))


def _must_give(schema: dict[str, Any]) -> bool:
    """A field left out of Fields is written as the model writes it only when the model would leave it out too:
    its default is None (exclude_none). Every other field must be given, a field with a default included."""
    return schema["type"] != "default" or schema.get("default", ...) is not None


def _fields_schema(node: Any) -> Any:
    """A core schema with every model schema replaced by a typed dict of the model's fields, with their aliases
    and exclusions (its ref kept, so references to the model find it). (pydantic-core's own schema of a model's
    fields takes the model's parts, not a dict, when the model allows extra fields.) A model whose own settings
    change how it is written (a custom serializer, a root model, computed fields, ser_* config) is refused: a
    dict of its fields would be written otherwise."""
    if isinstance(node, list):
        return [_fields_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") != "model":
        return {key: _fields_schema(value) for key, value in node.items()}
    config = node.get("config") or {}
    model_fields = node["schema"]
    custom = "serialization" in node or node.get("root_model") or model_fields.get("computed_fields")
    if custom or any(key.startswith("ser_") for key in config):
        raise TypeError(f"{node['cls'].__name__} is written by rules of its own: write the model itself")
    fields = {
        name: {
            "type": "typed-dict-field",
            "schema": _fields_schema(field["schema"]),
            "required": _must_give(field["schema"]),
            **{key: field[key] for key in ("serialization_alias", "serialization_exclude") if key in field},
        }
        for name, field in model_fields["fields"].items()
    }
    written: dict[str, Any] = {"type": "typed-dict", "fields": fields, "extra_behavior": "ignore"}
    if "ref" in node:
        written["ref"] = node["ref"]
    return written
