"""The README's "Changing the API" walk-through, followed in a copy of the repository.

Each step applies what the README shows under a `<!-- walkthrough: TARGET -->` marker: Rename.json is
added and generated, the server answers 501 for the new method and mypy names it, then the README's
method and store function are added and the rename works through the generated client and the CLI.
The copy's own app/ and generated/ come first on PYTHONPATH, ahead of the installed (editable) ones.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import httpx

from tests.helpers import ROOT, copy_checkout, mypy, run, serve

README = ROOT / "README.md"
WALKTHROUGH = re.compile(r"^<!-- walkthrough: (.+?) -->\n```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
RENAME = "/v1/Rollout.Rename"
PROJECT = "//api.cesanta.com/project_rename"
# What step 3 says to import next to the method it shows.
RENAME_IMPORT = "from rollout_api.rollout.models import RenameArgs\n"


def walkthrough() -> dict[str, str]:
    """Each marked block of the README's walk-through: target -> code."""
    blocks = {target: code for target, _, code in WALKTHROUGH.findall(README.read_text())}
    assert list(blocks) == [
        "definitions/Rollout/Rename.json",
        "app/rollout/service.py, class RolloutHandlers",
        "app/rollout/store.py",
    ], "the README's walk-through blocks changed: update this test"
    return blocks


def apply(copy: Path, target: str, code: str) -> None:
    """Do what the README says with one block: write a new file, append to a module, or add to a class."""
    path, _, where = target.partition(", class ")
    file = copy / path
    if not file.exists():
        file.write_text(code, encoding="utf-8")
    elif not where:
        file.write_text(file.read_text(encoding="utf-8").rstrip("\n") + "\n\n\n" + code, encoding="utf-8")
    else:
        source = file.read_text(encoding="utf-8")
        (cls,) = [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == where]
        lines = source.splitlines(keepends=True)
        end = cls.end_lineno or 0
        source = "".join([*lines[:end], "\n", code, *lines[end:]])
        future = "from __future__ import annotations\n"
        file.write_text(source.replace(future, f"{future}\n{RENAME_IMPORT}", 1), encoding="utf-8")


def test_readme_walkthrough_adds_rename(tmp_path: Path) -> None:
    blocks = walkthrough()
    copy = copy_checkout(tmp_path)

    # 1 and 2: define and generate. The server answers 501 for Rename on both routes and warns at start.
    apply(copy, "definitions/Rollout/Rename.json", blocks["definitions/Rollout/Rename.json"])
    generated = run(copy, "-m", "codegen")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    args = {"projectid": PROJECT, "rolloutid": "1", "name": "n"}
    server = serve(copy)
    try:
        answered = httpx.post(f"{server.url}/v1", json={"v": 1, "cmds": [{"cmd": RENAME, "id": 1, "args": args}]})
        routed = httpx.post(f"{server.url}{RENAME}", json=args)
        log = server.output()
    finally:
        server.stop()
    message = f"{RENAME} is not implemented by this server"
    assert answered.json()["resp"] == [{"id": 1, "status": 501, "status_msg": message}]
    assert (routed.status_code, routed.json()) == (501, {"status": 501, "status_msg": message})
    assert f"{RENAME} is defined but not implemented by this server" in log
    # ...and the type check names the missing method.
    checked = mypy(copy)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert '"RolloutHandlers" is missing following "RolloutService" protocol member:' in checked.stdout
    assert re.search(r"note: +rename$", checked.stdout, re.MULTILINE), checked.stdout

    # 3: implement. The type check passes; the rename works through the client and the command line.
    for target in ("app/rollout/service.py, class RolloutHandlers", "app/rollout/store.py"):
        apply(copy, target, blocks[target])
    checked = mypy(copy)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    server = serve(copy)
    try:
        client = run(copy, "-c", _CLIENT_SCRIPT, server.url)
        assert client.returncode == 0, client.stderr
        rollout = json.loads(client.stdout)
        assert rollout["name"] == "Renamed by the client"
        cli = ["-m", "rollout_api", "--url", server.url]
        rename = ["Rollout.Rename", "--projectid", PROJECT, "--rolloutid", rollout["id"], "--name", "By the CLI"]
        renamed = run(copy, *cli, *rename)
        assert renamed.returncode == 0, renamed.stderr
        assert json.loads(renamed.stdout) is None
        got = run(copy, *cli, "call", "Rollout.Get", json.dumps({"projectid": PROJECT, "rolloutid": rollout["id"]}))
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["name"] == "By the CLI"
        assert "not implemented" not in server.output()
    finally:
        server.stop()


_CLIENT_SCRIPT = f"""
import json, sys
from rollout_api import Client

with Client(sys.argv[1]) as client:
    created = client.rollout.create(projectid={PROJECT!r}, firmwareid="fw-1", device_filter="a=b", name="Before")
    client.rollout.rename(projectid={PROJECT!r}, rolloutid=created.id, name="Renamed by the client")
    got = client.rollout.get(projectid={PROJECT!r}, rolloutid=created.id)
print(json.dumps({{"id": created.id, "name": got.name}}))
"""
