"""Several worker processes on one port (WORKERS=N): the parent binds the port, a set of sockets per worker
(app/serving.py: SO_REUSEPORT, the kernel spreads the connections among them), migrates and makes the first key
(app/__main__.py), then forks N workers that each run the whole app on their own set of sockets. The parent only
supervises: it replaces a worker that dies while serving (on the same sockets), and on SIGTERM or SIGINT passes
SIGTERM to every worker (each stops gracefully) and exits 0 once all have.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from types import FrameType

from app import serving
from app.composition import create_app
from app.settings import Settings

log = logging.getLogger("app.workers")

# Workers that keep dying (say, the database is gone, and each fails as it starts) are not replaced for ever: past
# this many deaths within the window, the server stops.
_DEATHS_ALLOWED = 5
_DEATH_WINDOW_SECONDS = 60.0


def serve(settings: Settings, sockets: list[list[socket.socket]]) -> int:
    """Run one worker per set of sockets until SIGTERM or SIGINT (exit status 0), or until they keep dying (1)."""
    folder = Path(tempfile.mkdtemp(prefix="rollout-metrics-"))
    workers: dict[int, int] = {}  # pid -> its set of sockets (a worker put in its place takes the same set)
    deaths: list[float] = []
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            _signal_worker(pid)

    # Before the first fork, so that no signal finds the parent without its handler.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, stop)
    status = 0
    try:
        for index, own in enumerate(sockets):
            workers[_fork_worker(settings, own, folder)] = index
        while workers:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            if pid not in workers:
                continue
            index = workers.pop(pid)
            if stopping:
                continue
            code = os.waitstatus_to_exitcode(wait_status)
            now = time.monotonic()
            deaths = [*(t for t in deaths if now - t < _DEATH_WINDOW_SECONDS), now]
            if len(deaths) > _DEATHS_ALLOWED:
                log.error(
                    "worker %d exited with status %d, the %d. in a minute; stopping the server", pid, code, len(deaths)
                )
                status = 1
                stop(signal.SIGTERM, None)
                continue
            log.error("worker %d exited with status %d; starting another in its place", pid, code)
            workers[_fork_worker(settings, sockets[index], folder)] = index
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return status


def _fork_worker(settings: Settings, sockets: list[socket.socket], folder: Path) -> int:
    pid = os.fork()
    if pid:
        return pid
    # The worker. The parent's handlers would signal its siblings: until serving.run puts up its own, a signal
    # ends the worker as it would any process.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, signal.SIG_DFL)
    code = 1
    try:
        serving.run(create_app(settings, worker_totals=folder), sockets, grace_seconds=settings.shutdown_grace_seconds)
        code = 0
    except BaseException:
        log.exception("worker %d failed", os.getpid())
    finally:
        os._exit(code)


def _signal_worker(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has exited already; os.wait collects it
        os.kill(pid, signal.SIGTERM)
