"""KEY_*_INFORMATION and KEY_VALUE_*_INFORMATION: Windows x64 layouts and the buffer
protocol of ZwQueryKey, ZwEnumerateKey, ZwQueryValueKey and ZwEnumerateValueKey.

Each structure is declared once in Construct (offsets as in ``wdm.h`` on x64: LARGE_INTEGER
is 8-aligned, so structures that start with one are padded to a multiple of 8). The
``*_FIXED`` declarations end where the first variable member starts, i.e. their ``sizeof()``
is the DDK's ``FIELD_OFFSET(..., Name|Class|Data)``: the minimum buffer a call accepts.

Buffer protocol (the configuration manager's ``CmpQueryKeyData``/``CmpQueryKeyValueData``
as published in the Windows Research Kernel, x64 build):

* ``Length < FIELD_OFFSET(variable member)``: STATUS_BUFFER_TOO_SMALL, nothing written,
  ``ResultLength`` = the size needed.
* otherwise the fixed members are written in full (``NameLength``, ``ClassLength``,
  ``DataLength`` give the *full* sizes) and each variable member is copied as far as it
  fits; if anything was cut: STATUS_BUFFER_OVERFLOW with that partial data.
* KEY_CACHED_INFORMATION has no variable member: all (40 bytes) or STATUS_BUFFER_TOO_SMALL.

Two alignment rules are easy to miss: KEY_NODE_INFORMATION's class starts at the name's
end rounded up to 4, but its ``ResultLength`` is computed *without* that padding (so a
buffer of exactly ``ResultLength`` bytes can still overflow by up to 2 bytes when the name
length is 2 mod 4); KEY_VALUE_FULL_INFORMATION's data starts at the name's end rounded up
to 8 on 64-bit Windows (both the plain and the ``Align64`` class), and there the padding
*is* counted in ``ResultLength``. ``ClassOffset``/``DataOffset`` are 0xFFFFFFFF when there
is no class / no data.
"""

from __future__ import annotations

from typing import Any, ClassVar

from construct import (
    BitsInteger,
    BitStruct,
    Bytes,
    ByteSwapped,
    Int32ul,
    Int64sl,
    Int64ul,
    Padding,
    Struct,
    this,
)

from ..format.codec import build
from .constants import KEY_INFORMATION_CLASS, KEY_VALUE_INFORMATION_CLASS
from .status import NTSTATUS, NtStatusError

#: ClassOffset / DataOffset when there is no class / data.
NO_OFFSET = 0xFFFFFFFF

# ---------------------------------------------------------------------------------------
# Construct declarations (x64). Offsets in the comments.
# ---------------------------------------------------------------------------------------

KEY_BASIC_INFORMATION_FIXED = Struct(
    "LastWriteTime" / Int64sl,  # 0x00 LARGE_INTEGER
    "TitleIndex" / Int32ul,  # 0x08 always 0
    "NameLength" / Int32ul,  # 0x0C bytes
)  # 0x10 WCHAR Name[]
KEY_BASIC_INFORMATION_LAYOUT = Struct(
    "fixed" / KEY_BASIC_INFORMATION_FIXED,
    "Name" / Bytes(this.fixed.NameLength),  # 0x10
)

KEY_NODE_INFORMATION_FIXED = Struct(
    "LastWriteTime" / Int64sl,  # 0x00
    "TitleIndex" / Int32ul,  # 0x08
    "ClassOffset" / Int32ul,  # 0x0C from the structure's start; NO_OFFSET without class
    "ClassLength" / Int32ul,  # 0x10 bytes
    "NameLength" / Int32ul,  # 0x14 bytes
)  # 0x18 WCHAR Name[], then (4-aligned) the class
KEY_NODE_INFORMATION_LAYOUT = Struct(
    "fixed" / KEY_NODE_INFORMATION_FIXED,
    "Name" / Bytes(this.fixed.NameLength),  # 0x18
    "pad" / Padding(lambda c: _pad_node(c["fixed"])),
    "Class" / Bytes(this.fixed.ClassLength),  # at ClassOffset
)

KEY_FULL_INFORMATION_FIXED = Struct(
    "LastWriteTime" / Int64sl,  # 0x00
    "TitleIndex" / Int32ul,  # 0x08
    "ClassOffset" / Int32ul,  # 0x0C 0x2C (= FIELD_OFFSET(Class)) or NO_OFFSET
    "ClassLength" / Int32ul,  # 0x10 bytes
    "SubKeys" / Int32ul,  # 0x14 stable + volatile
    "MaxNameLen" / Int32ul,  # 0x18 bytes (nk +0x34 low 16 bits, fmt §5.1)
    "MaxClassLen" / Int32ul,  # 0x1C bytes
    "Values" / Int32ul,  # 0x20
    "MaxValueNameLen" / Int32ul,  # 0x24 bytes
    "MaxValueDataLen" / Int32ul,  # 0x28 bytes
)  # 0x2C WCHAR Class[]
KEY_FULL_INFORMATION_LAYOUT = Struct(
    "fixed" / KEY_FULL_INFORMATION_FIXED,
    "Class" / Bytes(this.fixed.ClassLength),  # 0x2C
)

KEY_NAME_INFORMATION_FIXED = Struct(
    "NameLength" / Int32ul,  # 0x00 bytes
)  # 0x04 WCHAR Name[] (the full object name, \REGISTRY\...)
KEY_NAME_INFORMATION_LAYOUT = Struct(
    "fixed" / KEY_NAME_INFORMATION_FIXED,
    "Name" / Bytes(this.fixed.NameLength),
)

KEY_CACHED_INFORMATION_FIXED = Struct(
    "LastWriteTime" / Int64sl,  # 0x00
    "TitleIndex" / Int32ul,  # 0x08
    "SubKeys" / Int32ul,  # 0x0C
    "MaxNameLen" / Int32ul,  # 0x10
    "Values" / Int32ul,  # 0x14
    "MaxValueNameLen" / Int32ul,  # 0x18
    "MaxValueDataLen" / Int32ul,  # 0x1C
    "NameLength" / Int32ul,  # 0x20 bytes of the key's name (the name itself is not returned)
    Padding(4),  # 0x24 tail padding: sizeof == 0x28 because LARGE_INTEGER is 8-aligned
)
KEY_CACHED_INFORMATION_LAYOUT = Struct("fixed" / KEY_CACHED_INFORMATION_FIXED)

KEY_FLAGS_INFORMATION_FIXED = Struct(
    "Wow64Flags" / Int32ul,  # 0x00 the nk user flags (KeyWow64FlagsInformation)
    "KeyFlags" / Int32ul,  # 0x04 REG_FLAG_VOLATILE | REG_FLAG_LINK
    "ControlFlags" / Int32ul,  # 0x08 REG_KEY_DONT_VIRTUALIZE | ... (nk virt. control)
)  # sizeof 0x0C
KEY_FLAGS_INFORMATION_LAYOUT = Struct("fixed" / KEY_FLAGS_INFORMATION_FIXED)


def _ulong_bits(*fields: tuple[str, int]) -> Any:
    """A ULONG bit field, C order: the first field is bit 0 (little-endian, LSB first).
    BitStruct reads MSB first, so the fields go in reverse in a byte-swapped BitStruct."""
    return ByteSwapped(BitStruct(*(name / BitsInteger(width) for name, width in reversed(fields))))


KEY_VIRTUALIZATION_INFORMATION_FIXED = _ulong_bits(
    ("VirtualizationCandidate", 1),  # bit 0
    ("VirtualizationEnabled", 1),  # bit 1
    ("VirtualTarget", 1),  # bit 2
    ("VirtualStore", 1),  # bit 3
    ("VirtualSource", 1),  # bit 4
    ("Reserved", 27),
)  # sizeof 4
KEY_VIRTUALIZATION_INFORMATION_LAYOUT = Struct("fixed" / KEY_VIRTUALIZATION_INFORMATION_FIXED)

KEY_HANDLE_TAGS_INFORMATION_FIXED = Struct("HandleTags" / Int32ul)  # sizeof 4
KEY_HANDLE_TAGS_INFORMATION_LAYOUT = Struct("fixed" / KEY_HANDLE_TAGS_INFORMATION_FIXED)

KEY_TRUST_INFORMATION_FIXED = _ulong_bits(("TrustedKey", 1), ("Reserved", 31))  # sizeof 4
KEY_TRUST_INFORMATION_LAYOUT = Struct("fixed" / KEY_TRUST_INFORMATION_FIXED)

KEY_LAYER_INFORMATION_FIXED = _ulong_bits(
    ("IsTombstone", 1),
    ("IsSupersedeLocal", 1),
    ("IsSupersedeTree", 1),
    ("ClassIsInherited", 1),
    ("Reserved", 28),
)  # sizeof 4
KEY_LAYER_INFORMATION_LAYOUT = Struct("fixed" / KEY_LAYER_INFORMATION_FIXED)

#: KEY_VALUE_ENTRY (ZwQueryMultipleValueKey), x64: the PUNICODE_STRING is a pointer the
#: caller fills; regf writes 0 there (the name is the caller's own string).
KEY_VALUE_ENTRY = Struct(
    "ValueName" / Int64ul,  # 0x00 PUNICODE_STRING (input)
    "DataLength" / Int32ul,  # 0x08
    "DataOffset" / Int32ul,  # 0x0C from the start of the value buffer
    "Type" / Int32ul,  # 0x10
    Padding(4),  # 0x14 tail padding to the pointer's alignment: sizeof 0x18
)

KEY_VALUE_BASIC_INFORMATION_FIXED = Struct(
    "TitleIndex" / Int32ul,  # 0x00
    "Type" / Int32ul,  # 0x04
    "NameLength" / Int32ul,  # 0x08 bytes
)  # 0x0C WCHAR Name[]
KEY_VALUE_BASIC_INFORMATION_LAYOUT = Struct(
    "fixed" / KEY_VALUE_BASIC_INFORMATION_FIXED,
    "Name" / Bytes(this.fixed.NameLength),
)

KEY_VALUE_FULL_INFORMATION_FIXED = Struct(
    "TitleIndex" / Int32ul,  # 0x00
    "Type" / Int32ul,  # 0x04
    "DataOffset" / Int32ul,  # 0x08 from the structure's start; NO_OFFSET without data
    "DataLength" / Int32ul,  # 0x0C bytes
    "NameLength" / Int32ul,  # 0x10 bytes
)  # 0x14 WCHAR Name[], then (8-aligned on x64) the data
KEY_VALUE_FULL_INFORMATION_LAYOUT = Struct(
    "fixed" / KEY_VALUE_FULL_INFORMATION_FIXED,
    "Name" / Bytes(this.fixed.NameLength),
    "pad" / Padding(lambda c: _pad_value_full(c["fixed"])),
    "Data" / Bytes(this.fixed.DataLength),
)

KEY_VALUE_PARTIAL_INFORMATION_FIXED = Struct(
    "TitleIndex" / Int32ul,  # 0x00
    "Type" / Int32ul,  # 0x04
    "DataLength" / Int32ul,  # 0x08
)  # 0x0C UCHAR Data[]
KEY_VALUE_PARTIAL_INFORMATION_LAYOUT = Struct(
    "fixed" / KEY_VALUE_PARTIAL_INFORMATION_FIXED,
    "Data" / Bytes(this.fixed.DataLength),
)

KEY_VALUE_PARTIAL_INFORMATION_ALIGN64_FIXED = Struct(
    "Type" / Int32ul,  # 0x00
    "DataLength" / Int32ul,  # 0x04
)  # 0x08 UCHAR Data[]
KEY_VALUE_PARTIAL_INFORMATION_ALIGN64_LAYOUT = Struct(
    "fixed" / KEY_VALUE_PARTIAL_INFORMATION_ALIGN64_FIXED,
    "Data" / Bytes(this.fixed.DataLength),
)


def _align(n: int, to: int) -> int:
    return (n + to - 1) & ~(to - 1)


def _pad_node(fixed: Any) -> int:
    # Indexing, not attributes: while building, ``fixed`` is the caller's plain dict.
    if fixed["ClassOffset"] == NO_OFFSET:
        return 0
    end = int(KEY_NODE_INFORMATION_FIXED.sizeof()) + int(fixed["NameLength"])
    return int(fixed["ClassOffset"]) - end


def _pad_value_full(fixed: Any) -> int:
    if fixed["DataOffset"] == NO_OFFSET:
        return 0
    end = int(KEY_VALUE_FULL_INFORMATION_FIXED.sizeof()) + int(fixed["NameLength"])
    return int(fixed["DataOffset"]) - end


def _large_integer(ft: int) -> int:
    """A u64 FILETIME as the signed LARGE_INTEGER with the same bytes."""
    ft &= 0xFFFFFFFFFFFFFFFF
    return ft - (1 << 64) if ft >= 1 << 63 else ft


def _wide(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _unwide(raw: bytes) -> str:
    # A partial copy may end in the middle of a UTF-16 unit: drop the odd byte.
    return raw[: len(raw) & ~1].decode("utf-16-le", "surrogatepass")


# ---------------------------------------------------------------------------------------
# Result objects
# ---------------------------------------------------------------------------------------


class InfoStruct:
    """One information structure as a call returns it.

    Fixed members are attributes with their DDK names (``info.SubKeys``); variable
    members (``Name``, ``Class``, ``Data``) are read from the buffer, so a partial result
    (STATUS_BUFFER_OVERFLOW) shows exactly the part Windows copies. ``to_bytes()`` is the
    buffer as written; ``result_length`` is Windows' ``*ResultLength`` (the size needed).
    """

    #: The information class this structure answers.
    INFO_CLASS: ClassVar[int]
    #: Construct declaration of the fixed part (sizeof = minimum buffer length).
    FIXED: ClassVar[Any]
    #: Construct declaration of the whole structure.
    LAYOUT: ClassVar[Any]

    __slots__ = ("_buffer", "_fields", "result_length")

    def __init__(self, fields: dict[str, int], buffer: bytes, result_length: int) -> None:
        self._fields = fields
        self._buffer = buffer
        self.result_length = result_length

    @classmethod
    def minimum_length(cls) -> int:
        """``FIELD_OFFSET`` of the variable member: the smallest buffer accepted."""
        return int(cls.FIXED.sizeof())

    @classmethod
    def _make(cls, fields: dict[str, int], variable: dict[str, bytes], result_length: int) -> Any:
        buffer = build(cls.LAYOUT, {"fixed": fields, **variable}, cls.__name__)
        return cls(fields, buffer, result_length)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no member {name!r}") from None

    @property
    def fields(self) -> dict[str, int]:
        """The fixed members by DDK name."""
        return dict(self._fields)

    def to_bytes(self) -> bytes:
        """The bytes the call writes into the caller's buffer."""
        return self._buffer

    def _slice(self, offset: int, length: int) -> bytes:
        if offset == NO_OFFSET:
            return b""
        return self._buffer[offset : offset + length]

    def truncated(self, length: int) -> Any:
        """The partial structure a ``length``-byte buffer receives (>= the fixed part)."""
        return type(self)(self._fields, self._buffer[:length], self.result_length)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InfoStruct):
            return NotImplemented
        return type(self) is type(other) and self._buffer == other._buffer

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._buffer))

    def __repr__(self) -> str:
        members = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"<{type(self).__name__} {members} ({len(self._buffer)} bytes)>"


class KEY_BASIC_INFORMATION(InfoStruct):
    """KeyBasicInformation: LastWriteTime, TitleIndex, NameLength, Name."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyBasicInformation
    FIXED = KEY_BASIC_INFORMATION_FIXED
    LAYOUT = KEY_BASIC_INFORMATION_LAYOUT
    __slots__ = ()

    @property
    def Name(self) -> str:
        """The key's name (as far as it was copied)."""
        return _unwide(self._slice(self.FIXED.sizeof(), self.NameLength))

    @classmethod
    def make(cls, last_write: int, name: str) -> KEY_BASIC_INFORMATION:
        """Build from a key's last write time and name."""
        raw = _wide(name)
        fields = {"LastWriteTime": _large_integer(last_write), "TitleIndex": 0}
        fields["NameLength"] = len(raw)
        result: KEY_BASIC_INFORMATION = cls._make(
            fields, {"Name": raw}, cls.minimum_length() + len(raw)
        )
        return result


class KEY_NODE_INFORMATION(InfoStruct):
    """KeyNodeInformation: basic information plus the class (4-aligned after the name)."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyNodeInformation
    FIXED = KEY_NODE_INFORMATION_FIXED
    LAYOUT = KEY_NODE_INFORMATION_LAYOUT
    __slots__ = ()

    @property
    def Name(self) -> str:
        """The key's name."""
        return _unwide(self._slice(self.FIXED.sizeof(), self.NameLength))

    @property
    def Class(self) -> str:
        """The key's class ("" when it has none)."""
        return _unwide(self._slice(self.ClassOffset, self.ClassLength))

    @classmethod
    def make(cls, last_write: int, name: str, class_name: str | None) -> KEY_NODE_INFORMATION:
        """Build from a key's last write time, name and class."""
        raw = _wide(name)
        cls_raw = _wide(class_name or "")
        fixed = cls.minimum_length()
        fields = {
            "LastWriteTime": _large_integer(last_write),
            "TitleIndex": 0,
            "ClassOffset": _align(fixed + len(raw), 4) if cls_raw else NO_OFFSET,
            "ClassLength": len(cls_raw),
            "NameLength": len(raw),
        }
        # ResultLength leaves out the alignment padding before the class (see module doc).
        result: KEY_NODE_INFORMATION = cls._make(
            fields, {"Name": raw, "Class": cls_raw}, fixed + len(raw) + len(cls_raw)
        )
        return result


class KEY_FULL_INFORMATION(InfoStruct):
    """KeyFullInformation: times, counts, the nk maxima (bytes) and the class."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyFullInformation
    FIXED = KEY_FULL_INFORMATION_FIXED
    LAYOUT = KEY_FULL_INFORMATION_LAYOUT
    __slots__ = ()

    @property
    def Class(self) -> str:
        """The key's class ("" when it has none)."""
        return _unwide(self._slice(self.ClassOffset, self.ClassLength))

    @classmethod
    def make(
        cls,
        last_write: int,
        class_name: str | None,
        *,
        subkeys: int,
        max_name_len: int,
        max_class_len: int,
        values: int,
        max_value_name_len: int,
        max_value_data_len: int,
    ) -> KEY_FULL_INFORMATION:
        """Build from a key's fields (maxima in bytes, fmt §5.3)."""
        cls_raw = _wide(class_name or "")
        fixed = cls.minimum_length()
        fields = {
            "LastWriteTime": _large_integer(last_write),
            "TitleIndex": 0,
            "ClassOffset": fixed if cls_raw else NO_OFFSET,
            "ClassLength": len(cls_raw),
            "SubKeys": subkeys,
            "MaxNameLen": max_name_len,
            "MaxClassLen": max_class_len,
            "Values": values,
            "MaxValueNameLen": max_value_name_len,
            "MaxValueDataLen": max_value_data_len,
        }
        result: KEY_FULL_INFORMATION = cls._make(fields, {"Class": cls_raw}, fixed + len(cls_raw))
        return result


class KEY_NAME_INFORMATION(InfoStruct):
    """KeyNameInformation: the key's full object name (``\\REGISTRY\\MACHINE\\...``)."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyNameInformation
    FIXED = KEY_NAME_INFORMATION_FIXED
    LAYOUT = KEY_NAME_INFORMATION_LAYOUT
    __slots__ = ()

    @property
    def Name(self) -> str:
        """The full object name."""
        return _unwide(self._slice(self.FIXED.sizeof(), self.NameLength))

    @classmethod
    def make(cls, full_name: str) -> KEY_NAME_INFORMATION:
        """Build from a full object name."""
        raw = _wide(full_name)
        result: KEY_NAME_INFORMATION = cls._make(
            {"NameLength": len(raw)}, {"Name": raw}, cls.minimum_length() + len(raw)
        )
        return result


class KEY_CACHED_INFORMATION(InfoStruct):
    """KeyCachedInformation: the full information's counts and maxima plus the name's
    length, without any string (all or nothing: 40 bytes)."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyCachedInformation
    FIXED = KEY_CACHED_INFORMATION_FIXED
    LAYOUT = KEY_CACHED_INFORMATION_LAYOUT
    __slots__ = ()

    @classmethod
    def make(
        cls,
        last_write: int,
        *,
        subkeys: int,
        max_name_len: int,
        values: int,
        max_value_name_len: int,
        max_value_data_len: int,
        name_length: int,
    ) -> KEY_CACHED_INFORMATION:
        """Build from a key's fields (lengths in bytes)."""
        fields = {
            "LastWriteTime": _large_integer(last_write),
            "TitleIndex": 0,
            "SubKeys": subkeys,
            "MaxNameLen": max_name_len,
            "Values": values,
            "MaxValueNameLen": max_value_name_len,
            "MaxValueDataLen": max_value_data_len,
            "NameLength": name_length,
        }
        result: KEY_CACHED_INFORMATION = cls._make(fields, {}, cls.minimum_length())
        return result


class _FixedInfo(InfoStruct):
    """A fixed-size structure (all or STATUS_BUFFER_TOO_SMALL)."""

    __slots__ = ()

    @classmethod
    def make(cls, **fields: int) -> InfoStruct:
        """Build from the members (bit fields by name; ``Reserved`` is 0)."""
        names = [n for n in _member_names(cls.FIXED) if n not in fields]
        full = {**{n: 0 for n in names}, **fields}
        result: InfoStruct = cls._make(full, {}, cls.minimum_length())
        return result


def _member_names(con: Any) -> list[str]:
    sub = getattr(con, "subcon", None)
    if sub is not None and not hasattr(con, "subcons"):
        return _member_names(sub)
    return [c.name for c in getattr(con, "subcons", []) if c.name]


class KEY_FLAGS_INFORMATION(_FixedInfo):
    """KeyFlagsInformation: Wow64Flags, KeyFlags, ControlFlags (12 bytes)."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyFlagsInformation
    FIXED = KEY_FLAGS_INFORMATION_FIXED
    LAYOUT = KEY_FLAGS_INFORMATION_LAYOUT
    __slots__ = ()


class KEY_VIRTUALIZATION_INFORMATION(_FixedInfo):
    """KeyVirtualizationInformation: five bit flags in one ULONG."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyVirtualizationInformation
    FIXED = KEY_VIRTUALIZATION_INFORMATION_FIXED
    LAYOUT = KEY_VIRTUALIZATION_INFORMATION_LAYOUT
    __slots__ = ()


class KEY_HANDLE_TAGS_INFORMATION(_FixedInfo):
    """KeyHandleTagsInformation: the handle's tags (set by KeySetHandleTagsInformation)."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyHandleTagsInformation
    FIXED = KEY_HANDLE_TAGS_INFORMATION_FIXED
    LAYOUT = KEY_HANDLE_TAGS_INFORMATION_LAYOUT
    __slots__ = ()


class KEY_TRUST_INFORMATION(_FixedInfo):
    """KeyTrustInformation: TrustedKey (bit 0)."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyTrustInformation
    FIXED = KEY_TRUST_INFORMATION_FIXED
    LAYOUT = KEY_TRUST_INFORMATION_LAYOUT
    __slots__ = ()


class KEY_LAYER_INFORMATION(_FixedInfo):
    """KeyLayerInformation: layered-key bits (regf hives are never layered: all 0)."""

    INFO_CLASS = KEY_INFORMATION_CLASS.KeyLayerInformation
    FIXED = KEY_LAYER_INFORMATION_FIXED
    LAYOUT = KEY_LAYER_INFORMATION_LAYOUT
    __slots__ = ()


class KEY_VALUE_BASIC_INFORMATION(InfoStruct):
    """KeyValueBasicInformation: TitleIndex, Type, NameLength, Name."""

    INFO_CLASS = KEY_VALUE_INFORMATION_CLASS.KeyValueBasicInformation
    FIXED = KEY_VALUE_BASIC_INFORMATION_FIXED
    LAYOUT = KEY_VALUE_BASIC_INFORMATION_LAYOUT
    __slots__ = ()

    @property
    def Name(self) -> str:
        """The value's name ("" for the default value)."""
        return _unwide(self._slice(self.FIXED.sizeof(), self.NameLength))

    @classmethod
    def make(cls, vtype: int, name: str) -> KEY_VALUE_BASIC_INFORMATION:
        """Build from a value's type and name."""
        raw = _wide(name)
        fields = {"TitleIndex": 0, "Type": vtype, "NameLength": len(raw)}
        result: KEY_VALUE_BASIC_INFORMATION = cls._make(
            fields, {"Name": raw}, cls.minimum_length() + len(raw)
        )
        return result


class KEY_VALUE_FULL_INFORMATION(InfoStruct):
    """KeyValueFullInformation (and ...Align64, identical on x64): type, name and data."""

    INFO_CLASS = KEY_VALUE_INFORMATION_CLASS.KeyValueFullInformation
    FIXED = KEY_VALUE_FULL_INFORMATION_FIXED
    LAYOUT = KEY_VALUE_FULL_INFORMATION_LAYOUT
    __slots__ = ()

    @property
    def Name(self) -> str:
        """The value's name."""
        return _unwide(self._slice(self.FIXED.sizeof(), self.NameLength))

    @property
    def Data(self) -> bytes:
        """The value's data (as far as it was copied)."""
        return self._slice(self.DataOffset, self.DataLength)

    @classmethod
    def make(cls, vtype: int, name: str, data: bytes) -> KEY_VALUE_FULL_INFORMATION:
        """Build from a value's type, name and data."""
        raw = _wide(name)
        base = cls.minimum_length() + len(raw)
        # x64 Windows aligns the data to 8 for both full classes, and counts the padding.
        offset = _align(base, 8) if data else NO_OFFSET
        fields = {
            "TitleIndex": 0,
            "Type": vtype,
            "DataOffset": offset,
            "DataLength": len(data),
            "NameLength": len(raw),
        }
        needed = offset + len(data) if data else base
        result: KEY_VALUE_FULL_INFORMATION = cls._make(
            fields, {"Name": raw, "Data": bytes(data)}, needed
        )
        return result


class KEY_VALUE_PARTIAL_INFORMATION(InfoStruct):
    """KeyValuePartialInformation: TitleIndex, Type, DataLength, Data."""

    INFO_CLASS = KEY_VALUE_INFORMATION_CLASS.KeyValuePartialInformation
    FIXED = KEY_VALUE_PARTIAL_INFORMATION_FIXED
    LAYOUT = KEY_VALUE_PARTIAL_INFORMATION_LAYOUT
    __slots__ = ()

    @property
    def Data(self) -> bytes:
        """The value's data (as far as it was copied)."""
        return self._slice(self.FIXED.sizeof(), self.DataLength)

    @classmethod
    def make(cls, vtype: int, data: bytes) -> KEY_VALUE_PARTIAL_INFORMATION:
        """Build from a value's type and data."""
        fields = {"TitleIndex": 0, "Type": vtype, "DataLength": len(data)}
        result: KEY_VALUE_PARTIAL_INFORMATION = cls._make(
            fields, {"Data": bytes(data)}, cls.minimum_length() + len(data)
        )
        return result


class KEY_VALUE_PARTIAL_INFORMATION_ALIGN64(InfoStruct):
    """KeyValuePartialInformationAlign64: Type, DataLength, Data (data at offset 8)."""

    INFO_CLASS = KEY_VALUE_INFORMATION_CLASS.KeyValuePartialInformationAlign64
    FIXED = KEY_VALUE_PARTIAL_INFORMATION_ALIGN64_FIXED
    LAYOUT = KEY_VALUE_PARTIAL_INFORMATION_ALIGN64_LAYOUT
    __slots__ = ()

    @property
    def Data(self) -> bytes:
        """The value's data (as far as it was copied)."""
        return self._slice(self.FIXED.sizeof(), self.DataLength)

    @classmethod
    def make(cls, vtype: int, data: bytes) -> KEY_VALUE_PARTIAL_INFORMATION_ALIGN64:
        """Build from a value's type and data."""
        fields = {"Type": vtype, "DataLength": len(data)}
        result: KEY_VALUE_PARTIAL_INFORMATION_ALIGN64 = cls._make(
            fields, {"Data": bytes(data)}, cls.minimum_length() + len(data)
        )
        return result


# ---------------------------------------------------------------------------------------
# Buffer protocol
# ---------------------------------------------------------------------------------------


def check_length(length: object) -> int | None:
    """A caller's buffer length: None (big enough) or a ULONG; STATUS_INVALID_PARAMETER
    (NtStatusError) otherwise."""
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= 0xFFFFFFFF:
        raise NtStatusError(
            NTSTATUS.STATUS_INVALID_PARAMETER, f"length must be a ULONG, not {length!r}"
        )
    return length


def fit(info: InfoStruct, length: int | None) -> tuple[NTSTATUS, InfoStruct | None]:
    """What a call with a ``length``-byte buffer returns for ``info``.

    ``None`` means "big enough". Returns (STATUS_SUCCESS, info),
    (STATUS_BUFFER_OVERFLOW, the partial structure) or (STATUS_BUFFER_TOO_SMALL, None);
    ``info.result_length`` is the ResultLength in every case.
    """
    if length is None:
        return NTSTATUS.STATUS_SUCCESS, info
    if length < info.minimum_length():
        return NTSTATUS.STATUS_BUFFER_TOO_SMALL, None
    if length < len(info.to_bytes()):
        return NTSTATUS.STATUS_BUFFER_OVERFLOW, info.truncated(length)
    return NTSTATUS.STATUS_SUCCESS, info


#: Classes ZwEnumerateKey accepts (the others give STATUS_INVALID_PARAMETER, as in Windows).
ENUMERATE_KEY_CLASSES = frozenset(
    {
        KEY_INFORMATION_CLASS.KeyBasicInformation,
        KEY_INFORMATION_CLASS.KeyNodeInformation,
        KEY_INFORMATION_CLASS.KeyFullInformation,
    }
)

__all__ = [
    "ENUMERATE_KEY_CLASSES",
    "KEY_FLAGS_INFORMATION",
    "KEY_FLAGS_INFORMATION_FIXED",
    "KEY_HANDLE_TAGS_INFORMATION",
    "KEY_HANDLE_TAGS_INFORMATION_FIXED",
    "KEY_LAYER_INFORMATION",
    "KEY_LAYER_INFORMATION_FIXED",
    "KEY_TRUST_INFORMATION",
    "KEY_TRUST_INFORMATION_FIXED",
    "KEY_VALUE_ENTRY",
    "KEY_VIRTUALIZATION_INFORMATION",
    "KEY_VIRTUALIZATION_INFORMATION_FIXED",
    "KEY_BASIC_INFORMATION",
    "KEY_BASIC_INFORMATION_FIXED",
    "KEY_CACHED_INFORMATION",
    "KEY_CACHED_INFORMATION_FIXED",
    "KEY_FULL_INFORMATION",
    "KEY_FULL_INFORMATION_FIXED",
    "KEY_NAME_INFORMATION",
    "KEY_NAME_INFORMATION_FIXED",
    "KEY_NODE_INFORMATION",
    "KEY_NODE_INFORMATION_FIXED",
    "KEY_VALUE_BASIC_INFORMATION",
    "KEY_VALUE_BASIC_INFORMATION_FIXED",
    "KEY_VALUE_FULL_INFORMATION",
    "KEY_VALUE_FULL_INFORMATION_FIXED",
    "KEY_VALUE_PARTIAL_INFORMATION",
    "KEY_VALUE_PARTIAL_INFORMATION_ALIGN64",
    "KEY_VALUE_PARTIAL_INFORMATION_ALIGN64_FIXED",
    "KEY_VALUE_PARTIAL_INFORMATION_FIXED",
    "NO_OFFSET",
    "InfoStruct",
    "check_length",
    "fit",
]
