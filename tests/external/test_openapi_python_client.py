"""An external generator reads /openapi.json as we mean it: openapi-python-client makes Rollout, Device and
RolloutState types whose always-present fields are not optional, and reads every schema, the frame's too
(runs in `nox -s openapi_client`)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient


def _fields(module: Path, class_name: str) -> dict[str, str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name]
    return {
        node.target.id: ast.unparse(node.annotation)
        for node in cls.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }


def test_openapi_python_client_makes_one_class_per_shared_type(http: TestClient, tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(http.get("/openapi.json").json()), encoding="utf-8")
    command = shutil.which("openapi-python-client")
    assert command is not None, "nox -s openapi_client installs openapi-python-client"
    done = subprocess.run(
        [command, "generate", "--path", str(document), "--output-path", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (package,) = [p for p in (tmp_path / "out").iterdir() if (p / "models").is_dir()]
    models = package / "models"
    rollout = _fields(models / "rollout.py", "Rollout")
    assert rollout["id"] == "str"
    assert rollout["state"] == "RolloutState"
    assert rollout["firmwareid"] == "str"
    assert rollout["name"] == "str | Unset"
    device = _fields(models / "device.py", "Device")
    assert (device["id"], device["state"]) == ("str", "DeviceState")
    # The per-method results are those types, not all-optional RolloutGetResponse200 copies.
    assert not list(models.glob("*response_200*.py")) or {p.stem for p in models.glob("*response_200*.py")} == {
        "rollout_create_response_200"
    }
    get = (package / "api" / "rollout" / "rollout_get.py").read_text(encoding="utf-8")
    assert "-> ErrorBody | Rollout | None" in get
    # Every schema is read, the frame's too: its JsonValue (any JSON without NUL) is recursive, in a form the
    # generator takes (a union with a recursive array in it cost it POST /v1 and the frame models).
    assert "Unable to" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert (package / "api" / "envelope" / "frame.py").is_file()
    assert "cmds: list[Any | Command]" in (models / "request_frame.py").read_text(encoding="utf-8")
