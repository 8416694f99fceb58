"""Value write operations: converting Python data to stored bytes, set and delete.

Each function takes a :class:`~regf.model.keys.Key` of an editable hive and edits its
value list through :mod:`regf.cells.values` (the C allocator's calls when it has them,
the Python functions there being their specification). On a read-only hive they raise
:class:`~regf.errors.ReadOnlyError`. ``set_value`` and ``set_values`` take the hive's
mutex themselves (see :mod:`regf.model.autoflush`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from time import time_ns
from typing import Any

from ..cells import valuebatch
from ..cells import values as cellvalues
from ..cells.alloc import CREATED
from ..errors import InvalidArgumentError, ValueNotFoundError
from ..format.constants import BASE, ValueType
from ..format.fast import CELL_HEADER, VK
from .keyops import Timestamp, editing, to_filetime
from .timestamps import EPOCH_FILETIME, now_filetime
from .values import Value

_STRING_TYPES = (ValueType.REG_SZ, ValueType.REG_EXPAND_SZ)

#: Classes of items (tuple), data (bytes) and of a type taken as they are by
#: set_values' bulk check.
RAW_TYPES = frozenset({tuple, bytes, int, ValueType})

#: Classes of an explicit type that the fast path takes as they are.
_FAST_TYPE_CLASSES = frozenset({int, ValueType})

#: Longest value name (characters) given to the C set_value (csrc/alloc.h REGF_SV_MAX_UNITS).
FAST_NAME = 255

_INT_SIZES = {
    ValueType.REG_DWORD: (4, "little"),
    ValueType.REG_DWORD_BIG_ENDIAN: (4, "big"),
    ValueType.REG_QWORD: (8, "little"),
}


def _sz(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{what} data must be str, not {type(text).__name__}")
    if "\0" in text:
        raise InvalidArgumentError(f"{what} string contains a NUL character")
    return text.encode("utf-16-le", "surrogatepass")


def encode_value(data: object, vtype: int | None = None) -> tuple[int, bytes]:
    """The ``(type, raw bytes)`` stored for ``data``.

    ``bytes``-like data is stored as is (type ``vtype``, default ``REG_BINARY``). Otherwise
    the type is ``vtype`` or inferred: ``str`` -> ``REG_SZ`` (UTF-16LE plus a NUL),
    ``list[str]`` -> ``REG_MULTI_SZ`` (each string NUL-terminated, then a final NUL),
    ``int`` -> ``REG_DWORD`` below ``2**32``, else ``REG_QWORD``. With an explicit type,
    ``str`` suits REG_SZ/REG_EXPAND_SZ (NUL added) and REG_LINK (no NUL), ``list[str]``
    REG_MULTI_SZ, ``int`` REG_DWORD, REG_DWORD_BIG_ENDIAN and REG_QWORD.
    """
    if vtype is not None:
        if isinstance(vtype, bool) or not isinstance(vtype, int) or not 0 <= vtype <= 0xFFFFFFFF:
            raise InvalidArgumentError(f"value type must be a u32, not {vtype!r}")
        vtype = int(vtype)
    if isinstance(data, bytes | bytearray | memoryview):
        return (ValueType.REG_BINARY if vtype is None else vtype), bytes(data)
    if vtype is None:
        if isinstance(data, str):
            vtype = ValueType.REG_SZ
        elif isinstance(data, list | tuple):
            vtype = ValueType.REG_MULTI_SZ
        elif isinstance(data, int):
            vtype = ValueType.REG_DWORD if 0 <= data < 1 << 32 else ValueType.REG_QWORD
        else:
            raise InvalidArgumentError(f"cannot store {type(data).__name__} as a value")
    if vtype in _STRING_TYPES:
        return vtype, _sz(data, "string") + b"\0\0"
    if vtype == ValueType.REG_LINK:
        return vtype, _sz(data, "link")
    if vtype == ValueType.REG_MULTI_SZ:
        if not isinstance(data, list | tuple):
            raise InvalidArgumentError("REG_MULTI_SZ data must be a list of str")
        return vtype, b"".join(_sz(s, "multi-string") + b"\0\0" for s in data) + b"\0\0"
    if vtype in _INT_SIZES:
        if not isinstance(data, int):
            raise InvalidArgumentError(f"{ValueType(vtype).name} data must be int or bytes")
        size, order = _INT_SIZES[ValueType(vtype)]
        if not 0 <= data < 1 << (8 * size):
            raise InvalidArgumentError(f"{data} does not fit a {ValueType(vtype).name}")
        return vtype, data.to_bytes(size, order)  # type: ignore[arg-type]
    raise InvalidArgumentError(
        f"{type(data).__name__} data needs raw bytes for type {ValueType(vtype).name}"
    )


def snapshot(buf: Any, vk: int, vtype: int, raw: bytes) -> Value:
    """The :class:`Value` just stored in vk cell ``vk`` (its stored name's case)."""
    return Value.snapshot(
        cellvalues.vk_name(buf, vk), vtype, raw, vk, VK.unpack_from(buf, BASE + vk + CELL_HEADER)
    )


def set_value(
    key: Any, name: str, data: object, type: int | None = None, *, timestamp: Timestamp = None
) -> Value:
    """Create or replace the value ``name`` ("" is the default value); ``Key.set_value``.

    ``data`` is raw bytes (stored as is, type ``type`` or REG_BINARY) or a Python
    value converted by :func:`encode_value`. Replacing keeps the existing value's name
    case and position. The key's last written time becomes ``timestamp`` (default now).
    """
    with key._hive._mutex:  # SELF_LOCKED: see regf.model.autoflush
        hive = editing(key)
        a = hive._alloc if not key._vol else hive._space(True)
        if (
            data.__class__ is bytes
            and name.__class__ is str
            and type.__class__ in _FAST_TYPE_CLASSES  # not bool, not None
            and 0 <= type <= 0xFFFFFFFF  # type: ignore[operator]
            and len(data) <= cellvalues.BIG
            and len(name) <= FAST_NAME
        ):
            # Raw bytes of an explicit type (what bulk writers, .reg import and most
            # callers pass): straight to the C allocator's set_value when it has one (the
            # Python function below is its specification and runs whenever C declines).
            # This is the per-value cost of a build, so it is kept to the bare calls.
            fast = getattr(a, "set_value_fast", None)
            if fast is not None:
                vt = type if type.__class__ is int else int(type)  # type: ignore[arg-type]
                ft = (
                    EPOCH_FILETIME + time_ns() // 100
                    if timestamp is None
                    else to_filetime(timestamp)
                )
                vk = fast(key._cell, name, vt, data, ft)
                if vk >= CREATED:
                    # a new value: its name is the one given (no read back on the bulk path)
                    hive._modified = True
                    return Value.snapshot(name, vt, data, vk - CREATED, None)
                if vk >= 0:
                    hive._modified = True
                    # a replaced value keeps its stored name's case
                    return snapshot(a.image, vk, vt, data)
        if not isinstance(name, str):
            raise InvalidArgumentError(f"value name must be str, not {name.__class__.__name__}")
        vtype, raw = encode_value(data, type)
        ft = now_filetime() if timestamp is None else to_filetime(timestamp)
        # cells.values checks the name's length, the type and the data size (the format's
        # limits) before it touches the image.
        vk = cellvalues.set_value(a, key._cell, name, vtype, raw, minor=hive.minor, timestamp=ft)
        hive._modified = True
        return snapshot(a.image, vk, vtype, raw)


def set_values(
    key: Any, values: Mapping[str, object] | Iterable[tuple[Any, ...]], timestamp: Timestamp
) -> None:
    """``Key.set_values``: create or replace several values at once, in order.

    ``values`` maps names to data, or is a sequence of ``(name, data)`` or
    ``(name, data, type)``; each is converted as :func:`set_value` converts it. The
    result is exactly that of calling :func:`set_value` for each in turn with one
    ``timestamp``, except that every item is checked before anything is written: a bad
    name, type or data raises and leaves the key unchanged.
    """
    with key._hive._mutex:  # SELF_LOCKED: see regf.model.autoflush
        hive = editing(key)
        batch = valuebatch.quick_batch(values, RAW_TYPES)
        if batch is not None:
            # raw (name, bytes, int type) tuples, all checked at once (what bulk writers
            # and the write benchmark pass); anything else is converted item by item
            ft = now_filetime() if timestamp is None else to_filetime(timestamp)
            valuebatch.set_batch(hive._space(key._vol), key._cell, batch, hive.minor, ft)
            hive._modified = True
            return
        _set_items(hive, key, values, timestamp)


def _set_items(
    hive: Any,
    key: Any,
    values: Mapping[str, object] | Iterable[tuple[Any, ...]],
    timestamp: Timestamp,
) -> None:
    """set_values item by item (any item form set_value takes), mutex held."""
    a = hive._space(key._vol)
    pairs = values.items() if isinstance(values, Mapping) else values
    names: list[str] = []
    types: list[int] = []
    datas: list[bytes] = []
    add_name, add_type, add_data = names.append, types.append, datas.append
    for item in pairs:
        if not isinstance(item, tuple) or not 2 <= len(item) <= 3:
            raise InvalidArgumentError("set_values wants (name, data) or (name, data, type) items")
        vt, raw = encode_value(item[1], item[2] if len(item) == 3 else None)
        add_name(item[0])
        add_type(vt)
        add_data(raw)
    ft = now_filetime() if timestamp is None else to_filetime(timestamp)
    valuebatch.set_values(a, key._cell, names, types, datas, minor=hive.minor, timestamp=ft)
    if names:
        hive._modified = True


def delete_value(key: Any, name: str, timestamp: Timestamp) -> None:
    """``Key.delete_value``: delete the value ``name``; ValueNotFoundError if none."""
    hive = editing(key)
    if not isinstance(name, str):
        raise InvalidArgumentError("value name must be str")
    ft = to_filetime(timestamp)
    if not cellvalues.delete_value(hive._space(key._vol), key._cell, name, timestamp=ft):
        raise ValueNotFoundError(f"no value {name!r} in {key.path!r}")
    hive._modified = True


__all__ = ["FAST_NAME", "RAW_TYPES", "delete_value", "encode_value", "set_value", "set_values"]
