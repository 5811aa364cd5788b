"""deviceTimeout: a device started for longer than its rollout allows becomes failed with reason "timeout".

Every server process sweeps on its own, a few times a second. A device fails by a conditional UPDATE (still
started, started before the cut-off) after its rollout's row is locked, so when several servers sweep at once
each timed-out device moves, and produces its event, exactly once. The triggers of migration 0003 count it,
record it (by the service: `by` reads as the server's address) and may pause the rollout past a threshold.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from app.rollout import store
from app.storage.db import standalone_transaction

log = logging.getLogger("app.rollout.timeouts")


class TimeoutSweeper:
    """Fails timed-out devices: `sweep()` once (tests call it with their own clock), or every `interval`
    seconds on a thread of its own between `start()` and `stop()`."""

    def __init__(self, engine: Engine, *, interval: float, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._interval = interval
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """Fail every device that has timed out by now; how many did."""
        now = self._clock()
        with standalone_transaction(self._engine, writes=False) as tx:
            rollouts = store.rollouts_with_timeouts(tx)
        failed = 0
        for rollout_id, timeout in rollouts:
            started_before = now - timeout
            # A read first, by the index of started devices: most sweeps find nothing, and take no write lock.
            with standalone_transaction(self._engine, writes=False) as tx:
                if not store.any_expired(tx, rollout_id=rollout_id, started_before=started_before):
                    continue
            with standalone_transaction(self._engine, writes=True) as tx:
                store.lock_rollout(tx, rollout_id=rollout_id)
                failed += store.expire_started_devices(
                    tx, rollout_id=rollout_id, started_before=started_before, now=now
                )
        return failed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="timeout-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.sweep()
            except Exception:
                # A lost or busy database must not end the sweeps: the next one tries again.
                log.exception("timeout sweep failed; trying again in %s s", self._interval)
