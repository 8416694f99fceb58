"""The one seam through which regf writes hive files: open, pwrite, fsync, truncate, rename.

Every byte the flush code (:mod:`regf.storage.flush`) puts into a primary hive or a
transaction log goes through a :class:`FileOps` object, so a test can substitute one that
counts operations, fails at the k-th write or fsync, or tears a write (keeps a prefix, or
zeros) and then behaves like a crashed process. :class:`OSFileOps` is the real thing:
``os.pread``/``os.pwrite``/``os.fsync``/``os.ftruncate`` on raw descriptors, no Python
buffering (a buffered write could reach the disk after the fsync meant to order it).

Reads go through the seam too, so a crash double can keep its own model of the disk.
Read-only opens of a hive (:func:`regf.open` in mode ``"r"``) do not use this module at
all: they map the file read-only (:mod:`regf.storage.files`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class FileHandle(Protocol):
    """An open file. All offsets are absolute; writes are positional (no file pointer)."""

    path: Path

    def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at end of file)."""
        ...

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        """Write all of ``data`` at ``offset`` (extending the file if needed)."""
        ...

    def fsync(self) -> None:
        """Make every completed write to this file durable."""
        ...

    def truncate(self, size: int) -> None:
        """Set the file length to ``size`` (shrink or zero-extend)."""
        ...

    def size(self) -> int:
        """Current file length."""
        ...

    def fileno(self) -> int | None:
        """The OS descriptor (for ``flock``), or None for a file that has none."""
        ...

    def close(self) -> None:
        """Release the handle (does not fsync)."""
        ...


class FileOps(Protocol):
    """Factory for :class:`FileHandle` objects plus the directory operations a flush needs."""

    def open(self, path: Path, *, create: bool = False) -> FileHandle:
        """Open ``path`` for reading and writing; create it (empty) when ``create``."""
        ...

    def exists(self, path: Path) -> bool:
        """Whether ``path`` names an existing file."""
        ...

    def fsync_dir(self, path: Path) -> None:
        """Make the directory entries of folder ``path`` durable (after a create)."""
        ...

    def unlink(self, path: Path) -> None:
        """Remove ``path`` (missing is fine)."""
        ...

    def replace(self, src: Path, dst: Path) -> None:
        """Rename ``src`` over ``dst`` atomically."""
        ...


class OSFile:
    """A :class:`FileHandle` over a raw OS descriptor."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def pread(self, size: int, offset: int) -> bytes:
        chunks: list[bytes] = []
        while size > 0:
            chunk = os.pread(self._fd, size, offset)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        view = memoryview(data).cast("B")
        while view:
            # os.pwrite may write less than asked (signals, huge buffers): loop.
            n = os.pwrite(self._fd, view, offset)
            view = view[n:]
            offset += n

    def fsync(self) -> None:
        os.fsync(self._fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def fileno(self) -> int | None:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __repr__(self) -> str:
        return f"<OSFile {self.path} fd={self._fd}>"


class OSFileOps:
    """The real :class:`FileOps`: the operating system, nothing added."""

    def open(self, path: Path, *, create: bool = False) -> FileHandle:
        flags = os.O_RDWR | (os.O_CREAT if create else 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags, 0o644)
        return OSFile(Path(path), fd)

    def exists(self, path: Path) -> bool:
        return Path(path).is_file()

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def unlink(self, path: Path) -> None:
        Path(path).unlink(missing_ok=True)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)


#: The default seam used when a caller passes none.
DEFAULT_OPS: FileOps = OSFileOps()

__all__ = ["DEFAULT_OPS", "FileHandle", "FileOps", "OSFile", "OSFileOps"]
