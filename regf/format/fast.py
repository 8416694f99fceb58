"""``struct.Struct`` readers of the fixed-size heads, derived from :mod:`regf.format.structs`.

Hot paths (the tree walk, the allocator, flush and recovery) unpack with these instead of
Construct. Nothing here is written by hand: each reader is the :class:`~regf.format.layout.Layout`
of a Construct declaration, built at import time, so a layout cannot drift from its
declaration. ``XX_L`` is the layout (field offsets, one-field readers); ``XX`` is its
whole-head ``struct.Struct`` and ``XX_FIELDS`` its field names, kept for existing callers.
"""

from __future__ import annotations

import struct
from typing import Any

from . import structs as S
from .constants import BASE
from .layout import Layout, layout

#: nk up to and including class_length (the name follows at ``NK.size`` = 0x4C).
NK_L: Layout = layout(S.KeyNode, "nk")
#: vk up to and including spare (the name follows at ``VK.size`` = 0x14).
VK_L: Layout = layout(S.KeyValue, "vk")
#: sk up to descriptor_length (the descriptor follows at ``SK.size`` = 0x14).
SK_L: Layout = layout(S.KeySecurity, "sk")
HBIN_L: Layout = layout(S.HbinHeader, "hbin")
DB_L: Layout = layout(S.BigData, "db")
#: The head shared by li/lf/lh/ri: signature and count (elements follow at +4).
LIST_HEAD_L: Layout = layout(S.IndexLeaf, "list")
BASE_L: Layout = layout(S.BaseBlockHead, "base block")
HVLE_L: Layout = layout(S.LogEntryHeader, "HvLE")
PAGE_REF_L: Layout = layout(S.PageReference, "page reference")
HASH_ELEM_L: Layout = layout(S.HashLeafElement, "lh element")
FAST_ELEM_L: Layout = layout(S.FastLeafElement, "lf element")
CELL_L: Layout = layout(S.CellHeader, "cell")
#: Bytes before a cell's payload: its i32 size field (fmt §3). Cell index ``c`` is the
#: size field at file offset ``BASE + c``; the record (nk, vk, ...) starts at
#: ``BASE + c + CELL_HEADER``, and a cell of ``size`` bytes holds ``size - CELL_HEADER``.
CELL_HEADER: int = CELL_L.size
#: Every cell record's signature (nk, vk, sk, lf, lh, li, ri, db) is this long.
SIG_SIZE: int = NK_L.field("signature").size

NK = NK_L.struct
VK = VK_L.struct
SK = SK_L.struct
HBIN = HBIN_L.struct
DB = DB_L.struct
LIST_HEAD = LIST_HEAD_L.struct
BASE_HEAD = BASE_L.struct
HVLE = HVLE_L.struct

NK_FIELDS = NK_L.names
VK_FIELDS = VK_L.names
SK_FIELDS = SK_L.names
HBIN_FIELDS = HBIN_L.names
DB_FIELDS = DB_L.names
BASE_FIELDS = BASE_L.names
HVLE_FIELDS = HVLE_L.names

# Scalar readers for lists of cell indexes, sizes and hashes (a cell size is an i32:
# negative = allocated, fmt §3; every other scalar in the format is an unsigned LE int).
I32 = CELL_L.struct
U32: struct.Struct = struct.Struct("<I")
U16: struct.Struct = struct.Struct("<H")
U64: struct.Struct = struct.Struct("<Q")

_U32_ARRAYS: dict[int, struct.Struct] = {}


def u32_array(count: int) -> struct.Struct:
    """A reader of ``count`` consecutive u32 (a list of cell indexes: subkey, value and
    segment lists, fmt §4.2-§4.6). Cached for counts below 4096."""
    st = _U32_ARRAYS.get(count)
    if st is None:
        st = struct.Struct(f"<{count}I")
        if count < 4096:
            _U32_ARRAYS[count] = st
    return st


def cell_sig(buf: Any, cell: int) -> bytes:
    """The signature of the record in cell ``cell`` (``b"nk"``, ``b"db"``, ...), read
    from a hive file image ``buf``; short when ``buf`` ends first. Not for per-cell hot
    loops (a call each): those add :data:`CELL_HEADER` themselves."""
    at = BASE + cell + CELL_HEADER
    return bytes(buf[at : at + SIG_SIZE])
