"""Which allocated cells a hive image still uses: reachability from the root key.

:func:`reachable_cells` follows every pointer a reader follows -- nk, class, sk, subkey
lists (``ri`` and its leaves), value list, vk, data cell or ``db`` + segment list +
segments -- and :func:`leaked_cells` compares that with the allocated cells found by
scanning the bins. An in-place writer that frees everything it unlinks leaves no leaks
(issue 4: "no cell leaks after deletes"); tests and :mod:`regf.model.check` use this.
Reads only; whole-file image in, hive-bins relative cell indexes out.
"""

from __future__ import annotations

from ..format.constants import BASE, DATA_INLINE, HCELL_NIL, KeyFlags
from ..format.fast import (
    BASE_L,
    CELL_HEADER,
    DB,
    HBIN_L,
    I32,
    LIST_HEAD_L,
    NK,
    U32,
    VK,
    cell_sig,
    u32_array,
)
from ..format.structs import BIG_DATA_SEGMENT
from .security import iter_key_cells

_U32 = U32
_PREDEF = int(KeyFlags.PREDEF_HANDLE)
_I32 = I32
_MINOR_OFFSET = BASE_L.offset("minor")
#: A list's count, and its first element from the cell's start (size field, head).
_COUNT = LIST_HEAD_L.field("count")
_FIRST = CELL_HEADER + LIST_HEAD_L.size


def _list_cells(buf: bytes | bytearray, cell: int) -> list[int]:
    """The subkey list cell and, for an ``ri``, its leaves."""
    sig = cell_sig(buf, cell)
    if sig != b"ri":
        return [cell]
    count = _COUNT.unpack_from(buf, BASE + cell + CELL_HEADER)
    return [cell, *u32_array(count).unpack_from(buf, BASE + cell + _FIRST)]


def reachable_cells(
    buf: bytes | bytearray, root: int, hbins_size: int | None = None
) -> dict[int, str]:
    """Every cell reachable from the root nk ``root``: cell index -> what it is.

    Inline data, zero-length data and NIL pointers reach nothing. Big data is recognised
    as the reader does (minor >= 4, length > 16344 and a ``db`` signature).
    """
    if hbins_size is None:
        hbins_size = BASE_L.field("hbins_size").unpack_from(buf)
    (minor,) = _U32.unpack_from(buf, _MINOR_OFFSET)
    keys, _problems = iter_key_cells(buf, hbins_size, root)
    out: dict[int, str] = {}
    for nk in keys:
        out[nk] = "nk"
        f = NK.unpack_from(buf, BASE + nk + CELL_HEADER)
        flags, sub_count, sub_list = f[1], f[7], f[9]
        v_count, v_list, sk, cls, cls_len = f[11], f[12], f[13], f[14], f[23]
        out[sk] = "sk"
        if cls_len and cls not in (HCELL_NIL, 0):
            out[cls] = "class"
        if sub_count and sub_list != HCELL_NIL:
            for c in _list_cells(buf, sub_list):
                out[c] = "subkey list"
        if flags & _PREDEF or not v_count or v_list == HCELL_NIL:
            continue
        out[v_list] = "value list"
        for vk in u32_array(v_count).unpack_from(buf, BASE + v_list + CELL_HEADER):
            out[vk] = "vk"
            _sig, _nl, size, data, _t, _fl, _sp = VK.unpack_from(buf, BASE + vk + CELL_HEADER)
            if size & DATA_INLINE or size == 0 or data == HCELL_NIL:
                continue
            at = BASE + data + CELL_HEADER
            if minor >= 4 and size > BIG_DATA_SEGMENT and buf[at : at + 2] == b"db":
                _s, count, seg_list = DB.unpack_from(buf, at)
                out[data] = "db"
                out[seg_list] = "segment list"
                for seg in u32_array(count).unpack_from(buf, BASE + seg_list + CELL_HEADER):
                    out[seg] = "segment"
            else:
                out[data] = "data"
    return out


def allocated_cells(buf: bytes | bytearray, hbins_size: int | None = None) -> set[int]:
    """Indexes of every allocated (negative-size) cell, by walking every bin."""
    if hbins_size is None:
        hbins_size = BASE_L.field("hbins_size").unpack_from(buf)
    out: set[int] = set()
    off = 0
    while off < hbins_size:
        size = HBIN_L.field("size").unpack_from(buf, BASE + off)
        if size < 4096 or size % 4096:  # not a sound bin: stop (check.py reports it)
            break
        end = off + size
        cell = off + HBIN_L.size
        while cell < end:
            (n,) = _I32.unpack_from(buf, BASE + cell)
            if n < 0:
                out.add(cell)
            if not n or n % 8:
                break
            cell += abs(n)
        off = end
    return out


def leaked_cells(buf: bytes | bytearray, root: int | None = None) -> set[int]:
    """Allocated cells nothing reachable from the root points at (``root``: base block)."""
    if root is None:
        root = BASE_L.field("root_cell").unpack_from(buf)
    return allocated_cells(buf) - set(reachable_cells(buf, root))


__all__ = ["allocated_cells", "leaked_cells", "reachable_cells"]
