"""Editable hives: the writer edits the hive's cells in place, as Windows does.

An :class:`EditHive` owns a whole-file image (a ``bytearray``: the 4096-byte base block
followed by the hive bins) and a :class:`~regf.cells.alloc.CellAllocator` over it. Every
edit allocates, writes and frees cells in that image exactly the way Windows'
configuration manager does (ReactOS ``cmlib`` is the readable model), so the image is
at every moment a valid hive whose changed 4 KiB pages the allocator records
(:meth:`~regf.cells.alloc.CellAllocator.take_dirty`) for a log-based flush:

* key nodes: :mod:`regf.model.nodes`; subkey lists (sorted, ``lh``/``lf``/``li``/``ri``
  by version, 1.5x growth, ``lf`` -> ``li`` conversion, ``ri`` splits):
  :mod:`regf.model.sublists`; values, value lists and big data:
  :mod:`regf.model.cellvalues`; shared ``sk`` cells, their ring and reference counts:
  :mod:`regf.model.cellsec`.
* An :class:`EditKey` is a small handle to an nk cell. Handles are shared (one per live
  key, kept in a weak registry, so nothing per key stays in memory beyond the handles
  the caller holds), follow the node when it moves (a rename that needs a bigger cell)
  and stay valid across renames of any ancestor; after the key or an ancestor is
  deleted every operation raises :class:`~regf.errors.KeyNotFoundError`.
* Base-block fields the model owns are kept exact in the image: the root cell (0x24)
  and the hive-bins size (0x28, maintained by the allocator). Sequence numbers and the
  checksum belong to the flush (:mod:`regf.storage`).
* **Volatile keys** (``create_key(..., volatile=True)``) live in a second, memory-only
  cell space (Windows' volatile storage: its own image and allocator, never saved):
  their nodes, lists, values and ``sk`` cells are there, flagged ``KEY_VOLATILE``. The
  volatile children of a stable key are listed in memory, not in its nk. Stable keys
  cannot be created under volatile ones (:class:`ChildMustBeVolatileError`, Windows'
  ``STATUS_CHILD_MUST_BE_VOLATILE``). As in Windows, creating a volatile child still
  updates the stable parent's last written time and maxima.

Saving and opening:

* ``regf.create(path)`` starts from a fresh minimal image (base block, one bin, the root
  nk with flags 0x2C and one self-linked ``sk``); the image is written to ``path`` when
  the hive is closed (or the ``with`` block ends without an exception) and on
  :meth:`EditHive.flush`.
* ``regf.open(path, mode="r+")`` edits the file in place through a
  :class:`~regf.storage.flush.Pager`: it takes the hive's exclusive writer lock (a
  second writer, in this process or another, gets :class:`~regf.errors.LockedError`),
  recovers a dirty hive from its logs and writes the recovered state back, and edits the
  pager's image. :meth:`EditHive.flush` hands the image and the allocator's dirty pages
  to the pager: one HvLE entry in ``.LOG1``/``.LOG2``, then the primary is reconciled
  (``flush(reconcile=False)`` stops after the log: the hive on disk is then dirty and
  every log-aware reader recovers the new content). :meth:`EditHive.close` flushes
  (fully). ``autoflush=N`` flushes from a background thread every N seconds; edits and
  flushes are serialised by the hive's lock, so a flush never sees half an edit. After
  an I/O error in a flush every later operation raises HiveStateError until
  :meth:`EditHive.close`; the files hold the state before or after that flush.
  Leaving a ``with`` block through an exception drops the changes made since the last
  flush (explicit or automatic) and keeps every committed flush, as Windows keeps what
  was flushed when the system dies; so does a hive dropped without :meth:`EditHive.close`
  (its lock is released when it is collected). Volatile keys are never written. Bytes and file
  object sources, and ``open_editable(path, in_place=False)``, give a detached copy in
  memory that never writes to its source (save it with :meth:`EditHive.save_as`).
* :meth:`EditHive.save_as` (and :meth:`EditHive.to_bytes`) write a compact, clean copy
  (walk -> :class:`~regf.model.spec.KeySpec` -> :func:`~regf.model.serialize.serialize`)
  without volatile keys, and never overwrite the file the hive was opened from.

Names compare case-insensitively with Windows' rules (:func:`regf._accel.upcase`); a key
keeps the case it was created with. Timestamps are FILETIMEs (100 ns ticks since 1601):
creating or deleting a key sets its parent's last written time (and a new key's own),
renaming sets the key's and its parent's, setting or deleting a value sets the key's;
each of these calls takes an optional ``timestamp=`` (FILETIME ``int`` or aware
``datetime``) and otherwise uses the current time. Assigning ``class_name`` or
``security_raw`` leaves timestamps alone (use :meth:`EditKey.touch`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import struct
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from .._accel import checksum
from ..cells.alloc import CREATED, CellAllocator
from ..cells.alloc import CellAllocatorAPI as Alloc
from ..errors import (
    HiveStateError,
    InvalidArgumentError,
    KeyNotFoundError,
    RegfError,
    StructureError,
    ValueNotFoundError,
)
from ..format.constants import (
    BASE,
    HCELL_NIL,
    MAX_DEPTH,
    MAX_KEY_NAME,
    VOLATILE_BIT,
    KeyFlags,
    ValueType,
)
from ..format.fast import NK, SK
from ..format.structs import SK_FIXED_SIZE
from ..storage.fileio import FileOps
from ..storage.files import Source, write_new_file
from ..storage.flush import FlushStats, LogPolicy, Pager
from ..storage.recovery import RecoveryReport
from . import cellsec, cellvalues, nodes, sublists
from .decode import decode
from .handles import HandleTable
from .keys import filetime
from .serialize import DEFAULT_SECURITY, EPOCH_FILETIME, now_filetime, serialize
from .spec import KeySpec, ValueSpec

#: Flags the model computes (or that cannot be written); not reported as "extra" flags.
_DROP_FLAGS = int(
    KeyFlags.COMP_NAME
    | KeyFlags.HIVE_ENTRY
    | KeyFlags.VOLATILE
    | KeyFlags.HIVE_EXIT
    | KeyFlags.PREDEF_HANDLE
)
_STRING_TYPES = (ValueType.REG_SZ, ValueType.REG_EXPAND_SZ)
_U32 = struct.Struct("<I")
_Q = struct.Struct("<Q")
#: Base-block fields (fmt §1.1).
_BB_SEQ1 = 0x04
_BB_TIME = 0x0C
_BB_MINOR = 0x18
_BB_ROOT = 0x24
_BB_HBINS = 0x28
_BB_CHECKSUM = 0x1FC


class ChildMustBeVolatileError(InvalidArgumentError):
    """A stable key cannot be created under a volatile one (``STATUS_CHILD_MUST_BE_VOLATILE``)."""


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
    # A name of at most MAX_KEY_NAME // 2 characters is within the limit whatever it
    # holds (a character is at most 2 UTF-16 units): only longer ones are encoded.
    if not name or (len(name) > MAX_KEY_NAME // 2 and _units(name) > MAX_KEY_NAME):
        raise InvalidArgumentError(f"key name must be 1..{MAX_KEY_NAME} characters: {name!r}")
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
    """``sd`` as bytes when it parses as a self-relative descriptor (fmt §4.5)."""
    return cellsec.validate_descriptor(sd)  # type: ignore[arg-type]


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
    if "\\" not in path:  # one name, the common case: no split needed
        return [path] if path else []
    return [p for p in path.split("\\") if p]


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------


class EditValue:
    """One value of an editable key: a snapshot read from its vk (change it with
    ``set_value``)."""

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


# ---------------------------------------------------------------------------------------
# Keys: handles to nk cells
# ---------------------------------------------------------------------------------------

#: (volatile?, cell index in that space): how the hive names a node internally.
Node = tuple[bool, int]


class EditKey:
    """A handle to one key (an nk cell) of an :class:`EditHive`.

    Handles stay valid across renames of any ancestor and when the key's node moves to a
    new cell; after the key (or an ancestor) is deleted every operation raises
    KeyNotFoundError. There is one handle per live key: looking a key up twice gives the
    same object while a handle to it is held.
    """

    __slots__ = ("__weakref__", "_cell", "_dep", "_hive", "_vol")

    def __init__(self, hive: EditHive, vol: bool, cell: int) -> None:
        self._hive = hive
        self._vol = vol
        self._cell = cell  # -1 once deleted
        self._dep = -1  # depth below the root, computed on first use

    # -- plumbing ------------------------------------------------------------------------

    def _live(self) -> EditHive:
        hive = self._hive
        if hive._closed or hive._pager is not None:  # else _check_open has nothing to do
            hive._check_open()
        if self._cell < 0:
            raise KeyNotFoundError("key has been deleted")
        return hive

    def _alloc(self) -> Alloc:
        return self._hive._space(self._vol)

    def _head(self) -> tuple[Any, ...]:
        hive = self._live()
        return NK.unpack_from(hive._space(self._vol).image, BASE + self._cell + 4)

    def _write(self, off: int, data: bytes) -> None:
        hive = self._live()
        hive._space(self._vol).write(self._cell, off, data)
        hive._modified = True

    # -- identity ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The key's name (as created; the root's is the hive's root name)."""
        hive = self._live()
        return nodes.name_of(hive._space(self._vol).image, self._cell)

    @property
    def path(self) -> str:
        """Backslash-separated path from the root (the root itself is "")."""
        return self._live()._path((self._vol, self._cell))

    @property
    def parent(self) -> EditKey | None:
        """The parent key, or None for the root."""
        hive = self._live()
        p = hive._parent_of((self._vol, self._cell))
        return None if p is None else hive._handle(p)

    @property
    def deleted(self) -> bool:
        """True once the key or an ancestor was deleted."""
        return self._cell < 0

    @property
    def volatile(self) -> bool:
        """True for a volatile (memory-only) key."""
        return self._vol

    @property
    def index(self) -> int | None:
        """Cell index of the nk (None for a volatile key: it is not in the image)."""
        self._live()
        return None if self._vol else self._cell

    @property
    def offset(self) -> int | None:
        """File offset of the nk cell in the image (None for a volatile key)."""
        self._live()
        return None if self._vol else BASE + self._cell

    @property
    def flags(self) -> KeyFlags:
        """nk flags as stored (``KEY_COMP_NAME``, the root's and volatile bits included)."""
        return KeyFlags(self._head()[1])

    @property
    def extra_flags(self) -> int:
        """The nk flags the model does not compute (``KEY_SYM_LINK``, ``KEY_NO_DELETE``,
        virtualization bits, the old user-flag nibble ...). Assignable."""
        return int(self._head()[1]) & ~_DROP_FLAGS

    @extra_flags.setter
    def extra_flags(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
            raise InvalidArgumentError("flags must be a u16")
        cur = int(self._head()[1])
        self._write(nodes.NK_FLAGS, struct.pack("<H", (cur & _DROP_FLAGS) | (value & ~_DROP_FLAGS)))

    def _nibble(self, which: int) -> int:
        f = self._head()
        return int(f[16] & 0xF) if which == 0 else int(f[16] >> 4) if which == 1 else int(f[17])

    def _set_nibble(self, which: int, value: int) -> None:
        limit = 0xFF if which == 2 else 0xF
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
            raise InvalidArgumentError(f"value must be 0..{limit:#x}")
        f = self._head()
        if which == 2:
            self._write(nodes.NK_DEBUG, bytes([value]))
        else:
            uv = int(f[16])
            uv = (uv & 0xF0) | value if which == 0 else (uv & 0x0F) | (value << 4)
            self._write(nodes.NK_USER_VIRT, bytes([uv]))

    @property
    def user_flags(self) -> int:
        """Wow64 user flags: the low nibble of nk byte +0x36 (fmt §5.1). Assignable."""
        return self._nibble(0)

    @user_flags.setter
    def user_flags(self, value: int) -> None:
        self._set_nibble(0, value)

    @property
    def virt_flags(self) -> int:
        """Virtualization control flags: the high nibble of nk byte +0x36. Assignable."""
        return self._nibble(1)

    @virt_flags.setter
    def virt_flags(self, value: int) -> None:
        self._set_nibble(1, value)

    @property
    def virt_control_flags(self) -> int:
        """Virtualization control flags (reader's name for ``virt_flags``)."""
        return self._nibble(1)

    @property
    def debug(self) -> int:
        """The debug byte (nk +0x37). Assignable."""
        return self._nibble(2)

    @debug.setter
    def debug(self, value: int) -> None:
        self._set_nibble(2, value)

    @property
    def last_written_raw(self) -> int:
        """Last written time as a FILETIME int. Assignable (like :meth:`touch`)."""
        return int(self._head()[2])

    @last_written_raw.setter
    def last_written_raw(self, value: int) -> None:
        self.touch(value)

    @property
    def last_written(self) -> datetime:
        """Last written time (UTC)."""
        return filetime(self.last_written_raw)

    def touch(self, timestamp: Timestamp = None) -> None:
        """Set the last written time to ``timestamp`` (default now)."""
        self._live()
        self._write(nodes.NK_LAST_WRITTEN, _Q.pack(_filetime(timestamp)))

    access_bits = property(lambda self: int(self._head()[3]), doc="Win8+ access bits.")
    layered_bits = property(lambda self: int(self._head()[4]), doc="RS1+ layered-key bits.")
    work_var = property(lambda self: int(self._head()[21]), doc="Opaque run-time field.")
    max_name_len = property(
        lambda self: int(self._head()[15]), doc="Largest subkey name (UTF-16 bytes, high-water)."
    )
    max_class_len = property(
        lambda self: int(self._head()[18]), doc="Largest subkey class (bytes, high-water)."
    )
    max_value_name_len = property(
        lambda self: int(self._head()[19]), doc="Largest value name (UTF-16 bytes, high-water)."
    )
    max_value_data_len = property(
        lambda self: int(self._head()[20]), doc="Largest value data (bytes, high-water)."
    )

    @property
    def class_name(self) -> str | None:
        """The key's class string, or None. Assignable (raises the parent's MaxClassLen)."""
        hive = self._live()
        return nodes.class_of(hive._space(self._vol).image, self._cell)

    @class_name.setter
    def class_name(self, value: str | None) -> None:
        hive = self._live()
        cls = _check_class(value)
        raw = cls.encode("utf-16-le", "surrogatepass") if cls else b""
        nodes.set_class(hive._space(self._vol), self._cell, raw)
        p = hive._parent_of((self._vol, self._cell))
        if p is not None and raw:
            nodes.raise_maxima(hive._space(p[0]), p[1], 0, len(raw))
        hive._modified = True

    @property
    def security_raw(self) -> bytes:
        """Self-relative SECURITY_DESCRIPTOR bytes of the key's sk (new keys inherit
        their parent's). Assignable: identical descriptors share one sk."""
        hive = self._live()
        return cellsec.key_security(hive._space(self._vol), self._cell)

    @security_raw.setter
    def security_raw(self, value: bytes) -> None:
        hive = self._live()
        desc = _check_security(value)
        hive._set_security((self._vol, self._cell), desc)

    @property
    def security(self) -> Any:
        """Parsed security descriptor (owner, group, dacl, sacl, ``.sddl``)."""
        from ..format.security import parse_descriptor

        return parse_descriptor(self.security_raw)

    @property
    def security_index(self) -> int | None:
        """Cell index of the key's sk (None for a volatile key)."""
        f = self._head()
        return None if self._vol else int(f[13])

    # -- children ------------------------------------------------------------------------

    @property
    def subkey_count(self) -> int:
        """Number of stable subkeys (the nk's count; 0 for a volatile key)."""
        return 0 if self._vol else int(self._head()[7])

    @property
    def volatile_subkey_count(self) -> int:
        """Number of volatile subkeys (memory only)."""
        hive = self._live()
        return hive._lists((self._vol, self._cell))[1][2]

    @property
    def value_count(self) -> int:
        """Number of values."""
        return int(self._head()[11])

    def subkeys(self) -> list[EditKey]:
        """Subkeys: the stable ones in stored (Windows-sorted) order, then the volatile
        ones (sorted), as Windows enumerates them."""
        hive = self._live()
        return [hive._handle(n) for n in hive._children((self._vol, self._cell))]

    def iter_subkeys(self) -> Iterator[EditKey]:
        """Iterate subkeys (same as :meth:`subkeys`)."""
        return iter(self.subkeys())

    def subkey(self, name: str) -> EditKey:
        """The subkey called ``name`` (case-insensitive, Windows rules)."""
        hive = self._live()
        if not isinstance(name, str):
            raise InvalidArgumentError("key name must be str")
        n = hive._find_child((self._vol, self._cell), name) if name else None
        if n is None:
            raise KeyNotFoundError(f"no subkey {name!r} under {self.path!r}")
        return hive._handle(n)

    def open_key(self, path: str) -> EditKey:
        """A descendant by backslash-separated relative path ("" is this key)."""
        hive = self._live()
        node: Node = (self._vol, self._cell)
        for part in _split(path):
            found = hive._find_child(node, part)
            if found is None:
                raise KeyNotFoundError(f"no subkey {part!r} under {hive._path(node)!r}")
            node = found
        return hive._handle(node)

    def create_key(
        self,
        path: str,
        class_name: str | None = None,
        *,
        timestamp: Timestamp = None,
        volatile: bool = False,
        security: bytes | None = None,
    ) -> EditKey:
        """Open or create the key at relative ``path``, creating missing parents.

        Existing keys are returned unchanged (``class_name``, ``volatile`` and
        ``security`` only apply to keys this call creates). A new key shares its parent's
        sk (reference count + 1) unless ``security`` (a self-relative descriptor) is
        given; its last written time and its parent's become ``timestamp`` (default
        now). ``volatile=True`` creates memory-only keys; a stable key under a volatile
        one raises :class:`ChildMustBeVolatileError`.
        """
        with self._hive._mutex:  # SELF_LOCKED: see there
            hive = self._live()
            if (
                path.__class__ is str
                and path
                and class_name is None
                and security is None
                and (
                    timestamp is None or (timestamp.__class__ is int and 0 <= timestamp < 1 << 64)
                )
                and not volatile
                and "\\" not in path
            ):
                # One plain name under a stable key, what bulk writers do: open or create
                # in one C call when the allocator has it (_create_path is the
                # specification).
                fast = hive._open_or_create_fast(self, path, timestamp)
                if fast is not None:
                    return fast
            return self._create_path(hive, path, class_name, timestamp, volatile, security)

    def _create_path(
        self,
        hive: EditHive,
        path: str,
        class_name: str | None,
        timestamp: Timestamp,
        volatile: bool,
        security: bytes | None,
    ) -> EditKey:
        """create_key's general path (the specification of the C one), mutex held."""
        parts = _split(path)
        if not parts:
            raise InvalidArgumentError("create_key needs a non-empty path")
        for p in parts:
            _check_key_name(p)
        cls = _check_class(class_name)
        class_raw = cls.encode("utf-16-le", "surrogatepass") if cls else b""
        desc = None if security is None else _check_security(security)
        node: Node = (self._vol, self._cell)
        ft: int | None = None
        depth: int | None = None
        for i, part in enumerate(parts):
            found = hive._find_child(node, part)
            if found is None:
                if depth is None:
                    # The reader's walk stops at depth MAX_DEPTH: keep every key above it.
                    # node is i levels below this key; the deepest new key will be at
                    # depth + len(parts) - i.
                    depth = self._depth() + i
                    if depth + len(parts) - i >= MAX_DEPTH:
                        raise InvalidArgumentError(
                            f"keys may be at most {MAX_DEPTH - 1} levels deep"
                        )
                if ft is None:
                    ft = _filetime(timestamp)
                last = i == len(parts) - 1
                found = hive._create_child(
                    node,
                    part,
                    volatile=bool(volatile),
                    class_raw=class_raw if last else b"",
                    security=desc,
                    timestamp=ft,
                )
            node = found
        return hive._handle(node)

    def delete_key(
        self, path: str, *, recursive: bool = False, timestamp: Timestamp = None
    ) -> None:
        """Delete the descendant at relative ``path`` (see :meth:`EditHive.delete_key`)."""
        hive = self._live()
        target = self.open_key(path)
        node: Node = (target._vol, target._cell)
        if target is self or hive._parent_of(node) is None:
            raise InvalidArgumentError("cannot delete the key itself or the root")
        if hive._has_children(node) and not recursive:
            raise InvalidArgumentError(
                f"key {target.path!r} has subkeys; pass recursive=True to delete them"
            )
        hive._delete(node, _filetime(timestamp))

    def rename(self, new_name: str, *, timestamp: Timestamp = None) -> None:
        """Rename this key within its parent (a case-only change is allowed).

        A sibling with the same name (case-insensitively) raises InvalidArgumentError.
        The key's and its parent's last written times become ``timestamp`` (default now).
        """
        hive = self._live()
        node: Node = (self._vol, self._cell)
        parent = hive._parent_of(node)
        if parent is None:
            raise InvalidArgumentError("the root key cannot be renamed")
        _check_key_name(new_name)
        other = hive._find_child(parent, new_name)
        if other is not None and other != node:
            raise InvalidArgumentError(
                f"cannot rename {self.path!r}: a sibling named {new_name!r} exists"
            )
        hive._rename(node, parent, new_name, _filetime(timestamp))

    def _depth(self) -> int:
        """Levels below the root (cached: a key's depth never changes -- a rename keeps
        its parent, a move to a bigger cell keeps the handle, a delete kills it)."""
        if self._dep < 0:
            self._dep = self._live()._depth((self._vol, self._cell))
        return self._dep

    # -- values --------------------------------------------------------------------------

    def values(self) -> list[EditValue]:
        """Values in stored (insertion) order."""
        hive = self._live()
        a = hive._space(self._vol)
        return [
            EditValue(r.name, r.type, r.raw)
            for r in cellvalues.iter_values(a, self._cell, hive.minor)
        ]

    def value(self, name: str = "") -> EditValue:
        """The value called ``name`` ("" is the default value), case-insensitive."""
        hive = self._live()
        if not isinstance(name, str):
            raise InvalidArgumentError("value name must be str")
        a = hive._space(self._vol)
        vk = cellvalues.find_value(a, self._cell, name)
        if vk is None:
            raise ValueNotFoundError(f"no value {name!r} in {self.path!r}")
        r = cellvalues.read_value(a, vk, hive.minor)
        return EditValue(r.name, r.type, r.raw)

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
        with self._hive._mutex:  # SELF_LOCKED: see there
            return self._set_value(name, data, type, timestamp)

    def _set_value(
        self, name: str, data: object, type: int | None, timestamp: Timestamp
    ) -> EditValue:
        """set_value's body, mutex held."""
        hive = self._live()
        a = hive._space(self._vol)
        tc = type.__class__
        if (
            data.__class__ is bytes
            and (tc is int or tc is ValueType)
            and name.__class__ is str
            and type is not None
            and 0 <= type <= 0xFFFFFFFF
            and isinstance(data, bytes)
            and len(data) <= cellvalues.BIG
            and len(name) <= _FAST_NAME
        ):
            # Raw bytes of an explicit type (what bulk writers and .reg import pass):
            # straight to the C allocator's set_value when it has one (the Python
            # function below is its specification and runs whenever C declines).
            fast = getattr(a, "set_value_fast", None)
            if fast is not None:
                vt = int(type)
                ft = now_filetime() if timestamp is None else _filetime(timestamp)
                vk = fast(self._cell, name, vt, data, ft)
                if vk >= CREATED:
                    hive._modified = True
                    return EditValue(name, vt, data)
                if vk >= 0:
                    hive._modified = True
                    # a replaced value keeps its stored name's case
                    return EditValue(_vk_name(a.image, vk), vt, data)
        if not isinstance(name, str):
            raise InvalidArgumentError(f"value name must be str, not {name.__class__.__name__}")
        vtype, raw = encode_value(data, type)
        ft = now_filetime() if timestamp is None else _filetime(timestamp)
        # cellvalues checks the name's length, the type and the data size (the format's
        # limits) before it touches the image.
        vk = cellvalues.set_value(a, self._cell, name, vtype, raw, minor=hive.minor, timestamp=ft)
        hive._modified = True
        return EditValue(_vk_name(a.image, vk), vtype, raw)

    def set_values(
        self,
        values: Mapping[str, object] | Iterable[tuple[Any, ...]],
        *,
        timestamp: Timestamp = None,
    ) -> None:
        """Create or replace several values at once, in order (hivex's node_set_values,
        but it keeps the values not named).

        ``values`` maps names to data, or is a sequence of ``(name, data)`` or
        ``(name, data, type)``; each is converted as :meth:`set_value` converts it. The
        result is exactly that of calling :meth:`set_value` for each in turn with one
        ``timestamp``, except that every item is checked before anything is written: a
        bad name, type or data raises and leaves the key unchanged.
        """
        with self._hive._mutex:  # SELF_LOCKED: see there
            hive = self._live()
            batch = cellvalues.quick_batch(values, _RAW_TYPES)
            if batch is not None:
                # raw (name, bytes, int type) tuples, all checked at once (what bulk
                # writers and the write benchmark pass); anything else is converted item
                # by item in _set_items
                ft = now_filetime() if timestamp is None else _filetime(timestamp)
                cellvalues.set_batch(hive._space(self._vol), self._cell, batch, hive.minor, ft)
                hive._modified = True
                return
            self._set_items(hive, values, timestamp)

    def _set_items(
        self,
        hive: EditHive,
        values: Mapping[str, object] | Iterable[tuple[Any, ...]],
        timestamp: Timestamp,
    ) -> None:
        """set_values item by item (any item form set_value takes), mutex held."""
        a = hive._space(self._vol)
        pairs = values.items() if isinstance(values, Mapping) else values
        names: list[str] = []
        types: list[int] = []
        datas: list[bytes] = []
        add_name, add_type, add_data = names.append, types.append, datas.append
        for item in pairs:
            if not isinstance(item, tuple) or not 2 <= len(item) <= 3:
                raise InvalidArgumentError(
                    "set_values wants (name, data) or (name, data, type) items"
                )
            vt, raw = encode_value(item[1], item[2] if len(item) == 3 else None)
            add_name(item[0])
            add_type(vt)
            add_data(raw)
        ft = now_filetime() if timestamp is None else _filetime(timestamp)
        cellvalues.set_values(a, self._cell, names, types, datas, minor=hive.minor, timestamp=ft)
        if names:
            hive._modified = True

    def delete_value(self, name: str = "", *, timestamp: Timestamp = None) -> None:
        """Delete the value ``name``; ValueNotFoundError if there is none."""
        hive = self._live()
        if not isinstance(name, str):
            raise InvalidArgumentError("value name must be str")
        ft = _filetime(timestamp)
        if not cellvalues.delete_value(hive._space(self._vol), self._cell, name, timestamp=ft):
            raise ValueNotFoundError(f"no value {name!r} in {self.path!r}")
        hive._modified = True

    # -- conversion ----------------------------------------------------------------------

    def to_spec(self) -> KeySpec:
        """This key and its stable subtree as a :class:`KeySpec` tree (subkeys sorted;
        volatile keys are never saved)."""
        hive = self._live()
        if self._vol:
            raise InvalidArgumentError("a volatile key cannot be saved")
        return hive._spec(self._cell)

    def __repr__(self) -> str:
        if self._cell < 0:
            return "<EditKey (deleted)>"
        if self._hive._closed:
            return "<EditKey (hive closed)>"
        return f"<EditKey {self.path or '(root)'!r}{' volatile' if self._vol else ''}>"


#: Classes of items (tuple), data (bytes) and of a type taken as they are by
#: set_values' bulk check.
_RAW_TYPES = frozenset({tuple, bytes, int, ValueType})

#: Longest value name (characters) given to the C set_value (csrc/alloc.h REGF_SV_MAX_UNITS).
_FAST_NAME = 255


def _vk_name(buf: bytearray, vk: int) -> str:
    """The stored name of vk cell ``vk`` (fmt §4.3)."""
    start = BASE + vk + 4
    name_len, flags = struct.unpack_from("<H12xH", buf, start + 2)
    raw = buf[start + 0x14 : start + 0x14 + name_len]
    return nodes.decode_key_name(raw, bool(flags & 1))


# ---------------------------------------------------------------------------------------
# Hives
# ---------------------------------------------------------------------------------------


def _fresh_image(minor: int, root_name: str, file_name: str) -> bytearray:
    """A minimal hive: base block, one bin with the root nk (flags 0x2C) and one
    self-linked sk holding :data:`DEFAULT_SECURITY` (fmt §11)."""
    ts = now_filetime()
    return bytearray(
        serialize(
            KeySpec(root_name, last_written=ts), minor=minor, timestamp=ts, file_name=file_name
        )
    )


class EditHive:
    """An editable hive: a whole-file image edited in place (see the module docstring).

    Made by :func:`create` (a new file, written on close/flush) or by
    ``regf.open(path, mode="r+")`` (an existing hive edited in place through ``pager``,
    flushed by :meth:`flush` and :meth:`close`). ``image`` is a whole-file hive image to
    edit (default: a fresh minimal hive; with a pager, the pager's image); ``allocator``
    the allocator class (default: the live backend's
    :data:`~regf.cells.alloc.CellAllocator`; tests pass either twin).
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
        image: bytearray | None = None,
        allocator: Callable[[bytearray], Alloc] | None = None,
        pager: Pager | None = None,
    ) -> None:
        #: Serialises edits with flushes (an autoflush thread takes it too).
        self._mutex = threading.RLock()
        #: The pager writing the file in place (``mode="r+"`` on a path), else None.
        self._pager = pager
        if pager is not None:
            # A hive dropped without close() releases its writer lock when collected,
            # without flushing (like a process that dies: committed flushes only).
            weakref.finalize(self, pager.close)
        self._autoflusher: _AutoFlusher | None = None
        #: What the writer's open recovered from the logs (None: the hive was clean).
        self.recovery: RecoveryReport | None = None
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
        if image is None:
            image = _fresh_image(minor, _check_key_name(root_name), file_name)
        self._image = image
        #: The allocator class for both cell spaces (default: the live backend's).
        self._alloc_cls: Callable[[bytearray], Alloc] = allocator or CellAllocator
        self._alloc: Alloc = self._alloc_cls(image)
        #: The allocator's C key calls (C only; creating needs a >= 1.5 hive, whose lists
        #: are lh), looked up once: one-call open-or-create, lookup, and creation.
        self._open_key_fast: Callable[[int, str, int, bool], int] | None = (
            getattr(self._alloc, "open_key_fast", None) if minor >= 5 else None
        )
        self._find_key_fast: Callable[[int, str], int] | None = getattr(
            self._alloc, "find_key_fast", None
        )
        self._create_key_fast: Callable[[int, str, int], int] | None = (
            getattr(self._alloc, "create_key_fast", None) if minor >= 5 else None
        )
        self._root_cell: int = _U32.unpack_from(image, _BB_ROOT)[0]
        nodes.check_nk(self._alloc, self._root_cell)
        #: Volatile storage: created with the first volatile key.
        self._valloc: Alloc | None = None
        self._vanchor = HCELL_NIL  # the volatile space's permanent sk (ring anchor)
        self._sk_cache = cellsec.SkCache()
        self._vsk_cache = cellsec.SkCache()
        #: stable parent nk -> (volatile list cell, count) of its volatile children.
        self._vol_lists: dict[int, tuple[int, int]] = {}
        #: live handles: node key -> EditKey (weak: no per-key object outlives its user).
        self._handles: HandleTable[EditKey] = HandleTable()

    # -- state ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise HiveStateError("hive is closed")
        pager = self._pager
        if pager is not None and pager.failed:
            raise HiveStateError(
                f"{self.path}: an earlier flush failed ({pager.failure!r}); close the hive "
                "and reopen it (reopening recovers the last committed state)"
            )

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def failed(self) -> bool:
        """True once an I/O error in a flush put the hive into its error state."""
        return self._pager is not None and self._pager.failed

    @property
    def pager(self) -> Pager | None:
        """The :class:`~regf.storage.flush.Pager` writing the file in place, or None."""
        return self._pager

    @property
    def modified(self) -> bool:
        """True when the hive changed since it was created, loaded or last written."""
        # Under the mutex: a flush (the autoflush thread's too) writes the files first
        # and clears the flag after, so a file seen clean may still read as modified
        # without it.
        with self._mutex:
            return self._modified

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor) version of the hive (and of what saving writes)."""
        return (1, self.minor)

    @property
    def writable(self) -> bool:
        """Always True: the hive is editable."""
        return True

    @property
    def image(self) -> bytearray:
        """The whole-file image (base block + hive bins) the edits are made in.

        Read-only property; the bytes are live (do not keep a ``memoryview`` of it across
        edits: the allocator extends it when the hive grows).
        """
        self._check_open()
        return self._image

    @property
    def allocator(self) -> Alloc:
        """The :class:`~regf.cells.alloc.CellAllocator` over :attr:`image` (its
        ``take_dirty()`` gives the 4 KiB pages changed since the last call)."""
        self._check_open()
        return self._alloc

    @property
    def root_cell(self) -> int:
        """Cell index of the root nk (the base block's field at 0x24)."""
        return self._root_cell

    # -- cell spaces and nodes -------------------------------------------------------------

    def _space(self, vol: bool) -> Alloc:
        if not vol:
            return self._alloc
        if self._valloc is None:
            self._open_volatile()
        assert self._valloc is not None
        return self._valloc

    def _open_volatile(self) -> None:
        """Create the volatile cell space: an image of its own (a copy of the base block
        with no bins) and an allocator, plus an anchor sk that keeps a reference forever
        so the volatile sk ring always has a member."""
        vimage = bytearray(self._image[:BASE])
        vimage[_BB_HBINS : _BB_HBINS + 4] = bytes(4)
        vimage[_BB_MINOR : _BB_MINOR + 4] = _U32.pack(self.minor)
        valloc = self._alloc_cls(vimage)
        sk = valloc.alloc(SK_FIXED_SIZE + len(DEFAULT_SECURITY))
        valloc.write(sk, 0, SK.pack(b"sk", 0, sk, sk, 1, len(DEFAULT_SECURITY)) + DEFAULT_SECURITY)
        self._valloc = valloc
        self._vanchor = sk

    def _handle(self, node: Node, depth: int = -1) -> EditKey:
        """The live handle of ``node``, made when there is none (with ``depth``, its
        levels below the root, when the caller knows it)."""
        vol, cell = node
        k = cell | VOLATILE_BIT if vol else cell
        h = self._handles.get(k)
        if h is None:
            h = EditKey(self, vol, cell)
            h._dep = depth
            self._handles.put(k, h)
        return h

    def _parent_of(self, node: Node) -> Node | None:
        vol, cell = node
        if not vol:
            if cell == self._root_cell:
                return None
            p = nodes.u32(self._image, cell, nodes.NK_PARENT)
            # A loaded hive's parent fields are untrusted (fmt §4.1): check before use.
            sublists.check_entry(self._image, p)
            return (False, p)
        p = nodes.u32(self._space(True).image, cell, nodes.NK_PARENT)
        return (bool(p & VOLATILE_BIT), p & ~VOLATILE_BIT)

    def _ancestry(self, node: Node) -> list[Node]:
        """``node`` and its ancestors up to the root (StructureError on a parent-field
        cycle or a chain deeper than the format allows)."""
        chain = [node]
        p = self._parent_of(node)
        while p is not None:
            chain.append(p)
            if len(chain) > MAX_DEPTH + 1:
                raise StructureError(
                    f"parent fields from key {node[1]:#x} do not reach the root", None
                )
            p = self._parent_of(p)
        return chain

    def _path(self, node: Node) -> str:
        chain = self._ancestry(node)[:-1]
        return "\\".join(nodes.name_of(self._space(v).image, c) for v, c in reversed(chain))

    def _depth(self, node: Node) -> int:
        return len(self._ancestry(node)) - 1

    def _lists(self, node: Node) -> tuple[tuple[bool, int, int], tuple[bool, int, int]]:
        """((False, stable list, count), (True, volatile list, count)) of a node."""
        vol, cell = node
        if vol:
            c, vc, lst, vlst = nodes.counts(self._space(True).image, cell)
            return (False, HCELL_NIL, 0), (True, vlst if vc else HCELL_NIL, vc)
        c, _vc, lst, _vlst = nodes.counts(self._image, cell)
        vlst, vc = self._vol_lists.get(cell, (HCELL_NIL, 0))
        return (False, lst if c else HCELL_NIL, c), (True, vlst, vc)

    def _set_list(self, node: Node, child_vol: bool, lst: int, count: int) -> None:
        vol, cell = node
        if not child_vol:
            nodes.set_list(self._alloc, cell, False, count, lst)
        elif vol:
            nodes.set_list(self._space(True), cell, True, count, lst)
        elif count:
            self._vol_lists[cell] = (lst, count)
        else:
            self._vol_lists.pop(cell, None)

    def _children(self, node: Node) -> list[Node]:
        out: list[Node] = []
        for vol, lst, count in self._lists(node):
            if count and lst != HCELL_NIL:
                a = self._space(vol)
                out.extend((vol, c) for c in sublists.cells(a.image, lst, a.hbins_size))
        return out

    def _has_children(self, node: Node) -> bool:
        (_s, _l, c), (_v, _vl, vc) = self._lists(node)
        return bool(c or vc)

    def _open_or_create_fast(
        self, key: EditKey, name: str, timestamp: int | None
    ) -> EditKey | None:
        """create_key's C path for one name (no backslash) under ``key`` with a checked
        FILETIME (None: now): the handle of the child found or created, or None when C
        has no such call or declined (see :meth:`_c_parent`; a < 1.5 hive, a leaf to
        convert or split, a bad cell...), and nothing changed: the caller then runs
        :meth:`_find_child` / :meth:`_create_child`, whose twin this is."""
        fast = self._open_key_fast
        cell = key._cell
        if fast is None or not self._c_parent(key._vol, cell, name):
            return None
        dep = key._dep if key._dep >= 0 else key._depth()
        ft = now_filetime() if timestamp is None else timestamp
        nk = fast(cell, name, ft, dep + 1 < MAX_DEPTH)
        if nk < 0:
            return None
        if nk >= CREATED:
            nk -= CREATED
            self._modified = True
        return self._handle((False, nk), dep + 1)

    def _c_parent(self, vol: bool, cell: int, name: str) -> bool:
        """Whether the C allocator's key calls may look up or create ``name`` under this
        parent: a stable one without volatile children (C sees one list), and a name of
        at most 255 characters (REGF_SV_MAX_UNITS; C itself declines one that encodes
        to more units)."""
        return not vol and len(name) <= _FAST_NAME and cell not in self._vol_lists

    def _find_child(self, node: Node, name: str) -> Node | None:
        if self._c_parent(node[0], node[1], name):
            # The C allocator's lookup when it has one (this method's Python below is
            # the specification).
            fast = self._find_key_fast
            if fast is not None:
                c = fast(node[1], name)
                if c != -2:
                    return None if c < 0 else (False, c)
        key = sublists.name_key(name)
        for vol, lst, count in self._lists(node):
            if count and lst != HCELL_NIL:
                a = self._space(vol)
                c = sublists.find(a.image, lst, key, a.hbins_size)
                if c >= 0:
                    return (vol, c)
        return None

    # -- editing primitives ------------------------------------------------------------------

    def _create_child(
        self,
        parent: Node,
        name: str,
        *,
        volatile: bool,
        class_raw: bytes,
        security: bytes | None,
        timestamp: int,
    ) -> Node:
        """Create key ``name`` under ``parent`` (which has no such child)."""
        pvol, pcell = parent
        if pvol and not volatile:
            raise ChildMustBeVolatileError(
                f"cannot create stable key {name!r} under volatile key {self._path(parent)!r}"
            )
        if (
            not volatile
            and not class_raw
            and security is None
            and self._c_parent(pvol, pcell, name)
        ):
            # The common case in C (csrc/alloc.c regf_alloc_open_key, this method's
            # twin: new_nk, an lh leaf grown 1.5x, alone or under an ri, touch_parent); it
            # declines before any change for anything else (a leaf to convert or split,
            # lf / li lists, a bad cell) and this runs.
            fast = self._create_key_fast
            if fast is not None:
                nk = fast(pcell, name, timestamp)
                if nk >= 0:
                    self._modified = True
                    return (False, nk)
        palloc = self._space(pvol)
        a = self._space(volatile)
        cache = self._vsk_cache if volatile else self._sk_cache
        sk = HCELL_NIL
        desc = security
        if desc is None:
            if volatile == pvol:
                sk = nodes.u32(palloc.image, pcell, nodes.NK_SECURITY)
            else:  # a volatile child of a stable key: a volatile copy of its descriptor
                desc = cellsec.key_security(palloc, pcell)
        if sk != HCELL_NIL:
            cellsec.sk_addref(a, sk)
        parent_field = (pcell | VOLATILE_BIT if pvol else pcell) if volatile else pcell
        nk = nodes.new_nk(
            a,
            name,
            parent=parent_field,
            security=sk,
            flags=int(KeyFlags.VOLATILE) if volatile else 0,
            timestamp=timestamp,
            class_raw=class_raw,
        )
        if desc is not None:
            anchor = self._vanchor if volatile else self._root_sk()
            cellsec.set_key_security(a, nk, desc, anchor=anchor, cache=cache)
        stable_l, vol_l = self._lists(parent)
        _v, lst, count = vol_l if volatile else stable_l
        lst = sublists.insert(a, lst, count, name, nk, self.minor)
        if volatile:
            self._set_list(parent, volatile, lst, count + 1)
        # The parent: count and list, last written time and maxima in one write
        # (fmt §5.2, §8.1: CmpDoCreate).
        nodes.touch_parent(
            palloc,
            pcell,
            timestamp=timestamp,
            stable_list=None if volatile else (count + 1, lst),
            name_bytes=nodes.utf16_len(name),
            class_bytes=len(class_raw),
        )
        self._modified = True
        return (volatile, nk)

    def _root_sk(self) -> int:
        return nodes.u32(self._image, self._root_cell, nodes.NK_SECURITY)

    def _set_security(self, node: Node, desc: bytes) -> None:
        vol, cell = node
        a = self._space(vol)
        anchor = self._vanchor if vol else self._root_sk()
        cellsec.set_key_security(
            a, cell, desc, anchor=anchor, cache=self._vsk_cache if vol else self._sk_cache
        )
        self._modified = True

    def _delete(self, node: Node, timestamp: int) -> None:
        """Unlink ``node`` from its parent and free its whole subtree."""
        parent = self._parent_of(node)
        assert parent is not None
        vol, cell = node
        a = self._space(vol)
        name = nodes.name_of(a.image, cell)
        stable_l, vol_l = self._lists(parent)
        _v, lst, count = vol_l if vol else stable_l
        lst = sublists.remove(a, lst, name, cell)
        self._set_list(parent, vol, lst, count - 1)
        self._free_subtree(node)
        palloc = self._space(parent[0])
        nodes.set_time(palloc, parent[1], timestamp)
        if not self._has_children(parent):
            # The last subkey went away: MaxNameLen/MaxClassLen back to 0 (fmt §5.2).
            nodes.reset_maxima(palloc, parent[1])
        self._modified = True

    def _free_subtree(self, top: Node) -> None:
        """Free every cell of ``top`` and its descendants (children first)."""
        stack: list[tuple[Node, bool]] = [(top, False)]
        while stack:
            node, expanded = stack.pop()
            if not expanded:
                stack.append((node, True))
                stack.extend((c, False) for c in self._children(node))
                continue
            self._free_node(node)

    def _free_node(self, node: Node) -> None:
        """Free one node whose children are already gone: values, lists, sk, class, nk."""
        vol, cell = node
        a = self._space(vol)
        cellvalues.free_values(a, cell)
        c, vc, lst, vlst = nodes.counts(a.image, cell)
        if not vol and c:
            sublists.free_list(a, lst)
        if vol and vc:
            sublists.free_list(a, vlst)
        if not vol and cell in self._vol_lists:
            vl, _n = self._vol_lists.pop(cell)
            sublists.free_list(self._space(True), vl)
        sk = nodes.u32(a.image, cell, nodes.NK_SECURITY)
        cellsec.sk_release(a, sk, cache=self._vsk_cache if vol else self._sk_cache)
        nodes.free_nk(a, cell)
        h = self._handles.pop(cell | VOLATILE_BIT if vol else cell)
        if h is not None:
            h._cell = -1

    def _rename(self, node: Node, parent: Node, new_name: str, timestamp: int) -> None:
        vol, cell = node
        a = self._space(vol)
        old_name = nodes.name_of(a.image, cell)
        stable_l, vol_l = self._lists(parent)
        _v, lst, count = vol_l if vol else stable_l
        # Out of the parent's list under the old name, rename (the node may move), back in
        # under the new name at its sorted position.
        lst = sublists.remove(a, lst, old_name, cell)
        new = nodes.rename_nk(a, cell, new_name)
        lst = sublists.insert(a, lst, count - 1, new_name, new, self.minor)
        self._set_list(parent, vol, lst, count)
        if new != cell:
            self._moved(node, new)
        nodes.set_time(a, new, timestamp)
        palloc = self._space(parent[0])
        nodes.set_time(palloc, parent[1], timestamp)
        nodes.raise_maxima(palloc, parent[1], nodes.utf16_len(new_name), 0)
        self._modified = True

    def _moved(self, node: Node, new: int) -> None:
        """The nk of ``node`` moved to cell ``new``: repoint children and the handle."""
        vol, old = node
        field = new | VOLATILE_BIT if vol else new
        if not vol and old in self._vol_lists:  # first: _children() looks it up by cell
            self._vol_lists[new] = self._vol_lists.pop(old)
        for cvol, child in self._children((vol, new)):
            nodes.set_u32(self._space(cvol), child, nodes.NK_PARENT, field)
        k_old = old | VOLATILE_BIT if vol else old
        h = self._handles.pop(k_old)
        if h is not None:
            h._cell = new
            self._handles.put(new | VOLATILE_BIT if vol else new, h)

    # -- reading (mirrors the reader's Hive) --------------------------------------------

    @property
    def root(self) -> EditKey:
        """The root key."""
        self._check_open()
        return self._handle((False, self._root_cell))

    def open_key(self, path: str) -> EditKey:
        """The key at ``path`` (backslash-separated, case-insensitive, Windows rules)."""
        return self.root.open_key(path)

    def walk(self, key: EditKey | str | None = None) -> Iterator[EditKey]:
        """Every key below (and including) ``key`` depth-first: stable subkeys in sorted
        order, then volatile ones."""
        start = self.root if key is None else self.open_key(key) if isinstance(key, str) else key
        stack = [start]
        while stack:
            k = stack.pop()
            yield k
            stack.extend(reversed(k.subkeys()))

    # -- editing ------------------------------------------------------------------------

    def create_key(
        self,
        path: str,
        class_name: str | None = None,
        *,
        timestamp: Timestamp = None,
        volatile: bool = False,
        security: bytes | None = None,
    ) -> EditKey:
        """Open or create the key at ``path``, creating missing parents (see
        :meth:`EditKey.create_key`)."""
        return self.root.create_key(
            path, class_name, timestamp=timestamp, volatile=volatile, security=security
        )

    def delete_key(
        self, path: str, *, recursive: bool = False, timestamp: Timestamp = None
    ) -> None:
        """Delete the key at ``path`` and free every cell it owned.

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

    def _spec(self, top: int) -> KeySpec:
        """The stable subtree of nk ``top`` as KeySpecs (descriptors shared per sk)."""
        a = self._alloc
        buf = self._image
        minor = self.minor
        sds: dict[int, bytes] = {}

        def node(cell: int) -> KeySpec:
            f = NK.unpack_from(buf, BASE + cell + 4)
            sk = f[13]
            sd = sds.get(sk)
            if sd is None:
                sd = sds[sk] = cellsec.read_sk(a, sk).descriptor
            return KeySpec(
                nodes.name_of(buf, cell),
                class_name=nodes.class_of(buf, cell),
                last_written=f[2],
                flags=f[1] & ~_DROP_FLAGS,
                security=sd,
                values=[
                    ValueSpec(r.name, r.type, r.raw) for r in cellvalues.iter_values(a, cell, minor)
                ],
                user_flags=f[16] & 0xF,
                virt_flags=f[16] >> 4,
                debug=f[17],
            )

        spec = node(top)
        stack = [(top, spec)]
        while stack:
            cell, s = stack.pop()
            c, _vc, lst, _vl = nodes.counts(buf, cell)
            if not c or lst == HCELL_NIL:
                continue
            for child in sublists.cells(buf, lst, a.hbins_size):
                cs = node(child)
                s.subkeys.append(cs)
                stack.append((child, cs))
        return spec

    def to_spec(self) -> KeySpec:
        """The stable tree as a :class:`KeySpec` (volatile keys are never saved)."""
        self._check_open()
        return self._spec(self._root_cell)

    def to_bytes(self, *, timestamp: Timestamp = None) -> bytes:
        """A compact, clean hive file holding this hive's stable keys."""
        self._check_open()
        ts = _filetime(timestamp)
        return serialize(self.to_spec(), minor=self.minor, timestamp=ts, file_name=self.file_name)

    def save_as(self, path: str | os.PathLike[str]) -> None:
        """Write a compact, clean copy of the hive to ``path`` (atomically).

        Refuses (HiveStateError) to overwrite the file the hive was opened from: writing
        back in place is the flush's job.
        """
        self._check_open()
        dest = Path(path)
        if self._source is not None and _same_file(dest, self._source):
            how = "use flush()" if self._pager is not None else "it was opened as a copy"
            raise HiveStateError(
                f"save_as({str(dest)!r}) would overwrite the file this hive was opened "
                f"from ({how})"
            )
        write_new_file(dest, self.to_bytes())
        if self.target is not None and _same_file(dest, self.target):
            self._modified = False

    def _write_image(self, dest: Path) -> None:
        """Write the image itself as a clean primary: Seq1 = Seq2 = previous + 1, base
        block and first-bin timestamps now, checksum (fmt §1, §11)."""
        img = self._image
        ts = now_filetime()
        (seq,) = _U32.unpack_from(img, _BB_SEQ1)
        seq = (seq + 1) & 0xFFFFFFFF
        struct.pack_into("<II", img, _BB_SEQ1, seq, seq)
        _Q.pack_into(img, _BB_TIME, ts)
        _Q.pack_into(img, BASE + 0x14, ts)  # first bin mirrors the base block (fmt §1.1)
        _U32.pack_into(img, _BB_CHECKSUM, checksum(img[:512]))
        end = BASE + self._alloc.hbins_size
        with memoryview(img) as whole, whole[:end] as view:
            write_new_file(dest, cast(bytes, view))
        self._alloc.take_dirty()  # the file now equals the image

    def flush(self, *, reconcile: bool = True) -> FlushStats | None:
        """Make the hive's changes durable; returns what the pager wrote (None for a
        :func:`create`-d hive, whose whole image is written atomically to its file).

        In place (``mode="r+"``): the dirty pages become one log entry, then the primary
        is reconciled, unless ``reconcile=False`` (the entry stays in the log and the
        primary is marked dirty; a later flush or :meth:`close` reconciles). Returns only
        once the flush is committed. An I/O error is raised as is and puts the hive into
        its error state (see the module docstring). A detached copy (bytes source or
        ``in_place=False``) has no file: HiveStateError.
        """
        with self._mutex:
            self._check_open()
            pager = self._pager
            if pager is not None:
                # Peek, do not take: if the pager refuses before any I/O, the pages stay
                # dirty. Edits hold the mutex, so nothing changes until take_dirty.
                dirty = self._alloc.dirty_pages()
                stats = pager.flush(self._image, dirty, reconcile=reconcile)
                self._alloc.take_dirty()
                self._modified = False
                return stats
            if self.target is None:
                raise HiveStateError(
                    "this hive is a copy in memory (bytes source or in_place=False): "
                    "it has no file to flush to; use save_as"
                )
            self._write_image(self.target)
            self._modified = False
            return None

    def _autoflush(self) -> None:
        """One pass of the autoflush thread: flush if there is anything to write."""
        with self._mutex:
            if self._closed or self.failed:
                return
            if self._pager is not None or self._modified:
                self.flush()  # in place: a no-op when no page is dirty and nothing pends

    def start_autoflush(self, interval: float) -> None:
        """Flush from a background thread every ``interval`` seconds until closed.

        The thread holds the hive's lock while it flushes, and every edit holds it too,
        so a background flush never sees half an operation. A failed background flush
        leaves the hive in its error state: the next operation raises HiveStateError.
        """
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise InvalidArgumentError("autoflush must be a number of seconds")
        if not interval > 0:
            raise InvalidArgumentError("autoflush must be a positive number of seconds")
        with self._mutex:
            self._check_open()
            if self._pager is None and self.target is None:
                raise InvalidArgumentError("autoflush needs a hive with a file to flush to")
            if self._autoflusher is not None:
                self._autoflusher.stop()
            self._autoflusher = _AutoFlusher(self, float(interval))

    def close(self) -> None:
        """Flush and close: a hive edited in place is fully flushed (reconciled) and its
        writer lock released; a :func:`create`-d hive is written. After a failed flush
        nothing is written (the files hold the last committed state)."""
        if self._closed:
            return
        self._stop_autoflush()
        with self._mutex:
            if self._closed:
                return
            try:
                if self.target is not None or (self._pager is not None and not self.failed):
                    self.flush()
            finally:
                self._release()

    def discard(self) -> None:
        """Close without writing anything more: changes since the last flush are lost
        (in place, the files keep the last committed flush)."""
        self._stop_autoflush()
        with self._mutex:
            self._release()

    def _stop_autoflush(self) -> None:
        # Not under the mutex: the thread may be waiting for it to flush.
        flusher, self._autoflusher = self._autoflusher, None
        if flusher is not None:
            flusher.stop()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        for h in self._handles.live():
            h._cell = -1
        self._handles.clear()
        if self._pager is not None:
            self._pager.close()  # releases the writer lock; does not write

    def __enter__(self) -> EditHive:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is not None:
            # Keep committed flushes only (what Windows keeps when the system dies): a
            # half-done batch of edits is not written.
            self.discard()
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

    ``minor`` is the format version (default 5, i.e. 1.5). Nothing is written until
    then; an existing file at ``path`` is replaced (atomically) at that point. Leaving a
    ``with`` block through an exception writes nothing.
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
    allocator: Callable[[bytearray], Alloc] | None = None,
    in_place: bool | None = None,
    autoflush: float | None = None,
    io: FileOps | None = None,
    log_policy: LogPolicy | None = None,
    repair: bool = False,
) -> EditHive:
    """Open a hive for editing (``regf.open(..., mode="r+")``).

    The whole hive gets ``regf check``'s check first (:func:`~regf.model.check.full_check`,
    after any log recovery, in memory): a hive that fails it raises
    :class:`~regf.errors.DamagedHiveError` naming the first problem and its offset, and
    nothing is locked or written. ``repair=True`` skips that check, to edit (fix) a
    damaged hive on purpose.

    ``in_place`` (default: True when ``source`` is a path) edits the file itself through
    a :class:`~regf.storage.flush.Pager` (see the module docstring): writer lock, a dirty
    hive recovered and written back first (``recover=False`` refuses a dirty hive
    instead), flushes through ``.LOG1``/``.LOG2``; ``autoflush`` seconds starts the
    background flusher; ``io`` and ``log_policy`` go to the pager (tests pass a crash
    double). In-place editing is always strict and finds the logs itself (``strict=False``
    and ``logs`` are refused), and a file without write permission raises
    PermissionError. ``in_place=False`` (or a bytes / file object source) loads a copy
    with the reader (a dirty hive recovered in memory) that never writes to ``source``.
    """
    path_source = isinstance(source, str | os.PathLike)
    if in_place is None:
        in_place = path_source
    if in_place:
        if not path_source:
            raise InvalidArgumentError("in-place editing needs a file path")
        if logs is not None:
            raise InvalidArgumentError("logs= cannot be given for in-place editing")
        if not strict:
            raise InvalidArgumentError("in-place editing is always strict (strict=False)")
        if not repair:
            from .check import refuse_damaged_file

            refuse_damaged_file(source, recover=recover)
        return _open_in_place(
            Path(cast("str | os.PathLike[str]", source)),
            recover=recover,
            allocator=allocator,
            autoflush=autoflush,
            io=io,
            log_policy=log_policy,
        )
    if autoflush is not None:
        raise InvalidArgumentError("autoflush needs in-place editing (a copy has no file)")
    from .hive import open_hive

    reader = open_hive(source, mode="r", strict=strict, recover=recover, logs=logs)
    try:
        if not repair:
            from .check import refuse_damaged

            refuse_damaged(reader)
        bb = reader.base_block
        src = reader.path
        end = BASE + bb.hbins_size
        with memoryview(reader.buf) as whole, whole[:end] as view:
            image = bytearray(view)
        if len(image) < end:
            raise StructureError("hive bins run past the end of the file", len(image))
        hive = EditHive(
            minor=bb.minor if 2 <= bb.minor <= 6 else 3,
            source=Path(src) if src is not None else None,
            mode="r+",
            file_name=bb.file_name,
            image=image,
            allocator=allocator,
        )
        hive.warnings.extend(reader.warnings)
        return hive
    finally:
        reader.close()
        reader._source.close()


def _open_in_place(
    path: Path,
    *,
    recover: bool,
    allocator: Callable[[bytearray], Alloc] | None,
    autoflush: float | None,
    io: FileOps | None,
    log_policy: LogPolicy | None,
) -> EditHive:
    from .hive import parse_base_block

    pager, image, report = Pager.open(path, io=io, log_policy=log_policy, recover=recover)
    try:
        bb = parse_base_block(image)
        hive = EditHive(
            minor=bb.minor,  # the pager accepts 1.3 .. 1.6 only
            source=path,
            mode="r+",
            file_name=bb.file_name,
            image=image,
            allocator=allocator,
            pager=pager,
        )
        hive.recovery = report
        if report is not None:
            hive.warnings.append(
                f"hive was dirty ({report.dirty}); recovered from its logs and written back"
            )
        if autoflush is not None:
            hive.start_autoflush(autoflush)
    except BaseException:
        pager.close()
        raise
    return hive


# ---------------------------------------------------------------------------------------
# Autoflush and the hive lock
# ---------------------------------------------------------------------------------------


class _AutoFlusher:
    """A daemon thread calling ``hive._autoflush()`` every ``interval`` seconds.

    It keeps only a weak reference to the hive between passes, so a hive that is dropped
    without being closed does not live on in its own flusher.
    """

    def __init__(self, hive: EditHive, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_AutoFlusher._run,
            args=(weakref.ref(hive), interval, self._stop),
            name=f"regf-autoflush {hive.path}",
            daemon=True,
        )
        self._thread.start()

    @staticmethod
    def _run(ref: weakref.ref[EditHive], interval: float, stop: threading.Event) -> None:
        while not stop.wait(interval):
            hive = ref()
            if hive is None:
                return
            # A failure leaves the hive FAILED: its next operation reports it.
            with contextlib.suppress(Exception):
                hive._autoflush()
            del hive

    def stop(self) -> None:
        """Stop the thread and wait for it (a flush in progress completes)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _exclusive(fn: Callable[_P, _R], of_key: bool) -> Callable[_P, _R]:
    """Run ``fn`` (a method of EditKey when ``of_key``, else of EditHive) holding its
    hive's mutex. Two plain wrappers, no class test and no ``cast`` call: this runs on
    every edit, twice per key in a bulk write."""
    if of_key:

        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with self._hive._mutex:
                return fn(self, *args, **kwargs)

    else:

        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with self._mutex:
                return fn(self, *args, **kwargs)

    return functools.wraps(fn)(run)  # type: ignore[return-value]


#: Every public operation that changes the image. Wrapped here (not at each definition)
#: so that the edit code stays free of locking (but for SELF_LOCKED below);
#: tests/test_model_flush.py checks that every public EditKey / EditHive method or
#: setter is either listed or known read-only.
KEY_EDITS = (
    "delete_key",
    "rename",
    "delete_value",
    "touch",
)
#: The edits a bulk writer calls once per key or value take the mutex in their own body
#: instead: the wrapper's extra call with packed arguments cost ~0.5 us each, a tenth of
#: the 20,000 keys x 10 values benchmark. tests/test_model_flush.py checks that each
#: blocks while another thread holds the mutex.
SELF_LOCKED = ("create_key", "set_value", "set_values")
KEY_SETTERS = (
    "extra_flags",
    "user_flags",
    "virt_flags",
    "debug",
    "last_written_raw",
    "class_name",
    "security_raw",
)
HIVE_EDITS = ("create_key", "delete_key", "rename_key")


def _serialise_edits() -> None:
    for name in KEY_EDITS:
        setattr(EditKey, name, _exclusive(getattr(EditKey, name), True))
    for name in KEY_SETTERS:
        prop = getattr(EditKey, name)
        setattr(EditKey, name, prop.setter(_exclusive(prop.fset, True)))
    for name in HIVE_EDITS:
        setattr(EditHive, name, _exclusive(getattr(EditHive, name), False))


_serialise_edits()


__all__ = [
    "ChildMustBeVolatileError",
    "EditHive",
    "EditKey",
    "EditValue",
    "RegfError",
    "create",
    "encode_value",
    "open_editable",
]
