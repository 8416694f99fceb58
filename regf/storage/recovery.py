"""Recover a dirty primary hive from its transaction logs, like Windows (fmt §6.2, §6.5).

:func:`recover` is a pure function over bytes: it builds the recovered image in a copy
and returns it only when recovery succeeded, so a caller never sees a half-applied hive.
"""

from __future__ import annotations

import functools
import mmap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._accel import checksum
from ..errors import RecoveryError
from ..format.fast import U32
from .logs import PAGE, SECTOR, LogFile, parse_log

#: A primary image: bytes, or a read-only mapping of the file (no copy is made of it;
#: recovery builds its own working copy).
Primary = bytes | bytearray | mmap.mmap

BASE = 4096
_M32 = 0xFFFFFFFF
_HALF = 0x80000000
# Base block field offsets (fmt §1.1).
_SEQ1, _SEQ2, _STAMP, _MINOR, _TYPE, _HBINS, _FLAGS, _CKSUM = (
    4,
    8,
    12,
    0x18,
    0x1C,
    0x28,
    0x90,
    0x1FC,
)

DirtyReason = Literal["sequence", "checksum"]


@dataclass
class LogSummary:
    """What recovery saw in one log file."""

    name: str
    format: str | None
    seq: int
    seq_range: tuple[int, int] | None
    valid: bool
    problem: str | None
    stop_reason: str | None


@dataclass
class RecoveryReport:
    """Everything :func:`recover` decided, for display and for tests."""

    dirty: DirtyReason | None = None
    logs: list[LogSummary] = field(default_factory=list)
    #: (log name, sequence, pages) per applied HvLE entry; old format: one pseudo-entry.
    applied_entries: list[tuple[str, int, tuple[tuple[int, int], ...]]] = field(
        default_factory=list
    )
    #: (log name, sequence or offset, reason) for entries / logs that were not applied.
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    applied: bool = False
    reason: str | None = None
    #: new-format: the final sequence number written to Seq1 and Seq2.
    final_sequence: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pages_applied(self) -> int:
        """Number of page references (or dirty runs) written into the image."""
        return sum(len(p) for _, _, p in self.applied_entries)


def _u32(buf: Primary, off: int) -> int:
    return int(U32.unpack_from(buf, off)[0])


def _put(buf: bytearray, off: int, value: int) -> None:
    U32.pack_into(buf, off, value & _M32)


def is_dirty(head: bytes | bytearray) -> DirtyReason | None:
    """Why the primary base block needs recovery: ``'checksum'``, ``'sequence'`` or None.

    A bad signature or a wrong checksum needs base-block recovery; a valid block whose
    Seq1 != Seq2 only needs data recovery (fmt §1.5, §6.4).
    """
    if len(head) < SECTOR or bytes(head[:4]) != b"regf":
        return "checksum"
    if checksum(head) != _u32(head, _CKSUM):
        return "checksum"
    if _u32(head, _SEQ1) != _u32(head, _SEQ2):
        return "sequence"
    return None


def _seq_cmp(a: int, b: int) -> int:
    """Order sequence numbers on the 32-bit circle (yarp ``is_starting_log``)."""
    if a == b:
        return 0
    return -1 if (b - a) & _M32 < _HALF else 1


def _log_cmp(a: LogFile, b: LogFile) -> int:
    return _seq_cmp(a.seq, b.seq)


def _not_older(a: int, b: int) -> bool:
    """``a >= b`` modulo 2^32."""
    return (a - b) & _M32 < _HALF


def recover(
    primary: Primary, logs: Sequence[tuple[str, bytes]]
) -> tuple[bytearray, RecoveryReport]:
    """Apply ``logs`` (name, bytes) to a dirty ``primary``; return the image and a report.

    A clean primary is returned unchanged (logs ignored). Raises :class:`RecoveryError`
    when the primary is dirty and no log can be applied.
    """
    report = RecoveryReport(dirty=is_dirty(primary[:SECTOR]))
    parsed = [parse_log(name, data) for name, data in logs]
    report.logs = [
        LogSummary(lf.name, lf.format, lf.seq, lf.seq_range, lf.valid, lf.problem, lf.stop_reason)
        for lf in parsed
    ]
    if report.dirty is None:
        report.reason = "primary is clean; logs ignored"
        return bytearray(primary), report
    if len(primary) < BASE and report.dirty == "sequence":
        raise RecoveryError("primary shorter than its 4096-byte base block")
    new = [lf for lf in parsed if lf.valid and lf.format == "new"]
    old = [lf for lf in parsed if lf.valid and lf.format == "old"]
    for lf in parsed:
        if not lf.valid:
            report.rejected.append((lf.name, lf.seq, lf.problem or "invalid"))
    errors: list[str] = []
    for attempt, usable in ((_recover_new, new), (_recover_old, old)):
        if not usable:
            continue
        try:
            image = attempt(primary, usable, report)
        except RecoveryError as exc:
            errors.append(exc.message)
            continue
        report.applied, report.reason = True, None
        return image, report
    if not errors:
        problems = "; ".join(f"{lf.name}: {lf.problem}" for lf in parsed) or "no log given"
        errors.append(f"no usable log ({problems})")
    report.reason = "; ".join(errors)
    raise RecoveryError(f"primary is dirty ({report.dirty}) and {report.reason}")


def _start_image(primary: Primary, head: bytes | None) -> bytearray:
    """Copy the primary; with ``head`` (bad primary base block), replace its base block."""
    image = bytearray(primary)
    if len(image) < BASE:
        image.extend(bytes(BASE - len(image)))
    if head is not None:
        # Base-block recovery: the log's 512 bytes, rest zero, type back to primary.
        image[:BASE] = head[:SECTOR] + bytes(BASE - SECTOR)
        _put(image, _TYPE, 0)
    return image


def _finish(image: bytearray, hbins: int, seq1: int, seq2: int) -> bytearray:
    """Write the final base block fields and cut the image to exactly 4096 + hbins."""
    _put(image, _SEQ1, seq1)
    _put(image, _SEQ2, seq2)
    _put(image, _HBINS, hbins)
    _put(image, _TYPE, 0)
    _put(image, _CKSUM, checksum(image[:SECTOR]))
    end = BASE + hbins
    if len(image) < end:
        image.extend(bytes(end - len(image)))
    del image[end:]
    return image


def _recover_new(
    primary: Primary, logs: list[LogFile], report: RecoveryReport
) -> bytearray:
    """HvLE recovery (fmt §6.5)."""
    ordered = sorted(logs, key=functools.cmp_to_key(_log_cmp))
    if report.dirty == "checksum":
        # Only the log with the later entries is used; it supplies the base block.
        chosen = [ordered[-1]]
        image = _start_image(primary, ordered[-1].head)
    else:
        seq2 = _u32(primary, _SEQ2)
        chosen = []
        for lf in ordered:
            if not _not_older(lf.seq, seq2):
                report.rejected.append((lf.name, lf.seq, f"log sequence {lf.seq} < primary {seq2}"))
                continue
            chosen.append(lf)
        if not chosen:
            raise RecoveryError(f"no log continues the primary (primary Seq2 {seq2})")
        if chosen[0].seq != seq2:
            # Windows accepts this (spec: log Seq >= primary Seq2); note the gap.
            report.notes.append(f"{chosen[0].name} starts at {chosen[0].seq}, primary at {seq2}")
        image = _start_image(primary, None)
    flags = _u32(image, _FLAGS)
    hbins = _u32(image, _HBINS)
    if report.dirty == "checksum":
        # Until an entry says otherwise, estimate the size from the file (fmt §6.5 step 3).
        hbins = max(0, (len(primary) - BASE) // PAGE * PAGE)
    last: int | None = None
    for i, lf in enumerate(chosen):
        if i and last is not None and lf.seq != (last + 1) & _M32:
            # The second log only counts when it continues the first one.
            report.rejected.append((lf.name, lf.seq, f"does not continue sequence {last}"))
            break
        for entry in lf.entries:
            flags = (flags & ~1) | (entry.flags & 1)  # only bit 0 travels in entries
            hbins = entry.hbins_size
            if len(image) < BASE + hbins:  # grow with zeros (EricZimmerman/Registry #24)
                image.extend(bytes(BASE + hbins - len(image)))
            src = entry.data_offset
            for off, size in entry.pages:
                image[BASE + off : BASE + off + size] = lf.data[src : src + size]
                src += size
            report.applied_entries.append((lf.name, entry.sequence, entry.pages))
            last = entry.sequence
        if lf.stop_reason not in (None, "end of entries"):
            report.notes.append(f"{lf.name}: stopped at {lf.stop_offset:#x}: {lf.stop_reason}")
    if last is None:
        raise RecoveryError("no log entry could be applied")
    _put(image, _FLAGS, flags)
    end = _valid_bins_end(image, hbins)
    if end < hbins:
        # The spec has Windows replace such a bin with a dummy one; we only report it.
        report.notes.append(f"bin chain breaks at hive-bins offset {end:#x} after recovery")
    # The Windows 10 sample (yarp RecoveredHive_Windows10) ends at last applied + 1.
    final = (last + 1) & _M32
    report.final_sequence = final
    return _finish(image, hbins, final, final)


def _recover_old(
    primary: Primary, logs: list[LogFile], report: RecoveryReport
) -> bytearray:
    """DIRT recovery (fmt §6.2): timestamp eligibility, sector copy, bin check."""
    bad_head = report.dirty == "checksum"
    if bad_head:
        # The first bin's timestamp mirrors the base block's (fmt §1.1).
        ok = len(primary) >= BASE + 0x20 and bytes(primary[BASE : BASE + 4]) == b"hbin"
        stamp = int.from_bytes(primary[BASE + 0x14 : BASE + 0x1C], "little") if ok else 0
    else:
        stamp = int.from_bytes(primary[_STAMP : _STAMP + 8], "little")
    # Windows wants equal timestamps; yarp (and BadBaseBlockHive, whose first-bin stamp is
    # older than its base block's) needs "log not older than the primary".
    eligible = [lf for lf in logs if lf.last_written >= stamp]
    for lf in logs:
        if lf not in eligible:
            report.rejected.append((lf.name, lf.seq, "log timestamp older than the primary"))
    if not eligible:
        raise RecoveryError("no old-format log is as new as the primary")
    # With two eligible logs the later one wins (Windows >= 8, yarp).
    lf = max(eligible, key=lambda x: x.last_written)
    image = _start_image(primary, lf.head if bad_head else None)
    hbins = lf.hbins_size
    if len(image) < BASE + hbins:
        image.extend(bytes(BASE + hbins - len(image)))
    runs: list[tuple[int, int]] = []
    for off, src in lf.sectors:
        image[BASE + off : BASE + off + SECTOR] = lf.data[src : src + SECTOR]
        if runs and runs[-1][0] + runs[-1][1] == off:
            runs[-1] = (runs[-1][0], runs[-1][1] + SECTOR)
        else:
            runs.append((off, SECTOR))
    problem = _check_bins(image, runs, hbins)
    if problem:
        raise RecoveryError(f"{lf.name}: {problem}")
    if not bad_head:
        # Size, root, version and flags come from the log's base-block copy.
        for off in (_HBINS, 0x24, 0x14, _MINOR, _FLAGS):
            image[off : off + 4] = lf.head[off : off + 4]
    report.applied_entries.append((lf.name, lf.seq, tuple(runs)))
    seq = lf.seq if bad_head else _u32(image, _SEQ1)
    report.final_sequence = seq
    return _finish(image, hbins, seq, seq)


def _valid_bins_end(image: bytearray, hbins: int) -> int:
    """Hive-bins offset where the chain of sane bin headers from offset 0 ends."""
    pos = 0
    while pos < hbins:
        head = image[BASE + pos : BASE + pos + 12]
        size = _u32(head, 8) if len(head) == 12 else 0
        if head[:4] != b"hbin" or _u32(head, 4) != pos or size < PAGE or size % PAGE:
            break
        pos += size
    return pos


def _check_bins(image: bytearray, runs: list[tuple[int, int]], hbins: int) -> str | None:
    """Every recovered sector must lie in a bin with a sane header (fmt §6.2)."""
    valid_end = _valid_bins_end(image, hbins)
    for off, size in runs:
        if off + size > valid_end:
            return f"recovered data at hive-bins offset {off:#x} lies past the last valid bin"
    return None


__all__ = ["LogSummary", "RecoveryReport", "is_dirty", "recover"]
