"""The nox sessions install the tool versions pyproject.toml pins, so each version is written once."""

from __future__ import annotations

import functools
import importlib.util
import tomllib
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement

from tests.helpers import ROOT


@functools.cache
def _noxfile() -> ModuleType:
    # Loaded once: loading registers the sessions with nox, and nox warns about a session registered twice.
    spec = importlib.util.spec_from_file_location("noxfile", ROOT / "noxfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _RecordingSession:
    """Stands in for nox.Session: records what a session would install, runs nothing."""

    def __init__(self) -> None:
        self.posargs: list[str] = []
        self.installed: list[str] = []

    def install(self, *args: str) -> None:
        self.installed += args

    def run(self, *_args: Any, **_kwargs: Any) -> None:
        pass


def session_installs(name: str) -> list[str]:
    """What `nox -s <name>` installs with pip, in order."""
    session = _RecordingSession()
    getattr(_noxfile(), name)(session)
    return session.installed


def _pyproject_pins() -> dict[str, str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        extras = tomllib.load(file)["project"]["optional-dependencies"]
    return {Requirement(line).name: line for lines in extras.values() for line in lines}


@pytest.mark.parametrize("name", ["lint", "client_tests"])
def test_sessions_install_the_tools_pyproject_pins(name: str) -> None:
    pins = _pyproject_pins()
    tools = [line for line in session_installs(name) if "==" in line]
    assert tools
    assert tools == [pins[Requirement(line).name] for line in tools]


def test_lint_installs_ruff_alone() -> None:
    assert session_installs("lint") == [_pyproject_pins()["ruff"]]
