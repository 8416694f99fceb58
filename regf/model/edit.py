"""Editable hives: an in-memory key tree that is serialized to a complete new file on save.

**First version, by design.** Editing does *not* touch hive bytes: opening a hive for
editing (``regf.open(path, mode="r+")``) reads the whole tree through the reader into
memory (names, classes, timestamps, security descriptors, flags, user/virtualization/debug
bits, every value's type and exact raw bytes), and every change is made on that tree.
Saving runs :func:`regf.model.serialize.serialize`, which writes a clean, compact hive,
atomically (:func:`regf.storage.files.write_new_file`). Consequences:

* ``regf.create(path)`` writes ``path`` when the hive is closed (or the ``with`` block
  ends without an exception) and on :meth:`EditHive.flush`.
* ``regf.open(path, mode="r+")`` **never writes in place**: in-place, byte-level editing
  with transaction logs (and so :meth:`EditHive.flush` for such hives) is the next step.
  For now :meth:`EditHive.flush` raises :class:`~regf.errors.HiveStateError` and closing
  discards unsaved changes; save them with :meth:`EditHive.save_as`, which refuses to
  overwrite the file the hive was opened from.
* The output layout is the serializer's (sorted, packed, one shared ``sk`` per distinct
  descriptor), not the original file's: cell offsets, free space, slack bytes, stale
  volatile counts and Win8+ access bits are not preserved; everything a reader sees
  through the key/value API is.

Names compare case-insensitively with Windows' rules (:func:`regf._accel.upcase`); a key
keeps the case it was created with. Timestamps are FILETIMEs (100 ns ticks since 1601):
creating or deleting a key sets its parent's last written time (and a new key's own),
renaming sets the key's and its parent's, setting or deleting a value sets the key's;
each of these calls takes an optional ``timestamp=`` (FILETIME ``int`` or aware
``datetime``) and otherwise uses the current time. Assigning ``class_name`` or
``security_raw`` leaves timestamps alone (use :meth:`EditKey.touch`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from .._accel import sort_key, upcase
from ..errors import (
    HiveStateError,
    InvalidArgumentError,
    KeyNotFoundError,
    RegfError,
    StructureError,
    ValueNotFoundError,
)
from ..format.constants import MAX_DEPTH, MAX_KEY_NAME, MAX_VALUE_NAME, KeyFlags, ValueType
from ..storage.files import Source, write_new_file
from .decode import decode
from .keys import filetime
from .serialize import DEFAULT_SECURITY, EPOCH_FILETIME, now_filetime, serialize
from .spec import KeySpec, ValueSpec

#: Flags the serializer computes (or that cannot be written); not kept as "extra" flags.
_DROP_FLAGS = (
    KeyFlags.COMP_NAME
    | KeyFlags.HIVE_ENTRY
    | KeyFlags.VOLATILE
    | KeyFlags.HIVE_EXIT
    | KeyFlags.PREDEF_HANDLE
)
#: Largest value data the format can describe (31-bit length).
_MAX_DATA = 0x7FFFFFFF
_BIG_SEGMENT = 16344
_STRING_TYPES = (ValueType.REG_SZ, ValueType.REG_EXPAND_SZ)

Timestamp = int | datetime | None


# ---------------------------------------------------------------------------------------
# Validation and encoding helpers
# ---------------------------------------------------------------------------------------


def _units(name: str) -> int:
    return len(name.encode("utf-16-le", "surrogatepass")) // 2


def _check_key_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidArgumentError(f"key name must be str, not {type(name).__name__}")
    if "\\" in name:
        raise InvalidArgumentError(f"key name {name!r} contains a backslash")
    if not 1 <= _units(name) <= MAX_KEY_NAME:
        raise InvalidArgumentError(f"key name must be 1..{MAX_KEY_NAME} characters: {name!r}")
    return name


def _check_value_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidArgumentError(f"value name must be str, not {type(name).__name__}")
    if _units(name) > MAX_VALUE_NAME:
        raise InvalidArgumentError(f"value name longer than {MAX_VALUE_NAME} characters")
    return name


def _check_class(class_name: object) -> str | None:
    if class_name is None:
        return None
    if not isinstance(class_name, str):
        raise InvalidArgumentError(f"class name must be str, not {type(class_name).__name__}")
    if 2 * _units(class_name) > 0xFFFF:
        raise InvalidArgumentError("class name longer than 65535 bytes")
    return class_name or None


def _check_security(sd: object) -> bytes:
    if not isinstance(sd, bytes | bytearray | memoryview):
        raise InvalidArgumentError("security descriptor must be bytes")
    raw = bytes(sd)
    if len(raw) < 20 or raw[0] != 1 or not int.from_bytes(raw[2:4], "little") & 0x8000:
        raise InvalidArgumentError(
            "security must be a self-relative descriptor (revision 1, >= 20 bytes)"
        )
    return raw


def _filetime(ts: Timestamp) -> int:
    """``ts`` as a FILETIME int; ``None`` means now."""
    if ts is None:
        return now_filetime()
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise InvalidArgumentError("timestamp datetime must be timezone-aware")
        delta = ts.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        ft = EPOCH_FILETIME + (delta // _MICROSECOND) * 10
    elif isinstance(ts, int) and not isinstance(ts, bool):
        ft = ts
    else:
        raise InvalidArgumentError("timestamp must be a FILETIME int or an aware datetime")
    if not 0 <= ft < 1 << 64:
        raise InvalidArgumentError("timestamp out of FILETIME range")
    return ft


_MICROSECOND = timedelta(microseconds=1)


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
    sizes = {
        ValueType.REG_DWORD: (4, "little"),
        ValueType.REG_DWORD_BIG_ENDIAN: (4, "big"),
        ValueType.REG_QWORD: (8, "little"),
    }
    if vtype in sizes:
        if not isinstance(data, int):
            raise InvalidArgumentError(f"{ValueType(vtype).name} data must be int or bytes")
        size, order = sizes[ValueType(vtype)]
        if not 0 <= data < 1 << (8 * size):
            raise InvalidArgumentError(f"{data} does not fit a {ValueType(vtype).name}")
        return vtype, data.to_bytes(size, order)  # type: ignore[arg-type]
    raise InvalidArgumentError(
        f"{type(data).__name__} data needs raw bytes for type {ValueType(vtype).name}"
    )


def _split(path: object) -> list[str]:
    if not isinstance(path, str):
        raise InvalidArgumentError(f"path must be str, not {type(path).__name__}")
    return [p for p in path.split("\\") if p]


# ---------------------------------------------------------------------------------------
# Values and keys
# ---------------------------------------------------------------------------------------


class EditValue:
    """One value of an editable key (read-only view; change it with ``set_value``)."""

    __slots__ = ("name", "raw", "type_")

    def __init__(self, name: str, vtype: int, raw: bytes) -> None:
        self.name = name
        self.type_ = vtype
        self.raw = raw

    @property
    def type(self) -> ValueType:
        """REG_* type (unknown numbers kept, like the reader)."""
        return ValueType(self.type_)

    @property
    def size(self) -> int:
        """Data length in bytes."""
        return len(self.raw)

    @property
    def data(self) -> str | list[str] | int | bytes:
        """``raw`` decoded by type, exactly as the reader's ``Value.data``."""
        return decode(self.type_, self.raw)

    def to_spec(self) -> ValueSpec:
        """This value as a :class:`ValueSpec`."""
        return ValueSpec(self.name, self.type_, self.raw)

    def __repr__(self) -> str:
        return f"<EditValue {self.name!r} {self.type.name} {self.size} bytes>"


class EditKey:
    """One key of an :class:`EditHive`. Handles stay valid across renames of any ancestor;
    after the key (or an ancestor) is deleted every operation raises KeyNotFoundError."""

    __slots__ = (
        "_children",
        "_class",
        "_deleted",
        "_hive",
        "_name",
        "_parent",
        "_security",
        "_values",
        "debug",
        "extra_flags",
        "last_written_raw",
        "user_flags",
        "virt_flags",
    )

    def __init__(
        self,
        hive: EditHive,
        parent: EditKey | None,
        name: str,
        *,
        class_name: str | None = None,
        last_written: int = 0,
        security: bytes = DEFAULT_SECURITY,
        flags: int = 0,
        user_flags: int = 0,
        virt_flags: int = 0,
        debug: int = 0,
    ) -> None:
        self._hive = hive
        self._parent = parent
        self._name = name
        self._class = class_name or None
        self.last_written_raw = last_written
        self._security = security
        self.extra_flags = int(flags) & ~int(_DROP_FLAGS)
        self.user_flags = user_flags
        self.virt_flags = virt_flags
        self.debug = debug
        self._children: dict[str, EditKey] = {}
        self._values: dict[str, EditValue] = {}  # insertion order = stored order
        self._deleted = False

    # -- identity ------------------------------------------------------------------------

    def _live(self) -> EditKey:
        self._hive._check_open()
        if self._deleted:
            raise KeyNotFoundError(f"key {self._name!r} has been deleted")
        return self

    @property
    def name(self) -> str:
        """The key's name (as created; the root's is the hive's root name)."""
        return self._name

    @property
    def path(self) -> str:
        """Backslash-separated path from the root (the root itself is "")."""
        parts: list[str] = []
        k: EditKey | None = self
        while k is not None and k._parent is not None:
            parts.append(k._name)
            k = k._parent
        return "\\".join(reversed(parts))

    @property
    def parent(self) -> EditKey | None:
        """The parent key, or None for the root."""
        return self._parent

    @property
    def deleted(self) -> bool:
        """True once the key or an ancestor was deleted."""
        return self._deleted

    @property
    def flags(self) -> KeyFlags:
        """nk flags as they will be written (computed bits for the name and root included)."""
        f = self.extra_flags
        if all(ord(c) <= 0xFF for c in self._name):
            f |= KeyFlags.COMP_NAME
        if self._parent is None:
            f |= KeyFlags.HIVE_ENTRY | KeyFlags.NO_DELETE
        return KeyFlags(f)

    @property
    def virt_control_flags(self) -> int:
        """Virtualization control flags (reader's name for ``virt_flags``)."""
        return self.virt_flags

    @property
    def last_written(self) -> datetime:
        """Last written time (UTC)."""
        return filetime(self.last_written_raw)

    def touch(self, timestamp: Timestamp = None) -> None:
        """Set the last written time to ``timestamp`` (default now)."""
        self._live()
        self.last_written_raw = _filetime(timestamp)
        self._hive._modified = True

    @property
    def class_name(self) -> str | None:
        """The key's class string, or None."""
        return self._class

    @class_name.setter
    def class_name(self, value: str | None) -> None:
        self._live()
        self._class = _check_class(value)
        self._hive._modified = True

    @property
    def security_raw(self) -> bytes:
        """Self-relative SECURITY_DESCRIPTOR bytes (new keys inherit their parent's)."""
        return self._security

    @security_raw.setter
    def security_raw(self, value: bytes) -> None:
        self._live()
        self._security = _check_security(value)
        self._hive._modified = True

    @property
    def security(self) -> Any:
        """Parsed security descriptor (owner, group, dacl, sacl, ``.sddl``)."""
        from ..format.security import parse_descriptor

        return parse_descriptor(self._security)

    # -- children ------------------------------------------------------------------------

    @property
    def subkey_count(self) -> int:
        """Number of subkeys."""
        return len(self._children)

    @property
    def value_count(self) -> int:
        """Number of values."""
        return len(self._values)

    def subkeys(self) -> list[EditKey]:
        """Subkeys in Windows-sorted order (the order they are stored in)."""
        self._live()
        return [self._children[k] for k in sorted(self._children, key=_sort_upcased)]

    def iter_subkeys(self) -> Iterator[EditKey]:
        """Iterate subkeys (same as :meth:`subkeys`)."""
        return iter(self.subkeys())

    def subkey(self, name: str) -> EditKey:
        """The subkey called ``name`` (case-insensitive, Windows rules)."""
        self._live()
        if not isinstance(name, str):
            raise InvalidArgumentError("key name must be str")
        try:
            return self._children[upcase(name)]
        except KeyError:
            raise KeyNotFoundError(f"no subkey {name!r} under {self.path!r}") from None

    def open_key(self, path: str) -> EditKey:
        """A descendant by backslash-separated relative path ("" is this key)."""
        key = self._live()
        for part in _split(path):
            key = key.subkey(part)
        return key

    def create_key(
        self, path: str, class_name: str | None = None, *, timestamp: Timestamp = None
    ) -> EditKey:
        """Open or create the key at relative ``path``, creating missing parents.

        Existing keys are returned unchanged (``class_name`` only applies to keys this call
        creates). A new key inherits its parent's security descriptor; its last written
        time and its parent's become ``timestamp`` (default now).
        """
        key = self._live()
        parts = _split(path)
        if not parts:
            raise InvalidArgumentError("create_key needs a non-empty path")
        for p in parts:
            _check_key_name(p)
        cls = _check_class(class_name)
        depth = key._depth()
        # The reader's walk stops at depth MAX_DEPTH, so keep every key above it.
        if depth + len(parts) >= MAX_DEPTH:
            raise InvalidArgumentError(f"keys may be at most {MAX_DEPTH - 1} levels deep")
        ft: int | None = None
        for i, part in enumerate(parts):
            child = key._children.get(upcase(part))
            if child is None:
                if ft is None:
                    ft = _filetime(timestamp)
                child = EditKey(
                    self._hive,
                    key,
                    part,
                    class_name=cls if i == len(parts) - 1 else None,
                    last_written=ft,
                    security=key._security,
                )
                key._children[upcase(part)] = child
                key.last_written_raw = ft
                self._hive._modified = True
            key = child
        return key

    def delete_key(
        self, path: str, *, recursive: bool = False, timestamp: Timestamp = None
    ) -> None:
        """Delete the descendant at relative ``path`` (see :meth:`EditHive.delete_key`)."""
        target = self.open_key(path)
        parent = target._parent
        if parent is None or target is self:
            raise InvalidArgumentError("cannot delete the key itself or the root")
        if target._children and not recursive:
            raise InvalidArgumentError(
                f"key {target.path!r} has subkeys; pass recursive=True to delete them"
            )
        ft = _filetime(timestamp)
        del parent._children[upcase(target._name)]
        parent.last_written_raw = ft
        stack = [target]
        while stack:
            k = stack.pop()
            k._deleted = True
            stack.extend(k._children.values())
        self._hive._modified = True

    def rename(self, new_name: str, *, timestamp: Timestamp = None) -> None:
        """Rename this key within its parent (a case-only change is allowed).

        A sibling with the same name (case-insensitively) raises InvalidArgumentError.
        The key's and its parent's last written times become ``timestamp`` (default now).
        """
        self._live()
        parent = self._parent
        if parent is None:
            raise InvalidArgumentError("the root key cannot be renamed")
        _check_key_name(new_name)
        old, new = upcase(self._name), upcase(new_name)
        if new != old and new in parent._children:
            raise InvalidArgumentError(
                f"cannot rename {self.path!r}: a sibling named {new_name!r} exists"
            )
        ft = _filetime(timestamp)
        del parent._children[old]
        parent._children[new] = self
        self._name = new_name
        self.last_written_raw = ft
        parent.last_written_raw = ft
        self._hive._modified = True

    def _depth(self) -> int:
        d = 0
        k = self._parent
        while k is not None:
            d += 1
            k = k._parent
        return d

    # -- values --------------------------------------------------------------------------

    def values(self) -> list[EditValue]:
        """Values in stored (insertion) order."""
        self._live()
        return list(self._values.values())

    def value(self, name: str = "") -> EditValue:
        """The value called ``name`` ("" is the default value), case-insensitive."""
        self._live()
        if not isinstance(name, str):
            raise InvalidArgumentError("value name must be str")
        try:
            return self._values[upcase(name)]
        except KeyError:
            raise ValueNotFoundError(f"no value {name!r} in {self.path!r}") from None

    def set_value(
        self,
        name: str,
        data: object,
        type: int | None = None,
        *,
        timestamp: Timestamp = None,
    ) -> EditValue:
        """Create or replace the value ``name`` ("" is the default value).

        ``data`` is raw bytes (stored as is, type ``type`` or REG_BINARY) or a Python
        value converted by :func:`encode_value`. Replacing keeps the existing value's name
        case and position. The key's last written time becomes ``timestamp`` (default now).
        """
        self._live()
        _check_value_name(name)
        vtype, raw = encode_value(data, type)
        if len(raw) > _MAX_DATA or (
            self._hive.minor >= 4 and -(-len(raw) // _BIG_SEGMENT) > 0xFFFF
        ):
            raise InvalidArgumentError(f"value data too large ({len(raw)} bytes)")
        ft = _filetime(timestamp)
        key = upcase(name)
        v = self._values.get(key)
        if v is None:
            v = self._values[key] = EditValue(name, vtype, raw)
        else:
            v.type_, v.raw = vtype, raw
        self.last_written_raw = ft
        self._hive._modified = True
        return v

    def delete_value(self, name: str = "", *, timestamp: Timestamp = None) -> None:
        """Delete the value ``name``; ValueNotFoundError if there is none."""
        self._live()
        if not isinstance(name, str):
            raise InvalidArgumentError("value name must be str")
        try:
            del self._values[upcase(name)]
        except KeyError:
            raise ValueNotFoundError(f"no value {name!r} in {self.path!r}") from None
        self.last_written_raw = _filetime(timestamp)
        self._hive._modified = True

    # -- conversion ----------------------------------------------------------------------

    def _spec_node(self) -> KeySpec:
        return KeySpec(
            self._name,
            class_name=self._class,
            last_written=self.last_written_raw,
            flags=self.extra_flags,
            security=self._security,
            values=[v.to_spec() for v in self._values.values()],
            user_flags=self.user_flags,
            virt_flags=self.virt_flags,
            debug=self.debug,
        )

    def to_spec(self) -> KeySpec:
        """This key and its subtree as a :class:`KeySpec` tree (subkeys sorted)."""
        self._live()
        top = self._spec_node()
        stack: list[tuple[EditKey, KeySpec]] = [(self, top)]
        while stack:
            key, spec = stack.pop()
            for child in key.subkeys():
                cs = child._spec_node()
                spec.subkeys.append(cs)
                stack.append((child, cs))
        return top

    def __repr__(self) -> str:
        return f"<EditKey {self.path or '(root)'!r}>"


def _sort_upcased(up: str) -> Any:
    return sort_key(up)


# ---------------------------------------------------------------------------------------
# Hives
# ---------------------------------------------------------------------------------------


class EditHive:
    """An editable in-memory hive (see the module docstring for what saving does).

    Made by :func:`create` (a new file, written on close/flush) or by
    ``regf.open(path, mode="r+")`` (an existing hive; save changes with :meth:`save_as`).
    """

    def __init__(
        self,
        *,
        minor: int = 5,
        root_name: str = "ROOT",
        target: Path | None = None,
        source: Path | None = None,
        mode: str = "w",
        file_name: str = "",
    ) -> None:
        if isinstance(minor, bool) or not isinstance(minor, int) or not 2 <= minor <= 6:
            raise InvalidArgumentError(f"minor version must be 2..6, not {minor!r}")
        self.minor = minor
        self.mode = mode
        #: Where :meth:`flush` / :meth:`close` write (``regf.create``), else None.
        self.target = target
        #: The file the hive was read from (``mode="r+"``), else None.
        self.path = source if source is not None else target
        self._source = source
        self.file_name = file_name
        self.warnings: list[str] = []
        self._closed = False
        self._modified = False
        self._root = EditKey(self, None, _check_key_name(root_name), last_written=now_filetime())

    # -- state ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise HiveStateError("hive is closed")

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def modified(self) -> bool:
        """True when the tree changed since it was created, loaded or last written."""
        return self._modified

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor) version that saving writes."""
        return (1, self.minor)

    @property
    def writable(self) -> bool:
        """Always True: the tree is editable."""
        return True

    # -- reading (mirrors the reader's Hive) --------------------------------------------

    @property
    def root(self) -> EditKey:
        """The root key."""
        self._check_open()
        return self._root

    def open_key(self, path: str) -> EditKey:
        """The key at ``path`` (backslash-separated, case-insensitive, Windows rules)."""
        return self.root.open_key(path)

    def walk(self, key: EditKey | str | None = None) -> Iterator[EditKey]:
        """Every key below (and including) ``key`` depth-first, subkeys in sorted order."""
        start = self.root if key is None else self.open_key(key) if isinstance(key, str) else key
        stack = [start]
        while stack:
            k = stack.pop()
            yield k
            stack.extend(reversed(k.subkeys()))

    # -- editing ------------------------------------------------------------------------

    def create_key(
        self, path: str, class_name: str | None = None, *, timestamp: Timestamp = None
    ) -> EditKey:
        """Open or create the key at ``path``, creating missing parents (see EditKey)."""
        return self.root.create_key(path, class_name, timestamp=timestamp)

    def delete_key(
        self, path: str, *, recursive: bool = False, timestamp: Timestamp = None
    ) -> None:
        """Delete the key at ``path``.

        A key with subkeys needs ``recursive=True`` (else InvalidArgumentError); the root
        cannot be deleted. The parent's last written time becomes ``timestamp``
        (default now). Handles to deleted keys raise KeyNotFoundError afterwards.
        """
        if not _split(path):
            raise InvalidArgumentError("the root key cannot be deleted")
        self.root.delete_key(path, recursive=recursive, timestamp=timestamp)

    def rename_key(self, path: str, new_name: str, *, timestamp: Timestamp = None) -> EditKey:
        """Rename the key at ``path`` to ``new_name`` (a name, not a path); returns it."""
        key = self.open_key(path)
        key.rename(new_name, timestamp=timestamp)
        return key

    # -- saving --------------------------------------------------------------------------

    def to_spec(self) -> KeySpec:
        """The whole tree as a :class:`KeySpec`."""
        return self.root.to_spec()

    def to_bytes(self, *, timestamp: Timestamp = None) -> bytes:
        """The complete hive file this tree serializes to."""
        self._check_open()
        ts = _filetime(timestamp)
        return serialize(self.to_spec(), minor=self.minor, timestamp=ts, file_name=self.file_name)

    def save_as(self, path: str | os.PathLike[str]) -> None:
        """Write the tree as a complete new hive file at ``path`` (atomically).

        Refuses (HiveStateError) to overwrite the file the hive was opened from: writing
        back in place is not implemented yet.
        """
        self._check_open()
        dest = Path(path)
        if self._source is not None and _same_file(dest, self._source):
            raise HiveStateError(
                f"save_as({str(dest)!r}) would overwrite the file this hive was opened "
                "from; in-place writing is not implemented yet"
            )
        write_new_file(dest, self.to_bytes())
        if self.target is not None and _same_file(dest, self.target):
            self._modified = False

    def flush(self) -> None:
        """Write a :func:`create`-d hive to its file; HiveStateError for ``mode="r+"``."""
        self._check_open()
        if self.target is None:
            raise HiveStateError("in-place flush not implemented yet (use save_as)")
        write_new_file(self.target, self.to_bytes())
        self._modified = False

    def close(self) -> None:
        """Close the hive; a :func:`create`-d hive is written first (``mode="r+"``
        changes not saved with :meth:`save_as` are discarded)."""
        if self._closed:
            return
        try:
            if self.target is not None:
                self.flush()
        finally:
            self._closed = True

    def discard(self) -> None:
        """Close without writing anything."""
        self._closed = True

    def __enter__(self) -> EditHive:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is not None:
            self.discard()  # do not write a half-edited tree
        else:
            self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "<memory>"
        return f"<EditHive {where} v1.{self.minor} mode={self.mode!r}>"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


# ---------------------------------------------------------------------------------------
# Constructors
# ---------------------------------------------------------------------------------------


def create(path: str | os.PathLike[str], *, minor: int = 5, root_name: str = "ROOT") -> EditHive:
    """A new, empty editable hive written to ``path`` on close or :meth:`EditHive.flush`.

    ``minor`` is the format version written (default 5, i.e. 1.5). Nothing is written
    until then; an existing file at ``path`` is replaced (atomically) at that point.
    Leaving a ``with`` block through an exception writes nothing.
    """
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentError("path must be a str or os.PathLike")
    target = Path(path)
    return EditHive(
        minor=minor, root_name=root_name, target=target, mode="w", file_name=target.name
    )


def open_editable(
    source: Source,
    *,
    strict: bool = True,
    recover: bool = True,
    logs: Sequence[Any] | None = None,
) -> EditHive:
    """Read a whole hive into an editable tree (``regf.open(..., mode="r+")``).

    The hive is read with the reader (dirty hives recovered in memory as usual) and then
    closed; nothing is ever written to ``source``. Save with :meth:`EditHive.save_as`.
    """
    from .hive import open_hive

    reader = open_hive(source, mode="r", strict=strict, recover=recover, logs=logs)
    try:
        bb = reader.base_block
        src = reader.path
        rroot = reader.root
        hive = EditHive(
            minor=bb.minor if 2 <= bb.minor <= 6 else 3,
            root_name=rroot.name or "ROOT",
            source=Path(src) if src is not None else None,
            mode="r+",
            file_name=bb.file_name,
        )
        hive.warnings.extend(reader.warnings)
        _load(hive, reader, strict)
        hive._modified = False
        return hive
    finally:
        reader.close()
        reader._source.close()


def _fill(ek: EditKey, rk: Any) -> None:
    ek._class = rk.class_name or None
    ek.last_written_raw = rk.last_written_raw
    ek._security = rk.security_raw
    ek.extra_flags = int(rk.flags) & ~int(_DROP_FLAGS)
    ek.user_flags = rk.user_flags
    ek.virt_flags = rk.virt_control_flags
    ek.debug = rk.debug


def _load(hive: EditHive, reader: Any, strict: bool) -> None:
    def problem(msg: str, offset: int | None) -> None:
        if strict:
            raise StructureError(msg, offset)
        hive.warnings.append(f"{msg} (skipped)")

    rroot = reader.root
    root = hive._root
    _fill(root, rroot)
    seen: set[int] = set()
    stack: list[tuple[Any, EditKey, int]] = [(rroot, root, 0)]
    while stack:
        rk, ek, depth = stack.pop()
        if rk.index in seen:
            problem(f"key {rk.path!r} reached twice (cycle)", rk.offset)
            continue
        seen.add(rk.index)
        for rv in rk.values():
            up = upcase(rv.name)
            if up in ek._values:
                problem(f"duplicate value {rv.name!r} in {rk.path!r}", rv.offset)
                continue
            ek._values[up] = EditValue(rv.name, rv.type_, rv.raw)
        if depth >= MAX_DEPTH and rk.subkey_count:
            problem(f"tree deeper than {MAX_DEPTH} at {rk.path!r}", rk.offset)
            continue
        for rs in rk.subkeys():
            up = upcase(rs.name)
            if up in ek._children or not rs.name or "\\" in rs.name:
                problem(f"bad or duplicate subkey name {rs.name!r} in {rk.path!r}", rs.offset)
                continue
            child = EditKey(hive, ek, rs.name)
            _fill(child, rs)
            ek._children[up] = child
            stack.append((rs, child, depth + 1))


__all__ = [
    "EditHive",
    "EditKey",
    "EditValue",
    "RegfError",
    "create",
    "encode_value",
    "open_editable",
]
