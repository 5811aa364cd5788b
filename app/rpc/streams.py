"""How many answers may stream at once: each holds a pooled connection, and its transaction, for as long as
its client takes to read it, so a few slow readers could otherwise take every connection."""

from __future__ import annotations

import threading
from collections import Counter


class StreamGate:
    """Admits an answer that may stream while fewer than `total` stream, and fewer than `per_caller` to the
    same principal; the rest of the pool keeps serving everyone else."""

    def __init__(self, *, total: int, per_caller: int) -> None:
        self.total = total
        self.per_caller = per_caller
        self._streaming: Counter[str] = Counter()
        self._lock = threading.Lock()  # admitted on worker threads, released on the event loop

    def admit(self, principal: str) -> str | None:
        """None when the answer may stream (call release() when it is done); otherwise why not."""
        with self._lock:
            if self._streaming[principal] >= self.per_caller:
                return (
                    f"{self._streaming[principal]} answers without a limit are already streaming to {principal}, "
                    f"the most one caller may have at once; read them, page with a limit, or try again"
                )
            if self._streaming.total() >= self.total:
                return f"the server is streaming {self.total} answers, its most at once; try again shortly"
            self._streaming[principal] += 1
            return None

    def release(self, principal: str) -> None:
        with self._lock:
            self._streaming[principal] -= 1
            if self._streaming[principal] <= 0:
                del self._streaming[principal]

    def streaming(self) -> int:
        with self._lock:
            return self._streaming.total()
