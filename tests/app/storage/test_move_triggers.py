"""The triggers that keep counts and events when one statement moves many devices (ClaimDevices, the timeout
sweep, a set-based batch, anyone's SQL): each moved row counts once and has its event, in the order the rows
moved, and a rollout with a threshold is paused by the report that crosses it, with that report's figures.

On PostgreSQL one statement-level trigger does this (migration 0004), on SQLite a row trigger (0003)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.storage.db import make_engine

_ROLLOUT = (
    "INSERT INTO rollout (project_id, firmware_id, device_filter, state, failure_percent, failure_min_reported) "
    "VALUES (:project, 'fw', 'a=b', 'inProgress', :percent, :min_reported) RETURNING id"
)
_COUNTS = "SELECT count_init, count_started, count_succeeded, count_failed FROM rollout WHERE id = :id"


def test_one_statement_moving_many_devices_counts_and_records_each_move_in_order(database_url: str) -> None:
    project = f"//moves/{uuid.uuid4().hex[:8]}"
    engine = make_engine(database_url)
    with engine.begin() as connection:
        plain = connection.execute(text(_ROLLOUT), {"project": project, "percent": None, "min_reported": None})
        plain_id = plain.scalar_one()
        guarded = connection.execute(text(_ROLLOUT), {"project": project, "percent": 50.0, "min_reported": 2})
        guarded_id = guarded.scalar_one()
        devices = [(plain_id, f"p{n}", "started") for n in range(3)] + [
            (guarded_id, f"g{n}", "started") for n in range(4)
        ]
        devices.append((plain_id, "p-init", "init"))
        for rollout, device, state in devices:
            connection.execute(
                text("INSERT INTO rollout_device (rollout_id, device_id, state) VALUES (:r, :d, :s)"),
                {"r": rollout, "d": device, "s": state},
            )
        # (Counts as the service keeps them: AddDevices counts what it inserts, this test inserts by hand.)
        for rollout in (plain_id, guarded_id):
            connection.execute(
                text(
                    "UPDATE rollout SET count_init = (SELECT count(*) FROM rollout_device WHERE rollout_id = :r "
                    "AND state = 'init'), count_started = (SELECT count(*) FROM rollout_device WHERE rollout_id = :r "
                    "AND state = 'started') WHERE id = :r"
                ),
                {"r": rollout},
            )

    with engine.begin() as connection:
        moved = connection.execute(
            text(
                "UPDATE rollout_device SET state = 'failed', reason = 'boom', updated_at = 7.0, updated_by = 'me' "
                "WHERE rollout_id IN (:plain, :guarded) AND state = 'started' "
                "RETURNING rollout_id, device_id"
            ),
            {"plain": plain_id, "guarded": guarded_id},
        ).all()
        # A statement that changes no state writes nothing.
        connection.execute(text("UPDATE rollout_device SET reason = 'again' WHERE rollout_id = :r"), {"r": plain_id})

    with engine.connect() as connection:
        assert tuple(connection.execute(text(_COUNTS), {"id": plain_id}).one()) == (1, 0, 0, 3)
        assert tuple(connection.execute(text(_COUNTS), {"id": guarded_id}).one()) == (0, 0, 0, 4)
        events = connection.execute(
            text(
                "SELECT rollout_id, device_id, from_state, to_state, at, by, reason FROM rollout_event "
                "WHERE rollout_id IN (:plain, :guarded) ORDER BY id"
            ),
            {"plain": plain_id, "guarded": guarded_id},
        ).all()
        state, reason = connection.execute(
            text("SELECT state, reason FROM rollout WHERE id = :id"), {"id": guarded_id}
        ).one()
    engine.dispose()

    device_events = [tuple(e) for e in events if e.device_id is not None]
    assert len(device_events) == len(moved) == 7
    assert {(r, d) for r, d, *_ in device_events} == {(r, d) for r, d in moved}
    assert all(e[2:] == ("started", "failed", 7.0, "me", "boom") for e in device_events)
    if engine.dialect.name == "postgresql":
        # RETURNING gives the rows in the order they moved; the events follow that order.
        assert [(r, d) for r, d, *_ in device_events] == [(r, d) for r, d in moved]
    # The guarded rollout pauses on its second reported failure (2 of 2 > 50 %), right after that report's event.
    assert state == "paused"
    assert reason == "paused automatically: 2 of 2 reported devices failed (100 %), over the 50 % threshold"
    (pause,) = [i for i, e in enumerate(events) if e.device_id is None]
    assert (events[pause].from_state, events[pause].to_state) == ("inProgress", "paused")
    guarded_before = [e for e in events[:pause] if e.rollout_id == guarded_id]
    assert len(guarded_before) == 2
