"""Ruff as the generator's formatter: the pinned version, run once per step over the whole rendered tree."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

# The ruff that generated/ is formatted with; pyproject.toml and the lint session pin the same version
# (tests/codegen/test_formatter.py checks that they agree). Another version may format differently.
RUFF_VERSION = "0.17.6"

# The same settings the project's ruff configuration uses, given explicitly so that output
# does not depend on where the generator runs.
_SETTINGS = ("--isolated", "--line-length", "120", "--target-version", "py311")
_FIX = ("check", "--fix", "--exit-zero", "--quiet", "--select", "F401,I")
_FORMAT = ("format", "--quiet")
_HOW_TO_GET_IT = f"install it with `pip install ruff=={RUFF_VERSION}`, or run `python3 -m nox -s generate`"


class RuffUnavailable(Exception):
    """The pinned ruff is missing or another version is installed; the message says how to get it."""


def ruff_executable() -> str:
    """The ruff installed for this Python, once its version is checked against RUFF_VERSION."""
    try:
        executable = find_ruff()
    except (ImportError, FileNotFoundError):
        raise RuffUnavailable(
            f"ruff is not installed for {sys.executable}; the generator needs ruff {RUFF_VERSION}: {_HOW_TO_GET_IT}"
        ) from None
    found = ruff_version(executable)
    if found != RUFF_VERSION:
        raise RuffUnavailable(
            f"found ruff {found} ({executable}), but the generator formats its output with ruff {RUFF_VERSION}, "
            f"and other versions may format differently: {_HOW_TO_GET_IT}"
        )
    return executable


def find_ruff() -> str:
    """The ruff binary of the `ruff` package installed for this Python; ImportError if there is none."""
    finder = importlib.import_module("ruff").find_ruff_bin
    executable: str = finder()
    return executable


def ruff_version(executable: str) -> str:
    """What `ruff --version` says, e.g. 0.17.6."""
    try:
        result = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False, timeout=60)
    except OSError as exc:
        raise RuffUnavailable(f"cannot run {executable} ({exc}); the generator needs ruff {RUFF_VERSION}") from None
    words = result.stdout.split()
    if result.returncode == 0 and len(words) == 2 and words[0] == "ruff":
        return words[1]
    return repr((result.stdout + result.stderr).strip() or f"exit status {result.returncode}")


def format_tree(files: Mapping[str, str], *, first_party: str) -> dict[str, str]:
    """Python files (relative POSIX path -> text), with unused imports dropped, imports sorted and formatted.

    Each file is written to a temporary folder at its own relative path, so that the package folder keeps the
    package's name, and ruff runs twice over all of them: `check --fix`, then `format`.
    """
    if not files:
        return {}
    executable = ruff_executable()
    with tempfile.TemporaryDirectory(prefix="codegen-ruff-") as folder:
        root = Path(folder)
        for path, text in files.items():
            target = root / PurePosixPath(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
        paths = list(files)
        for command in (_fix_command(first_party), _FORMAT):
            result = subprocess.run(
                [executable, *command, *_SETTINGS, "--no-cache", "--", *paths],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                _raise_for_the_failing_file(executable, files, first_party)
                raise RuntimeError(f"ruff {command[0]} failed on the generated files:\n{result.stderr}")
        # Read in text mode, as the single-file path reads ruff's output: line endings become "\n".
        return {path: (root / PurePosixPath(path)).read_text(encoding="utf-8") for path in files}


def format_python(text: str, path: str, *, first_party: str, executable: str | None = None) -> str:
    """One file through ruff's standard input: `ruff check --fix` (F401, I), then `ruff format`."""
    executable = executable or ruff_executable()
    fixed = _ruff(executable, _fix_command(first_party), text, path)
    return _ruff(executable, _FORMAT, fixed, path)


def _fix_command(first_party: str) -> tuple[str, ...]:
    return (*_FIX, "--config", f"lint.isort.known-first-party = [{json.dumps(first_party)}]")


def _raise_for_the_failing_file(executable: str, files: Mapping[str, str], first_party: str) -> None:
    """After a failed run over the tree: format file by file, so that the error names the file and shows it."""
    for path, text in files.items():
        format_python(text, path, first_party=first_party, executable=executable)


def _ruff(executable: str, command: tuple[str, ...], text: str, path: str) -> str:
    result = subprocess.run(
        [executable, *command, *_SETTINGS, "--stdin-filename", path, "-"],
        input=text,
        capture_output=True,
        encoding="utf-8",
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ruff {command[0]} failed on generated {path}:\n{result.stderr}\n--- source ---\n{text}")
    return result.stdout
