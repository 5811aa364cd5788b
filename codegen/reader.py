"""Read one JSON file strictly: UTF-8 only, and a key given twice in one object is an error, not 'last wins'."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codegen.errors import DefinitionError, DefinitionErrors


class _Duplicates(dict[str, Any]):
    """A parsed object that remembers the keys it was given more than once."""

    repeated: list[str]


def read_json(path: Path, source: str) -> Any:
    """The file's JSON value; DefinitionErrors naming the file (and the place) when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DefinitionErrors([DefinitionError(source, "", f"cannot read file: {exc.strerror}")]) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DefinitionErrors(
            [
                DefinitionError(
                    source,
                    "",
                    f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line} cannot be decoded; save the file as UTF-8",
                )
            ]
        ) from None
    try:
        value = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise DefinitionErrors(
            [DefinitionError(source, "", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")]
        ) from None
    errors = [
        DefinitionError(source, pointer, f"key {key!r} appears more than once in this object; keep one")
        for pointer, key in _repeated_keys(value, "")
    ]
    if errors:
        raise DefinitionErrors(errors)
    return _plain(value)


def _object(pairs: list[tuple[str, Any]]) -> _Duplicates:
    out = _Duplicates()
    out.repeated = []
    for key, value in pairs:
        if key in out:
            out.repeated.append(key)
        out[key] = value
    return out


def _repeated_keys(value: Any, pointer: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(value, _Duplicates):
        found += [(pointer or "", key) for key in value.repeated]
        for key, item in value.items():
            found += _repeated_keys(item, f"{pointer}/{_escape(key)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _repeated_keys(item, f"{pointer}/{index}")
    return found


def _plain(value: Any) -> Any:
    """The parsed value with plain dicts, so nothing downstream sees the helper class."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
