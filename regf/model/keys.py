"""Keys (nk records): names, timestamps, classes, subkey lists, values, security."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import _accel
from .._accel import name_hash, upcase
from .._accel.pure import upcase as _upcase_py
from ..errors import (
    CellError,
    FormatError,
    KeyNotFoundError,
    RegfError,
    SignatureError,
    StructureError,
    ValueNotFoundError,
)
from ..format.constants import BASE, HCELL_NIL, KeyFlags
from ..format.fast import I32, NK, SK
from ..format.structs import NK_FIXED_SIZE, SK_FIXED_SIZE
from .values import Value, decode_name

if TYPE_CHECKING:
    from ..cells.image import HiveImage

_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def _unpack_u32s(buf: Any, start: int, count: int) -> tuple[int, ...]:
    """``count`` little-endian u32 at ``start`` (one struct call, cached formats)."""
    fmt = _U32S.get(count)
    if fmt is None:
        fmt = struct.Struct(f"<{count}I")
        if count < 4096:
            _U32S[count] = fmt
    return fmt.unpack_from(buf, start)


_U32S: dict[int, struct.Struct] = {}
MAX_LIST = 1 << 20  # bound on elements read from one list (hostile counts)


def filetime(ft: int) -> datetime:
    """FILETIME (100 ns since 1601) as an aware UTC datetime; clamps absurd values."""
    try:
        return _EPOCH + timedelta(microseconds=ft // 10)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def subkey_cells(image: HiveImage, list_cell: int, *, hashes: bool = False) -> list[Any]:
    """Decode a subkey list (li/lf/lh, or ri of leaves) into nk indexes.

    With ``hashes`` returns ``(nk index, lh hash or None)`` pairs. Raises StructureError for
    an ri inside an ri (fmt §4.2: roots point only to leaves), which also stops cycles.
    """
    out: list[Any] = []
    _read_list(image, list_cell, out, hashes, in_root=False)
    return out


def _read_list(image: HiveImage, cell: int, out: list[Any], hashes: bool, in_root: bool) -> None:
    start, cap = image.cell(cell, "subkey list", 4)
    buf = image.buf
    sig = bytes(buf[start : start + 2])
    count = int.from_bytes(buf[start + 2 : start + 4], "little")
    if sig == b"ri":
        if in_root:
            raise StructureError(f"index root {cell:#x} nested in an index root", start - 4)
        if 4 + 4 * count > cap:
            raise StructureError(f"index root {cell:#x}: count {count} exceeds its cell", start)
        raw = bytes(buf[start + 4 : start + 4 + 4 * count])
        for i in range(count):
            leaf = int.from_bytes(raw[4 * i : 4 * i + 4], "little")
            try:
                _read_list(image, leaf, out, hashes, in_root=True)
            except (CellError, SignatureError) as exc:
                if image.strict:
                    raise
                image.problems.append(exc)
        return
    if sig in (b"lf", b"lh"):
        step = 8
    elif sig == b"li":
        step = 4
    else:
        raise SignatureError(f"subkey list {cell:#x}: unknown signature {sig!r}", start)
    if 4 + step * count > cap:
        raise StructureError(f"subkey list {cell:#x}: count {count} exceeds its cell", start)
    if len(out) + count > MAX_LIST:
        raise StructureError("subkey list too long", start)
    raw = bytes(buf[start + 4 : start + 4 + step * count])
    if step == 4:
        vals = [int.from_bytes(raw[i : i + 4], "little") for i in range(0, 4 * count, 4)]
        out.extend((v, None) for v in vals) if hashes else out.extend(vals)
    elif hashes and sig == b"lh":
        for i in range(0, 8 * count, 8):
            cell = int.from_bytes(raw[i : i + 4], "little")
            out.append((cell, int.from_bytes(raw[i + 4 : i + 8], "little")))
    else:
        vals = [int.from_bytes(raw[i : i + 4], "little") for i in range(0, 8 * count, 8)]
        out.extend((v, None) for v in vals) if hashes else out.extend(vals)


def _check_no_duplicates(keys: list[Key], parent: Key) -> None:
    """Strict mode: sibling names must be unique case-insensitively (fmt §4.1).

    Lists are stored sorted, so duplicates are neighbours; comparing neighbours costs one
    ``str.translate`` per name. (An unsorted list with distant duplicates is caught by
    ``regf check``, which also verifies the order.)
    """
    prev = None
    for k in keys:
        cur = _upcase_py(k.name)
        if cur == prev:
            raise StructureError(
                f"duplicate subkey name {k.name!r} under {parent.path!r}", k.offset
            )
        prev = cur


class Key:
    """One key of an open hive. Cheap to create: the nk head is unpacked on first use.

    The tree walk creates keys from the C walker's records (``index``, ``name``,
    ``parent_path``, and the key's values prefilled in ``_vals``); ``_f`` (the unpacked
    nk head) and ``_path`` are filled by ``__getattr__`` when first needed.
    """

    __slots__ = ("_f", "_hive", "_image", "_path", "_vals", "index", "name", "parent_path")

    _f: tuple[Any, ...]
    _path: str
    _vals: list[Value] | None

    def __init__(self, hive: Any, index: int, parent_path: str | None) -> None:
        image: HiveImage = hive.image
        self._hive = hive
        self._image = image
        self.index = index
        start, cap = image.cell(index, "key", NK_FIXED_SIZE)
        f = NK.unpack_from(image.buf, start)
        if f[0] != b"nk":
            raise SignatureError(f"key cell {index:#x}: signature {f[0]!r} is not 'nk'", start)
        name_len = f[22]
        if NK_FIXED_SIZE + name_len > cap:
            raise CellError(f"key cell {index:#x}: name runs past the cell", start)
        raw = bytes(image.buf[start + NK_FIXED_SIZE : start + NK_FIXED_SIZE + name_len])
        self._f = f
        self.name = decode_name(raw, bool(f[1] & 0x20))
        self.parent_path = parent_path
        self._vals = None

    def __getattr__(self, attr: str) -> Any:
        # Only reached for the lazily filled slots of a key made by the walk.
        if attr == "_f":
            # The walker checked this nk (cell, signature, name inside the cell).
            f = self._f = NK.unpack_from(self._image.buf, BASE + self.index + 4)
            return f
        if attr == "_path":
            pp = self.parent_path
            p = self._path = "" if pp is None else self.name if pp == "" else pp + "\\" + self.name
            return p
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    # -- identity ----------------------------------------------------------------------

    @property
    def path(self) -> str:
        """Backslash-separated path from the root (the root itself is "")."""
        return self._path

    @property
    def offset(self) -> int:
        """File offset of the nk cell."""
        return BASE + self.index

    @property
    def flags(self) -> KeyFlags:
        """nk flags."""
        return KeyFlags(self._f[1])

    @property
    def last_written_raw(self) -> int:
        """Last written FILETIME as stored."""
        return int(self._f[2])

    @property
    def last_written(self) -> datetime:
        """Last written time (UTC)."""
        return filetime(self._f[2])

    access_bits = property(lambda self: self._f[3], doc="Win8+ access history bits.")
    layered_bits = property(lambda self: self._f[4], doc="RS1+ layered-key bits.")
    parent_index = property(lambda self: self._f[6], doc="Cell index of the parent nk.")
    subkey_count = property(lambda self: self._f[7], doc="Stable subkey count.")
    volatile_subkey_count = property(lambda self: self._f[8], doc="Volatile count (stale on disk).")
    security_index = property(lambda self: self._f[13], doc="Cell index of the sk.")
    max_name_len = property(lambda self: self._f[15], doc="Largest subkey name, UTF-16 bytes.")
    user_flags = property(lambda self: self._f[16] & 0xF, doc="Wow64 user flags (fmt §5.1).")
    virt_control_flags = property(lambda self: self._f[16] >> 4, doc="Virtualization flags.")
    debug = property(lambda self: self._f[17], doc="Debug byte.")
    max_class_len = property(lambda self: self._f[18], doc="Largest subkey class, bytes.")
    max_value_name_len = property(lambda self: self._f[19], doc="Largest value name, bytes.")
    max_value_data_len = property(lambda self: self._f[20], doc="Largest value data, bytes.")
    work_var = property(lambda self: self._f[21], doc="Opaque run-time cache field.")

    @property
    def value_count(self) -> int:
        """Number of values (0 for predefined-handle keys, whose field holds a handle)."""
        return 0 if self._f[1] & 0x40 else int(self._f[11])

    @property
    def class_name(self) -> str | None:
        """The key's class string, or None."""
        cell, length = self._f[14], self._f[23]
        if length == 0 or cell in (HCELL_NIL, 0):
            return None
        start, cap = self._image.cell(cell, "class name")
        if length > cap:
            if self._image.strict:
                raise CellError(f"class of {self.path!r} longer than its cell", start - 4)
            length = cap
        raw = bytes(self._image.buf[start : start + length])
        return decode_name(raw, False)

    # -- children ----------------------------------------------------------------------

    def _child_path(self) -> str:
        return self.path

    def subkeys(self) -> list[Key]:
        """Subkeys in stored (Windows-sorted) order."""
        if self._f[7] == 0 or self._f[9] == HCELL_NIL:
            return []
        image = self._image
        try:
            # Strict: the accelerator decodes the whole list (C, or its pure twin; same
            # checks). Forensic: subkey_cells skips a bad leaf instead of failing.
            if image.strict:
                cells = _accel.leaf_cells(image.bins_view(), image.hbins_size, self._f[9])
            else:
                cells = subkey_cells(image, self._f[9])
        except FormatError as exc:
            if image.strict:
                raise
            image.problems.append(exc)
            return []
        path = self.path
        if not image.strict:
            out = []
            for c in cells:
                try:
                    out.append(Key(self._hive, c, path))
                except FormatError as exc:
                    image.problems.append(exc)
            return out
        keys = [Key(self._hive, c, path) for c in cells]
        _check_no_duplicates(keys, self)
        return keys

    def iter_subkeys(self) -> Iterator[Key]:
        """Iterate subkeys (same as :meth:`subkeys`)."""
        return iter(self.subkeys())

    def subkey(self, name: str) -> Key:
        """The subkey called ``name`` (case-insensitive, Windows rules)."""
        if self._f[7] == 0 or self._f[9] == HCELL_NIL:
            raise KeyNotFoundError(f"no subkey {name!r} under {self.path!r}")
        want = upcase(name)
        h = name_hash(name)
        for cell, stored_hash in subkey_cells(self._image, self._f[9], hashes=True):
            # Windows compares the lh hash before the name (fmt §4.2).
            if stored_hash is not None and stored_hash != h:
                continue
            k = Key(self._hive, cell, self.path)
            if upcase(k.name) == want:
                return k
        raise KeyNotFoundError(f"no subkey {name!r} under {self.path!r}")

    def open_key(self, path: str) -> Key:
        """A descendant by backslash-separated relative path."""
        key = self
        for part in path.split("\\"):
            if part:
                key = key.subkey(part)
        return key

    def _value_cells(self) -> list[int]:
        count = self.value_count
        if count == 0 or self._f[12] == HCELL_NIL:
            return []
        image = self._image
        start, cap = image.cell(self._f[12], "value list")
        if 4 * count > cap:
            err = StructureError(
                f"value list of {self.path!r}: count {count} exceeds its cell", start - 4
            )
            if image.strict:
                raise err
            image.problems.append(err)
            count = cap // 4
        return list(_unpack_u32s(image.buf, start, count))

    def values(self) -> list[Value]:
        """Values in stored (insertion) order."""
        vals = self._vals
        if vals is not None:
            # Prefilled by the walk: handed out once (the caller owns the list); a
            # later call reads them again.
            self._vals = None
            return vals
        image = self._image
        if image.strict:
            cell = image.cell
            at = Value.at
            bm = image.bitmap()
            buf = image.buf
            limit = image.hbins_size
            unpack = I32.unpack_from
            res = []
            for c in self._value_cells():
                q = c >> 3
                # Inline copy of HiveImage.cell's fast path; cell() explains failures.
                if not c & 0x80000007 and c < limit and (bm[q >> 3] >> (q & 7)) & 1:
                    cap = -unpack(buf, BASE + c)[0] - 4
                    if cap >= 20:
                        res.append(at(image, c, BASE + c + 4, cap))
                        continue
                start, cap = cell(c, "value", 20)
                res.append(at(image, c, start, cap))
            return res
        out = []
        try:
            cells = self._value_cells()
        except FormatError as exc:
            image.problems.append(exc)
            return []
        for c in cells:
            try:
                out.append(Value(image, c))
            except FormatError as exc:
                image.problems.append(exc)
        return out

    def value(self, name: str = "") -> Value:
        """The value called ``name`` ("" is the default value), case-insensitive."""
        want = upcase(name)
        for v in self.values():
            if upcase(v.name) == want:
                return v
        raise ValueNotFoundError(f"no value {name!r} in {self.path!r}")

    @property
    def parent(self) -> Key | None:
        """The parent key, or None for the root."""
        if self.parent_path is None:
            return None
        return self._hive.open_key(self.parent_path)  # type: ignore[no-any-return]

    # -- security ----------------------------------------------------------------------

    @property
    def security_raw(self) -> bytes:
        """The self-relative SECURITY_DESCRIPTOR bytes of this key's sk cell."""
        image = self._image
        start, cap = image.cell(self._f[13], "security", SK_FIXED_SIZE)
        sig, _r, _fl, _bl, _refs, length = SK.unpack_from(image.buf, start)
        if sig != b"sk":
            raise SignatureError(f"security cell: signature {sig!r} is not 'sk'", start)
        if SK_FIXED_SIZE + length > cap:
            raise CellError("security descriptor runs past its cell", start)
        return bytes(image.buf[start + SK_FIXED_SIZE : start + SK_FIXED_SIZE + length])

    @property
    def security(self) -> Any:
        """Parsed security descriptor (owner, group, dacl, sacl, ``.sddl``)."""
        from ..format.security import parse_descriptor

        image = self._image
        start, _ = image.cell(self._f[13], "security", SK_FIXED_SIZE)
        return parse_descriptor(self.security_raw, base=start + SK_FIXED_SIZE)

    def __repr__(self) -> str:
        return f"<Key {self.path or '(root)'!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and other._hive is self._hive and other.index == self.index

    def __hash__(self) -> int:
        return hash((id(self._hive), self.index))


__all__ = ["Key", "RegfError", "filetime", "subkey_cells"]
