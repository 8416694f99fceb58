"""Reading hive sources: paths, bytes, or binary file objects (read-only, no writes).

A read-only open maps the file with ``mmap.ACCESS_READ`` (opening a 15 MB hive costs
nothing until pages are touched) and never writes to it or creates any file.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import TruncatedError

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


def read_source(source: Source) -> HiveSource:
    """Open ``source`` read-only."""
    if isinstance(source, bytes | bytearray):
        return HiveSource(source, None)
    if isinstance(source, memoryview):
        return HiveSource(source.tobytes(), None)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                raise TruncatedError(f"{path}: empty file", 0)
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return HiveSource(buf, path)
    data = source.read()
    if not isinstance(data, bytes | bytearray):
        raise TypeError("file object must be opened in binary mode")
    name = getattr(source, "name", None)
    return HiveSource(bytes(data), Path(name) if isinstance(name, str) else None)


def read_file(path: str | os.PathLike[str]) -> bytes:
    """Whole file contents (used for logs)."""
    return Path(path).read_bytes()


def write_new_file(path: str | os.PathLike[str], data: bytes | bytearray) -> None:
    """Write ``data`` to ``path`` atomically: temp file, fsync, rename, fsync the folder.

    A crash leaves either the old file (or none) or the complete new one, never a torn
    hive.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.regf-tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
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
