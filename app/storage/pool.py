"""The connection pool, with a count of the callers waiting for one: what /metrics reports as pool pressure."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool


class WaitCountingPool(QueuePool):
    """SQLAlchemy's QueuePool, counting the callers inside connect(): those that asked for a connection and have
    not got one yet. The pool tells how many connections are lent (checkedout()) but not who queues for one;
    that queue is what makes a busy server answer 503.

    A caller that gets a free connection at once is counted only for the few microseconds of its checkout, so
    at scrape time the count is, in practice, the callers waiting (for a free connection or a new one to open).
    """

    # Log as SQLAlchemy's own pool does, under its "sqlalchemy" logger (WARNING unless asked): by default a subclass
    # logs under its module's name, and every dispose() would print INFO lines into the CLI's output.
    _sqla_logger_namespace = "sqlalchemy.pool.impl.QueuePool"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting = 0
        self._waiting_lock = threading.Lock()

    def connect(self) -> PoolProxiedConnection:
        # Engine.connect() and Engine.raw_connection() both come through here, so every caller is counted.
        with self._waiting_lock:
            self._waiting += 1
        try:
            return super().connect()
        finally:
            with self._waiting_lock:
                self._waiting -= 1

    def waiting(self) -> int:
        return self._waiting


def pool_usage(engine: Engine) -> tuple[int, int]:
    """The engine's connections lent out now, and the callers waiting for one (0 when its pool does not count)."""
    pool = engine.pool  # read each time: engine.dispose() replaces the pool
    in_use = pool.checkedout() if isinstance(pool, QueuePool) else 0
    waiting = pool.waiting() if isinstance(pool, WaitCountingPool) else 0
    return in_use, waiting
