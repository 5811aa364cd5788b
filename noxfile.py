"""Every task a person has on this project is a session here: `nox -l` lists them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.options.reuse_venv = "yes"
nox.options.sessions = ["check_generated", "breaking", "lint", "typecheck", "tests"]

SOURCES = ["app", "codegen", "generated/rollout_api", "tests", "bench", "noxfile.py"]
PYPROJECT = Path(__file__).parent / "pyproject.toml"


def pinned(*tools: str) -> list[str]:
    """The tools' requirements as pyproject.toml's optional dependencies pin them: each version is written once."""
    with PYPROJECT.open("rb") as file:
        extras = tomllib.load(file)["project"]["optional-dependencies"]
    requirements = {Requirement(line).name: line for lines in extras.values() for line in lines}
    return [requirements[tool] for tool in tools]


def install_project(session: nox.Session, *extras: str) -> None:
    """The generated client package and the service, editable, with the given extras.

    Skipped when this venv already has them from the same pyproject.toml files: the installs are editable, so
    code changes need no reinstall, and pip's own no-op check took 20 s (`nox -s keys` became a wait)."""
    import hashlib

    spec = f".[{','.join(extras)}]" if extras else "."
    digest = hashlib.sha256(spec.encode())
    for pyproject in (PYPROJECT, PYPROJECT.parent / "generated" / "pyproject.toml"):
        digest.update(pyproject.read_bytes())
    venv = getattr(session.virtualenv, "location", None)
    stamp = Path(venv) / f".installed-{digest.hexdigest()[:16]}" if venv else None
    if stamp is not None and stamp.exists():
        return
    session.install("-e", "./generated", "-e", spec)
    if stamp is not None:
        for old in stamp.parent.glob(".installed-*"):
            old.unlink()
        stamp.touch()


@nox.session
def serve(session: nox.Session) -> None:
    """Run the service on HOST:PORT (default 127.0.0.1:8000) with DATABASE_URL (default SQLite).

    The server replaces nox's process (so a session named after it does not run): a SIGTERM or SIGINT sent to nox
    reaches the server, which stops gracefully (SHUTDOWN_GRACE_SECONDS). Under session.run the server was nox's
    child: SIGTERM stopped nox alone and left the server holding the port, and after SIGINT nox killed the server
    half a second later, whatever it was still doing.
    """
    install_project(session)
    _exec(session, "python", "-m", "app", "serve", *session.posargs)


def _exec(session: nox.Session, program: str, *args: str) -> None:
    """Replace this process with `program` from the session's venv, in the environment session.run would give it."""
    import os
    import sys

    env = {name: value for name, value in {**os.environ, **session.env}.items() if value is not None}
    env["VIRTUAL_ENV"] = str(Path(session.bin).parent)
    env["PATH"] = os.pathsep.join([session.bin, env.get("PATH", "")])
    session.log(" ".join([program, *args]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(Path(session.bin) / program, [program, *args], env)


@nox.session(default=False)
def keys(session: nox.Session) -> None:
    """Manage API keys: nox -s keys -- create --principal //... --role user|backend|admin (or list, revoke, grant,
    ungrant, grants). The same as `rollout-service keys ...` where the package is installed."""
    install_project(session)
    session.run("python", "-m", "app", "keys", *(session.posargs or ["--help"]))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite: SQLite always, PostgreSQL too when TEST_DATABASE_URL is set."""
    install_project(session, "dev")
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install(*pinned("ruff"))  # ruff alone: linting needs neither the project nor its dependencies
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check app/, codegen/, generated/ and tests/ with mypy --strict."""
    install_project(session, "dev")
    session.run("mypy", *SOURCES)


@nox.session
def generate(session: nox.Session) -> None:
    """Regenerate generated/ from definitions/."""
    install_project(session, "codegen")
    session.run("python", "-m", "codegen")


@nox.session
def check_generated(session: nox.Session) -> None:
    """Fail if generated/ differs from what definitions/ generate."""
    install_project(session, "codegen")
    session.run("python", "-m", "codegen", "--check")


@nox.session
def breaking(session: nox.Session) -> None:
    """Fail on wire or code breaking API changes against the baseline (or a git ref: nox -s breaking -- main).

    Other arguments go to `python -m codegen breaking`, e.g. `nox -s breaking -- --update-baseline` (the release step).
    """
    install_project(session, "codegen")
    args = list(session.posargs)
    if args and not args[0].startswith("-"):
        args[:1] = ["--against", args[0]]
    session.run("python", "-m", "codegen", "breaking", *args)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Compare the service with three peers under wrk, and time AddDevices/ListDevices at 1,000,000 devices.

    Also on PostgreSQL (two processes of each server) when TEST_DATABASE_URL is set. Prints a table and writes
    artifacts/bench-results.json; `nox -s bench -- --help` lists the options.
    """
    _bench(session, "--postgres" if _postgres_for_bench(session) else None)


@nox.session(default=False)
def bench_against(session: nox.Session) -> None:
    """Our server at another commit against this tree's, in one run: `nox -s bench_against -- REF [--postgres]`.

    For a change that could slow a path down; `nox -s bench_against -- --help` lists the options."""
    _bench(session, module="bench.against")


@nox.session(default=False)
def client_tests(session: nox.Session) -> None:
    """Test the client installed alone in a fresh venv, against a live server run from another venv."""
    server_python = _server_python(session)
    session.install("./generated", *pinned("pytest", "mypy"))
    # The client must work without the service's dependencies.
    session.run(
        "python", "-c", "import importlib.util as u, sys; sys.exit(any(map(u.find_spec, ['fastapi', 'sqlmodel'])))"
    )
    session.run("mypy", "--strict", "examples")
    session.run(
        "python",
        "-m",
        "pytest",
        "--noconftest",
        "-p",
        "tests.client.fixtures",
        *(session.posargs or ["-q", "tests/client"]),
        env={"ROLLOUT_SERVER_PYTHON": server_python},
    )


@nox.session(default=False)
def build_client(session: nox.Session) -> None:
    """Build the client's wheel into dist/, installable with only httpx and pydantic."""
    session.install("build==1.6.1")
    session.run("python", "-m", "build", "--wheel", "--outdir", "dist", "generated")


def _server_python(session: nox.Session) -> str:
    """A separate venv with the service, so the client's venv holds nothing but the client."""
    venv = Path(".nox") / "client_server"
    python = venv / "bin" / "python"
    if not python.exists():
        session.run("python", "-m", "venv", str(venv))
    # With the generator too: a test regenerates a newer copy of the service for the old client to talk to.
    session.run(str(python), "-m", "pip", "install", "-q", "-e", "./generated", "-e", ".[codegen]", external=True)
    return str(python.absolute())


@nox.session(default=False)
def browser(session: nox.Session) -> None:
    """Drive the API docs and the dashboard in headless Chromium (/usr/bin/chromium, Debian's package) against a live server."""
    install_project(session, "dev")
    session.run(
        "pytest", *(session.posargs or ["-q", "tests/browser"]), env={"RUN_BROWSER_TESTS": "1", "TEST_DATABASE_URL": ""}
    )


@nox.session(default=False)
def openapi_client(session: nox.Session) -> None:
    """Generate a client from /openapi.json with openapi-python-client and check its types."""
    install_project(session, "dev")
    session.install("openapi-python-client==0.29.1")
    session.run("pytest", "-q", "tests/external", env={"RUN_OPENAPI_CLIENT": "1"})


@nox.session(default=False)
def bench_smoke(session: nox.Session) -> None:
    """The benchmark's smoke version (CI): seconds per scenario, 10,000 devices; fails on errors, never on speed.
    Then bench_against's, this tree against its own HEAD."""
    _bench(session, "--quick", "--postgres" if _postgres_for_bench(session) else None)
    session.run("python", "-m", "bench.against", "HEAD", "--quick", "--json", "artifacts/bench-against-smoke.json")


def _bench(session: nox.Session, *options: str | None, module: str = "bench.run") -> None:
    """Install the service with the peers' packages, make sure Debian's wrk is there, and run the bench module."""
    import shutil

    install_project(session, "bench")
    if shutil.which("wrk") is None:
        import os

        if os.geteuid() != 0:
            session.error("the benchmark needs wrk, Debian's HTTP load generator: sudo apt-get install -y wrk")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=env)
        session.run("apt-get", "install", "-y", "-qq", "wrk", external=True, env=env)
    session.run("python", "-m", module, *(o for o in options if o), *session.posargs)


def _postgres_for_bench(session: nox.Session) -> bool:
    import os

    return bool(os.environ.get("TEST_DATABASE_URL")) and "--postgres" not in session.posargs


@nox.session(default=False)
def fuzz(session: nox.Session) -> None:
    """Fuzz the API: schemathesis on every OpenAPI operation, and random frames at POST /v1 (hypothesis).

    FUZZ_EXAMPLES bounds the examples per test and per operation: a number as the first argument, else
    the environment's, else 25 (CI-sized). `nox -s fuzz -- 500 -x` for a long local run; other
    arguments go to pytest.
    """
    import os

    install_project(session, "dev")
    session.install("schemathesis==4.32.5", "hypothesis==6.170.17")
    args = list(session.posargs)
    examples = args.pop(0) if args and args[0].isdigit() else os.environ.get("FUZZ_EXAMPLES", "25")
    session.run("pytest", "-q", "tests/fuzz", *args, env={"RUN_FUZZ": "1", "FUZZ_EXAMPLES": examples})
