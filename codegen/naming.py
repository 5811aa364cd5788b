"""Every rule that turns a wire name into a Python name lives here."""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterable

# Names a pydantic model or our generated classes already use for something else.
_MODEL_ATTRIBUTES = frozenset({"copy", "dict", "json", "schema", "construct", "validate", "self", "cls"})
_BUILTINS = frozenset(dir(builtins))
# Method names that would shadow a type used in annotations inside the generated classes.
_ANNOTATION_NAMES = frozenset({"str", "int", "float", "bool", "object", "type", "None", "Any", "Sequence"})

# The package's own modules; a service module must not take one of these names.
RUNTIME_MODULES = frozenset(
    {"cli", "client", "envelope", "errors", "spec", "status", "transport", "methods", "server", "validation"}
)

# What Client, AsyncClient and Batch already have; a service attribute must not replace one.
_CLIENT_ATTRIBUTES = frozenset({"aclose", "batch", "call", "close", "send"})

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]+")


class NameCollision(Exception):
    """Two wire names map to the same Python name."""


def snake(name: str) -> str:
    """deviceFilter -> device_filter, updateCommandId -> update_command_id, HTTPCode -> http_code."""
    words = _NON_IDENTIFIER.sub("_", _WORD_BOUNDARY.sub("_", name)).strip("_").lower()
    return re.sub(r"_+", "_", words) or "_"


def pascal(name: str) -> str:
    """set_state, setState, SetState -> SetState."""
    return "".join(
        part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+|_", _WORD_BOUNDARY.sub("_", name)) if part
    )


def field_name(wire: str) -> str:
    """Python name of an argument or property: snake_case, with a trailing _ where it would shadow anything."""
    # pydantic ignores fields that start with an underscore.
    name = snake(wire).lstrip("_") or "field"
    if name[0].isdigit():
        name = "f_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _BUILTINS or name in _MODEL_ATTRIBUTES:
        name += "_"
    if name.startswith("model_"):
        name = "field_" + name
    return name


def method_name(wire: str) -> str:
    """Python name of a method: snake_case; keywords and annotation names get a trailing _."""
    name = snake(wire)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _ANNOTATION_NAMES:
        name += "_"
    return name


def module_name(service: str) -> str:
    """Python module of a service's generated code: snake_case, never one of the runtime modules' names."""
    name = snake(service)
    if keyword.iskeyword(name) or name in RUNTIME_MODULES or name in _CLIENT_ATTRIBUTES:
        name += "_"
    return name


def enum_member(value: str | int) -> str:
    """inProgress -> IN_PROGRESS; a value that does not start with a letter (such as 3) gets a V_ prefix."""
    name = snake(str(value)).upper()
    if not name[0].isalpha():
        name = "V_" + name
    return name


def check_unique(pairs: Iterable[tuple[str, str]], what: str) -> None:
    """Fail when two wire names map to one Python name, instead of inventing Name1, Name2."""
    seen: dict[str, str] = {}
    for wire, python in pairs:
        if python in seen and seen[python] != wire:
            raise NameCollision(
                f"{what} {seen[python]!r} and {wire!r} both map to the Python name {python!r}; rename one of them"
            )
        seen[python] = wire
