"""Key storage behind the NT layer: the model's editable keys for stable keys of loaded
hives, and :class:`MemKey` for everything that lives only in memory (the master hive
``\\REGISTRY``, ``\\REGISTRY\\MACHINE``, ``\\REGISTRY\\USER`` and volatile keys).

Keys of loaded hives, stable or volatile, are the model's ``EditKey`` (which keeps the nk
maxima as high-water marks and volatile keys in memory-only cell space, enumerating
stable subkeys first as Windows does). The master hive is not a hive file at all, so its
keys are :class:`MemKey` objects with the same facts. This module gives the rest of
``regf.nt`` one view over both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._accel import sort_key, upcase
from ..format.constants import MAX_KEY_NAME, MAX_VALUE_NAME, KeyFlags
from ..model.serialize import now_filetime


def units(text: str) -> int:
    """UTF-16 code units in ``text`` (surrogate pairs count 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def wide_len(text: str | None) -> int:
    """Bytes of ``text`` as UTF-16 (what every reported length counts, fmt §4.9)."""
    return 2 * units(text) if text else 0


@dataclass
class MemValue:
    """A value of a :class:`MemKey`."""

    name: str
    type_: int
    raw: bytes


class MemKey:
    """A key that exists only in memory (volatile storage).

    Keeps the same facts an nk holds, including the maxima as high-water marks that drop
    to 0 only when the last child/value goes (fmt §5.2).
    """

    volatile = True

    def __init__(
        self,
        name: str,
        parent: MemKey | None = None,
        *,
        class_name: str | None = None,
        security: bytes = b"",
        timestamp: int | None = None,
    ) -> None:
        self.name = name
        self.parent = parent
        self.class_name = class_name or None
        self.security_raw = security
        self.last_written_raw = now_filetime() if timestamp is None else timestamp
        self.flags = KeyFlags(0)
        self.children: dict[str, MemKey] = {}
        self.value_map: dict[str, MemValue] = {}
        self.deleted = False
        self.max_name_len = 0
        self.max_class_len = 0
        self.max_value_name_len = 0
        self.max_value_data_len = 0
        # The packed nk dword at +0x34 (fmt §5.1), kept for KEY_FLAGS_INFORMATION.
        self.user_flags = 0
        self.virt_flags = 0
        self.debug = 0

    def subkeys(self) -> list[MemKey]:
        """Children in Windows order (upcased, ordinal)."""
        return [self.children[k] for k in sorted(self.children, key=sort_key)]

    def subkey(self, name: str) -> MemKey | None:
        """The child called ``name`` (case-insensitive) or None."""
        return self.children.get(upcase(name))

    def values(self) -> list[MemValue]:
        """Values in creation order."""
        return list(self.value_map.values())

    def create_child(self, name: str, class_name: str | None, timestamp: int) -> MemKey:
        """A new volatile child (the caller checked that none exists)."""
        child = MemKey(
            name, self, class_name=class_name, security=self.security_raw, timestamp=timestamp
        )
        self.children[upcase(name)] = child
        self.note_child(name, class_name)
        self.last_written_raw = timestamp
        return child

    def note_child(self, name: str, class_name: str | None) -> None:
        """Raise the subkey maxima for a child called ``name``."""
        self.max_name_len = max(self.max_name_len, wide_len(name))
        self.max_class_len = max(self.max_class_len, wide_len(class_name))

    def remove_child(self, child: MemKey, timestamp: int) -> None:
        """Unlink ``child`` (no subkeys of its own)."""
        del self.children[upcase(child.name)]
        child.deleted = True
        if not self.children:
            self.max_name_len = self.max_class_len = 0
        self.last_written_raw = timestamp

    def set_value(self, name: str, vtype: int, raw: bytes, timestamp: int) -> None:
        """Create or replace a value (keeps the existing name's case and position)."""
        v = self.value_map.get(upcase(name))
        if v is None:
            self.value_map[upcase(name)] = MemValue(name, vtype, raw)
        else:
            v.type_, v.raw = vtype, raw
        self.max_value_name_len = max(self.max_value_name_len, wide_len(name))
        self.max_value_data_len = max(self.max_value_data_len, len(raw))
        self.last_written_raw = timestamp

    def delete_value(self, name: str, timestamp: int) -> bool:
        """Delete a value; False if there is none."""
        if self.value_map.pop(upcase(name), None) is None:
            return False
        if not self.value_map:
            self.max_value_name_len = self.max_value_data_len = 0
        self.last_written_raw = timestamp
        return True

    def rename(self, new_name: str, timestamp: int) -> None:
        """Rename within the parent."""
        parent = self.parent
        if parent is not None:
            del parent.children[upcase(self.name)]
            parent.children[upcase(new_name)] = self
            parent.note_child(new_name, None)
            parent.last_written_raw = timestamp
        self.name = new_name
        self.last_written_raw = timestamp

    def __repr__(self) -> str:
        return f"<MemKey {self.name!r}>"


# ---------------------------------------------------------------------------------------
# One view over EditKey (stable) and MemKey (volatile)
# ---------------------------------------------------------------------------------------


def is_volatile(key: Any) -> bool:
    """Whether ``key`` is volatile (in memory only)."""
    return bool(getattr(key, "volatile", False))


def key_name(key: Any) -> str:
    """The key's name as stored."""
    return str(key.name)


def class_name(key: Any) -> str | None:
    """The key's class or None."""
    return key.class_name or None


def flags(key: Any) -> int:
    """nk flags (KEY_SYM_LINK, ...)."""
    return int(key.flags)


def is_link(key: Any) -> bool:
    """Whether the key is a symbolic link (KEY_SYM_LINK, fmt §4.1)."""
    return bool(flags(key) & KeyFlags.SYM_LINK)


def mark_link(key: Any) -> None:
    """Set KEY_SYM_LINK on a key just created with REG_OPTION_CREATE_LINK."""
    if isinstance(key, MemKey):
        key.flags |= KeyFlags.SYM_LINK
    else:
        key.extra_flags = int(key.extra_flags) | KeyFlags.SYM_LINK


_VIRT_BITS = (KeyFlags.VIRTUAL_TARGET, KeyFlags.VIRTUAL_STORE, KeyFlags.VIRTUAL_SOURCE)


def virtualization(key: Any) -> tuple[bool, bool, bool]:
    """(VirtualTarget, VirtualStore, VirtualSource) from the nk flags."""
    f = flags(key)
    return (
        bool(f & KeyFlags.VIRTUAL_TARGET),
        bool(f & KeyFlags.VIRTUAL_STORE),
        bool(f & KeyFlags.VIRTUAL_SOURCE),
    )


def set_virtualization(key: Any, bits: int) -> None:
    """KEY_SET_VIRTUALIZATION_INFORMATION: bit 0 VirtualTarget, 1 VirtualStore,
    2 VirtualSource -> the nk flags of the same names."""
    new = 0
    for i, flag in enumerate(_VIRT_BITS):
        if bits >> i & 1:
            new |= flag
    if isinstance(key, MemKey):
        key.flags = (key.flags & ~(_VIRT_BITS[0] | _VIRT_BITS[1] | _VIRT_BITS[2])) | new
    else:
        cur = int(key.extra_flags) & ~int(_VIRT_BITS[0] | _VIRT_BITS[1] | _VIRT_BITS[2])
        key.extra_flags = cur | new


def packed(key: Any) -> tuple[int, int, int]:
    """(user_flags, virt_flags, debug) of the nk dword at +0x34."""
    return int(key.user_flags), int(key.virt_flags), int(key.debug)


def last_written(key: Any) -> int:
    """LastWriteTime as a FILETIME int."""
    return int(key.last_written_raw)


def children(key: Any) -> list[Any]:
    """Subkeys in enumeration order: stable ones in Windows order, then volatile ones
    (Windows indexes the stable list first, then the volatile list)."""
    return list(key.subkeys())


def find_child(key: Any, name: str) -> Any | None:
    """The subkey called ``name`` (case-insensitive) or None."""
    if isinstance(key, MemKey):
        return key.subkey(name)
    try:
        return key.subkey(name)
    except KeyError:  # KeyNotFoundError
        return None


def child_count(key: Any) -> int:
    """Stable + volatile subkeys (what KEY_FULL_INFORMATION.SubKeys reports)."""
    if isinstance(key, MemKey):
        return len(key.children)
    return int(key.subkey_count) + int(key.volatile_subkey_count)


def iter_values(key: Any) -> Iterator[tuple[str, int, bytes]]:
    """(name, type, raw data) of each value in stored order."""
    for v in key.values():
        yield str(v.name), int(v.type_), bytes(v.raw)


def value_list(key: Any) -> list[tuple[str, int, bytes]]:
    """All values as (name, type, raw data)."""
    return list(iter_values(key))


def find_value(key: Any, name: str) -> tuple[str, int, bytes] | None:
    """The value called ``name`` (case-insensitive) or None."""
    if isinstance(key, MemKey):
        v = key.value_map.get(upcase(name))
        return None if v is None else (v.name, v.type_, v.raw)
    try:
        ev = key.value(name)
    except KeyError:  # ValueNotFoundError
        return None
    return str(ev.name), int(ev.type_), bytes(ev.raw)


def value_count(key: Any) -> int:
    """Number of values."""
    if isinstance(key, MemKey):
        return len(key.value_map)
    return int(key.value_count)


@dataclass
class Maxima:
    """The four nk maxima, in bytes (fmt §5)."""

    name: int
    class_: int
    value_name: int
    value_data: int


def maxima(key: Any) -> Maxima:
    """The key's nk maxima (high-water marks, fmt §5.2)."""
    return Maxima(
        int(key.max_name_len),
        int(key.max_class_len),
        int(key.max_value_name_len),
        int(key.max_value_data_len),
    )


def check_key_name(name: str) -> bool:
    """Whether ``name`` is a legal key name component (1..255 units, no backslash)."""
    return 1 <= units(name) <= MAX_KEY_NAME and "\\" not in name


def check_value_name(name: str) -> bool:
    """Whether ``name`` is a legal value name (at most 16383 units)."""
    return units(name) <= MAX_VALUE_NAME


__all__ = [
    "Maxima",
    "MemKey",
    "MemValue",
    "check_key_name",
    "check_value_name",
    "child_count",
    "children",
    "class_name",
    "find_child",
    "find_value",
    "flags",
    "is_link",
    "is_volatile",
    "iter_values",
    "key_name",
    "last_written",
    "mark_link",
    "packed",
    "set_virtualization",
    "virtualization",
    "maxima",
    "units",
    "value_count",
    "value_list",
    "wide_len",
]
