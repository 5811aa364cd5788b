"""How the service behaves as a rollout grows: bulk AddDevices and ListDevices paging at 1,000 vs 1,000,000 devices.

Run: `python3 -m nox -s bench` (or `python -m bench.scale --devices 1000000`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.server import admin_key, running_server

ADD_BATCH = 100_000
PAGE = 1000


def command(http: httpx.Client, cmd: str, **args: Any) -> Any:
    frame = {"v": 1, "src": "//bench", "cmds": [{"cmd": f"/v1/Rollout.{cmd}", "id": 1, "args": args}]}
    response = http.post("/v1", json=frame)
    response.raise_for_status()
    (entry,) = response.json()["resp"]
    if entry["status"] != 0:
        raise RuntimeError(f"{cmd} failed: {entry}")
    return entry.get("resp")


def fill(http: httpx.Client, project: str, count: int) -> tuple[str, list[float]]:
    """A new rollout with `count` devices, added ADD_BATCH at a time; returns the id and each add's seconds."""
    rollout = command(http, "Create", projectid=project, firmwareid="fw", deviceFilter="a=b")["id"]
    timings = []
    for start in range(0, count, ADD_BATCH):
        devices = [f"device-{i:09d}" for i in range(start, min(count, start + ADD_BATCH))]
        began = time.perf_counter()
        command(http, "AddDevices", projectid=project, rolloutid=rollout, devices=devices)
        timings.append(time.perf_counter() - began)
    return rollout, timings


def page_latency(http: httpx.Client, project: str, rollout: str, count: int, rounds: int) -> float:
    """Median seconds for one ListDevices page of PAGE devices, starting at spread-out positions."""
    samples = []
    for i in range(rounds):
        after = f"device-{(i * 7919) % max(1, count - PAGE):09d}"
        began = time.perf_counter()
        page = command(http, "ListDevices", projectid=project, rolloutid=rollout, limit=PAGE, after=after)
        samples.append(time.perf_counter() - began)
        if len(page) != PAGE:
            raise RuntimeError(f"expected a full page, got {len(page)}")
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1_000_000, help="size of the large rollout")
    parser.add_argument("--rounds", type=int, default=30, help="ListDevices pages timed per rollout")
    parser.add_argument("--json", type=Path, default=Path("bench-scale.json"), help="where to write the figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        headers = {"Authorization": f"Bearer {admin_key(url)}"}
        with running_server(url) as (base, _), httpx.Client(base_url=base, timeout=600, headers=headers) as http:
            small, _ = fill(http, "p-small", PAGE + 1)
            large, add_timings = fill(http, "p-large", args.devices)
            small_page = page_latency(http, "p-small", small, PAGE + 1, args.rounds)
            large_page = page_latency(http, "p-large", large, args.devices, args.rounds)
    figures = {
        "add_devices_100k_seconds_first": add_timings[0],
        "add_devices_100k_seconds_median": statistics.median(add_timings),
        "list_devices_page_1000_of_1k_ms": small_page * 1000,
        f"list_devices_page_1000_of_{args.devices}_ms": large_page * 1000,
        "page_latency_ratio_large_to_small": large_page / small_page,
    }
    for name, value in figures.items():
        print(f"{name:45s} {value:10.3f}")
    args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
