"""The app's lifespan: when the server stops, the worker threads stop and the pooled connections close."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.composition import create_app
from app.rollout import store as rollout_store
from app.settings import Settings
from tests.helpers import cmd, create_args, send


def test_stopping_the_app_stops_its_worker_threads_and_closes_its_connections(
    settings: Settings, admin_key: str, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = create_app(settings)
    engine = application.state.engine
    opened: list[Any] = []
    closed: list[Any] = []
    event.listen(engine, "connect", lambda connection, _record: opened.append(connection))
    event.listen(engine, "close", lambda connection, _record: closed.append(connection))
    workers: list[threading.Thread] = []
    real_create = rollout_store.create_rollout

    def recording_create(*args: Any, **kwargs: Any) -> Any:
        workers.append(threading.current_thread())
        return real_create(*args, **kwargs)

    monkeypatch.setattr(rollout_store, "create_rollout", recording_create)
    for _run in range(2):  # a stopped app starts again (TestClient runs the lifespan at each `with`)
        with TestClient(application, headers={"Authorization": f"Bearer {admin_key}"}) as client:
            (entry,) = send(client, cmd("Create", 1, **create_args(project)))["resp"]
            assert entry["status"] == 0, entry
            assert workers[-1].name.startswith("rollout-worker") and workers[-1].is_alive()
            assert opened
        assert not any(thread.is_alive() for thread in workers)
        assert {id(connection) for connection in opened} == {id(connection) for connection in closed}
