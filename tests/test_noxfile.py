"""The nox sessions install the tool versions pyproject.toml pins, so each version is written once; stopping
`nox -s serve` stops the server it started."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement

from tests.helpers import ROOT, child_env, free_port


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

    def __init__(self, venv: Path | None = None) -> None:
        self.posargs: list[str] = []
        self.installed: list[str] = []
        self.virtualenv = SimpleNamespace(location=None if venv is None else str(venv))

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


def test_a_reused_venv_skips_the_install_until_pyproject_changes(tmp_path: Path) -> None:
    """`nox -s keys` reinstalled the project on every call: 24 s each when idle."""
    session = _RecordingSession(venv=tmp_path)
    _noxfile().install_project(session)
    assert session.installed == ["-e", "./generated", "-e", "."]
    _noxfile().install_project(session)
    assert session.installed == ["-e", "./generated", "-e", "."], "installed again although nothing changed"
    # Other extras (as another pyproject.toml would) are a different install.
    _noxfile().install_project(session, "dev")
    assert session.installed[4:] == ["-e", "./generated", "-e", ".[dev]"]
    assert len(list(tmp_path.glob(".installed-*"))) == 1


def test_lint_installs_ruff_alone() -> None:
    assert session_installs("lint") == [_pyproject_pins()["ruff"]]


def _reused_serve_venv(envdir: Path) -> None:
    """A `serve` venv for nox to reuse (`-R`) that sees this interpreter's packages, so that the session starts in
    about a second instead of installing the project."""
    venv = envdir / "serve"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    (site_packages,) = (venv / "lib").glob("python*/site-packages")
    paths = [sysconfig.get_paths()["purelib"], str(ROOT / "generated")]
    (site_packages / "outer.pth").write_text("\n".join(paths) + "\n")


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_nox_serve_stops_the_server(tmp_path: Path, stop: signal.Signals) -> None:
    envdir = tmp_path / "nox"
    _reused_serve_venv(envdir)
    port = free_port()
    env = child_env(ROOT, {"HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"})
    log = (tmp_path / "nox.log").open("w")
    # A session of its own: whatever is left of it at the end is killed by its group id, nothing else.
    nox = subprocess.Popen(
        [sys.executable, "-m", "nox", "-R", "--envdir", str(envdir), "-s", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            assert nox.poll() is None and time.monotonic() < deadline, (tmp_path / "nox.log").read_text()
            time.sleep(0.1)
        nox.send_signal(stop)
        deadline = time.monotonic() + 10
        while _answers(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _answers(port), "the server still answers after nox was stopped"
        assert nox.wait(timeout=10) == 0, (tmp_path / "nox.log").read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(nox.pid, signal.SIGKILL)
        nox.wait()
        log.close()
