"""`python -m codegen` as CI and developers run it: deterministic output, --check, exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from codegen.cli import main
from tests.codegen.support import (
    REPO,
    WriteDefinitions,
    child_env,
    codegen_command,
    copy_definitions,
    copy_generated,
    project_version,
    read_tree,
    run_codegen,
)


def test_output_does_not_depend_on_hash_seed(tmp_path: Path) -> None:
    runs = {
        seed: subprocess.Popen(
            codegen_command("--output", str(tmp_path / seed)),
            cwd=REPO,
            env=child_env({"PYTHONHASHSEED": seed}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("0", "12345")
    }
    for seed, process in runs.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"PYTHONHASHSEED={seed}: {stdout}{stderr}"
    first, second = read_tree(tmp_path / "0"), read_tree(tmp_path / "12345")
    assert "rollout_api/rollout/contract.py" in first
    assert first == second


def test_generated_folder_is_up_to_date() -> None:
    result = run_codegen("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("generated/ is up to date with definitions/")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of definitions/ and generated/ that a test may change."""
    copy_definitions(tmp_path)
    copy_generated(tmp_path)
    return tmp_path


def _check(checkout: Path) -> subprocess.CompletedProcess[str]:
    return run_codegen(
        "--check",
        "--definitions",
        str(checkout / "definitions"),
        "--output",
        str(checkout / "generated"),
        "--package",
        "rollout_api",
        "--distribution",
        "rollout-api",
        "--version",
        project_version(),
    )


def _report(stdout: str, kind: str) -> list[str]:
    """The paths that --check lists as changed, missing or extra."""
    return [line.split(":", 1)[1].strip() for line in stdout.splitlines() if line.startswith(f"{kind}:")]


def test_check_names_the_files_a_changed_definition_would_change(checkout: Path) -> None:
    definition = checkout / "definitions" / "Rollout" / "Get.json"
    data = json.loads(definition.read_text(encoding="utf-8"))
    data["doc"] = "Returns everything about one rollout."
    definition.write_text(json.dumps(data, indent=2), encoding="utf-8")

    result = _check(checkout)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"{checkout / 'generated'}/ is stale; run `python -m codegen`")
    assert _report(result.stdout, "changed") == ["rollout_api/rollout/client.py", "rollout_api/rollout/contract.py"]
    assert _report(result.stdout, "missing") == []
    assert _report(result.stdout, "extra") == []
    assert '+        """Returns everything about one rollout."""' in result.stdout


def test_check_reports_extra_and_missing_files(checkout: Path) -> None:
    generated = checkout / "generated"
    (generated / "rollout_api" / "stray.py").write_text("x = 1\n", encoding="utf-8")
    (generated / "rollout_api" / "status.py").unlink()
    # Caches that tools leave next to the code are neither generated nor stale.
    (generated / "rollout_api" / "__pycache__").mkdir(exist_ok=True)
    (generated / "rollout_api" / "__pycache__" / "spec.cpython-311.pyc").write_bytes(b"")

    result = _check(checkout)

    assert result.returncode == 1, result.stdout + result.stderr
    assert _report(result.stdout, "changed") == []
    assert _report(result.stdout, "missing") == ["rollout_api/status.py"]
    assert _report(result.stdout, "extra") == ["rollout_api/stray.py"]
    assert "missing: rollout_api/status.py\nextra:   rollout_api/stray.py" in result.stdout


def test_bad_definition_exits_2_with_the_error_on_stderr(tmp_path: Path, write_definitions: WriteDefinitions) -> None:
    definitions = write_definitions({"Get.json": {"doc": "d", "args": {"a": "strin"}}})

    result = run_codegen("--definitions", str(definitions), "--output", str(tmp_path / "out"))

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: definitions/Shop/Get.json: /args/a: unknown type 'strin'; "
        "expected one of string, integer, number, boolean or a schema object\n"
        f"1 problem(s) in {definitions}/; nothing was written\n"
    )
    assert not (tmp_path / "out").exists()


def test_main_returns_2_and_writes_nothing_for_a_bad_definition(
    tmp_path: Path, write_definitions: WriteDefinitions, capsys: pytest.CaptureFixture[str]
) -> None:
    definitions = write_definitions({"Get.json": {"doc": "d", "args": {"a": "string"}, "required_args": ["b"]}})

    code = main(["--definitions", str(definitions), "--output", str(tmp_path / "out"), "--check"])

    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: definitions/Shop/Get.json: /required_args/0: required arg 'b' is not declared in args; declared: a\n"
        f"1 problem(s) in {definitions}/; nothing was written\n"
    )
