"""A new definition file is all it takes to get a new method in the client, the contract and the routing table."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rollout_api import METHODS

from tests.codegen.support import child_env, copy_definitions, read_tree, run_codegen

RENAME = {
    "doc": "Renames the rollout.",
    "args": {
        "projectid": {"doc": "ID of the project.", "type": "string"},
        "rolloutid": {"doc": "ID of the rollout.", "type": "string"},
        "name": {"doc": "New human-readable name.", "type": "string"},
    },
    "required_args": ["projectid", "rolloutid", "name"],
}


def _generate(definitions: Path, output: Path) -> Path:
    result = run_codegen("--definitions", str(definitions), "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    return output


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generated/ for the real definitions without Rename (which a checkout may already have added)."""
    root = tmp_path_factory.mktemp("baseline")
    definitions = copy_definitions(root)
    (definitions / "Rollout" / "Rename.json").unlink(missing_ok=True)
    return _generate(definitions, root / "generated")


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """generated/ for the real definitions plus definitions/Rollout/Rename.json."""
    root = tmp_path_factory.mktemp("spec_change")
    definitions = copy_definitions(root)
    (definitions / "Rollout" / "Rename.json").write_text(json.dumps(RENAME, indent=2), encoding="utf-8")
    return _generate(definitions, root / "generated")


def _methods(path: Path, class_name: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name]
    return {node.name: node for node in cls.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


@pytest.mark.parametrize(
    ("class_name", "is_async", "returns"),
    [("RolloutClient", False, "None"), ("AsyncRolloutClient", True, "None"), ("RolloutBatch", False, "Pending[None]")],
)
def test_client_classes_gain_rename(output: Path, class_name: str, is_async: bool, returns: str) -> None:
    rename = _methods(output / "rollout_api" / "rollout" / "client.py", class_name)["rename"]
    assert isinstance(rename, ast.AsyncFunctionDef) == is_async
    assert [a.arg for a in rename.args.args] == ["self"]
    assert [a.arg for a in rename.args.kwonlyargs] == ["projectid", "rolloutid", "name"]
    assert rename.args.kw_defaults == [None, None, None], "every argument is required"
    assert [ast.unparse(a.annotation) for a in rename.args.kwonlyargs if a.annotation] == ["str", "str", "str"]
    assert rename.returns is not None and ast.unparse(rename.returns) == returns


@pytest.mark.parametrize("class_name", ["RolloutService", "RolloutServiceBase"])
def test_contract_gains_rename(output: Path, class_name: str) -> None:
    rename = _methods(output / "rollout_api" / "rollout" / "contract.py", class_name)["rename"]
    assert [(a.arg, a.annotation and ast.unparse(a.annotation)) for a in rename.args.args] == [
        ("self", None),
        ("ctx", "ContextT_contra"),
        ("args", "RenameArgs"),
    ]
    assert rename.returns is not None and ast.unparse(rename.returns) == "None"


def test_only_the_rollout_modules_change(baseline: Path, output: Path) -> None:
    before, after = read_tree(baseline), read_tree(output)
    assert sorted(before) == sorted(after)
    assert sorted(path for path in after if after[path] != before[path]) == [
        "rollout_api/rollout/client.py",
        "rollout_api/rollout/contract.py",
        "rollout_api/rollout/models.py",
    ]


_PROBE = """
import json
import rollout_api
from rollout_api import Client, METHODS
from rollout_api.rollout.contract import RENAME
from rollout_api.rollout.models import RenameArgs

print(json.dumps({
    "file": rollout_api.__file__,
    "methods": sorted(METHODS),
    "wire_name": RENAME.wire_name,
    "attr": RENAME.attr,
    "has_result": RENAME.result is not None,
    "args": RENAME.dump_args(RenameArgs(projectid="p", rolloutid="r", name="n")),
    "client": callable(Client().rollout.rename),
}))
"""


def test_generated_package_imports_with_the_new_method(output: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=output,
        env=child_env({"PYTHONPATH": str(output)}),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["file"]).is_relative_to(output), "imported the repository's generated/, not the new one"
    assert sorted(found["methods"]) == sorted({*METHODS, "/v1/Rollout.Rename"})
    assert found["wire_name"] == "/v1/Rollout.Rename"
    assert found["attr"] == "rename"
    assert found["has_result"] is False
    assert found["args"] == {"projectid": "p", "rolloutid": "r", "name": "n"}
    assert found["client"] is True


def test_command_line_caller_gains_the_new_method(output: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rollout_api", "Rollout.Rename", "--help"],
        cwd=output,
        env=child_env({"PYTHONPATH": str(output)}),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--projectid PROJECTID" in result.stdout
    assert "--rolloutid ROLLOUTID" in result.stdout
    assert "--name NAME" in result.stdout
    assert "Renames the rollout." in result.stdout
