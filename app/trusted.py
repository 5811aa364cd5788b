"""Result models built from values the server itself holds (its database's rows), without validating them again.

A result is validated by the client that reads it; on the server, validating what it built from its own columns
is most of the cost of answering a read (about 6 µs of a Rollout's 10). pydantic's model_construct skips the
validation but walks the fields in Python, which costs as much. build() sets what model_construct sets, in one
step: the values must already be what the fields hold (Python names, nested models built, enums or plain
strings, aware datetimes), which tests/app/test_trusted.py checks against validation for every model built so.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)
# The instance's slots, set through their descriptors: cheaper than object.__setattr__ looking each up by name.
_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (
    BaseModel.__dict__[slot].__set__
    for slot in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
)
_new = object.__new__


def build(model: type[Model], values: dict[str, Any]) -> Model:
    """`model` holding `values` (by field name); fields left out take their defaults and count as not set."""
    template, required, allows_extra = _shape(model)
    # The fields in their declared order, as validation gives them: a model is written out in that order.
    fields = template | values
    if len(fields) != len(template) or not required <= values.keys():
        missing, unknown = sorted(required - values.keys()), sorted(values.keys() - template.keys())
        raise TypeError(f"{model.__name__}: missing fields {missing}, unknown fields {unknown}")
    instance = _new(model)
    _SET_DICT(instance, fields)
    _SET_FIELDS_SET(instance, set(values))
    # (A new dict each: an extra attribute set on one instance later goes into it.)
    _SET_EXTRA(instance, {} if allows_extra else None)
    _SET_PRIVATE(instance, None)
    return instance


@functools.cache
def _shape(model: type[BaseModel]) -> tuple[dict[str, Any], frozenset[str], bool]:
    """Every field in order with its default (None where it has none: those are the second, the required ones),
    and whether the model allows extra fields (model_construct then gives __pydantic_extra__ a dict, else None)."""
    template: dict[str, Any] = {}
    required: set[str] = set()
    for name, field in model.model_fields.items():
        if field.default_factory is not None:
            raise TypeError(f"{model.__name__}.{name} has a default factory: build() gives every instance one value")
        if field.is_required():
            required.add(name)
        template[name] = None if field.is_required() else field.default
    return template, frozenset(required), model.model_config.get("extra") == "allow"
