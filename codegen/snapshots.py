"""The old side of the breaking check: the committed API baseline, or definitions/ at a git ref.

Either way the old definitions are written to a temporary folder and read back with the same loader as
the working tree's, so both sides are validated and normalised alike (`$ref` resolved, shorthand
expanded). They are read with the working tree's meta-schema first, since the loader and the meta-schema
change together; if they do not pass it, with the meta-schema they were written against.

The baseline (`api/baseline.json`) is one JSON object:

    {
      "about": "...",
      "format": 1,
      "definitions": {"<path under definitions/>": <the file's JSON>, ...},
      "python_names": [[name, kind, file, pointer, parent], ...]
    }

`definitions` holds every *.json file under definitions/ (the meta-schema too); `python_names` the
public names the generator made from them at the time (see `codegen.breaking.PythonName`), so that a
change of the naming rules, not only of the definitions, is caught as a *code* change.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from codegen.breaking import PythonName
from codegen.errors import DefinitionError
from codegen.loader import META_SCHEMA_FILE, LoadedService, load_definitions

BASELINE_FORMAT = 1
_ABOUT = (
    "The API as last released: every file under definitions/ and the public Python names generated from them. "
    "`python -m codegen breaking` compares the working tree with it; `python -m codegen breaking --update-baseline` "
    "(the release step) rewrites it. Do not edit it by hand."
)


class SnapshotError(Exception):
    """The old side cannot be read: a bad git ref, no git, an unreadable baseline or allow-list."""


@dataclass(frozen=True)
class Baseline:
    files: dict[str, bytes]  # path under definitions/ -> file content
    names: tuple[PythonName, ...]


def definition_files(definitions: Path) -> dict[str, Any]:
    """Every *.json file under the definitions folder, parsed: path relative to it -> JSON."""
    files: dict[str, Any] = {}
    for path in sorted(definitions.rglob("*.json")):
        relative = path.relative_to(definitions)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        files[relative.as_posix()] = json.loads(path.read_text(encoding="utf-8"))
    return files


def write_baseline(path: Path, files: Mapping[str, Any], names: Sequence[PythonName]) -> None:
    """Write the baseline; one Python name per line keeps its diffs readable."""
    head = json.dumps({"about": _ABOUT, "format": BASELINE_FORMAT, "definitions": files}, indent=2)
    rows = ",\n".join("    " + json.dumps(name.to_json()) for name in names)
    text = head.removesuffix("\n}") + ',\n  "python_names": [\n' + rows + "\n  ]\n}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def read_baseline(path: Path) -> Baseline:
    hint = "; `python -m codegen breaking --update-baseline` writes it from the working tree's definitions/"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"no API baseline at {path}{hint}") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read the API baseline {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"the API baseline {path} is not valid JSON: {exc.msg} at line {exc.lineno}{hint}") from exc
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise SnapshotError(f"{path} is not an API baseline of format {BASELINE_FORMAT}{hint}")
    definitions, names = data.get("definitions"), data.get("python_names")
    if not isinstance(definitions, dict) or not isinstance(names, list):
        raise SnapshotError(f"the API baseline {path} lacks 'definitions' or 'python_names'{hint}")
    try:
        parsed = tuple(PythonName.from_json(n) for n in names)
    except ValueError as exc:
        raise SnapshotError(f"the API baseline {path} has a bad python_names entry: {exc}{hint}") from exc
    files = {name: json.dumps(content, indent=2).encode() for name, content in definitions.items()}
    return Baseline(files=files, names=parsed)


def git_definitions(ref: str, definitions: Path) -> dict[str, bytes]:
    """The files under the definitions folder as they are at a git ref (path relative to the folder -> content)."""
    folder = definitions.resolve()
    if not folder.is_dir():
        raise SnapshotError(f"no definitions folder at {definitions}")
    try:
        top = Path(_git(folder, "rev-parse", "--show-toplevel").decode().strip())
    except SnapshotError as exc:
        raise SnapshotError(f"{definitions} is not in a git repository ({exc})") from None
    prefix = folder.relative_to(top.resolve()).as_posix()
    try:
        commit = _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except SnapshotError:
        raise SnapshotError(f"{ref!r} is not a commit in the git repository at {top}") from None
    try:
        archive = _git(top, "archive", "--format=tar", commit, "--", prefix)
    except SnapshotError:
        raise SnapshotError(f"{prefix}/ does not exist at {ref!r}") from None
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            relative = PurePosixPath(member.name).relative_to(prefix)
            if relative.is_absolute() or ".." in relative.parts:
                continue
            extracted = tar.extractfile(member)
            if extracted is not None:
                files[relative.as_posix()] = extracted.read()
    if not files:
        raise SnapshotError(f"{prefix}/ is empty at {ref!r}")
    return files


def load_snapshot(files: Mapping[str, bytes], *, folder_name: str, meta_schema: Path) -> tuple[LoadedService, ...]:
    """Load definitions given as files with the loader, from a temporary folder named like the real one
    (so sources read e.g. definitions/Rollout/Get.json); raises DefinitionError if they do not load."""
    current = meta_schema.read_bytes() if meta_schema.is_file() else None
    own = files.get(META_SCHEMA_FILE)
    with tempfile.TemporaryDirectory(prefix="codegen-breaking-") as tmp:
        root = Path(tmp) / folder_name
        for relative, content in files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if current is None:
            return load_definitions(root)
        (root / META_SCHEMA_FILE).write_bytes(current)
        try:
            return load_definitions(root)
        except DefinitionError:
            if own is None or own == current:
                raise
        (root / META_SCHEMA_FILE).write_bytes(own)
        return load_definitions(root)


def _git(cwd: Path, *args: str) -> bytes:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SnapshotError(f"cannot run git: {exc}") from exc
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip() or f"git {args[0]} failed"
        raise SnapshotError(message)
    return result.stdout
