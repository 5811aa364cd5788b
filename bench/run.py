"""The service against its peers, in one run on this machine: `python -m bench.run [--quick] [--postgres]`.

Starts our server (`python -m app serve`, one worker) and three peers doing the same work on the same SQLite
file (bench/peers: FastAPI + SQLModel, fastapi-jsonrpc, raw Starlette + sqlite3), loads each in turn with
`wrk` (a fixed connection count, a warm-up, then several rounds taken in rotating order; medians), and times
the scale scenarios (AddDevices of 100,000 devices against a raw `executemany`, ListDevices pages at 1,000,000
vs 1,000 devices, ListDevices without a limit and the server's peak memory, Get of 1,000,000 vs 1,000 devices,
ClaimDevices of 1,000 from 1,000,000, single Get's p99 at 64 connections). SetDeviceState in frames of 100 is also
run by a second process of ours with BATCH_COMMANDS=false (each command alone), by our server as first released
(FIRST_RELEASE_COMMIT, from a git worktree, on a database of its own: the path the throughput issue measured as
"today's") and straight through the driver (bench/throughput.py), and again by two processes of each, as on
PostgreSQL (the issue's targets are judged there). With --postgres it repeats the single-Get and SetDeviceState
scenarios on PostgreSQL with two processes of each server, and ingests a fleet's reports (1,000,000 devices report
started, then succeeded, in frames of 100 from 16 clients).

It prints a table and writes the same as JSON (artifacts/bench-results.json). It exits 1 when anything answered
wrongly (a socket error or time-out, an HTTP status other than 200, a non-zero command status, a JSON-RPC error),
never because of speed unless --strict is given. --quick is the smoke version CI runs: seconds per scenario,
10,000 devices instead of 1,000,000.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.storage.db import make_engine
from bench import server, throughput
from bench.report import Measure, Scenario, Target, table, write_json
from bench.server import ROOT, Service, admin_key, migrate, postgres_schemas, running, worktree
from bench.wrk import Load, WrkResult, run_concurrently, wrk_binary

OURS = "ours"
ONE_BY_ONE = "ours-one-by-one"  # the same server with BATCH_COMMANDS=false: each command alone, as before batches
TWO_WORKERS = "ours, WORKERS=2"  # the same server with two worker processes
# Our server as it was released first, when the throughput issue was written: the path whose 6,950 (SQLite) and
# 5,127 (PostgreSQL) SetDeviceState commands/s that issue calls "today's" and asks us to beat 4x. It is run from a
# git worktree of that commit, on a database of its own, migrated by its own code. BATCH_COMMANDS=false is not that
# path: later work made it faster too (write groups share one transaction per frame, cheaper statements).
FIRST_RELEASE = "first release"
FIRST_RELEASE_COMMIT = "8d83bf9fb028f2699bbcfa92f430bd1b929beda5"
TODAYS_PATH = 4.0  # the bound for SetDeviceState frames against FIRST_RELEASE
OUR_SERVERS = (OURS, ONE_BY_ONE, TWO_WORKERS, FIRST_RELEASE)
SQLMODEL = "fastapi-sqlmodel"
JSONRPC = "fastapi-jsonrpc"
RAW = "starlette-raw"
PEER_MODULES = {SQLMODEL: "sqlmodel_route", JSONRPC: "jsonrpc_api", RAW: "starlette_raw"}
PATHS = {
    OURS: "/v1",
    ONE_BY_ONE: "/v1",
    TWO_WORKERS: "/v1",
    FIRST_RELEASE: "/v1",
    SQLMODEL: "/rollouts/get",
    JSONRPC: "/api/v1/jsonrpc",
    RAW: "/rollouts/get",
}
RAW_BATCH_PATH = "/rollouts/get-batch"
RAW_DRIVER = "raw driver"  # the same row updates straight through the database driver (bench/throughput.py)
CHECKS = {
    **dict.fromkeys(OUR_SERVERS, "frame"),
    SQLMODEL: "http",
    JSONRPC: "jsonrpc",
    RAW: "http",
}
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PROJECTS = 10
SQLITE_SCENARIOS = (
    "get_single",
    "get_batch",
    "set_device_state_batch",
    "sds_two_processes",
    "add_devices",
    "list_devices_page",
    "list_devices_all",
    "get_large",
    "claim_devices",
    "get_p99_64",
    "get_workers",
)
POSTGRES_SCENARIOS = ("pg_get_single", "pg_set_device_state_batch", "pg_fleet_ingestion")


@dataclass(frozen=True)
class Config:
    quick: bool
    rounds: int
    seconds: float
    warmup: float
    threads: int
    connections: int
    batch_connections: int
    batch: int
    rollouts: int
    large_devices: int
    small_devices: int
    page: int
    add_devices: int
    add_reps: int
    sds_devices: int
    page_bodies: int
    claim: int
    claim_reps: int
    fleet_devices: int
    fleet_clients: int
    p99_connections: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        quick = bool(args.quick)
        config = cls(
            quick=quick,
            rounds=args.rounds or (1 if quick else 5),
            seconds=args.seconds or (2 if quick else 5),
            warmup=args.warmup or (1 if quick else 3),
            threads=args.threads,
            connections=args.connections,
            batch_connections=args.batch_connections,
            batch=100,
            rollouts=100 if quick else 1000,
            large_devices=args.devices or (10_000 if quick else 1_000_000),
            small_devices=1000,
            page=1000,
            add_devices=10_000 if quick else 100_000,
            add_reps=1 if quick else 3,
            sds_devices=2_000 if quick else 20_000,
            page_bodies=200,
            claim=1000,
            claim_reps=3 if quick else 10,
            fleet_devices=10_000 if quick else 1_000_000,
            fleet_clients=16,
            p99_connections=64,
        )
        if (config.sds_devices // config.batch) % (2 * config.threads):
            raise SystemExit("the SetDeviceState sweep needs a block count that both wrk processes' threads divide")
        return config


# --- talking to our server while seeding and timing single operations --------------------------------------


class Api:
    """Frames to our server with the admin key; every command must answer status 0."""

    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=1800)

    def close(self) -> None:
        self.http.close()

    def post_frame(self, body: bytes) -> list[Any]:
        response = self.http.post("/v1", content=body, headers={"Content-Type": "application/json"})
        if response.status_code != 200:
            raise RuntimeError(f"POST /v1 answered HTTP {response.status_code}: {response.text[:300]}")
        results = []
        for entry in response.json()["resp"]:
            if entry["status"] != 0:
                raise RuntimeError(f"command {entry.get('id')} answered {entry['status']}: {entry.get('status_msg')}")
            results.append(entry.get("resp"))
        return results

    def run(self, commands: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
        return self.post_frame(_encode(frame(commands)))

    def create_rollouts(self, projects: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(projects), 1000):
            chunk = projects[start : start + 1000]
            commands = [
                ("Create", {"projectid": p, "firmwareid": "fw-2.1.0", "deviceFilter": "room=kitchen", "name": f"r{i}"})
                for i, p in enumerate(chunk, start)
            ]
            ids += [result["id"] for result in self.run(commands)]
        return ids

    def add_devices(self, project: str, rollout: str, devices: Sequence[str]) -> float:
        """Seconds for one AddDevices command over HTTP, the body encoded beforehand."""
        body = _encode(frame([("AddDevices", {"projectid": project, "rolloutid": rollout, "devices": list(devices)})]))
        began = time.perf_counter()
        self.post_frame(body)
        return time.perf_counter() - began


def frame(commands: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    cmds = [{"cmd": f"/v1/Rollout.{method}", "id": i + 1, "args": args} for i, (method, args) in enumerate(commands)]
    return {"v": 1, "cmds": cmds}


def jsonrpc_call(method: str, args: dict[str, Any], call_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "method": f"Rollout.{method}", "params": args}


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def write_bodies(path: Path, bodies: Sequence[Any]) -> Path:
    path.write_text("".join(json.dumps(body, separators=(",", ":")) + "\n" for body in bodies))
    return path


# --- process memory -----------------------------------------------------------------------------------------


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux 4.0+, writing 5 to clear_refs); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextmanager
def rss_sampler(pid: int, every: float = 0.005) -> Iterator[list[int]]:
    """Poll VmRSS while the block runs; the yielded list holds the highest value seen (kB) afterwards."""
    peak = [status_kb(pid, "VmRSS")]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], status_kb(pid, "VmRSS"))
            except (OSError, RuntimeError):
                return
            stop.wait(every)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


# --- the benchmark ------------------------------------------------------------------------------------------


@dataclass
class Seed:
    rollouts: list[tuple[str, str]]  # (project, rollout id) to read
    sds: list[tuple[str, str, list[str]]]  # one (project, rollout id, devices) per server process, for SetDeviceState


@dataclass(frozen=True)
class OwnDatabase:
    """Servers that run on a database of their own (the first release's schema is not ours): its URL, key, seed."""

    url: str
    key: str
    seed: Seed


class Bench:
    def __init__(self, config: Config, folder: Path, only: frozenset[str] | None = None) -> None:
        self.config = config
        self.only = only
        self.folder = folder
        self.rng = random.Random(7)
        self.scenarios: list[Scenario] = []
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.services: dict[str, Service] = {}
        self.logs = folder / "logs"
        self.logs.mkdir()

    # -- wrk rounds --

    def compare(
        self,
        scenario: Scenario,
        loads: Mapping[str, Sequence[Load]],
        *,
        per_request: int,
        unit: str,
        before: Callable[[str], None] | None = None,
    ) -> None:
        """Warm each server up, then run the rounds in rotating order; each server's figures are medians of rounds."""
        config = self.config
        names = list(loads)
        warm_errors = dict.fromkeys(names, 0)
        for name in names:
            if before is not None:
                before(name)
            self.check_alive()
            warm_errors[name] = self._checked(scenario, name, run_concurrently(loads[name], config.warmup))
        rounds: dict[str, list[list[WrkResult]]] = {name: [] for name in names}
        for index in range(config.rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                if before is not None:
                    before(name)
                self.check_alive()
                results = run_concurrently(loads[name], config.seconds)
                self._checked(scenario, name, results)
                rounds[name].append(results)
        for name in names:
            figures = [
                {
                    "rate": sum(r.rate for r in results) * per_request,
                    "p50_ms": statistics.fmean(r.p50_ms for r in results),
                    "p99_ms": max(r.p99_ms for r in results),
                    "requests": sum(r.requests for r in results),
                    # Little's law for a closed loop: what the rate would be without the start-up of each run.
                    "rate_from_latency": sum(
                        load.connections * 1000 / r.mean_ms
                        for load, r in zip(loads[name], results, strict=True)
                        if r.mean_ms
                    )
                    * per_request,
                    "errors": sum(r.errors for r in results),
                }
                for results in rounds[name]
            ]
            load = loads[name][0]
            scenario.measures.append(
                Measure(
                    server=name,
                    value=statistics.median(f["rate"] for f in figures),
                    unit=unit,
                    p50_ms=statistics.median(f["p50_ms"] for f in figures),
                    p99_ms=statistics.median(f["p99_ms"] for f in figures),
                    errors=sum(int(f["errors"]) for f in figures) + warm_errors[name],
                    detail={
                        "rounds": figures,
                        "processes": len(loads[name]),
                        "wrk_threads": load.threads,
                        "connections": sum(each.connections for each in loads[name]),
                        "commands_per_request": per_request,
                        "seconds_per_round": config.seconds,
                        "warmup_seconds": config.warmup,
                    },
                )
            )

    def _checked(self, scenario: Scenario, name: str, results: Sequence[WrkResult]) -> int:
        errors = sum(r.errors for r in results)
        if any(r.requests == 0 for r in results):
            # Our server must answer within a round; a peer may be that slow (its rate then reads low).
            complaint = f"{scenario.key}/{name}: no request completed within a {self.config.seconds:g} s round"
            (self.errors if name.startswith(OURS) else self.warnings).append(complaint)
        if errors:
            socket = sum(r.socket_errors for r in results)
            sample = next((r.bad_sample for r in results if r.bad_sample), "")
            self.errors.append(
                f"{scenario.key}/{name}: {errors} wrong answers ({socket} socket errors or time-outs, "
                f"{errors - socket} bad statuses); first: {sample[:300]}"
            )
        return errors

    def compare_sweeps(
        self,
        scenario: Scenario,
        loads: Mapping[str, Sequence[Load]],
        url: str,
        sds: Sequence[tuple[str, str, list[str]]],
        elsewhere: Mapping[str, OwnDatabase] | None = None,
    ) -> None:
        """compare() for SetDeviceState sweeps: every round starts with the sweeps' devices back in started.

        The servers named in `elsewhere` sweep as many rollouts of their own database instead."""
        others = elsewhere or {}

        def reset(name: str) -> None:
            if name in others:
                own = others[name]
                self.reset_devices(own.url, [rollout for _, rollout, _ in own.seed.sds[: len(sds)]])
            else:
                self.reset_devices(url, [rollout for _, rollout, _ in sds])

        self.compare(scenario, loads, per_request=self.config.batch, unit="cmds/s", before=reset)

    def ratio_targets(self, scenario: Scenario, bounds: Mapping[str, float | None]) -> None:
        ours = scenario.measure(OURS).value
        for peer, bound in bounds.items():
            value = ours / scenario.measure(peer).value if scenario.measure(peer).value else float("inf")
            scenario.targets.append(Target(f"ours/{peer}", value, ">=", bound, row=peer))

    def wanted(self, *keys: str) -> bool:
        return self.only is None or any(key in self.only for key in keys)

    def check_alive(self) -> None:
        for service in self.services.values():
            code = service.process.poll()
            if code is not None:
                raise RuntimeError(f"{service.name} (pid {service.pid}) has exited with code {code} mid-run")

    def scenario(self, key: str, title: str, run: Callable[[Scenario], None]) -> None:
        """Run one scenario; a failure is recorded as an error (with the servers' log tails) and the run goes on."""
        if not self.wanted(key):
            return
        scenario = Scenario(key, title)
        print(f"[{time.strftime('%H:%M:%S')}] {title} ...", flush=True)
        began = time.monotonic()
        try:
            run(scenario)
        except Exception as exc:
            message = f"{key}: {type(exc).__name__}: {exc}"
            self.errors.append(message)
            print(f"  FAILED: {message}\n{traceback.format_exc()}", file=sys.stderr)
            for service in self.services.values():
                if service.process.poll() is not None:
                    message = f"{service.name} exited with code {service.process.returncode}"
                    print(f"  {message}; its log ends:\n{service.log_tail()}", file=sys.stderr)
            return
        self.scenarios.append(scenario)
        for measure in scenario.measures:
            print(f"  {measure.server:24s} {measure.value:12,.2f} {measure.unit}", flush=True)
        print(f"  ({time.monotonic() - began:.0f} s)", flush=True)

    def load(self, server: str, url: str, bodies: Path, key: str | None, *, connections: int) -> Load:
        return Load(
            url=url,
            bodies=bodies,
            check=CHECKS[server],
            key=key if server in OUR_SERVERS else None,
            threads=self.config.threads,
            connections=max(connections, self.config.threads),
        )

    # -- bodies --

    def single_get_bodies(self, server: str, rollouts: Sequence[tuple[str, str]], name: str) -> Path:
        picks = [self.rng.choice(rollouts) for _ in range(1000)]
        args = [{"projectid": p, "rolloutid": r} for p, r in picks]
        if server in OUR_SERVERS:
            bodies: list[Any] = [frame([("Get", a)]) for a in args]
        elif server == JSONRPC:
            bodies = [jsonrpc_call("Get", a) for a in args]
        else:
            bodies = args
        return write_bodies(self.folder / f"{name}-{server}.txt", bodies)

    def batch_get_bodies(self, server: str, rollouts: Sequence[tuple[str, str]], name: str) -> Path:
        bodies: list[Any] = []
        for _ in range(50):
            args = [{"projectid": p, "rolloutid": r} for p, r in (self.rng.choice(rollouts) for _ in range(100))]
            if server == OURS:
                bodies.append(frame([("Get", a) for a in args]))
            elif server == JSONRPC:
                bodies.append([jsonrpc_call("Get", a, i + 1) for i, a in enumerate(args)])
            else:
                bodies.append(args)
        return write_bodies(self.folder / f"{name}-{server}.txt", bodies)

    def sds_bodies(self, server: str, target: tuple[str, str, list[str]], name: str) -> Path:
        """A sweep over the devices in blocks of one batch: all to failed, then all to started, and again.

        Devices start in `started` (reset before every run); started -> failed and failed -> started are both
        legal, so every command is a real, legal transition whichever server runs it.
        """
        project, rollout, devices = target
        batch = self.config.batch
        bodies: list[Any] = []
        for state in ("failed", "started"):
            for start in range(0, len(devices), batch):
                args = [
                    {"projectid": project, "rolloutid": rollout, "deviceid": d, "state": state}
                    for d in devices[start : start + batch]
                ]
                if server in OUR_SERVERS:
                    bodies.append(frame([("SetDeviceState", a) for a in args]))
                else:
                    bodies.append([jsonrpc_call("SetDeviceState", a, i + 1) for i, a in enumerate(args)])
        return write_bodies(self.folder / f"{name}-{server}.txt", bodies)

    # -- seeding --

    def seed(self, api: Api, database_url: str, processes: int) -> Seed:
        config = self.config
        projects = [f"//bench/project_{i % PROJECTS}" for i in range(config.rollouts)]
        rollouts = list(zip(projects, api.create_rollouts(projects), strict=True))
        sds = []
        for index in range(processes):
            project = f"//bench/sds_{index}"
            (rollout,) = api.create_rollouts([project])
            devices = [f"sds-{index}-{i:07d}" for i in range(config.sds_devices)]
            api.add_devices(project, rollout, devices)
            sds.append((project, rollout, devices))
        self.reset_devices(database_url, [rollout for _, rollout, _ in sds])
        return Seed(rollouts=rollouts, sds=sds)

    def reset_devices(self, database_url: str, rollouts: Sequence[str]) -> None:
        """Every device of the rollouts back to started (their counts and events follow, by the triggers)."""
        engine = make_engine(database_url)
        lock = "SELECT id FROM rollout WHERE id = :r FOR NO KEY UPDATE" if engine.dialect.name == "postgresql" else ""
        try:
            for attempt in range(5):
                try:
                    with engine.begin() as connection:
                        for rollout in rollouts:
                            # The rollout's row first, as the service's writers take it; a peer's commands still
                            # finishing from the last round (they lock a device, then the rollout) may yet
                            # deadlock with this, so it is tried again.
                            if lock:
                                connection.execute(text(lock), {"r": int(rollout)})
                            statement = text("UPDATE rollout_device SET state = 'started' WHERE rollout_id = :r")
                            connection.execute(statement, {"r": int(rollout)})
                    return
                except OperationalError:
                    if attempt == 4:
                        raise
                    time.sleep(1)
        finally:
            engine.dispose()

    @contextmanager
    def first_release(self, url: str, names: Sequence[str], env: Mapping[str, str]) -> Iterator[OwnDatabase]:
        """FIRST_RELEASE's server, one process per name, on the database at `url` (empty), seeded as ours is."""
        with worktree(FIRST_RELEASE_COMMIT, self.folder) as root:
            migrate(url, root)
            key = admin_key(url, root)
            services = [server.start(name, "ours", {**env, "DATABASE_URL": url}, self.logs, root) for name in names]
            try:
                server.wait_ready(services)
                api = Api(services[0].url, key)
                try:
                    seed = self.seed(api, url, processes=len(names))
                finally:
                    api.close()
                self.services.update({service.name: service for service in services})
                yield OwnDatabase(url, key, seed)
            finally:
                for service in services:
                    self.services.pop(service.name, None)
                server.stop(services)

    def start_first_release(
        self, stack: ExitStack, url: str, names: Sequence[str], env: Mapping[str, str] | None = None
    ) -> dict[str, OwnDatabase]:
        """first_release() entered on `stack`, as {FIRST_RELEASE: its database} for compare_sweeps' `elsewhere`;
        empty (and an error recorded) when it cannot be started, so that the scenarios still measure the others."""
        try:
            return {FIRST_RELEASE: stack.enter_context(self.first_release(url, names, env or {}))}
        except Exception as exc:
            detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else ""
            self.errors.append(f"{FIRST_RELEASE} ({FIRST_RELEASE_COMMIT[:7]}) could not be started: {exc} {detail}")
            print(f"  FAILED: {self.errors[-1]}", file=sys.stderr)
            return {}

    # -- SQLite: the service and all three peers on one file --

    def sqlite(self) -> None:
        if not self.wanted(*SQLITE_SCENARIOS):
            return
        config = self.config
        path = self.folder / "bench.db"
        url = f"sqlite:///{path}"
        migrate(url)
        key = admin_key(url)
        specs = [
            (OURS, "ours", {"DATABASE_URL": url}),
            (ONE_BY_ONE, "ours", {"DATABASE_URL": url, "BATCH_COMMANDS": "false"}),
            (TWO_WORKERS, "ours", {"DATABASE_URL": url, "WORKERS": "2"}),
            # Second processes for SetDeviceState with two processes of each (sds_two_processes).
            (f"{OURS} #2", "ours", {"DATABASE_URL": url}),
            (f"{ONE_BY_ONE} #2", "ours", {"DATABASE_URL": url, "BATCH_COMMANDS": "false"}),
            (SQLMODEL, PEER_MODULES[SQLMODEL], {"DATABASE_URL": url}),
            (JSONRPC, PEER_MODULES[JSONRPC], {"DATABASE_URL": url}),
            (RAW, PEER_MODULES[RAW], {"DATABASE": str(path)}),
        ]
        with running(specs, self.logs) as services:
            self.services = services
            api = Api(services[OURS].url, key)
            try:
                seed = self.seed(api, url, processes=2)
                self.check_peers_agree(seed, key)
                self.sqlite_rates(seed, key, url, path)
                self.scenario(
                    "add_devices",
                    f"AddDevices of {config.add_devices:,} new devices",
                    lambda s: self.add_devices(s, api, path),
                )
                if not self.wanted("list_devices_page", "list_devices_all", "get_large", "claim_devices"):
                    return
                large = self.fill_large(api)
                self.scenario(
                    "list_devices_page",
                    f"ListDevices page of {config.page:,}: {config.large_devices:,} vs {config.small_devices:,} devices",
                    lambda s: self.list_page(s, api, key, large),
                )
                self.scenario(
                    "list_devices_all",
                    f"ListDevices without limit, {config.large_devices:,} devices",
                    lambda s: self.list_all(s, api, large),
                )
                self.scenario(
                    "get_large",
                    f"Rollout.Get: {config.large_devices:,} vs {config.small_devices:,} devices",
                    lambda s: self.get_large(s, key, large),
                )
                # Last: it moves devices of the large rollout.
                self.scenario(
                    "claim_devices",
                    f"ClaimDevices of {config.claim:,} from {config.large_devices:,} devices",
                    lambda s: self.claim(s, api, large),
                )
            finally:
                api.close()
                self.services = {}

    def check_peers_agree(self, seed: Seed, key: str) -> None:
        """Every server answers the same rollout the same way before any load runs."""
        project, rollout = seed.rollouts[0]
        args = {"projectid": project, "rolloutid": rollout}
        answers: dict[str, Any] = {}
        with httpx.Client(timeout=30) as http:
            for name, service in self.services.items():
                kind = name.split(" #")[0]  # ("ours #2": a second process of ours)
                ours = kind in OUR_SERVERS
                headers = {"Authorization": f"Bearer {key}"} if ours else {}
                body = frame([("Get", args)]) if ours else jsonrpc_call("Get", args) if kind == JSONRPC else args
                response = http.post(service.url + PATHS[kind], json=body, headers=headers)
                response.raise_for_status()
                data = response.json()
                answers[name] = data["resp"][0]["resp"] if ours else data["result"] if kind == JSONRPC else data
        answers = {name: {k: v for k, v in answer.items() if v is not None} for name, answer in answers.items()}
        # The peers answer the seed's fields; ours adds the progress (counts, times, settings) on top.
        ours = answers[OURS]
        if any(answer != {k: ours.get(k) for k in answer} for answer in answers.values()):
            raise RuntimeError(f"the servers disagree on Rollout.Get: {answers}")

    def sqlite_rates(self, seed: Seed, key: str, url: str, path: Path) -> None:
        config = self.config
        services = self.services

        def single(scenario: Scenario) -> None:
            loads = {
                name: [
                    self.load(
                        name,
                        services[name].url + PATHS[name],
                        self.single_get_bodies(name, seed.rollouts, "get"),
                        key,
                        connections=config.connections,
                    )
                ]
                for name in (OURS, SQLMODEL, JSONRPC, RAW)
            }
            self.compare(scenario, loads, per_request=1, unit="req/s")
            self.ratio_targets(scenario, {JSONRPC: 3, SQLMODEL: 2, RAW: None})

        def batch(scenario: Scenario) -> None:
            loads = {
                name: [
                    self.load(
                        name,
                        services[name].url + (RAW_BATCH_PATH if name == RAW else PATHS[name]),
                        self.batch_get_bodies(name, seed.rollouts, "batch"),
                        key,
                        connections=config.batch_connections,
                    )
                ]
                for name in (OURS, JSONRPC, RAW)
            }
            self.compare(scenario, loads, per_request=config.batch, unit="cmds/s")
            self.ratio_targets(scenario, {JSONRPC: 50, RAW: None})
            scenario.note = (
                f"{RAW} here answers a JSON list of 100 rollouts on {RAW_BATCH_PATH} (no envelope, no per-item errors)"
            )

        def sds_loads(names: Sequence[str], processes: int, file: str) -> dict[str, list[Load]]:
            """SetDeviceState sweeps for `processes` processes of each server, its own database's for the first
            release's."""
            loads = {}
            for name in names:
                own = elsewhere.get(name)
                loads[name] = [
                    self.load(
                        name,
                        services[name if index == 0 else f"{name} #2"].url + PATHS[name],
                        self.sds_bodies(name, (own.seed if own else seed).sds[index], f"{file}-{index}"),
                        own.key if own else key,
                        connections=config.batch_connections // processes,
                    )
                    for index in range(processes)
                ]
            return loads

        def set_device_state(scenario: Scenario) -> None:
            loads = sds_loads((OURS, ONE_BY_ONE, JSONRPC, *elsewhere), 1, "sds")
            self.compare_sweeps(scenario, loads, url, seed.sds[:1], elsewhere=elsewhere)
            raw_driver(scenario, seed.sds[0])
            # The targets for these frames are judged with two processes (sds_two_processes), as on
            # PostgreSQL; one process's ratios are printed beside them.
            self.ratio_targets(scenario, dict.fromkeys((ONE_BY_ONE, RAW_DRIVER, *elsewhere)) | {JSONRPC: 5})
            scenario.note = (
                f"one process of each; {ONE_BY_ONE}: our server with BATCH_COMMANDS=false; {FIRST_RELEASE}: our "
                f"server at {FIRST_RELEASE_COMMIT[:7]}, on its own file; {RAW_DRIVER}: the same updates, one "
                "executemany and commit per 100, straight through sqlite3 (no HTTP), triggers included"
            )

        def set_device_state_two_processes(scenario: Scenario) -> None:
            loads = sds_loads((OURS, ONE_BY_ONE, *elsewhere), 2, "sds2")
            self.compare_sweeps(scenario, loads, url, seed.sds, elsewhere=elsewhere)
            raw_driver(scenario, seed.sds[0])
            self.ratio_targets(scenario, {ONE_BY_ONE: None, RAW_DRIVER: 0.5} | dict.fromkeys(elsewhere, TODAYS_PATH))
            scenario.note = (
                "two processes of each server on the one SQLite file (the first release's on a file of its own), one "
                f"wrk per process at the same time, rates summed; {RAW_DRIVER}: one connection, as above (SQLite "
                "takes one writer at a time: more connections would only wait in its busy handler)"
            )

        def raw_driver(scenario: Scenario, target: tuple[str, str, list[str]]) -> None:
            rates = []
            for _ in range(config.rounds):
                self.reset_devices(url, [target[1]])
                rates.append(throughput.raw_sqlite_rate(path, target[1], target[2], config.batch, config.seconds))
            scenario.measures.append(Measure(RAW_DRIVER, statistics.median(rates), "cmds/s", detail={"rounds": rates}))

        def workers(scenario: Scenario) -> None:
            loads = {
                name: [
                    self.load(
                        name,
                        services[name].url + PATHS[name],
                        self.single_get_bodies(name, seed.rollouts, "get-workers"),
                        key,
                        connections=config.connections,
                    )
                ]
                for name in (OURS, TWO_WORKERS)
            }
            self.compare(scenario, loads, per_request=1, unit="req/s")
            scaling = scenario.measure(TWO_WORKERS).value / (scenario.measure(OURS).value or 1.0)
            scenario.targets.append(Target(f"{TWO_WORKERS}/{OURS}", scaling, ">=", 1.6, row=TWO_WORKERS))
            scenario.note = f"{config.connections} connections, one wrk thread; the machine's cores serve wrk too"

        def p99(scenario: Scenario) -> None:
            bodies = self.single_get_bodies(OURS, seed.rollouts, "get-p99")
            load = self.load(OURS, services[OURS].url + PATHS[OURS], bodies, key, connections=config.p99_connections)
            self.compare(scenario, {OURS: [load]}, per_request=1, unit="req/s")
            scenario.targets.append(Target("p99 ms", scenario.measure(OURS).p99_ms or 0.0, "<=", 25, row=OURS))
            scenario.note = "p99: the median over rounds of each round's p99 as wrk reports it"

        self.scenario("get_single", "Rollout.Get, one per request", single)
        self.scenario("get_batch", f"Rollout.Get, {config.batch} per request", batch)
        with ExitStack() as first_release:
            elsewhere: dict[str, OwnDatabase] = {}
            if self.wanted("set_device_state_batch", "sds_two_processes"):
                elsewhere = self.start_first_release(
                    first_release,
                    f"sqlite:///{self.folder / 'first-release.db'}",
                    [FIRST_RELEASE, f"{FIRST_RELEASE} #2"],
                )
            self.scenario("set_device_state_batch", f"SetDeviceState, {config.batch} per request", set_device_state)
            self.scenario(
                "sds_two_processes",
                f"SQLite, 2 processes: SetDeviceState, {config.batch} per request",
                set_device_state_two_processes,
            )
        self.scenario("get_workers", "Rollout.Get, one per request: WORKERS=2 vs 1", workers)
        self.scenario("get_p99_64", f"Rollout.Get, one per request, {config.p99_connections} connections", p99)

    def add_devices(self, scenario: Scenario, api: Api, path: Path) -> None:
        """One AddDevices of N new devices over HTTP vs sqlite3 executemany of the same rows, into the same table."""
        count = self.config.add_devices
        ours: list[float] = []
        raw: list[float] = []
        for rep in range(self.config.add_reps):
            project = f"//bench/add_{rep}"
            mine, theirs = api.create_rollouts([project, project])
            ours.append(api.add_devices(project, mine, [f"add-{i:09d}" for i in range(count)]))
            rows = [(int(theirs), f"add-{i:09d}", "init") for i in range(count)]
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
            try:
                for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
                    connection.execute(f"PRAGMA {pragma}")
                began = time.perf_counter()
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(
                    "INSERT INTO rollout_device (rollout_id, device_id, state) VALUES (?, ?, ?)", rows
                )
                connection.execute("COMMIT")
                raw.append(time.perf_counter() - began)
            finally:
                connection.close()
        scenario.measures.append(Measure(OURS, statistics.median(ours), "s", detail={"runs_s": ours}))
        scenario.measures.append(Measure("sqlite3 executemany", statistics.median(raw), "s", detail={"runs_s": raw}))
        scenario.targets.append(
            Target("ours/executemany", statistics.median(ours) / statistics.median(raw), "<=", 2, row=OURS)
        )
        scenario.note = "ours: one AddDevices command over HTTP (body encoded beforehand); executemany: the same rows into the same table, one transaction"

    def fill_large(self, api: Api) -> dict[str, Any]:
        """A rollout of large_devices devices (AddDevices of add_devices at a time) and one of small_devices."""
        config = self.config
        began = time.monotonic()
        project = "//bench/large"
        large, small = api.create_rollouts([project, project])
        chunks = []
        for start in range(0, config.large_devices, config.add_devices):
            devices = [f"device-{i:09d}" for i in range(start, min(config.large_devices, start + config.add_devices))]
            chunks.append(api.add_devices(project, large, devices))
        api.add_devices(project, small, [f"device-{i:09d}" for i in range(config.small_devices)])
        print(f"  seeded {config.large_devices:,} devices in {time.monotonic() - began:.0f} s", flush=True)
        return {"project": project, "large": large, "small": small, "chunks_s": chunks}

    def list_page(self, scenario: Scenario, api: Api, key: str, large: dict[str, Any]) -> None:
        config = self.config
        project = large["project"]
        spread = max(1, config.large_devices - config.page - 1)
        after = [f"device-{self.rng.randrange(spread):09d}" for _ in range(config.page_bodies)]
        big = [
            frame(
                [("ListDevices", {"projectid": project, "rolloutid": large["large"], "limit": config.page, "after": a})]
            )
            for a in after
        ]
        little = [frame([("ListDevices", {"projectid": project, "rolloutid": large["small"], "limit": config.page})])]
        for body in (big[0], big[-1], little[0]):
            (page,) = api.post_frame(_encode(body))
            if len(page) != config.page:
                raise RuntimeError(f"a ListDevices page has {len(page)} devices, not {config.page}")
        url = self.services[OURS].url + PATHS[OURS]
        big_label, little_label = f"ours, {config.large_devices:,}", f"ours, {config.small_devices:,}"
        loads = {
            big_label: [
                Load(url, write_bodies(self.folder / "page-large.txt", big), "frame", key, threads=1, connections=1)
            ],
            little_label: [
                Load(url, write_bodies(self.folder / "page-small.txt", little), "frame", key, threads=1, connections=1)
            ],
        }
        self.compare(scenario, loads, per_request=1, unit="req/s")
        ratio = scenario.measure(big_label).p50_ms or 0.0
        ratio /= scenario.measure(little_label).p50_ms or 1.0
        scenario.targets.append(Target("p50 large/small", ratio, "<=", 1.5, row=big_label))
        scenario.note = f"one connection, pages at random `after` positions; AddDevices of {config.add_devices:,} into the growing rollout took {statistics.median(large['chunks_s']):.2f} s (median of {len(large['chunks_s'])})"

    def get_large(self, scenario: Scenario, key: str, large: dict[str, Any]) -> None:
        """Get of the large rollout against the small one: the counts are kept, not counted, so they cost the same."""
        url = self.services[OURS].url + PATHS[OURS]
        loads = {}
        for label, rollout in (
            (f"ours, {self.config.large_devices:,}", large["large"]),
            (f"ours, {self.config.small_devices:,}", large["small"]),
        ):
            body = frame([("Get", {"projectid": large["project"], "rolloutid": rollout})])
            path = write_bodies(self.folder / f"get-{rollout}.txt", [body])
            loads[label] = [Load(url, path, "frame", key, threads=1, connections=1)]
        self.compare(scenario, loads, per_request=1, unit="req/s")
        big, little = (scenario.measure(label).p50_ms or 0.0 for label in loads)
        scenario.targets.append(Target("p50 large/small", big / (little or 1.0), "<=", 1.5, row=next(iter(loads))))
        scenario.note = "one connection; the answer carries the rollout's counts per device state"

    def claim(self, scenario: Scenario, api: Api, large: dict[str, Any]) -> None:
        """ClaimDevices of `claim` devices at a time from the large rollout, one call after another, over HTTP."""
        args = {"projectid": large["project"], "rolloutid": large["large"]}
        api.run([("SetState", {**args, "state": "inProgress"})])
        body = _encode(frame([("ClaimDevices", {**args, "limit": self.config.claim})]))
        seconds = []
        for _ in range(self.config.claim_reps):
            began = time.perf_counter()
            (claimed,) = api.post_frame(body)
            seconds.append(time.perf_counter() - began)
            if len(claimed) != self.config.claim:
                raise RuntimeError(f"ClaimDevices answered {len(claimed)} devices, not {self.config.claim}")
        median_ms = statistics.median(seconds) * 1000
        scenario.measures.append(Measure(OURS, median_ms, "ms", detail={"runs_ms": [x * 1000 for x in seconds]}))
        scenario.targets.append(Target("median ms", median_ms, "<=", 50, row=OURS))
        scenario.note = (
            "one HTTP call each (SQLite), lowest ids first, each device's move counted and recorded by the triggers"
        )

    def list_all(self, scenario: Scenario, api: Api, large: dict[str, Any]) -> None:
        pid = self.services[OURS].pid
        body = _encode(frame([("ListDevices", {"projectid": large["project"], "rolloutid": large["large"]})]))
        before = status_kb(pid, "VmRSS")
        reset = reset_peak(pid)
        with rss_sampler(pid) as sampled:
            began = time.perf_counter()
            (devices,) = api.post_frame(body)
            seconds = time.perf_counter() - began
        if len(devices) != self.config.large_devices:
            raise RuntimeError(
                f"ListDevices without limit answered {len(devices)} devices, not {self.config.large_devices}"
            )
        peak = max(sampled[0], status_kb(pid, "VmHWM") if reset else 0)
        growth_mb = (peak - before) / 1024
        detail = {
            "rss_before_mb": before / 1024,
            "rss_peak_mb": peak / 1024,
            "rss_after_mb": status_kb(pid, "VmRSS") / 1024,
            "peak_from": "VmHWM after clear_refs and 5 ms VmRSS samples" if reset else "5 ms VmRSS samples",
        }
        scenario.measures.append(Measure(OURS, seconds, "s", detail=detail))
        scenario.targets.append(Target("peak RSS growth MB", growth_mb, "<=", 200, row=OURS))

    # -- PostgreSQL: two processes of each server on one schema --

    def fleet_ingestion(self, scenario: Scenario, services: Mapping[str, Service], key: str) -> None:
        """A rollout of fleet_devices devices; every one reports started then succeeded, in frames of 100 from
        fleet_clients clients at once against both of our processes: the wall time, and the reports per second."""
        config = self.config
        urls = [services[f"{OURS} #{i + 1}"].url for i in range(2)]
        api = Api(urls[0], key)
        try:
            project = "//bench/fleet"
            (rollout,) = api.create_rollouts([project])
            devices = [f"fleet-{i:08d}" for i in range(config.fleet_devices)]
            for start in range(0, len(devices), config.add_devices):
                api.add_devices(project, rollout, devices[start : start + config.add_devices])
            api.run([("SetState", {"projectid": project, "rolloutid": rollout, "state": "inProgress"})])
            done = throughput.ingest(
                urls, key, project, rollout, devices, clients=config.fleet_clients, batch=config.batch
            )
            (got,) = api.run([("Get", {"projectid": project, "rolloutid": rollout})])
        finally:
            api.close()
        if got["counts"]["succeeded"] != config.fleet_devices:
            raise RuntimeError(f"after the fleet's reports the counts are {got['counts']}")
        detail = {"reports": done.reports, "frames": done.frames, "reports_per_s": done.reports / done.seconds}
        scenario.measures.append(Measure(OURS, done.seconds, "s", detail=detail))
        # The bound is for 2,000,000 reports; a smaller fleet (--quick) is judged pro rata.
        bound = 120 * done.reports / 2_000_000
        scenario.targets.append(Target("wall s", done.seconds, "<=", round(bound, 1), row=OURS))
        scenario.note = (
            f"{done.reports:,} reports in {done.frames:,} frames of {config.batch} from {config.fleet_clients} "
            f"clients, {done.reports / done.seconds:,.0f} reports/s; counts checked afterwards"
        )

    def postgres(self, base_url: str) -> None:
        if not self.wanted(*POSTGRES_SCENARIOS):
            return
        config = self.config
        with postgres_schemas(base_url) as new_schema:
            url = new_schema()
            migrate(url)
            key = admin_key(url)
            # PostgreSQL allows 100 connections: peers' pools are kept near ours (10 + 20 overflow) but smaller,
            # as six processes keep their idle connections open between runs.
            peer_env = {"DATABASE_URL": url, "POOL_SIZE": "5", "MAX_OVERFLOW": "15"}
            specs = [
                (
                    f"{name} #{i + 1}",
                    "ours" if name in (OURS, ONE_BY_ONE) else PEER_MODULES[name],
                    {"DATABASE_URL": url, "BATCH_COMMANDS": str(name == OURS).lower()}
                    if name in (OURS, ONE_BY_ONE)
                    else peer_env,
                )
                for name in (OURS, ONE_BY_ONE, SQLMODEL, JSONRPC)
                for i in range(2)
            ]
            with running(specs, self.logs) as services:
                self.services = services
                api = Api(services[f"{OURS} #1"].url, key)
                try:
                    seed = self.seed(api, url, processes=2)
                finally:
                    api.close()

                def loads_for(
                    names: Sequence[str],
                    bodies: Callable[[str, int], Path],
                    connections: int,
                    keys: Mapping[str, str] | None = None,
                ) -> dict[str, list[Load]]:
                    return {
                        name: [
                            self.load(
                                name,
                                services[f"{name} #{i + 1}"].url + PATHS[name],
                                bodies(name, i),
                                (keys or {}).get(name, key),
                                connections=connections // 2,
                            )
                            for i in range(2)
                        ]
                        for name in names
                    }

                def single(scenario: Scenario) -> None:
                    loads = loads_for(
                        (OURS, SQLMODEL, JSONRPC),
                        lambda name, i: self.single_get_bodies(name, seed.rollouts, f"pg-get-{i}"),
                        config.connections,
                    )
                    self.compare(scenario, loads, per_request=1, unit="req/s")
                    self.ratio_targets(scenario, {JSONRPC: 3, SQLMODEL: 2})
                    scenario.note = "two processes of each server, one wrk per process at the same time, rates summed"

                def set_device_state(scenario: Scenario) -> None:
                    with ExitStack() as first_release:
                        names = [f"{FIRST_RELEASE} #{i + 1}" for i in range(2)]
                        elsewhere = self.start_first_release(first_release, new_schema(), names, peer_env)
                        measure_set_device_state(scenario, elsewhere)

                def measure_set_device_state(scenario: Scenario, elsewhere: dict[str, OwnDatabase]) -> None:
                    loads = loads_for(
                        (OURS, ONE_BY_ONE, JSONRPC, *elsewhere),
                        lambda name, i: self.sds_bodies(
                            name, (elsewhere[name].seed if name in elsewhere else seed).sds[i], f"pg-sds-{i}"
                        ),
                        config.batch_connections,
                        keys={name: own.key for name, own in elsewhere.items()},
                    )
                    self.compare_sweeps(scenario, loads, url, seed.sds, elsewhere=elsewhere)
                    rollouts = [rollout for _, rollout, _ in seed.sds]
                    rates = []
                    for _ in range(config.rounds):
                        self.reset_devices(url, rollouts)
                        targets = [(rollout, devices) for _, rollout, devices in seed.sds]
                        # As many connections per rollout as the service gets from wrk (batch_connections in all).
                        per_rollout = max(1, config.batch_connections // len(targets))
                        rates.append(
                            throughput.raw_postgres_rate(
                                url, targets, config.batch, config.seconds, connections=per_rollout
                            )
                        )
                    scenario.measures.append(
                        Measure(RAW_DRIVER, statistics.median(rates), "cmds/s", detail={"rounds": rates})
                    )
                    bounds = {ONE_BY_ONE: None, RAW_DRIVER: 0.5, JSONRPC: 5} | dict.fromkeys(elsewhere, TODAYS_PATH)
                    self.ratio_targets(scenario, bounds)
                    scenario.note = (
                        f"{ONE_BY_ONE}: our server with BATCH_COMMANDS=false; {FIRST_RELEASE}: our server at "
                        f"{FIRST_RELEASE_COMMIT[:7]}, on a schema of its own; {RAW_DRIVER}: the same updates, one "
                        "UPDATE ... FROM unnest(...) and commit per 100 through psycopg, as many connections as wrk's (no HTTP)"
                    )

                def fleet(scenario: Scenario) -> None:
                    self.fleet_ingestion(scenario, services, key)

                self.scenario("pg_get_single", "PostgreSQL, 2 processes: Rollout.Get, one per request", single)
                self.scenario(
                    "pg_set_device_state_batch",
                    f"PostgreSQL, 2 processes: SetDeviceState, {config.batch} per request",
                    set_device_state,
                )
                self.scenario(
                    "pg_fleet_ingestion",
                    f"PostgreSQL, 2 processes: {config.fleet_devices:,} devices report started, then succeeded",
                    fleet,
                )
                self.services = {}


def _meta(config: Config, args: argparse.Namespace) -> dict[str, Any]:
    def output(*command: str) -> str:
        try:
            return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    wrk_version = subprocess.run([wrk_binary(), "--version"], capture_output=True, text=True, check=False)
    return {
        "config": asdict(config),
        "postgres": bool(args.postgres),
        "commit": output("git", "rev-parse", "HEAD"),
        "changed_files": output("git", "status", "--porcelain").splitlines(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "wrk": (wrk_version.stdout or wrk_version.stderr).splitlines()[0]
        if (wrk_version.stdout or wrk_version.stderr)
        else "",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_at_start": os.getloadavg(),
    }


@contextmanager
def _work_folder(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="rollout-bench-") as folder:
        yield Path(folder)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke version: a second per round, 10,000 devices")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also run the PostgreSQL scenarios (TEST_DATABASE_URL or " + DEFAULT_POSTGRES + ")",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES, help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="where to write the results (default artifacts/bench-results.json, --quick: artifacts/bench-smoke.json)",
    )
    parser.add_argument("--rounds", type=int, help="timed rounds per server (default 5, --quick 1)")
    parser.add_argument("--seconds", type=float, help="seconds per round (default 5, --quick 2)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per server (default 3, --quick 1)")
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads per wrk process (default 1: the machine has 2 cores)"
    )
    parser.add_argument("--connections", type=int, default=32, help="connections for single requests (default 32)")
    parser.add_argument("--batch-connections", type=int, default=4, help="connections for batches of 100 (default 4)")
    parser.add_argument("--devices", type=int, help="devices in the large rollout (default 1,000,000, --quick 10,000)")
    parser.add_argument(
        "--only",
        type=lambda text: frozenset(text.split(",")),
        help=f"comma-separated scenarios to run, of: {', '.join(SQLITE_SCENARIOS + POSTGRES_SCENARIOS)}",
    )
    parser.add_argument("--keep", type=Path, help="keep the database, bodies and logs in this folder (must not exist)")
    parser.add_argument(
        "--strict", action="store_true", help="also exit 2 when a target is not met (never with --quick)"
    )
    args = parser.parse_args(argv)
    unknown = (args.only or frozenset()) - set(SQLITE_SCENARIOS + POSTGRES_SCENARIOS)
    if unknown:
        parser.error(f"no such scenario: {', '.join(sorted(unknown))}")
    if args.only and args.only & set(POSTGRES_SCENARIOS):
        args.postgres = True
    config = Config.from_args(args)
    wrk_binary()
    meta = _meta(config, args)
    json_path = args.json or ROOT / "artifacts" / ("bench-smoke.json" if config.quick else "bench-results.json")
    began = time.monotonic()
    with _work_folder(args.keep) as folder:
        bench = Bench(config, folder, args.only)
        try:
            bench.sqlite()
            if args.postgres:
                bench.postgres(args.postgres_url)
        except Exception as exc:
            bench.errors.append(f"set-up: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        if bench.errors:
            kept = ROOT / "artifacts" / "bench-logs"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(bench.logs, kept)
    meta["seconds"] = round(time.monotonic() - began, 1)
    meta["load_average_at_end"] = os.getloadavg()
    print()
    print(table(bench.scenarios, judged=not config.quick))
    meta["warnings"] = bench.warnings
    write_json(json_path, meta, bench.scenarios, bench.errors)
    if bench.warnings:
        print("\nwarnings:", *bench.warnings, sep="\n  ")
    print(
        f"\nwrote {json_path} ({meta['seconds']:.0f} s; load average at start {meta['load_average_at_start'][0]:.2f})"
    )
    if bench.errors:
        print("\nERRORS (servers' logs kept in artifacts/bench-logs/):", *bench.errors, sep="\n  ", file=sys.stderr)
        return 1
    unmet = [t for s in bench.scenarios for t in s.targets if t.met is False]
    if args.strict and not config.quick and unmet:
        print(f"\n{len(unmet)} targets not met", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
