"""Subkey lists (``li``/``lf``/``lh``/``ri``) edited in place, as Windows does (fmt §4.2).

Functions over ``(alloc, list cell)``; the caller keeps the parent's count and list
pointer (so the same code serves a key's stable list and its volatile list). Names are
compared as Windows compares them: upper-cased per UTF-16 code unit with Windows' table,
unsigned, shorter first on a common prefix -- :func:`regf._accel.sort_key` yields bytes
that order exactly so. A child's key is computed from its nk on demand (no per-key
cache: lists are binary-searched, O(log n) names per operation).

Behaviour reproduced from ReactOS ``cmindex.c`` (the readable model of Windows'
configuration manager, whose cell sizes it reproduces on Windows-written hives, fmt §4.2):

* First subkey: a leaf cell of ``sizeof(CM_KEY_FAST_INDEX)`` = 12 data bytes (a 16-byte
  cell), ``lh`` in hives of minor >= 5, ``lf`` in 3-4, ``li`` below.
* Adding to a leaf whose cell has no room for one more entry: reallocate to
  ``capacity * 1.5`` (integer), at least ``capacity + entry``; the entry is inserted at
  its sorted position by moving the tail up (``CmpAddToLeaf``).
* An ``lf`` already holding 507 entries (:data:`MAX_LEAF_LF`) becomes an ``li`` in the
  same cell (entries compacted to 4 bytes) when the next subkey is added.
* An ``li``/``lh`` already holding 1013 entries (:data:`MAX_LEAF_LH`) gets an ``ri``
  above it (12 data bytes: room for two leaves). With a root, the leaf is chosen as
  ``CmpSelectLeaf`` does: the first leaf whose last name is >= the new name (the last
  leaf when none is); a leaf already holding 1013 entries is split first
  (``CmpSplitLeaf``): the first ``n // 2`` entries stay, the rest move to a new leaf of
  ``entry * m + 4 + 1`` data bytes inserted after it, and the root grows by exactly one
  entry (``capacity + 4``) when full. New leaves under a root have the old leaf's kind
  (``lh`` in >= 1.5 hives, ``li`` otherwise: the only kinds a root ever gets there).
* Removing: the tail moves down; a leaf left empty is freed and leaves its root (a root
  left empty is freed too and the list becomes NIL). Cells are never shrunk. Entries
  vacated at the end of a leaf are zeroed (Windows leaves them as remnants; zero bytes
  are deterministic and point at nothing).

``lh`` hashes: ``h = h*37 + upcase(unit)`` (:func:`regf._accel.name_hash`); ``lf`` hints:
the first four code units as Latin-1 bytes, filled from the right and stopping at the
first unit above 0xFF (:func:`lf_hint`).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from .._accel import name_hash, sort_key
from ..errors import CellError, SignatureError, StructureError
from ..format.constants import BASE, HCELL_NIL, MAX_LEAF_LF, MAX_LEAF_LH
from ..format.fast import (
    CELL_HEADER,
    CELL_L,
    HASH_ELEM_L,
    I32,
    LIST_HEAD,
    LIST_HEAD_L,
    U16,
    U32,
    u32_array,
)
from .alloc import CellAllocatorAPI as Alloc
from .image import HiveImage
from .nodes import COMP_NAME, NK_FLAGS, NK_NAME, NK_NAME_LEN

LI = b"li"
LF = b"lf"
LH = b"lh"
RI = b"ri"
#: Bytes per entry of each list kind.
ENTRY = {LI: 4, LF: 8, LH: 8, RI: 4}
#: Data bytes of the first leaf: ``sizeof(CM_KEY_FAST_INDEX)`` (signature, count, one
#: 8-byte entry), whatever the kind.
FIRST_LEAF = 12
#: Data bytes of a new root: ``sizeof(CM_KEY_INDEX) + sizeof(HCELL_INDEX)``.
FIRST_ROOT = 12

_HEAD = LIST_HEAD
_U16 = U16
_U32 = U32
_II = HASH_ELEM_L.struct
_I32 = I32
#: Offset of the count in a list's data; of its first element in the data (after the
#: head) and from the cell's start (after the size field and the head).
_COUNT = LIST_HEAD_L.offset("count")
_ELEMS = LIST_HEAD_L.size
_FIRST = CELL_L.size + _ELEMS

Key = bytes  # a sort key from regf._accel.sort_key


def lf_hint(name: str) -> bytes:
    """The ``lf`` hint: first up-to-4 code units as Latin-1 bytes, zero padded (fmt §4.2).

    Like ReactOS, bytes are filled from the end and filling stops at the first code unit
    (from the right) that is not Latin-1, leaving it and every earlier byte 0.
    """
    units = name[:4].encode("utf-16-le", "surrogatepass")
    chars = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)][:4]
    out = bytearray(4)
    for i in range(len(chars) - 1, -1, -1):
        if chars[i] > 0xFF:
            break
        out[i] = chars[i]
    return bytes(out)


def leaf_kind(minor: int) -> bytes:
    """Kind of a key's first leaf by hive minor version (fmt §4.2)."""
    return LH if minor >= 5 else LF if minor >= 3 else LI


# ---------------------------------------------------------------------------------------
# Reading (straight from the image; structure checked where it is used)
# ---------------------------------------------------------------------------------------


def name_key(name: str) -> Key:
    """Sort key of ``name``: :func:`regf._accel.sort_key`, with an ASCII fast path
    (Windows' table upper-cases exactly ``a``-``z`` among ASCII code units)."""
    if name.isascii():
        return name.upper().encode("utf-16-be")
    return sort_key(name)


def check_entry(buf: bytearray, nk: int) -> None:
    """Raise unless list entry ``nk`` can be a key node: aligned, its fixed part and name
    inside the image, signature ``nk``. (Lists of a loaded hive are untrusted.)"""
    start = BASE + nk + CELL_HEADER
    if nk & 0x80000007 or start + NK_NAME > len(buf):
        raise CellError(f"subkey list entry {nk:#x} out of range or misaligned", None)
    if buf[start : start + 2] != b"nk":
        raise SignatureError(f"subkey list entry {nk:#x} is not an nk", start)
    if start + NK_NAME + _U16.unpack_from(buf, start + NK_NAME_LEN)[0] > len(buf):
        raise CellError(f"key node {nk:#x}: name runs past the hive", start)


def nk_key(buf: bytearray, nk: int) -> Key:
    """Sort key of the name stored in key node ``nk`` (checked by :func:`check_entry`)."""
    start = BASE + nk + CELL_HEADER
    if nk & 0x80000007 or start + NK_NAME > len(buf) or buf[start : start + 2] != b"nk":
        check_entry(buf, nk)
    (n,) = _U16.unpack_from(buf, start + NK_NAME_LEN)
    raw = buf[start + NK_NAME : start + NK_NAME + n]
    if len(raw) != n:
        check_entry(buf, nk)
    if buf[start + NK_FLAGS] & COMP_NAME:
        if raw.isascii():
            return raw.upper().decode("ascii").encode("utf-16-be")
        return sort_key(raw.decode("latin-1"))
    if n % 2:
        raw = raw[:-1]
    return sort_key(raw.decode("utf-16-le", "surrogatepass"))


def _head(buf: bytearray, cell: int, hbins_size: int) -> tuple[bytes, int, int]:
    """(signature, count, entry size) of list cell ``cell``, bounds checked."""
    if cell & 7 or cell + _FIRST > hbins_size:
        raise CellError(f"subkey list index {cell:#x} out of range or misaligned", None)
    (size,) = _I32.unpack_from(buf, BASE + cell)
    start = BASE + cell + CELL_HEADER
    sig, count = _HEAD.unpack_from(buf, start)
    es = ENTRY.get(sig)
    if size >= 0 or cell - size > hbins_size:
        raise CellError(f"subkey list cell {cell:#x} is free or too large", start - CELL_HEADER)
    if es is None:
        raise SignatureError(f"subkey list {cell:#x}: unknown signature {sig!r}", start)
    if 4 + count * es > -size - CELL_HEADER:
        raise StructureError(f"subkey list {cell:#x}: count {count} exceeds its cell", start)
    return sig, count, es


def _entry(buf: bytearray, leaf: int, es: int, i: int) -> int:
    return int(_U32.unpack_from(buf, BASE + leaf + _FIRST + es * i)[0])


def leaves(buf: bytearray, lst: int, hbins_size: int) -> list[int]:
    """The leaf cells of a list: its ``ri`` elements, or ``[lst]`` for a leaf."""
    sig, count, _es = _head(buf, lst, hbins_size)
    if sig != RI:
        return [lst]
    return list(u32_array(count).unpack_from(buf, BASE + lst + _FIRST))


def cells(buf: bytearray, lst: int, hbins_size: int) -> list[int]:
    """Every nk cell of a list in stored (sorted) order."""
    if lst == HCELL_NIL:
        return []
    sig, count, es = _head(buf, lst, hbins_size)
    if sig == RI:
        out: list[int] = []
        for leaf in u32_array(count).unpack_from(buf, BASE + lst + _FIRST):
            lsig, n, les = _head(buf, leaf, hbins_size)
            if lsig == RI:
                raise StructureError(f"index root {lst:#x} points to another root", BASE + leaf)
            out.extend(_leaf_cells(buf, leaf, n, les))
        return out
    return _leaf_cells(buf, lst, count, es)


def _leaf_cells(buf: bytearray, leaf: int, n: int, es: int) -> list[int]:
    if es == 4:
        out = list(u32_array(n).unpack_from(buf, BASE + leaf + _FIRST))
    else:
        out = list(u32_array(2 * n).unpack_from(buf, BASE + leaf + _FIRST)[::2])
    for nk in out:
        check_entry(buf, nk)
    return out


def _bisect(buf: bytearray, leaf: int, n: int, es: int, key: Key) -> tuple[int, bool]:
    """(position of the first entry whose name is >= ``key``, whether it is equal)."""
    lo, hi = 0, n
    base = BASE + leaf + _FIRST
    unpack = _U32.unpack_from
    if n:
        # Appending in order is the common case (sequential creation): one name read.
        k = nk_key(buf, unpack(buf, base + es * (n - 1))[0])
        if k < key:
            return n, False
        if k == key:
            return n - 1, True
        hi = n - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        k = nk_key(buf, unpack(buf, base + es * mid)[0])
        if k < key:
            lo = mid + 1
        elif k == key:
            return mid, True
        else:
            hi = mid
    return lo, False


def _leaf_last_key(buf: bytearray, leaf: int, root: int, hbins_size: int) -> Key:
    sig, n, es = _head(buf, leaf, hbins_size)
    if sig == RI or n == 0:
        raise StructureError(f"index root {root:#x}: bad leaf {leaf:#x}", BASE + leaf)
    return nk_key(buf, _entry(buf, leaf, es, n - 1))


def _root_select(buf: bytearray, root: int, count: int, key: Key, hbins_size: int) -> int:
    """Index in root of the leaf for ``key``: the first leaf whose last name is >= key,
    or the last leaf (``CmpFindSubKeyInRoot`` + ``CmpSelectLeaf``'s choice, fmt §4.2)."""
    lo, hi = 0, count
    base = BASE + root + _FIRST
    if (
        _leaf_last_key(buf, _U32.unpack_from(buf, base + 4 * (count - 1))[0], root, hbins_size)
        < key
    ):
        return count - 1  # beyond the last leaf (sequential creation): no search
    while lo < hi:
        mid = (lo + hi) >> 1
        leaf = _U32.unpack_from(buf, base + 4 * mid)[0]
        if _leaf_last_key(buf, leaf, root, hbins_size) < key:
            lo = mid + 1
        else:
            hi = mid
    return min(lo, count - 1)


def find(buf: bytearray, lst: int, key: Key, hbins_size: int) -> int:
    """The nk cell whose name has sort key ``key``, or -1."""
    if lst == HCELL_NIL:
        return -1
    sig, count, es = _head(buf, lst, hbins_size)
    leaf = lst
    if sig == RI:
        if not count:
            return -1
        leaf = _U32.unpack_from(
            buf, BASE + lst + _FIRST + 4 * _root_select(buf, lst, count, key, hbins_size)
        )[0]
        sig, count, es = _head(buf, leaf, hbins_size)
    pos, hit = _bisect(buf, leaf, count, es, key)
    return _entry(buf, leaf, es, pos) if hit else -1


# ---------------------------------------------------------------------------------------
# Inserting
# ---------------------------------------------------------------------------------------


def _element(sig: bytes, child: int, name: str) -> bytes:
    if sig == LH:
        return _II.pack(child, name_hash(name))
    if sig == LF:
        return _U32.pack(child) + lf_hint(name)
    return _U32.pack(child)


def _add_to_leaf(alloc: Alloc, leaf: int, name: str, key: Key, child: int) -> int:
    """``CmpAddToLeaf``: grow the leaf 1.5x when full, insert sorted; return the leaf."""
    buf = alloc.image
    sig, n, es = _head(buf, leaf, alloc.hbins_size)
    cap = alloc.capacity(leaf)
    if cap - (4 + es * n) < es:
        size = cap + cap // 2
        if size < cap + es:
            size = cap + es
        leaf = alloc.realloc(leaf, size)
        buf = alloc.image
    pos, hit = _bisect(buf, leaf, n, es, key)
    if hit:
        raise StructureError(f"subkey {name!r} is already in list {leaf:#x}", BASE + leaf)
    at = BASE + leaf + _FIRST + es * pos
    tail = bytes(buf[at : BASE + leaf + _FIRST + es * n])
    alloc.write(leaf, _COUNT, _U16.pack(n + 1))
    alloc.write(leaf, 4 + es * pos, _element(sig, child, name) + tail)
    return leaf


def _split(alloc: Alloc, root: int, sel: int) -> int:
    """``CmpSplitLeaf``: move the upper half of leaf ``sel`` to a new leaf after it;
    return the (possibly reallocated) root."""
    buf = alloc.image
    hb = alloc.hbins_size
    leaf = _U32.unpack_from(buf, BASE + root + _FIRST + 4 * sel)[0]
    sig, n, es = _head(buf, leaf, hb)
    first = n // 2
    last = n - first
    new = alloc.alloc(es * last + 4 + 1)  # ReactOS's size, "+ 1" included (fmt §4.2)
    buf = alloc.image
    _rsig, rcount, _res = _head(buf, root, alloc.hbins_size)
    rcap = alloc.capacity(root)
    if (rcap - 4 * rcount - 4) // 4 < 1:
        root = alloc.realloc(root, rcap + 4)
        buf = alloc.image
    moved = bytes(buf[BASE + leaf + _FIRST + es * first : BASE + leaf + _FIRST + es * n])
    alloc.write(new, 0, _HEAD.pack(sig, last) + moved)
    tail = bytes(buf[BASE + root + _FIRST + 4 * (sel + 1) : BASE + root + _FIRST + 4 * rcount])
    alloc.write(root, _COUNT, _U16.pack(rcount + 1))
    alloc.write(root, _ELEMS + 4 * (sel + 1), _U32.pack(new) + tail)
    alloc.write(leaf, _COUNT, _U16.pack(first))
    alloc.write(leaf, 4 + es * first, bytes(es * last))
    return root


def insert(alloc: Alloc, lst: int, count: int, name: str, child: int, minor: int) -> int:
    """Add ``child`` (named ``name``) to the list ``lst`` of ``count`` subkeys (NIL or
    count 0: none yet); return the list's (possibly new) cell. ``CmpAddSubKey``."""
    key = name_key(name)
    if count == 0 or lst == HCELL_NIL:
        lst = alloc.alloc(FIRST_LEAF)
        alloc.write(lst, 0, _HEAD.pack(leaf_kind(minor), 0))
        return _add_to_leaf(alloc, lst, name, key, child)
    buf = alloc.image
    hb = alloc.hbins_size
    sig, n, es = _head(buf, lst, hb)
    if sig == LF and n >= MAX_LEAF_LF:
        # Full fast leaf: becomes an index leaf in the same cell (fmt §4.2).
        ptrs = _leaf_cells(buf, lst, n, es)
        alloc.write(lst, 0, _HEAD.pack(LI, n) + u32_array(n).pack(*ptrs) + bytes(4 * n))
        sig = LI
    elif sig in (LI, LH) and n >= MAX_LEAF_LH:
        root = alloc.alloc(FIRST_ROOT)
        alloc.write(root, 0, _HEAD.pack(RI, 1) + _U32.pack(lst))
        lst = root
        sig = RI
    if sig != RI:
        return _add_to_leaf(alloc, lst, name, key, child)
    root = lst
    while True:
        buf = alloc.image
        _s, rcount, _e = _head(buf, root, alloc.hbins_size)
        if not rcount:
            raise StructureError(f"index root {root:#x} is empty", BASE + root)
        sel = _root_select(buf, root, rcount, key, alloc.hbins_size)
        leaf = _U32.unpack_from(buf, BASE + root + _FIRST + 4 * sel)[0]
        if _head(buf, leaf, alloc.hbins_size)[1] < MAX_LEAF_LH:
            break
        root = _split(alloc, root, sel)
    new_leaf = _add_to_leaf(alloc, leaf, name, key, child)
    if new_leaf != leaf:
        alloc.write(root, _ELEMS + 4 * sel, _U32.pack(new_leaf))
    return root


# ---------------------------------------------------------------------------------------
# Removing and freeing
# ---------------------------------------------------------------------------------------


def remove(alloc: Alloc, lst: int, name: str, child: int) -> int:
    """Remove ``child`` (named ``name``) from list ``lst``; return the list cell, or NIL
    when the list is gone (``CmpRemoveSubKey``). StructureError if it is not there."""
    key = name_key(name)
    buf = alloc.image
    hb = alloc.hbins_size
    sig, count, es = _head(buf, lst, hb)
    root = HCELL_NIL
    sel = 0
    leaf = lst
    if sig == RI:
        root, rcount = lst, count
        sel = _root_select(buf, root, rcount, key, hb) if rcount else 0
        leaf = _U32.unpack_from(buf, BASE + root + _FIRST + 4 * sel)[0]
        sig, count, es = _head(buf, leaf, hb)
    pos, hit = _bisect(buf, leaf, count, es, key)
    if not hit or _entry(buf, leaf, es, pos) != child:
        raise StructureError(f"subkey {name!r} ({child:#x}) not found in list {lst:#x}", BASE + lst)
    alloc.capacity(leaf)  # checked before anything is written
    if count == 1:
        alloc.free(leaf)
        if root == HCELL_NIL:
            return HCELL_NIL
        buf = alloc.image
        _s, rcount, _e = _head(buf, root, hb)
        if rcount == 1:
            alloc.free(root)
            return HCELL_NIL
        tail = bytes(buf[BASE + root + _FIRST + 4 * (sel + 1) : BASE + root + _FIRST + 4 * rcount])
        alloc.write(root, _COUNT, _U16.pack(rcount - 1))
        alloc.write(root, _ELEMS + 4 * sel, tail + bytes(4))
        return root
    tail = bytes(buf[BASE + leaf + _FIRST + es * (pos + 1) : BASE + leaf + _FIRST + es * count])
    alloc.write(leaf, _COUNT, _U16.pack(count - 1))
    alloc.write(leaf, 4 + es * pos, tail + bytes(es))
    return lst


def free_list(alloc: Alloc, lst: int) -> None:
    """Free a list's cells (an ``ri`` and its leaves, or one leaf). NIL is a no-op."""
    if lst == HCELL_NIL:
        return
    cells_ = leaves(alloc.image, lst, alloc.hbins_size)
    for c in cells_:
        if c != lst:
            alloc.free(c)
    alloc.free(lst)


def check_sorted(
    buf: bytearray, lst: int, hbins_size: int, key: Callable[[int], Key] | None = None
) -> bool:
    """True when every entry of the list is in strictly ascending Windows order."""
    keyf = key or (lambda c: nk_key(buf, c))
    ks = [keyf(c) for c in cells(buf, lst, hbins_size)]
    return all(a < b for a, b in pairwise(ks))


__all__ = [
    "ENTRY",
    "FIRST_LEAF",
    "FIRST_ROOT",
    "LF",
    "LH",
    "LI",
    "RI",
    "cells",
    "check_entry",
    "check_sorted",
    "find",
    "free_list",
    "insert",
    "leaf_kind",
    "leaves",
    "name_key",
    "nk_key",
    "remove",
]


# ---------------------------------------------------------------------------------------
# Checked reading of an untrusted hive (the reader's decoder)
# ---------------------------------------------------------------------------------------

MAX_LIST = 1 << 20  # bound on elements read from one list (hostile counts)


def read_subkey_cells(image: HiveImage, list_cell: int, *, hashes: bool = False) -> list[Any]:
    """Decode a subkey list (li/lf/lh, or ri of leaves) into nk indexes.

    With ``hashes`` returns ``(nk index, lh hash or None)`` pairs. Raises StructureError for
    an ri inside an ri (fmt §4.2: roots point only to leaves), which also stops cycles.
    """
    out: list[Any] = []
    _read_list(image, list_cell, out, hashes, in_root=False)
    return out


def _read_list(image: HiveImage, cell: int, out: list[Any], hashes: bool, in_root: bool) -> None:
    start, cap = image.cell(cell, "subkey list", _ELEMS)
    buf = image.buf
    sig, count = _HEAD.unpack_from(buf, start)
    first = start + _ELEMS
    if sig == RI:
        if in_root:
            raise StructureError(
                f"index root {cell:#x} nested in an index root", start - CELL_HEADER
            )
        if _ELEMS + ENTRY[RI] * count > cap:
            raise StructureError(f"index root {cell:#x}: count {count} exceeds its cell", start)
        for leaf in u32_array(count).unpack_from(buf, first):
            try:
                _read_list(image, leaf, out, hashes, in_root=True)
            except (CellError, SignatureError) as exc:
                if image.strict:
                    raise
                image.problems.append(exc)
        return
    step = ENTRY.get(sig)
    if step is None:
        raise SignatureError(f"subkey list {cell:#x}: unknown signature {sig!r}", start)
    if _ELEMS + step * count > cap:
        raise StructureError(f"subkey list {cell:#x}: count {count} exceeds its cell", start)
    if len(out) + count > MAX_LIST:
        raise StructureError("subkey list too long", start)
    # li: cell indexes; lf/lh: (cell index, hint or hash) pairs, read as u32 pairs.
    words = u32_array(count * step // 4).unpack_from(buf, first)
    if step == ENTRY[LI]:
        out.extend((v, None) for v in words) if hashes else out.extend(words)
    elif hashes and sig == LH:
        out.extend(zip(words[::2], words[1::2], strict=True))
    else:
        cells = words[::2]
        out.extend((v, None) for v in cells) if hashes else out.extend(cells)
