"""Start the service and the peers as child processes on free ports for a benchmark, and stop them afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from app.storage.db import make_engine, normalise_url

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def admin_key(database_url: str, root: Path = ROOT) -> str:
    """A new admin key on that database, made as an operator would: `python -m app keys create` (run from `root`)."""
    env = {**os.environ, **tree_env(root), "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "app", "keys", "create", "--principal", "//bench", "--role", "admin"]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def migrate(database_url: str, root: Path = ROOT) -> None:
    """Apply the service's migrations, as an operator would: `python -m app migrate` (run from `root`)."""
    env = {**os.environ, **tree_env(root), "DATABASE_URL": database_url}
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=root, env=env, capture_output=True, check=True)


def short(ref: str) -> str:
    """The commit's abbreviated hash (anything git rev-parse takes)."""
    done = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@contextmanager
def worktree(ref: str, folder: Path) -> Iterator[Path]:
    """REF checked out (detached) into a worktree under `folder`, removed afterwards."""
    path = folder / f"tree-{short(ref)}"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False, capture_output=True)


def tree_env(root: Path) -> dict[str, str]:
    """What runs our server from the tree at `root` (this one, or another commit's worktree): its `app` and its
    generated package come first on the path, before whatever is installed in the environment."""
    if root == ROOT:
        return {}
    return {"PYTHONPATH": os.pathsep.join([str(root), str(root / "generated"), os.environ.get("PYTHONPATH", "")])}


@dataclass
class Service:
    """One server process: its name, base URL, process and log file."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def service_command(kind: str, port: int) -> list[str]:
    """The command line of the service ("ours") or of a peer module in bench.peers, one worker each."""
    if kind == "ours":
        return [sys.executable, "-m", "app", "serve"]
    app = f"bench.peers.{kind}:app"
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def start(name: str, kind: str, env: Mapping[str, str], log_folder: Path, root: Path = ROOT) -> Service:
    """Start a server without waiting for it; `wait_ready` waits. Ours runs from the tree at `root`."""
    port = free_port()
    log = log_folder / f"{name.replace('/', '_')}.log"
    environ = {**os.environ, **tree_env(root), **env, "HOST": "127.0.0.1", "PORT": str(port)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            service_command(kind, port), cwd=root, env=environ, stdout=out, stderr=subprocess.STDOUT
        )
    return Service(name=name, url=f"http://127.0.0.1:{port}", process=process, log=log)


def wait_ready(services: Sequence[Service], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for service in services:
        while True:
            try:
                if httpx.get(f"{service.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if service.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} did not start; its log ends:\n{service.log_tail()}")
            time.sleep(0.1)


def stop(services: Sequence[Service]) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.terminate()
    for service in services:
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


@contextmanager
def postgres_schemas(base_url: str) -> Iterator[Callable[[], str]]:
    """A maker of new, empty schemas in the PostgreSQL database at `base_url`, each as a URL whose connections
    use it; every schema made is dropped at the end."""
    admin = make_engine(base_url)
    schemas: list[str] = []

    def new_schema() -> str:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        url = normalise_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    try:
        yield new_schema
    finally:
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def running(specs: Sequence[tuple[str, str, Mapping[str, str]]], log_folder: Path) -> Iterator[dict[str, Service]]:
    """Start every (name, kind, env) at once and yield them by name once all answer /healthz."""
    services: list[Service] = []
    try:
        for name, kind, env in specs:
            services.append(start(name, kind, env, log_folder))
        wait_ready(services)
        yield {service.name: service for service in services}
    finally:
        stop(services)
