"""`python -m rollout_api` against the live server: typed options, `call` with JSON, exit codes, --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pydantic import TypeAdapter
from rollout_api import METHODS, Client, InvalidArgument, NotFound
from rollout_api.rollout.models import GetResult, ListDevicesResult, ListResult

from tests.helpers import free_port

FILTER = "location=Bathroom"


def run_cli(*args: str, url: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, with --url after the module name when given."""
    environ = {k: v for k, v in os.environ.items() if k != "ROLLOUT_API_URL"}
    environ.update(env or {})
    options = ["--url", url] if url is not None else []
    return subprocess.run(
        [sys.executable, "-m", "rollout_api", *options, *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def new_rollout(client: Client, project: str, *, start: bool = False) -> str:
    rollout = client.rollout.create(projectid=project, firmwareid="fw-1", device_filter=FILTER).id
    if start:
        client.rollout.set_state(projectid=project, rolloutid=rollout, state="inProgress")
    return rollout


def test_typed_options(server_url: str, client: Client, project: str) -> None:
    new_rollout(client, project)
    started = new_rollout(client, project, start=True)

    done = run_cli("Rollout.List", "--projectid", project, "--state", "inProgress", url=server_url)
    assert done.returncode == 0, done.stderr
    listed = TypeAdapter(ListResult).validate_python(json.loads(done.stdout))
    assert listed == client.rollout.list(projectid=project, state="inProgress")
    assert [r.id for r in listed] == [started]

    # A list-of-strings option takes several values; the result of a method without one is null.
    done = run_cli(
        "Rollout.AddDevices", "--projectid", project, "--rolloutid", started, "--devices", "d2", "d1", url=server_url
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) is None
    assert [d.id for d in client.rollout.list_devices(projectid=project, rolloutid=started)] == ["d1", "d2"]

    # An integer option, and a wire name with capitals.
    done = run_cli(
        "Rollout.ListDevices", "--projectid", project, "--rolloutid", started, "--limit", "1", url=server_url
    )
    assert done.returncode == 0, done.stderr
    assert [d.id for d in TypeAdapter(ListDevicesResult).validate_python(json.loads(done.stdout))] == ["d1"]

    done = run_cli(
        "Rollout.Create", "--projectid", project, "--firmwareid", "fw-9", "--deviceFilter", "a=b", url=server_url
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)["id"]
    assert client.rollout.get(projectid=project, rolloutid=created).device_filter == "a=b"


def test_call_with_json_args(server_url: str, client: Client, project: str) -> None:
    rollout = new_rollout(client, project)
    done = run_cli("call", "Rollout.Get", json.dumps({"projectid": project, "rolloutid": rollout}), url=server_url)
    assert done.returncode == 0, done.stderr
    got = GetResult.model_validate(json.loads(done.stdout))
    assert got == client.rollout.get(projectid=project, rolloutid=rollout)
    assert done.stderr == ""


def test_url_from_environment(server_url: str, client: Client, project: str) -> None:
    rollout = new_rollout(client, project)
    done = run_cli(
        "call",
        "Rollout.SetState",
        json.dumps({"projectid": project, "rolloutid": rollout, "state": "finished"}),
        env={"ROLLOUT_API_URL": server_url},
    )
    assert done.returncode == 0, done.stderr
    assert client.rollout.get(projectid=project, rolloutid=rollout).state == "finished"


def test_failed_command_exits_1(server_url: str, client: Client, project: str) -> None:
    with pytest.raises(NotFound) as missing:
        client.rollout.get(projectid=project, rolloutid="424242")
    expected = missing.value.status_msg
    done = run_cli("call", "Rollout.Get", json.dumps({"projectid": project, "rolloutid": "424242"}), url=server_url)
    assert done.returncode == 1
    assert expected in done.stderr
    assert "404" in done.stderr
    assert done.stdout == ""

    with pytest.raises(InvalidArgument) as invalid:
        client.rollout.list(projectid=project, after="nope")
    expected = invalid.value.status_msg
    done = run_cli("Rollout.List", "--projectid", project, "--after", "nope", url=server_url)
    assert done.returncode == 1
    assert expected in done.stderr
    assert done.stdout == ""


def test_unreachable_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run_cli("Rollout.List", "--projectid", "p", url=url)
    assert done.returncode == 3
    assert url in done.stderr
    assert done.stdout == ""


def test_usage_errors_exit_2(server_url: str) -> None:
    done = run_cli("Rollout.Get", "--projectid", "p", url=server_url)
    assert done.returncode == 2
    assert "--rolloutid" in done.stderr
    assert "required" in done.stderr

    done = run_cli("Rollout.SetState", "--projectid", "p", "--rolloutid", "1", "--state", "nope", url=server_url)
    assert done.returncode == 2
    assert "invalid choice" in done.stderr

    for args in (["call", "Rollout.Nope", "{}"], ["call", "Rollout.Get", "{not json"], ["call", "Rollout.Get", "[1]"]):
        done = run_cli(*args, url=server_url)
        assert done.returncode == 2, args
        assert done.stdout == ""


def test_method_help_shows_its_doc() -> None:
    (spec,) = [s for s in METHODS.values() if (s.service, s.method) == ("Rollout", "SetDeviceState")]
    done = run_cli("Rollout.SetDeviceState", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert " ".join(spec.doc.split()) in text
    for name, schema in spec.definition["args"].items():
        assert f"--{name}" in text
        if "enum" in schema:
            assert ",".join(schema["enum"]) in text

    done = run_cli("--help")
    assert done.returncode == 0
    assert all(f"Rollout.{s.method}" in done.stdout for s in METHODS.values())


@pytest.mark.parametrize("name", sorted(f"{s.service}.{s.method}" for s in METHODS.values()))
def test_every_method_help_shows_its_docs_as_written(name: str) -> None:
    """Docs are shown as written, a % included (argparse would read "20 % of" as a format)."""
    (spec,) = [s for s in METHODS.values() if f"{s.service}.{s.method}" == name]
    done = run_cli(name, "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for schema in spec.definition["args"].values():
        if "doc" in schema:
            assert " ".join(schema["doc"].split()) in text


def test_progress_from_the_terminal(server_url: str, client: Client, project: str) -> None:
    """Create's object and boolean options, ClaimDevices and ListEvents, as a terminal user calls them."""
    done = run_cli(
        "Rollout.Create",
        *("--projectid", project, "--firmwareid", "fw-9", "--deviceFilter", "a=b"),
        *("--failureThreshold", '{"percent": 20}', "--maxInProgress", "1", "--autoFinish"),
        url=server_url,
    )
    assert done.returncode == 0, done.stderr
    rollout = json.loads(done.stdout)["id"]
    got = client.rollout.get(projectid=project, rolloutid=rollout)
    assert (got.failure_threshold.percent, got.max_in_progress, got.auto_finish) == (20, 1, True)  # type: ignore[union-attr]
    client.rollout.add_devices(projectid=project, rolloutid=rollout, devices=["d1", "d2"])
    client.rollout.set_state(projectid=project, rolloutid=rollout, state="inProgress")

    args = ("--projectid", project, "--rolloutid", rollout)
    done = run_cli("Rollout.ClaimDevices", *args, "--limit", "5", url=server_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"id": "d1"}]  # the cap of 1
    done = run_cli("Rollout.ListEvents", *args, url=server_url)
    assert done.returncode == 0, done.stderr
    assert [(e.get("deviceid"), e["from"], e["to"]) for e in json.loads(done.stdout)] == [
        (None, "init", "inProgress"),
        ("d1", "init", "started"),
    ]
