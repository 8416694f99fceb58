"""The lazy flusher: a daemon thread that flushes dirty hives every few seconds, as the
configuration manager does ("the system flushes key changes automatically every few
seconds", ``nt-api/000``)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable


class LazyFlusher:
    """Calls ``flush`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, flush: Callable[[], None], interval: float) -> None:
        self.interval = float(interval)
        self._flush = flush
        self._stop = threading.Event()
        #: Completed background passes (tests use it to wait for one).
        self.passes = 0
        self._thread = threading.Thread(target=self._run, name="regf-nt-lazy-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            # A failure is recorded by ``flush`` itself; never let the thread die.
            with contextlib.suppress(Exception):
                self._flush()
            self.passes += 1

    def stop(self) -> None:
        """Stop the thread and wait for it (an in-progress flush completes)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


__all__ = ["LazyFlusher"]
