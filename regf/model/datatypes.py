"""Decoders for data inside values: FILETIME, SYSTEMTIME, GUID, and the resource lists.

Forensic artefacts keep times and GUIDs inside REG_BINARY values (for example
UserAssist, ShellBags, network profiles), and device keys keep hardware resources as
REG_RESOURCE_LIST, REG_FULL_RESOURCE_DESCRIPTOR and REG_RESOURCE_REQUIREMENTS_LIST.
These functions turn such bytes into Python objects. Layouts are declared in
:mod:`regf.format.resources`; bad data raises a :class:`~regf.errors.FormatError`
whose ``offset`` is the position inside the data.

>>> filetime(bytes.fromhex("00803e d5de b1 9d 01".replace(" ", "")))
datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import FormatError
from ..format import codec
from ..format import resources as R
from ..format.constants import ValueType

_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

#: CmResourceType names (wdm.h).
RESOURCE_TYPES = {
    0: "Null",
    1: "Port",
    2: "Interrupt",
    3: "Memory",
    4: "Dma",
    5: "DeviceSpecific",
    6: "BusNumber",
    7: "MemoryLarge",
    0x80: "ConfigData",
    0x81: "DevicePrivate",
    0x82: "PcCardConfig",
    0x83: "MfCardConfig",
}

_DEVICE_SPECIFIC = 5


def _need(data: bytes, offset: int, size: int, what: str) -> None:
    if offset < 0 or offset + size > len(data):
        raise FormatError(f"{what} needs {size} bytes at {offset}, data has {len(data)}", offset)


def filetime(data: bytes, offset: int = 0) -> datetime:
    """The FILETIME (8 bytes, 100 ns since 1601, UTC) at ``offset`` as an aware datetime."""
    _need(data, offset, 8, "FILETIME")
    ft = codec.parse(R.FileTime, data[offset : offset + 8], offset, "FILETIME").filetime
    try:
        return _EPOCH + timedelta(microseconds=ft // 10)
    except OverflowError:
        raise FormatError(f"FILETIME {ft:#x} is out of range", offset) from None


def systemtime(data: bytes, offset: int = 0) -> datetime:
    """The SYSTEMTIME (16 bytes) at ``offset`` as an aware datetime (UTC assumed)."""
    _need(data, offset, 16, "SYSTEMTIME")
    st = codec.parse(R.SystemTime, data[offset : offset + 16], offset, "SYSTEMTIME")
    try:
        return datetime(
            st.year, st.month, st.day, st.hour, st.minute, st.second,
            st.milliseconds * 1000, tzinfo=UTC,
        )  # fmt: skip
    except ValueError as exc:
        raise FormatError(f"SYSTEMTIME is not a valid time: {exc}", offset) from None


def guid(data: bytes, offset: int = 0) -> uuid.UUID:
    """The GUID (16 bytes, mixed-endian as Windows stores it) at ``offset``."""
    _need(data, offset, 16, "GUID")
    g = codec.parse(R.Guid, data[offset : offset + 16], offset, "GUID")
    return uuid.UUID(fields=(g.data1, g.data2, g.data3, g.data4[0], g.data4[1],
                             int.from_bytes(g.data4[2:], "big")))  # fmt: skip


def guid_text(data: bytes, offset: int = 0) -> str:
    """The GUID at ``offset`` as Windows prints it: ``{XXXXXXXX-XXXX-...}``, upper case."""
    return "{" + str(guid(data, offset)).upper() + "}"


# -- resource lists ----------------------------------------------------------------------


@dataclass(frozen=True)
class PartialResource:
    """One CM_PARTIAL_RESOURCE_DESCRIPTOR: a port, interrupt, memory range, DMA channel..."""

    type: int
    share_disposition: int
    flags: int
    fields: dict[str, int]
    raw: bytes
    device_data: bytes = b""

    @property
    def type_name(self) -> str:
        """CmResourceType name (``Port``, ``Interrupt``...) or ``Type0x..``."""
        return RESOURCE_TYPES.get(self.type, f"Type{self.type:#x}")


@dataclass(frozen=True)
class FullResourceDescriptor:
    """CM_FULL_RESOURCE_DESCRIPTOR: the resources of one bus."""

    interface_type: int
    bus_number: int
    version: int
    revision: int
    resources: list[PartialResource] = field(default_factory=list)


@dataclass(frozen=True)
class ResourceList:
    """CM_RESOURCE_LIST (REG_RESOURCE_LIST)."""

    descriptors: list[FullResourceDescriptor]


@dataclass(frozen=True)
class IoResource:
    """One IO_RESOURCE_DESCRIPTOR: an acceptable range for one resource."""

    option: int
    type: int
    share_disposition: int
    flags: int
    fields: dict[str, int]
    raw: bytes

    @property
    def type_name(self) -> str:
        """CmResourceType name or ``Type0x..``."""
        return RESOURCE_TYPES.get(self.type, f"Type{self.type:#x}")


@dataclass(frozen=True)
class IoResourceList:
    """IO_RESOURCE_LIST: one alternative set of requirements."""

    version: int
    revision: int
    resources: list[IoResource]


@dataclass(frozen=True)
class ResourceRequirementsList:
    """IO_RESOURCE_REQUIREMENTS_LIST (REG_RESOURCE_REQUIREMENTS_LIST)."""

    list_size: int
    interface_type: int
    bus_number: int
    slot_number: int
    alternatives: list[IoResourceList]


_PARTIAL_FIELDS: dict[int, Any] = {
    1: R.PortOrMemory,
    2: R.Interrupt,
    3: R.PortOrMemory,
    4: R.Dma,
    5: R.DeviceSpecific,
    6: R.BusNumber,
    7: R.PortOrMemory,
}
_IO_FIELDS: dict[int, Any] = {
    1: R.IoPortOrMemory,
    2: R.IoInterrupt,
    3: R.IoPortOrMemory,
    4: R.IoDma,
    6: R.IoPortOrMemory,
    7: R.IoPortOrMemory,
}


def _fields(table: dict[int, Any], rtype: int, raw: bytes, offset: int) -> dict[str, int]:
    struct = table.get(rtype)
    if struct is R.Interrupt and len(raw) < struct.sizeof():
        struct = R.Interrupt32  # a 32-bit Windows descriptor
    if struct is None or struct.sizeof() > len(raw):
        return {}
    parsed = codec.parse(struct, raw[: struct.sizeof()], offset, "resource")
    return {k: v for k, v in parsed.items() if not k.startswith("_")}


def _full_descriptor(data: bytes, pos: int, union: int) -> tuple[FullResourceDescriptor, int]:
    head_size = R.FullResourceDescriptorHead.sizeof()
    _need(data, pos, head_size, "full resource descriptor")
    head = codec.parse(R.FullResourceDescriptorHead, data[pos : pos + head_size], pos)
    pos += head_size
    size = 4 + union
    count = head.partial.count
    if count * size > len(data) - pos:  # checked before anything is allocated
        raise FormatError(f"{count} partial descriptors do not fit the data", pos)
    parser = R.partial_descriptor(union)
    resources = []
    for _ in range(count):
        d = codec.parse(parser, data[pos : pos + size], pos, "partial resource descriptor")
        fields = _fields(_PARTIAL_FIELDS, d.type, d.u, pos + 4)
        pos += size
        extra = b""
        if d.type == _DEVICE_SPECIFIC:
            n = fields.get("data_size", 0)
            _need(data, pos, n, "device-specific data")
            extra = data[pos : pos + n]
            pos += n
        resources.append(
            PartialResource(d.type, d.share_disposition, d.flags, fields, bytes(d.u), extra)
        )
    desc = FullResourceDescriptor(
        head.interface_type, head.bus_number, head.partial.version, head.partial.revision,
        resources,
    )  # fmt: skip
    return desc, pos


def _with_union_size(data: bytes, parse: Any) -> Any:
    """Parse with the 64-bit descriptor size, then the 32-bit one; the first that uses
    up the data exactly wins (else the first that parses)."""
    first: Any = None
    error: FormatError | None = None
    for union in R.PARTIAL_UNION_SIZES:
        try:
            result, end = parse(data, union)
        except FormatError as exc:
            error = error or exc
            continue
        if end == len(data):
            return result
        first = first or result
    if first is not None:
        return first
    assert error is not None
    raise error


def full_resource_descriptor(data: bytes) -> FullResourceDescriptor:
    """Decode REG_FULL_RESOURCE_DESCRIPTOR data."""
    return _with_union_size(bytes(data), lambda d, u: _full_descriptor(d, 0, u))  # type: ignore[no-any-return]


def resource_list(data: bytes) -> ResourceList:
    """Decode REG_RESOURCE_LIST data (CM_RESOURCE_LIST)."""

    def parse(d: bytes, union: int) -> tuple[ResourceList, int]:
        _need(d, 0, 4, "resource list")
        count = codec.parse(R.ResourceListHead, d[:4], 0, "resource list").count
        if count * 16 > len(d) - 4:
            raise FormatError(f"{count} full descriptors do not fit the data", 0)
        pos, out = 4, []
        for _ in range(count):
            desc, pos = _full_descriptor(d, pos, union)
            out.append(desc)
        return ResourceList(out), pos

    return _with_union_size(bytes(data), parse)  # type: ignore[no-any-return]


def resource_requirements_list(data: bytes) -> ResourceRequirementsList:
    """Decode REG_RESOURCE_REQUIREMENTS_LIST data (IO_RESOURCE_REQUIREMENTS_LIST)."""
    data = bytes(data)
    hs = R.IO_REQUIREMENTS_HEAD_SIZE
    _need(data, 0, hs, "resource requirements list")
    head = codec.parse(R.IoResourceRequirementsListHead, data[:hs], 0, "requirements list")
    pos = hs
    alternatives = []
    if head.alternative_lists * 8 > len(data) - pos:
        raise FormatError(f"{head.alternative_lists} resource lists do not fit the data", pos)
    size = R.IO_RESOURCE_DESCRIPTOR_SIZE
    for _ in range(head.alternative_lists):
        _need(data, pos, 8, "IO resource list")
        count = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if count * size > len(data) - pos - 8:
            raise FormatError(f"{count} IO resource descriptors do not fit the data", pos)
        lst = codec.parse(R.IoResourceList, data[pos : pos + 8 + count * size], pos)
        resources = []
        for i, d in enumerate(lst.descriptors):
            at = pos + 8 + i * size
            resources.append(
                IoResource(
                    d.option,
                    d.type,
                    d.share_disposition,
                    d.flags,
                    _fields(_IO_FIELDS, d.type, d.u, at + 8),
                    bytes(d.u),
                )
            )
        alternatives.append(IoResourceList(lst.version, lst.revision, resources))
        pos += 8 + count * size
    return ResourceRequirementsList(
        head.list_size, head.interface_type, head.bus_number, head.slot_number, alternatives
    )


def decode_typed(value_type: int, data: bytes) -> Any:
    """The typed object for a resource value's data (other types: ``data`` unchanged)."""
    if value_type == ValueType.REG_RESOURCE_LIST:
        return resource_list(data)
    if value_type == ValueType.REG_FULL_RESOURCE_DESCRIPTOR:
        return full_resource_descriptor(data)
    if value_type == ValueType.REG_RESOURCE_REQUIREMENTS_LIST:
        return resource_requirements_list(data)
    return data


__all__ = [
    "RESOURCE_TYPES",
    "FullResourceDescriptor",
    "IoResource",
    "IoResourceList",
    "PartialResource",
    "ResourceList",
    "ResourceRequirementsList",
    "decode_typed",
    "filetime",
    "full_resource_descriptor",
    "guid",
    "guid_text",
    "resource_list",
    "resource_requirements_list",
    "systemtime",
]
