"""Rollout progress (issue 14): counts, failure thresholds, autoFinish, maxInProgress, ClaimDevices, the event
trail and device timeouts, each rule with exact figures, on both backends.

Timeouts run on a clock the test moves (the app's handlers and the sweeper share it); the real-time sweep of a
running server is tested in tests/e2e/test_progress_live.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rollout_api.server import Services

from app.composition import create_app
from app.rollout.service import RolloutHandlers
from app.rollout.timeouts import TimeoutSweeper
from app.settings import Settings
from app.storage.db import make_engine
from tests.helpers import TEST_PRINCIPAL, call, create_rollout, ok, snapshot

SERVER = "//api.cesanta.com"  # the tests' SERVER_ADDRESS: `by` of the moves the service makes itself


class Clock:
    """Seconds since the epoch, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def clocked(settings: Settings, admin_key: str, clock: Clock) -> Iterator[TestClient]:
    """The app whose handlers read `clock`."""
    application = create_app(settings, services=Services(rollout=RolloutHandlers(settings, clock=clock)))
    with TestClient(application, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        yield client
    application.state.engine.dispose()


@pytest.fixture(scope="module")
def sweeper(clocked: TestClient, clock: Clock) -> TimeoutSweeper:
    return TimeoutSweeper(clocked.app.state.engine, interval=3600, clock=clock)  # type: ignore[attr-defined]


def devices(project: str, count: int) -> list[str]:
    return [f"{project}/device_{n:03d}" for n in range(count)]


def started_rollout(http: TestClient, project: str, count: int, **settings: Any) -> tuple[str, list[str]]:
    """An inProgress rollout with `count` devices in init."""
    rollout_id = create_rollout(http, project, **settings)
    ids = devices(project, count)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=ids)
    ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    return rollout_id, ids


def report(http: TestClient, project: str, rollout_id: str, device: str, state: str, **extra: Any) -> None:
    ok(http, "SetDeviceState", projectid=project, rolloutid=rollout_id, deviceid=device, state=state, **extra)


def get(http: TestClient, project: str, rollout_id: str) -> dict[str, Any]:
    result: dict[str, Any] = ok(http, "Get", projectid=project, rolloutid=rollout_id)
    return result


def counts(http: TestClient, project: str, rollout_id: str) -> dict[str, int]:
    rollout = get(http, project, rollout_id)
    assert rollout["total"] == sum(rollout["counts"].values())
    result: dict[str, int] = rollout["counts"]
    return result


def events(http: TestClient, project: str, rollout_id: str, **args: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = ok(http, "ListEvents", projectid=project, rolloutid=rollout_id, **args)
    return result


def moves(http: TestClient, project: str, rollout_id: str) -> list[tuple[str | None, str, str, str]]:
    """(deviceid, from, to, by) of every event, in order."""
    return [(e.get("deviceid"), e["from"], e["to"], e["by"]) for e in events(http, project, rollout_id)]


def expect_conflict(http: TestClient, method: str, *fragments: str, **args: Any) -> str:
    entry = call(http, method, **args)
    assert entry["status"] == 409, entry
    message: str = entry["status_msg"]
    for fragment in fragments:
        assert fragment in message, message
    return message


# ----------------------------------------------------------------------------------------------------- counts


def test_counts_follow_every_add_and_move(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 5)
    assert counts(http, project, rollout_id) == {"init": 5, "started": 0, "succeeded": 0, "failed": 0}
    # Devices already in the rollout, and repeats in one call, are counted once.
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=[ids[0], f"{project}/x", f"{project}/x"])
    assert counts(http, project, rollout_id) == {"init": 6, "started": 0, "succeeded": 0, "failed": 0}
    report(http, project, rollout_id, ids[0], "started")
    report(http, project, rollout_id, ids[1], "started")
    report(http, project, rollout_id, ids[1], "started")  # a repeat changes nothing
    report(http, project, rollout_id, ids[0], "succeeded")
    report(http, project, rollout_id, ids[2], "failed")
    report(http, project, rollout_id, ids[2], "started")  # a retry of a failed device
    assert counts(http, project, rollout_id) == {"init": 3, "started": 2, "succeeded": 1, "failed": 0}
    assert get(http, project, rollout_id)["total"] == 6


def test_get_shows_settings_as_given_and_times(http: TestClient, project: str) -> None:
    given = {
        "failureThreshold": {"percent": 12.5},
        "maxFailures": 7,
        "deviceTimeout": 600,
        "maxInProgress": 50,
        "autoFinish": True,
    }
    rollout_id = create_rollout(http, project, **given)
    rollout = get(http, project, rollout_id)
    # minReported takes its default of 10.
    assert rollout["failureThreshold"] == {"percent": 12.5, "minReported": 10}
    assert {k: rollout[k] for k in ("maxFailures", "deviceTimeout", "maxInProgress", "autoFinish")} == {
        "maxFailures": 7,
        "deviceTimeout": 600,
        "maxInProgress": 50,
        "autoFinish": True,
    }
    created = datetime.fromisoformat(rollout["createdAt"])
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert rollout["updatedAt"] == rollout["createdAt"]
    assert "reason" not in rollout
    plain = get(http, project, create_rollout(http, project, failureThreshold={"percent": 20, "minReported": 3}))
    assert plain["failureThreshold"] == {"percent": 20, "minReported": 3}
    assert plain["autoFinish"] is False
    assert not {"maxFailures", "deviceTimeout", "maxInProgress"} & set(plain)
    (listed,) = [r for r in ok(http, "List", projectid=project) if r["id"] == rollout_id]
    assert listed == rollout


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ({"failureThreshold": {"percent": 0}}, "args.failureThreshold.percent"),
        ({"failureThreshold": {"percent": 100.5}}, "args.failureThreshold.percent"),
        ({"failureThreshold": {"percent": 10, "minReported": 0}}, "args.failureThreshold.minReported"),
        ({"failureThreshold": {"minReported": 5}}, "args.failureThreshold.percent"),
        ({"maxFailures": 0}, "args.maxFailures"),
        ({"deviceTimeout": 0}, "args.deviceTimeout"),
        ({"maxInProgress": 0}, "args.maxInProgress"),
        ({"autoFinish": "yes"}, "args.autoFinish"),
    ],
)
def test_create_refuses_bad_settings(http: TestClient, project: str, args: dict[str, Any], where: str) -> None:
    before = snapshot(http)
    entry = call(http, "Create", projectid=project, firmwareid="fw", deviceFilter="a=b", **args)
    assert entry["status"] == 400, entry
    assert where in entry["status_msg"], entry
    assert snapshot(http) == before


# ------------------------------------------------------------------------------------------------- thresholds


def test_exactly_the_percent_does_not_pause_one_more_failure_does(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 4, failureThreshold={"percent": 50, "minReported": 2})
    report(http, project, rollout_id, ids[0], "succeeded")
    report(http, project, rollout_id, ids[1], "failed")  # 1 of 2: exactly 50 %
    assert get(http, project, rollout_id)["state"] == "inProgress"
    report(http, project, rollout_id, ids[2], "failed")  # 2 of 3: 66.7 %
    rollout = get(http, project, rollout_id)
    assert rollout["state"] == "paused"
    assert rollout["reason"] == "paused automatically: 2 of 3 reported devices failed (66.7 %), over the 50 % threshold"
    assert rollout["counts"] == {"init": 1, "started": 0, "succeeded": 1, "failed": 2}


def test_one_below_min_reported_does_not_pause(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 5, failureThreshold={"percent": 20, "minReported": 3})
    report(http, project, rollout_id, ids[0], "failed")
    report(http, project, rollout_id, ids[1], "failed")  # 100 %, but only 2 reported
    assert get(http, project, rollout_id)["state"] == "inProgress"
    report(http, project, rollout_id, ids[2], "failed")
    rollout = get(http, project, rollout_id)
    assert rollout["state"] == "paused"
    assert rollout["reason"] == "paused automatically: 3 of 3 reported devices failed (100 %), over the 20 % threshold"


def test_a_success_that_reaches_min_reported_pauses(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 5, failureThreshold={"percent": 50, "minReported": 4})
    for device in ids[:3]:
        report(http, project, rollout_id, device, "failed")
    assert get(http, project, rollout_id)["state"] == "inProgress"
    report(http, project, rollout_id, ids[3], "succeeded")  # 3 of 4 reported failed: 75 %
    rollout = get(http, project, rollout_id)
    assert rollout["state"] == "paused"
    assert rollout["reason"] == "paused automatically: 3 of 4 reported devices failed (75 %), over the 50 % threshold"


def test_max_failures_pauses_past_the_count(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 5, maxFailures=2)
    report(http, project, rollout_id, ids[0], "failed")
    report(http, project, rollout_id, ids[1], "failed")
    assert get(http, project, rollout_id)["state"] == "inProgress"
    report(http, project, rollout_id, ids[2], "failed", reason="flash write error")
    rollout = get(http, project, rollout_id)
    assert rollout["state"] == "paused"
    assert rollout["reason"] == "paused automatically: 3 devices failed, more than maxFailures (2)"
    assert moves(http, project, rollout_id)[-2:] == [
        (ids[2], "init", "failed", TEST_PRINCIPAL),
        (None, "inProgress", "paused", SERVER),
    ]


def test_resumed_rollout_pauses_again_only_on_a_further_failure(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 6, failureThreshold={"percent": 40, "minReported": 2})
    report(http, project, rollout_id, ids[0], "failed")
    report(http, project, rollout_id, ids[1], "failed")
    assert get(http, project, rollout_id)["state"] == "paused"
    ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    resumed = get(http, project, rollout_id)
    assert resumed["state"] == "inProgress"
    assert "reason" not in resumed  # a caller's own move has no reason
    report(http, project, rollout_id, ids[2], "succeeded")  # 2 of 3 failed, still over 40 %: no new failure
    assert get(http, project, rollout_id)["state"] == "inProgress"
    report(http, project, rollout_id, ids[3], "failed")
    paused = get(http, project, rollout_id)
    assert paused["state"] == "paused"
    assert paused["reason"] == "paused automatically: 3 of 4 reported devices failed (75 %), over the 40 % threshold"


def test_paused_rollout_is_not_paused_again(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 4, maxFailures=1)
    for device in ids[:3]:
        report(http, project, rollout_id, device, "failed")
    rollout_moves = [m for m in moves(http, project, rollout_id) if m[0] is None]
    assert rollout_moves == [(None, "init", "inProgress", TEST_PRINCIPAL), (None, "inProgress", "paused", SERVER)]


# ------------------------------------------------------------------------------------------------- autoFinish


def test_auto_finish_on_the_last_outcome(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 3, autoFinish=True)
    report(http, project, rollout_id, ids[0], "succeeded")
    report(http, project, rollout_id, ids[1], "started")
    report(http, project, rollout_id, ids[2], "failed")
    assert get(http, project, rollout_id)["state"] == "inProgress"  # one still started
    report(http, project, rollout_id, ids[1], "succeeded")
    rollout = get(http, project, rollout_id)
    assert rollout["state"] == "finished"
    assert rollout["reason"] == "finished automatically: every device reported an outcome (2 succeeded, 1 failed)"
    assert moves(http, project, rollout_id)[-1] == (None, "inProgress", "finished", SERVER)


def test_without_auto_finish_the_rollout_stays_in_progress(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 2)
    for device in ids:
        report(http, project, rollout_id, device, "succeeded")
    assert get(http, project, rollout_id)["state"] == "inProgress"


def test_a_pause_wins_over_auto_finish_and_resuming_finishes(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 2, autoFinish=True, maxFailures=1)
    report(http, project, rollout_id, ids[0], "failed")
    report(http, project, rollout_id, ids[1], "failed")
    assert get(http, project, rollout_id)["state"] == "paused"
    ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    rollout = get(http, project, rollout_id)
    assert rollout["state"] == "finished"
    assert rollout["reason"] == "finished automatically: every device reported an outcome (0 succeeded, 2 failed)"


# ------------------------------------------------------------------------------------ maxInProgress and claims


def test_claim_respects_max_in_progress(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 5, maxInProgress=2)
    claim = {"projectid": project, "rolloutid": rollout_id}
    assert ok(http, "ClaimDevices", **claim, limit=10, updateCommandId="u1") == [{"id": ids[0]}, {"id": ids[1]}]
    assert ok(http, "ClaimDevices", **claim, limit=10) == []
    expect_conflict(
        http,
        "SetDeviceState",
        "already has 2 devices started, its maxInProgress",
        projectid=project,
        rolloutid=rollout_id,
        deviceid=ids[2],
        state="started",
    )
    report(http, project, rollout_id, ids[0], "succeeded")
    assert ok(http, "ClaimDevices", **claim, limit=10) == [{"id": ids[2]}]
    assert counts(http, project, rollout_id) == {"init": 2, "started": 2, "succeeded": 1, "failed": 0}
    claimed = {d["id"]: d for d in ok(http, "ListDevices", projectid=project, rolloutid=rollout_id, state="started")}
    assert claimed[ids[1]]["updateCommandId"] == "u1"


def test_claim_takes_lowest_ids_up_to_the_limit(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 5)
    claim = {"projectid": project, "rolloutid": rollout_id}
    report(http, project, rollout_id, ids[0], "succeeded")
    assert ok(http, "ClaimDevices", **claim, limit=2) == [{"id": ids[1]}, {"id": ids[2]}]
    assert ok(http, "ClaimDevices", **claim, limit=5) == [{"id": ids[3]}, {"id": ids[4]}]
    assert ok(http, "ClaimDevices", **claim, limit=5) == []
    assert counts(http, project, rollout_id) == {"init": 0, "started": 4, "succeeded": 1, "failed": 0}


@pytest.mark.parametrize("state", ["init", "paused", "finished"])
def test_claim_only_while_in_progress(http: TestClient, project: str, state: str) -> None:
    rollout_id = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=["d1"])
    for step in {"init": [], "paused": ["inProgress", "paused"], "finished": ["finished"]}[state]:
        ok(http, "SetState", projectid=project, rolloutid=rollout_id, state=step)
    before = snapshot(http)
    message = expect_conflict(http, "ClaimDevices", projectid=project, rolloutid=rollout_id, limit=1)
    assert message == f"rollout {rollout_id} is {state}; devices are claimed only while it is inProgress"
    assert snapshot(http) == before


@pytest.mark.parametrize("limit", [0, 10001])
def test_claim_limit_bounds(http: TestClient, project: str, limit: int) -> None:
    rollout_id, _ = started_rollout(http, project, 1)
    entry = call(http, "ClaimDevices", projectid=project, rolloutid=rollout_id, limit=limit)
    assert entry["status"] == 400
    assert "args.limit" in entry["status_msg"]


# --------------------------------------------------------------------------------------- reasons and events


def test_reasons_and_update_times_of_devices(http: TestClient, clocked: TestClient, clock: Clock, project: str) -> None:
    rollout_id, ids = started_rollout(clocked, project, 2)
    clock.now += 10
    report(clocked, project, rollout_id, ids[0], "failed", reason="battery low")
    (failed,) = ok(clocked, "ListDevices", projectid=project, rolloutid=rollout_id, state="failed")
    assert failed["reason"] == "battery low"
    assert datetime.fromisoformat(failed["updatedAt"]).timestamp() == clock.now
    report(clocked, project, rollout_id, ids[0], "started")  # a retry clears the failure's reason
    (retried,) = ok(clocked, "ListDevices", projectid=project, rolloutid=rollout_id, state="started")
    assert "reason" not in retried
    entry = call(
        http,
        "SetDeviceState",
        projectid=project,
        rolloutid=rollout_id,
        deviceid=ids[1],
        state="failed",
        reason="x" * 1025,
    )
    assert entry["status"] == 400 and "args.reason" in entry["status_msg"], entry


def test_events_record_every_move_in_order_and_page(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 3, maxFailures=1)
    report(http, project, rollout_id, ids[0], "started", updateCommandId="u")
    report(http, project, rollout_id, ids[0], "failed", reason="checksum")
    report(http, project, rollout_id, ids[1], "failed")
    everything = events(http, project, rollout_id)
    assert [(e.get("deviceid"), e["from"], e["to"], e["by"], e.get("reason")) for e in everything] == [
        (None, "init", "inProgress", TEST_PRINCIPAL, None),
        (ids[0], "init", "started", TEST_PRINCIPAL, None),
        (ids[0], "started", "failed", TEST_PRINCIPAL, "checksum"),
        (ids[1], "init", "failed", TEST_PRINCIPAL, None),
        (None, "inProgress", "paused", SERVER, "paused automatically: 2 devices failed, more than maxFailures (1)"),
    ]
    assert [int(e["id"]) for e in everything] == sorted(int(e["id"]) for e in everything)
    first = events(http, project, rollout_id, limit=2)
    rest = events(http, project, rollout_id, after=first[-1]["id"])
    assert first + rest == everything
    assert events(http, project, rollout_id, after=everything[-1]["id"]) == []


def test_delete_removes_the_events(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 1)
    report(http, project, rollout_id, ids[0], "succeeded")
    ok(http, "Delete", projectid=project, rolloutid=rollout_id)
    rows = [row for row in snapshot(http)["rollout_event"] if str(row[1]) == rollout_id]
    assert rows == []


# ----------------------------------------------------------------------------------------------------- timeouts


def test_devices_time_out_after_device_timeout(
    clocked: TestClient, clock: Clock, sweeper: TimeoutSweeper, project: str
) -> None:
    rollout_id, ids = started_rollout(clocked, project, 4, deviceTimeout=60, maxFailures=1)
    assert ok(clocked, "ClaimDevices", projectid=project, rolloutid=rollout_id, limit=2) == [
        {"id": ids[0]},
        {"id": ids[1]},
    ]
    clock.now += 30
    report(clocked, project, rollout_id, ids[2], "started")  # started 30 s later than the first two
    clock.now += 30  # exactly 60 s: not longer than the timeout
    sweeper.sweep()
    assert counts(clocked, project, rollout_id)["failed"] == 0
    clock.now += 0.5
    assert sweeper.sweep() == 2
    rollout = get(clocked, project, rollout_id)
    assert rollout["counts"] == {"init": 1, "started": 1, "succeeded": 0, "failed": 2}
    assert rollout["state"] == "paused"
    assert rollout["reason"] == "paused automatically: 2 devices failed, more than maxFailures (1)"
    timed_out = ok(clocked, "ListDevices", projectid=project, rolloutid=rollout_id, state="failed")
    assert [(d["id"], d["reason"]) for d in timed_out] == [(ids[0], "timeout"), (ids[1], "timeout")]
    assert sweeper.sweep() == 0  # each device times out once
    trail = events(clocked, project, rollout_id)
    assert [(e.get("deviceid"), e["to"], e["by"], e.get("reason")) for e in trail[-3:]] == [
        (ids[0], "failed", SERVER, "timeout"),
        (ids[1], "failed", SERVER, "timeout"),
        (None, "paused", SERVER, "paused automatically: 2 devices failed, more than maxFailures (1)"),
    ]
    clock.now += 31
    assert sweeper.sweep() == 1  # the third, 60.5 s after it started, also while the rollout is paused


def test_no_timeout_without_device_timeout(
    clocked: TestClient, clock: Clock, sweeper: TimeoutSweeper, project: str
) -> None:
    rollout_id, _ = started_rollout(clocked, project, 1)
    ok(clocked, "ClaimDevices", projectid=project, rolloutid=rollout_id, limit=1)
    clock.now += 10**7
    sweeper.sweep()
    assert counts(clocked, project, rollout_id)["started"] == 1


def test_sweepers_of_several_servers_fail_each_device_once(
    clocked: TestClient, clock: Clock, database_url: str, project: str
) -> None:
    """Two servers' sweepers (each its own engine: its own connections) at once: one event per device."""
    rollout_id, ids = started_rollout(clocked, project, 40, deviceTimeout=5)
    ok(clocked, "ClaimDevices", projectid=project, rolloutid=rollout_id, limit=40)
    clock.now += 6
    engines = [make_engine(database_url) for _ in range(2)]
    sweepers = [TimeoutSweeper(engine, interval=3600, clock=clock) for engine in engines for _ in range(2)]
    barrier = threading.Barrier(len(sweepers))

    def sweep(sweeper: TimeoutSweeper) -> int:
        barrier.wait(timeout=30)
        return sweeper.sweep()

    try:
        with ThreadPoolExecutor(len(sweepers)) as pool:
            failed = list(pool.map(sweep, sweepers))
    finally:
        for engine in engines:
            engine.dispose()
    assert sum(failed) == 40, failed
    assert counts(clocked, project, rollout_id) == {"init": 0, "started": 0, "succeeded": 0, "failed": 40}
    timeouts = [e for e in events(clocked, project, rollout_id) if e.get("reason") == "timeout"]
    assert sorted(e["deviceid"] for e in timeouts) == ids


def test_claim_and_events_on_their_own_routes(http: TestClient, project: str) -> None:
    rollout_id, ids = started_rollout(http, project, 2)
    args = {"projectid": project, "rolloutid": rollout_id}
    claimed = http.post("/v1/Rollout.ClaimDevices", json={**args, "limit": 1})
    assert (claimed.status_code, claimed.json()) == (200, [{"id": ids[0]}])
    listed = http.post("/v1/Rollout.ListEvents", json={**args, "after": "0"})
    assert [(e.get("deviceid"), e["to"]) for e in listed.json()] == [(None, "inProgress"), (ids[0], "started")]
    ok(http, "SetState", **args, state="paused")
    refused = http.post("/v1/Rollout.ClaimDevices", json={**args, "limit": 1})
    assert refused.status_code == 409
    assert refused.json() == {
        "status": 409,
        "status_msg": f"rollout {rollout_id} is paused; devices are claimed only while it is inProgress",
    }
