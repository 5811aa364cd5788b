"""An old client against a newer server: every safe change keeps it working, and it keeps what it does not know.

The "old" client is the one installed in this venv, generated from today's definitions. The "newer"
server runs from a temporary copy of the repository whose definitions gained a result field
(`Rollout.progress`) and a rollout state (`cancelled`), regenerated and served as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rollout_api import Client
from rollout_api.rollout.models import Rollout, RolloutState

from tests.client.fixtures import _stop, _wait_ready
from tests.helpers import ROOT, free_port

PROJECT = "//api.cesanta.com/project_newer"


def _copy_repository(target: Path) -> None:
    """The files git tracks (what a clone holds), without the working tree's caches and databases."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def _newer_definitions(copy: Path) -> None:
    """Two safe changes: a new result field and a new enum value, both in the shared types."""
    path = copy / "definitions" / "Rollout" / "_types.json"
    types = json.loads(path.read_text(encoding="utf-8"))
    types["$defs"]["RolloutState"]["enum"].append("cancelled")
    types["$defs"]["Rollout"]["properties"]["progress"] = {"doc": "Percent of devices done.", "type": "integer"}
    path.write_text(json.dumps(types, indent=2), encoding="utf-8")
    service = copy / "app" / "rollout" / "service.py"
    text = service.read_text(encoding="utf-8")
    anchor = '"auto_finish": bool(row.auto_finish),'
    implemented = text.replace(anchor, f'{anchor}\n        "progress": 40,', 1)
    assert implemented != text, "the newer server's implementation could not be patched in"
    service.write_text(implemented, encoding="utf-8")


@pytest.fixture(scope="module")
def newer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    copy = tmp_path_factory.mktemp("newer_server")
    _copy_repository(copy)
    _newer_definitions(copy)
    python = os.environ.get("ROLLOUT_SERVER_PYTHON", sys.executable)
    # The copy's own app and generated package come first on the path, ahead of the installed ones.
    env = {**os.environ, "PYTHONPATH": f"{copy}{os.pathsep}{copy / 'generated'}", "PYTHONDONTWRITEBYTECODE": "1"}
    generated = subprocess.run(
        [python, "-m", "codegen"], cwd=copy, env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    database = copy / "newer.db"
    port = free_port()
    env |= {"DATABASE_URL": f"sqlite:///{database}", "PORT": str(port), "AUTH_DISABLED": "true"}
    log_path = copy / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [python, "-m", "app", "serve"], cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(process, url, log_path)
        yield url, database
    finally:
        _stop(process)


def test_old_client_reads_a_new_field_and_a_new_enum_value(newer_server: tuple[str, Path]) -> None:
    url, database = newer_server
    with Client(url, key="") as client:
        created = client.rollout.create(projectid=PROJECT, firmwareid="fw-9", device_filter="room=Lab")
        got = client.rollout.get(projectid=PROJECT, rolloutid=created.id)
        assert got.model_extra == {"progress": 40}, "the field this client does not know is kept"
        assert got.state is RolloutState.INIT
        # The newer server moves the rollout to a state this client has never heard of.
        with sqlite3.connect(database) as connection:
            connection.execute("UPDATE rollout SET state = 'cancelled' WHERE id = ?", (int(created.id),))
        got = client.rollout.get(projectid=PROJECT, rolloutid=created.id)
        (listed,) = client.rollout.list(projectid=PROJECT)
    for rollout in (got, listed):
        assert isinstance(rollout, Rollout)
        assert rollout.state == "cancelled"
        assert rollout.state not in list(RolloutState), "kept as the plain value, not forced into a known member"
        assert rollout.model_extra == {"progress": 40}
        dumped = rollout.model_dump(by_alias=True, exclude_none=True)
        progress = ("counts", "total", "createdAt", "updatedAt", "autoFinish")  # issue 14's, known to this client
        assert {k: v for k, v in dumped.items() if k not in progress} == {
            "id": created.id,
            "projectid": PROJECT,
            "firmwareid": "fw-9",
            "deviceFilter": "room=Lab",
            "state": "cancelled",
            "progress": 40,
        }
