"""Result models built from values the server itself holds (its database's rows), without validating them again.

A result is validated by the client that reads it; on the server, validating what it built from its own columns
is most of the cost of answering a read (about 6 µs of a Rollout's 10). pydantic's model_construct skips the
validation but walks the fields in Python, which costs as much. build() sets what model_construct sets, in one
step: the values must already be what the fields hold (Python names, nested models built, enums or plain
strings, aware datetimes), which tests/app/test_trusted.py checks against validation for every model built so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)
_set = object.__setattr__


def build(model: type[Model], values: dict[str, Any]) -> Model:
    """`model` holding `values` (by field name); fields left out take their defaults and count as not set."""
    shape = _shape(model)
    # The fields in their declared order, as validation gives them: a model is written out in that order.
    fields = shape.template | values
    if len(fields) != len(shape.template) or not shape.required <= values.keys():
        missing, unknown = sorted(shape.required - values.keys()), sorted(values.keys() - shape.template.keys())
        raise TypeError(f"{model.__name__}: missing fields {missing}, unknown fields {unknown}")
    instance = model.__new__(model)
    _set(instance, "__dict__", fields)
    _set(instance, "__pydantic_fields_set__", set(values))
    # (A new dict each: an extra attribute set on one instance later goes into it.)
    _set(instance, "__pydantic_extra__", {} if shape.allows_extra else None)
    _set(instance, "__pydantic_private__", None)
    return instance


@dataclass(frozen=True)
class _Shape:
    template: dict[str, Any]
    """Every field in order, with its default (None where it has none: those are in `required`)."""
    required: frozenset[str]
    allows_extra: bool
    """model_construct gives __pydantic_extra__ a dict when the model allows extra fields, else None."""


@functools.cache
def _shape(model: type[BaseModel]) -> _Shape:
    template: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if field.default_factory is not None:
            raise TypeError(f"{model.__name__}.{name} has a default factory: build() gives every instance one value")
        template[name] = None if field.is_required() else field.default
    required = frozenset(name for name, field in model.model_fields.items() if field.is_required())
    return _Shape(template, required, model.model_config.get("extra") == "allow")
