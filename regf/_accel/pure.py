"""Pure-Python twin of the C accelerator: the executable specification.

Every function here has a C counterpart (``csrc/hash.c``, ``csrc/walk.c``) that must return the
same result for every input (``tests/test_accel.py`` checks this with hypothesis). The
tree walker's twin is in :mod:`regf._accel.purewalk`.
Keep these functions simple and obviously right; speed is the C side's job.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from sys import byteorder
from typing import Any

from ..errors import CellError, FormatError, SignatureError, StructureError, TruncatedError

# From the generated module (tools/gen_layout.py): the C API's codes and limits
# (csrc/regf_accel.h), exported from here (see __all__) under the names both backends
# and the reader use, and the layouts of regf/format/structs.py (the numbers
# csrc/layout.h gives C). _accel is leaf code and may not import regf.format; see the
# docstring of codes.py.
from .codes import (
    BASE_CHECKSUM,
    CELL_FIXED_SIZE,
    CELL_SIZE,
    FMT_I32,
    FMT_U16,
    FMT_U32,
    HBIN_FIXED_SIZE,
    HBIN_OFFSET,
    HBIN_SIG,
    HBIN_SIGNATURE_BYTES,
    HBIN_SIZE,
    HBINS_OFFSET,
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
    PAGE,
    RI_ELEM_SIZE,
    RI_SIG,
    SCAN_BAD_BIN,
    SCAN_BAD_CELL,
    SCAN_TOO_BIG,
    VOLATILE_BIT,
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


def marvin32_spans(
    data: bytes | bytearray | memoryview,
    spans: Sequence[tuple[int, int]],
    seed: int = REGISTRY_SEED,
) -> list[int]:
    """Marvin32 of ``data[off : off + length]`` for each ``(off, length)`` in ``spans``.

    Every span must lie inside ``data`` (ValueError otherwise, before any hashing): log
    recovery hashes all of a log's entries in one call, on a second thread (C backend).
    """
    for i, (off, length) in enumerate(spans):
        if off < 0 or length < 0 or off + length > len(data):
            raise ValueError(f"span {i} {(off, length)} lies outside the {len(data)}-byte buffer")
    with memoryview(data) as mv:
        return [marvin32(mv[off : off + length], seed) for off, length in spans]


def copy_runs(
    dst: bytearray | memoryview | Any,
    src: bytes | bytearray | memoryview | Any,
    runs: Sequence[tuple[int, int, int]],
) -> None:
    """Copy ``src[s : s + n]`` to ``dst[d : d + n]`` for each ``(d, s, n)``, in order.

    Every run must lie inside both buffers (ValueError otherwise, before anything is
    copied). Log recovery lays the page runs of its entries onto the image with it.
    """
    for i, (d, s, n) in enumerate(runs):
        if d < 0 or s < 0 or n < 0 or d + n > len(dst) or s + n > len(src):
            raise ValueError(f"run {i} {(d, s, n)} lies outside its buffers")
    with memoryview(dst) as out, memoryview(src) as inp:
        for d, s, n in runs:
            out[d : d + n] = inp[s : s + n]


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
LIST_ELEM = {
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
    es = LIST_ELEM.get(sig)
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
        les = LIST_ELEM.get(sig)
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


__all__ = [
    "HBINS_FILE_OFFSET",
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
    "bin_chain_end",
    "check_hbins_args",
    "check_list_cell",
    "checksum",
    "copy_runs",
    "leaf_cells",
    "leaf_error",
    "marvin32",
    "marvin32_spans",
    "name_hash",
    "scan_cells",
    "scan_error",
    "sort_key",
    "upcase",
]
