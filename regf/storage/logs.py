"""Transaction log records from and to bytes (fmt §6): parsing ``.LOG``/``.LOG1``/``.LOG2``
files, and building the HvLE entries the pager writes (encoder beside decoder).

Pure functions: nothing here raises for a bad log. A log that cannot be used comes back
as a :class:`LogFile` with ``valid`` False and a one-line ``problem``; a log whose entry
walk stops early records why in ``stop_reason`` (garbage after the live run is normal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .._accel import marvin32
from ..errors import RegfError
from ..format import codec
from ..format.constants import FILE_TYPE_LOG_NEW, PAGE
from ..format.fast import HVLE_L, PAGE_REF_L
from ..format.structs import dirt_vector
from .baseblock import (
    ENTRY_FLAG_MASK,
    FILE_TYPE,
    FLAGS,
    HBINS_SIZE,
    LAST_WRITTEN,
    MAX_HBINS,
    SECTOR,
    SEQ1,
    SEQ_MASK,
    check_log_base_block,
    get,
    next_seq,
)

#: The fixed HvLE header (fmt §6.3); page references follow, then the page data.
_HVLE = HVLE_L.struct
_REF = PAGE_REF_L.struct
#: Hash-2 covers the header up to (not including) itself, Hash-1 included.
_HASH2_END = HVLE_L.offset("hash2")
_HASH1, _HASH2 = HVLE_L.field("hash1"), HVLE_L.field("hash2")


@dataclass(frozen=True)
class LogEntry:
    """One validated HvLE entry: where it is and which hive-bins pages it carries."""

    offset: int  # file offset of the entry in the log
    size: int
    sequence: int
    hbins_size: int
    flags: int
    #: (offset relative to hive bins, size) per page reference, in file order.
    pages: tuple[tuple[int, int], ...]
    #: file offset in the log of the first page's data (data runs are back to back).
    data_offset: int
    #: the stored Hash-1, over ``[offset + 40, offset + size)`` of the log.
    hash1: int = 0


@dataclass
class LogFile:
    """A parsed log file. ``data`` is kept so recovery can copy pages without re-reading."""

    name: str
    format: Literal["new", "old"] | None
    seq: int = 0
    hbins_size: int = 0
    entries: list[LogEntry] = field(default_factory=list)
    valid: bool = False
    problem: str | None = None
    #: why the HvLE walk stopped (None: it reached the end of the file).
    stop_reason: str | None = None
    stop_offset: int | None = None
    last_written: int = 0
    flags: int = 0
    #: the 512-byte base-block copy at the start of the log.
    head: bytes = field(default=b"", repr=False)
    #: old format: (hive-bins offset, log offset) of every stored 512-byte sector.
    sectors: list[tuple[int, int]] = field(default_factory=list)
    #: the log's bytes as given: bytes, or a read-only mapping (never copied).
    data: Any = field(default=b"", repr=False)
    #: True while the entries' Hash-1 values are still to be checked (see :func:`settle`).
    unsettled: bool = False

    @property
    def seq_range(self) -> tuple[int, int] | None:
        """First and last entry sequence numbers (new format), or None."""
        if not self.entries:
            return None
        return self.entries[0].sequence, self.entries[-1].sequence


def parse_log(name: str, data: Any, *, defer_hash1: bool = False) -> LogFile:
    """Parse and validate a whole log file's bytes; never raises for bad content.

    ``data`` is bytes or any read-only buffer (an mmap of the file): it is not copied,
    and only the base block, entry headers and hashed entry bodies are read.

    With ``defer_hash1`` (new format), the entries' Hash-1 (the Marvin32 of the whole
    entry body, nearly all of the parsing time) is left to the caller: the log comes
    back ``unsettled``, its entries are the candidates every other check accepted, and
    :func:`settle` with :func:`hash1_spans`' hashes gives exactly the result of a plain
    parse. Recovery hashes on a second thread while it copies pages.
    """
    magic = bytes(data[SECTOR : SECTOR + 4])
    # Format is decided by the magic after the base block, not by the hive's minor
    # version (regipy PR #27); the file type must agree.
    fmt: Literal["new", "old"] | None = (
        "new" if magic == b"HvLE" else "old" if magic == b"DIRT" else None
    )
    log = LogFile(name=name, format=fmt, data=data)
    head = bytes(data[:SECTOR])
    problem = check_log_base_block(head)
    if problem is None:
        log.seq, log.hbins_size = get(head, SEQ1), get(head, HBINS_SIZE)
        log.last_written, log.flags = get(head, LAST_WRITTEN), get(head, FLAGS)
        log.head = head
        ftype = get(head, FILE_TYPE)
        if fmt is None:
            problem = f"unknown log magic {magic!r} at offset {SECTOR:#x}"
        elif (fmt == "new") != (ftype == FILE_TYPE_LOG_NEW):
            problem = f"file type {ftype} does not match {magic!r} at offset {SECTOR:#x}"
    if problem is not None:
        log.problem = problem
        return log
    if fmt == "new":
        _walk_entries(log, check_hash1=not defer_hash1)
        log.unsettled = defer_hash1
        _conclude(log)  # provisional while unsettled: settle() only ever removes entries
    else:
        log.problem = _parse_dirt(log)
        log.valid = log.problem is None
    return log


def _conclude(log: LogFile) -> None:
    log.valid = bool(log.entries)
    log.problem = None if log.valid else f"no valid log entry: {log.stop_reason}"


def hash1_spans(log: LogFile) -> list[tuple[int, int]]:
    """``(offset, length)`` in the log of each candidate entry's Hash-1 input."""
    return [(e.offset + _HVLE.size, e.size - _HVLE.size) for e in log.entries]


def settle(log: LogFile, hashes: list[int]) -> bool:
    """Finish a ``defer_hash1`` parse with the Marvin32 of each :func:`hash1_spans`
    span: the entries stop at the first Hash-1 mismatch, as a plain parse would have
    stopped. Returns True when that cut any entry off."""
    cut = False
    for i, (entry, got) in enumerate(zip(log.entries, hashes, strict=True)):
        if entry.hash1 != got:
            log.stop_reason, log.stop_offset = "entry hash-1 mismatch", entry.offset
            del log.entries[i:]
            cut = True
            break
    log.unsettled = False
    if cut:
        _conclude(log)
    return cut


def _walk_entries(log: LogFile, check_hash1: bool = True) -> None:
    """Collect consecutive valid HvLE entries from offset 512 (fmt §6.5 step 4)."""
    pos, expected = SECTOR, log.seq
    with memoryview(log.data) as data:
        while pos < len(data):
            reason = _check_entry(data, pos, expected, check_hash1)
            if isinstance(reason, str):
                log.stop_reason, log.stop_offset = reason, pos
                return
            log.entries.append(reason)
            pos += reason.size
            expected = next_seq(expected)  # sequence numbers wrap modulo 2^32


def _check_entry(
    data: memoryview, pos: int, expected: int, check_hash1: bool = True
) -> LogEntry | str:
    """Validate the entry at ``pos`` (rule R4 of :mod:`.recovery`); return it, or the
    reason it is not valid. Read with the layouts of ``LogEntryHeader`` and
    ``PageReference``: no Construct per entry on the recovery path.

    Without ``check_hash1`` a returned entry's Hash-1 is unchecked, but a reason is
    always the first failing check in the order below: a check after Hash-1 that fails
    hashes the body first."""
    if pos + _HVLE.size > len(data):
        return "truncated entry header"
    sig, size, flags, seq, hbins, count, hash1, hash2 = _HVLE.unpack_from(data, pos)
    if sig != b"HvLE":
        # Zero padding after the live run (logs are preallocated) is the usual end.
        return "end of entries" if sig == b"\0\0\0\0" else f"bad entry signature {sig!r}"
    if size < SECTOR or size % SECTOR:
        return f"entry size {size:#x} not a positive multiple of 512"
    if hbins < PAGE or hbins % PAGE or hbins >= MAX_HBINS:
        return f"entry hive bins size {hbins:#x} not a positive multiple of 4096 below 2 GiB"
    if count == 0:
        return "entry has no dirty pages"
    # Hash-2 covers the first 32 bytes (including Hash-1), so it is checked first.
    if marvin32(data[pos : pos + _HASH2_END]) != hash2:
        return "entry hash-2 mismatch"
    if pos + size > len(data):
        return f"entry of {size:#x} bytes runs past the end of the log"
    body = data[pos + _HVLE.size : pos + size]  # Hash-1's input (a view, not a copy)
    if check_hash1 and marvin32(body) != hash1:
        return "entry hash-1 mismatch"
    late = _late_checks(data, pos, size, seq, hbins, count, expected)
    if isinstance(late, str):
        if not check_hash1 and marvin32(body) != hash1:
            return "entry hash-1 mismatch"
        return late
    pages, refs_end = late
    return LogEntry(pos, size, seq, hbins, flags, pages, refs_end, hash1)


def _late_checks(
    data: memoryview, pos: int, size: int, seq: int, hbins: int, count: int, expected: int
) -> tuple[tuple[tuple[int, int], ...], int] | str:
    """The checks after Hash-1: sequence and page references; (pages, data offset)."""
    if seq != expected:
        return f"entry sequence {seq} != expected {expected}"
    refs_end = pos + _HVLE.size + _REF.size * count
    if refs_end > pos + size:
        return f"{count} page references run past the end of the entry"
    pages: list[tuple[int, int]] = []
    total = 0
    for i, (off, psize) in enumerate(_REF.iter_unpack(data[pos + _HVLE.size : refs_end])):
        if off % SECTOR or psize == 0 or psize % SECTOR or off + psize > hbins:
            return f"bad page reference {i} ({off:#x}, {psize:#x})"
        pages.append((off, psize))
        total += psize
    if refs_end + total > pos + size:
        return "page data runs past the end of the entry"
    return tuple(pages), refs_end


def _parse_dirt(log: LogFile) -> str | None:
    """Old format: read the DIRT vector and locate every stored sector (fmt §6.2).

    The vector is parsed once per log through its declaration
    (:func:`regf.format.structs.dirt_vector`): the ``DIRT`` signature, then one bit per
    512-byte sector of the hive bins.
    """
    vector = dirt_vector(log.hbins_size)
    nbytes = log.hbins_size // PAGE  # one bit per 512-byte sector
    raw = bytes(log.data[SECTOR : SECTOR + 4 + nbytes])
    if len(raw) < 4 + nbytes:
        return "DIRT bitmap truncated"
    try:
        dv = codec.parse(vector, raw, SECTOR, "DIRT vector")
    except RegfError as exc:
        return exc.message
    bitmap = dv.bitmap
    # Sectors start at the next 512-byte boundary after the bitmap.
    pos = -(-(SECTOR + 4 + nbytes) // SECTOR) * SECTOR
    for i in range(dv.sectors):
        if bitmap[i >> 3] >> (i & 7) & 1:  # LSB first
            log.sectors.append((i * SECTOR, pos))
            pos += SECTOR
    if pos > len(log.data):
        return f"log holds {len(log.data)} bytes, dirty sectors need {pos}"
    if not log.sectors:
        return "DIRT bitmap marks no dirty sector"
    return None


# -- writing ------------------------------------------------------------------------


def page_runs(pages: Iterable[int]) -> list[tuple[int, int]]:
    """Merge page numbers into ``(first page, count)`` runs of contiguous pages."""
    runs: list[tuple[int, int]] = []
    for p in sorted(set(pages)):
        if runs and runs[-1][0] + runs[-1][1] == p:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((p, 1))
    return runs


def build_entry(
    pages: dict[int, bytes],
    sequence: int,
    hbins_size: int,
    flags: int,
    log_offset: int,
    runs: list[tuple[int, int]] | None = None,
) -> bytes:
    """One HvLE entry (fmt §6.3) for ``pages`` (page number >= 1 -> 4096 bytes).

    Contiguous pages share one page reference. The entry is zero-padded so that it ends
    on a 4096-byte boundary of the log when written at ``log_offset`` (a multiple of 512).
    Hash-1 covers bytes [0x28, size) and is stored before Hash-2, which covers [0, 0x20).
    ``runs`` is ``page_runs(pages)`` when the caller already has it.
    """
    if runs is None:
        runs = page_runs(pages)
    data_len = PAGE * len(pages)
    raw = _HVLE.size + _REF.size * len(runs) + data_len
    size = -(-(log_offset + raw) // PAGE) * PAGE - log_offset
    buf = bytearray(size)
    HVLE_L.struct.pack_into(
        buf,
        0,
        b"HvLE",
        size,
        flags & ENTRY_FLAG_MASK,
        sequence & SEQ_MASK,
        hbins_size,
        len(runs),
        0,
        0,
    )
    pos = _HVLE.size
    for first, count in runs:
        _REF.pack_into(buf, pos, (first - 1) * PAGE, count * PAGE)  # hive-bins relative
        pos += _REF.size
    for first, count in runs:
        for p in range(first, first + count):
            buf[pos : pos + PAGE] = pages[p]
            pos += PAGE
    # Hash-1 first: Hash-2 covers the header including Hash-1 (fmt §6.3).
    _HASH1.pack_into(buf, 0, marvin32(memoryview(buf)[_HVLE.size :]))
    _HASH2.pack_into(buf, 0, marvin32(memoryview(buf)[: _HASH2.offset]))
    return bytes(buf)


__all__ = [
    "LogEntry",
    "LogFile",
    "build_entry",
    "check_log_base_block",
    "hash1_spans",
    "page_runs",
    "parse_log",
    "settle",
]
