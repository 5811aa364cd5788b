"""Every task a person has on this project is a session here: `nox -l` lists them."""

from __future__ import annotations

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
