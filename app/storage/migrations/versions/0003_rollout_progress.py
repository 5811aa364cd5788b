"""Rollout progress: maintained counts, failure thresholds, device timeouts, a cap, autoFinish, and the event trail.

Counts, events and the automatic moves are kept by triggers, so that every statement that moves a device
(SetDeviceState, ClaimDevices, the timeout sweep, or anyone's SQL) keeps them true in its own transaction, and
SetDeviceState stays one statement from the server's side. The trigger's SQL is written once below and
spelled for each dialect: only the text formatting differs.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from alembic import op

ROLLOUT_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEVICE_STATES = ("init", "started", "succeeded", "failed")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # Plain ALTER TABLE ... ADD COLUMN, never a batch "move and copy": copying `rollout` means dropping it, and its
    # devices' ON DELETE CASCADE would empty rollout_device (tests/app/storage/test_migrations.py checks this).
    rollout_columns: list[sa.Column[Any]] = [
        sa.Column("failure_percent", sa.Float(), nullable=True),
        sa.Column("failure_min_reported", sa.BigInteger(), nullable=True),
        sa.Column("max_failures", sa.BigInteger(), nullable=True),
        sa.Column("device_timeout", sa.BigInteger(), nullable=True),
        sa.Column("max_in_progress", sa.BigInteger(), nullable=True),
        sa.Column("auto_finish", sa.Boolean(), nullable=False, server_default=sa.false()),
        *(sa.Column(f"count_{state}", sa.BigInteger(), nullable=False, server_default="0") for state in DEVICE_STATES),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("updated_by", sa.String(), nullable=True),
    ]
    for column in rollout_columns:
        op.add_column("rollout", column)
    for column in (
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("updated_by", sa.String(), nullable=True),
    ):
        op.add_column("rollout_device", column)
    # Timeouts look for a rollout's started devices by when they started: only those rows are in this index.
    op.create_index(
        "ix_rollout_device_started",
        "rollout_device",
        ["rollout_id", "updated_at"],
        sqlite_where=sa.text("state = 'started'"),
        postgresql_where=sa.text("state = 'started'"),
    )
    op.create_table(
        "rollout_event",
        sa.Column("id", ROLLOUT_KEY, primary_key=True, nullable=False),
        sa.Column("rollout_id", ROLLOUT_KEY, nullable=False),
        sa.Column("device_id", sa.String(), nullable=True),
        sa.Column("from_state", sa.String(), nullable=False),
        sa.Column("to_state", sa.String(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("by", sa.String(), nullable=True),  # NULL: the service itself (threshold, timeout, autoFinish)
        sa.Column("reason", sa.String(), nullable=True),
    )
    op.create_index("ix_rollout_event_rollout", "rollout_event", ["rollout_id", "id"])

    # Rollouts and devices that exist already: counted once here, dated now.
    now = time.time()
    counts = ", ".join(
        f"count_{state} = (SELECT count(*) FROM rollout_device d WHERE d.rollout_id = rollout.id AND d.state = '{state}')"
        for state in DEVICE_STATES
    )
    op.execute(sa.text(f"UPDATE rollout SET created_at = :now, updated_at = :now, {counts}").bindparams(now=now))
    op.execute(sa.text("UPDATE rollout_device SET updated_at = :now").bindparams(now=now))

    for statement in _triggers(postgres):
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(
        "DROP TRIGGER IF EXISTS rollout_device_moved ON rollout_device"
        if postgres
        else "DROP TRIGGER IF EXISTS rollout_device_moved"
    )
    op.execute(
        "DROP TRIGGER IF EXISTS rollout_moved ON rollout" if postgres else "DROP TRIGGER IF EXISTS rollout_moved"
    )
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS rollout_device_moved()")
        op.execute("DROP FUNCTION IF EXISTS rollout_moved()")
    op.drop_index("ix_rollout_event_rollout", table_name="rollout_event")
    op.drop_table("rollout_event")
    op.drop_index("ix_rollout_device_started", table_name="rollout_device")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy, for the reason upgrade() gives.
    for column in ("updated_by", "updated_at", "reason"):
        op.drop_column("rollout_device", column)
    for column in (
        "updated_by", "updated_at", "created_at", "reason", *(f"count_{s}" for s in DEVICE_STATES),
        "auto_finish", "max_in_progress", "device_timeout", "max_failures", "failure_min_reported",
        "failure_percent",
    ):  # fmt: skip
        op.drop_column("rollout", column)


def _triggers(postgres: bool) -> list[str]:
    """The two triggers: a device's move updates its rollout's counts, writes its event and may move the
    rollout (pause past a threshold, finish when every device reported); a rollout's move writes its event."""
    device_moved, rollout_moved = trigger_statements(postgres)
    if not postgres:
        return [
            "CREATE TRIGGER rollout_device_moved AFTER UPDATE OF state ON rollout_device "
            f"FOR EACH ROW WHEN OLD.state <> NEW.state BEGIN {'; '.join(device_moved)}; END",
            "CREATE TRIGGER rollout_moved AFTER UPDATE OF state ON rollout "
            f"FOR EACH ROW WHEN OLD.state <> NEW.state BEGIN {'; '.join(rollout_moved)}; END",
        ]
    # PL/pgSQL runs the automatic moves' statement only for a rollout that has one of the settings that move
    # it (each statement costs about a tenth of a millisecond, spent holding the rollout's row).
    event, count, automate = device_moved
    device_body = (
        f"DECLARE automatic boolean; BEGIN {event}; {count} RETURNING state = 'inProgress' AND "
        "(failure_percent IS NOT NULL OR max_failures IS NOT NULL OR auto_finish) INTO automatic; "
        f"IF automatic AND NEW.state IN ('failed', 'succeeded') THEN {automate}; END IF; RETURN NULL; END"
    )
    statements = []
    for name, table, body in (
        ("rollout_device_moved", "rollout_device", device_body),
        ("rollout_moved", "rollout", f"BEGIN {'; '.join(rollout_moved)}; RETURN NULL; END"),
    ):
        statements.append(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$")
        statements.append(
            f"CREATE TRIGGER {name} AFTER UPDATE OF state ON {table} "
            f"FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION {name}()"
        )
    return statements


def trigger_statements(postgres: bool) -> tuple[list[str], list[str]]:
    """The statements the triggers run, in the dialect's spelling, on OLD and NEW rows: for a device's move
    (its event, its rollout's counts, the automatic move when one is due) and for a rollout's move (its event).
    Migration 0004 runs the device's statements from a statement-level trigger on PostgreSQL."""

    def flag(condition: str) -> str:
        return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    def change(state: str) -> str:
        """+1, -1 or 0: how the device's move changes the count of `state`."""
        moved_in, moved_out = flag(f"NEW.state = '{state}'"), flag(f"OLD.state = '{state}'")
        return f"({moved_in} - {moved_out})"

    def text(template: str, *values: str) -> str:
        function = "format" if postgres else "printf"
        return f"{function}('{template}', {', '.join(values)})"

    def number(value: str) -> str:
        """A percentage in words: 60, 42.9."""
        if postgres:
            return f"CAST(trim_scale(round(CAST({value} AS numeric), 1)) AS text)"
        return f"printf('%g', round({value}, 1))"

    def given(value: str) -> str:
        """A threshold as the caller gave it: 20, 12.5."""
        return f"CAST({value} AS text)" if postgres else f"printf('%g', {value})"

    # The counts first, in a statement that writes no indexed column (cheap: on PostgreSQL a HOT update). The
    # automatic moves follow in a statement whose WHERE matches only when one is due, reading the new counts.
    counts = ", ".join(f"count_{state} = count_{state} + {change(state)}" for state in DEVICE_STATES)
    reported = "(count_failed + count_succeeded)"
    failed_before = f"(count_failed - {change('failed')})"
    reported_before = f"({reported} - {change('failed')} - {change('succeeded')})"

    def over_percent(failed: str, reported: str) -> str:
        return (
            f"(failure_percent IS NOT NULL AND {reported} >= failure_min_reported "
            f"AND {failed} * 100.0 > failure_percent * {reported})"
        )

    def over_count(failed: str) -> str:
        return f"(max_failures IS NOT NULL AND {failed} > max_failures)"

    crossed = f"({over_percent('count_failed', reported)} OR {over_count('count_failed')})"
    crossed_before = f"({over_percent(failed_before, reported_before)} OR {over_count(failed_before)})"
    # A success can cross only the minimum of reports; after a caller resumes, only a new failure pauses again.
    pause = f"({crossed} AND (NEW.state = 'failed' OR NOT {crossed_before}))"
    finish = f"(auto_finish AND count_init = 0 AND count_started = 0 AND {reported} > 0)"
    pause_reason = (
        f"CASE WHEN {over_percent('count_failed', reported)} THEN "
        + text(
            "paused automatically: %s of %s reported devices failed (%s %%), over the %s %% threshold",
            "count_failed",
            reported,
            number(f"count_failed * 100.0 / {reported}"),
            given("failure_percent"),
        )
        + " ELSE "
        + text("paused automatically: %s devices failed, more than maxFailures (%s)", "count_failed", "max_failures")
        + " END"
    )
    finish_reason = text(
        "finished automatically: every device reported an outcome (%s succeeded, %s failed)",
        "count_succeeded",
        "count_failed",
    )
    device_moved = [
        "INSERT INTO rollout_event (rollout_id, device_id, from_state, to_state, at, by, reason) "
        "VALUES (NEW.rollout_id, NEW.device_id, OLD.state, NEW.state, NEW.updated_at, NEW.updated_by, NEW.reason)",
        f"UPDATE rollout SET {counts}, updated_at = NEW.updated_at WHERE id = NEW.rollout_id",
        # A pause wins over autoFinish: the last report crossing a threshold pauses.
        f"UPDATE rollout SET state = CASE WHEN {pause} THEN 'paused' ELSE 'finished' END, "
        f"reason = CASE WHEN {pause} THEN {pause_reason} ELSE {finish_reason} END, updated_by = NULL "
        f"WHERE id = NEW.rollout_id AND state = 'inProgress' AND NEW.state IN ('failed', 'succeeded') "
        f"AND (failure_percent IS NOT NULL OR max_failures IS NOT NULL OR auto_finish) AND ({pause} OR {finish})",
    ]
    rollout_moved = [
        "INSERT INTO rollout_event (rollout_id, device_id, from_state, to_state, at, by, reason) "
        "VALUES (NEW.id, NULL, OLD.state, NEW.state, NEW.updated_at, NEW.updated_by, NEW.reason)"
    ]
    return device_moved, rollout_moved
