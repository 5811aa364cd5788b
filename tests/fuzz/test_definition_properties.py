# mypy: allow-untyped-decorators
"""Any definition file either generates code that imports, or is refused with DefinitionError: never a traceback.

Schemas are drawn from the format's own keywords (and a few it refuses), nested, with values of every JSON
kind, so the loader's checks, the shared-type resolution and the builder meet shapes no test wrote by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings  # type: ignore[import-not-found,unused-ignore]
from hypothesis import strategies as st  # type: ignore[import-not-found,unused-ignore]

from codegen.build import build_api
from codegen.errors import DefinitionError
from codegen.loader import load_definitions
from codegen.output import write
from codegen.render import render_api
from tests.codegen.support import child_env, write_definitions
from tests.fuzz.conftest import VOLUME, fuzz_examples

_KEYWORDS = [
    "type", "enum", "items", "properties", "required", "additionalProperties", "minimum", "maximum",
    "minLength", "maxLength", "minItems", "maxItems", "pattern", "format", "nullable", "default",
    "deprecated", "doc", "$ref", "oneOf", "const", "title",
]  # fmt: skip
_TYPES = st.sampled_from(["string", "integer", "number", "boolean", "array", "object", "strin"])
_REFS = st.sampled_from(["_types.json#/$defs/Thing", "_types.json#/$defs/Kind", "#/$defs/Thing", "Thing"])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=16), st.text(max_size=4), _TYPES
)


def _schemas() -> st.SearchStrategy[Any]:
    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        values = st.one_of(inner, _SCALARS, st.lists(st.one_of(_SCALARS, inner), max_size=3))
        keyword = st.sampled_from(_KEYWORDS)
        special = st.fixed_dictionaries({"type": _TYPES}, optional={"$ref": _REFS})
        return st.one_of(
            st.dictionaries(keyword, values, max_size=4),
            st.builds(lambda base, more: {**more, **base}, special, st.dictionaries(keyword, values, max_size=3)),
            st.builds(
                lambda props: {"type": "object", "properties": props},
                st.dictionaries(st.text(max_size=3), inner, max_size=3),
            ),
        )

    return st.recursive(st.one_of(_TYPES, st.builds(lambda t: {"type": t}, _TYPES)), extend, max_leaves=8)


@settings(max_examples=fuzz_examples(), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arg=_schemas(), result=st.one_of(st.none(), _schemas()), thing=_schemas())
def test_a_definition_generates_or_is_refused_cleanly(tmp_path_factory: Any, arg: Any, result: Any, thing: Any) -> None:
    root = Path(tmp_path_factory.mktemp("definition"))
    method: dict[str, Any] = {"doc": "Fuzzed.", "args": {"a": arg}}
    if result is not None:
        method["result"] = result
    files = {"Get.json": method, "_types.json": {"$defs": {"Thing": thing, "Kind": {"type": "string", "enum": ["x"]}}}}
    definitions = write_definitions(root, files)
    try:
        api = build_api(load_definitions(definitions), package="fuzz_api", distribution="fuzz-api", version="0.0.1")
    except DefinitionError as exc:
        VOLUME["definition refused"] += 1
        assert str(exc).startswith("definitions/"), str(exc)
        return
    VOLUME["definition accepted"] += 1
    # Accepted means the generated package imports: write it and import it in a fresh interpreter.
    out = root / "out"
    write(render_api(api), out)
    done = subprocess.run(
        [sys.executable, "-c", "import fuzz_api, fuzz_api.server, fuzz_api.cli"],
        cwd=out,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, json.dumps(files, indent=1) + "\n" + done.stderr
