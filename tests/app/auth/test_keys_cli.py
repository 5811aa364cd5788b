"""`python -m app keys ...` as an operator runs it: keys shown once, stored as hashes, revoked, projects granted."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.auth.keys import create_key
from app.composition import create_app
from app.settings import Settings
from app.storage.db import make_engine, transaction
from tests.helpers import ROOT, migrate

CREATED = re.compile(r"created key (\d+) for ")


def keys_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", "keys", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass(frozen=True)
class CreatedKey:
    key_id: int
    key: str
    principal: str
    role: str
    stdout: str
    stderr: str


def cli_create(database_url: str, *, principal: str, role: str) -> CreatedKey:
    done = keys_cli(database_url, "create", "--principal", principal, "--role", role)
    assert done.returncode == 0, done.stdout + done.stderr
    match = CREATED.search(done.stdout)
    assert match is not None, done.stdout
    key = done.stdout.strip().splitlines()[-1]
    return CreatedKey(int(match.group(1)), key, principal, role, done.stdout, done.stderr)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def api_key_rows(database_url: str) -> list[dict[str, Any]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(text("SELECT * FROM api_key ORDER BY id"))]
    finally:
        engine.dispose()


@contextmanager
def served(database_url: str) -> Iterator[TestClient]:
    """The app in-process on that database, with no credentials of its own and no key cache."""
    application = create_app(Settings(database_url=database_url, auth_cache_seconds=0))
    try:
        with TestClient(application) as client:
            yield client
    finally:
        application.state.engine.dispose()


def send(client: TestClient, key: str, principal: str, cmd: str, **args: Any) -> dict[str, Any]:
    """One command in a frame as `principal` with `key`; the HTTP error body when the whole frame is refused."""
    body = {"v": 1, "src": principal, "cmds": [{"cmd": f"/v1/Rollout.{cmd}", "id": 1, "args": args}]}
    response = client.post("/v1", json=body, headers={"Authorization": f"Bearer {key}"})
    if response.status_code != 200:
        refused: dict[str, Any] = response.json()
        assert refused["status"] == response.status_code
        return refused
    (entry,) = response.json()["resp"]
    result: dict[str, Any] = entry
    return result


def new_key(database_url: str, *, principal: str, role: str) -> tuple[int, str]:
    """A key made in-process (for the tests whose subject is another subcommand)."""
    engine = make_engine(database_url)
    try:
        with transaction(engine, writes=True) as session:
            return create_key(session, principal=principal, role=role)
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file that nothing has touched yet: the CLI migrates it itself."""
    return f"sqlite:///{tmp_path / 'keys.db'}"


@pytest.fixture
def migrated_url(sqlite_url: str) -> str:
    migrate(sqlite_url)
    return sqlite_url


@dataclass(frozen=True)
class TwoKeys:
    database_url: str
    directory: Path
    admin: CreatedKey
    user: CreatedKey


@pytest.fixture(scope="module")
def two_keys(tmp_path_factory: pytest.TempPathFactory) -> TwoKeys:
    """Two keys made through the CLI on a fresh SQLite file (shared by the read-only tests below)."""
    directory = tmp_path_factory.mktemp("keys_cli")
    url = f"sqlite:///{directory / 'keys.db'}"
    admin = cli_create(url, principal="//api.cesanta.com/ops", role="admin")
    user = cli_create(url, principal="//api.cesanta.com/user_123", role="user")
    return TwoKeys(url, directory, admin, user)


def test_create_prints_the_key_once_as_the_last_line(two_keys: TwoKeys) -> None:
    for made in (two_keys.admin, two_keys.user):
        assert made.key.startswith("rk_"), made.stdout
        assert len(made.key) >= 40, "a key needs ~256 bits of randomness"
        assert re.fullmatch(r"rk_[A-Za-z0-9_-]+", made.key), made.key
        assert made.stdout.count(made.key) == 1, made.stdout
        assert made.key not in made.stderr
        assert made.principal in made.stdout
        assert made.role in made.stdout
    assert two_keys.admin.key != two_keys.user.key
    assert two_keys.admin.key_id != two_keys.user.key_id


def test_the_database_holds_only_the_keys_hash(two_keys: TwoKeys) -> None:
    rows = api_key_rows(two_keys.database_url)
    assert len(rows) == 2
    for made in (two_keys.admin, two_keys.user):
        (row,) = [r for r in rows if r["id"] == made.key_id]
        assert row["key_hash"] == sha256(made.key)
        assert row["principal"] == made.principal
        assert row["role"] == made.role
        assert row["revoked_at"] is None
        for other in rows:
            for value in other.values():
                assert made.key not in str(value), f"the key itself is stored in api_key: {other}"
        # Nor anywhere in the database files (the WAL included).
        for path in two_keys.directory.iterdir():
            assert made.key.encode() not in path.read_bytes(), f"the key is in {path.name}"


def test_created_keys_work_with_their_principal(two_keys: TwoKeys) -> None:
    with served(two_keys.database_url) as client:
        admin, user = two_keys.admin, two_keys.user
        assert send(client, admin.key, admin.principal, "List")["status"] == 0
        assert send(client, user.key, user.principal, "List") == {"id": 1, "status": 0, "resp": []}
        # The key speaks for its own principal only.
        assert send(client, user.key, admin.principal, "List")["status"] == 403


def test_list_shows_id_role_principal_but_never_the_key_or_its_hash(two_keys: TwoKeys) -> None:
    done = keys_cli(two_keys.database_url, "list")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2, done.stdout
    for made in (two_keys.admin, two_keys.user):
        (line,) = [line for line in lines if line.split()[0] == str(made.key_id)]
        assert made.role in line.split()
        assert made.principal in line.split()
        assert "revoked" not in line
    output = done.stdout + done.stderr
    for made in (two_keys.admin, two_keys.user):
        assert made.key not in output
        assert sha256(made.key) not in output
        assert made.key.removeprefix("rk_") not in output
    assert "rk_" not in output


def test_revoke_makes_the_key_fail_and_a_second_revoke_exits_1(migrated_url: str) -> None:
    principal = "//api.cesanta.com/user_revoked"
    key_id, key = new_key(migrated_url, principal=principal, role="backend")
    with served(migrated_url) as client:
        assert send(client, key, principal, "List")["status"] == 0

        done = keys_cli(migrated_url, "revoke", str(key_id))
        assert done.returncode == 0, done.stdout + done.stderr
        assert str(key_id) in done.stdout

        refused = send(client, key, principal, "List")
        assert refused["status"] == 401, refused
        assert refused["status_msg"]
        response = client.post("/v1/Rollout.List", json={}, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401, response.text

    again = keys_cli(migrated_url, "revoke", str(key_id))
    assert again.returncode == 1, again.stdout + again.stderr
    assert str(key_id) in again.stdout + again.stderr
    assert "Traceback" not in again.stderr

    listed = keys_cli(migrated_url, "list")
    (line,) = listed.stdout.strip().splitlines()
    assert line.split()[0] == str(key_id)
    assert "revoked" in line
    (row,) = api_key_rows(migrated_url)
    assert row["revoked_at"] is not None


def test_revoking_an_unknown_id_exits_1(migrated_url: str) -> None:
    done = keys_cli(migrated_url, "revoke", "4242")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "4242" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_grant_and_ungrant_change_what_a_user_reaches(migrated_url: str) -> None:
    project = f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"
    admin_principal, user_principal = "//api.cesanta.com/ops", "//api.cesanta.com/user_7"
    _, admin_key = new_key(migrated_url, principal=admin_principal, role="admin")
    _, user_key = new_key(migrated_url, principal=user_principal, role="user")
    create = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Bathroom"}
    with served(migrated_url) as client:
        rollout_id = send(client, admin_key, admin_principal, "Create", **create)["resp"]["id"]

        def reach() -> tuple[int, list[str]]:
            got = send(client, user_key, user_principal, "Get", projectid=project, rolloutid=rollout_id)
            listed = send(client, user_key, user_principal, "List")
            assert listed["status"] == 0, listed
            return got["status"], [item["id"] for item in listed["resp"]]

        assert reach() == (404, [])
        assert send(client, user_key, user_principal, "Create", **create)["status"] == 404

        granted = keys_cli(migrated_url, "grant", user_principal, project)
        assert granted.returncode == 0, granted.stdout + granted.stderr
        assert reach() == (0, [rollout_id])
        made = send(client, user_key, user_principal, "Create", **create)
        assert made["status"] == 0, made

        ungranted = keys_cli(migrated_url, "ungrant", user_principal, project)
        assert ungranted.returncode == 0, ungranted.stdout + ungranted.stderr
        assert reach() == (404, [])

    again = keys_cli(migrated_url, "ungrant", user_principal, project)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "Traceback" not in again.stderr


def test_an_invalid_role_exits_2_with_a_message(sqlite_url: str) -> None:
    done = keys_cli(sqlite_url, "create", "--principal", "//api.cesanta.com/x", "--role", "root")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "root" in done.stderr
    for role in ("user", "backend", "admin"):
        assert role in done.stderr
    assert "Traceback" not in done.stderr
    assert "rk_" not in done.stdout + done.stderr


def test_an_invalid_principal_is_refused_with_a_message(sqlite_url: str) -> None:
    """A principal must be an address (//...); the operator gets a message, not a traceback."""
    done = keys_cli(sqlite_url, "create", "--principal", "user_123", "--role", "user")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stdout + done.stderr
    assert "rk_" not in done.stdout + done.stderr
    assert "user_123" in done.stdout + done.stderr
    assert api_key_rows(sqlite_url) == []


if os.environ.get("TEST_DATABASE_URL"):
    # The tests above run on SQLite files of their own; this one runs on the shared PostgreSQL test schema.

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_create_list_and_revoke_on_postgresql(database_url: str) -> None:
        check_create_list_and_revoke(database_url)


def check_create_list_and_revoke(database_url: str) -> None:
    principal = f"//api.cesanta.com/cli_{uuid.uuid4().hex[:8]}"
    made = cli_create(database_url, principal=principal, role="backend")
    assert made.key.startswith("rk_")
    (row,) = [r for r in api_key_rows(database_url) if r["id"] == made.key_id]
    assert row["key_hash"] == sha256(made.key)
    assert row["principal"] == principal
    assert all(made.key not in str(value) for r in api_key_rows(database_url) for value in r.values())

    with served(database_url) as client:
        assert send(client, made.key, principal, "List")["status"] == 0
        revoked = keys_cli(database_url, "revoke", str(made.key_id))
        assert revoked.returncode == 0, revoked.stdout + revoked.stderr
        assert send(client, made.key, principal, "List")["status"] == 401
    listed = keys_cli(database_url, "list")
    (line,) = [line for line in listed.stdout.splitlines() if line.split()[0] == str(made.key_id)]
    assert principal in line
    assert "revoked" in line
    assert made.key not in listed.stdout + listed.stderr
    assert sha256(made.key) not in listed.stdout + listed.stderr
    again = keys_cli(database_url, "revoke", str(made.key_id))
    assert again.returncode == 1, again.stdout + again.stderr


def test_list_shows_what_each_key_reaches(migrated_url: str) -> None:
    user_id, _ = new_key(migrated_url, principal="//reach/user", role="user")
    backend_id, _ = new_key(migrated_url, principal="//reach/backend", role="backend")
    lonely_id, _ = new_key(migrated_url, principal="//reach/lonely", role="user")
    for project in ("//p/b", "//p/a"):
        assert keys_cli(migrated_url, "grant", "//reach/user", project).returncode == 0
    listed = {
        int(line.split("\t")[0]): line.split("\t")[-1] for line in keys_cli(migrated_url, "list").stdout.splitlines()
    }
    assert listed[user_id] == "projects: //p/a, //p/b"
    assert listed[backend_id] == "every project"
    assert listed[lonely_id] == "no projects granted"


def test_grants_lists_a_principals_projects(migrated_url: str) -> None:
    new_key(migrated_url, principal="//grants/user", role="user")
    for project in ("//p/2", "//p/1"):
        keys_cli(migrated_url, "grant", "//grants/user", project)
    shown = keys_cli(migrated_url, "grants", "//grants/user")
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, "//p/1\n//p/2\n", "")
    nobody = keys_cli(migrated_url, "grants", "//grants/nobody")
    assert (nobody.returncode, nobody.stdout) == (0, "")
    assert "note: //grants/nobody has no active key" in nobody.stderr


def test_a_grant_for_a_principal_without_a_key_warns(migrated_url: str) -> None:
    """Accepted silently once: a typo in the principal went unnoticed."""
    granted = keys_cli(migrated_url, "grant", "//typo/usr", "//p/1")
    assert granted.returncode == 0
    assert granted.stdout == "//typo/usr may reach //p/1\n"
    assert "warning: //typo/usr has no active key; the grant takes effect once one is created" in granted.stderr
    new_key(migrated_url, principal="//typo/user", role="user")
    quiet = keys_cli(migrated_url, "grant", "//typo/user", "//p/1")
    assert "warning" not in quiet.stderr


def test_the_console_script_runs_the_same_commands(migrated_url: str) -> None:
    """`rollout-service keys ...` where the package is installed: no nox needed."""
    script = Path(sys.executable).parent / "rollout-service"
    assert script.exists(), "pyproject.toml's [project.scripts] names rollout-service"
    done = subprocess.run(
        [str(script), "keys", "create", "--principal", "//script/user", "--role", "user"],
        env={**os.environ, "DATABASE_URL": migrated_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert CREATED.search(done.stdout)


def test_the_readmes_key_commands_run_as_written(migrated_url: str) -> None:
    """The README's block, line by line (`python -m app keys` is what `nox -s keys --` runs): nothing in it undoes
    what it just did (it once revoked the backend key made two lines earlier), and it ends showing the grant."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- example: keys -->\n```sh\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    outputs = []
    for line in block.group(1).splitlines():
        command = line.split("#")[0].split()
        assert command[:5] == ["python3", "-m", "nox", "-s", "keys"] and command[5] == "--", line
        done = keys_cli(migrated_url, *command[6:])
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        assert "warning" not in done.stderr, done.stderr
        outputs.append(done.stdout)
    listed = outputs[-2].splitlines()
    assert [line.split("\t")[-1] for line in listed] == ["projects: //api.cesanta.com/project_123", "every project"]
    assert "revoked" not in outputs[-2]
    assert outputs[-1] == "//api.cesanta.com/project_123\n"
