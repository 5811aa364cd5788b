"""The shortest path through the service: create, read back, list."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import create_rollout, ok


def test_create_then_get_and_list(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    got = ok(http, "Get", projectid=project, rolloutid=rollout_id)
    assert {k: got[k] for k in got if k not in ("createdAt", "updatedAt")} == {
        "id": rollout_id,
        "projectid": project,
        "name": "Today's rollout",
        "state": "init",
        "deviceFilter": "location=Bathroom",
        "firmwareid": "fw-1",
        "counts": {"init": 0, "started": 0, "succeeded": 0, "failed": 0},
        "total": 0,
        "autoFinish": False,
    }
    listed = ok(http, "List", projectid=project)
    assert [item["id"] for item in listed] == [rollout_id]
    assert listed[0]["projectid"] == project
