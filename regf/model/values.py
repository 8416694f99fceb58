"""Values (vk records): name, type, exact raw data (inline, cell, or big data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..cells.nodes import decode_key_name as decode_name
from ..errors import CellError, FormatError, SignatureError, StructureError
from ..format.constants import BASE, DATA_INLINE, HCELL_NIL, VOLATILE_BIT, ValueFlags, ValueType
from ..format.fast import CELL_HEADER, DB, I32, U32, VK
from ..format.structs import BIG_DATA_SEGMENT, VK_FIXED_SIZE
from .decode import decode
from .spec import ValueSpec

if TYPE_CHECKING:
    from ..cells.image import HiveImage

_COMP_NAME = int(ValueFlags.COMP_NAME)  # an int: IntFlag operations are slow
MAX_VALUE_SIZE = 256 * 1024 * 1024  # bounded allocation for hostile data sizes
_TYPES_MAX = 4096  # a hostile hive's random types are not all kept


class _TypeTable(dict[int, ValueType]):
    """The members by number (ValueType(t) costs more than making the value); an
    unknown number becomes a ``REG_UNKNOWN_0x..`` member, kept while there are few."""

    def __missing__(self, t: int) -> ValueType:
        m = ValueType(t)
        if len(self) < _TYPES_MAX:  # device types (0x10, 0x12, ...): a few per hive
            self[t] = m
        return m


#: ``value_type(t)``: the ValueType member of type number ``t`` (a C-level call).
value_type = _TypeTable({int(t): t for t in ValueType}).__getitem__


class Value:
    """One value of a key. ``raw`` is the exact data bytes; ``data`` decodes by type.

    The same class serves read-only and editable hives. Cheap to create: the tree walk
    fills ``index``, ``name``, ``type`` and (when the C walker could copy
    them) the raw bytes; ``data_size``, ``data_cell`` and ``flags`` are unpacked from the
    vk on first use, and raw bytes that were not copied are read (and checked) on every
    access of ``raw``. A value of an editable hive is a snapshot (:meth:`snapshot`:
    every field filled when it is read); change it with ``Key.set_value``.

    No ``__getattr__``: with one, CPython cannot specialise attribute reads, and every
    ``v.name`` / ``v.raw`` of a walk would take the slow generic lookup.
    """

    __slots__ = ("_head", "_image", "_raw", "index", "name", "type")

    _image: HiveImage
    #: The unpacked vk (sig, name length, data size, data cell, type, flags, spare),
    #: unpacked on first use of a size field.
    _head: tuple[Any, ...]
    index: int
    name: str
    #: REG_* type (a ValueType; unknown numbers are kept, e.g. ``REG_UNKNOWN_0x12``).
    type: ValueType
    _raw: bytes

    # No __init__: ``Value()`` (what the walk calls) then costs a quarter less than
    # ``Value.__new__(Value)``, whose call packs its argument into a tuple.

    @classmethod
    def load(cls, image: HiveImage, index: int) -> Value:
        """The value at vk ``index``, checked (its raw bytes are read on access)."""
        start, cap = image.cell(index, "value", VK_FIXED_SIZE)
        return cls.at(image, index, start, cap)

    @classmethod
    def snapshot(
        cls, name: str, vtype: int, raw: bytes, index: int, head: tuple[Any, ...] | None
    ) -> Value:
        """A value whose every field is filled: ``head`` is its unpacked vk (None: the vk
        is not known, the size fields describe ``raw``)."""
        v = cls()
        v.name = name
        v.type = value_type(vtype)
        v._raw = raw
        v.index = index
        if head is None:
            size = len(raw) | (DATA_INLINE if len(raw) <= 4 else 0)
            head = (b"vk", 0, size, HCELL_NIL, vtype, 0, 0)
        v._head = head
        return v

    @classmethod
    def at(cls, image: HiveImage, index: int, start: int, cap: int) -> Value:
        """Build from a cell already checked by ``image.cell`` (hot path of key walks)."""
        v = cls()
        v._load(image, index, start, cap)
        return v

    def _load(self, image: HiveImage, index: int, start: int, cap: int) -> None:
        self._image = image
        self.index = index
        head = VK.unpack_from(image.buf, start)
        sig, name_len, _data_size, _data, vtype, flags, _spare = head
        if sig != b"vk":
            raise SignatureError(f"value cell {index:#x}: signature {sig!r} is not 'vk'", start)
        if VK_FIXED_SIZE + name_len > cap:
            raise CellError(f"value cell {index:#x}: name runs past the cell", start)
        raw_name = image.buf[start + VK_FIXED_SIZE : start + VK_FIXED_SIZE + name_len]
        if flags & _COMP_NAME:
            self.name = raw_name.decode("latin-1")
        else:
            self.name = decode_name(bytes(raw_name), False)
        self._head = head
        self.type = value_type(vtype)

    def _vk(self) -> tuple[Any, ...]:
        """The unpacked vk, read on first use (the walk checked this vk already:
        signature and name inside the cell)."""
        try:
            return self._head
        except AttributeError:
            head = self._head = VK.unpack_from(self._image.buf, BASE + self.index + CELL_HEADER)
            return head

    @property
    def type_(self) -> int:
        """The type as a plain int (``int(type)``)."""
        return int(self.type)

    @property
    def raw(self) -> bytes:
        """The exact data bytes (when the walk did not copy them: read from the cells and
        checked on every access, not cached; it may raise, and forensic mode records
        nothing here)."""
        try:
            return self._raw
        except AttributeError:
            return self._read_raw()

    @property
    def data_size(self) -> int:
        """The vk's data size field as stored (DATA_INLINE bit included)."""
        return int(self._vk()[2])

    @property
    def data_cell(self) -> int:
        """The vk's data field: a cell index, or the inline bytes as a little-endian int."""
        return int(self._vk()[3])

    @property
    def flags(self) -> int:
        """The vk's flags (COMP_NAME, ...)."""
        return int(self._vk()[5])

    @property
    def offset(self) -> int:
        """File offset of the vk cell."""
        return BASE + self.index

    @property
    def inline(self) -> bool:
        """Data stored in the vk's data field itself (4 bytes or less)."""
        return bool(self.data_size & DATA_INLINE)

    @property
    def size(self) -> int:
        """Declared data length in bytes."""
        return self.data_size & ~DATA_INLINE

    def _read_raw(self) -> bytes:
        """The exact data bytes, read and checked from the cells."""
        image = self._image
        length = self.size
        if self.inline:
            # Inline: bytes from the lowest address of the data field; more than 4 is
            # impossible on a sound hive, so the field's 4 bytes are all there is.
            return self.data_cell.to_bytes(4, "little")[: min(length, 4)]
        if length == 0:
            return b""
        if length > MAX_VALUE_SIZE:
            raise FormatError(f"value {self.name!r}: data size {length:#x} too large", self.offset)
        if length > BIG_DATA_SEGMENT and image.minor >= 4:
            start, cap = image.cell(self.data_cell, "value data", 4)
            if image.buf[start : start + 2] == b"db":
                return self._big_data(length)
            # Not a db record: some writers (hivex) store big values in one cell. Read it
            # literally when the cell is large enough, as Windows would fail to.
        c = self.data_cell
        q = c >> 3
        bm = image.bitmap()
        # Inline copy of HiveImage.cell's fast path (this is the hottest read).
        if not c & (VOLATILE_BIT | 7) and c < image.hbins_size and (bm[q >> 3] >> (q & 7)) & 1:
            start = BASE + c + CELL_HEADER
            cap = -I32.unpack_from(image.buf, BASE + c)[0] - CELL_HEADER
        else:
            start, cap = image.cell(c, "value data")
        if cap < length:
            if image.strict:
                raise CellError(
                    f"value {self.name!r}: data cell holds {cap} of {length} bytes",
                    start - CELL_HEADER,
                )
            length = cap
        return bytes(image.buf[start : start + length])

    def _big_data(self, length: int) -> bytes:
        image = self._image
        start, _cap = image.cell(self.data_cell, "big data", DB.size)
        _sig, count, seg_list = DB.unpack_from(image.buf, start)
        needed = -(-length // BIG_DATA_SEGMENT)
        if count < needed and image.strict:
            raise StructureError(
                f"big data: {count} segments cannot hold {length} bytes", start - CELL_HEADER
            )
        lstart, _ = image.cell(seg_list, "big data segment list", 4 * count)
        parts: list[bytes] = []
        remaining = length
        for i in range(count):
            if remaining <= 0:
                break
            (seg,) = U32.unpack_from(image.buf, lstart + 4 * i)
            if seg == HCELL_NIL:
                break
            sstart, scap = image.cell(seg, "big data segment")
            # Only the first 16344 bytes of a segment count, whatever its cell size
            # (libregf #5).
            take = min(remaining, BIG_DATA_SEGMENT, scap)
            parts.append(bytes(image.buf[sstart : sstart + take]))
            remaining -= take
        data = b"".join(parts)
        if len(data) < length and image.strict:
            raise StructureError(
                f"big data: segments hold {len(data)} of {length} bytes", start - CELL_HEADER
            )
        return data

    @property
    def data(self) -> str | list[str] | int | bytes:
        """``raw`` decoded by type: str, list[str], int, or bytes. Never raises on odd data."""
        return decode(self.type_, self.raw)

    def to_spec(self) -> ValueSpec:
        """This value as a :class:`~regf.model.spec.ValueSpec` (name, type, raw)."""
        return ValueSpec(self.name, self.type_, self.raw)

    def __repr__(self) -> str:
        return f"<Value {self.name!r} {self.type.name} {self.size} bytes>"


#: A walker chunk's value records, for ``Key.values()`` to make :class:`Value` objects
#: from: cells, names, ValueType members, statuses (0: raw data copied), raw data, the
#: image. A key holds ``(records, lo, hi)`` until asked for its values.
ValueRecords = tuple[Any, ...]


__all__ = ["MAX_VALUE_SIZE", "Value", "ValueRecords", "decode_name"]
