"""One HTTP request to the RPC endpoints, as bytes in and (status, bytes) out: no web framework involved."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from rollout_api.envelope import FrameHead
from rollout_api.spec import MethodSpec
from rollout_api.status import Status
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.auth.authenticator import Authenticator, AuthError
from app.auth.keys import Caller
from app.rpc.dispatch import NO_CONNECTION, Dispatcher
from app.rpc.frames import FrameError, decode_json, read_frame
from app.rpc.jsonio import array_chunks, dumps
from app.rpc.requestlog import RequestRecord, new_request_id
from app.rpc.streams import StreamGate

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
        self,
        *,
        dispatcher: Dispatcher,
        authenticator: Authenticator,
        max_commands: int,
        quick_reads: bool,
        streams: StreamGate,
    ) -> None:
        self._dispatcher = dispatcher
        self._authenticator = authenticator
        self._max_commands = max_commands
        self._quick_reads = quick_reads
        self.streams = streams
        methods = dispatcher.methods.items()
        # By name, for the checks that look at every command of a frame before it runs.
        self._writes = frozenset(name for name, spec in methods if not spec.readonly)
        self._listings = frozenset(name for name, spec in methods if spec.result_item is not None)

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
        """A read-only method whose answer is one object, or a page of at most `limit` items. (By name, against
        sets made once: frame_is_quick asks this of every command of a frame.)"""
        cmd = command.get("cmd") if isinstance(command, dict) else None
        if not isinstance(cmd, str):
            return True  # answered with an error at once (as a name no method has is)
        if cmd in self._writes:
            return False
        return cmd not in self._listings or _paged(command.get("args"))

    def _may_stream(self, commands: list[Any]) -> bool:
        """Some command lists without a limit: its answer may stream, holding a connection while it is read."""
        listings = self._listings
        for command in commands:
            cmd = command.get("cmd") if isinstance(command, dict) else None
            if isinstance(cmd, str) and cmd in listings and not _paged(command.get("args")):
                return True
        return False

    def frame(
        self,
        frame: FrameHead | bytes,
        authorization: str | None,
        received: float,
        caller: Caller | None = None,
        record: RequestRecord | None = None,
        *,
        on_loop: bool = False,
    ) -> HttpResponse:
        """POST /v1: a response frame with HTTP 200, or an error object when the request is refused whole.

        `frame` is the body, or its envelope when it was read already; `caller` is the one the
        Authorization header named, when it was checked before the body was read; `on_loop`: it runs
        on the event loop (quick reads), with the loop's own connection."""
        record = record or RequestRecord(new_request_id(), "/v1")
        request_id = record.request_id
        streaming_to = None
        try:
            if isinstance(frame, bytes):
                frame = read_frame(frame, max_commands=self._max_commands)
            if caller is None:
                caller = self._authenticator.caller(authorization=authorization, frame_key=frame.key)
            else:
                self._authenticator.check_frame_key(authorization, frame.key)
            record.principal, record.commands = caller.principal, len(frame.cmds)
            reply_to = self._authenticator.frame_source(caller, frame.src)
            if self._may_stream(frame.cmds):
                streaming_to = self._admit(caller.principal)
            # Small answers as one body (one worker-thread hop); past BUFFER_LIMIT, the rest streams. (_buffer_small
            # written out: one function less between the request and its SQL, tests/app/rpc/test_request_path.py.)
            chunks = self._dispatcher.stream_frame(frame, reply_to, received, caller, request_id, on_loop=on_loop)
            buffered: list[bytes] = []
            size = 0
            for chunk in chunks:
                buffered.append(chunk)
                size += len(chunk)
                if size > BUFFER_LIMIT:
                    rest, streaming_to = self._then(b"".join(buffered), chunks, streaming_to), None
                    return 200, rest
            return 200, b"".join(buffered)
        except (FrameError, AuthError, Unavailable) as exc:
            return error(exc.status, exc.message)
        except PoolTimeout:
            return error(HTTPStatus.SERVICE_UNAVAILABLE, NO_CONNECTION)
        except Exception:
            return _internal_error("/v1", request_id)
        finally:
            if streaming_to is not None:
                self.streams.release(streaming_to)

    def method(
        self,
        spec: MethodSpec[Any, Any],
        args: Any,
        authorization: str | None,
        caller: Caller | None = None,
        record: RequestRecord | None = None,
        *,
        on_loop: bool = False,
    ) -> HttpResponse:
        """POST /v1/<Service>.<Method>: the bare result with HTTP 200, or the error object with its status.

        `args` is the body, or its args when they were read already (see read_args)."""
        record = record or RequestRecord(new_request_id(), spec.wire_name)
        request_id = record.request_id
        streaming_to = None
        try:
            if caller is None:
                caller = self._authenticator.caller(authorization=authorization)
            record.principal = caller.principal
            if isinstance(args, bytes):
                args = read_args(args)
            if self._may_stream([{"cmd": spec.wire_name, "args": args}]):
                streaming_to = self._admit(caller.principal)
            response = self._dispatcher.call(spec, args, caller, request_id, on_loop=on_loop)
            if response.status != Status.OK:
                return error(response.status, response.message)
            if response.stream is None:
                return 200, dumps(response.result)
            chunks = array_chunks(response.stream)
            first, more = _buffer_small(chunks)
            if not more:
                return 200, first
            rest, streaming_to = self._then(first, chunks, streaming_to), None
            return 200, rest
        except (FrameError, AuthError, Unavailable) as exc:
            return error(exc.status, exc.message)
        except PoolTimeout:
            return error(HTTPStatus.SERVICE_UNAVAILABLE, NO_CONNECTION)
        except Exception:
            return _internal_error(spec.wire_name, request_id)
        finally:
            if streaming_to is not None:
                self.streams.release(streaming_to)

    def _admit(self, principal: str) -> str:
        """Count an answer that may stream against the caller's share (Unavailable when it is used up)."""
        refusal = self.streams.admit(principal)
        if refusal is not None:
            raise Unavailable(refusal)
        return principal

    def _then(self, first: bytes, rest: Iterator[bytes], streaming_to: str | None) -> Iterator[bytes]:
        """The answer's first part, then the rest as it is read; closing it (the client went away or stalled)
        closes `rest`, which ends its transaction and gives its connection back."""
        try:
            if first:
                yield first
            yield from rest
        finally:
            close = getattr(rest, "close", None)
            if close is not None:
                close()
            if streaming_to is not None:
                self.streams.release(streaming_to)


def _paged(args: Any) -> bool:
    """The args give a list a limit (3 or 3.0, one JSON number): its answer is one page, not a stream."""
    limit = args.get("limit") if isinstance(args, dict) else None
    return isinstance(limit, int) or (isinstance(limit, float) and limit.is_integer())


def read_args(body: bytes) -> Any:
    """A per-method body's args: its one parse. FrameError when it is not JSON, an empty body included: the
    route's request body is required (send {} for no args), as POST /v1 requires its frame."""
    return decode_json(body)


def error(status: int, message: str) -> HttpResponse:
    """The error object, with the status code as the HTTP status."""
    return int(status), dumps({"status": int(status), "status_msg": message})


def _buffer_small(chunks: Iterator[bytes]) -> tuple[bytes, bool]:
    """The answer's chunks up to BUFFER_LIMIT as one body, and whether more are left to stream."""
    buffered: list[bytes] = []
    size = 0
    for chunk in chunks:
        buffered.append(chunk)
        size += len(chunk)
        if size > BUFFER_LIMIT:
            return b"".join(buffered), True
    return b"".join(buffered), False


class Unavailable(Exception):
    """The server cannot take this request now (503): the caller may try again."""

    status = HTTPStatus.SERVICE_UNAVAILABLE

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _internal_error(where: str, request_id: str) -> HttpResponse:
    log.exception("internal error in %s (request id %s)", where, request_id)
    return error(Status.INTERNAL, f"internal error; request id {request_id}")
