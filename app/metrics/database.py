"""What /metrics reads at scrape time: the connection pool's use, and the rollouts and devices in each state.

The states come from the rollout rows' maintained counts (count_init, ...: kept by the device table's trigger),
one grouped read of the rollout table: a scrape never counts rollout_device, which may hold millions of rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from rollout_api.rollout.models import DeviceState, RolloutState
from sqlalchemy import Engine, text

from app.storage.pool import pool_usage

log = logging.getLogger("app.metrics.database")

_DEVICE_STATES = list(DeviceState)
_BY_STATE = text(
    "SELECT state, count(*), "
    + ", ".join(f"coalesce(sum(count_{state.value}), 0)" for state in _DEVICE_STATES)
    + " FROM rollout GROUP BY state"
)


class DatabaseGauges:
    """A collector of gauges read when scraped (register it in a registry)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        in_use, waiting = pool_usage(self._engine)
        yield GaugeMetricFamily("rollout_db_connections_in_use", "Pooled database connections lent out now.", in_use)
        yield GaugeMetricFamily(
            "rollout_db_connections_waiting", "Callers waiting for a pooled database connection now.", waiting
        )
        try:
            rows = self._by_state()
        except Exception:
            # The traffic and pool series still matter most when the database fails; these are left out.
            log.warning(
                "/metrics could not read the rollouts by state; they are left out of this scrape", exc_info=True
            )
            return
        rollouts = GaugeMetricFamily("rollout_rollouts", "Rollouts in each state.", labels=["state"])
        devices = GaugeMetricFamily(
            "rollout_devices", "Devices of all rollouts in each device state.", labels=["state"]
        )
        device_totals = dict.fromkeys(_DEVICE_STATES, 0)
        by_state = {state: (rollout_count, device_counts) for state, rollout_count, device_counts in rows}
        # Every state is reported, 0 when no rollout is in it: a series that vanishes reads as "unknown".
        for state in RolloutState:
            rollout_count, device_counts = by_state.get(state.value, (0, [0] * len(_DEVICE_STATES)))
            rollouts.add_metric([state.value], rollout_count)
            for device_state, count in zip(_DEVICE_STATES, device_counts, strict=True):
                device_totals[device_state] += count
        for device_state, total in device_totals.items():
            devices.add_metric([device_state.value], total)
        yield rollouts
        yield devices

    def _by_state(self) -> list[tuple[str, int, list[int]]]:
        """Per rollout state: how many rollouts, and their devices' counts in _DEVICE_STATES' order."""
        with self._engine.connect() as connection:
            return [(row[0], int(row[1]), [int(n) for n in row[2:]]) for row in connection.execute(_BY_STATE)]
