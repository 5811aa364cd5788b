"""Every task a person has on this project is a session here: `nox -l` lists them."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.reuse_venv = "yes"
nox.options.sessions = ["check_generated", "lint", "typecheck", "tests"]

SOURCES = ["app", "codegen", "generated/rollout_api", "tests", "bench", "noxfile.py"]


def install_project(session: nox.Session, *extras: str) -> None:
    """The generated client package and the service, editable, with the given extras."""
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", "./generated", "-e", spec)


@nox.session
def serve(session: nox.Session) -> None:
    """Run the service on HOST:PORT (default 127.0.0.1:8000) with DATABASE_URL (default SQLite)."""
    install_project(session)
    session.run("python", "-m", "app", "serve", *session.posargs)


@nox.session(default=False)
def keys(session: nox.Session) -> None:
    """Manage API keys: nox -s keys -- create --principal //... --role user|backend|admin (or list, revoke, grant)."""
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
    session.install("ruff==0.17.6")
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


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Measure AddDevices of 100,000 devices and ListDevices pages at 1,000 vs 1,000,000 devices (SQLite)."""
    install_project(session)
    session.run("python", "-m", "bench.scale", *session.posargs)


@nox.session(default=False)
def client_tests(session: nox.Session) -> None:
    """Test the client installed alone in a fresh venv, against a live server run from another venv."""
    server_python = _server_python(session)
    session.install("./generated", "pytest==9.2.0", "mypy==2.4.1")
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
    session.run(str(python), "-m", "pip", "install", "-q", "-e", "./generated", "-e", ".", external=True)
    return str(python.absolute())


@nox.session(default=False)
def browser(session: nox.Session) -> None:
    """Drive the API docs in headless Chromium (/usr/bin/chromium, Debian's package) against a live server."""
    install_project(session, "dev")
    session.run(
        "pytest", *(session.posargs or ["-q", "tests/browser"]), env={"RUN_BROWSER_TESTS": "1", "TEST_DATABASE_URL": ""}
    )
