"""Assemble the service: engine, dispatch, auth, the RPC endpoints, and FastAPI for docs and health."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI, Request
from fastapi.responses import Response
from rollout_api.methods import METHODS, SERVICES
from rollout_api.status import Status
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth import Authenticator
from app.db import make_engine
from app.dispatch import Dispatcher, HandlerFactory
from app.docs import mount_docs
from app.exchange import Exchange, error
from app.openapi import openapi_builder
from app.rollout.service import rollout_handlers
from app.rpc_asgi import RpcApp
from app.settings import Settings

API_DOC = (
    "Which firmware goes to which devices, and how far each device has got. "
    "Every method is reachable in two ways: inside a Clubby v1 frame sent to `POST /v1`, "
    "or on its own route `POST /v1/<Service>.<Method>` with the args object as the body."
)


def handler_factories(settings: Settings) -> Mapping[str, HandlerFactory]:
    """Which class implements each service: the one place the app names its services."""
    return {"Rollout": rollout_handlers(settings)}


def create_app(settings: Settings) -> RpcApp:
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(
        methods=METHODS, handlers=handler_factories(settings), engine=engine, server_address=settings.server_address
    )
    authenticator = Authenticator(engine, disabled=settings.auth_disabled, cache_seconds=settings.auth_cache_seconds)
    # Local SQLite reads take microseconds; PostgreSQL reads wait on the network, so they keep to threads.
    quick_reads = engine.dialect.name == "sqlite"
    exchange = Exchange(
        dispatcher=dispatcher, authenticator=authenticator, max_commands=settings.max_commands, quick_reads=quick_reads
    )
    fastapi = FastAPI(title="Rollout service", version=_version(), description=API_DOC, docs_url=None, redoc_url=None)
    fastapi.state.engine = engine
    fastapi.state.dispatcher = dispatcher
    fastapi.state.authenticator = authenticator

    async def health() -> dict[str, str]:
        return {"status": "ok"}

    fastapi.add_api_route(
        "/healthz", health, methods=["GET"], tags=["Health"], summary="Liveness check", openapi_extra={"security": []}
    )
    fastapi.add_exception_handler(StarletteHTTPException, _http_error)
    mount_docs(fastapi)
    fastapi.openapi = openapi_builder(fastapi, METHODS, SERVICES)  # type: ignore[method-assign]  # documented override
    workers = ThreadPoolExecutor(max_workers=settings.worker_threads, thread_name_prefix="rollout-worker")
    return RpcApp(
        fastapi=fastapi, exchange=exchange, methods=METHODS, max_body_bytes=settings.max_body_bytes, workers=workers
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (no such path, wrong HTTP method) in the API's own error shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        status, body = error(Status.NOT_FOUND, f"No handler for {request.url.path}")
    elif exc.status_code == 405:
        status, body = error(405, f"{request.method} is not allowed on {request.url.path}")
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
