"""Paths, generator settings and helpers that the generator tests share."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from codegen.cli import generate_files

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FIXTURE_DEFINITIONS = HERE / "fixtures" / "definitions"
PACKAGE = "inventory_api"
DISTRIBUTION = "inventory-api"
VERSION = "1.2.3"
# The golden tree sits in a folder whose name is not an identifier, so that mypy (run on tests/ by
# `nox -s typecheck`) stops there and checks the golden package as `inventory_api`.
GOLDEN = HERE / "golden" / DISTRIBUTION

# Files that Python, mypy and ruff may leave in a tree; they are never generated and never compared.
# What tools leave beside the generated files (pip install ./generated writes build/ and *.egg-info).
_TOOL_LEFTOVERS = ("__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "build", "dist")


class WriteDefinitions(Protocol):
    """Writes a definitions folder with one service; a str is written as is, anything else as JSON."""

    def __call__(self, methods: Mapping[str, object], *, service: str = "Shop", service_file: bool = True) -> Path: ...


def write_definitions(
    root: Path, methods: Mapping[str, object], *, service: str = "Shop", service_file: bool = True
) -> Path:
    """root/definitions with the real meta-schema and one service folder; returns the definitions folder."""
    definitions = root / "definitions"
    (definitions / service).mkdir(parents=True)
    shutil.copyfile(REPO / "definitions" / "meta-schema.json", definitions / "meta-schema.json")
    if service_file:
        (definitions / service / "_service.json").write_text(
            json.dumps({"name": f"/v1/{service}", "doc": f"The {service} service."}), encoding="utf-8"
        )
    for name, content in methods.items():
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        (definitions / service / name).write_text(text, encoding="utf-8")
    return definitions


def generate_fixture() -> dict[str, str]:
    """The generator's output for the fixture definitions, in memory."""
    return generate_files(FIXTURE_DEFINITIONS, package=PACKAGE, distribution=DISTRIBUTION, version=VERSION)


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative POSIX path -> bytes), leaving out caches and build metadata."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not _is_leftover(path.relative_to(root))
    }


def write_tree(files: Mapping[str, str], root: Path) -> None:
    """Make root hold exactly these files, byte for byte (tool caches are left alone)."""
    existing = read_tree(root) if root.is_dir() else {}
    for stale in set(existing) - set(files):
        (root / stale).unlink()
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def copy_definitions(target: Path) -> Path:
    """A copy of the repository's definitions/ under target; returns the copy's path."""
    return Path(shutil.copytree(REPO / "definitions", target / "definitions"))


def copy_generated(target: Path) -> Path:
    """A copy of the repository's generated/ under target, without caches and build metadata."""
    ignore = shutil.ignore_patterns(*_TOOL_LEFTOVERS, "*.egg-info", "build", "dist")
    return Path(shutil.copytree(REPO / "generated", target / "generated", ignore=ignore))


def project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as file:
        version: str = tomllib.load(file)["project"]["version"]
    return version


def codegen_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "codegen", *args]


def run_codegen(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m codegen ARGS` from the repository root, so [tool.codegen] in pyproject.toml applies."""
    return subprocess.run(
        codegen_command(*args), cwd=REPO, env=child_env(env), capture_output=True, text=True, check=False, timeout=120
    )


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child Python: no bytecode written into the trees under test."""
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(extra or {})}


def _is_leftover(relative: Path) -> bool:
    return any(part in _TOOL_LEFTOVERS or part.endswith(".egg-info") for part in relative.parts)


def run_mypy(*targets: str, cwd: Path, path: Sequence[Path], cache: Path) -> subprocess.CompletedProcess[str]:
    """`mypy --strict` with the project's settings on `targets` (e.g. "--module", "usage"), finding modules on `path`."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            *targets,
        ],
        cwd=cwd,
        env=child_env({"MYPYPATH": os.pathsep.join(str(p) for p in path)}),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
