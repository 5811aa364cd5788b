"""What every method of every service gets besides its args: the request context."""

from __future__ import annotations

from dataclasses import dataclass

from app.auth.keys import Caller
from app.storage.db import Transaction


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One command's context, made by the dispatcher for each command it runs."""

    transaction: Transaction
    """The command's own transaction: it commits when the method returns, and rolls back when it raises."""
    caller: Caller
    """Who called: principal, role and the projects the caller may reach (scope is already checked)."""
    deadline: float | None
    """Unix time by which the caller wanted the command started (its `deadline`, or `timeout` after the
    frame arrived, whichever is sooner); None when the caller set no limit."""
    request_id: str
    """The HTTP request's id, as the logs and an internal error's message name it."""
