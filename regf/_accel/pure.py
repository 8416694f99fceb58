"""Pure-Python twin of the C accelerator: the executable specification.

Every function here has a C counterpart (``csrc/hash.c``, ``csrc/walk.c``) that must return the
same result for every input (``tests/test_accel_parity.py`` checks this with hypothesis).
Keep these functions simple and obviously right; speed is the C side's job.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from sys import byteorder
from typing import Any, NamedTuple

from ..errors import CellError, FormatError, SignatureError, StructureError, TruncatedError

# From the generated module (tools/gen_layout.py): the C API's codes and limits
# (csrc/regf_accel.h), exported from here (see __all__) under the names both backends
# and the reader use, and the layouts of regf/format/structs.py (the numbers
# csrc/layout.h gives C). _accel is leaf code and may not import regf.format; see the
# docstring of codes.py.
from .codes import (
    BASE_CHECKSUM,
    BIG_DATA_SEGMENT,
    CELL_FIXED_SIZE,
    CELL_SIZE,
    DATA_INLINE,
    DB_SEGMENT_COUNT,
    DB_SEGMENT_COUNT_BYTES,
    DB_SIG,
    FMT_I32,
    FMT_U16,
    FMT_U32,
    HBIN_FIXED_SIZE,
    HBIN_OFFSET,
    HBIN_SIG,
    HBIN_SIGNATURE_BYTES,
    HBIN_SIZE,
    HBINS_OFFSET,
    HCELL_NIL,
    K_CHILDREN_BAD,
    K_CYCLE,
    K_DEPTH,
    K_LEAF,
    K_VALUES_BAD,
    KEY_COMP_NAME,
    KEY_PREDEF_HANDLE,
    LEAF_E_LEAF_CELL,
    LEAF_E_LEAF_COUNT,
    LEAF_E_LEAF_SIG,
    LEAF_E_LIST_CELL,
    LEAF_E_LIST_COUNT,
    LEAF_E_LIST_SIG,
    LEAF_E_NESTED_RI,
    LEAF_E_NK_CELL,
    LEAF_E_TOO_MANY,
    LF_ELEM_FIXED_SIZE,
    LF_SIG,
    LH_ELEM_FIXED_SIZE,
    LH_SIG,
    LI_ELEM_SIZE,
    LI_SIG,
    LIST_COUNT,
    LIST_FIXED_SIZE,
    LIST_SIGNATURE_BYTES,
    MAX_HBINS_SIZE,
    NK_FIXED_SIZE,
    NK_FLAGS,
    NK_NAME_LENGTH,
    NK_SIG,
    NK_SUBKEY_COUNT,
    NK_SUBKEY_LIST,
    NK_VALUE_COUNT,
    NK_VALUE_LIST,
    PAGE,
    RI_ELEM_SIZE,
    RI_SIG,
    SCAN_BAD_BIN,
    SCAN_BAD_CELL,
    SCAN_TOO_BIG,
    V_SLOW,
    VALUE_COMP_NAME,
    VALUE_LIST_ELEM_SIZE,
    VK_DATA,
    VK_DATA_BYTES,
    VK_DATA_SIZE,
    VK_FIXED_SIZE,
    VK_FLAGS,
    VK_NAME_LENGTH,
    VK_SIG,
    VK_TYPE,
    VOLATILE_BIT,
    WALK_CAP_MAX,
    WALK_DATA_MAX,
    WALK_DONE,
    WALK_E_ARGS,
    WALK_E_START,
    WALK_FRAME_WORDS,
    WALK_HEAD_WORDS,
    WALK_LEVEL,
    WALK_MAX_FRAMES,
    WALK_MIN_NAMES,
    WALK_RUNNING,
    WALK_START,
    WALK_STATE_WORDS,
    WALK_STRICT,
    WALK_VALUES,
)
from .upcase_table import UPCASE

#: Marvin32 seed Windows uses for HvLE log-entry hashes (format.md section 7).
REGISTRY_SEED = 0x82EF4D887A4E55C5

_M32 = 0xFFFFFFFF
_U16 = struct.Struct(FMT_U16)
_U32 = struct.Struct(FMT_U32)
_I32 = struct.Struct(FMT_I32)

# str.translate table: BMP code points only. Astral characters are two surrogate code
# units on disk, and Windows upper-cases per code unit, leaving surrogates unchanged, so
# leaving astral code points alone is exactly right.
_TRANSLATE = {src: dst for src, dst in UPCASE.items()}


def checksum(base_block: bytes | bytearray | memoryview) -> int:
    """XOR-32 of the first 508 bytes of a base block, with Windows' 0 / -1 rules.

    A stored checksum can never be 0 or 0xFFFFFFFF: Windows maps -1 to -2 and 0 to 1.
    """
    if len(base_block) < BASE_CHECKSUM:
        raise ValueError(f"base block shorter than {BASE_CHECKSUM} bytes")
    c = 0
    # Every dword before the checksum field itself (fmt §1).
    for (w,) in _U32.iter_unpack(bytes(base_block[:BASE_CHECKSUM])):
        c ^= w
    if c == 0xFFFFFFFF:
        return 0xFFFFFFFE
    if c == 0:
        return 1
    return c


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def marvin32(data: bytes | bytearray | memoryview, seed: int = REGISTRY_SEED) -> int:
    """Marvin32 (SymCrypt) of ``data`` with a 64-bit ``seed``; returns the u64 result."""
    s0 = seed & _M32
    s1 = (seed >> 32) & _M32
    buf = bytes(data)
    n = len(buf) & ~3

    def mix(s0: int, s1: int) -> tuple[int, int]:
        s1 ^= s0
        s0 = _rotl(s0, 20)
        s0 = (s0 + s1) & _M32
        s1 = _rotl(s1, 9)
        s1 ^= s0
        s0 = _rotl(s0, 27)
        s0 = (s0 + s1) & _M32
        s1 = _rotl(s1, 19)
        return s0, s1

    for (w,) in _U32.iter_unpack(buf[:n]):
        s0 = (s0 + w) & _M32
        s0, s1 = mix(s0, s1)
    rest = buf[n:]
    # Tail: the remaining 0-3 bytes, then a 0x80 terminator byte, as one LE word.
    t = int.from_bytes(rest + b"\x80", "little")
    s0 = (s0 + t) & _M32
    s0, s1 = mix(s0, s1)
    s0, s1 = mix(s0, s1)
    return (s1 << 32) | s0


def upcase(name: str) -> str:
    """Upper-case ``name`` per UTF-16 code unit with Windows' table (not ``str.upper``)."""
    return name.translate(_TRANSLATE)


def _units(name: str) -> array[int]:
    a = array("H", name.encode("utf-16-le", "surrogatepass"))
    if byteorder == "big":  # pragma: no cover - no big-endian CI machine
        a.byteswap()
    return a


def name_hash(name: str) -> int:
    """The ``lh`` leaf hash: ``h = h*37 + upcase(unit)`` over UTF-16 code units, mod 2^32."""
    h = 0
    for u in _units(upcase(name)):
        h = (h * 37 + u) & _M32
    return h


def sort_key(name: str) -> bytes:
    """A bytes key that orders names as Windows orders subkeys.

    Windows compares upper-cased names per unsigned 16-bit code unit, shorter first when
    one is a prefix of the other. Big-endian UTF-16 bytes compare exactly that way
    (Python's own ``str`` order would put astral characters above U+E000..U+FFFF).
    """
    return upcase(name).encode("utf-16-be", "surrogatepass")


# ---- cell walking (C twins: regf_scan_cells / regf_leaf_cells in csrc/walk.c) ----
#
# The ``_*_code`` functions mirror the C functions exactly, error codes included; the public
# wrappers (shared with the C backend) turn a negative code into a FormatError subclass.

#: Where hive-bins data starts in the file; errors carry absolute file offsets.
HBINS_FILE_OFFSET = HBINS_OFFSET

_Buffer = bytes | bytearray | memoryview


def check_hbins_args(bins: _Buffer, hbins_size: int) -> None:
    """Argument checks shared by both backends (the C code trusts ``hbins_size``)."""
    if hbins_size < 0:
        raise ValueError("hbins_size must be >= 0")
    if hbins_size > len(bins):
        raise TruncatedError(
            f"hive-bins data is {len(bins):#x} bytes, header claims {hbins_size:#x}",
            HBINS_FILE_OFFSET + len(bins),
        )


def scan_error(code: int) -> FormatError:
    """The exception for a negative :func:`scan_cells` code (see ``regf_accel.h``)."""
    kind = -code & 7
    rel = -code & ~7
    if kind == SCAN_BAD_BIN:
        return FormatError(f"bad hbin header at hive-bins offset {rel:#x}", HBINS_FILE_OFFSET + rel)
    if kind == SCAN_BAD_CELL:
        return CellError(f"bad cell size at hive-bins offset {rel:#x}", HBINS_FILE_OFFSET + rel)
    if kind == SCAN_TOO_BIG:
        return FormatError(f"hive-bins size exceeds {MAX_HBINS_SIZE:#x}", HBINS_FILE_OFFSET)
    return FormatError(f"cell scan failed with code {code}", None)  # pragma: no cover


_LEAF_ERRORS: dict[int, tuple[type[FormatError], str]] = {
    LEAF_E_LIST_CELL: (CellError, "subkey list cell is invalid or free"),
    LEAF_E_LIST_SIG: (SignatureError, "subkey list signature is not li/lf/lh/ri"),
    LEAF_E_LIST_COUNT: (CellError, "subkey list count does not fit in its cell"),
    LEAF_E_NESTED_RI: (StructureError, "index root points to another index root"),
    LEAF_E_LEAF_CELL: (CellError, "index root element is not a valid cell"),
    LEAF_E_LEAF_SIG: (SignatureError, "index root element is not an li/lf/lh leaf"),
    LEAF_E_LEAF_COUNT: (CellError, "leaf count does not fit in its cell"),
    LEAF_E_NK_CELL: (CellError, "subkey list entry is not a valid cell"),
    LEAF_E_TOO_MANY: (StructureError, "subkey list has more entries than the hive has cells"),
}


def leaf_error(code: int, list_cell: int) -> FormatError:
    """The exception for a negative :func:`leaf_cells` code, placed at the list cell."""
    cls, msg = _LEAF_ERRORS.get(code, (FormatError, f"subkey list decode failed ({code})"))
    where = HBINS_FILE_OFFSET + list_cell if list_cell < MAX_HBINS_SIZE else None
    return cls(f"{msg} (list cell {list_cell:#x})", where)


def _scan_cells_code(bins: _Buffer, hbins_size: int, bitmap: bytearray) -> int:
    total = hbins_size
    if total > MAX_HBINS_SIZE:
        return -SCAN_TOO_BIG
    off = 0
    while off < total:
        if (
            total - off < HBIN_FIXED_SIZE
            or bytes(bins[off : off + HBIN_SIGNATURE_BYTES]) != HBIN_SIG
            or _U32.unpack_from(bins, off + HBIN_OFFSET)[0] != off
        ):
            return -(off + SCAN_BAD_BIN)
        (bin_size,) = _U32.unpack_from(bins, off + HBIN_SIZE)
        if bin_size == 0 or bin_size % PAGE or bin_size > total - off:
            return -(off + SCAN_BAD_BIN)
        end = off + bin_size
        c = off + HBIN_FIXED_SIZE
        while c < end:
            (size,) = _I32.unpack_from(bins, c + CELL_SIZE)
            asize = abs(size)
            if asize == 0 or asize % 8 or asize > end - c:
                return -(c + SCAN_BAD_CELL)
            if size < 0:
                unit = c >> 3
                bitmap[unit >> 3] |= 1 << (unit & 7)
            c += asize
        off = end
    return 0


def scan_cells(bins: _Buffer, hbins_size: int) -> bytearray:
    """Bitmap of allocated cell starts: bit ``i // 8`` (LSB-first) for cell index ``i``.

    Walks every hbin header from offset 0 and every cell in each bin; raises a
    :class:`FormatError` (``CellError`` for a bad cell size) at the first problem.
    """
    check_hbins_args(bins, hbins_size)
    bitmap = bytearray((min(hbins_size, MAX_HBINS_SIZE) + 63) // 64)
    code = _scan_cells_code(bins, hbins_size, bitmap)
    if code < 0:
        raise scan_error(code)
    return bitmap


def _cell_data_len(bins: _Buffer, total: int, idx: int) -> int:
    """Data length of a valid allocated cell, or -1 (mirrors ``cell_ok`` in C)."""
    if idx & VOLATILE_BIT or idx & 7 or idx + CELL_FIXED_SIZE > total:
        return -1
    size: int = _I32.unpack_from(bins, idx + CELL_SIZE)[0]
    if size >= 0 or -size < CELL_FIXED_SIZE or -size > total - idx:
        return -1
    return -size - CELL_FIXED_SIZE


#: Element size of each subkey list kind, by signature (fmt §4.2).
_LIST_ELEM = {
    LI_SIG: LI_ELEM_SIZE,
    LF_SIG: LF_ELEM_FIXED_SIZE,
    LH_SIG: LH_ELEM_FIXED_SIZE,
    RI_SIG: RI_ELEM_SIZE,
}


def _emit_leaf(bins: _Buffer, total: int, d: int, es: int, out: list[int]) -> int:
    limit = min(total // 8, 0x7FFFFFFF)
    (n,) = _U16.unpack_from(bins, d + LIST_COUNT)
    for i in range(n):
        (nk,) = _U32.unpack_from(bins, d + LIST_FIXED_SIZE + i * es)
        if _cell_data_len(bins, total, nk) < 0:
            return LEAF_E_NK_CELL
        if len(out) >= limit:
            return LEAF_E_TOO_MANY
        out.append(nk)
    return 0


def _leaf_cells_code(bins: _Buffer, hbins_size: int, list_cell: int, out: list[int]) -> int:
    total = hbins_size
    dl = _cell_data_len(bins, total, list_cell)
    if dl < LIST_FIXED_SIZE:
        return LEAF_E_LIST_CELL
    d = list_cell + CELL_FIXED_SIZE
    sig = bytes(bins[d : d + LIST_SIGNATURE_BYTES])
    es = _LIST_ELEM.get(sig)
    if es is None:
        return LEAF_E_LIST_SIG
    (n,) = _U16.unpack_from(bins, d + LIST_COUNT)
    if LIST_FIXED_SIZE + n * es > dl:
        return LEAF_E_LIST_COUNT
    if sig != RI_SIG:
        return _emit_leaf(bins, total, d, es, out)
    for i in range(n):
        (leaf,) = _U32.unpack_from(bins, d + LIST_FIXED_SIZE + i * RI_ELEM_SIZE)
        ldl = _cell_data_len(bins, total, leaf)
        if ldl < LIST_FIXED_SIZE:
            return LEAF_E_LEAF_CELL
        ld = leaf + CELL_FIXED_SIZE
        sig = bytes(bins[ld : ld + LIST_SIGNATURE_BYTES])
        if sig == RI_SIG:
            return LEAF_E_NESTED_RI
        les = _LIST_ELEM.get(sig)
        if les is None:
            return LEAF_E_LEAF_SIG
        (ln,) = _U16.unpack_from(bins, ld + LIST_COUNT)
        if LIST_FIXED_SIZE + ln * les > ldl:
            return LEAF_E_LEAF_COUNT
        rc = _emit_leaf(bins, total, ld, les, out)
        if rc < 0:
            return rc
    return 0


def check_list_cell(list_cell: int) -> None:
    """Argument check shared by both backends."""
    if not 0 <= list_cell <= 0xFFFFFFFF:
        raise ValueError(f"cell index out of u32 range: {list_cell}")


def leaf_cells(bins: _Buffer, hbins_size: int, list_cell: int) -> list[int]:
    """The nk cell indexes listed by the subkey list at ``list_cell`` (li/lf/lh, or ri).

    Every cell index is bounds-checked; a nested ri, a bad signature or count, or an
    invalid cell raises a :class:`FormatError` subclass placed at the list cell.
    """
    check_hbins_args(bins, hbins_size)
    check_list_cell(list_cell)
    out: list[int] = []
    code = _leaf_cells_code(bins, hbins_size, list_cell, out)
    if code < 0:
        raise leaf_error(code, list_cell)
    return out


# ---- recovery (C twin: regf_bin_chain_end) -----------------------------------------


def bin_chain_end(bins: _Buffer, hbins_size: int, start: int = 0) -> int:
    """Offset of the first insane hbin header in the chain from ``start`` (fmt §2).

    Sane: 32 bytes available, signature ``hbin``, offset field equal to its position,
    size a positive multiple of 4096 that stays inside ``hbins_size``. Returns
    ``hbins_size`` when every bin from ``start`` on is sane. Cells are not examined.
    """
    check_hbins_args(bins, hbins_size)
    if start < 0 or start % PAGE:
        raise ValueError(f"start must be a non-negative multiple of {PAGE}")
    off = start
    while off < hbins_size:
        if (
            hbins_size - off < HBIN_FIXED_SIZE
            or bytes(bins[off : off + HBIN_SIGNATURE_BYTES]) != HBIN_SIG
        ):
            return off
        (field,) = _U32.unpack_from(bins, off + HBIN_OFFSET)
        (size,) = _U32.unpack_from(bins, off + HBIN_SIZE)
        if field != off or size < PAGE or size % PAGE or size > hbins_size - off:
            return off
        off += size
    return hbins_size


# ---- tree walk (C twin: regf_walk; see csrc/regf_accel.h for the contract) ----------
#
# The walker emits key and value records for the reader in resumable chunks. Its state
# lives in a caller-owned buffer of WALK_STATE_WORDS u32 (native order) so both backends
# can be compared word for word. Records come as parallel lists (structure of arrays);
# names as UTF-16LE (each name plus one U+0000 unit), raw data as one byte string cut
# apart by a struct format. Every check mirrors the C code line for line.

_MAX_LIST_ENTRIES = 1 << 20
#: Every cell record's signature (nk, vk, li, ...) is this long.
_SIG_BYTES = LIST_SIGNATURE_BYTES


class WalkCaps(NamedTuple):
    """Output capacities of one walk call (C: the ``*_cap`` fields of regf_walk_out)."""

    keys: int = 4096
    vals: int = 8192
    knames: int = 1 << 18
    vnames: int = 1 << 18
    data: int = 1 << 20
    fmt: int = 6 * 8192


class WalkChunk(NamedTuple):
    """What one walk call emitted (C: regf_walk_out after the call)."""

    rc: int
    key_cell: list[int]
    key_depth: list[int]
    key_status: list[int]
    key_nvals: list[int]
    val_cell: list[int]
    val_type: list[int]
    val_status: list[int]
    knames: bytes
    vnames: bytes
    data: bytes
    fmt: bytes
    name_nul: int


DEFAULT_CAPS = WalkCaps()


def new_walk_state() -> bytearray:
    """A zeroed walk state buffer (WALK_STATE_WORDS native u32)."""
    return bytearray(4 * WALK_STATE_WORDS)


def _name_bytes(length: int, compressed: bool) -> int:
    return 2 * length if compressed else length & ~1


class _Walker:
    """One call's output buffers and the checks shared by every step (mirrors C)."""

    def __init__(
        self,
        bins: _Buffer,
        total: int,
        cellmap: _Buffer,
        visited: bytearray,
        flags: int,
        minor: int,
        max_depth: int,
        caps: WalkCaps,
    ) -> None:
        self.bins = bins
        self.total = total
        self.cellmap = cellmap
        self.visited = visited
        self.flags = flags
        self.minor = minor
        self.max_depth = max_depth
        self.base_depth = 0
        self.list_limit = min(total // 8, _MAX_LIST_ENTRIES)
        self.caps = caps
        self.key_cell: list[int] = []
        self.key_depth: list[int] = []
        self.key_status: list[int] = []
        self.key_nvals: list[int] = []
        self.val_cell: list[int] = []
        self.val_type: list[int] = []
        self.val_status: list[int] = []
        self.knames = bytearray()
        self.vnames = bytearray()
        self.data = bytearray()
        self.fmt = bytearray()
        self.name_nul = 0

    def chunk(self, rc: int) -> WalkChunk:
        return WalkChunk(
            rc,
            self.key_cell,
            self.key_depth,
            self.key_status,
            self.key_nvals,
            self.val_cell,
            self.val_type,
            self.val_status,
            bytes(self.knames),
            bytes(self.vnames),
            bytes(self.data),
            bytes(self.fmt),
            self.name_nul,
        )

    def cell(self, c: int, need: int) -> int:
        """Data capacity of a checked cell (HiveImage.cell rules), or -1."""
        if c & (VOLATILE_BIT | 7) or c + CELL_FIXED_SIZE > self.total:
            return -1
        q = c >> 3
        if (q >> 3) >= len(self.cellmap) or not (self.cellmap[q >> 3] >> (q & 7)) & 1:
            return -1
        size = int(_I32.unpack_from(self.bins, c + CELL_SIZE)[0])
        if (
            size >= 0
            or -size < CELL_FIXED_SIZE
            or -size > self.total - c
            or -size - CELL_FIXED_SIZE < need
        ):
            return -1
        return -size - CELL_FIXED_SIZE

    def u16(self, off: int) -> int:
        return int(_U16.unpack_from(self.bins, off)[0])

    def u32(self, off: int) -> int:
        return int(_U32.unpack_from(self.bins, off)[0])

    def sig(self, off: int) -> bytes:
        return bytes(self.bins[off : off + _SIG_BYTES])

    def nk(self, c: int) -> int:
        """Data offset of a sound nk at cell ``c``, or -1."""
        cap = self.cell(c, NK_FIXED_SIZE)
        k = c + CELL_FIXED_SIZE
        if cap < 0 or self.sig(k) != NK_SIG:
            return -1
        if NK_FIXED_SIZE + self.u16(k + NK_NAME_LENGTH) > cap:
            return -1
        return k

    def put_name(self, dst: bytearray, off: int, length: int, compressed: bool) -> None:
        raw = bytes(self.bins[off : off + length])
        units = raw.decode("latin-1").encode("utf-16-le") if compressed else raw[: length & ~1]
        if any(units[i] == 0 and units[i + 1] == 0 for i in range(0, len(units), 2)):
            self.name_nul = 1
        dst += units + b"\0\0"

    def emit_value(self, vc: int) -> int:
        cap = self.cell(vc, VK_FIXED_SIZE)
        v = vc + CELL_FIXED_SIZE
        if cap < 0 or self.sig(v) != VK_SIG:
            return 0
        nl = self.u16(v + VK_NAME_LENGTH)
        if VK_FIXED_SIZE + nl > cap:
            return 0
        ds, data = self.u32(v + VK_DATA_SIZE), self.u32(v + VK_DATA)
        length = ds & ~DATA_INLINE
        src, copy, status = -1, 0, 0
        if ds & DATA_INLINE:
            # Inline: the bytes are the data field itself, at most 4 (fmt §4.3).
            src, copy = v + VK_DATA, min(length, VK_DATA_BYTES)
        elif length:
            status = V_SLOW
            if length <= WALK_DATA_MAX:
                literal = True
                if length > BIG_DATA_SEGMENT and self.minor >= 4:
                    # db records are assembled by the Python side; other cells are read
                    # literally when large enough (hivex writes such cells).
                    db_head = DB_SEGMENT_COUNT + DB_SEGMENT_COUNT_BYTES
                    literal = (
                        self.cell(data, db_head) >= 0 and self.sig(data + CELL_FIXED_SIZE) != DB_SIG
                    )
                if literal and self.cell(data, length) >= 0:
                    src, copy, status = data + CELL_FIXED_SIZE, length, 0
        compressed = bool(self.u16(v + VK_FLAGS) & VALUE_COMP_NAME)
        nb = _name_bytes(nl, compressed)
        caps = self.caps
        if (
            len(self.val_cell) >= caps.vals
            or caps.vnames - len(self.vnames) < nb + 2
            or caps.data - len(self.data) < copy
            or caps.fmt - len(self.fmt) < 6
        ):
            return -1
        self.put_name(self.vnames, v + VK_FIXED_SIZE, nl, compressed)
        if copy:
            self.data += self.bins[src : src + copy]
        self.fmt += b"%ds" % copy
        self.val_cell.append(vc)
        self.val_type.append(self.u32(v + VK_TYPE))
        self.val_status.append(status)
        return 1

    def emit_values(self, k: int) -> int:
        # A predefined-handle key's value count is not a count (fmt §4.1).
        predef = self.u16(k + NK_FLAGS) & KEY_PREDEF_HANDLE
        count = 0 if predef else self.u32(k + NK_VALUE_COUNT)
        lst = self.u32(k + NK_VALUE_LIST)
        if count == 0 or lst == HCELL_NIL:
            return 1
        cap = self.cell(lst, 0)
        if cap < 0 or VALUE_LIST_ELEM_SIZE * count > cap:
            return 0
        if count > self.caps.vals - len(self.val_cell):
            return -1
        at = lst + CELL_FIXED_SIZE
        for i in range(count):
            rc = self.emit_value(self.u32(at + VALUE_LIST_ELEM_SIZE * i))
            if rc <= 0:
                return rc
        return 1

    def name_key(self, k: int) -> list[int]:
        """Upcased code units of an nk's name (for the duplicate check)."""
        compressed = self.u16(k + NK_FLAGS) & KEY_COMP_NAME
        length = self.u16(k + NK_NAME_LENGTH)
        raw = bytes(self.bins[k + NK_FIXED_SIZE : k + NK_FIXED_SIZE + length])
        units = list(raw) if compressed else [u for (u,) in _U16.iter_unpack(raw[: length & ~1])]
        return [UPCASE.get(u, u) for u in units]

    def leaf_shape(self, off: int, cap: int) -> tuple[int, int] | None:
        """(count, element size) of a sound li/lf/lh at data offset ``off``."""
        sig = self.sig(off)
        es = _LIST_ELEM.get(sig)
        if es is None or sig == RI_SIG:
            return None
        n = self.u16(off + LIST_COUNT)
        return (n, es) if LIST_FIXED_SIZE + n * es <= cap else None

    def children_ok(self, lst: int) -> bool:
        cap = self.cell(lst, LIST_FIXED_SIZE)
        if cap < 0:
            return False
        lo = lst + CELL_FIXED_SIZE
        is_ri = self.sig(lo) == RI_SIG
        if is_ri:
            outer = self.u16(lo + LIST_COUNT)
            if LIST_FIXED_SIZE + RI_ELEM_SIZE * outer > cap:
                return False
        else:
            outer = 1
        total = 0
        prev: list[int] | None = None
        strict = self.flags & WALK_STRICT
        for j in range(outer):
            if is_ri:
                leaf = self.u32(lo + LIST_FIXED_SIZE + RI_ELEM_SIZE * j)
                lcap = self.cell(leaf, LIST_FIXED_SIZE)
                if lcap < 0:
                    return False
                loff = leaf + CELL_FIXED_SIZE
            else:
                loff, lcap = lo, cap
            shape = self.leaf_shape(loff, lcap)
            if shape is None:
                return False
            n, es = shape
            total += n
            if total > self.list_limit:
                return False
            for i in range(n):
                k = self.nk(self.u32(loff + LIST_FIXED_SIZE + i * es))
                if k < 0:
                    return False
                if strict:
                    cur = self.name_key(k)
                    if prev is not None and cur == prev:
                        return False
                    prev = cur
        return True

    def visit(self, c: int, depth: int) -> tuple[int, bool]:
        """(1 emitted / 0 no room / 2 emitted and end the chunk / 3 not an nk: skip,
        push a frame?)."""
        k = self.nk(c)
        if k < 0:
            return 3, False
        comp = bool(self.u16(k + NK_FLAGS) & KEY_COMP_NAME)
        nl = self.u16(k + NK_NAME_LENGTH)
        if (
            len(self.key_cell) >= self.caps.keys
            or self.caps.knames - len(self.knames) < _name_bytes(nl, comp) + 2
        ):
            return 0, False
        save = (len(self.knames), len(self.vnames), len(self.data), len(self.fmt))
        nvals = len(self.val_cell)
        self.put_name(self.knames, k + NK_FIXED_SIZE, nl, comp)
        status = 0
        push = False
        q = c >> 3
        if (self.visited[q >> 3] >> (q & 7)) & 1:
            status = K_CYCLE
        else:
            if self.flags & WALK_VALUES and not (
                self.flags & WALK_LEVEL and depth == self.base_depth
            ):
                rc = self.emit_values(k)
                if rc < 0 and self.key_cell:
                    # No room: end the chunk; this key starts the next one.
                    self._truncate(save, nvals, keep_key_name=False)
                    return 0, False
                if rc <= 0:
                    # Bad, or more than an empty chunk holds: the caller decodes them.
                    self._truncate(save, nvals, keep_key_name=True)
                    status |= K_VALUES_BAD
            self.visited[q >> 3] |= 1 << (q & 7)
            if depth >= self.max_depth:
                status |= K_DEPTH
                if self.flags & WALK_LEVEL and (
                    self.u32(k + NK_SUBKEY_COUNT) == 0 or self.u32(k + NK_SUBKEY_LIST) == HCELL_NIL
                ):
                    status |= K_LEAF
            elif self.u32(k + NK_SUBKEY_COUNT) != 0 and self.u32(k + NK_SUBKEY_LIST) != HCELL_NIL:
                if self.children_ok(self.u32(k + NK_SUBKEY_LIST)):
                    push = True
                else:
                    status |= K_CHILDREN_BAD
        self.key_cell.append(c)
        self.key_depth.append(depth)
        self.key_status.append(status)
        self.key_nvals.append(len(self.val_cell) - nvals)
        return (2 if status & K_CHILDREN_BAD else 1), push

    def _truncate(self, save: tuple[int, int, int, int], nvals: int, keep_key_name: bool) -> None:
        if not keep_key_name:
            del self.knames[save[0] :]
        del self.vnames[save[1] :]
        del self.data[save[2] :]
        del self.fmt[save[3] :]
        del self.val_cell[nvals:]
        del self.val_type[nvals:]
        del self.val_status[nvals:]

    def frame_peek(self, f: list[int]) -> int | None:
        cap = self.cell(f[0], LIST_FIXED_SIZE)
        if cap < 0:
            return None
        lo = f[0] + CELL_FIXED_SIZE
        outer, inner = f[1], f[2]
        if self.sig(lo) != RI_SIG:
            shape = self.leaf_shape(lo, cap)
            if shape is None or inner >= shape[0]:
                return None
            return self.u32(lo + LIST_FIXED_SIZE + inner * shape[1])
        while (
            outer < self.u16(lo + LIST_COUNT)
            and LIST_FIXED_SIZE + RI_ELEM_SIZE * (outer + 1) <= cap
        ):
            leaf = self.u32(lo + LIST_FIXED_SIZE + RI_ELEM_SIZE * outer)
            lcap = self.cell(leaf, LIST_FIXED_SIZE)
            ld = leaf + CELL_FIXED_SIZE
            shape = self.leaf_shape(ld, lcap) if lcap >= 0 else None
            if shape is None:
                return None
            if inner < shape[0]:
                return self.u32(ld + LIST_FIXED_SIZE + inner * shape[1])
            outer += 1
            inner = 0
        return None

    def frame_next(self, f: list[int]) -> None:
        cap = self.cell(f[0], LIST_FIXED_SIZE)
        lo = f[0] + CELL_FIXED_SIZE
        if cap < 0 or self.sig(lo) != RI_SIG:
            f[2] = (f[2] + 1) & 0xFFFFFFFF  # a u32 state word, as in C
            return
        while (
            f[1] < self.u16(lo + LIST_COUNT) and LIST_FIXED_SIZE + RI_ELEM_SIZE * (f[1] + 1) <= cap
        ):
            leaf = self.u32(lo + LIST_FIXED_SIZE + RI_ELEM_SIZE * f[1])
            lcap = self.cell(leaf, LIST_FIXED_SIZE)
            shape = self.leaf_shape(leaf + CELL_FIXED_SIZE, lcap) if lcap >= 0 else None
            if shape is not None and f[2] < shape[0]:
                f[2] += 1
                return
            f[1] += 1
            f[2] = 0


def walk_code(
    bins: _Buffer,
    hbins_size: int,
    cellmap: _Buffer,
    visited: bytearray,
    start_cell: int,
    base_depth: int,
    max_depth: int,
    flags: int,
    minor: int,
    state: bytearray,
    caps: WalkCaps = DEFAULT_CAPS,
) -> WalkChunk:
    """One ``regf_walk`` call; ``state`` (from :func:`new_walk_state`) is updated in place.
    ``rc`` is 1 (call again), 0 (done) or a negative WALK_E_* code (nothing emitted)."""
    words = memoryview(state).cast("I")
    w = _Walker(bins, hbins_size, cellmap, visited, flags, minor, max_depth, caps)
    w.base_depth = base_depth
    if (
        hbins_size > MAX_HBINS_SIZE
        or visited is None
        or len(visited) < (hbins_size >> 6) + 1
        or base_depth > max_depth
        or max_depth - base_depth >= WALK_MAX_FRAMES
        or caps.keys < 1
        or caps.knames < WALK_MIN_NAMES
        or max(caps) > WALK_CAP_MAX
        or words[0] > WALK_DONE
        or words[1] > WALK_MAX_FRAMES
    ):
        return w.chunk(WALK_E_ARGS)
    hw, fw = WALK_HEAD_WORDS, WALK_FRAME_WORDS
    if words[0] == WALK_DONE:
        return w.chunk(0)
    if words[0] == WALK_START:
        k = w.nk(start_cell)
        if k < 0:
            return w.chunk(WALK_E_START)
        rc, push = w.visit(start_cell, base_depth)
        if rc not in (1, 2):  # pragma: no cover - an empty chunk holds any one key
            return w.chunk(WALK_E_ARGS)
        words[0] = WALK_RUNNING
        words[1] = 0
        if push:
            words[hw : hw + fw] = array("I", [w.u32(k + NK_SUBKEY_LIST), 0, 0])
            words[1] = 1
        if rc == 2:
            return w.chunk(1)
    while words[1] > 0:
        at = hw + fw * (words[1] - 1)
        frame = list(words[at : at + fw])
        child = w.frame_peek(frame)
        if child is None:
            words[1] -= 1
            continue
        rc, push = w.visit(child, base_depth + words[1])
        if rc == 0:
            return w.chunk(1)
        w.frame_next(frame)
        words[at : at + fw] = array("I", frame)
        if push and words[1] < WALK_MAX_FRAMES:
            at = hw + fw * words[1]
            words[at : at + fw] = array("I", [w.u32(w.nk(child) + NK_SUBKEY_LIST), 0, 0])
            words[1] += 1
        if rc == 2:
            return w.chunk(1)
    words[0] = WALK_DONE
    return w.chunk(0)


def walk_binder(
    buf: _Buffer,
    offset: int,
    hbins_size: int,
    cellmap: _Buffer,
    visited: bytearray,
    state: bytearray,
    caps: WalkCaps = DEFAULT_CAPS,
) -> Callable[[int, int, int, int, int], WalkChunk]:
    """:func:`walk_code` with its buffers bound: ``f(start_cell, base_depth, max_depth,
    flags, minor)`` is ``walk_code(bins, hbins_size, cellmap, visited, start_cell,
    base_depth, max_depth, flags, minor, state, caps)`` with ``bins = buf[offset :
    offset + hbins_size]`` (the C twin converts the buffers once, not on every call)."""
    if len(state) < 4 * WALK_STATE_WORDS:
        raise ValueError("walk state buffer too small")
    if offset < 0 or len(buf) < offset + hbins_size:
        raise ValueError("bins shorter than hbins_size")
    if min(caps) < 0:
        raise ValueError("negative capacity")

    bins = memoryview(buf)[offset : offset + hbins_size]

    def call(start_cell: int, base_depth: int, max_depth: int, flags: int, minor: int) -> Any:
        return walk_code(
            bins, hbins_size, cellmap, visited, start_cell, base_depth, max_depth, flags,
            minor, state, caps,
        )  # fmt: skip

    return call


__all__ = [
    "DEFAULT_CAPS",
    "HBINS_FILE_OFFSET",
    "K_CHILDREN_BAD",
    "K_CYCLE",
    "K_DEPTH",
    "K_LEAF",
    "K_VALUES_BAD",
    "LEAF_E_LEAF_CELL",
    "LEAF_E_LEAF_COUNT",
    "LEAF_E_LEAF_SIG",
    "LEAF_E_LIST_CELL",
    "LEAF_E_LIST_COUNT",
    "LEAF_E_LIST_SIG",
    "LEAF_E_NESTED_RI",
    "LEAF_E_NK_CELL",
    "LEAF_E_TOO_MANY",
    "MAX_HBINS_SIZE",
    "REGISTRY_SEED",
    "SCAN_BAD_BIN",
    "SCAN_BAD_CELL",
    "SCAN_TOO_BIG",
    "V_SLOW",
    "WALK_CAP_MAX",
    "WALK_DATA_MAX",
    "WALK_DONE",
    "WALK_E_ARGS",
    "WALK_E_START",
    "WALK_FRAME_WORDS",
    "WALK_HEAD_WORDS",
    "WALK_MAX_FRAMES",
    "WALK_MIN_NAMES",
    "WALK_RUNNING",
    "WALK_START",
    "WALK_STATE_WORDS",
    "WALK_LEVEL",
    "WALK_STRICT",
    "WALK_VALUES",
    "WalkCaps",
    "WalkChunk",
    "bin_chain_end",
    "check_hbins_args",
    "check_list_cell",
    "checksum",
    "leaf_cells",
    "leaf_error",
    "marvin32",
    "name_hash",
    "new_walk_state",
    "scan_cells",
    "scan_error",
    "sort_key",
    "upcase",
    "walk_binder",
    "walk_code",
]
