"""A new service, served by writing its implementation and registering it: in a copy of the repository, a
Greeter service is defined and generated, mypy names the service that is not registered yet, and once a
class implements it and one line in app/composition.py registers it, the server answers it on both routes
and through the generated client. Nothing else in app/ changes."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import httpx

from tests.helpers import ROOT, copy_checkout, mypy, run, serve

SERVICE = {"name": "/v1/Greeter", "doc": "Says hello."}
HELLO = {
    "doc": "Greets the caller by name.",
    "idempotency": "no_side_effects",
    "args": {"name": {"doc": "Whom to greet.", "type": "string", "minLength": 1}},
    "required_args": ["name"],
    "result": {
        "type": "object",
        "properties": {"greeting": {"doc": "The greeting.", "type": "string"}},
        "required": ["greeting"],
    },
}
IMPLEMENTATION = '''"""The Greeter service."""

from __future__ import annotations

from rollout_api.greeter.models import HelloArgs, HelloResult

from app.rpc.context import RequestContext


class Greeter:
    def hello(self, ctx: RequestContext, args: HelloArgs) -> HelloResult:
        return HelloResult(greeting=f"Hello, {args.name}; you are {ctx.caller.principal}")
'''
IMPORT = "from app.greeter import Greeter\n"
REGISTERED = "    return Services(rollout=RolloutHandlers(settings))\n"
REGISTERED_WITH_GREETER = "    return Services(rollout=RolloutHandlers(settings), greeter=Greeter())\n"


def test_a_new_service_needs_its_implementation_and_one_registration_line(tmp_path: Path) -> None:
    copy = copy_checkout(tmp_path)
    folder = copy / "definitions" / "Greeter"
    folder.mkdir()
    (folder / "_service.json").write_text(json.dumps(SERVICE), encoding="utf-8")
    (folder / "Hello.json").write_text(json.dumps(HELLO), encoding="utf-8")
    generated = run(copy, "-m", "codegen")
    assert generated.returncode == 0, generated.stdout + generated.stderr

    # Until it is registered, the type check names the service.
    checked = mypy(copy)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert 'Missing named argument "greeter" for "Services"' in checked.stdout, checked.stdout

    (copy / "app" / "greeter.py").write_text(IMPLEMENTATION, encoding="utf-8")
    composition = copy / "app" / "composition.py"
    source = composition.read_text(encoding="utf-8")
    assert source.count(REGISTERED) == 1, "the registration line moved: update this test"
    source = source.replace(REGISTERED, REGISTERED_WITH_GREETER)
    source = source.replace("from app.rollout.service import", IMPORT + "from app.rollout.service import", 1)
    composition.write_text(source, encoding="utf-8")
    checked = mypy(copy)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert _changed_lines(copy) == {
        "app/composition.py": ["+" + IMPORT, "-" + REGISTERED, "+" + REGISTERED_WITH_GREETER]
    }

    server = serve(copy)
    try:
        routed = httpx.post(f"{server.url}/v1/Greeter.Hello", json={"name": "Ada"})
        framed = httpx.post(
            f"{server.url}/v1", json={"v": 1, "cmds": [{"cmd": "/v1/Greeter.Hello", "id": 1, "args": {"name": ""}}]}
        )
        client = run(copy, "-c", _CLIENT_SCRIPT, server.url)
        log = server.output()
    finally:
        server.stop()
    assert (routed.status_code, routed.json()) == (200, {"greeting": "Hello, Ada; you are //anonymous"})
    # The framework checks its args from the definition, as for every method.
    assert framed.json()["resp"] == [{"id": 1, "status": 400, "status_msg": "args.name: must not be empty"}]
    assert client.returncode == 0, client.stderr
    assert client.stdout.strip() == "Hello, Grace; you are //anonymous"
    assert "not implemented" not in log


def _changed_lines(copy: Path) -> dict[str, list[str]]:
    """Lines added or removed in the copy's app/ against the checkout's, by file; new files are not listed."""
    changes: dict[str, list[str]] = {}
    for original in sorted((ROOT / "app").rglob("*.py")):
        name = str(original.relative_to(ROOT))
        before = original.read_text(encoding="utf-8").splitlines(keepends=True)
        after = (copy / name).read_text(encoding="utf-8").splitlines(keepends=True)
        diff = [
            line
            for line in difflib.unified_diff(before, after, n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        if diff:
            changes[name] = diff
    return changes


_CLIENT_SCRIPT = """
import sys
from rollout_api import Client

with Client(sys.argv[1]) as client:
    print(client.greeter.hello(name="Grace").greeting)
"""
