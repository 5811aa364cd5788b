"""What a team would write by hand: a FastAPI route that reads a rollout with SQLModel and answers JSON.

Run: `DATABASE_URL=sqlite:///rollout.db uvicorn bench.peers.sqlmodel_route:app --workers 1`.

`POST /rollouts/get` takes `{"projectid": ..., "rolloutid": ...}` (the args of `Rollout.Get`) and answers the
rollout as `Rollout.Get` does: `{"id", "projectid", "state", "deviceFilter", "firmwareid", "name"}` (no `name` when unset).
The session comes from a `Depends` generator, as in SQLModel's tutorial; it holds its connection until the
request is torn down, so keep the load's connection count at or below the pool (POOL_SIZE + MAX_OVERFLOW).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import create_engine
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, select


class Rollout(SQLModel, table=True):
    """Mirrors the service's `rollout` table."""

    __tablename__ = "rollout"

    id: int | None = SQLField(default=None, primary_key=True)
    project_id: str
    name: str | None = None
    firmware_id: str
    device_filter: str
    state: str = "init"


class GetRollout(BaseModel):
    projectid: str
    rolloutid: str


class RolloutOut(BaseModel):
    id: str
    projectid: str
    state: str
    device_filter: str = Field(serialization_alias="deviceFilter")
    firmwareid: str
    name: str | None = None


def _url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


DATABASE_URL = _url(os.environ.get("DATABASE_URL", "sqlite:///rollout.db"))
# The SQLModel tutorial's engine; the pool matches the threadpool so no request waits for a connection.
engine = create_engine(
    DATABASE_URL,
    connect_args={"check_same_thread": False} if DATABASE_URL.startswith("sqlite") else {},
    pool_size=int(os.environ.get("POOL_SIZE", "20")),
    max_overflow=int(os.environ.get("MAX_OVERFLOW", "20")),
)


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

app = FastAPI(title="Rollouts (hand-written FastAPI + SQLModel)")


@app.post("/rollouts/get", response_model=RolloutOut, response_model_exclude_none=True, response_model_by_alias=True)
def get_rollout(body: GetRollout, session: SessionDep) -> RolloutOut:
    if not body.rolloutid.isdigit():
        raise HTTPException(status_code=404, detail="rollout not found")
    statement = select(Rollout).where(Rollout.id == int(body.rolloutid), Rollout.project_id == body.projectid)
    rollout = session.exec(statement).first()
    if rollout is None:
        raise HTTPException(status_code=404, detail="rollout not found")
    return RolloutOut(
        id=str(rollout.id),
        projectid=rollout.project_id,
        state=rollout.state,
        device_filter=rollout.device_filter,
        firmwareid=rollout.firmware_id,
        name=rollout.name,
    )


@app.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}
