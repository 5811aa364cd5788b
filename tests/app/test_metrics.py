"""GET /metrics: the counters and histograms follow the traffic exactly, the state gauges follow the rollouts' own
counts, the pool's use shows, and METRICS_KEY guards the route when set.

The tests share one app and database, so each compares a scrape before its traffic with one after it."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from app.composition import create_app
from app.rpc.asgi import RpcApp
from app.settings import Settings
from app.storage.pool import WaitCountingPool, pool_usage
from tests.helpers import TEST_PRINCIPAL, call, cmd, create_rollout, ok, send

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
GET = "/v1/Rollout.Get"


def scrape(http: TestClient) -> Samples:
    """Every sample of /metrics, by name and labels."""
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def deltas(before: Samples, after: Samples, name: str, label: str) -> dict[str, float]:
    """How much each series of `name` grew, by the value of `label`; series that did not change are left out."""
    grown = {}
    for (sample, labels), value in after.items():
        if sample == name:
            change = value - before.get((sample, labels), 0.0)
            if change:
                grown[dict(labels)[label]] = change
    return grown


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_commands_are_counted_by_method_and_the_status_answered(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    before = scrape(http)

    answer = send(
        http,
        cmd("Get", 1, projectid=project, rolloutid=rollout_id),
        cmd("Get", 2, projectid=project, rolloutid=rollout_id),
        cmd("Get", 3, projectid=project, rolloutid="999999999"),  # 404
        cmd("SetState", 4, projectid=project, rolloutid=rollout_id, state="paused"),  # 409 from init
        {"cmd": "/v1/Rollout.NoSuchMethod", "id": 5, "args": {}},  # 404, under "unknown"
        {"cmd": GET, "id": "six"},  # malformed command: 400, under "unknown"
    )
    assert [entry["status"] for entry in answer["resp"]] == [0, 0, 404, 409, 404, 400]
    writes = send(  # consecutive writes: on SQLite they share one transaction (a write group)
        http,
        cmd("AddDevices", 7, projectid=project, rolloutid=rollout_id, devices=["d1"]),
        cmd("AddDevices", 8, projectid=project, rolloutid=rollout_id, devices=["d2"]),
        cmd("SetState", 9, projectid=project, rolloutid=rollout_id, state="paused"),
    )
    assert [entry["status"] for entry in writes["resp"]] == [0, 0, 409]
    assert http.post(GET, json={"projectid": project, "rolloutid": rollout_id}).status_code == 200
    after = scrape(http)

    commands = {
        (dict(labels)["method"], dict(labels)["status"]): after[name, labels] - before.get((name, labels), 0.0)
        for name, labels in after
        if name == "rollout_commands_total" and after[name, labels] != before.get((name, labels), 0.0)
    }
    assert commands == {
        (GET, "0"): 3,
        (GET, "404"): 1,
        ("/v1/Rollout.SetState", "409"): 2,
        ("/v1/Rollout.AddDevices", "0"): 2,
        ("unknown", "404"): 1,
        ("unknown", "400"): 1,
    }
    timed = deltas(before, after, "rollout_command_duration_seconds_count", "method")
    assert timed == {GET: 4, "/v1/Rollout.SetState": 2, "/v1/Rollout.AddDevices": 2, "unknown": 2}


def test_a_run_answered_whole_counts_each_of_its_commands(http: TestClient, project: str) -> None:
    """A run of Gets that its batch answers whole is noted as one entry for all: each command still counts once,
    in the counter, the histogram's count and its +Inf bucket."""
    rollout_id = create_rollout(http, project)
    before = scrape(http)
    answer = send(http, *(cmd("Get", n, projectid=project, rolloutid=rollout_id) for n in range(1, 6)))
    assert [entry["status"] for entry in answer["resp"]] == [0] * 5
    after = scrape(http)

    assert deltas(before, after, "rollout_commands_total", "method") == {GET: 5}
    assert deltas(before, after, "rollout_command_duration_seconds_count", "method") == {GET: 5}
    infinite = frozenset({("method", GET), ("le", "+Inf")})
    grown = after["rollout_command_duration_seconds_bucket", infinite]
    assert grown - before.get(("rollout_command_duration_seconds_bucket", infinite), 0.0) == 5
    assert deltas(before, after, "rollout_command_duration_seconds_sum", "method")[GET] > 0


def test_requests_frames_and_bytes_are_counted_exactly(http: TestClient, project: str) -> None:
    rollout_id = create_rollout(http, project)
    get_args = {"projectid": project, "rolloutid": rollout_id}
    frames = [
        json.dumps({"v": 1, "src": TEST_PRINCIPAL, "cmds": [{"cmd": GET, "id": n, "args": get_args}] * n}).encode()
        for n in (1, 3)
    ]
    route_body = json.dumps(get_args).encode()
    headers = {"Content-Type": "application/json"}
    before = scrape(http)

    answers = [http.post("/v1", content=body, headers=headers) for body in frames]
    answers.append(http.post(GET, content=route_body, headers=headers))
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    after = scrape(http)

    assert value(after, "rollout_frames_received_total") - value(before, "rollout_frames_received_total") == 2
    requests = deltas(before, after, "rollout_request_duration_seconds_count", "route")
    assert requests == {"/v1": 2, GET: 1}
    sent = sum(len(body) for body in [*frames, route_body])
    assert value(after, "rollout_request_bytes_total") - value(before, "rollout_request_bytes_total") == sent
    answered = sum(len(answer.content) for answer in answers)
    assert value(after, "rollout_response_bytes_total") - value(before, "rollout_response_bytes_total") == answered


def test_histogram_buckets_are_cumulative_and_end_at_the_count(http: TestClient, project: str) -> None:
    ok(http, "Get", projectid=project, rolloutid=create_rollout(http, project))
    samples = scrape(http)
    for name, label, key in (
        ("rollout_command_duration_seconds", "method", GET),
        ("rollout_request_duration_seconds", "route", "/v1"),
    ):
        buckets = sorted(
            (float(dict(labels)["le"]), count)
            for (sample, labels), count in samples.items()
            if sample == f"{name}_bucket" and dict(labels)[label] == key
        )
        counts = [count for _, count in buckets]
        assert counts == sorted(counts), buckets
        assert buckets[-1] == (float("inf"), value(samples, f"{name}_count", **{label: key}))
        assert buckets[0][0] <= 0.0001  # fine enough for commands of tens of microseconds
        assert value(samples, f"{name}_sum", **{label: key}) > 0


def test_state_gauges_are_the_sums_of_what_get_reports(http: TestClient, project: str) -> None:
    before = scrape(http)
    running = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=running, devices=["a", "b", "c", "d"])
    ok(http, "SetState", projectid=project, rolloutid=running, state="inProgress")
    for device, state in (("a", "started"), ("b", "succeeded"), ("c", "failed")):
        ok(http, "SetDeviceState", projectid=project, rolloutid=running, deviceid=device, state=state)
    waiting = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=waiting, devices=["e", "f"])
    paused = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=paused, devices=["g"])
    ok(http, "SetState", projectid=project, rolloutid=paused, state="inProgress")
    ok(http, "SetDeviceState", projectid=project, rolloutid=paused, deviceid="g", state="failed")
    ok(http, "SetState", projectid=project, rolloutid=paused, state="paused")
    finished = create_rollout(http, project)
    ok(http, "SetState", projectid=project, rolloutid=finished, state="finished")
    deleted = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=deleted, devices=["h"])
    ok(http, "Delete", projectid=project, rolloutid=deleted)
    after = scrape(http)

    reported = [ok(http, "Get", projectid=project, rolloutid=r) for r in (running, waiting, paused, finished)]
    rollouts_by_state = Counter(rollout["state"] for rollout in reported)
    devices_by_state: Counter[str] = Counter()
    for rollout in reported:
        devices_by_state.update(rollout["counts"])
    assert deltas(before, after, "rollout_rollouts", "state") == dict(+rollouts_by_state)
    assert deltas(before, after, "rollout_devices", "state") == dict(+devices_by_state)
    # What Get reported, spelt out: the gauges would pass the comparison above if both were wrong alike.
    assert rollouts_by_state == {"init": 1, "inProgress": 1, "paused": 1, "finished": 1}
    assert devices_by_state == {"init": 3, "started": 1, "succeeded": 1, "failed": 2}


def test_every_state_has_a_series_even_without_rollouts(http: TestClient) -> None:
    samples = scrape(http)
    rollout_states = {dict(labels)["state"] for name, labels in samples if name == "rollout_rollouts"}
    device_states = {dict(labels)["state"] for name, labels in samples if name == "rollout_devices"}
    assert rollout_states == {"init", "inProgress", "paused", "finished"}
    assert device_states == {"init", "started", "succeeded", "failed"}


def test_connections_in_use_are_read_from_the_pool(http: TestClient, app: RpcApp) -> None:
    before = value(scrape(http), "rollout_db_connections_in_use")
    held = app.state.engine.raw_connection()
    try:
        assert value(scrape(http), "rollout_db_connections_in_use") == before + 1
    finally:
        held.close()
    assert value(scrape(http), "rollout_db_connections_in_use") == before


def test_callers_waiting_for_a_connection_are_counted() -> None:
    """A pool of one connection, lent out; a second caller waits in connect() until it is given back."""
    opening, may_open = threading.Event(), threading.Event()

    def open_connection() -> Any:
        import sqlite3

        if opening.is_set():
            raise AssertionError("a pool of one connection opened a second")
        opening.set()
        may_open.wait()
        return sqlite3.connect(":memory:", check_same_thread=False)

    engine = create_engine(
        "sqlite://", creator=open_connection, poolclass=WaitCountingPool, pool_size=1, max_overflow=0
    )
    try:
        first = threading.Thread(target=lambda: engine.raw_connection().close())
        first.start()
        opening.wait()  # the first caller is inside connect(), its connection still opening
        assert pool_usage(engine) == (1, 1)
        may_open.set()
        first.join()
        assert pool_usage(engine) == (0, 0)
    finally:
        may_open.set()
        engine.dispose()


def test_the_output_is_prometheus_text_with_the_documented_families(http: TestClient, project: str) -> None:
    ok(http, "Get", projectid=project, rolloutid=create_rollout(http, project))
    response = http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    kinds = {family.name: family.type for family in text_string_to_metric_families(response.text)}
    assert kinds == {
        "rollout_commands": "counter",
        "rollout_command_duration_seconds": "histogram",
        "rollout_request_duration_seconds": "histogram",
        "rollout_frames_received": "counter",
        "rollout_request_bytes": "counter",
        "rollout_response_bytes": "counter",
        "rollout_db_connections_in_use": "gauge",
        "rollout_db_connections_waiting": "gauge",
        "rollout_rollouts": "gauge",
        "rollout_devices": "gauge",
    }


def test_without_metrics_key_the_route_is_open(app: RpcApp) -> None:
    anonymous = TestClient(app)  # no Authorization header at all (and no second run of the shared app's lifespan)
    assert anonymous.get("/metrics").status_code == 200


def test_metrics_key_is_required_when_set(settings: Settings) -> None:
    guarded = create_app(Settings(database_url=settings.database_url, metrics_key="s3cret"))
    try:
        with TestClient(guarded) as client:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
                refused = client.get("/metrics", headers=headers)
                assert refused.status_code == 401, headers
                assert refused.json() == {
                    "status": 401,
                    "status_msg": "/metrics needs 'Authorization: Bearer <METRICS_KEY>'",
                }
                assert "rollout_" not in refused.text
            allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
            assert allowed.status_code == 200
            assert any(family.name == "rollout_commands" for family in text_string_to_metric_families(allowed.text))
    finally:
        guarded.state.engine.dispose()


def test_metrics_key_comes_from_the_environment_and_is_documented(http: TestClient) -> None:
    key = Settings.from_env({"METRICS_KEY": "from-env"}).metrics_key
    assert key is not None and key.get_secret_value() == "from-env"
    assert "from-env" not in repr(Settings.from_env({"METRICS_KEY": "from-env"}))  # never printed with the settings
    assert Settings.from_env({"METRICS_KEY": ""}).metrics_key is None
    operation = http.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert operation["security"] == []
    assert set(operation["responses"]) == {"200", "401"}


def test_a_refused_frame_is_a_request_but_runs_no_command(http: TestClient) -> None:
    before = scrape(http)
    refused = http.post("/v1", content=b"{not json", headers={"Content-Type": "application/json"})
    assert refused.status_code == 400
    entry = call(http, "List", projectid="//api.cesanta.com/nobody")  # one frame that runs, for comparison
    assert entry["status"] == 0
    after = scrape(http)
    assert deltas(before, after, "rollout_request_duration_seconds_count", "route") == {"/v1": 2}
    assert value(after, "rollout_frames_received_total") - value(before, "rollout_frames_received_total") == 1
    assert deltas(before, after, "rollout_commands_total", "method") == {"/v1/Rollout.List": 1}
