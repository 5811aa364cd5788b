"""What the headers of an RPC request refuse on their own, before any of the body is read."""

from __future__ import annotations

import ipaddress
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import urlsplit

from starlette.types import Scope

Refusal = tuple[int, str]
"""HTTP status and message."""


class Checked(NamedTuple):
    refusal: Refusal | None
    """Why the headers alone refuse the request; None when they do not."""
    authorization: str | None
    request_id: str | None
    """The caller's X-Request-Id, as sent."""


class HeaderCheck:
    """A body not declared JSON is refused (415): a browser sends text/plain or a form across sites without
    asking first, never application/json. Two Authorization headers are ambiguous (400). Without keys
    (AUTH_DISABLED, `origins_checked`) a browser page of another origin, or of a DNS name that may have been
    rebound to this server, is refused (403) unless ALLOWED_ORIGINS names it."""

    def __init__(self, *, origins_checked: bool, allowed_origins: frozenset[str]) -> None:
        self._origins_checked = origins_checked
        self._allowed_origins = allowed_origins

    def check(self, scope: Scope) -> Checked:
        """Why the headers alone refuse the request, and what they say that the rest needs."""
        content_type = origin = host = authorization = request_id = None
        authorizations = 0
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
                authorizations += 1
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
            elif name == b"x-request-id":
                request_id = value.decode("latin-1")
        media_type = (content_type or "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            got = "no Content-Type" if content_type is None else f"Content-Type {content_type!r}"
            refusal = (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{got}; send the body as Content-Type: application/json")
            return Checked(refusal, None, request_id)
        if authorizations > 1:
            return Checked((HTTPStatus.BAD_REQUEST, "two Authorization headers; send one"), None, request_id)
        if origin is not None and self._origins_checked and not self._origin_allowed(origin, host):
            message = (
                f"Origin {origin!r} may not call this server while AUTH_DISABLED is set; "
                "add it to ALLOWED_ORIGINS if it should"
            )
            return Checked((HTTPStatus.FORBIDDEN, message), None, request_id)
        return Checked(None, authorization, request_id)

    def _origin_allowed(self, origin: str, host: str | None) -> bool:
        """Listed in ALLOWED_ORIGINS, or this server's own address by IP (a loopback name included): a DNS
        name is not trusted, since DNS rebinding can point any name at this server."""
        if origin.rstrip("/") in self._allowed_origins:
            return True
        parsed = urlsplit(origin)
        if parsed.netloc != host or parsed.hostname is None:
            return False
        if parsed.hostname == "localhost":
            return True
        try:
            ipaddress.ip_address(parsed.hostname)
        except ValueError:
            return False
        return True
