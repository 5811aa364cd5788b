"""Small helpers for tests that talk to the service through raw frames."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

_ids = itertools.count(1)


def call(http: TestClient, cmd: str, **args: Any) -> dict[str, Any]:
    """Send one command in a frame and return its response entry."""
    command_id = next(_ids)
    body = {"v": 1, "src": "//test", "cmds": [{"cmd": f"/v1/Rollout.{cmd}", "id": command_id, "args": args}]}
    response = http.post("/v1", json=body)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["resp"]
    assert entry["id"] == command_id
    result: dict[str, Any] = entry
    return result


def ok(http: TestClient, cmd: str, **args: Any) -> Any:
    """Call and insist on status 0; returns `resp` (None when the method has no result)."""
    entry = call(http, cmd, **args)
    assert entry["status"] == 0, entry
    return entry.get("resp")


def create_rollout(http: TestClient, project: str, **overrides: Any) -> str:
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Bathroom", "name": "Today's rollout"}
    rollout_id: str = ok(http, "Create", **{**args, **overrides})["id"]
    return rollout_id


def snapshot(http: TestClient) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: compare two snapshots to prove nothing changed."""
    from sqlalchemy import text

    engine = http.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return {
            table: sorted(tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}")))
            for table in ("rollout", "rollout_device")
        }
