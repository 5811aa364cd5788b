"""Compare rendered files with the output folder, and bring the folder up to date."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

# Files that tools create next to the generated code; they are neither generated nor stale.
_IGNORED_PARTS = ("__pycache__", ".mypy_cache", ".ruff_cache", "build", "dist")


@dataclass(frozen=True)
class Drift:
    """How the output folder differs from what the definitions generate."""

    changed: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    diffs: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.extra)

    def report(self) -> str:
        lines = [f"changed: {p}" for p in self.changed]
        lines += [f"missing: {p}" for p in self.missing]
        lines += [f"extra:   {p}" for p in self.extra]
        return "\n".join([*lines, *self.diffs])


def existing_files(output: Path) -> set[str]:
    if not output.is_dir():
        return set()
    found = set()
    for path in output.rglob("*"):
        relative = path.relative_to(output)
        if path.is_file() and not _ignored(relative):
            found.add(relative.as_posix())
    return found


def compare(files: dict[str, str], output: Path, *, diff_lines: int = 60) -> Drift:
    on_disk = existing_files(output)
    changed, diffs = [], []
    for path in sorted(set(files) & on_disk):
        current = (output / path).read_text(encoding="utf-8")
        if current != files[path]:
            changed.append(path)
            diff = difflib.unified_diff(
                current.splitlines(), files[path].splitlines(), f"{path} (on disk)", f"{path} (generated)", lineterm=""
            )
            diffs.append("\n".join(list(diff)[:diff_lines]))
    return Drift(
        changed=tuple(changed),
        missing=tuple(sorted(set(files) - on_disk)),
        extra=tuple(sorted(on_disk - set(files))),
        diffs=tuple(diffs),
    )


def write(files: dict[str, str], output: Path) -> Drift:
    """Make the output folder hold exactly the generated files; returns what changed."""
    drift = compare(files, output)
    for path in (*drift.changed, *drift.missing):
        target = output / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[path], encoding="utf-8")
    for path in drift.extra:
        (output / path).unlink()
    for folder in sorted((p for p in output.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return drift


def _ignored(relative: Path) -> bool:
    return any(part in _IGNORED_PARTS or part.endswith(".egg-info") for part in relative.parts)
