"""Ruff as the generator runs it: the pinned version or a clean refusal, and one run over the whole tree."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

from codegen import formatter
from codegen.cli import main
from codegen.formatter import RUFF_VERSION, format_python, format_tree
from tests.codegen.support import FIXTURE_DEFINITIONS, REPO, child_env, codegen_command
from tests.test_noxfile import session_installs

HOW_TO_GET_IT = f"install it with `pip install ruff=={RUFF_VERSION}`, or run `python3 -m nox -s generate`"


def test_pinned_version_is_the_one_pyproject_and_the_lint_session_install() -> None:
    with (REPO / "pyproject.toml").open("rb") as file:
        codegen_extra = tomllib.load(file)["project"]["optional-dependencies"]["codegen"]
    assert f"ruff=={RUFF_VERSION}" in codegen_extra
    assert session_installs("lint") == [f"ruff=={RUFF_VERSION}"]


def test_installed_ruff_is_the_pinned_version() -> None:
    assert formatter.ruff_version(formatter.ruff_executable()) == RUFF_VERSION


def _main(tmp_path: Path) -> int:
    return main(
        [
            *("--definitions", str(FIXTURE_DEFINITIONS), "--output", str(tmp_path / "out")),
            *("--package", "inventory_api", "--distribution", "inventory-api", "--version", "1.2.3"),
        ]
    )


def test_another_ruff_version_is_refused_with_how_to_get_the_pinned_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(formatter, "ruff_version", lambda executable: "0.16.0")

    assert _main(tmp_path) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: found ruff 0.16.0 ({formatter.find_ruff()}), but the generator formats its output with "
        f"ruff {RUFF_VERSION}, and other versions may format differently: {HOW_TO_GET_IT}\n"
    )
    assert not (tmp_path / "out").exists()


def _no_binary() -> str:
    raise FileNotFoundError("Could not find the ruff binary")


@pytest.mark.parametrize(
    "ruff_module",
    [None, types.SimpleNamespace(find_ruff_bin=_no_binary)],
    ids=["package-missing", "binary-missing"],
)
def test_missing_ruff_is_reported_with_how_to_get_it(
    ruff_module: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # None in sys.modules makes `import ruff` fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "ruff", ruff_module)

    assert _main(tmp_path) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: ruff is not installed for {sys.executable}; the generator needs ruff {RUFF_VERSION}: {HOW_TO_GET_IT}\n"
    )
    assert not (tmp_path / "out").exists()


def test_command_line_refuses_another_ruff_version_without_a_traceback(tmp_path: Path) -> None:
    # A `ruff` package ahead of the installed one on sys.path, whose binary says it is 0.16.0.
    binary = tmp_path / "bin" / "ruff"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\necho 'ruff 0.16.0'\n", encoding="utf-8")
    binary.chmod(0o755)
    (tmp_path / "fake" / "ruff").mkdir(parents=True)
    (tmp_path / "fake" / "ruff" / "__init__.py").write_text(
        f"def find_ruff_bin():\n    return {str(binary)!r}\n", encoding="utf-8"
    )

    result = subprocess.run(
        codegen_command("--check"),
        cwd=REPO,
        env=child_env({"PYTHONPATH": str(tmp_path / "fake")}),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        f"error: found ruff 0.16.0 ({binary}), but the generator formats its output with ruff {RUFF_VERSION}, "
        f"and other versions may format differently: {HOW_TO_GET_IT}\n"
    )


def test_one_run_over_the_tree_formats_each_file_as_ruff_does_alone() -> None:
    files = {
        # Folder names that ruff excludes by default when it walks a folder; given by name, they are formatted.
        "shop_api/build/__init__.py": "import sys\nfrom shop_api import x\nimport httpx\nprint( sys, x, httpx )\n",
        "shop_api/dist/models.py": "import json\nfrom . import a\nimport shop_api.z\ny = {  'a':1}\n",
        "shop_api/client.py": 'from pydantic import BaseModel\nimport os\nclass A( BaseModel ):\n    """d\r\ne"""\n',
    }

    formatted = format_tree(files, first_party="shop_api")

    assert formatted == {path: format_python(text, path, first_party="shop_api") for path, text in files.items()}
    assert formatted["shop_api/build/__init__.py"] == (
        "import sys\n\nimport httpx\n\nfrom shop_api import x\n\nprint(sys, x, httpx)\n"
    )
    assert formatted["shop_api/dist/models.py"] == 'y = {"a": 1}\n'


def test_a_file_ruff_cannot_parse_is_named_with_its_source() -> None:
    files = {"shop_api/good.py": "x = 1\n", "shop_api/bad.py": "def f(:\n"}

    with pytest.raises(RuntimeError, match=r"(?s)failed on generated shop_api/bad\.py:.*--- source ---\ndef f\(:"):
        format_tree(files, first_party="shop_api")
