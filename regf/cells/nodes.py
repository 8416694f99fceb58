"""Key nodes (``nk`` cells) edited in place through a cell allocator (fmt §4.1, §5).

Small functions over ``(alloc, nk)``: ``alloc`` is a :class:`~regf.cells.alloc.CellAllocator`
(or its C twin) owning a whole-file image, ``nk`` a key-node cell index. They build a
new node, rename it (reallocating when the name grows), keep the parent's maxima as
high-water marks and free a node with its class cell. Reads go straight to
``alloc.image`` with the :mod:`regf.format.fast` struct twins (no Construct on hot
paths); every write goes through ``alloc.write`` so the allocator tracks dirty pages.

Layout facts used here (fmt §4.1): the fixed part is 0x4C bytes followed by the name,
stored compressed (Latin-1, ``KEY_COMP_NAME``) when every UTF-16 code unit is <= 0xFF,
else UTF-16LE; the cell is ``round8(4 + 0x4C + name_len)``. A new node has no subkey,
volatile-subkey or value list (NIL), zero counts and work var 0. MaxNameLen is the low
16 bits of the dword at +0x34 (the other 16 bits are the user/virtualization flag
nibbles and the debug byte, fmt §5.1) and counts UTF-16 bytes even for compressed names.
"""

from __future__ import annotations

from typing import Any

from ..errors import CellError, SignatureError
from ..format.constants import BASE, HCELL_NIL, KeyFlags
from ..format.fast import CELL_HEADER, NK, NK_L, U16, U32, U64
from ..format.structs import NK_FIXED_SIZE
from .alloc import CellAllocatorAPI as Alloc

# Offsets inside the nk cell data (fmt §4.1), from the declaration.
NK_FLAGS = NK_L.offset("flags")
NK_LAST_WRITTEN = NK_L.offset("last_written")
NK_PARENT = NK_L.offset("parent")
NK_SUBKEY_COUNT = NK_L.offset("subkey_count")
NK_VOLATILE_COUNT = NK_L.offset("volatile_subkey_count")
NK_SUBKEY_LIST = NK_L.offset("subkey_list")
NK_VOLATILE_LIST = NK_L.offset("volatile_subkey_list")
NK_VALUE_COUNT = NK_L.offset("value_count")
NK_VALUE_LIST = NK_L.offset("value_list")
NK_SECURITY = NK_L.offset("security")
NK_CLASS = NK_L.offset("class_cell")
NK_MAX_NAME = NK_L.offset("max_name_len")  # u16 (fmt §5.1)
NK_USER_VIRT = NK_L.offset("user_virt_flags")  # low nibble user flags, high nibble virt.
NK_DEBUG = NK_L.offset("debug")
NK_MAX_CLASS = NK_L.offset("max_class_len")
NK_MAX_VALUE_NAME = NK_L.offset("max_value_name_len")
NK_MAX_VALUE_DATA = NK_L.offset("max_value_data_len")
NK_NAME_LEN = NK_L.offset("name_length")
NK_CLASS_LEN = NK_L.offset("class_length")
NK_NAME = NK_L.size  # the name follows the fixed part

COMP_NAME = int(KeyFlags.COMP_NAME)

_U16 = U16
_U32 = U32
_Q = U64
#: Stable count, volatile count, stable list, volatile list (one read).
_COUNTS = NK_L.pick("subkey_count", "volatile_subkey_count", "subkey_list", "volatile_subkey_list")


def encode_key_name(name: str) -> tuple[bytes, bool]:
    """Stored bytes of a key name and whether they are compressed (fmt §4.9)."""
    if max(name) <= "\xff":
        return name.encode("latin-1"), True
    return name.encode("utf-16-le", "surrogatepass"), False


def utf16_len(name: str) -> int:
    """Length of ``name`` in UTF-16 bytes (what every maximum counts, fmt §5.2)."""
    n = len(name)
    if max(name, default="\0") > "\uffff":
        n += sum(1 for c in name if c > "\uffff")
    return 2 * n


def decode_key_name(raw: bytes | bytearray, compressed: bool) -> str:
    """A stored key name as ``str`` (Latin-1 when compressed, else UTF-16LE)."""
    if compressed:
        return raw.decode("latin-1")
    if len(raw) % 2:
        raw = raw[:-1]
    return bytes(raw).decode("utf-16-le", "surrogatepass")


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def head(buf: bytearray, nk: int) -> tuple[object, ...]:
    """The unpacked fixed part of ``nk`` (field order of :data:`regf.format.fast.NK`)."""
    return NK.unpack_from(buf, BASE + nk + CELL_HEADER)


def check_nk(alloc: Alloc, nk: int) -> None:
    """Raise unless ``nk`` is an allocated cell holding a key node with its whole name."""
    cap = alloc.capacity(nk)
    buf = alloc.image
    start = BASE + nk + CELL_HEADER
    if cap < NK_FIXED_SIZE:
        raise CellError(f"key cell {nk:#x} is too small for a key node", start - CELL_HEADER)
    if buf[start : start + 2] != b"nk":
        raise SignatureError(f"cell {nk:#x} is not an nk", start)
    if NK_FIXED_SIZE + _U16.unpack_from(buf, start + NK_NAME_LEN)[0] > cap:
        raise CellError(f"key cell {nk:#x}: name runs past the cell", start)


def name_of(buf: Any, nk: int) -> str:
    """The name of key node ``nk`` (already checked) in ``buf``, a writer's image or a
    reader's buffer (bytes, mmap or memoryview)."""
    start = BASE + nk + CELL_HEADER
    (n,) = _U16.unpack_from(buf, start + NK_NAME_LEN)
    raw = bytes(buf[start + NK_NAME : start + NK_NAME + n])
    if buf[start + NK_FLAGS] & COMP_NAME:
        return raw.decode("latin-1")
    return decode_key_name(raw, False)


def class_of(buf: bytearray, nk: int) -> str | None:
    """The class string of ``nk`` or None (length 0, or a NIL/0 class cell, fmt §4.7)."""
    start = BASE + nk + CELL_HEADER
    (cell,) = _U32.unpack_from(buf, start + NK_CLASS)
    (length,) = _U16.unpack_from(buf, start + NK_CLASS_LEN)
    if not length or cell in (HCELL_NIL, 0):
        return None
    at = BASE + cell + CELL_HEADER
    return decode_key_name(buf[at : at + length], False)


def u32(buf: bytearray, nk: int, off: int) -> int:
    """The u32 field at ``off`` of ``nk``'s data."""
    return int(_U32.unpack_from(buf, BASE + nk + CELL_HEADER + off)[0])


def counts(buf: bytearray, nk: int) -> tuple[int, int, int, int]:
    """(stable count, volatile count, stable list, volatile list) of ``nk``."""
    return _COUNTS.unpack_from(buf, BASE + nk + CELL_HEADER)


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def set_u32(alloc: Alloc, nk: int, off: int, value: int) -> None:
    """Store a u32 field of ``nk``."""
    alloc.write(nk, off, _U32.pack(value))


def set_time(alloc: Alloc, nk: int, filetime: int) -> None:
    """Store ``nk``'s last written FILETIME."""
    alloc.write(nk, NK_LAST_WRITTEN, _Q.pack(filetime))


def set_list(alloc: Alloc, nk: int, volatile: bool, count: int, lst: int) -> None:
    """Store a subkey count and list of ``nk``: the stable pair, or the volatile pair."""
    at = NK_VOLATILE_COUNT if volatile else NK_SUBKEY_COUNT
    # count, the other count's field (written as 0, as it always was), list
    pair = bytearray(NK_SUBKEY_LIST + 4 - NK_SUBKEY_COUNT)
    _U32.pack_into(pair, 0, count)
    _U32.pack_into(pair, NK_SUBKEY_LIST - NK_SUBKEY_COUNT, lst)
    alloc.write(nk, at, pair)


def new_nk(
    alloc: Alloc,
    name: str,
    *,
    parent: int,
    security: int,
    flags: int,
    timestamp: int,
    class_raw: bytes = b"",
) -> int:
    """Allocate and fill a key node; return its cell index.

    ``flags`` are the extra nk flags (``KEY_COMP_NAME`` is computed here). The node is
    allocated first, then its class cell (ReactOS ``CmpDoCreateChild`` order). The
    caller has already taken the reference on ``security``.
    """
    stored, compressed = encode_key_name(name)
    nk: int = alloc.alloc(NK_FIXED_SIZE + len(stored))
    class_cell = HCELL_NIL
    if class_raw:
        class_cell = alloc.alloc(len(class_raw))
        alloc.write(class_cell, 0, class_raw)
    f = (flags & ~COMP_NAME) | (COMP_NAME if compressed else 0)
    data = NK.pack(
        b"nk",
        f,
        timestamp,
        0,
        0,
        0,
        parent,
        0,
        0,
        HCELL_NIL,
        HCELL_NIL,
        0,
        HCELL_NIL,
        security,
        class_cell,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        len(stored),
        len(class_raw),
    )
    alloc.write(nk, 0, data + stored)
    return nk


def raise_maxima(alloc: Alloc, nk: int, name_bytes: int, class_bytes: int) -> None:
    """Raise ``nk``'s MaxNameLen (low 16 bits of +0x34 only) and MaxClassLen (fmt §5.2)."""
    buf = alloc.image
    start = BASE + nk + CELL_HEADER
    (cur,) = _U16.unpack_from(buf, start + NK_MAX_NAME)
    if name_bytes > cur:
        alloc.write(nk, NK_MAX_NAME, _U16.pack(min(name_bytes, 0xFFFF)))
    (cur,) = _U32.unpack_from(buf, start + NK_MAX_CLASS)
    if class_bytes > cur:
        alloc.write(nk, NK_MAX_CLASS, _U32.pack(class_bytes))


def touch_parent(
    alloc: Alloc,
    nk: int,
    *,
    timestamp: int,
    stable_list: tuple[int, int] | None = None,
    name_bytes: int = 0,
    class_bytes: int = 0,
) -> None:
    """One write for what creating a subkey changes in its parent (fmt §5.2, §8.1):
    the last written time, optionally the stable (count, list) pair, and the
    MaxNameLen (low 16 bits of +0x34 only) / MaxClassLen high-water marks."""
    buf = alloc.image
    start = BASE + nk + CELL_HEADER
    part = bytearray(buf[start + NK_LAST_WRITTEN : start + NK_MAX_CLASS + 4])
    base = NK_LAST_WRITTEN
    _Q.pack_into(part, 0, timestamp)
    if stable_list is not None:
        count, lst = stable_list
        _U32.pack_into(part, NK_SUBKEY_COUNT - base, count)
        _U32.pack_into(part, NK_SUBKEY_LIST - base, lst)
    (cur,) = _U16.unpack_from(part, NK_MAX_NAME - base)
    if name_bytes > cur:
        _U16.pack_into(part, NK_MAX_NAME - base, min(name_bytes, 0xFFFF))
    (cur,) = _U32.unpack_from(part, NK_MAX_CLASS - base)
    if class_bytes > cur:
        _U32.pack_into(part, NK_MAX_CLASS - base, class_bytes)
    alloc.write(nk, NK_LAST_WRITTEN, part)


def reset_maxima(alloc: Alloc, nk: int) -> None:
    """MaxNameLen and MaxClassLen back to 0 (the last subkey went away, fmt §5.2)."""
    alloc.write(nk, NK_MAX_NAME, b"\0\0")
    alloc.write(nk, NK_MAX_CLASS, b"\0\0\0\0")


def rename_nk(alloc: Alloc, nk: int, new_name: str) -> int:
    """Store ``new_name`` in ``nk``; return the node's (possibly new) cell index.

    The cell is kept when the new name fits its capacity, otherwise reallocated (the
    whole node is copied, the old cell freed): the caller must then repoint the parent's
    list entry and every child's parent field.
    """
    stored, compressed = encode_key_name(new_name)
    new: int = alloc.realloc(nk, NK_FIXED_SIZE + len(stored))
    buf = alloc.image
    start = BASE + new + CELL_HEADER
    (flags,) = _U16.unpack_from(buf, start + NK_FLAGS)
    flags = (flags & ~COMP_NAME) | (COMP_NAME if compressed else 0)
    alloc.write(new, NK_FLAGS, _U16.pack(flags))
    alloc.write(new, NK_NAME_LEN, _U16.pack(len(stored)))
    old_len = alloc.capacity(new) - NK_FIXED_SIZE
    # Zero what the old, longer name leaves behind: deterministic bytes, no remnants.
    alloc.write(new, NK_NAME, stored + bytes(max(0, old_len - len(stored))))
    return new


def set_class(alloc: Alloc, nk: int, class_raw: bytes) -> None:
    """Replace ``nk``'s class cell with one holding ``class_raw`` (b"" removes it).

    The old cell is reused when the new string fits, else a new cell is allocated before
    the old one is freed (realloc semantics, fmt §8.1).
    """
    buf = alloc.image
    start = BASE + nk + CELL_HEADER
    (old,) = _U32.unpack_from(buf, start + NK_CLASS)
    (old_len,) = _U16.unpack_from(buf, start + NK_CLASS_LEN)
    has_old = old_len != 0 and old not in (HCELL_NIL, 0)
    if not class_raw:
        cell = HCELL_NIL
        if has_old:
            alloc.free(old)
    elif has_old and len(class_raw) <= alloc.capacity(old):
        cell = old
        cap = alloc.capacity(old)
        alloc.write(old, 0, class_raw + bytes(cap - len(class_raw)))
    else:
        cell = alloc.alloc(len(class_raw))
        alloc.write(cell, 0, class_raw)
        if has_old:
            alloc.free(old)
    alloc.write(nk, NK_CLASS, _U32.pack(cell))
    alloc.write(nk, NK_CLASS_LEN, _U16.pack(len(class_raw)))


def free_nk(alloc: Alloc, nk: int) -> None:
    """Free ``nk``'s class cell and the node itself (lists, values and sk are the
    caller's: they are released first)."""
    buf = alloc.image
    start = BASE + nk + CELL_HEADER
    (cls,) = _U32.unpack_from(buf, start + NK_CLASS)
    (cls_len,) = _U16.unpack_from(buf, start + NK_CLASS_LEN)
    if cls_len and cls not in (HCELL_NIL, 0):
        alloc.free(cls)
    alloc.free(nk)


__all__ = [
    "COMP_NAME",
    "NK_CLASS",
    "NK_CLASS_LEN",
    "NK_DEBUG",
    "NK_FLAGS",
    "NK_LAST_WRITTEN",
    "NK_MAX_CLASS",
    "NK_MAX_NAME",
    "NK_MAX_VALUE_DATA",
    "NK_MAX_VALUE_NAME",
    "NK_NAME",
    "NK_NAME_LEN",
    "NK_PARENT",
    "NK_SECURITY",
    "NK_SUBKEY_COUNT",
    "NK_SUBKEY_LIST",
    "NK_USER_VIRT",
    "NK_VALUE_COUNT",
    "NK_VALUE_LIST",
    "NK_VOLATILE_COUNT",
    "NK_VOLATILE_LIST",
    "check_nk",
    "class_of",
    "counts",
    "decode_key_name",
    "encode_key_name",
    "free_nk",
    "head",
    "name_of",
    "new_nk",
    "raise_maxima",
    "rename_nk",
    "reset_maxima",
    "set_class",
    "set_list",
    "set_time",
    "set_u32",
    "touch_parent",
    "u32",
]
