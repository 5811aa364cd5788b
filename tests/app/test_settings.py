"""Settings from the environment: values converted, bad ones refused with the variable named."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.rollout import store as rollout_store
from app.settings import Settings
from tests.helpers import cmd, create_args, send


def test_values_are_read_and_converted() -> None:
    settings = Settings.from_env({"PORT": "9000", "AUTH_DISABLED": "yes", "WORKER_THREADS": "2", "HOST": ""})
    assert (settings.port, settings.auth_disabled, settings.worker_threads) == (9000, True, 2)
    assert settings.host == Settings().host  # empty means the default


def test_the_process_environment_is_read_and_keywords_win_over_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("MAX_COMMANDS", "")
    settings = Settings.from_env()
    assert (settings.port, settings.max_commands) == (9001, 1000)  # empty means the default
    assert Settings(port=9002).port == 9002


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORT": "eighty"}, "PORT='eighty' is not an integer"),
        ({"AUTH_DISABLED": "maybe"}, "AUTH_DISABLED='maybe' is not a boolean; use true or false"),
        ({"WORKER_THREADS": "0"}, "WORKER_THREADS='0' must be at least 1"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        Settings.from_env(environ)
    assert str(raised.value) == message


def test_writes_run_on_the_service_worker_threads(
    http: TestClient, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real_create = rollout_store.create_rollout

    def recording_create(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(rollout_store, "create_rollout", recording_create)
    (entry,) = send(http, cmd("Create", 1, **create_args(project)))["resp"]
    assert entry["status"] == 0, entry
    assert len(threads) == 1
    assert threads[0].startswith("rollout-worker"), threads
