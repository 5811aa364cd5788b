"""Command line: settings come from [tool.codegen] in pyproject.toml, flags override them.

`python -m codegen` writes generated/, `--check` reports how it differs; `python -m codegen breaking ...`
is the breaking-change check (codegen/breaking_cli.py).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from codegen import breaking_cli
from codegen.build import build_api
from codegen.errors import DefinitionError, DefinitionErrors
from codegen.formatter import RuffUnavailable
from codegen.loader import load_definitions
from codegen.output import compare, write
from codegen.render import render_api


def generate_files(definitions: Path, *, package: str, distribution: str, version: str) -> dict[str, str]:
    """Load, validate and render: the whole generator as one function."""
    api = build_api(load_definitions(definitions), package=package, distribution=distribution, version=version)
    return render_api(api)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = _project_settings(Path("pyproject.toml"))
    if argv[:1] == ["breaking"]:
        return breaking_cli.main(argv[1:], settings)
    args = _parser(settings).parse_args(argv)
    try:
        files = generate_files(
            Path(args.definitions), package=args.package, distribution=args.distribution, version=args.version
        )
    except DefinitionError as exc:
        errors = exc.errors if isinstance(exc, DefinitionErrors) else (exc,)
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"{len(errors)} problem(s) in {args.definitions}/; nothing was written", file=sys.stderr)
        return 2
    except RuffUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    output = Path(args.output)
    if args.check:
        drift = compare(files, output)
        if drift.clean:
            print(f"{output}/ is up to date with {args.definitions}/ ({len(files)} files)")
            return 0
        print(f"{output}/ is stale; run `python -m codegen` (or `nox -s generate`) and commit the result:")
        print(drift.report())
        return 1
    drift = write(files, output)
    touched = len(drift.changed) + len(drift.missing) + len(drift.extra)
    print(f"wrote {output}/: {len(files)} files, {touched} changed")
    for line in breaking_cli.api_changes_since_commit(Path(args.definitions), args.package):
        print(line)
    return 0


def _project_settings(pyproject: Path) -> dict[str, Any]:
    if not pyproject.is_file():
        return {}
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    settings: dict[str, Any] = dict(data.get("tool", {}).get("codegen", {}))
    if "version" in data.get("project", {}):
        settings.setdefault("version", data["project"]["version"])
    return settings


def _parser(settings: dict[str, Any]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description="Write generated/ from definitions/, or with --check report how it differs.",
        epilog="Breaking-change check: `python -m codegen breaking [--against REF | --update-baseline]` compares "
        "definitions/ with the API baseline (api/baseline.json) or a git ref and classifies each change as wire, "
        "code or safe; `python -m codegen breaking --help` tells more.",
    )
    parser.add_argument("--definitions", default=settings.get("definitions", "definitions"), help="definitions folder")
    parser.add_argument("--output", default=settings.get("output", "generated"), help="output folder")
    parser.add_argument("--package", default=settings.get("package", "api_client"), help="Python package name")
    parser.add_argument(
        "--distribution", default=settings.get("distribution", "api-client"), help="name of the installable package"
    )
    parser.add_argument("--version", default=settings.get("version", "0.0.0"), help="version of the generated package")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the output folder is stale")
    return parser
