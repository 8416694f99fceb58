"""Exclusive writer lock on a hive file.

A hive has at most one writer, as in Windows (the kernel opens loaded hives exclusively).
Two regf writers on one file would interleave log entries and sequence numbers and
corrupt it, so a writer takes two locks:

* an in-process registry keyed by the file's identity ``(st_dev, st_ino)``, because
  ``flock`` alone would also refuse a second writer in the same process, but with a
  message that cannot say so, and because a process-wide table lets the message name the
  path the hive was first opened under (hard links, different spellings);
* ``fcntl.flock(LOCK_EX | LOCK_NB)`` on the primary file, which other processes see.

Both refusals raise :class:`~regf.errors.LockedError` at once (no waiting). Read-only
opens take no lock and are never blocked: they never write. They are not isolated from
a writer either: a reader maps the file, so while a writer reconciles, pages the reader
has not copied can change under it. Reopen after the writer's flush for a consistent view.

The flock is tied to the descriptor it was taken on: closing that descriptor releases it.
On platforms without ``fcntl`` only the in-process registry applies.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from ..errors import LockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-process registry only
    fcntl = None  # type: ignore[assignment]

_registry_lock = threading.Lock()
#: (st_dev, st_ino) -> path the current writer opened.
_holders: dict[tuple[int, int], str] = {}


class HiveLock:
    """A held writer lock; :meth:`release` gives it back (idempotent)."""

    def __init__(self, key: tuple[int, int], path: Path, fd: int | None, own_fd: bool) -> None:
        self.key = key
        self.path = path
        self._fd = fd
        self._own_fd = own_fd
        self.held = True

    def retarget(self, path: Path) -> None:
        """Record that the locked file is now known as ``path`` (after a rename)."""
        self.path = path
        with _registry_lock:
            if self.held:
                _holders[self.key] = str(path)

    def release(self) -> None:
        """Drop the flock and the registry entry."""
        if not self.held:
            return
        self.held = False
        try:
            if self._fd is not None and fcntl is not None:
                # A closed descriptor already released the lock in the kernel.
                with contextlib.suppress(OSError):
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                if self._own_fd:
                    os.close(self._fd)
        finally:
            with _registry_lock:
                _holders.pop(self.key, None)


def acquire(path: str | os.PathLike[str], fd: int | None = None) -> HiveLock:
    """Lock the hive at ``path`` for writing; raise LockedError if another writer has it.

    ``fd`` is an open descriptor of that file to take the flock on (it must stay open
    while the lock is held); without one the lock opens its own read-only descriptor.
    """
    p = Path(path)
    own_fd = fd is None
    if fd is None:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        with _registry_lock:
            other = _holders.get(key)
            if other is not None:
                raise LockedError(
                    f"{p}: hive is already open for writing in this process (as {other}); "
                    "close that handle first"
                )
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise LockedError(
                        f"{p}: hive is locked by another process that has it open for writing"
                    ) from None
            _holders[key] = str(p)
    except BaseException:
        if own_fd:
            os.close(fd)
        raise
    return HiveLock(key, p, fd, own_fd)


def is_locked_here(path: str | os.PathLike[str]) -> bool:
    """True when this process holds the writer lock on ``path``."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    with _registry_lock:
        return (st.st_dev, st.st_ino) in _holders


__all__ = ["HiveLock", "acquire", "is_locked_here"]
