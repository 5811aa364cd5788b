"""Helpers shared by the test suites, in one module: the repository's root, the test principal and the backends,
databases and keys, a live server, frames and the calls that send them, args made from definitions, and a copy
of the checkout to change. Fixtures are in tests/conftest.py; helpers of one suite stay with it
(tests/fuzz/conftest.py, tests/codegen/support.py, tests/client/fixtures.py).

Only the generated package and the libraries the client's own test session has (httpx, pytest) are imported at
module level: that session (`nox -s client_tests`) has no FastAPI and no app. The app, SQLAlchemy and FastAPI
are imported inside the functions that use them, or for type checking only.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from rollout_api import MethodSpec

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
"""The repository: the checkout these tests run in."""
TEST_PRINCIPAL = "//test"
"""The address of the admin key the `http` fixture sends."""
# PostgreSQL runs only when TEST_DATABASE_URL names one (CI sets it); SQLite always runs.
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])]


# --- Databases and keys ---------------------------------------------------------------------------------------


def postgres_schema_url(base: str, schema: str) -> str:
    """The PostgreSQL URL `base` with `schema` first on its search path."""
    from app.storage.db import normalise_url

    url = normalise_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest migration."""
    from app.storage.db import make_engine
    from app.storage.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def make_key(database_url: str, *, principal: str, role: str) -> str:
    """A new API key in the database (as `python -m app keys create` would make it)."""
    from app.auth.keys import create_key
    from app.storage.db import make_engine, transaction

    engine = make_engine(database_url)
    with transaction(engine, writes=True) as session:
        _, key = create_key(session, principal=principal, role=role)
    engine.dispose()
    return key


# --- Frames and calls -----------------------------------------------------------------------------------------

_ids = itertools.count(1)


def frame(*cmds: dict[str, Any], src: str = "//api.cesanta.com/user_123") -> dict[str, Any]:
    """A request frame around the given commands."""
    return {"v": 1, "src": src, "dst": "//api.cesanta.com", "cmds": list(cmds)}


def cmd(method: str, command_id: int | None = None, **args: Any) -> dict[str, Any]:
    """One Rollout command for a frame; without an id unless one is given."""
    command: dict[str, Any] = {"cmd": f"/v1/Rollout.{method}", "args": args}
    if command_id is not None:
        command["id"] = command_id
    return command


def send(http: TestClient, *cmds: Any, **frame_fields: Any) -> dict[str, Any]:
    """Post a frame (src defaults to TEST_PRINCIPAL, no dst unless given) and return the response frame."""
    frame = {"v": 1, "src": TEST_PRINCIPAL, **frame_fields, "cmds": list(cmds)}
    response = http.post("/v1", json=frame)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def create_args(project: str, **overrides: Any) -> dict[str, Any]:
    """Args of a valid Create in `project` (without a name)."""
    return {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Bathroom", **overrides}


def call(http: TestClient, cmd: str, **args: Any) -> dict[str, Any]:
    """Send one command in a frame and return its response entry."""
    command_id = next(_ids)
    body = {"v": 1, "src": "//test", "cmds": [{"cmd": f"/v1/Rollout.{cmd}", "id": command_id, "args": args}]}
    response = http.post("/v1", json=body)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["resp"]
    assert entry["id"] == command_id
    result: dict[str, Any] = entry
    return result


def ok(http: TestClient, cmd: str, **args: Any) -> Any:
    """Call and insist on status 0; returns `resp` (None when the method has no result)."""
    entry = call(http, cmd, **args)
    assert entry["status"] == 0, entry
    return entry.get("resp")


def create_rollout(http: TestClient, project: str, **overrides: Any) -> str:
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Bathroom", "name": "Today's rollout"}
    rollout_id: str = ok(http, "Create", **{**args, **overrides})["id"]
    return rollout_id


def untimed(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ListDevices items without their updatedAt, to compare with literal devices."""
    return [{key: value for key, value in device.items() if key != "updatedAt"} for device in devices]


def snapshot(http: TestClient) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: compare two snapshots to prove nothing changed."""
    from sqlalchemy import text

    engine = http.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return {
            table: sorted(tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}")))
            for table in ("rollout", "rollout_device", "rollout_event")
        }


# --- Args from definitions ------------------------------------------------------------------------------------


def sample_args(spec: MethodSpec[Any, Any], **known: Any) -> dict[str, Any]:
    """Valid args for a method, from its definition: `known` values by wire name, a sample for every other
    required argument. Tests that iterate the method table call each method, old or new, with these."""
    definition = spec.definition
    # An argument with a pattern takes its value from the method's example, which the generator checked.
    example = spec.examples[0]["request"]["cmds"][0].get("args", {}) if spec.examples else {}
    return {
        **{
            name: example[name]
            if "pattern" in definition["args"][name] and name in example
            else sample_value(definition["args"][name])
            for name in definition["required_args"]
        },
        **{name: value for name, value in known.items() if name in definition["args"]},
    }


def sample_value(schema: Mapping[str, Any]) -> Any:
    """The simplest value a JSON schema of the definitions accepts."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if "pattern" in schema:
        raise ValueError(f"no sample value for a pattern without an example: {schema['pattern']!r}")
    if "default" in schema:
        return schema["default"]
    if kind == "string" and schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [sample_value(schema["items"])] * max(1, schema.get("minItems", 1))
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: sample_value(properties[name]) for name in schema.get("required", [])}
    raise ValueError(f"no sample value for the schema {schema!r}")


# --- A live server --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on at the moment of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def as_plain_user() -> list[str]:
    """A command prefix under which file permissions hold for a child as for any user: root ignores them, so
    a root test run drops the capability to override them (util-linux's setpriv); skips when it cannot."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("runs as root without setpriv, so a read-only file would not be read-only to the server")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


class LiveServer:
    """`python -m app serve` in a child process, as a user would run it."""

    def __init__(self, database_url: str, *, cwd: Path = ROOT, prefix: Sequence[str] = (), **env: str) -> None:
        """env is added to this process's environment; cwd is where `python -m app` runs; `prefix` is a command
        that runs it (see as_plain_user)."""
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {**os.environ, "DATABASE_URL": database_url, "HOST": "127.0.0.1", "PORT": str(self.port), **env}
        # A file, not a pipe: nobody has to keep reading the request log for the server to keep running.
        self.log = tempfile.NamedTemporaryFile(prefix="rollout-server-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "app", "serve"],
            cwd=cwd,
            env=environ,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def key(self, principal: str, role: str = "admin") -> str:
        """A new API key on this server's database."""
        return make_key(self.database_url, principal=principal, role=role)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server on {self.url} did not become ready in {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


# --- A copy of the checkout to change -------------------------------------------------------------------------


def copy_checkout(target: Path) -> Path:
    """The checkout's files as they are on disk (tracked, or new and not ignored), without caches."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs a git checkout to copy: {exc}")
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def run(copy: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A Python child in the copy, importing the copy's app and generated package first."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=copy,
        env=child_env(copy, env),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def child_env(copy: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the copy's app and generated package first on PYTHONPATH."""
    path = os.pathsep.join([str(copy), str(copy / "generated")])
    return {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1", **(extra or {})}


def mypy(copy: Path) -> subprocess.CompletedProcess[str]:
    """`nox -s typecheck`'s check of the app, in the copy (its pyproject.toml puts generated/ on the path)."""
    return run(copy, "-m", "mypy", "--cache-dir", str(copy / ".mypy_cache"), "app/composition.py")


def serve(copy: Path) -> LiveServer:
    """The copy's server on a SQLite file in the copy, without authentication."""
    database = f"sqlite:///{copy / 'rollout.db'}"
    return LiveServer(database, cwd=copy, AUTH_DISABLED="true", **child_env(copy))
