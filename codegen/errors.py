"""The one error the generator raises for bad input: it names the file and the JSON pointer."""

from __future__ import annotations


class DefinitionError(Exception):
    """A definition file is not acceptable; the message says where and why."""

    def __init__(self, source: str, pointer: str, message: str) -> None:
        self.source = source
        self.pointer = pointer
        self.message = message
        super().__init__(f"{source}: {pointer or '/'}: {message}")
