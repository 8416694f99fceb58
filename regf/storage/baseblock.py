"""The storage rules of the base block, written once: sequence numbers, dirtiness, sealing.

The pager (:mod:`.flush`) and recovery (:mod:`.recovery`, :mod:`.logs`) both decide
things from the same few base-block fields: Seq1/Seq2, the file type, the hive-bins
size, flag bit 0 and the checksum (fmt §1, §6.1, §6.4, §6.5). This module holds those
decisions, so that the writer and the reader can never disagree on, e.g., which of two
sequence numbers is newer or what makes a primary dirty. Field offsets come from the
Construct declaration of the base block (:data:`regf.format.fast.BASE_L`); nothing here
spells an offset.
"""

from __future__ import annotations

from typing import Any, Literal

from .._accel import checksum
from ..errors import FormatError, UnsupportedVersionError
from ..format.constants import (
    BASE,
    FILE_TYPE_LOG_NEW,
    FILE_TYPE_LOG_OLD,
    FILE_TYPE_LOG_OLD_NT,
    FILE_TYPE_PRIMARY,
    PAGE,
)
from ..format.fast import BASE_L
from ..format.layout import FieldView
from ..format.structs import LOG_BASE_BLOCK_SIZE

#: A log's copy of the base block is its first 512 bytes (one sector, fmt §6.1); the
#: checksum covers the same 508 bytes of it as of a full base block.
SECTOR = LOG_BASE_BLOCK_SIZE
#: Sequence numbers are 32-bit and wrap (fmt §6.5 step 1).
SEQ_MASK = 0xFFFFFFFF
_HALF = 0x80000000
#: Cell indexes reserve bit 31 (fmt §3): no hive-bins size reaches it. This is also the
#: sane cap on any size a file declares (primary, log base block or log entry): a
#: larger one is damage, never something to allocate memory for.
MAX_HBINS = 0x80000000


def hbins_size_ok(hbins: int) -> bool:
    """A hive-bins size is a positive multiple of 4096 below :data:`MAX_HBINS` (cell
    indexes are 31 bits: bit 31 selects volatile storage, fmt §3)."""
    return PAGE <= hbins < MAX_HBINS and not hbins % PAGE


SEQ1: FieldView = BASE_L.field("seq1")
SEQ2: FieldView = BASE_L.field("seq2")
LAST_WRITTEN: FieldView = BASE_L.field("last_written")
MAJOR: FieldView = BASE_L.field("major")
MINOR: FieldView = BASE_L.field("minor")
FILE_TYPE: FieldView = BASE_L.field("file_type")
FILE_FORMAT: FieldView = BASE_L.field("file_format")
ROOT_CELL: FieldView = BASE_L.field("root_cell")
HBINS_SIZE: FieldView = BASE_L.field("hbins_size")
CLUSTERING: FieldView = BASE_L.field("clustering")
FLAGS: FieldView = BASE_L.field("flags")
CHECKSUM: FieldView = BASE_L.field("checksum")

#: Flag bit 0 (KTM locked) is the only base-block flag a log entry carries (fmt §6.3).
ENTRY_FLAG_MASK = 1

#: Fields a log entry carries or the pager owns; every other field of the first sector
#: must equal the run's base-block copy (flush invariant 7).
_CARRIED = (SEQ1, SEQ2, FILE_TYPE, HBINS_SIZE, CHECKSUM)

#: Fields an old-format (DIRT) recovery takes from the log's base-block copy (fmt §6.5,
#: last paragraph): size, root, version and flags.
OLD_LOG_FIELDS = (HBINS_SIZE, ROOT_CELL, MAJOR, MINOR, FLAGS)

_LOG_TYPES = (FILE_TYPE_LOG_OLD, FILE_TYPE_LOG_OLD_NT, FILE_TYPE_LOG_NEW)

DirtyReason = Literal["sequence", "checksum"]


def get(buf: Any, f: FieldView) -> int:
    """The value of base-block field ``f`` in ``buf`` (a base block at offset 0)."""
    return int(f.unpack_from(buf, 0))


def put(buf: Any, f: FieldView, value: int) -> None:
    """Store ``value`` (cut to the field's 32 bits) in base-block field ``f`` of ``buf``."""
    f.pack_into(buf, 0, value & SEQ_MASK)


# -- sequence numbers (fmt §6.4, §6.5 step 1) ------------------------------------------


def next_seq(seq: int) -> int:
    """The sequence number after ``seq`` (modulo 2^32)."""
    return (seq + 1) & SEQ_MASK


def not_older(a: int, b: int) -> bool:
    """``a >= b`` on the 32-bit sequence circle: ``(a - b) mod 2^32 <= 0x7FFFFFFF``."""
    return (a - b) & SEQ_MASK < _HALF


def seq_cmp(a: int, b: int) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b`` (circle order)."""
    if a == b:
        return 0
    return -1 if not_older(b, a) else 1


# -- reading ---------------------------------------------------------------------------


def is_dirty(head: Any) -> DirtyReason | None:
    """Why a primary base block needs recovery: ``'checksum'``, ``'sequence'`` or None.

    A bad signature or a wrong checksum needs base-block recovery; a valid block whose
    Seq1 != Seq2 only needs data recovery (fmt §1.5, §6.4). ``head`` is at least the
    first 512 bytes (shorter counts as a bad checksum).
    """
    if len(head) < SECTOR or bytes(head[:4]) != b"regf":
        return "checksum"
    if checksum(head) != get(head, CHECKSUM):
        return "checksum"
    if get(head, SEQ1) != get(head, SEQ2):
        return "sequence"
    return None


def check_primary_head(head: Any, file_size: int) -> int:
    """Validate a clean primary base block a writer may use; return its hive-bins size.

    Refuses (typed errors carrying the field's offset) versions the pager cannot write,
    a hive-bins size that is not a positive multiple of 4096 below :data:`MAX_HBINS`,
    and a declared size past the end of the file (``file_size`` bytes), so a caller may
    then read exactly ``BASE + hbins`` bytes and no more.
    """
    if len(head) < BASE or bytes(head[:4]) != b"regf":
        raise FormatError("not a regf hive (bad signature or shorter than 4096 bytes)", 0)
    major, minor = get(head, MAJOR), get(head, MINOR)
    if major != 1 or not 3 <= minor <= 6:
        raise UnsupportedVersionError(
            f"hive version {major}.{minor} cannot be written", MINOR.offset
        )
    ftype = get(head, FILE_TYPE)
    if ftype != FILE_TYPE_PRIMARY:
        raise UnsupportedVersionError(f"file type {ftype} is not a primary", FILE_TYPE.offset)
    if get(head, FILE_FORMAT) != 1 or get(head, CLUSTERING) != 1:
        raise UnsupportedVersionError(
            "file format or clustering factor is not 1", FILE_FORMAT.offset
        )
    hbins = get(head, HBINS_SIZE)
    if not hbins_size_ok(hbins):
        raise FormatError(
            f"hive bins size {hbins:#x} is not a positive multiple of 4096 below 2 GiB",
            HBINS_SIZE.offset,
        )
    if BASE + hbins > file_size:
        raise FormatError(
            f"file ends at {file_size:#x} before the hive bins end at {BASE + hbins:#x}",
            file_size,
        )
    return hbins


def check_log_base_block(head: Any) -> str | None:
    """Why a log's 512-byte base block is unusable, or None when it is sane (fmt §6.1).

    Usable means: signature, checksum, Seq1 == Seq2, version 1.1-1.6, a log file type,
    format and clustering 1, and a hive-bins size that is a positive multiple of 4096
    below :data:`MAX_HBINS`.
    """
    if len(head) < SECTOR:
        return "log shorter than its 512-byte base block"
    bb = BASE_L.as_dict(head)
    if bb["signature"] != b"regf":
        return f"bad log base block signature {bb['signature']!r}"
    if checksum(head[:SECTOR]) != bb["checksum"]:
        return f"log base block checksum {bb['checksum']:#x} != computed {checksum(head):#x}"
    if bb["seq1"] != bb["seq2"]:
        return f"log base block sequence numbers differ ({bb['seq1']} != {bb['seq2']})"
    if bb["major"] != 1 or not 1 <= bb["minor"] <= 6:
        return f"unsupported log version {bb['major']}.{bb['minor']}"
    if bb["file_type"] not in _LOG_TYPES:
        return f"file type {bb['file_type']} is not a log type"
    if bb["file_format"] != 1:
        return f"file format {bb['file_format']} != 1"
    if bb["clustering"] != 1:
        return f"clustering factor {bb['clustering']} != 1"
    hbins = bb["hbins_size"]
    if not hbins_size_ok(hbins):
        return f"hive bins size {hbins:#x} not a positive multiple of 4096 below 2 GiB"
    return None


# -- writing ---------------------------------------------------------------------------


def seal(bb: Any, seq1: int, seq2: int, file_type: int = FILE_TYPE_PRIMARY) -> Any:
    """Set Seq1, Seq2 and the file type of a base block (or its first sector), then its
    checksum (fmt §1.2); return ``bb`` (modified in place)."""
    put(bb, SEQ1, seq1)
    put(bb, SEQ2, seq2)
    put(bb, FILE_TYPE, file_type)
    put(bb, CHECKSUM, checksum(bb[:SECTOR]))
    return bb


def log_base_block(bb: Any, sequence: int) -> bytes:
    """The 512-byte base-block copy that starts a new-format log run (fmt §6.1, §6.3):
    file type 6, Seq1 = Seq2 = the run's first entry number."""
    return bytes(seal(bytearray(bb[:SECTOR]), sequence, sequence, FILE_TYPE_LOG_NEW))


def uncarried(head: Any) -> bytes:
    """The first sector of a base block minus every field log entries carry (or the
    pager owns): two heads equal here need no new run copy (flush invariant 7)."""
    b = bytearray(head[:SECTOR])
    for f in _CARRIED:
        put(b, f, 0)
    put(b, FLAGS, get(b, FLAGS) & ~ENTRY_FLAG_MASK)
    return bytes(b)


__all__ = [
    "CHECKSUM",
    "CLUSTERING",
    "ENTRY_FLAG_MASK",
    "FILE_FORMAT",
    "FILE_TYPE",
    "FLAGS",
    "HBINS_SIZE",
    "LAST_WRITTEN",
    "MAJOR",
    "MAX_HBINS",
    "hbins_size_ok",
    "MINOR",
    "OLD_LOG_FIELDS",
    "ROOT_CELL",
    "SECTOR",
    "SEQ1",
    "SEQ2",
    "SEQ_MASK",
    "DirtyReason",
    "check_log_base_block",
    "check_primary_head",
    "get",
    "is_dirty",
    "log_base_block",
    "next_seq",
    "not_older",
    "put",
    "seal",
    "seq_cmp",
    "uncarried",
]
