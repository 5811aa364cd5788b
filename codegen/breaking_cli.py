"""`python -m codegen breaking`: compare definitions/ with the API baseline (or a git ref) and classify each change.

    python -m codegen breaking                    # against the baseline, api/baseline.json
    python -m codegen breaking --against main     # against definitions/ at a git ref
    python -m codegen breaking --update-baseline  # the release step: the working tree becomes the baseline

Each change is printed as `CATEGORY: FILE: POINTER: what an old client sees`, CATEGORY being *wire*,
*code* or *safe* (see codegen/breaking.py), then a one-line summary. Exit status: 1 when a wire or code
change is not in the allow-list, 2 when something cannot be read (a bad ref, the baseline, the
allow-list, a definition), else 0.

The allow-list (`api/breaking-allow.json`) is a JSON list of the breaking changes a release accepts:

    [{"file": "definitions/Rollout/Get.json", "pointer": "/result/properties/name",
      "category": "wire", "reason": "no client reads name yet"}]

An entry allows every change of its category at exactly that file and pointer ("/" is the whole file);
the reason is required. A change in a shared type (`_types.json`) is reported, and allowed, at each method
file and pointer that uses it (see codegen/breaking.py). An entry that matches nothing is stale: a warning, not a failure.
`--update-baseline` empties it, since the release has accepted what it declared.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen.breaking import CATEGORIES, ApiVersion, Change, PythonName, compare, python_names
from codegen.build import build_api
from codegen.errors import DefinitionError
from codegen.loader import META_SCHEMA_FILE, LoadedService, load_definitions
from codegen.snapshots import (
    SnapshotError,
    definition_files,
    git_definitions,
    load_snapshot,
    read_baseline,
    write_baseline,
)

DEFAULT_BASELINE = "api/baseline.json"
DEFAULT_ALLOW_LIST = "api/breaking-allow.json"
_ALLOW_KEYS = ("file", "pointer", "category", "reason")


@dataclass(frozen=True)
class Allowance:
    """One allow-list entry."""

    file: str
    pointer: str
    category: str
    reason: str

    def matches(self, change: Change) -> bool:
        return (self.file, _pointer(self.pointer), self.category) == (change.file, change.pointer, change.category)


def main(argv: Sequence[str], settings: dict[str, Any]) -> int:
    args = _parser(settings).parse_args(argv)
    definitions = Path(args.definitions)
    try:
        new_services = load_definitions(definitions)
        new = ApiVersion(new_services, _names(new_services, args.package))
    except DefinitionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.update_baseline:
        return _update_baseline(definitions, new, Path(args.baseline), Path(args.allow_list))
    try:
        allowances = read_allow_list(Path(args.allow_list))
        if args.against is not None:
            label = f"{definitions}/ at {args.against}"
            old_services = _load_old(git_definitions(args.against, definitions), definitions, label)
            try:
                old = ApiVersion(old_services, _names(old_services, args.package))
            except DefinitionError as exc:
                raise SnapshotError(f"the definitions in {label} do not generate: {exc}") from exc
        else:
            label = f"the baseline {args.baseline}"
            baseline = read_baseline(Path(args.baseline))
            old = ApiVersion(_load_old(baseline.files, definitions, label), baseline.names)
    except SnapshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _report(compare(old, new), allowances, label, args.allow_list)


def read_allow_list(path: Path) -> tuple[Allowance, ...]:
    """The allow-list's entries; a missing file is an empty list, anything malformed a SnapshotError."""
    if not path.exists():
        return ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SnapshotError(f"cannot read the allow-list {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SnapshotError(
            f"the allow-list {path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    example = '{"file": "definitions/S/M.json", "pointer": "/args/x", "category": "wire", "reason": "why"}'
    if not isinstance(data, list):
        raise SnapshotError(f"the allow-list {path} must be a JSON list of entries like {example}")
    entries = []
    for index, entry in enumerate(data):
        where = f"the allow-list {path}, entry {index}"
        if not isinstance(entry, dict) or set(entry) != set(_ALLOW_KEYS):
            raise SnapshotError(f"{where}: expected exactly the keys {', '.join(_ALLOW_KEYS)}, like {example}")
        if not all(isinstance(entry[key], str) for key in _ALLOW_KEYS):
            raise SnapshotError(f"{where}: {', '.join(_ALLOW_KEYS)} must be strings")
        if entry["category"] not in ("wire", "code"):
            raise SnapshotError(f"{where}: category must be 'wire' or 'code', not {entry['category']!r}")
        if not entry["reason"].strip():
            raise SnapshotError(f"{where}: a reason is required: say why old clients can live with this change")
        entries.append(Allowance(**{key: entry[key] for key in _ALLOW_KEYS}))
    return tuple(entries)


def _report(changes: list[Change], allowances: Sequence[Allowance], label: str, allow_list: str) -> int:
    order = {category: index for index, category in enumerate(CATEGORIES)}
    used: set[int] = set()
    failing = allowed = 0
    for change in sorted(changes, key=lambda c: order[c.category]):
        if change.category == "safe":
            print(change.line())
            continue
        matched = [i for i, a in enumerate(allowances) if a.matches(change)]
        if matched:
            used.update(matched)
            allowed += 1
            print(f"allowed {change.line()} (reason: {allowances[matched[0]].reason})")
        else:
            failing += 1
            print(change.line())
    for index, allowance in enumerate(allowances):
        if index not in used:
            print(
                f"warning: {allow_list}, entry {index} ({allowance.category} at {allowance.file} "
                f"{allowance.pointer or '/'}) matches no change; remove it",
                file=sys.stderr,
            )
    counts = Counter(c.category for c in changes)
    summary = ", ".join(f"{counts[category]} {category}" for category in CATEGORIES)
    print(f"summary: {summary} ({allowed} allowed) against {label}")
    if failing:
        print(
            f"error: {failing} breaking change(s) not in the allow-list {allow_list}: undo them, or add each "
            "(file, pointer, category) with a reason",
            file=sys.stderr,
        )
        return 1
    return 0


def _update_baseline(definitions: Path, new: ApiVersion, baseline: Path, allow_list: Path) -> int:
    try:
        accepted = len(read_allow_list(allow_list))
    except SnapshotError:
        accepted = 0
    try:
        files = definition_files(definitions)
    except (OSError, ValueError) as exc:
        print(f"error: cannot snapshot {definitions}/: {exc}", file=sys.stderr)
        return 2
    write_baseline(baseline, files, new.names)
    allow_list.parent.mkdir(parents=True, exist_ok=True)
    allow_list.write_text("[]\n", encoding="utf-8")
    print(f"wrote {baseline} from {definitions}/ ({len(new.services)} services, {len(new.names)} Python names)")
    print(f"emptied {allow_list}: the release accepts its {accepted} entr{'y' if accepted == 1 else 'ies'}")
    return 0


def _load_old(files: dict[str, bytes], definitions: Path, label: str) -> tuple[LoadedService, ...]:
    try:
        return load_snapshot(files, folder_name=definitions.resolve().name, meta_schema=definitions / META_SCHEMA_FILE)
    except DefinitionError as exc:
        raise SnapshotError(f"the definitions in {label} do not load: {exc}") from exc


def _names(services: tuple[LoadedService, ...], package: str) -> tuple[PythonName, ...]:
    return python_names(build_api(services, package=package, distribution="-", version="0"))


def api_changes_since_commit(definitions: Path, package: str) -> list[str]:
    """After `python -m codegen` wrote generated/: which methods were added, removed or changed compared with
    the committed definitions (HEAD), which is what generated/ was last generated from. Empty outside a git
    repository, when nothing changed, or when the committed definitions cannot be read."""
    try:
        old_services = load_snapshot(
            git_definitions("HEAD", definitions),
            folder_name=definitions.resolve().name,
            meta_schema=definitions / META_SCHEMA_FILE,
        )
        new_services = load_definitions(definitions)
        old = ApiVersion(old_services, _names(old_services, package))
        new = ApiVersion(new_services, _names(new_services, package))
    except (SnapshotError, DefinitionError, OSError):
        return []
    changes = compare(old, new)
    old_methods = {m.source: f"{s.wire_path}.{m.name}" for s in old.services for m in s.methods}
    new_methods = {m.source: f"{s.wire_path}.{m.name}" for s in new.services for m in s.methods}
    lines = [
        f"  added:   {wire}: needs an implementation in the server (answers 501 until then)"
        for source, wire in new_methods.items()
        if source not in old_methods
    ]
    lines += [f"  removed: {wire}" for source, wire in old_methods.items() if source not in new_methods]
    for source, wire in new_methods.items():
        counts = Counter(c.category for c in changes if c.file == source)
        if source in old_methods and counts:
            lines.append(f"  changed: {wire}: " + ", ".join(f"{counts[c]} {c}" for c in CATEGORIES if counts[c]))
    if not lines:
        return []
    return [
        f"API changes since the last commit ({definitions}/ at HEAD):",
        *lines,
        "what old clients see: python -m codegen breaking --against HEAD",
    ]


def _pointer(pointer: str) -> str:
    return "" if pointer == "/" else pointer


def _parser(settings: dict[str, Any]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codegen breaking",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Categories: wire (an old client or server breaks on the wire), code (code using the generated "
        "package breaks), safe. Exit 1 on a wire or code change not in the allow-list, 2 when something cannot "
        "be read.",
    )
    parser.add_argument("--definitions", default=settings.get("definitions", "definitions"), help="definitions folder")
    parser.add_argument("--package", default=settings.get("package", "api_client"), help="Python package name")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--against", metavar="REF", help="compare with definitions/ at this git ref, not the baseline")
    which.add_argument(
        "--update-baseline",
        action="store_true",
        help="the release step: make the working tree's definitions the baseline and empty the allow-list",
    )
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help=f"the API baseline (default {DEFAULT_BASELINE})")
    parser.add_argument(
        "--allow-list", default=DEFAULT_ALLOW_LIST, help=f"accepted breaking changes (default {DEFAULT_ALLOW_LIST})"
    )
    return parser
