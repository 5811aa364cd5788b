"""Status codes of a command's response: 0 for success, otherwise the HTTP-like codes of mg_rpc."""

from enum import IntEnum


class Status(IntEnum):
    """The `status` of a response entry."""

    OK = 0
    INVALID_ARGUMENT = 400
    UNAUTHENTICATED = 401
    PERMISSION_DENIED = 403
    NOT_FOUND = 404
    CONFLICT = 409
    TOO_LARGE = 413
    INTERNAL = 500
    UNIMPLEMENTED = 501
    DEADLINE_EXCEEDED = 504
