"""Reading hive sources: paths, bytes, or binary file objects (read-only, no writes).

A read-only open maps the file with ``mmap.ACCESS_READ`` (opening a 15 MB hive costs
nothing until pages are touched) and never writes to it or creates any file.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import FileKindError, TruncatedError

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
#: One piece of a file being written.
Chunk = bytes | bytearray | memoryview


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


def write_new_file(path: str | os.PathLike[str], data: Chunk | Iterable[Chunk]) -> None:
    """Write ``data`` to ``path`` atomically: temp file, fsync, rename, fsync the folder.

    ``data`` may be an iterable of buffers written one after the other, each before
    the next is asked for (a hive saved window by window, with no copy of its image).
    A crash leaves either the old file (or none) or the complete new one, never a torn
    hive.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.regf-tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for part in [data] if isinstance(data, bytes | bytearray | memoryview) else data:
            with memoryview(part) as whole:
                view = whole.cast("B")
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, target)
    dfd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only if the ``with`` block succeeds.

    Writes go to a temporary file beside ``path``; on success it is fsynced and renamed
    over ``path``, on failure it is removed, so an interrupted export never leaves a
    half-written file under the real name.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.regf-tmp-{os.getpid()}")
    fh = open(tmp, "wb")  # noqa: SIM115 - closed below on both paths
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
    except BaseException:
        fh.close()
        tmp.unlink(missing_ok=True)
        raise
    fh.close()
    os.replace(tmp, target)
