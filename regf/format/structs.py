"""Construct declarations of every on-disk record (the single source of layouts).

Field names follow the Windows kernel structures (_HBASE_BLOCK, _HBIN, _CM_KEY_NODE,
_CM_KEY_VALUE, _CM_KEY_SECURITY, _CM_KEY_INDEX, _CM_BIG_DATA) in snake case. Offsets are
in the comments; ``../shared/docs/format.md`` sections are cited as "fmt §n".

Hot paths read with the ``struct.Struct`` objects in :mod:`regf.format.fast`, whose
formats are checked against these declarations in ``tests/test_format_structs.py``.
"""

from __future__ import annotations

from construct import (
    Array,
    Bytes,
    Computed,
    Const,
    Int8ul,
    Int16ul,
    Int32sl,
    Int32ul,
    Int64ul,
    Struct,
    this,
)

# ---------------------------------------------------------------------------------------
# Base block (fmt §1). 4096 bytes; checksum over the first 508 at 0x1FC.
# ---------------------------------------------------------------------------------------

BASE_BLOCK_SIZE = 4096
#: Logs carry a copy of the first 512 bytes of the base block (one sector, fmt §6.1).
LOG_BASE_BLOCK_SIZE = 512

BaseBlockHead = Struct(
    "signature" / Const(b"regf"),  # 0x000
    "seq1" / Int32ul,  # 0x004 primary sequence number: bumped when a primary write starts
    "seq2" / Int32ul,  # 0x008 secondary: bumped when it ends; Seq1 != Seq2 => dirty
    "last_written" / Int64ul,  # 0x00C FILETIME
    "major" / Int32ul,  # 0x014 always 1
    "minor" / Int32ul,  # 0x018 3..6 in modern files
    "file_type" / Int32ul,  # 0x01C 0 primary, 1/2 old log, 6 new log
    "file_format" / Int32ul,  # 0x020 1 = direct memory load
    "root_cell" / Int32ul,  # 0x024 cell index of the root nk
    "hbins_size" / Int32ul,  # 0x028 bytes of hive bins, multiple of 4096
    "clustering" / Int32ul,  # 0x02C sector size / 512; always 1
    "file_name" / Bytes(64),  # 0x030 UTF-16LE tail of the path, debugging only
    "rm_id" / Bytes(16),  # 0x070
    "log_id" / Bytes(16),  # 0x080
    "flags" / Int32ul,  # 0x090 bit0 KTM locked; bit1 layered keys (RS1+)
    "tm_id" / Bytes(16),  # 0x094
    "guid_signature" / Bytes(4),  # 0x0A4 "rmtm"
    "last_reorganized" / Int64ul,  # 0x0A8 FILETIME, low 2 bits are flags (fmt §1.3)
    # 0x0B0: reserved; offreg writes "OfRg" + flags here (or at 0xA8 for offreg 6.1).
    "reserved1" / Bytes(0x1FC - 0xB0),
    "checksum" / Int32ul,  # 0x1FC XOR-32 of 0x000..0x1FB, never 0 or 0xFFFFFFFF
)

BaseBlock = Struct(
    "head" / BaseBlockHead,
    # 0x200: offreg's serialization FILETIME, otherwise reserved.
    "reserved2" / Bytes(0xFC8 - 0x200),
    "thaw_tm_id" / Bytes(16),  # 0xFC8 in-memory only
    "thaw_rm_id" / Bytes(16),  # 0xFD8
    "thaw_log_id" / Bytes(16),  # 0xFE8
    "boot_type" / Int32ul,  # 0xFF8 in-memory only
    "boot_recover" / Int32ul,  # 0xFFC
)

# ---------------------------------------------------------------------------------------
# Hive bin header (fmt §2). Cells follow at +0x20 and tile the bin.
# ---------------------------------------------------------------------------------------

HBIN_HEADER_SIZE = 0x20

HbinHeader = Struct(
    "signature" / Const(b"hbin"),  # 0x00
    "offset" / Int32ul,  # 0x04 relative to the start of hive bins
    "size" / Int32ul,  # 0x08 multiple of 4096
    "reserved" / Bytes(8),  # 0x0C
    "timestamp" / Int64ul,  # 0x14 only meaningful in the first bin
    "spare" / Int32ul,  # 0x1C MemAlloc, in-memory bookkeeping
)

#: Cell header: i32, negative = allocated, positive = free (fmt §3).
CellHeader = Struct("size" / Int32sl)

# ---------------------------------------------------------------------------------------
# Records inside cells (offsets relative to the cell data, after the 4-byte size).
# ---------------------------------------------------------------------------------------

NK_FIXED_SIZE = 0x4C

KeyNode = Struct(
    "signature" / Const(b"nk"),  # 0x00
    "flags" / Int16ul,  # 0x02 KEY_* flags
    "last_written" / Int64ul,  # 0x04 FILETIME
    "access_bits" / Int8ul,  # 0x0C Win8+
    "layered_bits" / Int8ul,  # 0x0D RS1+: 0x80 InheritClass, bits 0-1 LayerSemantics
    "spare" / Int16ul,  # 0x0E
    "parent" / Int32ul,  # 0x10 meaningless for the root
    "subkey_count" / Int32ul,  # 0x14 stable
    "volatile_subkey_count" / Int32ul,  # 0x18 ignore on disk
    "subkey_list" / Int32ul,  # 0x1C lf/lh/li/ri or NIL
    "volatile_subkey_list" / Int32ul,  # 0x20 ignore on disk
    "value_count" / Int32ul,  # 0x24
    "value_list" / Int32ul,  # 0x28
    "security" / Int32ul,  # 0x2C sk
    "class_cell" / Int32ul,  # 0x30 class data or NIL
    # 0x34: packed dword: MaxNameLen u16, UserFlags nibble, VirtControlFlags nibble,
    # Debug byte (fmt §5.1). Declared as its parts so the nibbles cannot be swapped.
    "max_name_len" / Int16ul,  # 0x34
    "user_virt_flags" / Int8ul,  # 0x36 low nibble UserFlags, high nibble VirtControlFlags
    "debug" / Int8ul,  # 0x37
    "max_class_len" / Int32ul,  # 0x38 bytes
    "max_value_name_len" / Int32ul,  # 0x3C bytes
    "max_value_data_len" / Int32ul,  # 0x40 bytes
    "work_var" / Int32ul,  # 0x44 run-time cache; preserve, write 0 in new cells
    "name_length" / Int16ul,  # 0x48 stored bytes
    "class_length" / Int16ul,  # 0x4A bytes (UTF-16)
    "name" / Bytes(this.name_length),  # 0x4C compressed or UTF-16LE
)

VK_FIXED_SIZE = 0x14

KeyValue = Struct(
    "signature" / Const(b"vk"),  # 0x00
    "name_length" / Int16ul,  # 0x02 0 = default value
    "data_size" / Int32ul,  # 0x04 bit31 = data inline in the next field
    "data" / Int32ul,  # 0x08 cell index, or the data itself when inline
    "type" / Int32ul,  # 0x0C REG_*; any u32
    "flags" / Int16ul,  # 0x10 VALUE_COMP_NAME, IsTombstone
    "spare" / Int16ul,  # 0x12 may hold junk
    "name" / Bytes(this.name_length),  # 0x14
)

SK_FIXED_SIZE = 0x14

KeySecurity = Struct(
    "signature" / Const(b"sk"),  # 0x00
    "reserved" / Int16ul,  # 0x02
    "flink" / Int32ul,  # 0x04 next sk in the hive's ring
    "blink" / Int32ul,  # 0x08 previous
    "reference_count" / Int32ul,  # 0x0C number of nk pointing here
    "descriptor_length" / Int32ul,  # 0x10
    "descriptor" / Bytes(this.descriptor_length),  # 0x14 self-relative SECURITY_DESCRIPTOR
)

IndexLeaf = Struct(  # li
    "signature" / Const(b"li"),
    "count" / Int16ul,
    "elements" / Array(this.count, Int32ul),
)

FastLeafElement = Struct("cell" / Int32ul, "hint" / Bytes(4))
FastLeaf = Struct(  # lf: element + first 4 name characters as a hint
    "signature" / Const(b"lf"),
    "count" / Int16ul,
    "elements" / Array(this.count, FastLeafElement),
)

HashLeafElement = Struct("cell" / Int32ul, "hash" / Int32ul)
HashLeaf = Struct(  # lh: element + name hash (fmt §4.2)
    "signature" / Const(b"lh"),
    "count" / Int16ul,
    "elements" / Array(this.count, HashLeafElement),
)

IndexRoot = Struct(  # ri: points to leaves only, never to another ri
    "signature" / Const(b"ri"),
    "count" / Int16ul,
    "elements" / Array(this.count, Int32ul),
)

BIG_DATA_SEGMENT = 16344  # CM_KEY_VALUE_BIG: payload per db segment (fmt §4.6)

BigData = Struct(  # db
    "signature" / Const(b"db"),
    "segment_count" / Int16ul,
    "segment_list" / Int32ul,
)


def value_list(count: int) -> Struct:
    """A value list: a bare array of vk cell indexes, count taken from the nk (fmt §4.4)."""
    return Struct("cells" / Array(count, Int32ul))


def segment_list(count: int) -> Struct:
    """A big-data segment list: ``count`` cell indexes of 16344-byte segments."""
    return Struct("cells" / Array(count, Int32ul))


# ---------------------------------------------------------------------------------------
# Transaction logs (fmt §6).
# ---------------------------------------------------------------------------------------

HVLE_HEADER_SIZE = 0x28

LogEntryHeader = Struct(  # new format (Windows 8.1+)
    "signature" / Const(b"HvLE"),  # 0x00
    "size" / Int32ul,  # 0x04 whole entry, multiple of 512
    "flags" / Int32ul,  # 0x08 bit 0 = base block flag 0x1 at creation
    "sequence" / Int32ul,  # 0x0C
    "hbins_size" / Int32ul,  # 0x10 hive size when the entry was written
    "page_count" / Int32ul,  # 0x14 >= 1
    "hash1" / Int64ul,  # 0x18 Marvin32 of bytes [0x28, size)
    "hash2" / Int64ul,  # 0x20 Marvin32 of bytes [0x00, 0x20), includes hash1
)

PageReference = Struct("offset" / Int32ul, "size" / Int32ul)

# An entry is its header, ``page_count`` PageReferences, then the page data. It is read
# with the layouts of these two declarations (regf.format.fast HVLE_L, PAGE_REF_L), never
# with Construct per entry.


def dirt_vector(hbins_size: int) -> Struct:
    """The DIRT vector (old format, XP .. 8.0, at log offset 512): the signature, then one
    bit per 512-byte sector of the hive bins (fmt §6.2)."""
    return Struct(
        "signature" / Const(b"DIRT"),
        "bitmap" / Bytes(hbins_size // 4096),
        "sectors" / Computed(hbins_size // 512),
    )


__all__ = [
    "BASE_BLOCK_SIZE",
    "BIG_DATA_SEGMENT",
    "HBIN_HEADER_SIZE",
    "HVLE_HEADER_SIZE",
    "LOG_BASE_BLOCK_SIZE",
    "NK_FIXED_SIZE",
    "SK_FIXED_SIZE",
    "VK_FIXED_SIZE",
    "BaseBlock",
    "BaseBlockHead",
    "BigData",
    "CellHeader",
    "FastLeaf",
    "HashLeaf",
    "HbinHeader",
    "IndexLeaf",
    "IndexRoot",
    "KeyNode",
    "KeySecurity",
    "KeyValue",
    "LogEntryHeader",
    "PageReference",
    "dirt_vector",
    "segment_list",
    "value_list",
]
