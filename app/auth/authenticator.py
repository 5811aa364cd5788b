"""Who is calling: API keys from the Authorization header or the frame's `key`, checked against their hashes."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from app.auth.keys import Caller, caller_for_key, hash_key
from app.storage.db import standalone_transaction

# Bounds the cache's memory whatever number of keys callers present.
_CACHE_LIMIT = 10_000
# Every caller is this one when authentication is switched off for local experiments.
ANONYMOUS_ADMIN = Caller(principal="//anonymous", role="admin", projects=None)


class AuthError(Exception):
    """401 or 403 for the whole request, before any command runs."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class Authenticator:
    def __init__(self, engine: Engine, *, disabled: bool, cache_seconds: float = 0) -> None:
        self._engine = engine
        self.disabled = disabled
        # Key hash -> (caller, time it stops being trusted). Only keys that worked are remembered, so a
        # new key works at once; a revoked or re-granted one takes effect within cache_seconds.
        self._cache: dict[str, tuple[Caller, float]] = {}
        self._cache_seconds = cache_seconds

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
        return self._lookup(key)

    def cached_caller(self, authorization: str) -> Caller | None:
        """The header's caller when it is known without the database (auth off, or a key checked lately)."""
        if self.disabled:
            return ANONYMOUS_ADMIN
        key = bearer_token(authorization)
        cached = self._cache.get(hash_key(key)) if key else None
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    def check_frame_key(self, authorization: str | None, frame_key: str | None) -> None:
        """A frame's key, when the header already named the caller, must be the same key."""
        if not self.disabled and frame_key is not None and frame_key != bearer_token(authorization):
            raise AuthError(401, "the frame's key and the Authorization header name different keys; send one key")

    def _lookup(self, key: str) -> Caller:
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        with standalone_transaction(self._engine, writes=False) as tx:
            caller = caller_for_key(tx, key)
        if caller is None:
            self._cache.pop(digest, None)
            raise AuthError(401, "invalid or revoked API key")
        if self._cache_seconds > 0:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[digest] = (caller, now + self._cache_seconds)
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
