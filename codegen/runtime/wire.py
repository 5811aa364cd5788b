"""How a JSON value reads as a model field, where pydantic's strict types alone would read it otherwise.

The models take values as sent (no "5" for 5, no true for 1), with two rules of JSON and of the
definitions that strict types do not know:

- JSON has one kind of number: 3990.0 is the integer 3990, as JSON Schema's `integer` (and so /openapi.json)
  says. An integer field takes a number with a zero fraction as that integer; 3990.5 is refused.
- null is a value only where the definition says `nullable`. An optional argument that is not nullable is
  left out to give none; an explicit null for it is refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StrictInt
from pydantic_core import PydanticCustomError

NOT_NULLABLE = "not_nullable"
"""The pydantic error type of an explicit null for a field that is not nullable."""


def _integral(value: Any) -> Any:
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError(NOT_NULLABLE, "must not be null; leave it out to give none")
    return value


JsonInt = Annotated[StrictInt, BeforeValidator(_integral)]
"""An integer as JSON has it: 3 or 3.0, never "3", true or 3.5."""
NOT_NULL = BeforeValidator(_refuse_null)
"""On an optional field that is not nullable (its Python type is `X | None` because it may be left out): an
explicit null is refused."""
