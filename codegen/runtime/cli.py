"""Command-line caller built from the method table, in the spirit of `mos call`.

    %(prog)s Service.Method --arg value ...        typed options, --help per method
    %(prog)s call Service.Method '{"arg": "value"}'  args as one JSON object

The result is printed as JSON on stdout; a failed command prints its status_msg on stderr
and exits 1 (3 when the server cannot be reached, 2 for a usage error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ._env import KEY_ENV, URL_ENV
from .client import Client
from .errors import RpcError, TransportError
from .methods import METHODS
from .spec import MethodSpec
from .transport import DEFAULT_BASE_URL

# Method arguments live under their own prefix so that one named like a global option (url, key) cannot clash.
ARG_DEST = "arg:"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.command == "call":
        spec = METHODS.get(_wire_name(options.name))
        if spec is None:
            parser.error(f"unknown method {options.name!r}; choose from: {', '.join(_short_names())}")
        try:
            args = json.loads(options.args)
        except json.JSONDecodeError as exc:
            parser.error(f"args must be a JSON object: {exc}")
        if not isinstance(args, dict):
            parser.error('args must be a JSON object, e.g. \'{"projectid": "p1"}\'')
    else:
        spec = METHODS[_wire_name(options.command)]
        given = vars(options).items()
        args = {
            dest[len(ARG_DEST) :]: value for dest, value in given if dest.startswith(ARG_DEST) and value is not None
        }
    return _run(options, spec, args)


def build_parser() -> argparse.ArgumentParser:
    # The package's name is read at run time, as this file is the same in every package; %(prog)s in __doc__ shows it.
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", default=os.environ.get(URL_ENV, DEFAULT_BASE_URL), help=f"server base URL (${URL_ENV})"
    )
    parser.add_argument("--key", default=os.environ.get(KEY_ENV), help=f"API key (${KEY_ENV})")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the server")
    methods = parser.add_subparsers(dest="command", required=True, metavar="METHOD")
    call = methods.add_parser("call", help="call any method with its args as one JSON object")
    call.add_argument("name", help="Service.Method, e.g. " + (_short_names() or ["Service.Method"])[0])
    call.add_argument("args", nargs="?", default="{}", help="the args object as JSON")
    for spec in METHODS.values():
        doc = f"{spec.doc} Deprecated." if spec.deprecated else spec.doc
        method = methods.add_parser(f"{spec.service}.{spec.method}", help=_literal(doc), description=doc)
        required = set(spec.definition["required_args"])
        for name, schema in spec.definition["args"].items():
            option = _option(schema)
            if "action" not in option and "choices" not in option:
                option.setdefault("metavar", name.upper())
            method.add_argument(f"--{name}", dest=ARG_DEST + name, required=name in required, **option)
    return parser


def _literal(text: str) -> str:
    """A doc as argparse help: argparse %-formats help strings, so a doc's own % ("20 %") is doubled."""
    return text.replace("%", "%%")


def _option(schema: Mapping[str, Any]) -> dict[str, Any]:
    """argparse settings for one argument, from its JSON Schema."""
    notes = [schema.get("doc", "")]
    if "default" in schema:
        notes.append(f"Default: {json.dumps(schema['default'])}.")
    if schema.get("deprecated"):
        notes.append("Deprecated.")
    help_text = _literal(" ".join(note for note in notes if note))
    kind = schema.get("type")
    if "enum" in schema:
        return {"choices": list(schema["enum"]), "type": int if kind == "integer" else str, "help": help_text}
    if kind == "integer":
        return {"type": int, "help": help_text}
    if kind == "number":
        return {"type": float, "help": help_text}
    if kind == "boolean":
        return {"action": argparse.BooleanOptionalAction, "help": help_text}
    if kind == "array" and schema["items"].get("type") == "string":
        return {"nargs": "+", "metavar": "VALUE", "help": help_text}
    if kind in ("array", "object"):  # maps too: {"key": value, ...}
        return {"type": json.loads, "metavar": "JSON", "help": f"{help_text} (as JSON)".strip()}
    return {"help": help_text}


def _run(options: argparse.Namespace, spec: MethodSpec[Any, Any], args: dict[str, Any]) -> int:
    try:
        with Client(options.url, key=options.key, timeout=options.timeout) as client:
            (response,) = client.send([(spec, args)])
    except TransportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (RpcError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if response.status != 0:
        print(f"error: {response.status}: {response.status_msg}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(response.resp, indent=2, ensure_ascii=False))
    return 0


def _wire_name(short: str) -> str:
    return next((wire for wire, spec in METHODS.items() if f"{spec.service}.{spec.method}" == short), short)


def _short_names() -> list[str]:
    return [f"{spec.service}.{spec.method}" for spec in METHODS.values()]
