"""The README's client examples are the files under examples/, and they run against a live server.

A fenced block right after `<!-- example: examples/NAME.py -->` must be that file (the file may add a
module docstring the README leaves out); the block after `<!-- example: cli -->` holds shell lines that
are run as they are, with `--url` pointing at the test server.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from rollout_api import METHODS, Client, Idempotency

from tests.helpers import ROOT

README = ROOT / "README.md"
README_URL = "http://127.0.0.1:8000"
README_PROJECT = "//api.cesanta.com/project_123"
EXAMPLE = re.compile(r"^<!-- example: (\S+) -->\n```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
CURL_BLOCKS = ("curl", "curl-route", "curl-metrics")
"""The README's curl blocks, run by tests/e2e/test_readme_curl.py (it needs the server's package)."""
PYTHON_EXAMPLES = [
    "examples/client_example.py",
    "examples/async_client_example.py",
    "examples/own_http_client_example.py",
    "examples/running_a_rollout.py",
]


def readme_examples() -> dict[str, tuple[str, str]]:
    """Each marked block of the README: target -> (language, text)."""
    found: dict[str, tuple[str, str]] = {}
    for match in EXAMPLE.finditer(README.read_text()):
        target, language, text = match.groups()
        assert target not in found, f"README marks {target} twice"
        found[target] = (language, text)
    return found


def without_docstring(source: str) -> str:
    """The source after its module docstring, if it has one."""
    module = ast.parse(source)
    if ast.get_docstring(module, clean=False) is None:
        return source
    end = module.body[0].end_lineno or 0
    return "".join(source.splitlines(keepends=True)[end:]).lstrip("\n")


def run_python(path: Path, server_url: str) -> subprocess.CompletedProcess[str]:
    """The example file as it is, pointed at the server the way a user would: ROLLOUT_API_URL."""
    env = {**os.environ, "ROLLOUT_API_URL": server_url}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, cwd=path.parent, timeout=60, check=False, env=env
    )


def test_readme_python_examples_are_the_example_files() -> None:
    examples = readme_examples()
    # "cli" is run below; "keys" needs the server's package, so tests/app/auth/test_keys_cli.py runs it.
    marked = sorted(target for target in examples if target not in ("cli", "keys", *CURL_BLOCKS))
    assert set(PYTHON_EXAMPLES) <= set(marked)
    for target in marked:
        language, text = examples[target]
        assert language == "python", target
        source = (ROOT / target).read_text()
        assert text in (source, without_docstring(source)), f"README block for {target} differs from the file"


def test_client_example_runs(server_url: str) -> None:
    done = run_python(ROOT / "examples/client_example.py", server_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["dev-1 succeeded", "dev-2 init", "dev-3 init"]
    assert len(lines) == 4
    assert lines[3].startswith("refused: cannot move rollout ")
    assert "from inProgress to init" in lines[3]


def test_async_client_example_runs(server_url: str, client: Client) -> None:
    done = run_python(ROOT / "examples/async_client_example.py", server_url)
    assert done.returncode == 0, done.stderr
    first, *items = done.stdout.splitlines()
    assert first == "init"
    rollouts = client.rollout.list(projectid=README_PROJECT)
    assert items == [f"{r.id} {r.name} {r.state}" for r in rollouts]
    newest = rollouts[-1]
    assert (newest.device_filter, newest.name, newest.state) == ("room=Kitchen", None, "init")
    assert newest.id is not None
    devices = client.rollout.list_devices(projectid=README_PROJECT, rolloutid=newest.id)
    assert [d.id for d in devices] == ["dev-9"]


def test_own_http_client_example_runs(server_url: str, client: Client) -> None:
    rollout = client.rollout.create(projectid=README_PROJECT, firmwareid="fw-own", device_filter="location=Attic").id
    client.rollout.set_state(projectid=README_PROJECT, rolloutid=rollout, state="inProgress")
    done = run_python(ROOT / "examples/own_http_client_example.py", server_url)
    assert done.returncode == 0, done.stderr
    *listed, refused = done.stdout.splitlines()
    assert f"{rollout} None" in listed
    assert refused.startswith("InvalidArgument: 400: args.deviceFilter: ")


def cli_lines() -> list[list[str]]:
    language, text = readme_examples()["cli"]
    assert language == "sh"
    lines = [shlex.split(line) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert lines
    for argv in lines:
        assert argv[:3] == ["python", "-m", "rollout_api"], argv
    return lines


def test_readme_cli_lines_run(server_url: str, client: Client) -> None:
    rollout = client.rollout.create(projectid=README_PROJECT, firmwareid="fw-cli", device_filter="location=Hall").id
    client.rollout.set_state(projectid=README_PROJECT, rolloutid=rollout, state="inProgress")
    outputs = []
    for argv in cli_lines():
        args = argv[3:]
        if args[0] == "call" and len(args) > 2:
            call_args = json.loads(args[2])
            if "rolloutid" in call_args:
                call_args["rolloutid"] = rollout
            args = [*args[:2], json.dumps(call_args), *args[3:]]
        done = subprocess.run(
            [sys.executable, "-m", "rollout_api", "--url", server_url, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (argv, done.stderr)
        outputs.append(json.loads(done.stdout))

    listed, got = outputs
    assert rollout in [item["id"] for item in listed]
    assert {item["state"] for item in listed} == {"inProgress"}
    assert (got["id"], got["state"], got["firmwareid"]) == (rollout, "inProgress", "fw-cli")


@pytest.mark.parametrize("example", PYTHON_EXAMPLES)
def test_examples_run_twice(server_url: str, example: str) -> None:
    """Each run creates its own rollout, so running an example again works the same."""
    path = ROOT / example
    first, second = run_python(path, server_url), run_python(path, server_url)
    assert (first.returncode, second.returncode) == (0, 0), second.stderr


@pytest.mark.parametrize(
    ("pattern", "level"),
    [
        (r"`no_side_effects` methods \(([^)]*)\)", Idempotency.NO_SIDE_EFFECTS),
        (r"`idempotent` ones \(([^)]*)\)", Idempotency.IDEMPOTENT),
        (r"a frame with a `none` method \(([^)]*)\)", Idempotency.NONE),
    ],
)
def test_readme_names_the_methods_of_each_idempotency_level(pattern: str, level: Idempotency) -> None:
    """The retries paragraph lists which methods the client re-sends: by the idempotency of their definition."""
    text = " ".join(README.read_text().split())
    (listed,) = re.findall(pattern, text)
    methods = {spec.method for spec in METHODS.values() if spec.idempotency is level}
    assert set(re.findall(r"`(\w+)`", listed)) == methods, f"update the README's list of {level} methods"


def test_running_a_rollout_example_runs(server_url: str) -> None:
    done = run_python(ROOT / "examples/running_a_rollout.py", server_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "claimed ['th-00', 'th-01', 'th-02', 'th-03', 'th-04']",
        "paused {'init': 5, 'started': 0, 'succeeded': 3, 'failed': 2}",
        "paused automatically: 2 of 5 reported devices failed (40 %), over the 20 % threshold",
        "finished {'init': 0, 'started': 0, 'succeeded': 8, 'failed': 2}",
        "finished automatically: every device reported an outcome (8 succeeded, 2 failed)",
        "init -> inProgress",
        "inProgress -> paused paused automatically: 2 of 5 reported devices failed (40 %), over the 20 % threshold",
        "paused -> inProgress",
        "inProgress -> finished finished automatically: every device reported an outcome (8 succeeded, 2 failed)",
    ]
