"""Traffic totals shared by the worker processes of one server (WORKERS): each process writes its own totals to a
folder they share, every second and when it stops, and a scrape, whichever process answers it, adds the others'
latest to its own. So /metrics counts every process's commands; another process's are at most a second old.

A process that stopped keeps its file: its commands stay counted, and the sums never go down when a worker is
replaced.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from app.metrics.traffic import Totals, Traffic

log = logging.getLogger("app.metrics.workers")


class SharedTotals:
    """This process's side: writes its totals to `<folder>/<pid>.json` and reads the other processes' files."""

    def __init__(self, folder: Path, traffic: Traffic, *, interval: float = 1.0) -> None:
        self._folder = folder
        self._traffic = traffic
        self._interval = interval
        self._own = folder / f"{os.getpid()}.json"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._traffic.peers = self.others
        self._thread = threading.Thread(target=self._run, name="shared-totals", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop writing, after writing the final totals."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.write()

    def write(self) -> None:
        # Written aside and renamed over the old file: a reader sees the old totals or the new, never half.
        partial = self._own.with_suffix(".partial")
        partial.write_text(json.dumps(self._traffic.totals().to_json()), encoding="utf-8")
        os.replace(partial, self._own)

    def others(self) -> list[Totals]:
        """The latest totals of every other process that has written any."""
        totals = []
        for path in self._folder.glob("*.json"):
            if path == self._own:
                continue
            try:
                totals.append(Totals.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("the traffic totals in %s could not be read; this scrape leaves them out", path)
        return totals

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.write()
            except OSError:
                log.warning("could not write this process's traffic totals to %s", self._folder, exc_info=True)
