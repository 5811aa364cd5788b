"""The FastAPI application: POST /v1 for frames, POST /v1/<Service>.<Method> per method, docs."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from rollout_api.methods import METHODS, SERVICES
from rollout_api.spec import MethodSpec
from rollout_api.status import Status
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth import Authenticator, AuthError
from app.db import make_engine
from app.dispatch import Dispatcher, HandlerFactory
from app.docs import mount_docs
from app.frames import FrameError, decode_json, parse_frame
from app.openapi import frame_operation, method_operation, openapi_builder
from app.rollout.service import rollout_handlers
from app.settings import Settings

API_DOC = (
    "Which firmware goes to which devices, and how far each device has got. "
    "Every method is reachable in two ways: inside a Clubby v1 frame sent to `POST /v1`, "
    "or on its own route `POST /v1/<Service>.<Method>` with the args object as the body."
)
# The frame the docs show first for POST /v1: the seed document's Create.
FRAME_EXAMPLE = "/v1/Rollout.Create"
FRAME_DOC = (
    'Send a Clubby v1 frame: `{"v": 1, "src", "dst", "key", "cmds": [{"cmd", "id", "args"}]}`. '
    "Commands run in order, each in its own transaction; the answer has one response per command."
)


def handler_factories(settings: Settings) -> Mapping[str, HandlerFactory]:
    """Which class implements each service: the one place the app names its services."""
    return {"Rollout": rollout_handlers(settings)}


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(
        methods=METHODS, handlers=handler_factories(settings), engine=engine, server_address=settings.server_address
    )
    tags = [{"name": "Envelope", "description": FRAME_DOC}]
    tags += [{"name": name, "description": doc} for name, doc in SERVICES.items()]
    app = FastAPI(
        title="Rollout service",
        version=_version(),
        description=API_DOC,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.dispatcher = dispatcher

    authenticator = Authenticator(engine, disabled=settings.auth_disabled)
    app.state.authenticator = authenticator

    def answer_frame(body: bytes, authorization: str | None, received: float) -> Response:
        try:
            frame = parse_frame(body, max_commands=settings.max_commands)
            caller = authenticator.caller(authorization=authorization, frame_key=frame.key)
            frame = replace(frame, src=authenticator.frame_source(caller, frame.src))
        except (FrameError, AuthError) as exc:
            return _error(exc.status, exc.message)
        answer = dispatcher.run_frame(frame, received, caller)
        return Response(json.dumps(answer), media_type="application/json")

    async def envelope(request: Request) -> Response:
        received = time.time()
        body = await _read_body(request, settings.max_body_bytes)
        if isinstance(body, Response):
            return body
        return await run_in_threadpool(answer_frame, body, request.headers.get("authorization"), received)

    app.add_api_route(
        "/v1",
        envelope,
        methods=["POST"],
        tags=["Envelope"],
        summary="Send a frame of commands",
        description=FRAME_DOC,
        operation_id="frame",
        openapi_extra=frame_operation(METHODS, first_example=FRAME_EXAMPLE),
    )
    for spec in METHODS.values():
        app.add_api_route(
            spec.wire_name,
            _method_route(dispatcher, authenticator, spec, settings),
            methods=["POST"],
            tags=[spec.service],
            summary=spec.doc,
            description=f"`{spec.service}.{spec.method}`: {spec.doc}",
            operation_id=f"{spec.service}_{spec.method}",
            openapi_extra=method_operation(spec),
        )

    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route(
        "/healthz", health, methods=["GET"], tags=["Health"], summary="Liveness check", openapi_extra={"security": []}
    )
    app.add_exception_handler(StarletteHTTPException, _http_error)
    mount_docs(app)
    app.openapi = openapi_builder(app, tags)  # type: ignore[method-assign]  # FastAPI's documented override
    return app


def _method_route(
    dispatcher: Dispatcher, authenticator: Authenticator, spec: MethodSpec[Any, Any], settings: Settings
) -> Callable[[Request], Awaitable[Response]]:
    def answer(body: bytes, authorization: str | None) -> Response:
        try:
            caller = authenticator.caller(authorization=authorization)
            args = decode_json(body) if body.strip() else {}
        except (FrameError, AuthError) as exc:
            return _error(exc.status, exc.message)
        outcome = dispatcher.call(spec, args, caller)
        if outcome.status != Status.OK:
            return _error(outcome.status, outcome.message)
        return Response(json.dumps(outcome.result), media_type="application/json")

    async def route(request: Request) -> Response:
        body = await _read_body(request, settings.max_body_bytes)
        if isinstance(body, Response):
            return body
        return await run_in_threadpool(answer, body, request.headers.get("authorization"))

    return route


async def _read_body(request: Request, limit: int) -> bytes | Response:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return _error(Status.TOO_LARGE, f"body of {declared} bytes is larger than the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _error(Status.TOO_LARGE, f"body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (no such path, wrong HTTP method) in the API's own error shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _error(Status.NOT_FOUND, f"No handler for {request.url.path}")
    if exc.status_code == 405:
        return _error(405, f"{request.method} is not allowed on {request.url.path}; use POST")
    return _error(exc.status_code, str(exc.detail))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": int(status), "status_msg": message}, status_code=int(status))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rollout-service")
    except PackageNotFoundError:
        return "0.0.0"
