"""Assemble the service: engine, dispatch, auth, the RPC endpoints, and FastAPI for docs, the dashboard, health
and metrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from rollout_api.methods import METHODS, SERVICES
from rollout_api.server import Services, bind
from rollout_api.spec import MethodSpec
from rollout_api.status import Status
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth.authenticator import Authenticator
from app.docs.openapi import openapi_builder
from app.docs.pages import mount_docs
from app.health import add_readiness_route
from app.metrics.database import DatabaseGauges
from app.metrics.endpoint import add_metrics_route
from app.metrics.traffic import Traffic
from app.metrics.workers import SharedTotals
from app.rollout.service import RolloutHandlers
from app.rollout.timeouts import TimeoutSweeper
from app.rpc.asgi import FRAME_PATH, RpcApp
from app.rpc.context import RequestContext
from app.rpc.dispatch import BatchHandler, Dispatcher, Handler, nearest_method, no_handler
from app.rpc.exchange import Exchange, error
from app.rpc.streams import StreamGate
from app.settings import Settings
from app.storage.db import make_engine, pool_capacity
from app.ui.pages import mount_ui

log = logging.getLogger("app.composition")

API_DOC = (
    "Which firmware goes to which devices, and how far each device has got. "
    "Every method is reachable in two ways: inside a Clubby v1 frame sent to `POST /v1`, "
    "or on its own route `POST /v1/<Service>.<Method>` with the args object as the body."
)


def registered_services(settings: Settings) -> Services[RequestContext]:
    """The implementation of each service: the one place the app names its services. mypy checks each
    against its service's contract, naming a method it lacks or declares differently, and a service added
    to definitions/ is a missing argument here until something implements it."""
    return Services(rollout=RolloutHandlers(settings))


def create_app(
    settings: Settings,
    *,
    services: Services[RequestContext] | None = None,
    methods: Mapping[str, MethodSpec[Any, Any]] = METHODS,
    worker_totals: Path | None = None,
) -> RpcApp:
    """The whole service; `services` replaces the registered implementations (tests pass fakes). `worker_totals`:
    the folder where the worker processes of one server (WORKERS) share their traffic totals for /metrics."""
    engine = make_engine(settings.database_url)
    handlers: dict[str, Handler] = {}
    batches: dict[str, BatchHandler] = {}
    for wire_name, binding in bind(services or registered_services(settings), methods).items():
        if binding.function is None:
            log.warning("%s is defined but not implemented by this server; it answers 501", wire_name)
        else:
            handlers[wire_name] = binding.function
        if binding.batch is not None and settings.batch_commands:
            batches[wire_name] = binding.batch
    # The app's own registry, not prometheus_client's global one: each app (several in one test process) reports
    # its own traffic and its own database.
    traffic = Traffic()
    shared = None if worker_totals is None else SharedTotals(worker_totals, traffic)
    registry = CollectorRegistry()
    registry.register(traffic)
    registry.register(DatabaseGauges(engine))
    dispatcher = Dispatcher(
        methods=methods,
        handlers=handlers,
        batches=batches,
        engine=engine,
        server_address=settings.server_address,
        max_frame_items=settings.max_frame_items,
        traffic=traffic,
    )
    authenticator = Authenticator(engine, disabled=settings.auth_disabled, cache_seconds=settings.auth_cache_seconds)
    # Local SQLite reads take microseconds; PostgreSQL reads wait on the network, so they keep to threads.
    quick_reads = engine.dialect.name == "sqlite"
    # Streamed answers hold a connection while their clients read: they may use what the worker threads and
    # the event loop's own connection leave of the pool, a caller half of that, so the rest keeps answering.
    stream_slots = max(1, pool_capacity(engine) - settings.worker_threads - 1)
    exchange = Exchange(
        dispatcher=dispatcher,
        authenticator=authenticator,
        max_commands=settings.max_commands,
        quick_reads=quick_reads,
        streams=StreamGate(total=stream_slots, per_caller=max(1, stream_slots // 2)),
    )

    sweeper = TimeoutSweeper(engine, interval=settings.timeout_sweep_seconds)

    @asynccontextmanager
    async def lifespan(_fastapi: FastAPI) -> AsyncIterator[None]:
        """While the server runs, devices time out; when it stops: the worker threads finish their work, then
        the pooled connections close."""
        sweeper.start()
        if shared is not None:
            shared.start()
        yield
        if shared is not None:
            shared.stop()
        sweeper.stop()
        application.stop_workers()
        dispatcher.close()
        engine.dispose()

    fastapi = FastAPI(
        title="Rollout service",
        version=_version(),
        description=API_DOC,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    fastapi.state.engine = engine
    fastapi.state.dispatcher = dispatcher
    fastapi.state.authenticator = authenticator

    async def health() -> dict[str, str]:
        return {"status": "ok"}

    fastapi.add_api_route(
        "/healthz", health, methods=["GET"], tags=["Health"], summary="Liveness check", openapi_extra={"security": []}
    )
    add_readiness_route(fastapi, engine)
    add_metrics_route(fastapi, registry, settings.metrics_key)
    fastapi.add_exception_handler(StarletteHTTPException, _http_error)
    mount_docs(fastapi)
    mount_ui(fastapi)
    fastapi.openapi = openapi_builder(fastapi, methods, SERVICES)  # type: ignore[method-assign]  # documented override
    application = RpcApp(
        fastapi=fastapi,
        exchange=exchange,
        methods=methods,
        max_body_bytes=settings.max_body_bytes,
        worker_threads=settings.worker_threads,
        allowed_origins=settings.allowed_origins,
        send_timeout=settings.send_timeout_seconds,
        traffic=traffic,
    )
    return application


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (no such path, wrong HTTP method) in the API's own error shape."""
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if exc.status_code == 404:
        methods: Mapping[str, MethodSpec[Any, Any]] = request.app.state.dispatcher.methods
        # Under /v1/ only a method can have been meant; elsewhere, say so only when a method is near.
        meant_a_method = path.startswith(FRAME_PATH + "/") or nearest_method(path, methods) is not None
        status, body = error(
            Status.NOT_FOUND, no_handler(path, methods) if meant_a_method else f"No handler for {path}"
        )
    elif exc.status_code == 405:
        status, body = error(405, f"{request.method} is not allowed on {path}")
    else:
        status, body = error(exc.status_code, str(exc.detail))
    # Starlette's 405 carries the Allow header; keep it.
    return Response(body, status_code=status, media_type="application/json", headers=exc.headers)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rollout-service")
    except PackageNotFoundError:
        return "0.0.0"
