"""MAX_FRAME_ITEMS: the lists of one frame answer a bounded number of items, so an 11 KB frame cannot make the
server send tens of megabytes. A paged list runs while its limit fits in what is left; one without a limit
runs while anything is left; the command that would cross the bound is answered 413, naming it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.composition import create_app
from app.settings import Settings
from tests.helpers import TEST_PRINCIPAL, cmd, create_rollout, ok

MAX_ITEMS = 5


@pytest.fixture(scope="module")
def small(settings: Settings, admin_key: str) -> Iterator[TestClient]:
    application = create_app(settings.model_copy(update={"max_frame_items": MAX_ITEMS}))
    with TestClient(application, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        yield client
    application.state.engine.dispose()


def _entries(client: TestClient, *cmds: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/v1", json={"v": 1, "src": TEST_PRINCIPAL, "cmds": list(cmds)})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["resp"]
    return entries


def _refusal(asked: str, used: int) -> str:
    return (
        f"{asked} would take this frame past {MAX_ITEMS} items in lists (MAX_FRAME_ITEMS; {used} answered before "
        "this command); page with a smaller limit, or in another frame"
    )


def test_the_list_that_would_cross_the_bound_is_413_and_the_rest_still_run(small: TestClient, project: str) -> None:
    rollout_id = create_rollout(small, project)
    ok(small, "AddDevices", projectid=project, rolloutid=rollout_id, devices=["a", "b", "c"])
    page = {"projectid": project, "rolloutid": rollout_id, "limit": 3}
    entries = _entries(
        small,
        cmd("ListDevices", 1, **page),  # 3 answered
        cmd("ListDevices", 2, **page),  # 3 more would be 6 > 5
        cmd("ListDevices", 3, **{**page, "limit": 2}),  # fits: 5
        cmd("ListDevices", 4, projectid=project, rolloutid=rollout_id),  # nothing left, even for a stream
        cmd("Get", 5, projectid=project, rolloutid=rollout_id),  # not a list: unaffected
    )
    assert [len(e["resp"]) for e in (entries[0], entries[2])] == [3, 2]
    assert entries[1] == {"id": 2, "status": 413, "status_msg": _refusal("limit 3", 3)}
    assert entries[3] == {"id": 4, "status": 413, "status_msg": _refusal("a list without a limit", 5)}
    assert entries[4]["status"] == 0


def test_a_list_without_a_limit_counts_what_it_streamed(small: TestClient, project: str) -> None:
    rollout_id = create_rollout(small, project)
    ok(small, "AddDevices", projectid=project, rolloutid=rollout_id, devices=["a", "b", "c", "d"])
    everything = {"projectid": project, "rolloutid": rollout_id}
    first, second, third = _entries(
        small,
        cmd("ListDevices", 1, **everything),  # 4 answered: 1 left
        cmd("ListDevices", 2, **{**everything, "limit": 2}),
        cmd("ListDevices", 3, **everything),  # 1 left: a stream may still run
    )
    assert len(first["resp"]) == 4
    assert second == {"id": 2, "status": 413, "status_msg": _refusal("limit 2", 4)}
    assert len(third["resp"]) == 4


def test_the_bound_is_per_frame(small: TestClient, project: str) -> None:
    rollout_id = create_rollout(small, project)
    ok(small, "AddDevices", projectid=project, rolloutid=rollout_id, devices=["a", "b", "c"])
    for _ in range(3):
        (entry,) = _entries(small, cmd("ListDevices", 1, projectid=project, rolloutid=rollout_id, limit=5))
        assert len(entry["resp"]) == 3
