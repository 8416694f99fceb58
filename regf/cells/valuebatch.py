"""Many values of one key set at once: the bulk check and the packed C call.

:func:`set_values` is :func:`regf.cells.values.set_value` for each item in order, with
every item checked before anything is written; :func:`quick_batch` is the whole bulk
check for raw ``(name, bytes, type)`` items (a few passes in C over the batch), and
:func:`set_batch` hands a packed :class:`Batch` to the C allocator's
``set_values_fast`` (the Python function decides each value C declines).
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Sequence
from typing import NamedTuple

from ..errors import InvalidArgumentError
from ..format.fast import u32_array
from .values import (
    _HALF_NAME,
    BIG,
    CellAllocator,
    _check_args,
    _check_nk,
    _set_value_py,
    _timestamp,
    hive_minor,
    set_value,
)


class Batch(NamedTuple):
    """Checked values packed for one bulk set: the items as given plus the byte strings
    the C bulk call reads (:meth:`regf.cells.alloc.CCellAllocator.set_values_fast`)."""

    names: Sequence[str]
    types: Sequence[int]
    datas: Sequence[bytes]
    names16: bytes | None
    """The names in UTF-16LE, each ended by a NUL unit except the last (None when a
    name holds a NUL, rare: the values are then set one by one)."""
    data: bytes
    """The data, back to back."""
    meta: bytes
    """Two u32 LE arrays of one entry per value: the types, the data sizes."""


_META: dict[int, struct.Struct] = {}
#: str.encode("utf-16-le", ...) without its codec lookup by name (4x faster on a short
#: text, once per set_values batch); the same codec function, so the same bytes.
_utf16 = codecs.utf_16_le_encode
_new_batch = tuple.__new__  # Batch without its generated __new__ (a third of the cost)


def _meta(n: int) -> struct.Struct:
    """The packer of a batch's meta: ``n`` types then ``n`` data sizes, one u32 array of
    ``2 * n`` (:func:`regf.format.fast.u32_array`). Cached per ``n``, every size."""
    st = _META.get(n)
    if st is None:
        st = _META[n] = u32_array(2 * n)
    return st


def _batch(
    names: Sequence[str], types: Sequence[int], datas: Sequence[bytes], data: bytes, text: str
) -> Batch | None:
    """Pack values that passed the checks but for the types' range (None when a type is
    not a u32). ``data`` is ``datas`` joined, ``text`` the names joined by NULs."""
    # NUL-separated names: C finds each name's length itself, cheaper than passing a
    # length per value; a name holding a NUL is legal but rare and gets no batch.
    names16 = None if text.count("\0") >= len(names) else _utf16(text, "surrogatepass")[0]
    try:
        meta = _meta(len(names)).pack(*types, *map(len, datas))
    except struct.error:  # a type beyond u32
        return None
    return _new_batch(Batch, (names, types, datas, names16, data, meta))


def quick_batch(items: object, raw_types: frozenset[type]) -> Batch | None:
    """``items`` packed when it is a non-empty list or tuple of ``(name, data, type)``
    tuples that all pass :func:`_check_args` as given (str names of at most 8191
    characters, bytes of at most 16344, u32 types); None for anything else, which the
    caller converts and checks item by item. ``raw_types`` holds ``tuple``, ``bytes``
    and the classes a type may have (``int`` and the enum; never ``bool``).

    This is the whole bulk check: a few passes in C over the batch instead of one Python
    check per value (the 20,000 keys x 10 values benchmark runs it once per key).
    """
    if items.__class__ is not list and items.__class__ is not tuple:
        return None
    try:
        # strict, and three names on the left: every item has exactly 3 fields
        names, datas, types = zip(*items, strict=True)
        data = b"".join(datas)  # every data is a buffer
        text = "\0".join(names)  # every name is a str
    except (TypeError, ValueError):
        return None
    # One class check for the items, data and types together: each field's own test
    # above or in _batch's pack already rules out the allowed classes that are not its
    # own (a tuple datum fails the join, a bytes or tuple type the pack), so the union
    # needs only to fall inside the allowed set.
    if not {*map(type, items), *map(type, datas), *map(type, types)} <= raw_types:
        return None
    if len(data) > BIG and max(map(len, datas)) > BIG:
        return None
    if len(text) > _HALF_NAME and max(map(len, names)) > _HALF_NAME:
        return None
    return _batch(names, types, datas, data, text)  # None for a type beyond u32


def set_values(
    alloc: CellAllocator,
    nk: int,
    names: Sequence[str],
    types: Sequence[int],
    datas: Sequence[bytes | bytearray | memoryview],
    *,
    minor: int | None = None,
    timestamp: int | None = None,
) -> None:
    """:func:`set_value` for each ``(names[k], types[k], datas[k])``, in order.

    The result is byte for byte that of the same calls one by one (a later name equal to
    an earlier one replaces it), with one ``timestamp`` for all. Every item is checked
    first: a bad name, type or data raises before anything is written. With the C
    allocator the batch is one C call (``set_values_fast``), which hands any value it
    declines back to the Python function, the specification.
    """
    if not len(names) == len(types) == len(datas):
        raise InvalidArgumentError("set_values needs as many names, types and data")
    if minor is None:
        minor = hive_minor(alloc)
    checked = [_check_args(n, t, r, minor) for n, t, r in zip(names, types, datas, strict=True)]
    _check_nk(alloc, nk)
    batch = _batch(names, types, checked, b"".join(checked), "\0".join(names))
    assert batch is not None  # _check_args checked the types
    set_batch(alloc, nk, batch, minor, _timestamp(timestamp))


def set_batch(alloc: CellAllocator, nk: int, batch: Batch, minor: int, timestamp: int) -> None:
    """:func:`set_values` of a :class:`Batch` (from :func:`quick_batch` or
    :func:`set_values`) with a checked ``timestamp``; the nk is checked on the way (by C,
    which declines a bad one, or by the Python function)."""
    names, types, datas = batch.names, batch.types, batch.datas
    fast = getattr(alloc, "set_values_fast", None)
    names16 = batch.names16
    if fast is not None and names16 is not None:
        k = fast(nk, names16, batch.data, batch.meta, timestamp, True)
        if k >= 0:
            while k < len(names):
                # C declined value k and changed nothing of it: the Python function decides
                _set_value_py(alloc, nk, names[k], types[k], datas[k], minor, timestamp)
                k = fast(nk, names16, batch.data, batch.meta, timestamp, False)
            return
    # no C call for this batch: every value in Python
    for k, name in enumerate(names):
        set_value(alloc, nk, name, types[k], datas[k], minor=minor, timestamp=timestamp)


__all__ = ["Batch", "quick_batch", "set_batch", "set_values"]
