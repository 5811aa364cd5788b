"""The generated server binding: mypy refuses an implementation that lacks a method and a binding that leaves
a service out, naming the method or the service; bind() and unimplemented() report what is implemented."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from codegen.cli import generate_files
from codegen.naming import method_name
from tests.codegen.support import (
    DISTRIBUTION,
    FIXTURE_DEFINITIONS,
    GOLDEN,
    PACKAGE,
    VERSION,
    run_mypy,
    write_tree,
)

# The fixture's Inventory methods as a class holds them, typed loosely: mypy checks presence and arity here.
INVENTORY_METHODS = tuple(
    method_name(path.stem) for path in sorted((FIXTURE_DEFINITIONS / "Inventory").glob("[!_]*.json"))
)


def _class(name: str, methods: tuple[str, ...]) -> str:
    lines = [f"class {name}:"] + [f"    def {m}(self, ctx: Any, args: Any) -> Any: ..." for m in methods]
    return "\n".join(lines) + "\n"


# Move is defined with "batch": its contract also has move_batch, taking a sequence and answering one.
_MOVE_BATCH = "    def move_batch(self, ctx: Any, batch: Sequence[Any]) -> Any: ...\n"


_USES = f"""\
from collections.abc import Sequence
from typing import Any

from {PACKAGE}.server import Services

{_class("Inventory", INVENTORY_METHODS)}{_MOVE_BATCH}
{_class("WithoutMove", tuple(m for m in INVENTORY_METHODS if m != "move"))}{_MOVE_BATCH}
{_class("MoveTakesTwo", tuple(m for m in INVENTORY_METHODS if m != "move"))}{_MOVE_BATCH}    def move(self, ctx: Any, args: Any, dry_run: bool) -> Any: ...

{_class("WithoutMoveBatch", INVENTORY_METHODS)}
{_class("Billing", ("charge",))}
complete = Services(inventory=Inventory(), billing=Billing())
lacks_a_method = Services(inventory=WithoutMove(), billing=Billing())
declares_it_differently = Services(inventory=MoveTakesTwo(), billing=Billing())
lacks_a_batch = Services(inventory=WithoutMoveBatch(), billing=Billing())
lacks_a_service = Services(inventory=Inventory())
"""


@pytest.fixture(scope="module")
def two_services(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture package generated with a second service, Billing, beside Inventory."""
    root = tmp_path_factory.mktemp("two_services")
    definitions = Path(shutil.copytree(FIXTURE_DEFINITIONS, root / "definitions"))
    billing = definitions / "Billing"
    billing.mkdir()
    (billing / "_service.json").write_text(json.dumps({"name": "/v1/Billing", "doc": "Bills."}), encoding="utf-8")
    charge = {"doc": "Charges.", "args": {"amount": {"type": "integer"}}, "required_args": ["amount"]}
    (billing / "Charge.json").write_text(json.dumps(charge), encoding="utf-8")
    files = generate_files(definitions, package=PACKAGE, distribution=DISTRIBUTION, version=VERSION)
    write_tree(files, root / "out")
    return root / "out"


@pytest.fixture(scope="module")
def mypy_output(two_services: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy --strict's report on _USES, by the name of the binding each error and note belongs to."""
    work = tmp_path_factory.mktemp("uses")
    (work / "uses.py").write_text(_USES, encoding="utf-8")
    result = run_mypy("--module", "uses", cwd=work, path=[two_services, work], cache=work / "mypy_cache")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = _USES.splitlines()
    by_binding: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if line.startswith("uses.py:"):
            number, message = line.removeprefix("uses.py:").split(":", 1)
            by_binding.setdefault(lines[int(number) - 1].split(" = ")[0], []).append(message.strip())
    return by_binding


def test_mypy_accepts_a_binding_of_every_service_to_a_complete_class(mypy_output: dict[str, list[str]]) -> None:
    assert "complete" not in mypy_output
    assert set(mypy_output) == {"lacks_a_method", "declares_it_differently", "lacks_a_batch", "lacks_a_service"}


def test_mypy_names_the_method_a_class_lacks(mypy_output: dict[str, list[str]]) -> None:
    assert mypy_output["lacks_a_method"] == [
        'error: Argument "inventory" to "Services" has incompatible type "WithoutMove"; '
        'expected "InventoryService[Any]"  [arg-type]',
        'note: "WithoutMove" is missing following "InventoryService" protocol member:',
        "note:     move",
    ]


def test_mypy_names_the_batch_implementation_a_class_lacks(mypy_output: dict[str, list[str]]) -> None:
    assert mypy_output["lacks_a_batch"] == [
        'error: Argument "inventory" to "Services" has incompatible type "WithoutMoveBatch"; '
        'expected "InventoryService[Any]"  [arg-type]',
        'note: "WithoutMoveBatch" is missing following "InventoryService" protocol member:',
        "note:     move_batch",
    ]


def test_mypy_names_the_method_a_class_declares_differently(mypy_output: dict[str, list[str]]) -> None:
    notes = mypy_output["declares_it_differently"]
    assert notes[0].startswith('error: Argument "inventory" to "Services" has incompatible type')
    assert 'note: Following member(s) of "MoveTakesTwo" have conflicts:' in notes
    assert any("def move(" in note for note in notes), notes


def test_mypy_names_the_service_a_binding_leaves_out(mypy_output: dict[str, list[str]]) -> None:
    assert mypy_output["lacks_a_service"] == [
        'error: Missing named argument "billing" for "Services"  [call-arg]',
        'note: "Services" defined in "inventory_api.server"',
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[ModuleType]:
    """The golden package's server module, imported from its folder and forgotten again afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(GOLDEN))
        patch.setattr(sys, "dont_write_bytecode", True)
        try:
            module = importlib.import_module(f"{PACKAGE}.server")
            assert Path(module.__file__ or "").is_relative_to(GOLDEN)
            yield module
        finally:
            for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
                del sys.modules[name]


def test_bind_resolves_every_method_to_the_function_the_class_holds(server: ModuleType) -> None:
    class Inventory:
        def add_item(self, ctx: Any, args: Any) -> Any: ...
        def audit(self, ctx: Any, args: Any) -> Any: ...
        def list_items(self, ctx: Any, args: Any) -> Any: ...
        def move(self, ctx: Any, args: Any) -> Any: ...
        def move_batch(self, ctx: Any, batch: Any) -> Any: ...
        def remove(self, ctx: Any, args: Any) -> Any: ...

    inventory = Inventory()
    bindings = server.bind(server.Services(inventory=inventory))
    assert sorted(bindings) == sorted(server.METHODS)
    for wire_name, binding in bindings.items():
        assert binding.spec is server.METHODS[wire_name]
        # The implementation's own method, bound: the dispatcher calls function(ctx, args).
        assert binding.function == getattr(inventory, binding.spec.attr)
        assert binding.function.__self__ is inventory
    assert server.unimplemented(server.Services(inventory=inventory)) == []
    # Only Move is defined with "batch": its binding holds move_batch, the others none.
    assert {name: b.batch for name, b in bindings.items() if b.batch is not None} == {
        "/v1/Inventory.Move": inventory.move_batch
    }


def test_a_batch_inherited_from_the_base_is_no_batch(server: ModuleType) -> None:
    """The base's move_batch settles nothing: a class that does not override it has no batch to call."""
    base = importlib.import_module(f"{PACKAGE}.inventory.contract").InventoryServiceBase
    only_move = type("OnlyMove", (base,), {"move": lambda self, ctx, args: None})()
    assert base().move_batch(None, [1, 2, 3]) == [None, None, None]
    binding = server.bind(server.Services(inventory=only_move))["/v1/Inventory.Move"]
    assert binding.function is not None
    assert binding.batch is None


def test_unimplemented_lists_what_the_class_lacks_or_only_inherits_from_the_base(server: ModuleType) -> None:
    base = importlib.import_module(f"{PACKAGE}.inventory.contract").InventoryServiceBase
    # A subclass of the base that answers 501 for every method it does not override.
    only_move = type("OnlyMove", (base,), {"move": lambda self, ctx, args: None})

    class OnlyRemove:
        def remove(self, ctx: Any, args: Any) -> None: ...

    for implementation, implemented in [(only_move(), "/v1/Inventory.Move"), (OnlyRemove(), "/v1/Inventory.Remove")]:
        binding = server.Services(inventory=implementation)
        missing = [spec.wire_name for spec in server.unimplemented(binding)]
        assert missing == [name for name in server.METHODS if name != implemented]
        assert [name for name, b in server.bind(binding).items() if b.function is not None] == [implemented]


def test_bind_leaves_a_method_of_an_unknown_service_unbound(server: ModuleType) -> None:
    """A method table may hold a service the binding does not know; its methods have no implementation."""
    spec = next(iter(server.METHODS.values()))
    foreign = {"/v1/Other.Thing": type(spec)(**{**vars(spec), "service": "Other", "wire_name": "/v1/Other.Thing"})}
    (binding,) = server.bind(server.Services(inventory=object()), foreign).values()
    assert binding.function is None
