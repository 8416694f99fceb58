"""An open hive: base block, recovery state, root key, path lookup and walking."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from .. import _accel
from .._accel import checksum
from .._accel.pure import (
    K_CHILDREN_BAD,
    K_CYCLE,
    K_DEPTH,
    K_VALUES_BAD,
    WALK_STRICT,
    WALK_VALUES,
    WalkCaps,
    new_walk_state,
)
from ..cells.image import HiveImage
from ..errors import (
    FormatError,
    HiveStateError,
    InvalidArgumentError,
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
from .values import Value, decode_name


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
        # Not a generator itself: one level of delegation less per key. The start key is
        # still looked up lazily, on the first next().
        if _accel.BACKEND == "c":
            return self._walk_chunks(key, 0, None, _accel.walk_code)
        # The pure twin of the C walker is an executable spec, slower than the
        # key-by-key walk; both give the same keys, values and errors.
        return self._walk_keys(key, 0, None)

    def _start(self, key: Key | str | None) -> Key:
        return self.root if key is None else self.open_key(key) if isinstance(key, str) else key

    def _cycle(self, k: Key) -> None:
        err = StructureError(f"key {k.path!r} reached twice (cycle)", k.offset)
        if self.strict:
            raise err
        self.image.problems.append(err)

    def _too_deep(self, k: Key) -> None:
        err = StructureError(f"tree deeper than {MAX_DEPTH} at {k.path!r}", k.offset)
        if self.strict:
            raise err
        self.image.problems.append(err)

    def _walk_keys(
        self, key: Key | str | None, base: int, visited: bytearray | None
    ) -> Iterator[Key]:
        """The checked key-by-key walk from ``key`` at depth ``base`` (``visited``: one bit
        per cell, as the C walker's; None: a fresh one)."""
        start = self._start(key)
        if visited is None:
            visited = bytearray((self.image.hbins_size >> 6) + 1)
        stack: list[tuple[Key, int]] = [(start, base)]
        while stack:
            k, depth = stack.pop()
            q = k.index >> 3
            if (visited[q >> 3] >> (q & 7)) & 1:
                self._cycle(k)
                continue
            visited[q >> 3] |= 1 << (q & 7)
            yield k
            if depth >= MAX_DEPTH:
                self._too_deep(k)
                continue
            subs = k.subkeys()
            d = depth + 1
            stack.extend((s, d) for s in reversed(subs))

    def _walk_chunks(
        self, key: Key | str | None, base: int, visited: bytearray | None, walk_code: Any
    ) -> Iterator[Key]:
        """The walk from ``key`` (at depth ``base``) through the chunked C walker.

        The walker checks every cell it reads like HiveImage.cell() and flags whatever it
        does not handle (cycles, depth, damaged subkey or value lists, big data); those
        cases go through the same checked code as :meth:`_walk_keys`, so keys, values,
        errors and recorded problems are identical. A key whose subkey list the walker
        refused ends its chunk; its subkeys (from the checked decoder) are then walked
        one by one, each by a walker of its own sharing ``visited``, before the parent's
        walker resumes.
        """
        start = self._start(key)
        image = self.image
        if visited is None:
            visited = bytearray((image.hbins_size >> 6) + 1)
        flags = WALK_VALUES | (WALK_STRICT if self.strict else 0)
        bins = image.bins_view()
        size = image.hbins_size
        cellmap = image.bitmap()
        minor = image.minor
        knew = Key.__new__
        vnew = Value.__new__
        unpack = struct.unpack
        # Walkers in progress (innermost last) and, above each, the subkeys still to walk
        # (a (key, depth) pair becomes a walker when it reaches the top).
        stack: list[Any] = [(start, base)]
        while stack:
            top = stack[-1]
            if isinstance(top, tuple):
                # [start key, depth, state, start record pending, pps, last key, its
                # depth]; pps[d]: the parent path of keys at depth d (set when the walk
                # steps down).
                top = stack[-1] = [top[0], top[1], new_walk_state(), True, {}, top[0], top[1]]
            wstart, wbase, state, first, pps, prev, prev_d = top
            ch = walk_code(
                bins, size, cellmap, visited, wstart.index, wbase, MAX_DEPTH, flags, minor, state,
                WALK_CAPS,
            )
            if ch.rc < 0:
                stack.pop()
                if not first:  # pragma: no cover - the state is only ever ours
                    raise AssertionError(f"regf_walk failed mid-walk ({ch.rc})")
                # Cannot happen for a key that Key() accepted; keep the checked walk.
                yield from self._walk_keys(wstart, wbase, visited)
                continue
            if ch.rc == 0:
                stack.pop()
            if ch.name_nul:
                # A name holds U+0000 itself: the chunk cannot be split on NUL.
                knames = [_nk_name(image, c) for c in ch.key_cell]
                vnames = [_vk_name(image, c) for c in ch.val_cell]
            else:
                knames = ch.knames.decode("utf-16-le", "surrogatepass").split("\0")
                vnames = ch.vnames.decode("utf-16-le", "surrogatepass").split("\0")
            # All values of the chunk at once (one flat loop); chunks are kept small so
            # that few objects are alive at a time and the cyclic GC stays asleep.
            vals: list[Value] = []
            append = vals.append
            for vc, vn, vt, vs, rw in zip(
                ch.val_cell, vnames, ch.val_type, ch.val_status, unpack(ch.fmt, ch.data),
                strict=False,
            ):
                v = vnew(Value)
                v._image = image
                v.index = vc
                v.name = vn
                v.type_ = vt
                if not vs:
                    v.raw = rw
                append(v)
            vi = 0
            kz = zip(
                ch.key_cell, ch.key_depth, ch.key_status, ch.key_nvals, knames, strict=False
            )
            k = wstart
            if first:
                # The start key's own record (always the first): yield the caller's object.
                first = top[3] = False
                _c, _d, st, vi, _n = next(kz)
                if st & K_CYCLE:
                    self._cycle(k)
                else:
                    yield k
                    if st & K_DEPTH:
                        self._too_deep(k)
            for c, d, st, nv, nm in kz:
                k = knew(Key)
                k._hive = self
                k._image = image
                k.index = c
                k.name = nm
                if d > prev_d:
                    # Stepping down: the previous key is the parent.
                    ppp = prev.parent_path
                    if prev is wstart or ppp is None:
                        pps[d] = prev.path
                    else:
                        pps[d] = prev._path = prev.name if ppp == "" else ppp + "\\" + prev.name
                k.parent_path = pps[d]
                prev = k
                prev_d = d
                if nv:
                    k._vals = vals[vi : vi + nv]
                    vi += nv
                else:
                    # No records: no values, or values for the checked path (None).
                    k._vals = None if st & K_VALUES_BAD else []
                if st:
                    if st & K_CYCLE:
                        self._cycle(k)
                        continue
                    yield k
                    if st & K_DEPTH:
                        self._too_deep(k)
                    continue
                yield k
            top[5] = prev
            top[6] = prev_d
            if ch.key_status and ch.key_status[-1] & K_CHILDREN_BAD:
                # Always the chunk's last record. The checked decoder raises (strict) or
                # records what it skips; the subkeys it returns are walked next.
                d = ch.key_depth[-1] + 1
                stack.extend((s, d) for s in reversed(k.subkeys()))

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


def _nk_name(image: HiveImage, c: int) -> str:
    """Name of the nk at ``c`` (already checked by the walker)."""
    at = BASE + c + 4
    flags, length = NK_NAME_FIELDS.unpack_from(image.buf, at)  # type: ignore[arg-type]
    raw = bytes(image.buf[at + 0x4C : at + 0x4C + length])
    return decode_name(raw, bool(flags & 0x20))


def _vk_name(image: HiveImage, c: int) -> str:
    """Name of the vk at ``c`` (already checked by the walker)."""
    at = BASE + c + 4
    (length,) = VK_NAME_LEN.unpack_from(image.buf, at + 2)  # type: ignore[arg-type]
    (flags,) = VK_NAME_LEN.unpack_from(image.buf, at + 0x10)  # type: ignore[arg-type]
    raw = bytes(image.buf[at + 0x14 : at + 0x14 + length])
    return raw.decode("latin-1") if flags & 1 else decode_name(raw, False)


#: Output capacities of one walker call. 256 keys: few enough that a chunk's Key and
#: Value objects do not wake the cyclic GC (its young generation holds 700), enough
#: that the per-call cost is spread. Values and data get room for keys with thousands
#: of values (real SYSTEM hives have keys with 1200 values or 440 KB of data), which
#: would otherwise take the checked path.
WALK_CAPS = WalkCaps(
    keys=256, vals=4096, knames=1 << 17, vnames=1 << 18, data=1 << 22, fmt=6 * 4096
)

# nk flags (+0x02) and name length (+0x48) as one unpack with a gap; vk u16 fields.
NK_NAME_FIELDS = struct.Struct("<2xH68xH")
VK_NAME_LEN = struct.Struct("<H")


def open_hive(
    source: Source,
    *,
    mode: str = "r",
    strict: bool = True,
    recover: bool = True,
    logs: Sequence[Any] | None = None,
    autoflush: float | None = None,
    repair: bool = False,
) -> Hive:
    """Open a hive from a path, bytes, or a binary file object (read-only by default).

    A dirty hive is recovered in memory from its transaction logs (found beside the file,
    or given as ``logs``) unless ``recover=False``; nothing is ever written, truncated or
    created in mode "r". ``strict=False`` (forensic mode) skips and records damaged
    records in ``hive.problems`` instead of raising.

    ``mode="r+"`` returns an :class:`~regf.model.edit.EditHive`. On a path it edits the
    file in place: exclusive writer lock (:class:`~regf.errors.LockedError` for a second
    writer), a dirty hive recovered and written back first, ``flush()`` / ``close()``
    writing through ``.LOG1``/``.LOG2``, and ``autoflush`` (seconds) flushing from a
    background thread. Bytes and file objects give an editable copy in memory (saved
    with ``save_as``). A hive that fails the whole-hive check is refused
    (:class:`~regf.errors.DamagedHiveError`) unless ``repair=True``. See
    :mod:`regf.model.edit`.
    """
    if mode == "r+":
        from .edit import open_editable

        return open_editable(  # type: ignore[return-value]
            source,
            strict=strict,
            recover=recover,
            logs=logs,
            autoflush=autoflush,
            repair=repair,
        )
    if mode != "r":
        raise HiveStateError(f"mode {mode!r} is not supported (only 'r' and 'r+')")
    if autoflush is not None:
        raise InvalidArgumentError("autoflush applies to mode 'r+' only")
    if repair:
        raise InvalidArgumentError("repair applies to mode 'r+' only")
    src = read_source(source)
    try:
        return Hive(src, strict=strict, recover=recover, logs=logs)
    except RegfError:
        src.close()
        raise


__all__ = ["BaseBlockInfo", "DirtyHiveWarning", "Hive", "open_hive", "parse_base_block"]
