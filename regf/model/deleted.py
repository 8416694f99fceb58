"""Deleted-record recovery: keys and values that a hive no longer references (fmt §9).

Windows frees the cells of a deleted key or value without wiping them, so the old ``nk``
and ``vk`` records usually survive until their space is reused. This module finds them
without changing anything:

1. *Live map.* Walk the tree (forensic mode, so damage does not stop the scan) and note
   every cell a live record references together with how many of its bytes that record
   uses: nk (0x4C + name), vk (0x14 + name), subkey lists, value lists, class, sk,
   value data and big-data parts.
2. *Candidate space.* Free cells in full; allocated cells nothing references (Windows'
   self-healing leaves such cells behind, yarp's HealedHive); and the slack of live
   cells past the bytes their record uses (a freed record lands there when a free cell
   was merged and later re-split, fmt §9). Records start at 8-aligned cell starts, so
   only positions ``p % 8 == 0`` are tried, with the signature at ``p + 4``. A remnant's
   own size field is never required to fit its surroundings (EricZimmerman/Registry#20).
3. *Plausibility.* A candidate must look like a record Windows writes: sane name length
   and text, counts, a FILETIME between 1970 and 2100, 8-aligned cell indexes, inline
   data of at most 4 bytes. Everything that passes is reported; nothing is guessed.
4. *Association and paths.* A deleted key's values are the deleted ``vk`` records its
   value list still names. Its path follows parent indexes through deleted keys up to a
   live key (full path) or until the chain breaks (``path_complete`` False: a partial
   path from the top-most key still known). Values still listed in the slack of a live
   key's value list, beyond its count, are that key's *remnant* values.

Data of a recovered value may already be reused: inline data (4 bytes or less, held in
the vk itself) is reliable; data in another cell is returned when that cell is not used
by a live record, and flagged ``data_reliable=False`` (it may have been overwritten).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._accel.codes import DB_SIG, LF_SIG, LH_SIG, LI_SIG, NK_SIG, RI_SIG, VK_SIG
from ..format.constants import BASE, DATA_INLINE, HCELL_NIL, KeyFlags
from ..format.fast import (
    CELL_HEADER,
    DB_L,
    FAST_ELEM_L,
    HASH_ELEM_L,
    HBIN_L,
    I32,
    LIST_HEAD_L,
    NK,
    SK_L,
    U16,
    U32,
    VK,
    cell_sig,
)
from ..format.structs import BIG_DATA_SEGMENT, NK_FIXED_SIZE, VK_FIXED_SIZE
from .decode import decode
from .keys import filetime
from .values import MAX_VALUE_SIZE, decode_name

_I32 = I32
_U16 = U16
_U32 = U32
_DB = DB_L.struct
#: A list's count, and its first element, from the cell's start (size field, head).
_LIST_COUNT = CELL_HEADER + LIST_HEAD_L.offset("count")
_LIST_FIRST = CELL_HEADER + LIST_HEAD_L.size
# Plain ints and prepared lookups: the live map visits every key and value of the hive,
# and an IntFlag operation or a per-call dict costs more than the visit itself.
_PREDEF_HANDLE = int(KeyFlags.PREDEF_HANDLE)
_SK_DESCRIPTOR_LENGTH = SK_L.field("descriptor_length")
_LIST_STEP = {
    LI_SIG: _U32.size,
    RI_SIG: _U32.size,
    LF_SIG: FAST_ELEM_L.size,
    LH_SIG: HASH_ELEM_L.size,
}

# Plausibility bounds (fmt §9; the same order of magnitude yarp's scanner uses).
MAX_KEY_NAME_BYTES = 2 * 255  # Windows limits key names to 255 characters
MAX_VALUE_NAME_BYTES = 2 * 16383
MAX_SUBKEYS = 10_000
MAX_VALUES = 1_000
MAX_NULS = 5
_FT_1970 = 116444736000000000
_FT_2100 = 157766976000000000
_NK_KNOWN_FLAGS = 0xFFFF  # every bit has a meaning in some Windows version
_VK_KNOWN_FLAGS = 0x0003  # compressed name, tombstone (RS1+)
_MAX_PATH_DEPTH = 512


@dataclass
class DeletedValue:
    """A value record found in unreferenced space."""

    offset: int
    """File offset of the vk cell."""
    name: str
    type: int
    raw: bytes | None
    """The data bytes, or None when they are gone (reused or out of range)."""
    data_reliable: bool
    """True for inline data (kept in the vk itself); data in another cell may be
    overwritten even when it is returned."""
    source: str
    """Where it was found: "free", "unreferenced" or "slack"."""
    owner: str | None = None
    """Path of the key it belongs to, when known (a deleted key, or a live key whose
    value list still names it past its count)."""

    @property
    def data(self) -> str | list[str] | int | bytes | None:
        """``raw`` decoded by type (never raises), or None without data."""
        return None if self.raw is None else decode(self.type, self.raw)


@dataclass
class DeletedKey:
    """A key record found in unreferenced space."""

    offset: int
    """File offset of the nk cell."""
    name: str
    path: str
    """Backslash-joined path; partial (see ``path_complete``) when the chain of parent
    keys is broken."""
    path_complete: bool
    last_written: datetime
    last_written_raw: int
    flags: KeyFlags
    parent_offset: int
    source: str
    values: list[DeletedValue] = field(default_factory=list)


@dataclass
class DeletedRecords:
    """What :func:`scan_deleted` found."""

    keys: list[DeletedKey] = field(default_factory=list)
    values: list[DeletedValue] = field(default_factory=list)
    """Every deleted value, associated with a key or not."""
    remnant_values: dict[str, list[DeletedValue]] = field(default_factory=dict)
    """Live key path -> deleted values still in the slack of its value list."""
    unreferenced_cells: list[int] = field(default_factory=list)
    """File offsets of allocated cells that nothing live references."""


# ---------------------------------------------------------------------------------------
# Live map
# ---------------------------------------------------------------------------------------


class _Live:
    """Cells referenced by live records -> bytes of the cell's data they use."""

    def __init__(self, buf: Any, hbins_size: int, minor: int) -> None:
        self.buf = buf
        self.limit = hbins_size
        self.minor = minor
        self.used: dict[int, int] = {}
        self.nk_paths: dict[int, str] = {}
        self.value_lists: list[tuple[int, int, str]] = []

    def cap(self, cell: int) -> int:
        """Data capacity of an allocated cell, or -1 (free, out of range, misaligned)."""
        if cell == HCELL_NIL or cell & 0x80000007 or cell + CELL_HEADER > self.limit:
            return -1
        size = int(_I32.unpack_from(self.buf, BASE + cell)[0])
        if size >= 0 or -size > self.limit - cell:
            return -1
        return -size - CELL_HEADER

    def mark(self, cell: int, used: int) -> bool:
        cap = self.cap(cell)
        if cap < 0:
            return False
        self.used[cell] = max(self.used.get(cell, 0), min(used, cap))
        return True

    def add_key(self, cell: int, path: str) -> None:
        buf = self.buf
        f = NK.unpack_from(buf, BASE + cell + CELL_HEADER)
        self.nk_paths[cell] = path
        self.mark(cell, NK_FIXED_SIZE + f[22])
        if f[23] and f[14] != HCELL_NIL:
            self.mark(f[14], f[23])
        self.mark(f[13], SK_L.size + self._sk_len(f[13]))
        if f[7] and f[9] != HCELL_NIL:
            self._mark_list(f[9], nested=False)
        count = 0 if f[1] & _PREDEF_HANDLE else f[11]
        if count and f[12] != HCELL_NIL and self.mark(f[12], 4 * count):
            self.value_lists.append((f[12], count, path))
            cap = self.cap(f[12])
            for i in range(min(count, cap // 4)):
                (vk,) = _U32.unpack_from(buf, BASE + f[12] + CELL_HEADER + 4 * i)
                self._mark_value(vk)

    def _sk_len(self, sk: int) -> int:
        if self.cap(sk) < SK_L.size:
            return 0
        return int(_SK_DESCRIPTOR_LENGTH.unpack_from(self.buf, BASE + sk + CELL_HEADER))

    def _mark_list(self, cell: int, nested: bool) -> None:
        cap = self.cap(cell)
        if cap < 4:
            return
        sig = cell_sig(self.buf, cell)
        (n,) = _U16.unpack_from(self.buf, BASE + cell + _LIST_COUNT)
        step = _LIST_STEP.get(sig)
        if step is None:
            return
        self.mark(cell, LIST_HEAD_L.size + step * n)
        if sig == RI_SIG and not nested:
            for i in range(min(n, (cap - 4) // 4)):
                (leaf,) = _U32.unpack_from(self.buf, BASE + cell + _LIST_FIRST + 4 * i)
                self._mark_list(leaf, nested=True)

    def _mark_value(self, vk: int) -> None:
        if self.cap(vk) < VK_FIXED_SIZE:
            return
        _s, name_len, size, data, _t, _fl, _sp = VK.unpack_from(self.buf, BASE + vk + CELL_HEADER)
        self.mark(vk, VK_FIXED_SIZE + name_len)
        if size & DATA_INLINE:
            return
        length = size & ~DATA_INLINE
        if length == 0:
            return
        if length > BIG_DATA_SEGMENT and self.minor >= 4 and self._is_db(data):
            _sig, count, seglist = _DB.unpack_from(self.buf, BASE + data + CELL_HEADER)
            self.mark(data, _DB.size)
            if self.mark(seglist, 4 * count):
                cap = self.cap(seglist)
                remaining = length
                for i in range(min(count, cap // 4)):
                    (seg,) = _U32.unpack_from(self.buf, BASE + seglist + CELL_HEADER + 4 * i)
                    self.mark(seg, min(remaining, BIG_DATA_SEGMENT))
                    remaining -= BIG_DATA_SEGMENT
            return
        self.mark(data, length)

    def _is_db(self, cell: int) -> bool:
        return self.cap(cell) >= _DB.size and cell_sig(self.buf, cell) == DB_SIG


# ---------------------------------------------------------------------------------------
# Candidate space
# ---------------------------------------------------------------------------------------


def _regions(hive: Any, live: _Live, out: DeletedRecords) -> list[tuple[int, int, str]]:
    """(start, end, source) hive-bins-relative ranges where remnant records may start.

    Past the last bin (``source`` "tail": bytes after ``4096 + hive-bins size``, e.g. of
    bins a shrinking hive dropped) records need not sit at cell starts.
    """
    buf, regions = live.buf, []
    for start, end in hive.image.bins():
        off = start + HBIN_L.size
        while off + CELL_HEADER <= end:
            (size,) = _I32.unpack_from(buf, BASE + off)
            n = -size if size < 0 else size
            if n < 8 or n & 7 or off + n > end:
                # Broken tiling: the rest of the bin is searched as one region.
                regions.append((off, end, "free"))
                break
            if size > 0:
                regions.append((off, off + n, "free"))
            elif off not in live.used:
                regions.append((off, off + n, "unreferenced"))
                out.unreferenced_cells.append(BASE + off)
            else:
                slack = off + CELL_HEADER + live.used[off]
                slack += -slack & 7
                if slack < off + n:
                    regions.append((slack, off + n, "slack"))
            off += n
    tail = len(buf) - BASE
    if tail > live.limit:
        # Starts 4 bytes early: a record's signature may be the first tail bytes.
        regions.append((live.limit - CELL_HEADER, tail, "tail"))
    return regions


#: A record signature at the position after it (a cell's data starts 4 bytes in).
_SIGNATURE = re.compile(b"(?=(%s|%s))" % (re.escape(NK_SIG), re.escape(VK_SIG)))


def _candidates(buf: Any, regions: list[tuple[int, int, str]]) -> Iterator[tuple[int, str, str]]:
    """(record position, "nk"/"vk", source) of every signature the regions may hold: at
    8-aligned cell starts + 4 inside bins, at any even offset in the tail.

    Only the regions are searched (live records, most of a hive, hold signatures too). A
    position belongs to the last region starting at or before it, so a region reaches
    no further than the next one's start; positions grow from region to region.
    """
    finditer = _SIGNATURE.finditer
    last = len(regions) - 1
    for i, (start, end, source) in enumerate(regions):
        stop = min(end, regions[i + 1][0]) if i < last else end
        if stop <= start:
            continue
        # Record positions [start, stop): their signatures at [start + 4, stop + 4),
        # and a signature's second byte may sit one byte further.
        lo = BASE + start + CELL_HEADER
        for m in finditer(buf, lo, BASE + stop + CELL_HEADER + 1):
            p = m.start() - BASE - CELL_HEADER
            if p < 0 or (p & 7 if source != "tail" else p & 1):
                continue
            yield p, m.group(1).decode(), source


# ---------------------------------------------------------------------------------------
# Plausibility and decoding
# ---------------------------------------------------------------------------------------


def _plausible_name(raw: bytes, compressed: bool) -> str | None:
    try:
        name = decode_name(raw, compressed)
    except UnicodeDecodeError:  # pragma: no cover - surrogatepass decodes everything
        return None
    if "\ufffd" in name or name.count("\0") > MAX_NULS:
        return None
    return name


def _nk_record(buf: Any, p: int) -> tuple[Any, str] | None:
    limit = len(buf) - BASE  # a remnant may lie past the bins (the tail)
    at = BASE + p + CELL_HEADER
    if p + CELL_HEADER + NK_FIXED_SIZE > limit:
        return None
    f = NK.unpack_from(buf, at)
    name_len = f[22]
    if not 0 < name_len <= MAX_KEY_NAME_BYTES or p + CELL_HEADER + NK_FIXED_SIZE + name_len > limit:
        return None
    if not _FT_1970 <= f[2] <= _FT_2100:
        return None
    if f[7] > MAX_SUBKEYS or (not f[1] & KeyFlags.PREDEF_HANDLE and f[11] > MAX_VALUES):
        return None
    # The parent index only builds the path (a broken one makes it partial), so it is
    # not required to be sane.
    for cell in (f[9], f[12], f[13]):
        if cell != HCELL_NIL and cell & 7:
            return None
    raw = bytes(buf[at + NK_FIXED_SIZE : at + NK_FIXED_SIZE + name_len])
    name = _plausible_name(raw, bool(f[1] & KeyFlags.COMP_NAME))
    return None if name is None else (f, name)


def _vk_record(buf: Any, live: _Live, p: int, source: str) -> DeletedValue | None:
    limit = len(buf) - BASE
    at = BASE + p + CELL_HEADER
    if p + CELL_HEADER + VK_FIXED_SIZE > limit:
        return None
    _sig, name_len, size, data, vtype, flags, _sp = VK.unpack_from(buf, at)
    if name_len > MAX_VALUE_NAME_BYTES or p + CELL_HEADER + VK_FIXED_SIZE + name_len > limit:
        return None
    if flags & ~_VK_KNOWN_FLAGS:
        return None
    length = size & ~DATA_INLINE
    if size & DATA_INLINE:
        if length > 4:
            return None
    elif length and (data & 7 or data == HCELL_NIL or data >= live.limit):
        return None
    raw_name = bytes(buf[at + VK_FIXED_SIZE : at + VK_FIXED_SIZE + name_len])
    name = _plausible_name(raw_name, bool(flags & 1))
    if name is None:
        return None
    raw, reliable = _value_data(buf, live, size, data)
    return DeletedValue(BASE + p, name, vtype, raw, reliable, source)


def _value_data(buf: Any, live: _Live, size: int, data: int) -> tuple[bytes | None, bool]:
    length = size & ~DATA_INLINE
    if size & DATA_INLINE:
        return data.to_bytes(4, "little")[:length], True
    if length == 0:
        return b"", True
    if length > MAX_VALUE_SIZE:
        return None, False
    big = length > BIG_DATA_SEGMENT and live.minor >= 4 and _stale_cap(live, data) >= _DB.size
    if big and cell_sig(buf, data) == DB_SIG:
        return _big_data(buf, live, data, length), False
    if data in live.used or _stale_cap(live, data) < length:
        return None, False  # reused by a live record, or too small to hold it
    return bytes(buf[BASE + data + CELL_HEADER : BASE + data + CELL_HEADER + length]), False


def _stale_cap(live: _Live, cell: int) -> int:
    """Capacity of a cell whether allocated or free (a freed cell keeps its size)."""
    if cell & 7 or cell + CELL_HEADER > live.limit:
        return -1
    (size,) = _I32.unpack_from(live.buf, BASE + cell)
    n = abs(size)
    return n - CELL_HEADER if 8 <= n <= live.limit - cell else -1


def _big_data(buf: Any, live: _Live, db: int, length: int) -> bytes | None:
    _sig, count, seglist = _DB.unpack_from(buf, BASE + db + CELL_HEADER)
    if db in live.used or count * BIG_DATA_SEGMENT < length:
        return None
    if _stale_cap(live, seglist) < 4 * count:
        return None
    parts, remaining = [], length
    for i in range(count):
        (seg,) = _U32.unpack_from(buf, BASE + seglist + CELL_HEADER + 4 * i)
        take = min(remaining, BIG_DATA_SEGMENT)
        if seg in live.used or _stale_cap(live, seg) < take:
            return None
        parts.append(bytes(buf[BASE + seg + CELL_HEADER : BASE + seg + CELL_HEADER + take]))
        remaining -= take
        if remaining <= 0:
            break
    return b"".join(parts)


# ---------------------------------------------------------------------------------------
# The scan
# ---------------------------------------------------------------------------------------


def scan_deleted(hive: Any) -> DeletedRecords:
    """Find deleted keys and values of an open :class:`~regf.Hive` (read-only).

    The hive's live tree is walked in forensic mode whatever its own mode, so damage
    elsewhere does not hide deleted records; the hive is not modified.
    """
    image = hive.image
    buf, limit = image.buf, image.hbins_size
    live = _Live(buf, limit, image.minor)
    _walk_live(hive, live)
    out = DeletedRecords()
    regions = _regions(hive, live, out)

    nks: dict[int, tuple[Any, str, str]] = {}
    vks: dict[int, DeletedValue] = {}
    for p, sig, source in _candidates(buf, regions):
        if p in live.nk_paths:
            continue
        if sig == "nk":
            rec = _nk_record(buf, p)
            if rec is not None:
                nks[p] = (rec[0], rec[1], source)
        else:
            v = _vk_record(buf, live, p, source)
            if v is not None:
                vks[p] = v

    for p, (f, name, source) in nks.items():
        path, complete = _path(p, name, f, nks, live)
        key = DeletedKey(
            offset=BASE + p,
            name=name,
            path=path,
            path_complete=complete,
            last_written=filetime(f[2]),
            last_written_raw=f[2],
            flags=KeyFlags(f[1]),
            parent_offset=BASE + f[6],
            source=source,
        )
        key.values = _listed_values(buf, live, f, vks)
        for v in key.values:
            v.owner = path
        out.keys.append(key)

    for vlist, count, path in live.value_lists:
        cap = _stale_cap(live, vlist)
        remnants = []
        for i in range(count, max(count, cap // 4)):
            (vk,) = _U32.unpack_from(buf, BASE + vlist + CELL_HEADER + 4 * i)
            v = vks.get(vk)
            if v is not None and v.owner is None:
                v.owner = path
                remnants.append(v)
        if remnants:
            out.remnant_values[path] = remnants
    out.values = [vks[p] for p in sorted(vks)]
    out.keys.sort(key=lambda k: k.offset)
    return out


def _walk_live(hive: Any, live: _Live) -> None:
    """Record every live key (and what it references), tolerating damage."""
    image = hive.image
    strict = image.strict
    image.strict = False  # forensic walk: skip damage, never raise on it
    saved = len(image.problems)
    try:
        for key in hive.walk(values=False):  # add_key reads each nk itself
            live.add_key(key.index, key.path)
    finally:
        image.strict = strict
        del image.problems[saved:]  # the scan reports deleted data, not damage


def _path(
    p: int, name: str, f: Any, nks: dict[int, tuple[Any, str, str]], live: _Live
) -> tuple[str, bool]:
    parts = [name]
    seen = {p}
    flags, parent = f[1], f[6]
    for _ in range(_MAX_PATH_DEPTH):
        if flags & KeyFlags.HIVE_ENTRY:
            return "\\".join(reversed(parts[:-1])), True  # a deleted root: no name in paths
        if parent in live.nk_paths:
            prefix = live.nk_paths[parent]
            tail = "\\".join(reversed(parts))
            return (prefix + "\\" + tail if prefix else tail), True
        up = nks.get(parent)
        if up is None or parent in seen:
            break
        seen.add(parent)
        parts.append(up[1])
        flags, parent = up[0][1], up[0][6]
    return "\\".join(reversed(parts)), False


def _listed_values(
    buf: Any, live: _Live, f: Any, vks: dict[int, DeletedValue]
) -> list[DeletedValue]:
    count, vlist = f[11], f[12]
    if f[1] & KeyFlags.PREDEF_HANDLE or not count or vlist == HCELL_NIL or vlist in live.used:
        return []
    if _stale_cap(live, vlist) < 4 * count:
        return []
    out = []
    for i in range(count):
        (vk,) = _U32.unpack_from(buf, BASE + vlist + CELL_HEADER + 4 * i)
        v = vks.get(vk)
        if v is not None:
            out.append(v)
    return out


__all__ = ["DeletedKey", "DeletedRecords", "DeletedValue", "scan_deleted"]
