"""Reading hive sources: paths, bytes, or binary file objects (read-only, no writes).

A read-only open maps the file with ``mmap.ACCESS_READ`` (opening a 15 MB hive costs
nothing until pages are touched) and never writes to it or creates any file.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import FileKindError, TruncatedError

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


class HiveSource:
    """The bytes of a hive plus where they came from (``path`` is None for bytes)."""

    def __init__(self, buf: bytes | bytearray | mmap.mmap, path: Path | None) -> None:
        self.buf = buf
        self.path = path

    def close(self) -> None:
        """Release the mapping (keys read after this raise ``ValueError`` on mmap)."""
        if isinstance(self.buf, mmap.mmap):
            # A memoryview may still be exported: then let GC release the mapping.
            with contextlib.suppress(BufferError):
                self.buf.close()


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_readable(path: str | os.PathLike[str], *, block_ok: bool = True) -> tuple[int, int]:
    """Open ``path`` read-only without ever blocking; return ``(fd, size)``.

    Only a regular file (or, with ``block_ok``, a block device) can hold a hive. The
    file is opened with ``O_NONBLOCK``, so a FIFO does not wait for a writer, and its
    kind is checked on the open descriptor (no race with a rename between a stat and the
    open); anything else is closed again and raises
    :class:`~regf.errors.FileKindError`. A missing file raises ``FileNotFoundError``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise FileKindError(f"{os.fspath(path)}: a directory is not a hive file") from None
    try:
        st = os.fstat(fd)
        mode = st.st_mode
        if stat.S_ISREG(mode):
            size = st.st_size
        elif block_ok and stat.S_ISBLK(mode):
            size = os.lseek(fd, 0, os.SEEK_END)  # st_size is 0 for a device
        else:
            raise FileKindError(
                f"{os.fspath(path)}: {_kind(mode)} is not a hive file "
                "(a regular file or a block device)"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, size


def check_regular_file(path: str | os.PathLike[str]) -> os.stat_result:
    """``os.stat(path)``, raising FileKindError unless it is a regular file (writers)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise FileKindError(
            f"{os.fspath(path)}: {_kind(st.st_mode)} cannot be opened for writing "
            "(only a regular file can)"
        )
    return st


def refuse_non_regular(path: str | os.PathLike[str]) -> None:
    """Raise FileKindError when ``path`` exists but is no regular file (a FIFO or a
    directory where a writer would create or write a log)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise FileKindError(f"{os.fspath(path)}: {_kind(st.st_mode)} is in the way of a log")


def map_readonly(fd: int, size: int) -> mmap.mmap | bytes:
    """A read-only mapping of the first ``size`` bytes of ``fd`` (``b""`` when empty)."""
    if size == 0:
        return b""
    return mmap.mmap(fd, size, access=mmap.ACCESS_READ)


def read_source(source: Source) -> HiveSource:
    """Open ``source`` read-only."""
    if isinstance(source, bytes | bytearray):
        return HiveSource(source, None)
    if isinstance(source, memoryview):
        return HiveSource(source.tobytes(), None)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        fd, size = open_readable(path)  # never blocks (a FIFO is refused, issue 19 B)
        try:
            if size == 0:
                raise TruncatedError(f"{path}: empty file", 0)
            buf = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        return HiveSource(buf, path)
    data = source.read()
    if not isinstance(data, bytes | bytearray):
        raise TypeError("file object must be opened in binary mode")
    name = getattr(source, "name", None)
    return HiveSource(bytes(data), Path(name) if isinstance(name, str) else None)


def read_file(path: str | os.PathLike[str]) -> bytes:
    """Whole file contents. Used for logs found by :func:`.discover.find_logs` (regular
    files only) and for ``.reg`` input, which may legitimately be a pipe."""
    return Path(path).read_bytes()
