"""Construct declarations of the data layouts inside typed registry values.

REG_RESOURCE_LIST (``CM_RESOURCE_LIST``), REG_FULL_RESOURCE_DESCRIPTOR
(``CM_FULL_RESOURCE_DESCRIPTOR``) and REG_RESOURCE_REQUIREMENTS_LIST
(``IO_RESOURCE_REQUIREMENTS_LIST``), as the Windows DDK headers (wdm.h) lay them out,
plus the FILETIME, SYSTEMTIME and GUID records found inside REG_BINARY values.

A partial resource descriptor's union holds a pointer-sized ``KAFFINITY`` (interrupt
affinity) packed to 4 bytes: 16 bytes of union, 20 in all, as written by 64-bit Windows;
32-bit Windows wrote 12 and 16. Both sizes are declared; the reader picks the one that
accounts for the data exactly.
"""

from __future__ import annotations

from construct import Array, Bytes, Int8ul, Int16ul, Int32ul, Int64ul, Struct, this

FileTime = Struct("filetime" / Int64ul)  # 100 ns units since 1601-01-01 UTC

SystemTime = Struct(
    "year" / Int16ul,  # 0x0
    "month" / Int16ul,  # 0x2 1..12
    "day_of_week" / Int16ul,  # 0x4 0 = Sunday
    "day" / Int16ul,  # 0x6
    "hour" / Int16ul,  # 0x8
    "minute" / Int16ul,  # 0xA
    "second" / Int16ul,  # 0xC
    "milliseconds" / Int16ul,  # 0xE
)

# A GUID is Data1 (u32), Data2, Data3 (u16) little-endian, then Data4 as 8 bytes.
Guid = Struct(
    "data1" / Int32ul,
    "data2" / Int16ul,
    "data3" / Int16ul,
    "data4" / Bytes(8),
)


def partial_descriptor(union_size: int) -> Struct:
    """``CM_PARTIAL_RESOURCE_DESCRIPTOR`` with a union of ``union_size`` bytes."""
    return Struct(
        "type" / Int8ul,  # 0x0 CmResourceType*
        "share_disposition" / Int8ul,  # 0x1
        "flags" / Int16ul,  # 0x2
        "u" / Bytes(union_size),  # 0x4 meaning depends on type
    )


#: 64-bit Windows (union 16 bytes) and 32-bit Windows (12 bytes).
PARTIAL_UNION_SIZES = (16, 12)

PartialResourceListHead = Struct(
    "version" / Int16ul,  # 0x0
    "revision" / Int16ul,  # 0x2
    "count" / Int32ul,  # 0x4 descriptors that follow
)

FullResourceDescriptorHead = Struct(
    "interface_type" / Int32ul,  # 0x0 INTERFACE_TYPE (0 Internal, 1 Isa, 5 PCIBus, 15 ACPI...)
    "bus_number" / Int32ul,  # 0x4
    "partial" / PartialResourceListHead,  # 0x8
)

ResourceListHead = Struct("count" / Int32ul)  # CM_RESOURCE_LIST.Count

IoResourceDescriptor = Struct(
    "option" / Int8ul,  # 0x00 IO_RESOURCE_PREFERRED / ALTERNATIVE / DEFAULT
    "type" / Int8ul,  # 0x01 CmResourceType*
    "share_disposition" / Int8ul,  # 0x02
    "spare1" / Int8ul,  # 0x03
    "flags" / Int16ul,  # 0x04
    "spare2" / Int16ul,  # 0x06
    "u" / Bytes(24),  # 0x08 e.g. Port: length, alignment, minimum, maximum address
)
IO_RESOURCE_DESCRIPTOR_SIZE = 32

IoResourceList = Struct(
    "version" / Int16ul,
    "revision" / Int16ul,
    "count" / Int32ul,
    "descriptors" / Array(this.count, IoResourceDescriptor),
)

IoResourceRequirementsListHead = Struct(
    "list_size" / Int32ul,  # 0x00 whole structure, bytes
    "interface_type" / Int32ul,  # 0x04
    "bus_number" / Int32ul,  # 0x08
    "slot_number" / Int32ul,  # 0x0C
    "reserved" / Array(3, Int32ul),  # 0x10
    "alternative_lists" / Int32ul,  # 0x1C IO_RESOURCE_LIST records that follow
)
IO_REQUIREMENTS_HEAD_SIZE = 32

# CM_PARTIAL_RESOURCE_DESCRIPTOR.u and IO_RESOURCE_DESCRIPTOR.u by resource type.
PortOrMemory = Struct("start" / Int64ul, "length" / Int32ul)
# 64-bit: KAFFINITY is 8 bytes; 32-bit Windows had a ULONG level and a 4-byte affinity.
Interrupt = Struct("level" / Int16ul, "group" / Int16ul, "vector" / Int32ul, "affinity" / Int64ul)
Interrupt32 = Struct("level" / Int32ul, "vector" / Int32ul, "affinity" / Int32ul)
Dma = Struct("channel" / Int32ul, "port" / Int32ul, "reserved1" / Int32ul)
BusNumber = Struct("start" / Int32ul, "length" / Int32ul, "reserved" / Int32ul)
DeviceSpecific = Struct("data_size" / Int32ul, "reserved1" / Int32ul, "reserved2" / Int32ul)
IoPortOrMemory = Struct(
    "length" / Int32ul, "alignment" / Int32ul, "minimum" / Int64ul, "maximum" / Int64ul
)
IoInterrupt = Struct("minimum_vector" / Int32ul, "maximum_vector" / Int32ul)
IoDma = Struct("minimum_channel" / Int32ul, "maximum_channel" / Int32ul)

__all__ = [
    "IO_REQUIREMENTS_HEAD_SIZE",
    "IO_RESOURCE_DESCRIPTOR_SIZE",
    "PARTIAL_UNION_SIZES",
    "BusNumber",
    "DeviceSpecific",
    "Dma",
    "FileTime",
    "FullResourceDescriptorHead",
    "Guid",
    "Interrupt",
    "Interrupt32",
    "IoDma",
    "IoInterrupt",
    "IoPortOrMemory",
    "IoResourceDescriptor",
    "IoResourceList",
    "IoResourceRequirementsListHead",
    "PartialResourceListHead",
    "PortOrMemory",
    "ResourceListHead",
    "SystemTime",
    "partial_descriptor",
]
