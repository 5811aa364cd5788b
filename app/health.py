"""/readyz: the process can serve (its database answers, at the schema revision this server expects), where
/healthz (app/composition.py) says only that it is alive. An orchestrator restarts a server that is not alive
and sends no traffic to one that is not ready."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from app.storage import readiness
from app.storage.migrate import head_revision


class Ready(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    status: str = "ready"
    revision: str
    """The database's schema revision: the newest migration's."""


class NotReady(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    status: str = "not ready"
    problems: list[str]
    """What is wrong, each in a sentence that says what to do."""


def add_readiness_route(fastapi: FastAPI, engine: Engine) -> None:
    """GET /readyz: 200 when the database can be served, else 503 naming what is wrong."""
    head = head_revision()

    # A plain function: FastAPI runs it on a thread, since it waits on the database.
    def ready() -> JSONResponse:
        problems = readiness.problems(engine, head)
        if problems:
            return JSONResponse(NotReady(problems=problems).model_dump(), status_code=503)
        return JSONResponse(Ready(revision=head).model_dump())

    fastapi.add_api_route(
        "/readyz",
        ready,
        methods=["GET"],
        tags=["Health"],
        summary="Readiness check",
        description="200 when the database answers at the schema revision this server expects; 503 naming what "
        "is wrong otherwise (a missing or read-only SQLite file, no or another schema revision, no database).",
        response_model=Ready,
        responses={503: {"model": NotReady, "description": "Not ready: `problems` says why."}},
        openapi_extra={"security": []},
    )
