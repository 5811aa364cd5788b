"""SQLite's writers queue on one lock, across the threads and the processes of a server (WORKERS=N).

SQLite admits one writer at a time. A writer that finds the database locked waits in SQLite's busy handler,
which sleeps and tries again: between two processes that sleep was most of a write's time, and two processes
moved devices barely faster than one. Here a writer first takes a thread lock (this process's writers), then an
exclusive flock(2) on a file beside the database (every process's writers): the kernel wakes the next writer as
soon as the last one is done. A process that dies releases its flock with it.

The file lock only orders writers that use it; SQLite's own locking still keeps the data safe for everyone else
(the keys CLI, migrations, anyone's SQL), whose waits go through the busy handler as before. So when the lock
file cannot be opened (a read-only folder, say), writers fall back to the thread lock and a warning says why.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import weakref
from pathlib import Path
from types import TracebackType

log = logging.getLogger("app.storage.write_lock")

LOCK_SUFFIX = ".writelock"


def lock_file(database: Path) -> Path:
    """The lock file of a database file: beside it, named after it."""
    return database.with_name(database.name + LOCK_SUFFIX)


class WriteLock:
    """Held around every write transaction of an engine (app/storage/db.py); `database`: the SQLite file, or
    None (an in-memory database is reached by one process only: the thread lock is enough)."""

    def __init__(self, database: Path | None) -> None:
        self._threads = threading.Lock()
        self._path = None if database is None else lock_file(database)
        self._fd: int | None = None
        self._opened_by: int | None = None  # the pid that opened _fd
        self._closer: weakref.finalize[[int], WriteLock] | None = None  # closes _fd when the lock is collected

    def __enter__(self) -> WriteLock:
        self._threads.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if self._fd is not None and self._opened_by == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int | None:
        """The lock file's descriptor, opened by this process (called holding the thread lock). A forked child
        opens its own: a descriptor inherited from the parent shares the parent's flock, and would not exclude it."""
        if self._path is None:
            return None
        pid = os.getpid()
        if self._opened_by != pid:
            self._opened_by = pid
            if self._closer is not None:
                self._closer()  # (the parent's descriptor, in a child: closing this copy leaves the parent's lock)
            try:
                # Read-only is enough for flock, so a user who may only read the folder's files can still queue.
                self._fd = os.open(self._path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
                self._closer = weakref.finalize(self, os.close, self._fd)
            except OSError as exc:
                self._fd = None
                log.warning(
                    "writers of other processes will wait in SQLite's busy handler: cannot open the lock file %s (%s)",
                    self._path,
                    exc.strerror,
                )
        return self._fd
