"""Every rule that turns a wire name into a Python name lives here."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

# Python 3.11's soft keywords, fixed here so that the output does not depend on the Python that runs the
# generator: `type` became one in 3.12, but only in `type X = ...` statements, and stays a usable name.
_SOFT_KEYWORDS = frozenset({"_", "case", "match"})
# What pydantic's BaseModel defines besides its model_* names (a field of that name would shadow it), as of
# pydantic 2.14; test_naming checks the installed pydantic against it.
BASE_MODEL_ATTRIBUTES = frozenset(
    {
        "construct",
        "copy",
        "dict",
        "from_orm",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
    }
)
# Names the generated code itself uses where a field or keyword argument would hide them: the types in the
# annotations of model class bodies (list[...], dict[str, ...]), str and len() in the page iterators' bodies,
# and every method's self. test_generated_code generates every builtin as a field and type-checks the result.
GENERATED_CODE_NAMES = frozenset({"dict", "len", "list", "self", "str"})
# Method names that would shadow a type used in annotations inside the generated classes.
_ANNOTATION_NAMES = frozenset({"str", "int", "float", "bool", "object", "type", "None", "Any", "Sequence"})

# The package's own modules; a service module must not take one of these names. One whose name starts with _
# (such as _env) needs no entry: no service module does. test_runtime checks the list against the modules.
RUNTIME_MODULES = frozenset(
    {"cli", "client", "envelope", "errors", "spec", "status", "transport", "methods", "server", "validation", "wire"}
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
    """Python name of an argument or property: the wire name in snake_case, also where it shadows a builtin.

    `id`, `type` and `filter` stay as they are: a field is read as an attribute (`rollout.id`) and passed as a
    keyword argument, where a builtin's name hides nothing the caller needs. A trailing _ goes only where Python
    or the generated code needs the name: keywords (`from_`), BaseModel's attributes (`json_`) and the few names
    the generated code uses (`list_`, `str_`).
    """
    # pydantic ignores fields that start with an underscore.
    name = snake(wire).lstrip("_") or "field"
    if name[0].isdigit():
        name = "f_" + name
    if _is_keyword(name) or name in BASE_MODEL_ATTRIBUTES or name in GENERATED_CODE_NAMES:
        name += "_"
    if name.startswith("model_"):
        name = "field_" + name
    return name


def method_name(wire: str) -> str:
    """Python name of a method: snake_case; keywords and annotation names get a trailing _."""
    name = snake(wire)
    if _is_keyword(name) or name in _ANNOTATION_NAMES:
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


def _is_keyword(name: str) -> bool:
    return keyword.iskeyword(name) or name in _SOFT_KEYWORDS
