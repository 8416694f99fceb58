"""An open hive: base block, recovery state, root key, path lookup and walking."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from .._accel import checksum
from ..cells.image import HiveImage
from ..errors import (
    FormatError,
    HiveStateError,
    RegfError,
    SignatureError,
    StructureError,
    TruncatedError,
    UnsupportedVersionError,
)
from ..format import codec
from ..format.constants import BASE, FILE_TYPE_PRIMARY, MAX_DEPTH
from ..format.structs import BaseBlockHead
from ..storage import discover, recovery
from ..storage.files import HiveSource, Source, read_source
from .keys import Key, filetime


class DirtyHiveWarning(UserWarning):
    """A dirty hive was opened without applying its transaction logs."""


@dataclass(frozen=True)
class BaseBlockInfo:
    """The base block's fields (fmt §1), plus derived checks."""

    seq1: int
    seq2: int
    last_written_raw: int
    major: int
    minor: int
    file_type: int
    file_format: int
    root_cell: int
    hbins_size: int
    clustering: int
    file_name: str
    flags: int
    last_reorganized_raw: int
    checksum: int
    checksum_valid: bool
    offreg: bool
    serialization_time_raw: int | None

    @property
    def last_written(self) -> datetime | None:
        """Last written time, or None when zero."""
        return filetime(self.last_written_raw) if self.last_written_raw else None

    @property
    def last_reorganized(self) -> datetime | None:
        """Reorganization time; None unless the low 2 bits say it is one (fmt §1.3)."""
        bits = self.last_reorganized_raw & 3
        if bits in (0, 3) or (self.offreg and self.last_reorganized_raw == 0x6752664F):
            return None
        return filetime(self.last_reorganized_raw & ~3)

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor)."""
        return (self.major, self.minor)

    @property
    def dirty(self) -> bool:
        """Seq1 != Seq2 (data recovery needed) or a bad checksum (header recovery)."""
        return self.seq1 != self.seq2 or not self.checksum_valid


def parse_base_block(buf: Any) -> BaseBlockInfo:
    """Parse and sanity-check the base block at the start of ``buf``."""
    if len(buf) < 512:
        raise TruncatedError(f"file of {len(buf)} bytes is too short for a base block", 0)
    head = bytes(buf[:512])
    c = codec.parse(BaseBlockHead, head, 0, "base block")
    # offreg writes "OfRg" + flags at 0xB0 (6.2+) or at 0xA8 (6.1), fmt §1.4.
    offreg = head[0xB0:0xB4] == b"OfRg" or head[0xA8:0xAC] == b"OfRg"
    ser = None
    if offreg and len(buf) >= 0x208:
        ser = int.from_bytes(bytes(buf[0x200:0x208]), "little")
    name = c.file_name.decode("utf-16-le", "replace").split("\0", 1)[0]
    return BaseBlockInfo(
        seq1=c.seq1,
        seq2=c.seq2,
        last_written_raw=c.last_written,
        major=c.major,
        minor=c.minor,
        file_type=c.file_type,
        file_format=c.file_format,
        root_cell=c.root_cell,
        hbins_size=c.hbins_size,
        clustering=c.clustering,
        file_name=name,
        flags=c.flags,
        last_reorganized_raw=c.last_reorganized,
        checksum=c.checksum,
        checksum_valid=checksum(head) == c.checksum,
        offreg=offreg,
        serialization_time_raw=ser,
    )


class Hive:
    """An open hive (read-only unless opened for writing)."""

    def __init__(
        self,
        source: HiveSource,
        *,
        strict: bool = True,
        recover: bool = True,
        logs: Sequence[Any] | None = None,
    ) -> None:
        self._source = source
        self.path = source.path
        self.strict = strict
        self.warnings: list[str] = []
        self.recovery: Any = None
        self._closed = False
        buf: Any = source.buf
        try:
            bb = parse_base_block(buf)
        except SignatureError:
            # A base block wiped by a crash (a torn write that left zeros) is rebuilt
            # from a log's copy, as Windows does (fmt §6.5 step 3); no log: still fatal.
            if not recover:
                raise
            buf, rbb = self._recover(buf, None, logs)
            if rbb is None:
                raise
            bb, self.was_dirty = rbb, True
        else:
            self.was_dirty = bb.dirty
            if bb.dirty and recover:
                buf, bb = self._recover(buf, bb, logs)
        self._check_header(bb, len(buf))
        self.base_block = bb
        self.image = HiveImage(buf, bb.hbins_size, bb.minor, strict)
        self.buf = buf
        self._root: Key | None = None

    # -- opening -----------------------------------------------------------------------

    def _recover(self, buf: Any, bb: BaseBlockInfo | None, logs: Sequence[Any] | None) -> Any:
        paths = list(logs) if logs is not None else (
            discover.find_logs(self.path) if self.path is not None else []
        )
        if not paths:
            self._dirty_warning("no transaction logs found")
            return buf, bb
        try:
            # The primary mapping is passed as is and the logs are mapped, not read:
            # recover() makes the one working copy it needs.
            image, report = recovery.recover_files(buf, paths, self.path)
        except RegfError as exc:
            if self.strict:
                raise
            # Forensic mode: the stale primary is still evidence worth reading.
            self._dirty_warning(f"logs not applied: {exc}")
            return buf, bb
        self.recovery = report
        return image, parse_base_block(image)

    def _dirty_warning(self, why: str) -> None:
        msg = f"hive is dirty and was opened as it is ({why}); newest data may be missing"
        self.warnings.append(msg)
        warnings.warn(msg, DirtyHiveWarning, stacklevel=4)

    def _check_header(self, bb: BaseBlockInfo, size: int) -> None:
        if bb.major != 1:
            raise UnsupportedVersionError(f"major version {bb.major} is not 1", 0x14)
        if bb.minor < 3 or bb.minor > 6:
            if self.strict or bb.minor < 1:
                raise UnsupportedVersionError(
                    f"hive version 1.{bb.minor} is not supported (1.3 to 1.6 are)", 0x18
                )
            self.warnings.append(f"version 1.{bb.minor} read as 1.3")
        if bb.file_type != FILE_TYPE_PRIMARY:
            raise UnsupportedVersionError(
                f"file type {bb.file_type} is not a primary hive (a transaction log?)", 0x1C
            )
        if bb.hbins_size % 4096 or bb.hbins_size < 4096:
            err = FormatError(f"hive bins size {bb.hbins_size:#x} is not a multiple of 4096", 0x28)
            if self.strict:
                raise err
            self.warnings.append(str(err))
        if BASE + bb.hbins_size > size:
            err2 = TruncatedError(
                f"file ends at {size:#x} before the hive bins end at {BASE + bb.hbins_size:#x}",
                size,
            )
            if self.strict:
                raise err2
            self.warnings.append(str(err2))

    # -- state -------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when the hive on disk is dirty and its logs were not applied."""
        return self.base_block.dirty

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor) version."""
        return self.base_block.version

    @property
    def problems(self) -> list[FormatError]:
        """Structural problems skipped in forensic (``strict=False``) mode."""
        return self.image.problems

    def _check_open(self) -> None:
        if self._closed:
            raise HiveStateError("hive is closed")

    # -- keys --------------------------------------------------------------------------

    @property
    def root(self) -> Key:
        """The root key."""
        self._check_open()
        if self._root is None:
            self._root = Key(self, self.base_block.root_cell, None)
        return self._root

    def open_key(self, path: str) -> Key:
        """The key at ``path`` (backslash-separated, case-insensitive, Windows rules)."""
        return self.root.open_key(path)

    def walk(self, key: Key | str | None = None) -> Iterator[Key]:
        """Every key below (and including) ``key`` depth-first, in stored order.

        Cycles (a subkey list pointing back up the tree) and depth beyond 512 raise
        StructureError in strict mode and are skipped in forensic mode.
        """
        start = self.root if key is None else self.open_key(key) if isinstance(key, str) else key
        seen: set[int] = set()
        stack: list[tuple[Key, int]] = [(start, 0)]
        strict = self.strict
        while stack:
            k, depth = stack.pop()
            if k.index in seen:
                err = StructureError(f"key {k.path!r} reached twice (cycle)", k.offset)
                if strict:
                    raise err
                self.image.problems.append(err)
                continue
            seen.add(k.index)
            yield k
            if depth >= MAX_DEPTH:
                err = StructureError(f"tree deeper than {MAX_DEPTH} at {k.path!r}", k.offset)
                if strict:
                    raise err
                self.image.problems.append(err)
                continue
            subs = k.subkeys()
            d = depth + 1
            stack.extend((s, d) for s in reversed(subs))

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the hive (read-only: nothing is written)."""
        if not self._closed:
            self._closed = True
            self._root = None

    def __enter__(self) -> Hive:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "<bytes>"
        return f"<Hive {where} v{self.base_block.major}.{self.base_block.minor}>"


def open_hive(
    source: Source,
    *,
    mode: str = "r",
    strict: bool = True,
    recover: bool = True,
    logs: Sequence[Any] | None = None,
) -> Hive:
    """Open a hive from a path, bytes, or a binary file object (read-only by default).

    A dirty hive is recovered in memory from its transaction logs (found beside the file,
    or given as ``logs``) unless ``recover=False``; nothing is ever written in mode "r".
    ``strict=False`` (forensic mode) skips and records damaged records in
    ``hive.problems`` instead of raising. ``mode="r+"`` returns an editable in-memory
    :class:`~regf.model.edit.EditHive` (saved with ``save_as``; see that module).
    """
    if mode == "r+":
        from .edit import open_editable

        return open_editable(source, strict=strict, recover=recover, logs=logs)  # type: ignore[return-value]
    if mode != "r":
        raise HiveStateError(f"mode {mode!r} is not supported (only 'r' and 'r+')")
    src = read_source(source)
    try:
        return Hive(src, strict=strict, recover=recover, logs=logs)
    except RegfError:
        src.close()
        raise


__all__ = ["BaseBlockInfo", "DirtyHiveWarning", "Hive", "open_hive", "parse_base_block"]
