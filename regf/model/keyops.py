"""Key write operations: create, delete, rename, and the assignable nk fields.

Each function takes a :class:`~regf.model.keys.Key` and changes its hive's cells
through the hive's editing primitives (:class:`~regf.model.edithive.EditHive`). On a
read-only hive they raise :class:`~regf.errors.ReadOnlyError` before anything else.
The validation helpers (names, classes, descriptors, timestamps) live here too.
Locking: ``create_key`` takes the hive's mutex itself; the others are wrapped by
:mod:`regf.model.autoflush`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..cells import nodes
from ..errors import InvalidArgumentError, ReadOnlyError
from ..format.constants import MAX_DEPTH, MAX_KEY_NAME, KeyFlags
from ..format.fast import NK_L
from .spec import KeySpec
from .timestamps import EPOCH_FILETIME, now_filetime

Timestamp = int | datetime | None

#: Flags the model computes (or that cannot be written); not reported as "extra" flags.
DROP_FLAGS = int(
    KeyFlags.COMP_NAME
    | KeyFlags.HIVE_ENTRY
    | KeyFlags.VOLATILE
    | KeyFlags.HIVE_EXIT
    | KeyFlags.PREDEF_HANDLE
)

_MICROSECOND = timedelta(microseconds=1)
_FLAGS = NK_L.field("flags")
_USER_VIRT = NK_L.offset("user_virt_flags")
_DEBUG = NK_L.offset("debug")
_LAST_WRITTEN = NK_L.field("last_written")


class ChildMustBeVolatileError(InvalidArgumentError):
    """A stable key cannot be created under a volatile one (``STATUS_CHILD_MUST_BE_VOLATILE``)."""


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def editing(key: Any) -> Any:
    """The key's hive, once it is known to be editable, open and the key alive."""
    hive = key._hive
    if not hive.writable:
        raise ReadOnlyError(
            "the hive is open read-only (mode 'r'): open it with mode='r+' to edit it"
        )
    return hive._live(key)


def units(name: str) -> int:
    """UTF-16 code units of ``name``."""
    return len(name.encode("utf-16-le", "surrogatepass")) // 2


def check_key_name(name: object) -> str:
    """``name`` when it is a valid key name (1..255 UTF-16 units, no backslash)."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"key name must be str, not {type(name).__name__}")
    if "\\" in name:
        raise InvalidArgumentError(f"key name {name!r} contains a backslash")
    # A name of at most MAX_KEY_NAME // 2 characters is within the limit whatever it
    # holds (a character is at most 2 UTF-16 units): only longer ones are encoded.
    if not name or (len(name) > MAX_KEY_NAME // 2 and units(name) > MAX_KEY_NAME):
        raise InvalidArgumentError(f"key name must be 1..{MAX_KEY_NAME} characters: {name!r}")
    return name


def check_class(class_name: object) -> str | None:
    """``class_name`` when valid (None or "" mean no class)."""
    if class_name is None:
        return None
    if not isinstance(class_name, str):
        raise InvalidArgumentError(f"class name must be str, not {type(class_name).__name__}")
    if 2 * units(class_name) > 0xFFFF:
        raise InvalidArgumentError("class name longer than 65535 bytes")
    return class_name or None


def check_security(sd: object) -> bytes:
    """``sd`` as bytes when it parses as a self-relative descriptor (fmt §4.5)."""
    # Imported here: the descriptor parser is only needed when a key gets one, and a
    # read-only walk (the CLI's start-up) should not load it.
    from ..cells import security as cellsec

    return cellsec.validate_descriptor(sd)  # type: ignore[arg-type]  # it checks the type


def to_filetime(ts: Timestamp) -> int:
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


def split_path(path: object) -> list[str]:
    """The non-empty parts of a backslash-separated path."""
    if not isinstance(path, str):
        raise InvalidArgumentError(f"path must be str, not {type(path).__name__}")
    if "\\" not in path:  # one name, the common case: no split needed
        return [path] if path else []
    return [p for p in path.split("\\") if p]


# ---------------------------------------------------------------------------------------
# Assignable nk fields
# ---------------------------------------------------------------------------------------


def _write(hive: Any, key: Any, off: int, data: bytes) -> None:
    hive._space(key._vol).write(key._cell, off, data)
    hive._modified = True


def set_extra_flags(key: Any, value: int) -> None:
    """Store the nk flags the model does not compute (a u16)."""
    hive = editing(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise InvalidArgumentError("flags must be a u16")
    cur = int(key._f[1])
    raw = _FLAGS.struct.pack((cur & DROP_FLAGS) | (value & ~DROP_FLAGS))
    _write(hive, key, _FLAGS.offset, raw)


def set_nibble(key: Any, which: int, value: int) -> None:
    """Store the user flags (0), virtualization flags (1) or the debug byte (2)."""
    hive = editing(key)
    limit = 0xFF if which == 2 else 0xF
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise InvalidArgumentError(f"value must be 0..{limit:#x}")
    if which == 2:
        _write(hive, key, _DEBUG, bytes([value]))
        return
    uv = int(key._f[16])
    uv = (uv & 0xF0) | value if which == 0 else (uv & 0x0F) | (value << 4)
    _write(hive, key, _USER_VIRT, bytes([uv]))


def touch(key: Any, timestamp: Timestamp = None) -> None:
    """Set the key's last written time to ``timestamp`` (default now)."""
    hive = editing(key)
    _write(hive, key, _LAST_WRITTEN.offset, _LAST_WRITTEN.struct.pack(to_filetime(timestamp)))


def set_class(key: Any, value: str | None) -> None:
    """Store the key's class string (raises the parent's MaxClassLen)."""
    hive = editing(key)
    cls = check_class(value)
    raw = cls.encode("utf-16-le", "surrogatepass") if cls else b""
    nodes.set_class(hive._space(key._vol), key._cell, raw)
    p = hive._parent_of((key._vol, key._cell))
    if p is not None and raw:
        nodes.raise_maxima(hive._space(p[0]), p[1], 0, len(raw))
    hive._modified = True


def set_security(key: Any, value: bytes) -> None:
    """Give the key the descriptor ``value`` (identical descriptors share one sk)."""
    hive = editing(key)
    hive._set_security((key._vol, key._cell), check_security(value))


# ---------------------------------------------------------------------------------------
# Creating, deleting, renaming
# ---------------------------------------------------------------------------------------


def create_key(
    key: Any,
    path: str,
    class_name: str | None,
    timestamp: Timestamp,
    volatile: bool,
    security: bytes | None,
) -> Any:
    """``Key.create_key``: open or create ``path`` under ``key``."""
    with key._hive._mutex:  # SELF_LOCKED: see regf.model.autoflush
        hive = editing(key)
        if (
            path.__class__ is str
            and path
            and class_name is None
            and security is None
            and (timestamp is None or (timestamp.__class__ is int and 0 <= timestamp < 1 << 64))
            and not volatile
            and "\\" not in path
        ):
            # One plain name under a stable key, what bulk writers do: open or create
            # in one C call when the allocator has it (create_path is the
            # specification).
            fast = hive._open_or_create_fast(key, path, timestamp)
            if fast is not None:
                return fast
        return create_path(hive, key, path, class_name, timestamp, volatile, security)


def create_path(
    hive: Any,
    key: Any,
    path: str,
    class_name: str | None,
    timestamp: Timestamp,
    volatile: bool,
    security: bytes | None,
) -> Any:
    """create_key's general path (the specification of the C one), mutex held."""
    parts = split_path(path)
    if not parts:
        raise InvalidArgumentError("create_key needs a non-empty path")
    for p in parts:
        check_key_name(p)
    cls = check_class(class_name)
    class_raw = cls.encode("utf-16-le", "surrogatepass") if cls else b""
    desc = None if security is None else check_security(security)
    node = (key._vol, key._cell)
    ft: int | None = None
    depth: int | None = None
    for i, part in enumerate(parts):
        found = hive._find_child(node, part)
        if found is None:
            if depth is None:
                # The reader's walk stops at depth MAX_DEPTH: keep every key above it.
                # node is i levels below this key; the deepest new key will be at
                # depth + len(parts) - i.
                depth = hive._key_depth(key) + i
                if depth + len(parts) - i >= MAX_DEPTH:
                    raise InvalidArgumentError(f"keys may be at most {MAX_DEPTH - 1} levels deep")
            if ft is None:
                ft = to_filetime(timestamp)
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


def delete_key(key: Any, path: str, recursive: bool, timestamp: Timestamp) -> None:
    """``Key.delete_key``: delete the descendant at ``path`` and free its cells."""
    hive = editing(key)
    target = key.open_key(path)
    node = (target._vol, target._cell)
    if target is key or hive._parent_of(node) is None:
        raise InvalidArgumentError("cannot delete the key itself or the root")
    if hive._has_children(node) and not recursive:
        raise InvalidArgumentError(
            f"key {target.path!r} has subkeys; pass recursive=True to delete them"
        )
    hive._delete(node, to_filetime(timestamp))


def rename(key: Any, new_name: str, timestamp: Timestamp) -> None:
    """``Key.rename``: rename ``key`` within its parent."""
    hive = editing(key)
    node = (key._vol, key._cell)
    parent = hive._parent_of(node)
    if parent is None:
        raise InvalidArgumentError("the root key cannot be renamed")
    check_key_name(new_name)
    other = hive._find_child(parent, new_name)
    if other is not None and other != node:
        raise InvalidArgumentError(
            f"cannot rename {key.path!r}: a sibling named {new_name!r} exists"
        )
    hive._rename(node, parent, new_name, to_filetime(timestamp))


def to_spec(key: Any) -> KeySpec:
    """``Key.to_spec``: the key's stable subtree as KeySpecs."""
    hive = editing(key)
    if key._vol:
        raise InvalidArgumentError("a volatile key cannot be saved")
    spec: KeySpec = hive._spec(key._cell)
    return spec


__all__ = [
    "DROP_FLAGS",
    "ChildMustBeVolatileError",
    "Timestamp",
    "check_class",
    "check_key_name",
    "check_security",
    "create_key",
    "delete_key",
    "editing",
    "rename",
    "split_path",
    "to_filetime",
    "to_spec",
    "touch",
]
