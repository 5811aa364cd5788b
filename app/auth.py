"""Who is calling: API keys from the Authorization header or the frame's `key`, checked against their hashes."""

from __future__ import annotations

from sqlalchemy import Engine

from app.db import transaction
from app.keys import Caller, caller_for_key

# Every caller is this one when authentication is switched off for local experiments.
ANONYMOUS_ADMIN = Caller(principal="//anonymous", role="admin", projects=None)


class AuthError(Exception):
    """401 or 403 for the whole request, before any command runs."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class Authenticator:
    def __init__(self, engine: Engine, *, disabled: bool) -> None:
        self._engine = engine
        self.disabled = disabled

    def caller(self, *, authorization: str | None, frame_key: str | None = None) -> Caller:
        """The caller the credentials stand for; AuthError(401) when they are missing or wrong."""
        if self.disabled:
            return ANONYMOUS_ADMIN
        header_key = bearer_token(authorization)
        if header_key is not None and frame_key is not None and header_key != frame_key:
            raise AuthError(401, "the frame's key and the Authorization header name different keys; send one key")
        key = header_key or frame_key
        if not key:
            raise AuthError(401, "no credentials: send 'Authorization: Bearer <key>' (or the frame's \"key\")")
        with transaction(self._engine, writes=False) as session:
            caller = caller_for_key(session, key)
        if caller is None:
            raise AuthError(401, "invalid or revoked API key")
        return caller

    def frame_source(self, caller: Caller, src: str | None) -> str | None:
        """The frame's src once checked: it must be the caller's own address, and is filled in when absent."""
        if self.disabled:
            return src
        if src is not None and src != caller.principal:
            raise AuthError(403, f"src {src!r} is not the caller's address; this key belongs to {caller.principal!r}")
        return caller.principal


def bearer_token(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "the Authorization header must be 'Bearer <key>'")
    return token.strip()
