"""Drive Debian's `wrk` with bench/lua/bodies.lua and read back its figures."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua" / "bodies.lua"
CHECKS = ("frame", "jsonrpc", "http")


@dataclass(frozen=True)
class Load:
    """One wrk run's set-up: where to send which bodies, how to judge the answers, and how hard to push."""

    url: str
    bodies: Path
    check: str
    key: str | None = None
    threads: int = 1
    connections: int = 32
    timeout_s: float = 60


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    socket_errors: int
    status_errors: int
    bad: int
    bad_sample: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        """Answers that were not right: socket errors and time-outs, non-200 statuses, bad bodies."""
        return self.socket_errors + self.bad


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (Debian's package), or run `nox -s bench`")
    return found


def _command(load: Load, seconds: float) -> list[str]:
    if load.check not in CHECKS:
        raise ValueError(f"check must be one of {CHECKS}, got {load.check!r}")
    return [
        wrk_binary(),
        "-t",
        str(load.threads),
        "-c",
        str(load.connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{round(load.timeout_s)}s",
        "-s",
        str(LUA),
        load.url,
        "--",
        str(load.bodies),
        load.check,
        str(load.threads),
        load.key or "",
    ]


def run_concurrently(loads: Sequence[Load], seconds: float) -> list[WrkResult]:
    """Run one wrk per load at the same time (e.g. one per server process) and wait for all."""
    processes = [
        subprocess.Popen(_command(load, seconds), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for load in loads
    ]
    return [_result(process, load) for process, load in zip(processes, loads, strict=True)]


def run(load: Load, seconds: float) -> WrkResult:
    return run_concurrently([load], seconds)[0]


def _result(process: subprocess.Popen[str], load: Load) -> WrkResult:
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}) against {load.url}: {stderr.strip() or stdout.strip()}")
    figures: dict[str, float] | None = None
    sample = ""
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            figures = json.loads(line.removeprefix("RESULT "))
        elif line.startswith("BAD ") and not sample:
            sample = line.removeprefix("BAD ")
    if figures is None:
        raise RuntimeError(f"wrk printed no result against {load.url}:\n{stdout}\n{stderr}")
    socket_errors = sum(int(figures[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return WrkResult(
        requests=int(figures["requests"]),
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        mean_ms=figures["mean_us"] / 1000,
        socket_errors=socket_errors,
        status_errors=int(figures["status_errors"]),
        bad=int(figures["bad"]),
        bad_sample=sample,
    )
