"""The ASGI entry point: RPC requests go straight to the exchange, everything else to FastAPI.

POST /v1 and POST /v1/<Service>.<Method> are the hot path; serving them without FastAPI's routing,
dependency solving and middleware stack roughly halves the time a small request takes. FastAPI
still serves the docs, /openapi.json (which documents these routes too) and /healthz.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI
from rollout_api.envelope import FrameHead
from rollout_api.spec import MethodSpec
from rollout_api.status import Status
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import State
from starlette.types import Message, Receive, Scope, Send

from app.auth.authenticator import AuthError
from app.auth.keys import Caller
from app.metrics.traffic import Traffic
from app.rpc.dispatch import NO_CONNECTION
from app.rpc.exchange import Exchange, HttpResponse, error, read_args
from app.rpc.frames import FrameError
from app.rpc.headers import HeaderCheck
from app.rpc.requestlog import RequestRecord, request_id_from

FRAME_PATH = "/v1"
# A body whose key is not in the Authorization header (a frame's "key", or none) is read only this far
# before the key is known: an anonymous caller cannot make the server read or parse 32 MiB.
PRE_AUTH_BODY_BYTES = 1024 * 1024
_T = TypeVar("_T")
_STREAMED = [(b"content-type", b"application/json")]
log = logging.getLogger("app.rpc.asgi")


class RpcApp:
    """ASGI application: the RPC routes, with FastAPI behind them for every other path."""

    def __init__(
        self,
        *,
        fastapi: FastAPI,
        exchange: Exchange,
        methods: Mapping[str, MethodSpec[Any, Any]],
        max_body_bytes: int,
        worker_threads: int,
        allowed_origins: frozenset[str] = frozenset(),
        send_timeout: float = 10.0,
        traffic: Traffic | None = None,
    ) -> None:
        self._send_timeout = send_timeout
        self._traffic = traffic or Traffic()
        self._header_check = HeaderCheck(
            origins_checked=exchange.authenticator.disabled, allowed_origins=allowed_origins
        )
        self.fastapi = fastapi
        self._exchange = exchange
        self._methods = methods
        self._max_body_bytes = max_body_bytes
        self._worker_threads = worker_threads
        self._workers: ThreadPoolExecutor | None = None

    @property
    def state(self) -> State:
        return self.fastapi.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The lifespan's startup and shutdown messages go to FastAPI too: its lifespan (app/composition.py) closes
        # what the app owns, stop_workers() included.
        path = scope["path"] if scope["type"] == "http" else ""
        if path != FRAME_PATH and path not in self._methods:
            await (self._other(scope, receive, send) if path else self.fastapi(scope, receive, send))
            return
        received = time.time()
        checked = self._header_check.check(scope)
        record = RequestRecord(request_id_from(checked.request_id), path)
        respond = partial(self._respond, send, record=record)
        if scope["method"] != "POST":
            not_allowed = error(405, f"{scope['method']} is not allowed on {path}; use POST")
            await respond(not_allowed, headers=[(b"allow", b"POST")])
            return
        if checked.refusal is not None:
            await respond(error(*checked.refusal))
            return
        authorization = checked.authorization
        caller, limit = None, self._max_body_bytes
        if authorization is not None:
            # Credentials before the body: a caller without a valid key never costs a read or parse of it.
            try:
                caller = await self._authenticate(authorization)
            except AuthError as exc:
                await respond(error(exc.status, exc.message))
                return
            except PoolTimeout:
                await respond(error(HTTPStatus.SERVICE_UNAVAILABLE, NO_CONNECTION))
                return
            except Exception:  # the database failed under the key's lookup: still the API's error object
                log.exception("internal error looking up a key (request id %s)", record.request_id)
                await respond(error(Status.INTERNAL, f"internal error; request id {record.request_id}"))
                return
            record.principal = caller.principal
        elif not self._exchange.authenticator.disabled:
            # The key may be inside the frame; until it is known, read only a small body.
            limit = min(limit, PRE_AUTH_BODY_BYTES)
        body = await _read_body(scope, receive, limit, authenticated=limit == self._max_body_bytes)
        if isinstance(body, tuple):
            await respond(body)
            return
        record.body_bytes = len(body)
        exchange = self._exchange
        work: Callable[[], HttpResponse]
        quick = False
        try:
            if path == FRAME_PATH:
                frame: FrameHead | bytes = body
                if exchange.may_parse_here(body):
                    # Parsed here, once: the frame tells whether its commands may run here too.
                    frame = exchange.read_frame(body)
                    quick = exchange.frame_is_quick(frame)
                work = partial(exchange.frame, frame, authorization, received, caller, record, on_loop=quick)
            else:
                spec = self._methods[path]
                args: Any = body
                # Without a known caller the answer is 401 whatever the body holds: it is not read.
                if exchange.may_parse_here(body) and (caller is not None or exchange.authenticator.disabled):
                    args = read_args(body)
                    quick = exchange.method_is_quick(spec, args)
                work = partial(exchange.method, spec, args, authorization, caller, record, on_loop=quick)
        except FrameError as exc:
            await respond(error(exc.status, exc.message))
            return
        # Database calls block. Quick reads run right here: handing them to a worker thread would cost
        # more than the read itself. Everything else runs on a worker thread while the loop serves others.
        # (The hop is written out here rather than through _in_worker: one function less on every request's path.)
        if quick:
            answer = work()
        else:
            answer = await asyncio.get_running_loop().run_in_executor(self._workers or self._start_workers(), work)
        await respond(answer, receive=receive)

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Any other path (docs, health) to FastAPI, with the request id on the answer and in the log."""
        record = RequestRecord(request_id_from(_header(scope, b"x-request-id")), f"{scope['method']} {scope['path']}")
        request_id = record.request_id.encode()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id)]}
            await send(message)

        try:
            await self.fastapi(scope, receive, send_with_id)
        finally:
            record.log(status)

    async def _authenticate(self, authorization: str) -> Caller:
        """The header's caller: from the cache at once, else from the database on a worker thread (the event loop
        never waits for a pooled connection)."""
        authenticator = self._exchange.authenticator
        cached = authenticator.cached_caller(authorization)
        if cached is not None:
            return cached
        return await self._in_worker(partial(authenticator.caller, authorization=authorization))

    async def _in_worker(self, work: Callable[..., _T], *args: Any) -> _T:
        """Run blocking work on the service's own few worker threads (settings.worker_threads), not on
        Starlette's pool of 40: every extra thread that waits on the database also competes for the
        GIL, and with 40 a one-Get request on PostgreSQL took a third longer and its p99 was seconds."""
        workers = self._workers or self._start_workers()
        return await asyncio.get_running_loop().run_in_executor(workers, work, *args)

    def _start_workers(self) -> ThreadPoolExecutor:
        """At first use, and again after stop_workers(): a test may run an app's lifespan more than once."""
        self._workers = ThreadPoolExecutor(max_workers=self._worker_threads, thread_name_prefix="rollout-worker")
        return self._workers

    def stop_workers(self) -> None:
        """Shut the worker threads down, waiting for the work they are doing; queued work is cancelled."""
        workers, self._workers = self._workers, None
        if workers is not None:
            workers.shutdown(wait=True, cancel_futures=True)

    async def _respond(
        self,
        send: Send,
        answer: HttpResponse,
        headers: list[tuple[bytes, bytes]] | None = None,
        *,
        record: RequestRecord,
        receive: Receive | None = None,
    ) -> None:
        """Send the answer, with the request's id in X-Request-Id, then count it (/metrics) and log it."""
        status, body = answer
        request_id = (b"x-request-id", record.request_id.encode())
        if isinstance(body, bytes):
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                request_id,
                *(headers or []),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            self._traffic.add_request(record.method, time.perf_counter() - record.started, record.body_bytes, len(body))
            record.log(status)
            return
        # A streamed answer: each chunk is produced on a worker thread (it reads from the database). It holds a
        # connection and a transaction until it ends, so it ends early when its client goes away or stops
        # reading for longer than the send timeout. (The body was read whole: the next message is a disconnect.)
        gone = asyncio.ensure_future(receive()) if receive is not None else None
        sent = 0
        try:
            start = {"type": "http.response.start", "status": status, "headers": [*_STREAMED, request_id]}
            await self._send_in_time(send, start)
            while (chunk := await self._in_worker(next, body, None)) is not None:
                if gone is not None and gone.done():
                    log.info("client went away during a streamed answer; it stops here")
                    return
                await self._send_in_time(send, {"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
            await self._send_in_time(send, {"type": "http.response.body", "body": b""})
        except TimeoutError:
            log.warning(
                "client read nothing for %ss of a streamed answer; it stops here (SEND_TIMEOUT_SECONDS)",
                self._send_timeout,
            )
        finally:
            if gone is not None:
                gone.cancel()
            close = getattr(body, "close", None)
            if close is not None:
                await self._in_worker(close)
            self._traffic.add_request(record.method, time.perf_counter() - record.started, record.body_bytes, sent)
            record.log(status)

    async def _send_in_time(self, send: Send, message: Message) -> None:
        """Send, or TimeoutError when the client has not taken it within the send timeout."""
        await asyncio.wait_for(send(message), self._send_timeout)


async def _read_body(scope: Scope, receive: Receive, limit: int, *, authenticated: bool) -> bytes | HttpResponse:
    """The whole body, or 413 as soon as it is known to pass `limit` (nothing more is read)."""
    hint = "" if authenticated else "; send the key as 'Authorization: Bearer <key>' for a larger frame"
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return error(Status.TOO_LARGE, f"body of {declared} bytes is larger than the limit of {limit} bytes{hint}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return error(Status.INVALID_ARGUMENT, "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return error(Status.TOO_LARGE, f"body is larger than the limit of {limit} bytes{hint}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
