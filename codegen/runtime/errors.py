"""Errors raised by the client, and by server handlers to answer a non-zero status.

The tree::

    Error
    ├── TransportError          the request did not get a response frame (connection, HTTP, bad body)
    └── RpcError                a command answered a non-zero status; carries status, status_msg, command_id
        ├── InvalidArgument     400
        ├── Unauthenticated     401
        ├── PermissionDenied    403
        ├── NotFound            404
        ├── Conflict            409
        ├── TooLarge            413
        ├── DeadlineExceeded    504
        └── ServerError         500 and any other status
            └── Unimplemented   501
"""

from __future__ import annotations

from .status import Status


class Error(Exception):
    """Base of every error this package raises."""


class TransportError(Error):
    """The server could not be reached or did not answer with a response frame."""


class RpcError(Error):
    """A command answered a non-zero status."""

    status: int = Status.INTERNAL

    def __init__(self, status_msg: str, *, status: int | None = None, command_id: int | None = None) -> None:
        if status is not None:
            self.status = status
        self.status_msg = status_msg
        self.command_id = command_id
        super().__init__(status_msg)

    def __str__(self) -> str:
        where = "" if self.command_id is None else f" (command {self.command_id})"
        return f"{self.status}: {self.status_msg}{where}"


class InvalidArgument(RpcError):
    """400: malformed frame or command, invalid or unknown argument, bad value."""

    status = Status.INVALID_ARGUMENT


class Unauthenticated(RpcError):
    """401: no or invalid credentials."""

    status = Status.UNAUTHENTICATED


class PermissionDenied(RpcError):
    """403: authenticated but not allowed."""

    status = Status.PERMISSION_DENIED


class NotFound(RpcError):
    """404: no such method, or no such object in that project."""

    status = Status.NOT_FOUND


class Conflict(RpcError):
    """409: illegal state transition, or the object is already finished."""

    status = Status.CONFLICT


class TooLarge(RpcError):
    """413: frame, command list or argument too large."""

    status = Status.TOO_LARGE


class DeadlineExceeded(RpcError):
    """504: the command's deadline passed before it ran."""

    status = Status.DEADLINE_EXCEEDED


class ServerError(RpcError):
    """500 or any status without a class of its own."""

    status = Status.INTERNAL


class Unimplemented(ServerError):
    """501: the method is defined but the server does not implement it."""

    status = Status.UNIMPLEMENTED


_BY_STATUS: dict[int, type[RpcError]] = {
    cls.status: cls
    for cls in (
        InvalidArgument,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        Conflict,
        TooLarge,
        DeadlineExceeded,
        ServerError,
        Unimplemented,
    )
}


def error_for_status(status: int, status_msg: str, command_id: int | None = None) -> RpcError:
    """The exception that stands for a non-zero status."""
    cls = _BY_STATUS.get(status, ServerError)
    return cls(status_msg, status=status, command_id=command_id)
