"""Device timeouts on a running server, on the real clock: the sweep every server process runs shows a timed-out
device in every read within about a second of its expiry (tests/app/rollout/test_progress.py has the rules on
an injected clock)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers import LiveServer

SERVER_ADDRESS = "//api.cesanta.com"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(database_url, SERVER_ADDRESS=SERVER_ADDRESS)
    yield live
    live.stop()


def test_a_device_times_out_within_a_second_of_its_expiry(server: LiveServer) -> None:
    project = f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"
    key = server.key("//api.cesanta.com/updater", "backend")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:

        def ok(method: str, **args: Any) -> Any:
            response = http.post(f"/v1/Rollout.{method}", json={"projectid": project, **args})
            assert response.status_code == 200, response.text
            return response.json()

        rollout_id = ok("Create", firmwareid="fw", deviceFilter="a=b", deviceTimeout=1)["id"]
        ok("AddDevices", rolloutid=rollout_id, devices=["d1", "d2"])
        ok("SetState", rolloutid=rollout_id, state="inProgress")
        assert ok("ClaimDevices", rolloutid=rollout_id, limit=1) == [{"id": "d1"}]
        claimed_at = time.time()
        # Expiry is 1 s after the claim; every read from 1 s after that must show the device failed.
        time.sleep(max(0.0, claimed_at + 2.0 - time.time()))
        rollout = ok("Get", rolloutid=rollout_id)
        assert rollout["counts"] == {"init": 1, "started": 0, "succeeded": 0, "failed": 1}, rollout
        (device,) = ok("ListDevices", rolloutid=rollout_id, state="failed")
        assert (device["id"], device["reason"]) == ("d1", "timeout")
        (event,) = [e for e in ok("ListEvents", rolloutid=rollout_id) if e["to"] == "failed"]
        assert (event["deviceid"], event["by"], event["reason"]) == ("d1", SERVER_ADDRESS, "timeout")
