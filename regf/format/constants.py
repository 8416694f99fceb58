"""Numeric constants of the format: flags, value types, cell index sentinels."""

from __future__ import annotations

import enum

HCELL_NIL = 0xFFFFFFFF
#: Bit 31 of a cell index: volatile storage, never refers to file data (fmt §3).
VOLATILE_BIT = 0x80000000
#: vk data_size bit 31: the data lives inline in the data field (fmt §4.3).
DATA_INLINE = 0x80000000
BASE = 4096  # file offset of hive-bins data; cell index c is at file offset BASE + c
PAGE = 4096
MAX_LEAF_LH = 1013  # (4096 - 40)/4 - 1: li/lh leaves get an ri above beyond this
MAX_LEAF_LF = 507  # (4096 - 32 - 4 - 4)/8: a full lf converts in place to li
MAX_KEY_NAME = 255
MAX_VALUE_NAME = 16383
MAX_DEPTH = 512  # tree depth limit (MSDN / ReactOS)

FILE_TYPE_PRIMARY = 0
FILE_TYPE_LOG_OLD = 1
FILE_TYPE_LOG_OLD_NT = 2
FILE_TYPE_LOG_NEW = 6


class KeyFlags(enum.IntFlag):
    """nk flags (u16 at +0x02)."""

    VOLATILE = 0x0001
    HIVE_EXIT = 0x0002
    HIVE_ENTRY = 0x0004
    NO_DELETE = 0x0008
    SYM_LINK = 0x0010
    COMP_NAME = 0x0020
    PREDEF_HANDLE = 0x0040
    VIRTUAL_SOURCE = 0x0080
    VIRTUAL_TARGET = 0x0100
    VIRTUAL_STORE = 0x0200
    USER_FLAG_1 = 0x1000
    USER_FLAG_2 = 0x2000
    USER_FLAG_4 = 0x4000
    USER_FLAG_8 = 0x8000


class ValueFlags(enum.IntFlag):
    """vk flags (u16 at +0x10)."""

    COMP_NAME = 0x0001
    TOMBSTONE = 0x0002


class ValueType(enum.IntEnum):
    """REG_* value types. Unknown numbers are kept (see :meth:`_missing_`)."""

    REG_NONE = 0
    REG_SZ = 1
    REG_EXPAND_SZ = 2
    REG_BINARY = 3
    REG_DWORD = 4
    REG_DWORD_BIG_ENDIAN = 5
    REG_LINK = 6
    REG_MULTI_SZ = 7
    REG_RESOURCE_LIST = 8
    REG_FULL_RESOURCE_DESCRIPTOR = 9
    REG_RESOURCE_REQUIREMENTS_LIST = 10
    REG_QWORD = 11

    @classmethod
    def _missing_(cls, value: object) -> ValueType | None:
        # Any u32 is a legal type on disk (devices store 0x10 FILETIME, 0x12 ...): keep
        # the number as a pseudo-member instead of raising.
        if isinstance(value, int) and 0 <= value <= 0xFFFFFFFF:
            member = int.__new__(cls, value)
            member._name_ = f"REG_UNKNOWN_{value:#x}"
            member._value_ = value
            return member
        return None


REG_DWORD_LITTLE_ENDIAN = ValueType.REG_DWORD
REG_QWORD_LITTLE_ENDIAN = ValueType.REG_QWORD
