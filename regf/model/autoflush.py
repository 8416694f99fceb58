"""Autoflush and the hive lock: the background flusher thread, and the wrapping of
every editing method in the hive's mutex (so a background flush never sees half an
edit)."""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar


class AutoFlusher:
    """A daemon thread calling ``hive._autoflush()`` every ``interval`` seconds.

    It keeps only a weak reference to the hive between passes, so a hive that is dropped
    without being closed does not live on in its own flusher.
    """

    def __init__(self, hive: Any, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=AutoFlusher._run,
            args=(weakref.ref(hive), interval, self._stop),
            name=f"regf-autoflush {hive.path}",
            daemon=True,
        )
        self._thread.start()

    @staticmethod
    def _run(ref: weakref.ref[Any], interval: float, stop: threading.Event) -> None:
        while not stop.wait(interval):
            hive = ref()
            if hive is None:
                return
            # A failure leaves the hive FAILED: its next operation reports it.
            with contextlib.suppress(Exception):
                hive._autoflush()
            del hive

    def stop(self) -> None:
        """Stop the thread and wait for it (a flush in progress completes)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _exclusive(fn: Callable[_P, _R], of_key: bool) -> Callable[_P, _R]:
    """Run ``fn`` (a method of Key when ``of_key``, else of EditHive) holding its
    hive's mutex. Two plain wrappers, no class test and no ``cast`` call: this runs on
    every edit, twice per key in a bulk write."""
    if of_key:

        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with self._hive._mutex:
                return fn(self, *args, **kwargs)

    else:

        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with self._mutex:
                return fn(self, *args, **kwargs)

    return functools.wraps(fn)(run)  # type: ignore[return-value]


#: Every public operation that changes the image. Wrapped here (not at each definition)
#: so that the edit code stays free of locking (but for SELF_LOCKED below);
#: tests/test_model_flush.py checks that every public Key / EditHive method or setter
#: is either listed or known read-only. On a read-only hive the mutex is a no-op and the
#: operation raises ReadOnlyError.
KEY_EDITS = (
    "delete_key",
    "rename",
    "delete_value",
    "touch",
)
#: The edits a bulk writer calls once per key or value take the mutex in their own body
#: instead: the wrapper's extra call with packed arguments cost ~0.5 us each, a tenth of
#: the 20,000 keys x 10 values benchmark. tests/test_model_flush.py checks that each
#: blocks while another thread holds the mutex.
SELF_LOCKED = ("create_key", "set_value", "set_values")
KEY_SETTERS = (
    "extra_flags",
    "user_flags",
    "virt_flags",
    "debug",
    "last_written_raw",
    "class_name",
    "security_raw",
)
HIVE_EDITS = ("create_key", "delete_key", "rename_key")


def serialise_edits(key_cls: type, hive_cls: type) -> None:
    """Wrap the edits of ``key_cls`` (Key) and ``hive_cls`` (EditHive) in the mutex."""
    for name in KEY_EDITS:
        setattr(key_cls, name, _exclusive(getattr(key_cls, name), True))
    for name in KEY_SETTERS:
        prop = getattr(key_cls, name)
        setattr(key_cls, name, prop.setter(_exclusive(prop.fset, True)))
    for name in HIVE_EDITS:
        setattr(hive_cls, name, _exclusive(getattr(hive_cls, name), False))


__all__ = [
    "HIVE_EDITS",
    "KEY_EDITS",
    "KEY_SETTERS",
    "SELF_LOCKED",
    "AutoFlusher",
    "serialise_edits",
]
