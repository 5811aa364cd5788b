"""ListDevices without a limit streams its answer: chunked, in order, and later commands still run."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

import app.rpc.exchange
import app.rpc.jsonio
from tests.helpers import TEST_PRINCIPAL, create_rollout, ok, untimed

DEVICES = [f"dev-{i:05d}" for i in range(5000)]


@pytest.fixture
def big_rollout(http: TestClient, project: str) -> str:
    rollout_id = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=list(reversed(DEVICES)))
    return rollout_id


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small limits, so a few thousand devices take the streaming path with many chunks."""
    monkeypatch.setattr(app.rpc.exchange, "BUFFER_LIMIT", 10_000)
    monkeypatch.setattr(app.rpc.jsonio, "STREAM_BATCH", 300)


def test_method_route_streams_every_device_in_order(http: TestClient, project: str, big_rollout: str) -> None:
    with http.stream("POST", "/v1/Rollout.ListDevices", json={"projectid": project, "rolloutid": big_rollout}) as r:
        assert r.status_code == 200
        assert "content-length" not in r.headers  # chunked: it was not built whole
        chunks = list(r.iter_bytes())
    devices = json.loads(b"".join(chunks))
    assert [d["id"] for d in devices] == DEVICES
    assert {d["state"] for d in devices} == {"init"}


def test_frame_streams_and_runs_the_commands_after_the_stream(http: TestClient, project: str, big_rollout: str) -> None:
    frame = {
        "v": 1,
        "cmds": [
            {"cmd": "/v1/Rollout.ListDevices", "id": 1, "args": {"projectid": project, "rolloutid": big_rollout}},
            {
                "cmd": "/v1/Rollout.SetState",
                "id": 2,
                "args": {"projectid": project, "rolloutid": big_rollout, "state": "inProgress"},
            },
            {"cmd": "/v1/Rollout.Get", "id": 3, "args": {"projectid": project, "rolloutid": big_rollout}},
        ],
    }
    response = http.post("/v1", json=frame)
    assert response.status_code == 200
    answer = response.json()
    assert answer["dst"] == TEST_PRINCIPAL
    listed, moved, got = answer["resp"]
    assert listed["id"] == 1 and listed["status"] == 0
    assert [d["id"] for d in listed["resp"]] == DEVICES
    assert moved == {"id": 2, "status": 0}
    assert got["resp"]["state"] == "inProgress"


def test_a_limited_page_is_not_streamed(http: TestClient, project: str, big_rollout: str) -> None:
    response = http.post("/v1/Rollout.ListDevices", json={"projectid": project, "rolloutid": big_rollout, "limit": 10})
    assert response.headers["content-length"] == str(len(response.content))
    assert [d["id"] for d in response.json()] == DEVICES[:10]


def test_streaming_with_a_state_filter_and_after(http: TestClient, project: str, big_rollout: str) -> None:
    ok(http, "SetDeviceState", projectid=project, rolloutid=big_rollout, deviceid=DEVICES[7], state="failed")
    failed = ok(http, "ListDevices", projectid=project, rolloutid=big_rollout, state="failed")
    assert untimed(failed) == [{"id": DEVICES[7], "state": "failed"}]
    rest = ok(http, "ListDevices", projectid=project, rolloutid=big_rollout, after=DEVICES[4000])
    assert [d["id"] for d in rest] == DEVICES[4001:]
