"""One HTTP request to the RPC endpoints, as bytes in and (status, bytes) out: no web framework involved."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from typing import Any

from rollout_api.envelope import FrameHead
from rollout_api.spec import MethodSpec
from rollout_api.status import Status

from app.auth.authenticator import Authenticator, AuthError
from app.auth.keys import Caller
from app.rpc.dispatch import Dispatcher
from app.rpc.frames import FrameError, decode_json, read_frame
from app.rpc.jsonio import array_chunks, dumps

log = logging.getLogger("app.rpc.exchange")

HttpResponse = tuple[int, bytes | Iterator[bytes]]
"""HTTP status and body: bytes, or chunks to send as they are produced."""
# Frames up to this size whose commands are all bounded reads run on the event loop (on SQLite).
QUICK_BODY_LIMIT = 64 * 1024
# Answers up to this size are built whole; larger ones (a streamed array) go out in chunks.
BUFFER_LIMIT = 1 << 20


class Exchange:
    """Authenticates, parses and dispatches; every failure becomes the API's error object."""

    def __init__(
        self, *, dispatcher: Dispatcher, authenticator: Authenticator, max_commands: int, quick_reads: bool
    ) -> None:
        self._dispatcher = dispatcher
        self._authenticator = authenticator
        self._max_commands = max_commands
        self._quick_reads = quick_reads

    @property
    def authenticator(self) -> Authenticator:
        return self._authenticator

    @property
    def quick_reads(self) -> bool:
        """Short database reads may run on the event loop (SQLite): a worker-thread hop would cost more."""
        return self._quick_reads

    def may_parse_here(self, body: bytes) -> bool:
        """A body small enough to parse on the event loop, where its commands may then run (see frame_is_quick)."""
        return self._quick_reads and len(body) <= QUICK_BODY_LIMIT

    def read_frame(self, body: bytes) -> FrameHead:
        """The frame's envelope: the body's one parse. FrameError when the body is not a frame."""
        return read_frame(body, max_commands=self._max_commands)

    def frame_is_quick(self, frame: FrameHead) -> bool:
        """True when every command is a bounded read (see method_is_quick)."""
        return all(self._bounded_read(command) for command in frame.cmds)

    def method_is_quick(self, spec: MethodSpec[Any, Any], args: Any) -> bool:
        return self._bounded_read({"cmd": spec.wire_name, "args": args})

    def _bounded_read(self, command: Any) -> bool:
        """A read-only method whose answer is one object, or a page of at most `limit` items."""
        if not isinstance(command, dict):
            return True  # answered with an error at once
        cmd = command.get("cmd")
        spec = self._dispatcher.methods.get(cmd) if isinstance(cmd, str) else None
        if spec is None or not spec.readonly:
            return spec is None
        args = command.get("args")
        return spec.result_item is None or (isinstance(args, dict) and isinstance(args.get("limit"), int))

    def frame(
        self,
        frame: FrameHead | bytes,
        authorization: str | None,
        received: float,
        caller: Caller | None = None,
        request_id: str = "",
    ) -> HttpResponse:
        """POST /v1: a response frame with HTTP 200, or an error object when the request is refused whole.

        `frame` is the body, or its envelope when it was read already; `caller` is the one the
        Authorization header named, when it was checked before the body was read."""
        request_id = request_id or new_request_id()
        try:
            if isinstance(frame, bytes):
                frame = read_frame(frame, max_commands=self._max_commands)
            if caller is None:
                caller = self._authenticator.caller(authorization=authorization, frame_key=frame.key)
            else:
                self._authenticator.check_frame_key(authorization, frame.key)
            reply_to = self._authenticator.frame_source(caller, frame.src)
            # Small answers as one body (one worker-thread hop); past BUFFER_LIMIT, the rest streams.
            chunks = self._dispatcher.stream_frame(frame, reply_to, received, caller, request_id)
            buffered: list[bytes] = []
            size = 0
            for chunk in chunks:
                buffered.append(chunk)
                size += len(chunk)
                if size > BUFFER_LIMIT:
                    return 200, _then(b"".join(buffered), chunks)
            return 200, b"".join(buffered)
        except (FrameError, AuthError) as exc:
            return error(exc.status, exc.message)
        except Exception:
            return _internal_error("/v1", request_id)

    def method(
        self,
        spec: MethodSpec[Any, Any],
        args: Any,
        authorization: str | None,
        caller: Caller | None = None,
        request_id: str = "",
    ) -> HttpResponse:
        """POST /v1/<Service>.<Method>: the bare result with HTTP 200, or the error object with its status.

        `args` is the body, or its args when they were read already (see read_args)."""
        request_id = request_id or new_request_id()
        try:
            if caller is None:
                caller = self._authenticator.caller(authorization=authorization)
            if isinstance(args, bytes):
                args = read_args(args)
            response = self._dispatcher.call(spec, args, caller, request_id)
        except (FrameError, AuthError) as exc:
            return error(exc.status, exc.message)
        except Exception:
            return _internal_error(spec.wire_name, request_id)
        if response.status != Status.OK:
            return error(response.status, response.message)
        if response.stream is not None:
            return 200, _buffer_small(array_chunks(response.stream))
        return 200, dumps(response.result)


def read_args(body: bytes) -> Any:
    """A per-method body's args: its one parse; an empty body is no args. FrameError when it is not JSON."""
    return decode_json(body) if body.strip() else {}


def new_request_id() -> str:
    return secrets.token_hex(6)


def error(status: int, message: str) -> HttpResponse:
    """The error object, with the status code as the HTTP status."""
    return int(status), dumps({"status": int(status), "status_msg": message})


def _buffer_small(chunks: Iterator[bytes]) -> bytes | Iterator[bytes]:
    """Small answers as one body (one worker-thread hop); past BUFFER_LIMIT, the rest streams."""
    buffered: list[bytes] = []
    size = 0
    for chunk in chunks:
        buffered.append(chunk)
        size += len(chunk)
        if size > BUFFER_LIMIT:
            return _then(b"".join(buffered), chunks)
    return b"".join(buffered)


def _then(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    # A generator, so closing it (the client went away) closes `rest` and ends its transaction.
    yield first
    yield from rest


def _internal_error(where: str, request_id: str) -> HttpResponse:
    log.exception("internal error in %s (request id %s)", where, request_id)
    return error(Status.INTERNAL, f"internal error; request id {request_id}")
