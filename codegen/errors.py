"""The errors the generator raises for bad input: each names the file and the JSON pointer."""

from __future__ import annotations

from collections.abc import Iterable


class DefinitionError(Exception):
    """A definition file is not acceptable; the message says where and why."""

    def __init__(self, source: str, pointer: str, message: str) -> None:
        self.source = source
        self.pointer = pointer
        self.message = message
        super().__init__(f"{source}: {pointer or '/'}: {message}")


class DefinitionErrors(DefinitionError):
    """Every problem one run found, in the order found; str() gives one line per problem."""

    def __init__(self, errors: Iterable[DefinitionError]) -> None:
        self.errors = tuple(errors)
        first = self.errors[0]
        super().__init__(first.source, first.pointer, first.message)
        self.args = ("\n".join(str(e) for e in self.errors),)

    def __str__(self) -> str:
        return str(self.args[0])


class Problems:
    """Collects problems instead of stopping at the first, so one run reports them all."""

    def __init__(self) -> None:
        self._errors: list[DefinitionError] = []

    def __len__(self) -> int:
        return len(self._errors)

    def add(self, source: str, pointer: str, message: str) -> None:
        self._errors.append(DefinitionError(source, pointer, message))

    def append(self, error: DefinitionError) -> None:
        self._errors.append(error)

    def extend(self, errors: Iterable[DefinitionError]) -> None:
        self._errors.extend(errors)

    def take(self) -> list[DefinitionError]:
        """Every problem so far, leaving none behind."""
        taken, self._errors = self._errors, []
        return taken

    def raise_if_any(self) -> None:
        if self._errors:
            raise DefinitionErrors(self._errors)
