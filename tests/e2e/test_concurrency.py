"""Concurrent calls against live servers: no lost update, no illegal transition, no 500.

On PostgreSQL two server processes share one database (the way the service scales out); those tests
exist only when TEST_DATABASE_URL is set, so no run ever reports them skipped. The single-server
tests run on every backend (SQLite always).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.rollout.states import DEVICE_TRANSITIONS
from app.storage.db import make_engine
from app.storage.migrate import upgrade
from tests.helpers import LiveServer, postgres_schema_url

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
SERVER_ADDRESS = "//api.cesanta.com"
RACE_CALLS = 50
CALLER = "//api.cesanta.com/user_123"
# Each server's admin key for CALLER, by server URL.
_KEYS: dict[str, str] = {}


class Server:
    """A LiveServer whose error log lines can be shown when a test fails."""

    def __init__(self, database_url: str) -> None:
        self.live = LiveServer(database_url, SERVER_ADDRESS=SERVER_ADDRESS)
        self.url = self.live.url
        _KEYS[self.url] = self.live.key(CALLER)

    def problems(self) -> list[str]:
        """Log lines that speak of errors (tracebacks included)."""
        lines = self.live.output().splitlines()
        return [line for line in lines if "ERROR" in line or "Traceback" in line or "Error" in line]

    def stop(self) -> None:
        self.live.stop()


@dataclass(frozen=True)
class Answer:
    """One command's answer, with the wall-clock interval the HTTP exchange took."""

    server: str
    args: dict[str, Any]
    http_status: int
    entry: dict[str, Any]
    started: float
    ended: float

    @property
    def status(self) -> int | None:
        status: int | None = self.entry.get("status")
        return status


def call(
    url: str, method: str, args: dict[str, Any], command_id: int = 1, client: httpx.Client | None = None
) -> Answer:
    """One command in one frame (over `client`, or a fresh connection)."""
    if client is None:
        with httpx.Client(timeout=60.0) as fresh:
            return call(url, method, args, command_id, fresh)
    body = {
        "v": 1,
        "src": CALLER,
        "dst": SERVER_ADDRESS,
        "cmds": [{"cmd": f"/v1/Rollout.{method}", "id": command_id, "args": args}],
    }
    started = time.monotonic()
    response = client.post(f"{url}/v1", json=body, headers={"Authorization": f"Bearer {_KEYS[url]}"})
    ended = time.monotonic()
    entry: dict[str, Any] = {}
    if response.status_code == 200:
        (entry,) = response.json()["resp"]
    else:
        entry = {"http_body": response.text}
    return Answer(url, args, response.status_code, entry, started, ended)


def ok(url: str, method: str, **args: Any) -> Any:
    answer = call(url, method, args)
    assert answer.http_status == 200 and answer.status == 0, answer
    return answer.entry.get("resp")


def call_together(jobs: Sequence[tuple[str, str, dict[str, Any]]], spread: float = 0.0) -> list[Answer]:
    """Run (url, method, args) jobs in as many threads, released at once; job i waits i/n of `spread` seconds."""
    barrier = threading.Barrier(len(jobs))

    def run(index: int) -> Answer:
        url, method, args = jobs[index]
        # The client (and its TLS context) is built before the barrier, so the calls really overlap.
        with httpx.Client(timeout=60.0) as client:
            barrier.wait(timeout=30)
            time.sleep(spread * index / len(jobs))
            return call(url, method, args, command_id=index + 1, client=client)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, range(len(jobs))))


def logs(servers: Sequence[Server]) -> str:
    return "\n".join(
        f"--- {s.url}:\n" + "\n".join(s.problems()[-40:] or s.live.output().splitlines()[-20:]) for s in servers
    )


def new_project() -> str:
    return f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"


def new_rollout(url: str, project: str, state: str = "init") -> str:
    rollout_id: str = ok(url, "Create", projectid=project, firmwareid="fw-1", deviceFilter="location=Bathroom")["id"]
    if state != "init":
        ok(url, "SetState", projectid=project, rolloutid=rollout_id, state=state)
    return rollout_id


# --- the checks, shared by the one-server and the two-server tests ---------------------------------


def race_set_state(servers: Sequence[Server], targets: Sequence[str], spread: float) -> None:
    """SetState calls to `targets` race on one rollout that starts inProgress; check every answer.

    With a `spread` the calls are staggered over that many seconds, so they land before, during and
    after the finishes; without one they all collide at once.
    """
    project = new_project()
    urls = [s.url for s in servers]
    rollout_id = new_rollout(urls[0], project, "inProgress")
    jobs = [
        (urls[i % len(urls)], "SetState", {"projectid": project, "rolloutid": rollout_id, "state": target})
        for i, target in enumerate(targets)
    ]
    answers = call_together(jobs, spread=spread)
    final = ok(urls[-1], "Get", projectid=project, rolloutid=rollout_id)["state"]
    context = f"final state {final}; answers:\n" + "\n".join(
        f"  {a.args['state']:>10} -> HTTP {a.http_status} {a.entry}" for a in answers
    )
    context += "\n" + logs(servers)

    # Every answer is a success or a conflict with a reason; never a 500 or a dropped request.
    for answer in answers:
        assert answer.http_status == 200, context
        assert answer.status in (0, 409), context
        if answer.status == 409:
            assert isinstance(answer.entry.get("status_msg"), str) and answer.entry["status_msg"], context

    succeeded = [a for a in answers if a.status == 0]
    finishes = [a for a in succeeded if a.args["state"] == "finished"]
    # The state a rollout ends in is one some caller asked for (or the one it started in).
    assert final in ("inProgress", "paused", "finished"), context
    if final != "inProgress":
        assert any(a.args["state"] == final for a in succeeded), context
    # finished is final: if any finish was answered OK the rollout is finished, and the other way round.
    assert (final == "finished") == bool(finishes), context
    if "finished" not in targets:
        assert final != "finished", context

    for answer in answers:
        if answer.status != 409:
            continue
        message = answer.entry["status_msg"]
        if "try again" in message:  # lost the race too many times: allowed, the caller retries
            continue
        # inProgress <-> paused and anything -> finished are always legal, so the only reason to
        # refuse is that the rollout was already finished: a finish that began before this call ended.
        assert "finished" in message, context
        assert answer.args["state"] != "finished", context
        assert any(f.started < answer.ended for f in finishes), context

    # Whatever started after a finish was answered could only find the rollout finished.
    if finishes:
        first_finish_answered = min(f.ended for f in finishes)
        for answer in answers:
            if answer.started > first_finish_answered and answer.args["state"] != "finished":
                assert answer.status == 409, context

    # And it stays that way for a caller that comes later.
    if final == "finished":
        late = call(urls[0], "SetState", {"projectid": project, "rolloutid": rollout_id, "state": "inProgress"})
        assert late.status == 409, late
        assert ok(urls[-1], "Get", projectid=project, rolloutid=rollout_id)["state"] == "finished"


def race_add_devices(servers: Sequence[Server], *, threads: int = 8, per_call: int = 200, pool: int = 500) -> None:
    """Overlapping AddDevices lists, in different orders, from many callers at once: the union, once each."""
    rng = random.Random(20240611)
    project = new_project()
    urls = [s.url for s in servers]
    rollout_id = new_rollout(urls[0], project, "inProgress")
    ids = [f"//api.cesanta.com/device_{n:04d}" for n in range(pool)]
    lists = [rng.sample(ids, per_call) for _ in range(threads)]
    lists[0] += lists[0][:10]  # duplicates within one list are ignored too
    jobs = [
        (urls[i % len(urls)], "AddDevices", {"projectid": project, "rolloutid": rollout_id, "devices": devices})
        for i, devices in enumerate(lists)
    ]
    answers = call_together(jobs)
    context = "answers:\n" + "\n".join(f"  HTTP {a.http_status} {a.entry}" for a in answers) + "\n" + logs(servers)
    for answer in answers:
        assert answer.http_status == 200, context
        assert answer.status == 0, context

    listed = ok(urls[-1], "ListDevices", projectid=project, rolloutid=rollout_id)
    listed_ids = [device["id"] for device in listed]
    duplicates = [d for d, n in Counter(listed_ids).items() if n > 1]
    assert not duplicates, duplicates
    assert set(listed_ids) == {d for devices in lists for d in devices}
    assert listed_ids == sorted(listed_ids), "ListDevices answers in id order"
    assert all(device["state"] == "init" and "updateCommandId" not in device for device in listed), listed
    assert_counts_match_devices(urls[-1], project, rollout_id, context)


def race_add_devices_opposite_orders(servers: Sequence[Server], rounds: int = 5, size: int = 200) -> None:
    """Two callers add the same new devices in opposite orders at the same moment: both succeed."""
    project = new_project()
    urls = [s.url for s in servers]
    rollout_id = new_rollout(urls[0], project, "inProgress")
    expected: set[str] = set()
    for round_ in range(rounds):
        devices = [f"//api.cesanta.com/device_r{round_}_{n:03d}" for n in range(size)]
        expected.update(devices)
        jobs = [
            (urls[i % len(urls)], "AddDevices", {"projectid": project, "rolloutid": rollout_id, "devices": order})
            for i, order in enumerate((devices, devices[::-1]))
        ]
        answers = call_together(jobs)
        context = f"round {round_}: " + " ".join(f"HTTP {a.http_status} {a.entry}" for a in answers)
        context += "\n" + logs(servers)
        assert [(a.http_status, a.status) for a in answers] == [(200, 0), (200, 0)], context
    listed = ok(urls[-1], "ListDevices", projectid=project, rolloutid=rollout_id)
    assert sorted(device["id"] for device in listed) == sorted(expected)


def mixed_targets(seed: int, finishes: int) -> list[str]:
    """RACE_CALLS targets, paused/inProgress at random, with `finishes` finished among them."""
    rng = random.Random(seed)
    targets = [rng.choice(("paused", "inProgress")) for _ in range(RACE_CALLS - finishes)]
    for _ in range(finishes):
        targets.insert(rng.randrange(len(targets) + 1), "finished")
    return targets


def race_set_device_state(servers: Sequence[Server], seed: int) -> None:
    """SetDeviceState calls race on one device: every answer is a legal move or a 409 naming why."""
    rng = random.Random(seed)
    project = new_project()
    urls = [s.url for s in servers]
    rollout_id = new_rollout(urls[0], project, "inProgress")
    device = "//api.cesanta.com/device_raced"
    ok(urls[0], "AddDevices", projectid=project, rolloutid=rollout_id, devices=[device])
    targets = [rng.choice(("started", "failed", "started", "failed", "succeeded")) for _ in range(RACE_CALLS)]
    jobs = [
        (
            urls[i % len(urls)],
            "SetDeviceState",
            {"projectid": project, "rolloutid": rollout_id, "deviceid": device, "state": target},
        )
        for i, target in enumerate(targets)
    ]
    answers = call_together(jobs)
    (final,) = ok(urls[-1], "ListDevices", projectid=project, rolloutid=rollout_id)
    context = f"final {final}; answers:\n" + "\n".join(
        f"  {a.args['state']:>10} -> HTTP {a.http_status} {a.entry}" for a in answers
    )
    context += "\n" + logs(servers)
    succeeded = [a for a in answers if a.status == 0]
    for answer in answers:
        assert answer.http_status == 200, context
        assert answer.status in (0, 409), context
        if answer.status == 409 and "try again" not in answer.entry["status_msg"]:
            # Refused only for a move the state machine forbids from the state the device was in.
            message = answer.entry["status_msg"]
            assert message.startswith(f"cannot move device {device!r} of rollout {rollout_id} from "), context
            current = message.split(" from ", 1)[1].split(" to ", 1)[0]
            assert answer.args["state"] not in DEVICE_TRANSITIONS[current], context
            assert answer.args["state"] != current, context
    # succeeded is final: once one call to it is answered OK, the device ends there.
    assert (final["state"] == "succeeded") == any(a.args["state"] == "succeeded" for a in succeeded), context
    # The device ends in a state some caller was told it moved to.
    assert final["state"] in {a.args["state"] for a in succeeded} | ({"init"} if not succeeded else set()), context


def race_set_device_state_against(servers: Sequence[Server], rival: str) -> None:
    """SetDeviceState on many devices races a finish or a Delete of their rollout: each answer tells the
    truth about its device (0: it moved; 409/404: it did not), and nothing fails with 500."""
    project = new_project()
    urls = [s.url for s in servers]
    rollout_id = new_rollout(urls[0], project, "inProgress")
    devices = [f"//api.cesanta.com/dev_{n:03d}" for n in range(40)]
    ok(urls[0], "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    jobs: list[tuple[str, str, dict[str, Any]]] = [
        (
            urls[i % len(urls)],
            "SetDeviceState",
            {"projectid": project, "rolloutid": rollout_id, "deviceid": device, "state": "started"},
        )
        for i, device in enumerate(devices)
    ]
    rival_args: dict[str, Any] = {"projectid": project, "rolloutid": rollout_id}
    if rival == "SetState":
        rival_args["state"] = "finished"
    jobs.insert(len(jobs) // 2, (urls[-1], rival, rival_args))
    answers = call_together(jobs)
    context = "answers:\n" + "\n".join(
        f"  {a.args.get('deviceid', rival)} HTTP {a.http_status} {a.entry}" for a in answers
    )
    context += "\n" + logs(servers)
    (rival_answer,) = [a for a in answers if "deviceid" not in a.args]
    assert (rival_answer.http_status, rival_answer.status) == (200, 0), context
    refusal = 409 if rival == "SetState" else 404
    moved = set()
    for answer in answers:
        assert answer.http_status == 200, context
        assert answer.status in (0, refusal), context
        if answer.status == refusal and "deviceid" in answer.args:
            assert rival_answer.started < answer.ended, context  # refused only once the rival was under way
        elif "deviceid" in answer.args:
            moved.add(answer.args["deviceid"])
            assert answer.started < rival_answer.ended, context
    if rival == "SetState":
        listed = ok(urls[0], "ListDevices", projectid=project, rolloutid=rollout_id)
        assert {d["id"] for d in listed if d["state"] == "started"} == moved, context
    else:
        gone = call(urls[0], "Get", {"projectid": project, "rolloutid": rollout_id})
        assert gone.status == 404, gone


# --- one server, every backend (SQLite always) -----------------------------------------------------


@pytest.fixture(scope="module")
def one_server(database_url: str) -> Iterator[Server]:
    server = Server(database_url)
    yield server
    server.stop()


# (finished calls among the 50, seconds the calls are staggered over)
RACES = [(0, 0.0), (3, 0.15), (25, 0.0)]


@pytest.mark.parametrize(("finishes", "spread"), RACES)
def test_set_state_race_one_server(one_server: Server, finishes: int, spread: float) -> None:
    race_set_state([one_server], mixed_targets(seed=finishes, finishes=finishes), spread)


def test_add_devices_overlap_one_server(one_server: Server) -> None:
    race_add_devices([one_server])


def test_add_devices_opposite_orders_one_server(one_server: Server) -> None:
    race_add_devices_opposite_orders([one_server])


def test_add_devices_and_finish_race_one_server(one_server: Server) -> None:
    race_add_devices_against_finish([one_server])


@pytest.mark.parametrize("seed", [1, 2])
def test_set_device_state_race_one_server(one_server: Server, seed: int) -> None:
    race_set_device_state([one_server], seed)


@pytest.mark.parametrize("rival", ["SetState", "Delete"])
def test_set_device_state_against_finish_or_delete_one_server(one_server: Server, rival: str) -> None:
    race_set_device_state_against([one_server], rival)


def race_add_devices_against_finish(servers: Sequence[Server]) -> None:
    """AddDevices calls race a finish: exactly the devices of the calls answered 0 are in the rollout."""
    project = new_project()
    urls = [s.url for s in servers]
    rollout_id = new_rollout(urls[0], project, "inProgress")
    adders = 12
    lists = [[f"//api.cesanta.com/dev_{i:02d}_{n:03d}" for n in range(50)] for i in range(adders)]
    jobs: list[tuple[str, str, dict[str, Any]]] = [
        (urls[i % len(urls)], "AddDevices", {"projectid": project, "rolloutid": rollout_id, "devices": devices})
        for i, devices in enumerate(lists)
    ]
    jobs.insert(
        adders // 2, (urls[-1], "SetState", {"projectid": project, "rolloutid": rollout_id, "state": "finished"})
    )
    answers = call_together(jobs)
    context = "answers:\n" + "\n".join(
        f"  {a.args.get('state', 'AddDevices')} HTTP {a.http_status} {a.entry}" for a in answers
    )
    context += "\n" + logs(servers)
    (finish,) = [a for a in answers if "state" in a.args]
    assert finish.http_status == 200 and finish.status == 0, context
    added: set[str] = set()
    for answer in answers:
        assert answer.http_status == 200, context
        assert answer.status in (0, 409), context
        if answer.status == 409:
            assert "finished" in answer.entry["status_msg"], context
            # Refused because finished: the finish must have been under way before this call ended.
            assert finish.started < answer.ended, context
        elif "devices" in answer.args:
            added.update(answer.args["devices"])
            # Accepted: it cannot have started after the finish was answered.
            assert answer.started < finish.ended, context
    listed = ok(urls[0], "ListDevices", projectid=project, rolloutid=rollout_id)
    assert {device["id"] for device in listed} == added, context
    assert len(listed) == len(added)
    assert ok(urls[0], "Get", projectid=project, rolloutid=rollout_id)["state"] == "finished"


# --- two servers on one PostgreSQL database -----------------------------------------------------------


@pytest.fixture(scope="module", params=["postgresql"])
def postgres_url() -> Iterator[str]:
    """A migrated, empty schema of its own in the TEST_DATABASE_URL database."""
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_schema_url(POSTGRES_URL, schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def two_servers(postgres_url: str) -> Iterator[list[Server]]:
    servers: list[Server] = []
    try:
        servers.append(Server(postgres_url))
        servers.append(Server(postgres_url))
        yield servers
    finally:
        for server in servers:
            server.stop()


if POSTGRES_URL:

    @pytest.mark.parametrize(("finishes", "spread"), RACES)
    def test_set_state_race_two_servers(two_servers: list[Server], finishes: int, spread: float) -> None:
        race_set_state(two_servers, mixed_targets(seed=100 + finishes, finishes=finishes), spread)

    def test_add_devices_overlap_two_servers(two_servers: list[Server]) -> None:
        race_add_devices(two_servers)

    def test_add_devices_opposite_orders_two_servers(two_servers: list[Server]) -> None:
        race_add_devices_opposite_orders(two_servers)

    def test_add_devices_and_finish_race_two_servers(two_servers: list[Server]) -> None:
        race_add_devices_against_finish(two_servers)

    @pytest.mark.parametrize("seed", [3, 4])
    def test_set_device_state_race_two_servers(two_servers: list[Server], seed: int) -> None:
        race_set_device_state(two_servers, seed)

    @pytest.mark.parametrize("rival", ["SetState", "Delete"])
    def test_set_device_state_against_finish_or_delete_two_servers(two_servers: list[Server], rival: str) -> None:
        race_set_device_state_against(two_servers, rival)


# --- progress: claims under a cap, autoFinish against the last reports (issue 14) -------------------


def assert_counts_match_devices(url: str, project: str, rollout_id: str, context: str) -> dict[str, int]:
    """The maintained counts equal the devices' states counted one by one."""
    rollout = ok(url, "Get", projectid=project, rolloutid=rollout_id)
    listed = ok(url, "ListDevices", projectid=project, rolloutid=rollout_id)
    counted = Counter(device["state"] for device in listed)
    expected = {state: counted.get(state, 0) for state in ("init", "started", "succeeded", "failed")}
    assert rollout["counts"] == expected, context
    assert rollout["total"] == len(listed), context
    counts: dict[str, int] = rollout["counts"]
    return counts


def race_claims(servers: Sequence[Server]) -> None:
    """ClaimDevices from many callers at once, then claims racing reports: no device is claimed twice and the
    cap is never exceeded; the counts stay exact."""
    project = new_project()
    urls = [s.url for s in servers]
    cap, devices = 100, [f"//api.cesanta.com/device_{n:04d}" for n in range(300)]
    rollout_id: str = ok(
        urls[0], "Create", projectid=project, firmwareid="fw-1", deviceFilter="a=b", maxInProgress=cap
    )["id"]
    ok(urls[0], "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    ok(urls[0], "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    claim = {"projectid": project, "rolloutid": rollout_id}
    answers = call_together([(urls[i % len(urls)], "ClaimDevices", {**claim, "limit": 15}) for i in range(20)])
    context = "answers:\n" + "\n".join(f"  HTTP {a.http_status} {a.entry}" for a in answers) + "\n" + logs(servers)
    assert all(a.http_status == 200 and a.status == 0 for a in answers), context
    first = [d["id"] for a in answers for d in a.entry["resp"]]
    assert len(first) == len(set(first)) == cap, context  # 20 x 15 asked, the cap of 100 given, none twice

    # Half the claimed devices report while more claims come in.
    done = sorted(first)[:50]
    jobs = [
        (urls[i % len(urls)], "SetDeviceState", {**claim, "deviceid": d, "state": "succeeded"})
        for i, d in enumerate(done)
    ]
    jobs += [(urls[i % len(urls)], "ClaimDevices", {**claim, "limit": 5}) for i in range(20)]
    random.Random(7).shuffle(jobs)
    answers = call_together(jobs)
    context = "answers:\n" + "\n".join(f"  HTTP {a.http_status} {a.entry}" for a in answers) + "\n" + logs(servers)
    assert all(a.http_status == 200 and a.status == 0 for a in answers), context
    second = [d["id"] for a in answers if "limit" in a.args for d in a.entry["resp"]]
    assert len(second) == len(set(second)), context
    assert not set(second) & set(first), context
    assert len(second) <= 50, context  # only the 50 places the reports freed
    counts = assert_counts_match_devices(urls[0], project, rollout_id, context)
    assert counts["started"] == cap - 50 + len(second) <= cap, context
    assert counts["succeeded"] == 50, context


def race_last_reports_and_auto_finish(servers: Sequence[Server]) -> None:
    """The last devices report at once, and a caller pauses the rollout meanwhile: it ends finished by the
    service (once, with one event) or paused by the caller, and every answer agrees with that."""
    project = new_project()
    urls = [s.url for s in servers]
    devices = [f"//api.cesanta.com/device_{n:03d}" for n in range(20)]
    rollout_id: str = ok(urls[0], "Create", projectid=project, firmwareid="fw-1", deviceFilter="a=b", autoFinish=True)[
        "id"
    ]
    ok(urls[0], "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
    ok(urls[0], "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    claim = {"projectid": project, "rolloutid": rollout_id}
    assert len(ok(urls[0], "ClaimDevices", **claim, limit=20)) == 20
    outcomes = {d: ("failed" if n % 4 == 0 else "succeeded") for n, d in enumerate(devices)}
    jobs = [
        (urls[i % len(urls)], "SetDeviceState", {**claim, "deviceid": d, "state": s})
        for i, (d, s) in enumerate(outcomes.items())
    ]
    jobs.insert(15, (urls[-1], "SetState", {**claim, "state": "paused"}))
    answers = call_together(jobs)
    context = "answers:\n" + "\n".join(f"  {a.args} HTTP {a.http_status} {a.entry}" for a in answers)
    context += "\n" + logs(servers)
    assert all(a.http_status == 200 and a.status == 0 for a in answers if "deviceid" in a.args), context
    (pause,) = [a for a in answers if "deviceid" not in a.args]
    rollout = ok(urls[0], "Get", **claim)
    trail = ok(urls[0], "ListEvents", **claim)
    finishes = [e for e in trail if "deviceid" not in e and e["to"] == "finished"]
    counts = assert_counts_match_devices(urls[0], project, rollout_id, context)
    assert counts == {"init": 0, "started": 0, "succeeded": 15, "failed": 5}, context
    assert len([e for e in trail if "deviceid" in e]) == 20 + 20, context  # claimed, then reported
    if pause.status == 0:
        # The caller's pause came first: nothing finishes a paused rollout by itself.
        assert rollout["state"] == "paused" and "reason" not in rollout, context
        assert finishes == [], context
    else:
        assert pause.status == 409 and "finished" in pause.entry["status_msg"], context
        assert rollout["state"] == "finished", context
        assert rollout["reason"] == "finished automatically: every device reported an outcome (15 succeeded, 5 failed)"
        assert len(finishes) == 1 and finishes[0]["by"] == SERVER_ADDRESS, context


def test_claims_race_one_server(one_server: Server) -> None:
    race_claims([one_server])


@pytest.mark.parametrize("attempt", [1, 2])
def test_last_reports_and_auto_finish_race_one_server(one_server: Server, attempt: int) -> None:
    race_last_reports_and_auto_finish([one_server])


if POSTGRES_URL:

    def test_claims_race_two_servers(two_servers: list[Server]) -> None:
        race_claims(two_servers)

    @pytest.mark.parametrize("attempt", [1, 2])
    def test_last_reports_and_auto_finish_race_two_servers(two_servers: list[Server], attempt: int) -> None:
        race_last_reports_and_auto_finish(two_servers)


# --- write groups that lock rollouts in opposite orders (PostgreSQL deadlocks) -----------------------


def race_opposite_write_groups(servers: Sequence[Server], rounds: int = 4) -> None:
    """Frames of SetDeviceState alternating between two rollouts, in opposite orders, at once (write groups on
    SQLite, where a frame's writes share a transaction): every command succeeds, once, and the counts are exact."""
    urls = [s.url for s in servers]
    project = new_project()
    devices = [f"//api.cesanta.com/device_{n:04d}" for n in range(2 * rounds * 32)]
    rollouts = []
    for _ in range(2):
        rollout_id = new_rollout(urls[0], project, "inProgress")
        ok(urls[0], "AddDevices", projectid=project, rolloutid=rollout_id, devices=devices)
        rollouts.append(rollout_id)
    for round_ in range(rounds):
        bodies = []
        for side in range(2):
            order = rollouts if side == 0 else rollouts[::-1]
            mine = devices[(2 * round_ + side) * 32 : (2 * round_ + side + 1) * 32]
            cmds = [
                {
                    "cmd": "/v1/Rollout.SetDeviceState",
                    "id": len(mine) * k + n + 1,
                    "args": {"projectid": project, "rolloutid": rollout, "deviceid": device, "state": "started"},
                }
                for n, device in enumerate(mine)
                for k, rollout in enumerate(order)
            ]
            bodies.append({"v": 1, "src": CALLER, "cmds": cmds})
        barrier = threading.Barrier(2)

        def post(side: int, bodies: list[dict[str, Any]] = bodies, barrier: threading.Barrier = barrier) -> Any:
            url = urls[side % len(urls)]
            with httpx.Client(timeout=60.0) as client:
                barrier.wait(timeout=30)
                response = client.post(
                    f"{url}/v1", json=bodies[side], headers={"Authorization": f"Bearer {_KEYS[url]}"}
                )
            return response.status_code, response.json()

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, range(2)))
        context = f"round {round_}: {str(answers)[:2000]}\n" + logs(servers)
        for status, body in answers:
            assert status == 200, context
            assert [entry["status"] for entry in body["resp"]] == [0] * 64, context
    for rollout_id in rollouts:
        counts = assert_counts_match_devices(urls[0], project, rollout_id, "")
        assert counts["started"] == 2 * rounds * 32
        moved = [e for e in ok(urls[0], "ListEvents", projectid=project, rolloutid=rollout_id) if "deviceid" in e]
        assert len(moved) == 2 * rounds * 32  # each move recorded once: none was applied twice
    assert not any("internal error" in s.live.output() for s in servers), logs(servers)


def test_opposite_write_groups_one_server(one_server: Server) -> None:
    race_opposite_write_groups([one_server])


if POSTGRES_URL:

    def test_opposite_write_groups_two_servers(two_servers: list[Server]) -> None:
        race_opposite_write_groups(two_servers)
