"""GET /metrics: the registry in Prometheus's text format, open or behind METRICS_KEY."""

from __future__ import annotations

import secrets

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import SecretStr

from app.rpc.exchange import error

_DESCRIPTION = (
    "Prometheus text format: commands by method and status, command and request latency, frames and bytes, the "
    "database pool's use, rollouts and devices by state. With METRICS_KEY set it needs "
    "`Authorization: Bearer <METRICS_KEY>` (not an API key); without, it is open."
)


def add_metrics_route(fastapi: FastAPI, registry: CollectorRegistry, key: SecretStr | None) -> None:
    """GET /metrics; `key`: the bearer token a scraper must send, None for none."""
    expected = None if key is None else f"Bearer {key.get_secret_value()}".encode()

    # A plain function: FastAPI runs it on a thread, since the state gauges read the database.
    def metrics(request: Request) -> Response:
        if expected is not None:
            sent = request.headers.get("authorization", "").encode()
            # compare_digest: how much of the key matched must not show in the time the refusal takes.
            if not secrets.compare_digest(sent, expected):
                status, body = error(401, "/metrics needs 'Authorization: Bearer <METRICS_KEY>'")
                return Response(
                    body, status_code=status, media_type="application/json", headers={"WWW-Authenticate": "Bearer"}
                )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    fastapi.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        tags=["Monitoring"],
        summary="Prometheus metrics",
        description=_DESCRIPTION,
        response_class=Response,
        responses={
            200: {"description": "The metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}},
            401: {
                "description": "METRICS_KEY is set and the request did not send it.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            },
        },
        openapi_extra={"security": []},
    )
