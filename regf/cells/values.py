"""Values of a key edited in place in a hive image, through a :class:`CellAllocator`.

Pure functions over ``(alloc, nk)``: ``alloc`` is the :class:`~regf.cells.alloc.CellAllocator`
owning the whole-file image (cell index ``i`` lives at file offset ``4096 + i``) and ``nk``
is the cell index of a key node. Nothing is cached between calls; every function reads
the image and writes through ``alloc.write`` so the allocator's dirty-page tracking sees
every byte changed.

API contract (for the writer, :mod:`regf.model.edithive`)
=====================================================

``set_value(alloc, nk, name, vtype, raw, *, minor=None, timestamp=None) -> int``
    Create or replace value ``name`` (``""`` = default value) and return its vk index.
    ``minor`` is the hive's format minor (``None``: read from the base block at 0x18);
    ``timestamp`` the FILETIME to store as the key's last-written time (``None``: now).
    An existing value (case-insensitive, Windows upcase) keeps its vk cell, its stored
    name and its list position; only size, data and type change. Raises
    :class:`~regf.errors.InvalidArgumentError` for a bad name/type/data before touching
    the image.
``delete_value(alloc, nk, name, *, timestamp=None) -> bool``
    Remove value ``name``; ``False`` (and nothing written) when there is no such value.
``free_values(alloc, nk) -> None``
    Free every vk, its data and the value list; leave count 0 and list NIL (key deletion).
``value_cells(alloc, nk) -> list[int]``, ``find_value(alloc, nk, name) -> int | None``,
``read_value(alloc, vk, minor=None) -> ValueRecord``, ``iter_values(alloc, nk, minor=None)``
    Reading helpers: the vk indexes in list order, the vk of a name, and
    ``ValueRecord(name, type, raw, index)`` tuples.

Format rules followed (format.md)
=================================

* vk (fmt §4.3): name stored compressed (Latin-1, ``VALUE_COMP_NAME``) iff it is non-empty
  and every UTF-16 code unit is <= 0xFF; otherwise UTF-16LE with flags 0.
* Data (fmt §4.3, §4.6): ``len <= 4`` inline (size ``0x80000000 | len``, bytes at the low
  end of the data field, the rest zero) -- including ``len == 0``, which Windows writes as
  size ``0x80000000`` with data 0 (every zero-length value in the corpus's Windows hives
  is stored that way; a non-inline length 0 never appears). ``len > 16344`` in a hive of
  minor >= 4: big data -- a 16-byte ``db`` cell, a segment-list cell ``round8(4 + 4n)``
  and ``n`` segment cells each sized for a full 16344 bytes, even the last (fmt §4.6,
  §8.1), allocated in that order like offreg. Otherwise (any length in minor <= 3) one
  data cell of ``round8(4 + len)``.
* Replacing data (fmt §8.1, ReactOS realloc semantics): a data cell is reused when the
  new bytes fit its capacity; otherwise a new cell is allocated first and the old one
  freed. Big data replaced by big data keeps the db cell, reuses existing segments in
  order, frees surplus segments, allocates missing ones and reallocates the segment list.
  Going inline frees the old data cell or db structure; plain <-> db frees the old
  structure after allocating the new one. Slack after the data in a reused cell is zeroed
  (Windows leaves remnants there; zero is deterministic and leaks nothing).
* Value list (fmt §4.4): insertion order, new values appended. Growth as ReactOS's
  ``CmpAddValueToList``: the first value gets a 4-byte cell; afterwards the list is
  reallocated (kept when it still fits) to exactly ``4 * n`` bytes for ``n < 100``
  entries, else ``n`` rounded up to a multiple of 100 entries, and above 4096 bytes the
  byte size rounded up to 4096. Removal moves the later entries down and keeps the cell
  (Windows never shrinks); removing the last value frees the list and stores NIL.
* nk (fmt §5.2): MaxValueNameLen (UTF-16 bytes) and MaxValueDataLen (full data length)
  are high-water marks raised by every set, reset to 0 only when the last value goes;
  every set or delete stores ``timestamp`` as the key's last-written time.

Hot path: field access uses ``struct`` twins from :mod:`regf.format.fast` (derived from
the Construct declarations at import), never Construct; ``set_value`` runs once per value
in the 20,000 keys x 10 values write benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

from .._accel import upcase
from ..errors import CellError, InvalidArgumentError, SignatureError, StructureError
from ..format.constants import BASE, DATA_INLINE, HCELL_NIL, MAX_VALUE_NAME
from ..format.fast import (
    BASE_L,
    CELL_HEADER,
    CELL_L,
    DB,
    DB_L,
    I32,
    NK_L,
    U32,
    U64,
    VK,
    VK_L,
    cell_sig,
    u32_array,
)
from ..format.structs import BIG_DATA_SEGMENT, NK_FIXED_SIZE, VK_FIXED_SIZE
from .alloc import CREATED
from .nodes import decode_key_name


class CellAllocator(Protocol):
    """What these functions need of :mod:`regf.cells.alloc`'s allocators (Python or C)."""

    @property
    def image(self) -> bytearray:
        """The whole-file image; cell index ``i`` is at file offset ``4096 + i``."""

    @property
    def hbins_size(self) -> int:
        """Current hive-bins data size."""

    def alloc(self, payload_len: int) -> int:
        """Allocate a zeroed cell for ``payload_len`` bytes."""

    def free(self, index: int) -> None:
        """Free an allocated cell."""

    def realloc(self, index: int, payload_len: int) -> int:
        """Keep the cell if it fits, else allocate, copy, free."""

    def write(self, index: int, offset_in_data: int, data: bytes | bytearray) -> None:
        """Write into a cell's data and mark the pages dirty."""

    def capacity(self, index: int) -> int:
        """Data bytes of an allocated cell (checks the index)."""


# ---------------------------------------------------------------------------------------
# Field offsets (inside the cell data), from the layouts of the Construct declarations.
# ---------------------------------------------------------------------------------------

NK_LAST_WRITTEN = NK_L.offset("last_written")
NK_VALUE_COUNT = NK_L.offset("value_count")
NK_VALUE_LIST = NK_L.offset("value_list")
NK_SECURITY = NK_L.offset("security")
NK_MAX_VALUE_NAME = NK_L.offset("max_value_name_len")
NK_MAX_VALUE_DATA = NK_L.offset("max_value_data_len")
VK_DATA_SIZE = VK_L.offset("data_size")
VK_FLAGS = VK_L.offset("flags")

_U32 = U32
_Q = U64
_I32 = I32
#: vk name length and flags in one unpack (from the vk's start).
_VK_NAME = VK_L.pick("name_length", "flags")
#: Size field of the smallest vk cell (negative: allocated).
_MIN_VK_SIZE = -(CELL_L.size + VK_FIXED_SIZE)
#: vk data size, data, type: one read or write at ``VK_DATA_SIZE``.
_VK_DATA = VK_L.span("data_size", "type")
#: Base-block offset of the format minor version (fmt §1.1).
MINOR_OFFSET = BASE_L.offset("minor")
#: nk value count and list; max value name and data lengths (consecutive pairs).
_VCOUNT_LIST = NK_L.span("value_count", "value_list")
_VMAXIMA = NK_L.span("max_value_name_len", "max_value_data_len")
#: Payload of a ``db`` cell: signature, count, list, then 4 bytes of padding (fmt §4.6).
DB_PAYLOAD = DB_L.size + 4
BIG = BIG_DATA_SEGMENT  # 16344
#: Largest data length the 31-bit size field can describe.
MAX_DATA = 0x7FFFFFFF
_COMP_NAME = 0x0001

#: EPOCH as FILETIME, for ``timestamp=None``.
_EPOCH_FILETIME = 116444736000000000


class ValueRecord(NamedTuple):
    """One value read from the image."""

    name: str
    type: int
    raw: bytes
    cell: int
    """Cell index of the vk."""


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def _now() -> int:
    import time

    return _EPOCH_FILETIME + time.time_ns() // 100


def _timestamp(ts: int | None) -> int:
    if ts is None:
        return _now()
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < 1 << 64:
        raise InvalidArgumentError(f"timestamp must be a u64 FILETIME, not {ts!r}")
    return ts


def hive_minor(alloc: CellAllocator) -> int:
    """The format minor version recorded in the image's base block."""
    return int(_U32.unpack_from(alloc.image, MINOR_OFFSET)[0])


def _live(buf: bytearray, limit: int, idx: int, min_cap: int, what: str) -> int:
    """File offset of the data of cell ``idx`` after cheap sanity checks; its capacity
    must be at least ``min_cap``.

    Not the allocator's full check (that also finds the bin): the lookup path visits every
    vk of a key, so only range, alignment, allocation and size are tested -- enough to
    refuse garbage before it is trusted (signatures are checked by the callers).
    """
    if idx & 7 or idx + 8 > limit:
        raise CellError(f"{what} cell index {idx:#x} out of range or misaligned", None)
    (size,) = _I32.unpack_from(buf, BASE + idx)
    if size > -(CELL_HEADER + min_cap) or idx - size > limit:
        raise CellError(f"{what} cell {idx:#x} is free, too small or too long", BASE + idx)
    return BASE + idx + CELL_HEADER


def _check_nk(alloc: CellAllocator, nk: int) -> None:
    start = _live(alloc.image, alloc.hbins_size, nk, NK_FIXED_SIZE, "key")
    if alloc.image[start : start + 2] != b"nk":
        raise SignatureError(f"cell {nk:#x} is not an nk", start)


def _vk_start(alloc: CellAllocator, vk: int, limit: int | None = None) -> int:
    """File offset of the data of vk cell ``vk`` (cheap checks and the signature)."""
    buf = alloc.image
    start = _live(buf, alloc.hbins_size if limit is None else limit, vk, VK_FIXED_SIZE, "value")
    if buf[start : start + 2] != b"vk":
        raise SignatureError(f"cell {vk:#x} is not a vk", start)
    return start


def encode_value_name(name: str) -> tuple[bytes, int]:
    """Stored bytes and vk flags of a value name (fmt §4.3, §4.9).

    Compressed (Latin-1, flag ``VALUE_COMP_NAME``) when non-empty and every UTF-16 code
    unit is <= 0xFF; otherwise UTF-16LE and flags 0 (so the default value has flags 0).
    """
    if name and max(name) <= "\xff":
        return name.encode("latin-1"), _COMP_NAME
    return name.encode("utf-16-le", "surrogatepass"), 0


def _name_units(name: str) -> int:
    """UTF-16 code units of ``name`` (astral characters count 2)."""
    n = len(name)
    if name and max(name) > "\uffff":
        n += sum(1 for c in name if c > "\uffff")
    return n


def _decode_name(raw: bytes | bytearray, flags: int) -> str:
    return decode_key_name(raw, bool(flags & _COMP_NAME))


def vk_name(buf: Any, vk: int) -> str:
    """The stored name of vk cell ``vk`` (already checked: fmt §4.3)."""
    start = BASE + vk + CELL_HEADER
    name_len, flags = _VK_NAME.unpack_from(buf, start)
    raw = bytes(buf[start + VK_FIXED_SIZE : start + VK_FIXED_SIZE + name_len])
    return _decode_name(raw, flags)


#: Names of at most this many characters are within MAX_VALUE_NAME UTF-16 units.
_HALF_NAME = MAX_VALUE_NAME // 2


def _check_args(name: object, vtype: object, raw: object, minor: int) -> bytes:
    if (
        type(name) is str
        and len(name) <= _HALF_NAME
        and type(vtype) is int
        and 0 <= vtype <= 0xFFFFFFFF
        and type(raw) is bytes
        and len(raw) <= BIG
    ):
        # the common value (a short name, an int type, bytes that fit one cell) passes
        # every check below: decided at once, as this runs once per value written
        return raw
    if not isinstance(name, str):
        raise InvalidArgumentError(f"value name must be str, not {type(name).__name__}")
    if len(name) > _HALF_NAME and _name_units(name) > MAX_VALUE_NAME:
        raise InvalidArgumentError(f"value name longer than {MAX_VALUE_NAME} characters")
    if isinstance(vtype, bool) or not isinstance(vtype, int) or not 0 <= vtype <= 0xFFFFFFFF:
        raise InvalidArgumentError(f"value type must be a u32, not {vtype!r}")
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InvalidArgumentError(f"value data must be bytes, not {type(raw).__name__}")
    data = bytes(raw)
    n = len(data)
    if n > MAX_DATA:
        raise InvalidArgumentError(f"value data of {n} bytes is too large")
    if minor >= 4 and n > BIG and -(-n // BIG) > 0xFFFF:
        raise InvalidArgumentError(f"value data of {n} bytes needs more than 65535 segments")
    return data


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def _list(buf: bytearray, limit: int, nk: int) -> list[int]:
    count, vlist = _VCOUNT_LIST.unpack_from(buf, BASE + nk + CELL_HEADER + NK_VALUE_COUNT)
    if count == 0 or vlist == HCELL_NIL:
        return []
    start = _live(buf, limit, vlist, 4 * count, "value list")
    return list(u32_array(count).unpack_from(buf, start))


def value_cells(alloc: CellAllocator, nk: int) -> list[int]:
    """The vk cell indexes of key ``nk`` in list (insertion) order."""
    return _list(alloc.image, alloc.hbins_size, nk)


def _find(alloc: CellAllocator, nk: int, name: str) -> tuple[int, int, list[int]]:
    """``(position, vk, cells)`` of value ``name`` (position -1 and vk NIL when absent).

    upcase maps code unit to code unit, so equal names have equal UTF-16 lengths: lengths
    are compared before any name is read. For an ASCII name (the common case) the stored
    bytes are compared with ``bytes.upper`` -- exact, because Windows' table upper-cases
    ASCII like ``bytes.upper`` and maps no other code unit into ASCII, and a stored UTF-16
    name only matches when its high bytes are 0, which ``bytes.upper`` leaves alone.
    """
    buf = alloc.image
    limit = alloc.hbins_size
    cells = _list(buf, limit, nk)
    if not cells:
        return -1, HCELL_NIL, cells
    units = _name_units(name)
    unpack = _VK_NAME.unpack_from
    if name.isascii():
        up = name.upper()
        want8 = up.encode("ascii")
        want16 = up.encode("utf-16-le")
        unpack_size = _I32.unpack_from
        for pos, vk in enumerate(cells):
            # _vk_start's checks, inlined (this loop is the lookup of every set_value);
            # on failure _vk_start raises the precise error.
            if vk & 7 or vk + 8 > limit:
                _vk_start(alloc, vk, limit)
            (size,) = unpack_size(buf, BASE + vk)
            start = BASE + vk + CELL_HEADER
            if size > _MIN_VK_SIZE or vk - size > limit or buf[start : start + 2] != b"vk":
                _vk_start(alloc, vk, limit)
            name_len, flags = unpack(buf, start)
            at = start + VK_FIXED_SIZE
            if flags & _COMP_NAME:
                if name_len == units and buf[at : at + name_len].upper() == want8:
                    return pos, vk, cells
            elif name_len == 2 * units and buf[at : at + name_len].upper() == want16:
                return pos, vk, cells
        return -1, HCELL_NIL, cells
    want: str | None = None
    for pos, vk in enumerate(cells):
        start = _vk_start(alloc, vk, limit)
        name_len, flags = unpack(buf, start)
        if (name_len if flags & _COMP_NAME else name_len >> 1) != units:
            continue
        at = start + VK_FIXED_SIZE
        stored = _decode_name(buf[at : at + name_len], flags)
        if stored == name:
            return pos, vk, cells
        if want is None:
            want = upcase(name)
        if upcase(stored) == want:
            return pos, vk, cells
    return -1, HCELL_NIL, cells


def find_value(alloc: CellAllocator, nk: int, name: str) -> int | None:
    """The vk cell index of value ``name`` of key ``nk`` (case-insensitive), or None."""
    _pos, vk, _cells = _find(alloc, nk, name)
    return None if vk == HCELL_NIL else vk


def _is_db(alloc: CellAllocator, size: int, data: int, minor: int) -> bool:
    """Whether a non-inline value of ``size`` bytes at ``data`` is big data (fmt §4.3)."""
    if size <= BIG or minor < 4 or data == HCELL_NIL:
        return False
    alloc.capacity(data)
    # Some writers (hivex) store big values in one plain cell: trust the signature, as
    # the reader does.
    return cell_sig(alloc.image, data) == b"db"


def _db_parts(alloc: CellAllocator, db: int) -> tuple[int, list[int]]:
    """``(segment list cell, segment cells)`` of a db record, every cell checked."""
    if alloc.capacity(db) < DB.size:
        raise CellError(f"big data cell {db:#x} is too small", BASE + db)
    _sig, count, seg_list = DB.unpack_from(alloc.image, BASE + db + CELL_HEADER)
    if 4 * count > alloc.capacity(seg_list):
        raise StructureError(f"big data segment list {seg_list:#x} is too small", BASE + db)
    segs = list(u32_array(count).unpack_from(alloc.image, BASE + seg_list + CELL_HEADER))
    for s in segs:
        alloc.capacity(s)
    return seg_list, segs


def read_value(alloc: CellAllocator, vk: int, minor: int | None = None) -> ValueRecord:
    """Name, type and exact raw data of the vk cell ``vk``."""
    if minor is None:
        minor = hive_minor(alloc)
    buf = alloc.image
    start = _vk_start(alloc, vk)
    _sig, name_len, size, data, vtype, flags, _spare = VK.unpack_from(buf, start)
    name = _decode_name(buf[start + VK_FIXED_SIZE : start + VK_FIXED_SIZE + name_len], flags)
    if size & DATA_INLINE:
        n = min(size & ~DATA_INLINE, 4)
        raw = data.to_bytes(4, "little")[:n]
    elif size == 0:
        raw = b""
    elif _is_db(alloc, size, data, minor):
        _lst, segs = _db_parts(alloc, data)
        parts = []
        left = size
        for s in segs:
            take = min(left, BIG, alloc.capacity(s))
            parts.append(bytes(buf[BASE + s + CELL_HEADER : BASE + s + CELL_HEADER + take]))
            left -= take
            if left <= 0:
                break
        raw = b"".join(parts)
        if len(raw) != size:
            raise StructureError(f"big data of vk {vk:#x} holds {len(raw)} of {size}", start)
    else:
        if size > alloc.capacity(data):
            raise CellError(f"data cell of vk {vk:#x} is shorter than {size}", BASE + data)
        raw = bytes(buf[BASE + data + CELL_HEADER : BASE + data + CELL_HEADER + size])
    return ValueRecord(name, vtype, raw, vk)


def iter_values(alloc: CellAllocator, nk: int, minor: int | None = None) -> Iterator[ValueRecord]:
    """Every value of key ``nk`` in list order."""
    if minor is None:
        minor = hive_minor(alloc)
    for vk in value_cells(alloc, nk):
        yield read_value(alloc, vk, minor)


# ---------------------------------------------------------------------------------------
# Data storage
# ---------------------------------------------------------------------------------------


def _data_cells(alloc: CellAllocator, size: int, data: int, minor: int) -> list[int]:
    """Every cell holding the data of a vk (data size field, data field), checked."""
    if size & DATA_INLINE or size == 0 or data == HCELL_NIL:
        return []
    if _is_db(alloc, size, data, minor):
        seg_list, segs = _db_parts(alloc, data)
        return [data, seg_list, *segs]
    alloc.capacity(data)
    return [data]


def _write_plain(alloc: CellAllocator, cell: int, raw: bytes) -> None:
    """Write ``raw`` at the start of a reused cell and zero the slack after it."""
    cap = alloc.capacity(cell)
    alloc.write(cell, 0, raw + bytes(cap - len(raw)) if cap > len(raw) else raw)


def _new_db(alloc: CellAllocator, raw: bytes) -> int:
    """Store ``raw`` (> 16344 bytes) as big data; return the db cell (fmt §4.6)."""
    count = -(-len(raw) // BIG)
    db = alloc.alloc(DB_PAYLOAD)  # db, list, segments: offreg's order
    seg_list = alloc.alloc(4 * count)
    segs = []
    for i in range(count):
        seg = alloc.alloc(BIG)  # every segment sized for 16344 bytes, even the last
        alloc.write(seg, 0, raw[i * BIG : (i + 1) * BIG])
        segs.append(seg)
    alloc.write(seg_list, 0, u32_array(count).pack(*segs))
    alloc.write(db, 0, DB.pack(b"db", count, seg_list))
    return db


def _replace_db(alloc: CellAllocator, db: int, raw: bytes) -> None:
    """Rewrite big data in place: keep the db cell, reuse segments, resize the list."""
    seg_list, segs = _db_parts(alloc, db)
    count = -(-len(raw) // BIG)
    for seg in segs[count:]:
        alloc.free(seg)
    segs = segs[:count]
    seg_list = alloc.realloc(seg_list, 4 * count)
    for i in range(count):
        chunk = raw[i * BIG : (i + 1) * BIG]
        if i < len(segs):
            _write_plain(alloc, segs[i], chunk)
        else:
            seg = alloc.alloc(BIG)
            alloc.write(seg, 0, chunk)
            segs.append(seg)
    lst = u32_array(count).pack(*segs)
    _write_plain(alloc, seg_list, lst)
    alloc.write(db, 0, DB.pack(b"db", count, seg_list))


def _store_data(
    alloc: CellAllocator, raw: bytes, old_size: int, old_data: int, minor: int
) -> tuple[int, int]:
    """Store ``raw`` replacing the old data; return the vk's new (data size, data field).

    Validates the old structure before changing anything, allocates new cells before
    freeing old ones (realloc semantics, fmt §8.1).
    """
    n = len(raw)
    old_is_db = False
    old_cells: list[int] = []
    if not (old_size & DATA_INLINE or old_size == 0 or old_data == HCELL_NIL):
        old_is_db = _is_db(alloc, old_size, old_data, minor)
        old_cells = _data_cells(alloc, old_size, old_data, minor)
    if n <= 4:
        for c in old_cells:
            alloc.free(c)
        return DATA_INLINE | n, int.from_bytes(raw.ljust(4, b"\0"), "little")
    if n > BIG and minor >= 4:
        if old_is_db:
            _replace_db(alloc, old_data, raw)
            return n, old_data
        db = _new_db(alloc, raw)
        for c in old_cells:
            alloc.free(c)
        return n, db
    if old_cells and not old_is_db:
        cell = old_data
        if n <= alloc.capacity(cell):
            _write_plain(alloc, cell, raw)  # fits: the data cell is reused
            return n, cell
    cell = alloc.alloc(n)
    alloc.write(cell, 0, raw)
    for c in old_cells:
        alloc.free(c)
    return n, cell


# ---------------------------------------------------------------------------------------
# Value list
# ---------------------------------------------------------------------------------------


def value_list_bytes(count: int) -> int:
    """Payload bytes ReactOS's ``CmpAddValueToList`` asks for to hold ``count`` entries.

    Exact below 100 entries; from 100 on the entry count is rounded up to a multiple of
    100 and a byte size above 4096 is rounded up to a multiple of 4096 (fmt §4.4).
    """
    if count < 100:
        return 4 * count
    size = 4 * (-(-count // 100) * 100)
    if size > 4096:
        size = -(-size // 4096) * 4096
    return size


# ---------------------------------------------------------------------------------------
# Public operations
# ---------------------------------------------------------------------------------------


def set_value(
    alloc: CellAllocator,
    nk: int,
    name: str,
    vtype: int,
    raw: bytes | bytearray | memoryview,
    *,
    minor: int | None = None,
    timestamp: int | None = None,
) -> int:
    """Create or replace value ``name`` of key ``nk``; return the vk cell index.

    See the module docstring for the exact layout rules. The key's value count, value
    list, MaxValueNameLen/MaxValueDataLen (raised, never lowered) and last-written time
    (``timestamp``, default now) are updated. With the C allocator the common case runs
    in C (:meth:`regf.cells.alloc.CCellAllocator.set_value_fast`), byte for byte the same.
    """
    timestamp = _timestamp(timestamp)
    fast = getattr(alloc, "set_value_fast", None)
    if (
        fast is not None
        and type(name) is str
        and type(vtype) is int
        and type(raw) is bytes
        and 0 <= vtype <= 0xFFFFFFFF
        and len(raw) <= BIG
        and len(name) <= _FAST_NAME
    ):
        # The C twin (csrc/valcells.c regf_alloc_set_value) for what every bulk writer does:
        # short names, data that is never big data. It declines (-1) before changing
        # anything when a cell fails a check, so this function then raises as usual.
        vk: int = fast(nk, name, vtype, raw, timestamp)
        if vk >= 0:
            return vk - CREATED if vk >= CREATED else vk
    return _set_value_py(alloc, nk, name, vtype, raw, minor, timestamp)


#: Longest name (characters) offered to the C fast path (REGF_SV_MAX_UNITS code units).
_FAST_NAME = 255


def _set_value_py(
    alloc: CellAllocator,
    nk: int,
    name: str,
    vtype: int,
    raw: bytes | bytearray | memoryview,
    minor: int | None,
    timestamp: int,
) -> int:
    """:func:`set_value` in Python: the specification the C fast path must equal."""
    if minor is None:
        minor = hive_minor(alloc)
    data = _check_args(name, vtype, raw, minor)
    _check_nk(alloc, nk)
    buf = alloc.image
    _pos, vk, cells = _find(alloc, nk, name)
    n = len(data)
    if vk != HCELL_NIL:
        start = BASE + vk + CELL_HEADER
        old_size, old_data, _old_type = _VK_DATA.unpack_from(buf, start + VK_DATA_SIZE)
        size, field = _store_data(alloc, data, old_size, old_data, minor)
        alloc.write(vk, VK_DATA_SIZE, _VK_DATA.pack(size, field, vtype))
        count = len(cells)
        vlist = _U32.unpack_from(buf, BASE + nk + CELL_HEADER + NK_VALUE_LIST)[0]
    else:
        stored, flags = encode_value_name(name)
        vk = alloc.alloc(VK_FIXED_SIZE + len(stored))
        if n <= 4:  # inline: the common case, no data cell at all
            size, field = DATA_INLINE | n, int.from_bytes(data.ljust(4, b"\0"), "little")
        else:
            size, field = _store_data(alloc, data, DATA_INLINE, 0, minor)
        alloc.write(vk, 0, VK.pack(b"vk", len(stored), size, field, vtype, flags, 0) + stored)
        count = len(cells)
        if count == 0:
            # First value: a single 4-byte cell. A list index left beside a zero count is
            # not trusted (nothing says the cell is still ours).
            vlist = alloc.alloc(4)
        else:
            (vlist,) = _U32.unpack_from(buf, BASE + nk + CELL_HEADER + NK_VALUE_LIST)
            vlist = alloc.realloc(vlist, value_list_bytes(count + 1))
        alloc.write(vlist, 4 * count, _U32.pack(vk))
        count += 1
    # nk +0x04..+0x44 in one write: timestamp, count, list, and the maxima (high-water
    # marks in UTF-16 bytes / data bytes, fmt §5.2).
    at = BASE + nk + CELL_HEADER
    blob = bytearray(buf[at + NK_LAST_WRITTEN : at + NK_MAX_VALUE_DATA + 4])
    _Q.pack_into(blob, 0, timestamp)
    _VCOUNT_LIST.pack_into(blob, NK_VALUE_COUNT - NK_LAST_WRITTEN, count, vlist)
    max_name, max_data = _VMAXIMA.unpack_from(blob, NK_MAX_VALUE_NAME - NK_LAST_WRITTEN)
    name_bytes = 2 * _name_units(name)
    if max_name < name_bytes or max_data < n:
        _VMAXIMA.pack_into(
            blob, NK_MAX_VALUE_NAME - NK_LAST_WRITTEN, max(max_name, name_bytes), max(max_data, n)
        )
    alloc.write(nk, NK_LAST_WRITTEN, blob)
    return vk


def _free_vk(alloc: CellAllocator, vk: int, minor: int) -> None:
    start = _vk_start(alloc, vk)
    size, data, _t = _VK_DATA.unpack_from(alloc.image, start + VK_DATA_SIZE)
    cells = _data_cells(alloc, size, data, minor)  # validated before anything is freed
    for c in cells:
        alloc.free(c)
    alloc.free(vk)


def delete_value(alloc: CellAllocator, nk: int, name: str, *, timestamp: int | None = None) -> bool:
    """Delete value ``name`` of key ``nk``; return False (nothing written) if absent.

    The later entries move down one slot (order kept) and the list cell is kept; deleting
    the last value frees the list, stores NIL and resets MaxValueNameLen and
    MaxValueDataLen to 0 (fmt §4.4, §5.2). The key's last-written time is set.
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"value name must be str, not {type(name).__name__}")
    timestamp = _timestamp(timestamp)
    _check_nk(alloc, nk)
    pos, vk, cells = _find(alloc, nk, name)
    if vk == HCELL_NIL:
        return False
    minor = hive_minor(alloc)
    buf = alloc.image
    _free_vk(alloc, vk, minor)
    (vlist,) = _U32.unpack_from(buf, BASE + nk + CELL_HEADER + NK_VALUE_LIST)
    rest = cells[:pos] + cells[pos + 1 :]
    at = BASE + nk + CELL_HEADER
    # nk value count .. max value data rewritten in one write (count, list, maxima).
    mid = bytearray(buf[at + NK_VALUE_COUNT : at + NK_MAX_VALUE_DATA + 4])
    if rest:
        if pos < len(rest):  # memmove of the later entries down one slot
            alloc.write(vlist, 4 * pos, u32_array(len(rest) - pos).pack(*rest[pos:]))
        alloc.write(vlist, 4 * len(rest), bytes(4))
    else:
        alloc.free(vlist)
        vlist = HCELL_NIL
        _VMAXIMA.pack_into(mid, NK_MAX_VALUE_NAME - NK_VALUE_COUNT, 0, 0)
    _VCOUNT_LIST.pack_into(mid, 0, len(rest), vlist)
    alloc.write(nk, NK_LAST_WRITTEN, _Q.pack(timestamp))
    alloc.write(nk, NK_VALUE_COUNT, mid)
    return True


def free_values(alloc: CellAllocator, nk: int) -> None:
    """Free every value of ``nk`` (vk, data, db structures) and its value list.

    Leaves the nk with count 0 and list NIL; maxima and timestamp are not touched (the
    caller is deleting the key).
    """
    _check_nk(alloc, nk)
    minor = hive_minor(alloc)
    cells = value_cells(alloc, nk)
    for vk in cells:
        _free_vk(alloc, vk, minor)
    (vlist,) = _U32.unpack_from(alloc.image, BASE + nk + CELL_HEADER + NK_VALUE_LIST)
    if vlist != HCELL_NIL and cells:
        alloc.free(vlist)
    alloc.write(nk, NK_VALUE_COUNT, _VCOUNT_LIST.pack(0, HCELL_NIL))


__all__ = [
    "BIG",
    "CellAllocator",
    "DB_PAYLOAD",
    "NK_LAST_WRITTEN",
    "NK_MAX_VALUE_DATA",
    "NK_MAX_VALUE_NAME",
    "NK_SECURITY",
    "NK_VALUE_COUNT",
    "NK_VALUE_LIST",
    "ValueRecord",
    "delete_value",
    "encode_value_name",
    "find_value",
    "free_values",
    "hive_minor",
    "iter_values",
    "read_value",
    "set_value",
    "value_cells",
    "value_list_bytes",
]
