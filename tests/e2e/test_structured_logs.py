"""LOG_FORMAT=json: the server's log is one JSON object per line, and each request's line carries its id, the
caller's principal (never the key), the method, the status and the duration."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.helpers import LiveServer, make_key


def _json_lines(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def _output_with_requests(server: LiveServer, request_ids: set[str], timeout: float = 10.0) -> str:
    """The server's output once it holds the log lines of those requests: a request is logged after its answer is
    sent, so the caller can have the answer before the line is written (on a busy machine, well before)."""
    deadline = time.monotonic() + timeout
    while True:
        output = server.output()
        logged = {line.get("request_id") for line in _json_lines(output) if line.get("logger") == "app.requests"}
        if request_ids <= logged or time.monotonic() > deadline:
            return output
        time.sleep(0.05)


def test_json_logs_follow_a_request_by_its_id(database_url: str) -> None:
    server = LiveServer(database_url, LOG_FORMAT="json")
    try:
        key = make_key(database_url, principal="//logs/user", role="admin")
        headers = {"Authorization": f"Bearer {key}", "X-Request-Id": "follow-me-1"}
        answered = httpx.post(f"{server.url}/v1/Rollout.List", json={"projectid": "//logs/p"}, headers=headers)
        assert answered.headers["x-request-id"] == "follow-me-1"
        frame = {"v": 1, "cmds": [{"cmd": "/v1/Rollout.List", "id": 1}, {"cmd": "/v1/Rollout.List", "id": 2}]}
        httpx.post(f"{server.url}/v1", json=frame, headers={**headers, "X-Request-Id": "follow-me-2"})
        output = _output_with_requests(server, {"follow-me-1", "follow-me-2"})
    finally:
        server.stop()
    lines = _json_lines(output)
    # Everything the server logs, its own start-up lines and uvicorn's included, is JSON; only print() is not.
    logged = [
        line
        for line in output.splitlines()
        if line.strip()
        and not line.startswith(("Rollout service on", "No API keys", "It is shown", "    ", "Make more"))
    ]
    assert all(line.startswith("{") for line in logged), logged
    requests = {line["request_id"]: line for line in lines if line.get("logger") == "app.requests"}
    first, second = requests["follow-me-1"], requests["follow-me-2"]
    assert {k: first[k] for k in ("level", "principal", "method", "commands", "status")} == {
        "level": "INFO",
        "principal": "//logs/user",
        "method": "/v1/Rollout.List",
        "commands": 1,
        "status": 200,
    }
    assert (second["method"], second["commands"], second["status"]) == ("/v1", 2, 200)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert isinstance(first["duration_ms"], float)
    assert key not in output
