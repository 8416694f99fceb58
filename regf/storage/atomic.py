"""Writing a whole new file atomically: a temporary beside it, fsync, rename, fsync.

Every new file regf writes in one go (a saved or exported hive, a recovered copy, a
fuzz case, a fleet Parquet partition) goes through :func:`replace_atomically`: the
content is written to a temporary name in the target's folder (a rename across
filesystems would not be atomic), fsynced, renamed over the target with ``os.replace``
and the folder fsynced, so a crash or a failed write leaves the old file (or none) or
the complete new one, never a torn file under the real name; on failure the temporary is
removed. Writing into an existing hive is the pager's (:mod:`.flush`), not this.

The writer is a callback that gets the temporary's path, so storage does not have to
know the format (fleet's partitions are written by pyarrow).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import InvalidArgumentError

#: One piece of a file being written.
Chunk = bytes | bytearray | memoryview

#: How temporaries are named unless the caller names them: ``.NAME`` + this + the pid
#: (``regf.cli`` shows the target's name when an error message mentions one).
TEMP_MARK = ".regf-tmp-"


def temp_path(target: Path, temp_name: str | None = None) -> Path:
    """The temporary beside ``target``: ``temp_name`` or ``.NAME.regf-tmp-PID``."""
    name = temp_name if temp_name is not None else f".{target.name}{TEMP_MARK}{os.getpid()}"
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise InvalidArgumentError(f"temporary name {name!r} must be a plain file name")
    return target.with_name(name)


def fsync_path(path: Path, *, directory: bool = False) -> None:
    """fsync the file (or, with ``directory``, the folder entries) at ``path``."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _install(tmp: Path, target: Path, durable: bool = True) -> None:
    """fsync the complete ``tmp`` (if ``durable``), rename it over ``target``, fsync the
    folder (if ``durable``). The temporary is removed when this fails before the rename."""
    try:
        if durable:
            fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        # The new directory entry must be durable too: without this a power cut may
        # bring back the old file (or none) although the call returned.
        fsync_path(target.parent, directory=True)


def replace_atomically(
    path: str | os.PathLike[str],
    write: Callable[[Path], object],
    *,
    temp_name: str | None = None,
    parents: bool = False,
    durable: bool = True,
) -> Path:
    """Create or replace ``path`` with the file ``write(tmp)`` writes; return the path.

    ``write`` gets the temporary's path (in ``path``'s folder; ``temp_name`` names it,
    default ``.NAME.regf-tmp-PID``) and must have closed it when it returns. The
    temporary is then fsynced and renamed over ``path`` and the folder fsynced. Any
    exception from ``write`` or the fsync removes the temporary and propagates, leaving
    ``path`` as it was. ``parents`` creates missing folders first. ``durable=False``
    skips both fsyncs: the file still appears whole or not at all to other processes
    and survives this one being killed, but not a power cut (for derived data that is
    re-created by running again).
    """
    target = Path(path)
    if parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target, temp_name)
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)  # also what a failed writer left half-written
        raise
    _install(tmp, target, durable)
    return target


def write_new_file(path: str | os.PathLike[str], data: Chunk | Iterable[Chunk]) -> None:
    """Write ``data`` to ``path`` atomically (:func:`replace_atomically`).

    ``data`` may be an iterable of buffers written one after the other, each before the
    next is asked for (a hive saved window by window, with no copy of its image). A
    crash leaves either the old file (or none) or the complete new one, never a torn
    hive.
    """

    def write(tmp: Path) -> None:
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644
        )
        try:
            for part in [data] if isinstance(data, bytes | bytearray | memoryview) else data:
                with memoryview(part) as whole:
                    view = whole.cast("B")
                    while view:
                        n = os.write(fd, view)  # may write less than asked: loop
                        view = view[n:]
        finally:
            os.close(fd)

    replace_atomically(path, write)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only if the ``with`` block succeeds.

    Writes go to a temporary beside ``path``; on success it is fsynced and renamed over
    ``path`` (then the folder is fsynced), on failure it is removed, so an interrupted
    export never leaves a half-written file under the real name.
    """
    target = Path(path)
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as fh:  # closing flushes: a failed flush lands below
            yield fh
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _install(tmp, target)


__all__ = [
    "TEMP_MARK",
    "atomic_output",
    "fsync_path",
    "replace_atomically",
    "temp_path",
    "write_new_file",
]
