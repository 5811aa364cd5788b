"""The golden package is real code: it imports, round-trips the examples, type-checks and lints clean."""

from __future__ import annotations

import builtins
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pydantic
import pytest

from codegen.cli import generate_files
from tests.codegen.support import (
    FIXTURE_DEFINITIONS,
    GOLDEN,
    PACKAGE,
    REPO,
    WriteDefinitions,
    child_env,
    run_mypy,
    write_tree,
)


def _examples() -> dict[str, dict[str, Any]]:
    """Every example of the fixture definitions, by "<Method>[<index>]"."""
    found = {}
    for path in sorted((FIXTURE_DEFINITIONS / "Inventory").glob("*.json")):
        if path.name != "_service.json":
            for index, example in enumerate(json.loads(path.read_text(encoding="utf-8")).get("examples", [])):
                found[f"{path.stem}[{index}]"] = example
    return found


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def api() -> Iterator[ModuleType]:
    """The golden package imported from its folder under tests/codegen/golden/, and forgotten again afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(GOLDEN))
        patch.setattr(sys, "dont_write_bytecode", True)
        try:
            package = importlib.import_module(PACKAGE)
            assert Path(package.__file__ or "").is_relative_to(GOLDEN)
            yield package
        finally:
            for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
                del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_package_exports_what_it_declares(api: ModuleType) -> None:
    assert api.__version__ == "1.2.3"
    assert all(hasattr(api, name) for name in api.__all__)
    assert sorted(api.METHODS) == [
        "/v1/Inventory.AddItem",
        "/v1/Inventory.Audit",
        "/v1/Inventory.ListItems",
        "/v1/Inventory.Move",
        "/v1/Inventory.Remove",
    ]
    assert api.SERVICES == {"Inventory": "Inventory service keeps track of stock items and where they are stored."}


def test_every_module_imports(api: ModuleType) -> None:
    modules = sorted(
        ".".join(path.relative_to(GOLDEN).with_suffix("").parts)
        for path in (GOLDEN / PACKAGE).rglob("*.py")
        if path.name != "__main__.py"  # running it is the command-line test's job
    )
    assert f"{PACKAGE}.inventory.models" in modules
    for module in modules:
        importlib.import_module(module)


def test_command_line_shows_each_method_with_its_wire_names() -> None:
    result = subprocess.run(
        [sys.executable, "-m", PACKAGE, "Inventory.Move", "--help"],
        cwd=GOLDEN,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {PACKAGE} Inventory.Move")
    for option in ("--from FROM", "--to TO", "--items JSON", "--dryRun, --no-dryRun"):
        assert option in result.stdout


def test_fixture_has_examples_for_methods_with_and_without_result() -> None:
    commands = {example["request"]["cmds"][0]["cmd"] for example in EXAMPLES.values()}
    assert {"/v1/Inventory.AddItem", "/v1/Inventory.ListItems", "/v1/Inventory.Move"} <= commands


@pytest.mark.parametrize("example", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_example_round_trips_through_the_models(api: ModuleType, example: dict[str, Any]) -> None:
    commands, responses = example["request"]["cmds"], example["response"]["resp"]
    for command, response in zip(commands, responses, strict=True):
        spec = api.METHODS[command["cmd"]]
        args = spec.args_model.model_validate(command["args"], by_name=False)
        assert _json(spec.dump_args(args)) == _json(command["args"])
        result = spec.load_result(response.get("resp"))
        assert _json(spec.dump_result(result)) == _json(response.get("resp"))


def _json(value: Any) -> str:
    # Compared as JSON text, not as Python values: 1, 1.0 and true are equal in Python but not on the wire.
    return json.dumps(value, sort_keys=True)


def test_python_names_differ_from_wire_names_where_they_must(api: ModuleType) -> None:
    models = _module("inventory.models")
    move = models.MoveArgs.model_validate({"from": "a", "to": "b", "items": [{"sku": "x", "count": 1}], "dryRun": True})
    assert (move.from_, move.dry_run, move.items[0].count) == ("a", True, 1)
    add = models.AddItemArgs(sku="s", count=1, warehouse_id="w", category="2ndHand")
    assert add.category is models.AddItemArgsCategory.V_2ND_HAND
    assert api.METHODS["/v1/Inventory.AddItem"].dump_args(add) == {
        "sku": "s",
        "count": 1,
        "warehouseId": "w",
        "category": "2ndHand",
    }
    assert models.RemoveArgs(id="i", type="sold").model_dump(by_alias=True) == {"id": "i", "type": "sold"}


@pytest.mark.parametrize(
    ("model", "args"),
    [
        pytest.param("AddItemArgs", {"count": 1, "warehouseId": "w"}, id="required-arg-missing"),
        pytest.param("AddItemArgs", {"sku": "", "count": 1, "warehouseId": "w"}, id="minLength"),
        pytest.param("AddItemArgs", {"sku": "s" * 33, "count": 1, "warehouseId": "w"}, id="maxLength"),
        pytest.param("AddItemArgs", {"sku": "s", "count": "1", "warehouseId": "w"}, id="integer-is-strict"),
        pytest.param("AddItemArgs", {"sku": "s", "count": 1.5, "warehouseId": "w"}, id="integer-not-fraction"),
        pytest.param("AddItemArgs", {"sku": "s", "count": True, "warehouseId": "w"}, id="integer-not-boolean"),
        pytest.param("AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "price": None}, id="not-nullable"),
        pytest.param("AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "price": -1}, id="minimum"),
        pytest.param("AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "price": "1"}, id="number-is-strict"),
        pytest.param("AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "fragile": 1}, id="boolean-is-strict"),
        pytest.param("AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "category": "food"}, id="enum"),
        pytest.param("AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "tags": ["t"] * 11}, id="maxItems"),
        pytest.param(
            "AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "tags": ["t", ""]}, id="item-minLength"
        ),
        pytest.param(
            "AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "tags": ["t" * 21]}, id="item-maxLength"
        ),
        pytest.param(
            "AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "dimensions": {}}, id="nested-required"
        ),
        pytest.param("AddItemArgs", {"sku": "s", "count": 1, "warehouseId": "w", "color": "red"}, id="unknown-arg"),
        pytest.param("ListItemsArgs", {"warehouseId": "w", "limit": 0}, id="limit-below-minimum"),
        pytest.param("ListItemsArgs", {"warehouseId": "w", "limit": 101}, id="limit-above-maximum"),
        pytest.param("MoveArgs", {"from": "a", "to": "b", "items": []}, id="minItems"),
        pytest.param("MoveArgs", {"from": "a", "to": "b", "items": [{"sku": "x", "count": 0}]}, id="nested-minimum"),
    ],
)
def test_args_models_reject_what_the_schema_forbids(api: ModuleType, model: str, args: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        getattr(_module("inventory.models"), model).model_validate(args, by_name=False)


def test_args_models_read_json_numbers_and_nulls_as_the_schema_does(api: ModuleType) -> None:
    """JSON has one kind of number: 2.0 is the integer 2 (JSON Schema's `integer` says so too). An optional
    argument that is not nullable is left out to give none; an explicit null is refused with a message."""
    models = _module("inventory.models")
    add = models.AddItemArgs.model_validate({"sku": "s", "count": 2.0, "warehouseId": "w"}, by_name=False)
    assert add.count == 2
    assert type(add.count) is int
    with pytest.raises(pydantic.ValidationError) as caught:
        models.AddItemArgs.model_validate({"sku": "s", "count": 1, "warehouseId": "w", "fragile": None})
    (error,) = caught.value.errors()
    assert (error["type"], error["loc"], error["msg"]) == (
        "not_nullable",
        ("fragile",),
        "must not be null; leave it out to give none",
    )


def test_result_models_keep_unknown_keys_and_omit_unset_ones(api: ModuleType) -> None:
    """A field a newer server added is kept (model_extra, and written back out), not dropped or refused."""
    spec = api.METHODS["/v1/Inventory.ListItems"]
    items = spec.load_result([{"id": "1", "sku": "s", "addedLater": True}])
    assert items[0].model_extra == {"addedLater": True}
    assert spec.dump_result(items) == [{"id": "1", "sku": "s", "addedLater": True}]
    assert api.METHODS["/v1/Inventory.Remove"].load_result(None) is None


def test_client_sends_the_example_args_and_reads_the_example_result(api: ModuleType) -> None:
    models = _module("inventory.models")
    examples = [EXAMPLES["AddItem[0]"], EXAMPLES["Move[0]"], EXAMPLES["ListItems[0]"]]
    by_cmd = {example["request"]["cmds"][0]["cmd"]: example for example in examples}
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        (command,) = json.loads(request.content)["cmds"]
        sent.append(command)
        (response,) = by_cmd[command["cmd"]]["response"]["resp"]
        return httpx.Response(200, json={"v": 1, "resp": [{**response, "id": command["id"]}]})

    with api.Client("http://inventory.test", transport=httpx.MockTransport(answer)) as client:
        added = client.inventory.add_item(
            sku="HAMMER-01",
            count=12,
            price=9.5,
            fragile=False,
            category="tools",
            tags=["steel", "heavy"],
            dimensions=models.AddItemArgsDimensions(width=300, height=40),
            warehouse_id="wh-berlin",
        )
        moved = client.inventory.move(
            from_="wh-berlin", to="wh-paris", items=[models.MoveArgsItemsItem(sku="HAMMER-01", count=2)]
        )
        listed = client.inventory.list_items(warehouse_id="wh-berlin", limit=2, min_price=1)

    assert [(c["cmd"], c["args"]) for c in sent] == [
        (ex["request"]["cmds"][0]["cmd"], ex["request"]["cmds"][0]["args"]) for ex in examples
    ]
    assert (added.id, added.created) == ("item_1", True)
    assert moved is None
    assert [(item.sku, item.category) for item in listed] == [("HAMMER-01", "tools"), ("WIDGET-7", "2ndHand")]
    assert listed[0].dimensions.width == 300


# Calls that must type-check, and calls that must not: with --strict (warn_unused_ignores), an ignore
# that is not needed is itself an error, so each `type: ignore` line proves that mypy rejects it.
_USAGE = """\
from inventory_api import AsyncClient, Client
from inventory_api.inventory.models import AddItemResult, ListItemsResultItem, MoveArgsItemsItem


def use(client: Client) -> None:
    added: AddItemResult = client.inventory.add_item(sku="s", count=1, warehouse_id="w", category="tools")
    items: list[ListItemsResultItem] = client.inventory.list_items(warehouse_id="w", limit=10)
    client.inventory.move(from_="a", to="b", items=[MoveArgsItemsItem(sku="s", count=1)])
    client.inventory.remove(id="i", type="sold")
    with client.batch() as batch:
        pending = batch.inventory.add_item(sku="s", count=1, warehouse_id="w")
    created: bool = pending.result().created
    first: ListItemsResultItem = next(client.inventory.iter_list_items(warehouse_id="w", page_size=10))
    client.inventory.remove(id="i", type="stolen")  # type: ignore[arg-type]
    client.inventory.add_item(sku="s", count=1)  # type: ignore[call-arg]
    client.inventory.list_items(warehouse_id="w", limit="10")  # type: ignore[arg-type]
    client.inventory.move(from_="a", to="b", items=[{"sku": "s", "count": 1}])  # type: ignore[list-item]
    wrong: str = client.inventory.list_items(warehouse_id="w")  # type: ignore[assignment]
    print(added, items, created, first, wrong)


async def use_async(client: AsyncClient) -> None:
    items: list[ListItemsResultItem] = await client.inventory.list_items(warehouse_id="w")
    nothing: None = await client.inventory.move(from_="a", to="b", items=[])  # type: ignore[func-returns-value]
    print(items, nothing)
"""


def test_golden_package_passes_mypy_strict(tmp_path: Path) -> None:
    _assert_mypy_strict(GOLDEN, PACKAGE, _USAGE, tmp_path)


def _assert_mypy_strict(root: Path, package: str, usage: str, tmp_path: Path) -> None:
    """mypy --strict, with the project's settings, passes on the package under root and on the usage module."""
    (tmp_path / "usage.py").write_text(usage, encoding="utf-8")
    result = run_mypy(
        "--package", package, "--module", "usage", cwd=root, path=[root, tmp_path], cache=tmp_path / "mypy_cache"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def _ruff(*args: str, root: Path = GOLDEN) -> subprocess.CompletedProcess[str]:
    # The project's ruff settings, applied to the generated tree as if it were the project's own package.
    settings = ["--no-cache", "--config", str(REPO / "pyproject.toml")]
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *settings, "."],
        cwd=root,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_golden_package_passes_ruff_check() -> None:
    result = _ruff("check", "--config", f"lint.isort.known-first-party = [{json.dumps(PACKAGE)}]")
    assert result.returncode == 0, result.stdout + result.stderr


def test_golden_package_is_ruff_formatted() -> None:
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def _paging_client(api: ModuleType, ids: list[str], limits: list[int]) -> Any:
    """A client whose server answers ListItems from `ids` with limit/after, recording each limit asked for."""

    def answer(request: httpx.Request) -> httpx.Response:
        (command,) = json.loads(request.content)["cmds"]
        args = api.METHODS[command["cmd"]].args_model.model_validate(command["args"], by_name=False)
        limits.append(args.limit)
        page = [i for i in ids if args.after is None or i > args.after][: args.limit]
        items = [{"id": i, "sku": f"sku-{i}"} for i in page]
        return httpx.Response(200, json={"v": 1, "resp": [{"id": command["id"], "status": 0, "resp": items}]})

    return api.Client("http://inventory.test", transport=httpx.MockTransport(answer))


def test_iter_method_follows_after_until_a_short_page(api: ModuleType) -> None:
    limits: list[int] = []
    ids = [f"item_{n}" for n in range(5)]
    with _paging_client(api, ids, limits) as client:
        items = list(client.inventory.iter_list_items(warehouse_id="w", page_size=2))
    assert [item.id for item in items] == ids
    assert limits == [2, 2, 2]


def test_iter_method_default_page_size_respects_the_limit_maximum(api: ModuleType) -> None:
    with _paging_client(api, ["item_1"], []) as client:
        assert [item.id for item in client.inventory.iter_list_items(warehouse_id="w")] == ["item_1"]


def _audit_client(api: ModuleType, sent: list[dict[str, Any]], result: dict[str, Any]) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        (command,) = json.loads(request.content)["cmds"]
        sent.append(command)
        return httpx.Response(200, json={"v": 1, "resp": [{"id": command["id"], "status": 0, "resp": result}]})

    return api.Client("http://inventory.test", transport=httpx.MockTransport(answer))


def test_schema_features_reach_the_models_and_the_client(api: ModuleType) -> None:
    """Shared types, nullable, default, date-time, pattern, maps, integer enums and deprecation, end to end."""
    models = _module("inventory.models")
    sent: list[dict[str, Any]] = []
    example = EXAMPLES["Audit[0]"]["response"]["resp"][0]["resp"]
    with _audit_client(api, sent, example) as client, pytest.warns(DeprecationWarning) as warned:
        report = client.inventory.audit(skus=["ABC-1"], owner=None, since="2026-01-01T00:00:00Z", verbose=True)
    assert [str(w.message) for w in warned] == [
        "/v1/Inventory.Audit is deprecated",
        "argument 'verbose' of /v1/Inventory.Audit is deprecated",
    ]
    assert all(w.filename == __file__ for w in warned), "the warning points at the caller's line"
    # A required nullable argument is sent as null; optional ones left out stay out (the server applies defaults).
    assert sent[0]["args"] == {"skus": ["ABC-1"], "owner": None, "since": "2026-01-01T00:00:00Z", "verbose": True}
    (stock,) = report.stock
    assert isinstance(stock, models.Stock)
    assert stock.checked_at.year == 2026 and stock.checked_at.tzinfo is not None
    assert stock.labels == {"aisle": "7"}
    assert stock.priority is models.Priority.V_2
    assert stock.note is None and "note" in stock.model_fields_set
    assert report.by_label == {"aisle": 4}
    args = models.AuditArgs(skus=["ABC-1"], owner="me")
    assert (args.min_priority, args.verbose) == (models.Priority.V_1, False), "defaults apply on the server side"


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        ({"skus": ["abc-1"], "owner": None}, "skus.0"),  # the shared Sku type's pattern
        ({"skus": [], "owner": None}, "skus"),  # minItems
        ({"skus": ["ABC-1"]}, "owner"),  # required, even though it may be null
        ({"skus": ["ABC-1"], "owner": None, "since": "2026-01-01T00:00:00"}, "since"),  # no time zone
        ({"skus": ["ABC-1"], "owner": None, "minPriority": 4}, "minPriority"),  # integer enum: closed in args
    ],
)
def test_args_keep_every_rule_of_the_definition(api: ModuleType, args: dict[str, Any], refused: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        _module("inventory.models").AuditArgs.model_validate(args, by_name=False)
    assert [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()] == [refused]


def test_results_keep_what_a_newer_server_adds(api: ModuleType) -> None:
    """Open enums and extra fields: an old client neither fails nor drops what it does not know."""
    spec = api.METHODS["/v1/Inventory.Audit"]
    newer = {
        "stock": [{"sku": "ABC-1", "checkedAt": "2026-02-03T04:05:06Z", "priority": 9, "owner": "ops"}],
        "auditor": "robot",
    }
    report = spec.load_result(newer)
    (stock,) = report.stock
    assert stock.priority == 9 and not isinstance(stock.priority, _module("inventory.models").Priority)
    assert stock.model_extra == {"owner": "ops"}
    assert report.model_extra == {"auditor": "robot"}
    assert spec.dump_result(report) == {
        "stock": [{"sku": "ABC-1", "checkedAt": "2026-02-03T04:05:06Z", "count": 0, "priority": 9, "owner": "ops"}],
        "auditor": "robot",
    }
    listed = api.METHODS["/v1/Inventory.ListItems"].load_result([{"id": "1", "sku": "s", "category": "antiques"}])
    assert listed[0].category == "antiques"


def test_the_cli_marks_deprecated_methods_and_shows_defaults() -> None:
    done = subprocess.run(
        [sys.executable, "-m", PACKAGE, "Inventory.Audit", "--help"],
        cwd=GOLDEN,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Deprecated" in done.stdout
    assert "Default: 1" in " ".join(done.stdout.split())


# Every builtin's name (and a few more a definition may well use), as an argument and as a result field.
_BUILTIN_NAMES = sorted({name for name in dir(builtins) if name.isidentifier()} | {"datetime", "model", "fields"})


def test_builtin_names_as_fields_and_arguments_generate_clean_code(
    tmp_path: Path, write_definitions: WriteDefinitions
) -> None:
    """Fields keep builtin names (id, type, filter): the package still imports, type-checks and lints clean."""
    properties: dict[str, Any] = {name: {"type": "string", "nullable": True} for name in _BUILTIN_NAMES}
    # After the builtins, so that a field named list, dict or str would hide the type in these annotations.
    properties |= {
        "zTags": {"type": "array", "items": "string"},
        "zMap": {"type": "object", "additionalProperties": "integer"},
        "zWhen": {"type": "string", "format": "date-time"},
        "zFlag": "boolean",
        "zCount": "integer",
        "zPrice": "number",
    }
    definitions = write_definitions(
        {
            "Put.json": {
                "doc": "Takes every name.",
                "args": {name: "string" for name in _BUILTIN_NAMES},
                "required_args": _BUILTIN_NAMES,
                "result": {"type": "object", "properties": properties},
            },
            "List.json": {
                "doc": "Pages through items with every name.",
                "idempotency": "no_side_effects",
                "args": {**properties, "limit": "integer", "after": "string"},
                "result": {"type": "array", "items": {"type": "object", "properties": properties, "required": ["id"]}},
            },
        }
    )
    out = tmp_path / "out"
    write_tree(generate_files(definitions, package="shop_api", distribution="shop-api", version="0.0.1"), out)
    usage = """\
from shop_api import Client
from shop_api.shop.models import PutResult


def use(client: Client, put: PutResult) -> None:
    item = next(client.shop.iter_list(id="a", type="b", filter="c", format=None, len_="d", page_size=10))
    names: list[str | None] = [item.id, item.type, item.filter, item.list_, item.len_, put.id, put.str_]
    print(names)
"""
    _assert_mypy_strict(out, "shop_api", usage, tmp_path)
    checked = _ruff("check", "--config", 'lint.isort.known-first-party = ["shop_api"]', root=out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # pydantic warns when a field shadows a BaseModel attribute: -W error makes that fail the import.
    values = json.dumps({name: name for name in _BUILTIN_NAMES})
    script = (
        "import json; from shop_api.shop.models import PutArgs, ListResultItem; "
        f"args = json.loads({values!r}); "
        "assert PutArgs.model_validate(args, by_name=False).model_dump(by_alias=True) == args; "
        "item = ListResultItem.model_validate({'id': 'x', 'type': 't', 'list': 'l'}); "
        "assert (item.id, item.type, item.list_) == ('x', 't', 'l')"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], cwd=out, env=child_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_iterators_keep_arguments_named_like_their_locals(tmp_path: Path, write_definitions: WriteDefinitions) -> None:
    """A paged method's own `page` and `item` arguments reach every page's request, not the iterator's locals."""
    definitions = write_definitions(
        {
            "List.json": {
                "doc": "Pages through items.",
                "idempotency": "no_side_effects",
                "args": {"page": "string", "item": "string", "limit": "integer", "after": "string"},
                "result": {"type": "array", "items": {"type": "object", "properties": {"id": "string"}}},
            }
        }
    )
    out = tmp_path / "out"
    write_tree(generate_files(definitions, package="shop_api", distribution="shop-api", version="0.0.1"), out)
    script = """
import asyncio, json, httpx
from shop_api import AsyncClient, Client
seen = []
def answer(request):
    (command,) = json.loads(request.content)["cmds"]
    seen.append((command["args"]["page"], command["args"]["item"]))
    start = int(command["args"].get("after", "0"))
    ids = [str(n) for n in range(start + 1, min(start + 2, 4) + 1)]
    return httpx.Response(200, json={"v": 1, "resp": [{"id": command["id"], "status": 0, "resp": [{"id": i} for i in ids]}]})
with Client("http://shop.test", transport=httpx.MockTransport(answer)) as client:
    assert [x.id for x in client.shop.iter_list(page="p", item="i", page_size=2)] == ["1", "2", "3", "4"]
async def main():
    async with AsyncClient("http://shop.test", transport=httpx.MockTransport(answer)) as client:
        return [x.id async for x in client.shop.iter_list(page="p", item="i", page_size=2)]
assert asyncio.run(main()) == ["1", "2", "3", "4"]
assert set(seen) == {("p", "i")}, seen
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=out, env=child_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
