"""regf: read, write and flush Windows registry hive files (the "regf" format).

Layers, bottom up (each imports only those before it): ``format`` (bytes <-> records),
``cells`` (image, allocator), ``storage`` (files, logs, recovery; the only I/O),
``model`` (keys, values, security), ``nt`` (NT-style API), ``cli``. ``_accel`` is the C
accelerator (or its pure-Python twin) under all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._accel import BACKEND
from .errors import (
    CellError,
    ChecksumError,
    DamagedHiveError,
    FileKindError,
    FormatError,
    HiveStateError,
    InvalidArgumentError,
    KeyNotFoundError,
    LockedError,
    NotFoundError,
    ReadOnlyError,
    RecoveryError,
    RegfError,
    SignatureError,
    StructureError,
    TruncatedError,
    UnsupportedVersionError,
    ValueNotFoundError,
)
from .format.constants import KeyFlags, ValueFlags, ValueType
from .model.baseblock import BaseBlockInfo
from .model.hive import DirtyHiveWarning, Hive
from .model.keys import Key
from .model.opening import create
from .model.opening import open_hive as open
from .model.values import Value

if TYPE_CHECKING:
    from .model.deleted import DeletedKey, DeletedRecords, DeletedValue, scan_deleted
    from .model.edithive import EditHive

#: Names loaded on first use (PEP 562): the writer and the deleted-record scanner are
#: not needed to read a hive, and every reading CLI command pays for its start-up.
_LAZY = {
    "DeletedKey": ".model.deleted",
    "DeletedRecords": ".model.deleted",
    "DeletedValue": ".model.deleted",
    "scan_deleted": ".model.deleted",
    "EditHive": ".model.edithive",
}


def __getattr__(name: str) -> Any:
    """The lazily loaded names of :data:`_LAZY` (module attribute hook, PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


REG_NONE = ValueType.REG_NONE
REG_SZ = ValueType.REG_SZ
REG_EXPAND_SZ = ValueType.REG_EXPAND_SZ
REG_BINARY = ValueType.REG_BINARY
REG_DWORD = ValueType.REG_DWORD
REG_DWORD_BIG_ENDIAN = ValueType.REG_DWORD_BIG_ENDIAN
REG_LINK = ValueType.REG_LINK
REG_MULTI_SZ = ValueType.REG_MULTI_SZ
REG_RESOURCE_LIST = ValueType.REG_RESOURCE_LIST
REG_FULL_RESOURCE_DESCRIPTOR = ValueType.REG_FULL_RESOURCE_DESCRIPTOR
REG_RESOURCE_REQUIREMENTS_LIST = ValueType.REG_RESOURCE_REQUIREMENTS_LIST
REG_QWORD = ValueType.REG_QWORD

__version__ = "0.1.0"

__all__ = [
    "BACKEND",
    "BaseBlockInfo",
    "CellError",
    "ChecksumError",
    "DamagedHiveError",
    "FileKindError",
    "DeletedKey",
    "DeletedRecords",
    "DeletedValue",
    "DirtyHiveWarning",
    "EditHive",
    "FormatError",
    "Hive",
    "HiveStateError",
    "InvalidArgumentError",
    "Key",
    "KeyFlags",
    "KeyNotFoundError",
    "LockedError",
    "NotFoundError",
    "REG_BINARY",
    "REG_DWORD",
    "REG_DWORD_BIG_ENDIAN",
    "REG_EXPAND_SZ",
    "REG_FULL_RESOURCE_DESCRIPTOR",
    "REG_LINK",
    "REG_MULTI_SZ",
    "REG_NONE",
    "REG_QWORD",
    "REG_RESOURCE_LIST",
    "REG_RESOURCE_REQUIREMENTS_LIST",
    "REG_SZ",
    "ReadOnlyError",
    "RecoveryError",
    "RegfError",
    "SignatureError",
    "StructureError",
    "TruncatedError",
    "UnsupportedVersionError",
    "Value",
    "ValueFlags",
    "ValueNotFoundError",
    "ValueType",
    "create",
    "open",
    "scan_deleted",
]
