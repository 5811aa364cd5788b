"""Fuzz tests: only in `nox -s fuzz`, which sets RUN_FUZZ=1 and installs schemathesis and hypothesis.

Without RUN_FUZZ the test modules here are not even collected (no skips in the normal run), so the
other sessions need neither package. FUZZ_EXAMPLES bounds the examples per test (and per operation).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

collect_ignore_glob = [] if os.environ.get("RUN_FUZZ") else ["test_*.py"]

DEFAULT_EXAMPLES = 25
# Cases run, by operation or frame kind, shown at the end of the run.
VOLUME: Counter[str] = Counter()


def fuzz_examples() -> int:
    """How many examples each fuzz test draws (per operation for the OpenAPI fuzzing)."""
    raw = os.environ.get("FUZZ_EXAMPLES", "")
    return int(raw) if raw.strip() else DEFAULT_EXAMPLES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not VOLUME:
        return
    terminalreporter.section(f"fuzz volume (FUZZ_EXAMPLES={fuzz_examples()})")
    for name, count in sorted(VOLUME.items()):
        terminalreporter.write_line(f"{count:8d}  {name}")
    terminalreporter.write_line(f"{sum(VOLUME.values()):8d}  in all")
