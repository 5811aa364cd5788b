"""PostgreSQL: a statement that moves many devices keeps their counts and events once per statement, not per row.

Migration 0003's row trigger updates the rollout's row once per moved device: a frame of 100 reports to one
rollout updated that row 100 times while holding its lock, most of the statement's time (EXPLAIN ANALYZE:
1.9 of 3.1 ms per 100 rows), and every other frame of that rollout waited for it. This trigger runs once per
statement with its old and new rows (transition tables):

- for rollouts with no automatic move (no failure threshold, no maxFailures, no autoFinish) it writes the
  events in one INSERT, in the order the rows moved, and updates each rollout's counts once;
- for the others it runs 0003's statements row by row, in the order the rows moved, so a threshold is
  crossed by the same report, with the same figures, and the rollout's own event follows that report's.

SQLite has no statement-level triggers and keeps 0003's row trigger: this migration changes nothing there.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PROGRESS = import_module("app.storage.migrations.versions.0003_rollout_progress")
_AUTOMATED = "(r.failure_percent IS NOT NULL OR r.max_failures IS NOT NULL OR r.auto_finish)"
# The statement's moved rows, numbered in the order they moved (a transition table is read in that order).
_MOVED = (
    "SELECT n.rollout_id, n.device_id, o.state AS old_state, n.state, n.updated_at, n.updated_by, n.reason, "
    f"n.position, {_AUTOMATED} AS automated "
    "FROM (SELECT *, row_number() OVER () AS position FROM new_rows) AS n "
    "JOIN old_rows AS o ON o.rollout_id = n.rollout_id AND o.device_id = n.device_id "
    "JOIN rollout AS r ON r.id = n.rollout_id WHERE o.state <> n.state"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER rollout_device_moved ON rollout_device")
    op.execute("DROP FUNCTION rollout_device_moved()")
    op.execute(f"CREATE FUNCTION rollout_devices_moved() RETURNS trigger LANGUAGE plpgsql AS $$ {_body()} $$")
    op.execute(
        "CREATE TRIGGER rollout_devices_moved AFTER UPDATE ON rollout_device "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION rollout_devices_moved()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER rollout_devices_moved ON rollout_device")
    op.execute("DROP FUNCTION rollout_devices_moved()")
    # 0003's row trigger, as 0003 created it (its first two statements; rollout_moved was left in place).
    for statement in _PROGRESS._triggers(postgres=True)[:2]:
        op.execute(statement)


def _body() -> str:
    states = _PROGRESS.DEVICE_STATES
    (event, count, automate), _ = _PROGRESS.trigger_statements(postgres=True)

    def row_by_row(statement: str) -> str:
        """0003's statement on the loop's row `m` instead of the trigger's OLD and NEW."""
        return statement.replace("OLD.state", "m.old_state").replace("NEW.", "m.")

    def change(state: str) -> str:
        return f"(CASE WHEN state = '{state}' THEN 1 ELSE 0 END) - (CASE WHEN old_state = '{state}' THEN 1 ELSE 0 END)"

    sums = ", ".join(f"sum({change(state)}) AS {state}" for state in states)
    counts = ", ".join(f"count_{state} = count_{state} + d.{state}" for state in states)
    set_based = (
        f"WITH moved AS ({_MOVED}), events AS ("
        "INSERT INTO rollout_event (rollout_id, device_id, from_state, to_state, at, by, reason) "
        "SELECT rollout_id, device_id, old_state, state, updated_at, updated_by, reason FROM moved "
        "WHERE NOT automated ORDER BY position) "
        f"UPDATE rollout SET {counts}, updated_at = d.updated_at "
        f"FROM (SELECT rollout_id, {sums}, max(updated_at) AS updated_at FROM moved WHERE NOT automated "
        "GROUP BY rollout_id) AS d WHERE rollout.id = d.rollout_id"
    )
    return (
        "DECLARE m record; automatic boolean; BEGIN "
        f"{set_based}; "
        f"FOR m IN SELECT * FROM ({_MOVED}) AS moved WHERE automated ORDER BY position LOOP "
        f"{row_by_row(event)}; {row_by_row(count)} RETURNING state = 'inProgress' INTO automatic; "
        f"IF automatic AND m.state IN ('failed', 'succeeded') THEN {row_by_row(automate)}; END IF; "
        "END LOOP; RETURN NULL; END"
    )
