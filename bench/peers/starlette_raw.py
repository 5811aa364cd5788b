"""The practical limit for Python here: a raw Starlette route over `sqlite3`, with no validation.

Run: `DATABASE=rollout.db uvicorn bench.peers.starlette_raw:app --workers 1`.

`POST /rollouts/get` takes `{"projectid", "rolloutid"}` and answers the rollout as `Rollout.Get` does;
`POST /rollouts/get-batch` takes a list of those and answers a list (the raw limit for batches).
Queries run on one connection straight in the event loop: no threadpool, no ORM, no models.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_connection = sqlite3.connect(os.environ.get("DATABASE", "rollout.db"), check_same_thread=False)
_QUERY = "SELECT id, state, device_filter, firmware_id, name, project_id FROM rollout WHERE id = ? AND project_id = ?"
_NOT_FOUND = Response(b'{"error": "rollout not found"}', status_code=404, media_type="application/json")


def _rollout(args: dict[str, Any]) -> dict[str, Any] | None:
    row = _connection.execute(_QUERY, (args["rolloutid"], args["projectid"])).fetchone()
    if row is None:
        return None
    out = {"id": str(row[0]), "projectid": row[5], "state": row[1], "deviceFilter": row[2], "firmwareid": row[3]}
    if row[4] is not None:
        out["name"] = row[4]
    return out


async def get_rollout(request: Request) -> Response:
    out = _rollout(json.loads(await request.body()))
    if out is None:
        return _NOT_FOUND
    return Response(json.dumps(out), media_type="application/json")


async def get_rollouts(request: Request) -> Response:
    out = [_rollout(args) for args in json.loads(await request.body())]
    return Response(json.dumps(out), media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"status": "ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/rollouts/get", get_rollout, methods=["POST"]),
        Route("/rollouts/get-batch", get_rollouts, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
)
