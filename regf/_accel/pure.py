"""Pure-Python twin of the C accelerator: the executable specification.

Every function here has a C counterpart in ``csrc/regf_accel.c`` that must return the
same result for every input (``tests/test_accel_parity.py`` checks this with hypothesis).
Keep these functions simple and obviously right; speed is the C side's job.
"""

from __future__ import annotations

import struct
from array import array
from sys import byteorder

from ..errors import CellError, FormatError, SignatureError, StructureError, TruncatedError
from .upcase_table import UPCASE

#: Marvin32 seed Windows uses for HvLE log-entry hashes (format.md section 7).
REGISTRY_SEED = 0x82EF4D887A4E55C5

_M32 = 0xFFFFFFFF

# str.translate table: BMP code points only. Astral characters are two surrogate code
# units on disk, and Windows upper-cases per code unit, leaving surrogates unchanged, so
# leaving astral code points alone is exactly right.
_TRANSLATE = {src: dst for src, dst in UPCASE.items()}


def checksum(base_block: bytes | bytearray | memoryview) -> int:
    """XOR-32 of the first 508 bytes of a base block, with Windows' 0 / -1 rules.

    A stored checksum can never be 0 or 0xFFFFFFFF: Windows maps -1 to -2 and 0 to 1.
    """
    if len(base_block) < 508:
        raise ValueError("base block shorter than 508 bytes")
    c = 0
    for (w,) in struct.iter_unpack("<I", bytes(base_block[:508])):
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

    for (w,) in struct.iter_unpack("<I", buf[:n]):
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


# ---- cell walking (C twins: regf_scan_cells / regf_leaf_cells in csrc/regf_accel.c) ----
#
# The ``_*_code`` functions mirror the C functions exactly, error codes included; the public
# wrappers (shared with the C backend) turn a negative code into a FormatError subclass.

#: Largest hive-bins size either walker accepts (bit 31 of a cell index means volatile).
MAX_HBINS_SIZE = 0x80000000
#: Where hive-bins data starts in the file; errors carry absolute file offsets.
HBINS_FILE_OFFSET = 4096

SCAN_BAD_BIN = 1
SCAN_BAD_CELL = 2
SCAN_TOO_BIG = 3

LEAF_E_LIST_CELL = -1
LEAF_E_LIST_SIG = -2
LEAF_E_LIST_COUNT = -3
LEAF_E_NESTED_RI = -4
LEAF_E_LEAF_CELL = -5
LEAF_E_LEAF_SIG = -6
LEAF_E_LEAF_COUNT = -7
LEAF_E_NK_CELL = -8
LEAF_E_TOO_MANY = -9

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
            total - off < 32
            or bytes(bins[off : off + 4]) != b"hbin"
            or struct.unpack_from("<I", bins, off + 4)[0] != off
        ):
            return -(off + SCAN_BAD_BIN)
        (bin_size,) = struct.unpack_from("<I", bins, off + 8)
        if bin_size == 0 or bin_size % 4096 or bin_size > total - off:
            return -(off + SCAN_BAD_BIN)
        end = off + bin_size
        c = off + 32
        while c < end:
            (size,) = struct.unpack_from("<i", bins, c)
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
    if idx & 0x80000000 or idx & 7 or idx + 4 > total:
        return -1
    size: int = struct.unpack_from("<i", bins, idx)[0]
    if size >= 0 or -size < 4 or -size > total - idx:
        return -1
    return -size - 4


_LIST_ELEM = {b"li": 4, b"lf": 8, b"lh": 8, b"ri": 4}


def _emit_leaf(bins: _Buffer, total: int, d: int, es: int, out: list[int]) -> int:
    limit = min(total // 8, 0x7FFFFFFF)
    (n,) = struct.unpack_from("<H", bins, d + 2)
    for i in range(n):
        (nk,) = struct.unpack_from("<I", bins, d + 4 + i * es)
        if _cell_data_len(bins, total, nk) < 0:
            return LEAF_E_NK_CELL
        if len(out) >= limit:
            return LEAF_E_TOO_MANY
        out.append(nk)
    return 0


def _leaf_cells_code(bins: _Buffer, hbins_size: int, list_cell: int, out: list[int]) -> int:
    total = hbins_size
    dl = _cell_data_len(bins, total, list_cell)
    if dl < 4:
        return LEAF_E_LIST_CELL
    d = list_cell + 4
    es = _LIST_ELEM.get(bytes(bins[d : d + 2]))
    if es is None:
        return LEAF_E_LIST_SIG
    (n,) = struct.unpack_from("<H", bins, d + 2)
    if 4 + n * es > dl:
        return LEAF_E_LIST_COUNT
    if bytes(bins[d : d + 2]) != b"ri":
        return _emit_leaf(bins, total, d, es, out)
    for i in range(n):
        (leaf,) = struct.unpack_from("<I", bins, d + 4 + i * 4)
        ldl = _cell_data_len(bins, total, leaf)
        if ldl < 4:
            return LEAF_E_LEAF_CELL
        ld = leaf + 4
        sig = bytes(bins[ld : ld + 2])
        if sig == b"ri":
            return LEAF_E_NESTED_RI
        les = _LIST_ELEM.get(sig)
        if les is None:
            return LEAF_E_LEAF_SIG
        (ln,) = struct.unpack_from("<H", bins, ld + 2)
        if 4 + ln * les > ldl:
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
    if start < 0 or start % 4096:
        raise ValueError("start must be a non-negative multiple of 4096")
    off = start
    while off < hbins_size:
        if hbins_size - off < 32 or bytes(bins[off : off + 4]) != b"hbin":
            return off
        field, size = struct.unpack_from("<II", bins, off + 4)
        if field != off or size < 4096 or size % 4096 or size > hbins_size - off:
            return off
        off += size
    return hbins_size
