"""One log line per RPC request: its id, who called (never the key), what, the status and how long it took.

The id is the caller's X-Request-Id when it sent a usable one, so a request can be followed from the client
through the log; every answer carries it back in X-Request-Id, and an internal error's message names it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field

log = logging.getLogger("app.requests")
_USABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    return secrets.token_hex(6)


def request_id_from(header: str | None) -> str:
    """The caller's id when it is one a log line can carry as it is, else a new one."""
    return header if header is not None and _USABLE_ID.fullmatch(header) else new_request_id()


@dataclass(slots=True)
class RequestRecord:
    """What the log line of one request says; the exchange fills in what it learns (the caller, the commands)."""

    request_id: str
    method: str
    """The route's method (`/v1/Rollout.Get`), or `/v1` for a frame."""
    principal: str = "-"
    commands: int = 1
    started: float = field(default_factory=time.perf_counter)
    body_bytes: int = 0
    """The request body's size, once read (counted in /metrics, not logged)."""

    def log(self, status: int) -> None:
        if log.isEnabledFor(logging.INFO):
            duration_ms = round((time.perf_counter() - self.started) * 1000, 3)
            log.info(
                "%s %s %s %d %.1f ms",
                self.request_id,
                self.principal,
                self.method,
                status,
                duration_ms,
                extra={
                    "request_id": self.request_id,
                    "principal": self.principal,
                    "method": self.method,
                    "commands": self.commands,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
