"""The closest RPC-over-FastAPI library: `fastapi-jsonrpc`, with `Rollout.Get` and `Rollout.SetDeviceState`.

Run: `DATABASE_URL=sqlite:///rollout.db uvicorn bench.peers.jsonrpc_api:app --workers 1`.

JSON-RPC 2.0 on `POST /api/v1/jsonrpc`, single calls or batches (a JSON array of calls), e.g.
`{"jsonrpc": "2.0", "id": 1, "method": "Rollout.Get", "params": {"projectid": "p", "rolloutid": "1"}}`.
The methods read and write through SQLModel sessions, one per call. Each method opens its session itself
rather than taking it from a `Depends(get_session)` generator: the library runs the calls of a batch
concurrently, and a session dependency keeps its connection until the call's dependencies are torn down,
so a batch of 100 sync calls exhausts the pool while the threadpool waits on it (a 30 s stall, then errors).
"""

from __future__ import annotations

import os
from typing import Literal

import fastapi_jsonrpc as jsonrpc
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, update
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, select


class Rollout(SQLModel, table=True):
    """Mirrors the service's `rollout` table."""

    __tablename__ = "rollout"

    id: int | None = SQLField(default=None, primary_key=True)
    project_id: str
    name: str | None = None
    firmware_id: str
    device_filter: str
    state: str = "init"


class RolloutDevice(SQLModel, table=True):
    """Mirrors the service's `rollout_device` table."""

    __tablename__ = "rollout_device"

    rollout_id: int = SQLField(primary_key=True, foreign_key="rollout.id")
    device_id: str = SQLField(primary_key=True)
    state: str = "init"
    update_command_id: str | None = None


class RolloutOut(BaseModel):
    id: str
    projectid: str
    state: str
    device_filter: str = Field(serialization_alias="deviceFilter")
    firmwareid: str
    name: str | None = None


class Error(jsonrpc.BaseError):
    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # the library's BaseError.__init__ has no annotations


class RolloutNotFound(Error):
    CODE = 404
    MESSAGE = "rollout not found"


class DeviceNotFound(Error):
    CODE = 4041
    MESSAGE = "device not found"


def _url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


DATABASE_URL = _url(os.environ.get("DATABASE_URL", "sqlite:///rollout.db"))
engine = create_engine(
    DATABASE_URL,
    connect_args={"check_same_thread": False, "timeout": 30} if DATABASE_URL.startswith("sqlite") else {},
    pool_size=int(os.environ.get("POOL_SIZE", "20")),
    max_overflow=int(os.environ.get("MAX_OVERFLOW", "20")),
)


app = jsonrpc.API(title="Rollouts (fastapi-jsonrpc)")
api_v1 = jsonrpc.Entrypoint("/api/v1/jsonrpc")


@api_v1.method(name="Rollout.Get", errors=[RolloutNotFound])
def rollout_get(projectid: str, rolloutid: str) -> RolloutOut:
    if not rolloutid.isdigit():
        raise RolloutNotFound()
    statement = select(Rollout).where(Rollout.id == int(rolloutid), Rollout.project_id == projectid)
    with Session(engine) as session:
        rollout = session.exec(statement).first()
    if rollout is None:
        raise RolloutNotFound()
    return RolloutOut(
        id=str(rollout.id),
        projectid=rollout.project_id,
        state=rollout.state,
        device_filter=rollout.device_filter,
        firmwareid=rollout.firmware_id,
        name=rollout.name,
    )


@api_v1.method(name="Rollout.SetDeviceState", errors=[DeviceNotFound])
def rollout_set_device_state(
    projectid: str,
    rolloutid: str,
    deviceid: str,
    state: Literal["init", "started", "succeeded", "failed"],
) -> None:
    """A plain UPDATE of the device's row, committed per call."""
    del projectid  # the rollout id alone names the rows; a team would trust it here
    if not rolloutid.isdigit():
        raise DeviceNotFound()
    statement = (
        update(RolloutDevice)
        .where(col(RolloutDevice.rollout_id) == int(rolloutid), col(RolloutDevice.device_id) == deviceid)
        .values(state=state)
    )
    with Session(engine) as session:
        result = session.exec(statement)
        session.commit()
    if result.rowcount != 1:
        raise DeviceNotFound()


app.bind_entrypoint(api_v1)  # type: ignore[no-untyped-call]  # unannotated in the library


@app.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}
