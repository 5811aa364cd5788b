"""The commands, requests and bytes the service has handled, counted as cheaply as the hot path needs.

A frame's commands are noted in a CommandTally, lock-free (one thread runs a frame), and counted in the
process's totals once per frame, under one lock. prometheus_client's own Counter and Histogram take a lock per
update (a Histogram.observe locks for its sum and again for its bucket: about 0.7 µs), which per command would be
some 3 % of a Get in a frame of 100; noted in a list and counted per frame, a command costs about 0.3 µs. The totals become Prometheus metric families only at
scrape time (Traffic.collect); prometheus_client writes them out.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric

# Upper bounds, in seconds: a command on SQLite takes tens of microseconds, a streamed list or a write on a busy
# PostgreSQL seconds, so the buckets start far below prometheus_client's default 5 ms.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # fmt: skip
_BUCKET_LABELS = [*(repr(bound) for bound in LATENCY_BUCKETS), "+Inf"]
UNKNOWN_METHOD = "unknown"
"""The method label of a command that names no method of this server, or is malformed: what a caller sends
must not make new series."""


class Latencies:
    """One histogram's observations: a count per bucket (not cumulative) and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0

    def add(self, seconds: float) -> None:
        # bisect_left: the first bound >= seconds, Prometheus's "le"; past the last bound, the +Inf bucket.
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    def copy(self) -> Latencies:
        copy = Latencies()
        copy.counts, copy.total = list(self.counts), self.total
        return copy

    def cumulative(self) -> list[tuple[str, float]]:
        """The buckets as Prometheus has them: each counts the observations up to its bound."""
        running, buckets = 0, []
        for label, count in zip(_BUCKET_LABELS, self.counts, strict=True):
            running += count
            buckets.append((label, float(running)))
        return buckets


CommandTally = list[tuple[str, int, float, int]]
"""One frame's (or one request's) commands as they ran: (method, status, seconds, how many) each, `method` the
wire name (or UNKNOWN_METHOD), `status` the status answered, `seconds` each one's time. One entry stands for
several commands that ran alike (a batched run answered whole, in even shares of its time). A plain list,
appended to by the thread running the frame: per command that is the whole cost until the frame ends and
Traffic.add_commands counts them."""


class Traffic:
    """The process's totals since it started, and the collector that reports them (register it in a registry)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: dict[tuple[str, int], int] = {}
        self._command_latencies: dict[str, Latencies] = {}
        self._request_latencies: dict[str, Latencies] = {}
        self._frames = 0
        self._bytes_in = 0
        self._bytes_out = 0
        self.peers: Callable[[], Iterable[Totals]] | None = None
        """The other worker processes' latest totals (app/metrics/workers.py), when there are others."""

    def add_commands(self, tally: CommandTally, *, frames: int = 0) -> None:
        """Count a tally's commands (a frame's when `frames` is 1): once per frame, so one lock per frame."""
        with self._lock:
            self._frames += frames
            counts, all_latencies = self._commands, self._command_latencies
            for method, status, seconds, times in tally:
                key = (method, status)
                counts[key] = counts.get(key, 0) + times
                latencies = all_latencies.get(method)
                if latencies is None:
                    latencies = all_latencies[method] = Latencies()
                # Latencies.add written out: this runs once per entry, and a call costs as much as the rest.
                latencies.counts[bisect_left(LATENCY_BUCKETS, seconds)] += times
                latencies.total += seconds * times

    def add_request(self, route: str, seconds: float, bytes_in: int, bytes_out: int) -> None:
        """One answered HTTP request to an RPC route (`/v1` or a method's own): its time and its bodies' sizes."""
        with self._lock:
            latencies = self._request_latencies.get(route)
            if latencies is None:
                latencies = self._request_latencies[route] = Latencies()
            latencies.add(seconds)
            self._bytes_in += bytes_in
            self._bytes_out += bytes_out

    def totals(self) -> Totals:
        """A copy of the totals, taken under the lock."""
        with self._lock:
            return Totals(
                commands=dict(self._commands),
                command_latencies={method: lat.copy() for method, lat in self._command_latencies.items()},
                request_latencies={route: lat.copy() for route, lat in self._request_latencies.items()},
                frames=self._frames,
                bytes_in=self._bytes_in,
                bytes_out=self._bytes_out,
            )

    def collect(self) -> Iterator[Metric]:
        """The metric families of this process's totals and, with several worker processes, the others' (the
        formatting is outside the lock)."""
        totals = self.totals()
        if self.peers is not None:
            for other in self.peers():
                totals.add(other)
        yield from totals.families()


@dataclass
class Totals:
    """Traffic's counts at one moment, as one process kept them or several summed."""

    commands: dict[tuple[str, int], int] = field(default_factory=dict)
    command_latencies: dict[str, Latencies] = field(default_factory=dict)
    request_latencies: dict[str, Latencies] = field(default_factory=dict)
    frames: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def add(self, other: Totals) -> None:
        for key, count in other.commands.items():
            self.commands[key] = self.commands.get(key, 0) + count
        for mine, theirs in (
            (self.command_latencies, other.command_latencies),
            (self.request_latencies, other.request_latencies),
        ):
            for label, latencies in theirs.items():
                total = mine.setdefault(label, Latencies())
                total.counts = [a + b for a, b in zip(total.counts, latencies.counts, strict=True)]
                total.total += latencies.total
        self.frames += other.frames
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out

    def to_json(self) -> dict[str, Any]:
        return {
            "commands": [[method, status, count] for (method, status), count in self.commands.items()],
            "command_latencies": {m: [lat.counts, lat.total] for m, lat in self.command_latencies.items()},
            "request_latencies": {r: [lat.counts, lat.total] for r, lat in self.request_latencies.items()},
            "frames": self.frames,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Totals:
        def latencies(by_label: Mapping[str, Any]) -> dict[str, Latencies]:
            result = {}
            for label, (counts, total) in by_label.items():
                result[label] = Latencies()
                result[label].counts, result[label].total = [int(c) for c in counts], float(total)
            return result

        return cls(
            commands={(str(m), int(s)): int(c) for m, s, c in data["commands"]},
            command_latencies=latencies(data["command_latencies"]),
            request_latencies=latencies(data["request_latencies"]),
            frames=int(data["frames"]),
            bytes_in=int(data["bytes_in"]),
            bytes_out=int(data["bytes_out"]),
        )

    def families(self) -> Iterator[Metric]:
        counted = CounterMetricFamily(
            "rollout_commands", "Commands answered, by method and the status answered.", labels=["method", "status"]
        )
        for (method, status), count in sorted(self.commands.items()):
            counted.add_metric([method, str(status)], count)
        yield counted
        yield _histogram(
            "rollout_command_duration_seconds",
            "Time to run one command (a write group's begin and commit shared among its commands).",
            "method",
            self.command_latencies,
        )
        yield _histogram(
            "rollout_request_duration_seconds",
            "Time from an RPC request's arrival to the end of its answer, by route (/v1 or a method's own).",
            "route",
            self.request_latencies,
        )
        yield CounterMetricFamily(
            "rollout_frames_received",
            "Frames received on POST /v1 and run (a body that is no frame is not one).",
            self.frames,
        )
        yield CounterMetricFamily("rollout_request_bytes", "Bytes of RPC request bodies read.", self.bytes_in)
        yield CounterMetricFamily("rollout_response_bytes", "Bytes of RPC response bodies sent.", self.bytes_out)


def _histogram(name: str, documentation: str, label: str, by_label: Mapping[str, Latencies]) -> Metric:
    family = HistogramMetricFamily(name, documentation, labels=[label])
    for value, latencies in sorted(by_label.items()):
        family.add_metric([value], latencies.cumulative(), latencies.total)
    return family
