"""Our server at another commit against this tree's, in one run: `python -m bench.against REF [--postgres]`.

For a change that could slow a path down (`nox -s bench` compares us with the peers; this compares us with
ourselves before). Each side is our server run from its own tree (REF checked out into a temporary git
worktree, its `app` and generated package first on the path) on a database of its own, migrated by its own
code and seeded the same way through the API. The same loads then run against both sides: a warm-up, then
rounds in rotating order, so that a slow moment of this shared machine falls on both alike; single timings
(AddDevices, ListDevices without limit) alternate sides too. Medians throughout.

It prints, per scenario, both sides' figures and now/REF as a speed ratio (above 1: this tree is faster), and
writes them as JSON. REF may be any commit whose server takes the same frames (Create, AddDevices, Get,
SetDeviceState, ListDevices, SetState) and has `python -m app migrate|serve|keys create`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Measure, Scenario
from bench.run import DEFAULT_POSTGRES, Api, Bench, Config, Seed, _encode, frame, write_bodies
from bench.server import (
    ROOT,
    Service,
    admin_key,
    migrate,
    postgres_schemas,
    short,
    start,
    stop,
    wait_ready,
    worktree,
)
from bench.wrk import Load, wrk_binary

NOW = "now"
SQLITE_SCENARIOS = (
    "get_single", "get_batch", "set_device_state_batch", "add_devices", "list_devices_page", "list_devices_all"
)  # fmt: skip
POSTGRES_SCENARIOS = ("pg_get_single", "pg_get_batch", "pg_set_device_state_batch")


@dataclass
class Side:
    """One of the two servers compared: its label, its tree, and (once started) its processes and seed."""

    label: str
    root: Path
    url: str = ""
    key: str = ""
    services: Sequence[Service] = ()
    seed: Seed | None = None
    large: dict[str, Any] | None = None


class Against:
    def __init__(self, bench: Bench, sides: Sequence[Side]) -> None:
        self.bench = bench
        self.sides = sides

    # -- set-up --

    @contextmanager
    def serving(self, make_url: Callable[[Side], str], processes: int, sds: int) -> Iterator[None]:
        """Every side on its own database, migrated, keyed, with `processes` server processes, and seeded."""
        with ExitStack() as stack:
            for side in self.sides:
                side.url = make_url(side)
                migrate(side.url, side.root)
                side.key = admin_key(side.url, side.root)
                side.services = [
                    start(f"{side.label} #{i + 1}", "ours", {"DATABASE_URL": side.url}, self.bench.logs, side.root)
                    for i in range(processes)
                ]
                stack.callback(stop, side.services)
            wait_ready([service for side in self.sides for service in side.services])
            self.bench.services = {service.name: service for side in self.sides for service in side.services}
            for side in self.sides:
                api = Api(side.services[0].url, side.key)
                try:
                    side.seed = self.bench.seed(api, side.url, processes=sds)
                finally:
                    api.close()
            yield

    def loads(self, bodies: Callable[[Side, int], Path], connections: int) -> dict[str, list[Load]]:
        """One wrk per server process of each side, the connections shared among them; the same bodies."""
        result = {}
        for side in self.sides:
            loads = []
            for index, service in enumerate(side.services):
                self.bench.rng = random.Random(7)  # the same bodies for both sides
                per_process = max(1, connections // len(side.services))
                path = bodies(side, index)
                loads.append(Load(service.url + "/v1", path, "frame", side.key, connections=per_process))
            result[side.label] = loads
        return result

    def body_file(self, side: Side, name: str) -> str:
        return f"{name}-{side.label.replace('/', '_')}"

    # -- scenarios --

    def rates(self, prefix: str, title: str) -> None:
        bench, config = self.bench, self.bench.config

        def single(scenario: Scenario) -> None:
            loads = self.loads(
                lambda side, i: bench.single_get_bodies("ours", _seed(side).rollouts, self.body_file(side, f"get{i}")),
                config.connections,
            )
            bench.compare(scenario, loads, per_request=1, unit="req/s")

        def batch(scenario: Scenario) -> None:
            loads = self.loads(
                lambda side, i: bench.batch_get_bodies("ours", _seed(side).rollouts, self.body_file(side, f"batch{i}")),
                config.batch_connections,
            )
            bench.compare(scenario, loads, per_request=config.batch, unit="cmds/s")

        def set_device_state(scenario: Scenario) -> None:
            loads = self.loads(
                lambda side, i: bench.sds_bodies("ours", _seed(side).sds[i], self.body_file(side, f"sds{i}")),
                config.batch_connections,
            )
            by_label = {side.label: side for side in self.sides}

            def reset(label: str) -> None:
                side = by_label[label]
                bench.reset_devices(side.url, [rollout for _, rollout, _ in _seed(side).sds])

            bench.compare(scenario, loads, per_request=config.batch, unit="cmds/s", before=reset)

        bench.scenario(f"{prefix}get_single", f"{title}Rollout.Get, one per request", single)
        bench.scenario(f"{prefix}get_batch", f"{title}Rollout.Get, {config.batch} per request", batch)
        bench.scenario(
            f"{prefix}set_device_state_batch", f"{title}SetDeviceState, {config.batch} per request", set_device_state
        )

    def timed_alternately(self, scenario: Scenario, run: Callable[[Side, Api, int], float]) -> None:
        """add_reps timings of `run` (seconds) per side, the sides alternating which goes first; medians."""
        timings: dict[str, list[float]] = {side.label: [] for side in self.sides}
        for rep in range(self.bench.config.add_reps):
            for side in self.sides if rep % 2 == 0 else reversed(self.sides):
                api = Api(side.services[0].url, side.key)
                try:
                    timings[side.label].append(run(side, api, rep))
                finally:
                    api.close()
        for label, seconds in timings.items():
            scenario.measures.append(Measure(label, statistics.median(seconds), "s", detail={"runs_s": seconds}))

    def add_devices(self, scenario: Scenario) -> None:
        """AddDevices of add_devices new devices into a new rollout."""
        count = self.bench.config.add_devices

        def add(_side: Side, api: Api, rep: int) -> float:
            project = f"//bench/add_{rep}"
            (rollout,) = api.create_rollouts([project])
            return api.add_devices(project, rollout, [f"add-{i:09d}" for i in range(count)])

        self.timed_alternately(scenario, add)

    def list_devices(self) -> None:
        bench, config = self.bench, self.bench.config
        for side in self.sides:
            api = Api(side.services[0].url, side.key)
            try:
                side.large = bench.fill_large(api)
            finally:
                api.close()

        def page(scenario: Scenario) -> None:
            def bodies(side: Side, _index: int) -> Path:
                large = _large(side)
                spread = max(1, config.large_devices - config.page - 1)
                args = {"projectid": large["project"], "rolloutid": large["large"], "limit": config.page}
                pages = [
                    frame([("ListDevices", {**args, "after": f"device-{bench.rng.randrange(spread):09d}"})])
                    for _ in range(config.page_bodies)
                ]
                return write_bodies(bench.folder / f"{self.body_file(side, 'page')}.txt", pages)

            bench.compare(scenario, self.loads(bodies, 1), per_request=1, unit="req/s")

        def everything(scenario: Scenario) -> None:
            def read(side: Side, api: Api, _rep: int) -> float:
                large = _large(side)
                body = _encode(frame([("ListDevices", {"projectid": large["project"], "rolloutid": large["large"]})]))
                began = time.perf_counter()
                (devices,) = api.post_frame(body)
                seconds = time.perf_counter() - began
                if len(devices) != config.large_devices:
                    raise RuntimeError(f"{side.label}: ListDevices answered {len(devices)} devices")
                return seconds

            self.timed_alternately(scenario, read)

        bench.scenario("list_devices_page", f"ListDevices page of {config.page:,} of {config.large_devices:,}", page)
        bench.scenario("list_devices_all", f"ListDevices without limit, {config.large_devices:,} devices", everything)

    def sqlite(self) -> None:
        folder = self.bench.folder
        with self.serving(lambda side: f"sqlite:///{folder / (side.label.replace('/', '_') + '.db')}", 1, 1):
            self.rates("", "")
            self.bench.scenario(
                "add_devices", f"AddDevices of {self.bench.config.add_devices:,} new devices", self.add_devices
            )
            if self.bench.wanted("list_devices_page", "list_devices_all"):
                self.list_devices()

    def postgres(self, base_url: str) -> None:
        with postgres_schemas(base_url) as new_schema, self.serving(lambda _side: new_schema(), 2, 2):
            self.rates("pg_", "PostgreSQL, 2 processes: ")


def _seed(side: Side) -> Seed:
    assert side.seed is not None
    return side.seed


def _large(side: Side) -> dict[str, Any]:
    assert side.large is not None
    return side.large


def table(scenarios: Sequence[Scenario], new: str, ref: str) -> list[dict[str, Any]]:
    """Per scenario: both sides' figures and new/REF as a speed ratio (times inverted)."""
    rows = []
    for scenario in scenarios:
        now, before = scenario.measure(new), scenario.measure(ref)
        faster = before.value / now.value if now.unit == "s" else now.value / before.value
        rows.append({"scenario": scenario.key, "unit": now.unit, new: now.value, ref: before.value, "ratio": faster})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.against", description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the commit to compare with (anything git rev-parse takes)")
    parser.add_argument("--new", help="compare this commit with REF instead of the working tree (e.g. a change's last)")
    parser.add_argument("--postgres", action="store_true", help="also the PostgreSQL rates (TEST_DATABASE_URL)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per side (default 5)")
    parser.add_argument("--seconds", type=float, default=3, help="seconds per round (default 3)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per side (default 2)")
    parser.add_argument("--devices", type=int, default=100_000, help="devices in the listed rollout (default 100,000)")
    parser.add_argument("--reps", type=int, default=5, help="timings of AddDevices and ListDevices per side")
    parser.add_argument(
        "--only", help=f"comma-separated scenarios to run, of: {', '.join(SQLITE_SCENARIOS + POSTGRES_SCENARIOS)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke version (CI): one 1 s round, 10,000 devices, one timing each"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench-against.json")
    args = parser.parse_args(argv)
    wrk_binary()
    if args.quick:
        args.rounds, args.seconds, args.warmup, args.devices, args.reps = 1, 1.0, 1.0, 10_000, 1
    options = argparse.Namespace(
        quick=False, rounds=args.rounds, seconds=args.seconds, warmup=args.warmup, threads=1, connections=32,
        batch_connections=4, devices=args.devices,
    )  # fmt: skip
    config = Config.from_args(options)
    config = dataclasses.replace(config, add_reps=args.reps)

    ref = short(args.ref)
    if args.new is not None and short(args.new) == ref:
        parser.error(f"--new {args.new} is REF itself ({ref}); name two different commits")
    with tempfile.TemporaryDirectory(prefix="bench-against-") as temporary, ExitStack() as trees:
        folder = Path(temporary)
        ref_root = trees.enter_context(worktree(args.ref, folder))
        new = (
            Side(NOW, ROOT)
            if args.new is None
            else Side(short(args.new), trees.enter_context(worktree(args.new, folder)))
        )
        bench = Bench(config, folder, frozenset(args.only.split(",")) if args.only else None)
        against = Against(bench, [new, Side(ref, ref_root)])
        began = time.monotonic()
        if bench.wanted(*SQLITE_SCENARIOS):
            against.sqlite()
        if args.postgres and bench.wanted(*POSTGRES_SCENARIOS):
            against.postgres(os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES))
    rows = table(bench.scenarios, new.label, ref)
    print(f"\n{'scenario':28s} {'unit':8s} {new.label:>14s} {ref:>14s} {new.label + '/' + ref:>20s}")
    for row in rows:
        print(f"{row['scenario']:28s} {row['unit']:8s} {row[new.label]:14,.3f} {row[ref]:14,.3f} {row['ratio']:20.3f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    summary = {"new": new.label, "ref": ref, "rows": rows, "errors": bench.errors}
    args.json.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {args.json} ({time.monotonic() - began:.0f} s)")
    for error in bench.errors:
        print(f"ERROR {error}", file=sys.stderr)
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
