"""Packers for the variable parts of cells: arrays of cell indexes and list elements.

The fixed heads come from :mod:`regf.format.fast`; what follows a head (a value list, a
segment list, the elements of an ``li``/``ri``/``lf``/``lh``) is an array of the element
records declared in :mod:`regf.format.structs`. Packing them one ``struct`` call per
element is what made serialization slow, so these pack a whole array at once with
``array('I')`` (the format is little-endian; a big-endian host byte-swaps first).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence

from .fast import FAST_ELEM_L, HASH_ELEM_L

_SWAP = sys.byteorder != "little"
# An lh/lf element is two u32-sized fields (cell, hash or 4-byte hint); the array trick
# below relies on that, so check it against the declarations once, at import.
assert HASH_ELEM_L.struct.size == FAST_ELEM_L.struct.size == 8


def u32_array(values: Iterable[int]) -> bytes:
    """``values`` as consecutive little-endian u32s (value lists, segment lists, li, ri)."""
    arr = array("I", values)
    if _SWAP:  # pragma: no cover - little-endian hosts only in CI
        arr.byteswap()
    return arr.tobytes()


def pair_array(cells: Sequence[int], seconds: Sequence[int]) -> bytes:
    """lh elements: (cell, hash) pairs as little-endian u32 pairs."""
    arr = array("I", bytes(8 * len(cells)))
    arr[0::2] = array("I", cells)
    arr[1::2] = array("I", seconds)
    if _SWAP:  # pragma: no cover
        arr.byteswap()
    return arr.tobytes()


def hint_array(cells: Sequence[int], hints: Sequence[bytes]) -> bytes:
    """lf elements: (cell, 4-byte name hint) pairs."""
    out = bytearray()
    cell_bytes = u32_array(cells)
    for i, hint in enumerate(hints):
        out += cell_bytes[4 * i : 4 * i + 4]
        out += hint
    return bytes(out)


__all__ = ["hint_array", "pair_array", "u32_array"]
