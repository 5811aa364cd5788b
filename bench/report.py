"""The benchmark's results: what was measured, the targets judged on them, the printed table and the JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Measure:
    """One server's figure in one scenario: a median over rounds, or a single timed operation."""

    server: str
    value: float
    unit: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Target:
    """A ratio or figure the issue sets a bound on (bound None: reported, not judged); shown on the row `row`."""

    name: str
    value: float
    op: str  # ">=" or "<="
    bound: float | None
    row: str

    @property
    def met(self) -> bool | None:
        if self.bound is None:
            return None
        return self.value >= self.bound if self.op == ">=" else self.value <= self.bound


@dataclass
class Scenario:
    key: str
    title: str
    measures: list[Measure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    note: str = ""

    def measure(self, server: str) -> Measure:
        return next(m for m in self.measures if m.server == server)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit in ("req/s", "cmds/s", "rows/s"):
        return f"{value:,.0f} {unit}"
    text = f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(scenarios: list[Scenario], *, judged: bool) -> str:
    """The results as a fixed-width table: one row per server, with the ratio the targets take from it."""
    header = ("scenario", "server", "value", "p50 ms", "p99 ms", "err", "ratio", "target", "met")
    rows: list[tuple[str, ...]] = [header]
    for scenario in scenarios:
        first = True
        for measure in scenario.measures:
            targets: list[Target | None] = [t for t in scenario.targets if t.row == measure.server] or [None]
            for target in targets:
                ratio = target_text = met = ""
                if target is not None:
                    ratio = f"{target.name} {target.value:.2f}"
                    if target.bound is not None:
                        target_text = f"{target.op} {target.bound:g}"
                        met = ("yes" if target.met else "NO") if judged else "(smoke)"
                rows.append(
                    (
                        scenario.title if first else "",
                        measure.server,
                        _number(measure.value, measure.unit),
                        _number(measure.p50_ms),
                        _number(measure.p99_ms),
                        str(measure.errors) if measure.errors else "",
                        ratio,
                        target_text,
                        met,
                    )
                )
                first = False
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    notes = [f"  {s.title}: {s.note}" for s in scenarios if s.note]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def write_json(path: Path, meta: dict[str, Any], scenarios: list[Scenario], errors: list[str]) -> None:
    document = {
        "meta": meta,
        "errors": errors,
        "scenarios": {
            s.key: {
                "title": s.title,
                "note": s.note,
                "measures": {m.server: asdict(m) for m in s.measures},
                "targets": [{**asdict(t), "met": t.met} for t in s.targets],
            }
            for s in scenarios
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
