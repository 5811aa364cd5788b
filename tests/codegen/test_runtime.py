"""The runtime that is the same in every package: real modules in codegen/runtime/, copied as they are."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from codegen import naming
from codegen.render import header
from tests.codegen.support import GOLDEN, PACKAGE, REPO

RUNTIME = REPO / "codegen" / "runtime"
TEMPLATES = REPO / "codegen" / "templates" / "runtime"
SOURCES = sorted(path.name for path in RUNTIME.iterdir() if path.is_file())
# What a generated package may import besides itself: the standard library and its own dependencies.
_DEPENDENCIES = frozenset({"httpx", "pydantic", "pydantic_core", "typing_extensions"})


def test_the_runtime_folder_holds_the_modules() -> None:
    assert "py.typed" in SOURCES
    assert {"cli.py", "errors.py", "spec.py", "status.py", "transport.py", "validation.py"} <= set(SOURCES)


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("package", [REPO / "generated" / "rollout_api", GOLDEN / PACKAGE], ids=["rollout", "golden"])
def test_the_generated_copy_is_the_source_after_the_header(name: str, package: Path) -> None:
    # Both packages, so the text cannot depend on the package; ruff formats every generated file, so a source it
    # would change shows up here too.
    source = (RUNTIME / name).read_text(encoding="utf-8")
    assert (package / name).read_bytes() == f"{header('definitions')}\n{source}".encode()


@pytest.mark.parametrize("name", [name for name in SOURCES if name.endswith(".py")])
def test_a_runtime_module_imports_its_package_relatively(name: str) -> None:
    text = (RUNTIME / name).read_text(encoding="utf-8")
    for marker in ("{{", "{%", "{#"):
        assert marker not in text, f"{name} holds jinja syntax {marker!r}: it is copied, not rendered"
    for node in ast.walk(ast.parse(text, name)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            top = node.module.split(".")[0]
        elif isinstance(node, ast.Import):
            top = node.names[0].name.split(".")[0]
        else:
            continue
        assert top in sys.stdlib_module_names or top in _DEPENDENCIES, (
            f"{name}:{node.lineno} imports {top}: a module of the package itself is imported relatively "
            "(from .errors import ...), so that the text names no package"
        )


def test_every_runtime_module_is_a_name_no_service_takes() -> None:
    verbatim = {name.removesuffix(".py") for name in SOURCES if name.endswith(".py")}
    templated = {path.name.removesuffix(".py.j2") for path in TEMPLATES.glob("*.py.j2")}
    assert verbatim.isdisjoint(templated), "a module is both copied and rendered"
    public = {name for name in verbatim | templated if not name.startswith("_")}
    assert public == naming.RUNTIME_MODULES
