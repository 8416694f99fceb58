"""Recover a dirty primary hive from its transaction logs, like Windows (fmt §6.2, §6.5).

:func:`recover` is a pure function over bytes: it builds the recovered image in a copy
and returns it only when recovery succeeded, so a caller never sees a half-applied hive.
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._accel import bin_chain_end, checksum
from ..errors import RecoveryError
from ..format.fast import U32
from .logs import PAGE, SECTOR, LogEntry, LogFile, parse_log

#: A primary image: bytes, or a read-only mapping of the file (no copy is made of it;
#: recovery builds its own working copy).
Primary = bytes | bytearray | mmap.mmap
#: Log contents: bytes, or a read-only mapping (only the valid entries are ever read).
LogData = bytes | bytearray | memoryview | mmap.mmap
#: A recovered image: a bytearray, or a private copy-on-write mapping of the primary file
#: (writes never reach the file) when :func:`recover_files` could map it.
Image = bytearray | mmap.mmap
#: ``make_image(primary, size)``: a writable buffer of exactly ``size`` bytes holding the
#: primary's bytes (zero beyond its end), that recovery may modify.
ImageFactory = Callable[[Primary, int], Image]

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

#: Most hive-bins bytes recovery zero-fills (then turns into dummy bins) past everything
#: the primary and the applied log data hold (see ``_check_growth``).
MAX_ZERO_GROWTH = 16 << 20


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
    #: hive-bins offsets of dirty bins whose header was invalid after the entries were
    #: applied, each replaced by a 4096-byte dummy bin holding one free cell (fmt §6.5.6).
    dummy_bins: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def pages_applied(self) -> int:
        """Number of page references (or dirty runs) written into the image."""
        return sum(len(p) for _, _, p in self.applied_entries)


def _u32(buf: Primary, off: int) -> int:
    return int(U32.unpack_from(buf, off)[0])


def _put(buf: bytearray | mmap.mmap, off: int, value: int) -> None:
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
    primary: Primary, logs: Sequence[tuple[str, LogData]]
) -> tuple[bytearray, RecoveryReport]:
    """Apply ``logs`` (name, bytes) to a dirty ``primary``; return the image and a report.

    A clean primary is returned unchanged (logs ignored). Raises :class:`RecoveryError`
    when the primary is dirty and no log can be applied. ``primary`` is never modified;
    the image is a new bytearray.
    """
    image, report = _recover(primary, logs, None)
    assert isinstance(image, bytearray)  # no factory: always a copy
    return image, report


def _recover(
    primary: Primary,
    logs: Sequence[tuple[str, LogData]],
    make_image: ImageFactory | None,
) -> tuple[Image, RecoveryReport]:
    """:func:`recover`; ``make_image`` (new-format logs only) supplies the writable image."""
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
            if attempt is _recover_new:
                image: Image = _recover_new(primary, usable, report, make_image)
            else:
                image = _recover_old(primary, usable, report)
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


@contextlib.contextmanager
def mapped_logs(paths: Sequence[str | os.PathLike[str]]) -> Iterator[list[tuple[str, LogData]]]:
    """``(name, contents)`` for each log path, mapped read-only instead of read.

    Recovery reads only the valid entries of a log (and copies only their pages), so a
    mapping avoids reading and copying whole multi-megabyte logs. Empty files come back
    as ``b""`` (they cannot be mapped). The mappings are closed on exit.
    """
    maps: list[mmap.mmap] = []
    out: list[tuple[str, LogData]] = []
    try:
        for p in paths:
            with open(p, "rb") as fh:
                if os.fstat(fh.fileno()).st_size == 0:
                    out.append((str(p), b""))
                    continue
                m = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            maps.append(m)
            out.append((str(p), m))
        yield out
    finally:
        for m in maps:
            with contextlib.suppress(BufferError):
                m.close()


def recover_files(
    primary: Primary,
    log_paths: Sequence[str | os.PathLike[str]],
    primary_path: str | os.PathLike[str] | None = None,
) -> tuple[Image, RecoveryReport]:
    """:func:`recover` with logs given as paths (mapped, never written).

    With ``primary_path`` (the file ``primary`` was read from), the recovered image is a
    private copy-on-write mapping of that file when it fits in it: only the pages the
    logs rewrite are copied, instead of the whole hive. Nothing is ever written to any
    file (``mmap.ACCESS_COPY``).
    """
    factory = None
    if primary_path is not None:
        path = primary_path

        def factory(prim: Primary, size: int) -> Image:
            with open(path, "rb") as fh:
                if size <= os.fstat(fh.fileno()).st_size and size > 0:
                    m = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY)
                    if m[:SECTOR] == prim[:SECTOR]:  # same file as the primary we checked
                        return m
                    m.close()
            return _copy_image(prim, size)

    with mapped_logs(log_paths) as logs:
        return _recover(primary, logs, factory)


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


def _copy_image(primary: Primary, size: int) -> bytearray:
    """The default image factory: a copy of the primary's first ``size`` bytes, zero
    filled when the primary is shorter."""
    with memoryview(primary) as mv:
        image = bytearray(mv[:size])
    if len(image) < size:
        image.extend(bytes(size - len(image)))
    return image


def _finish(image: Image, hbins: int, seq1: int, seq2: int) -> Image:
    """Write the final base block fields and cut the image to exactly 4096 + hbins."""
    _put(image, _SEQ1, seq1)
    _put(image, _SEQ2, seq2)
    _put(image, _HBINS, hbins)
    _put(image, _TYPE, 0)
    _put(image, _CKSUM, checksum(image[:SECTOR]))
    end = BASE + hbins
    if len(image) != end:
        assert isinstance(image, bytearray)  # factories make mappings at the final size
        if len(image) < end:
            image.extend(bytes(end - len(image)))
        del image[end:]
    return image


def _recover_new(
    primary: Primary,
    logs: list[LogFile],
    report: RecoveryReport,
    make_image: ImageFactory | None = None,
) -> Image:
    """HvLE recovery (fmt §6.5).

    Everything that can refuse the logs is decided first (which logs, which entries, the
    final size); only then is the image made, at its final length, and written. So a
    refusal never leaves a half-written image behind, and ``make_image`` may hand out a
    private copy-on-write mapping of the primary instead of copying it.
    """
    ordered = sorted(logs, key=functools.cmp_to_key(_log_cmp))
    head: bytes | None = None
    if report.dirty == "checksum":
        # Only the log with the later entries is used; it supplies the base block.
        chosen = [ordered[-1]]
        head = ordered[-1].head
        flags = int.from_bytes(head[_FLAGS : _FLAGS + 4], "little")
        # Until an entry says otherwise, estimate the size from the file (fmt §6.5 step 3).
        hbins = max(0, (len(primary) - BASE) // PAGE * PAGE)
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
        flags = _u32(primary, _FLAGS)
        hbins = _u32(primary, _HBINS)
    plan: list[tuple[LogFile, LogEntry]] = []
    last: int | None = None
    for i, lf in enumerate(chosen):
        if i and last is not None and lf.seq != (last + 1) & _M32:
            # The second log only counts when it continues the first one.
            report.rejected.append((lf.name, lf.seq, f"does not continue sequence {last}"))
            break
        for entry in lf.entries:
            flags = (flags & ~1) | (entry.flags & 1)  # only bit 0 travels in entries
            hbins = entry.hbins_size  # the image grows with zeros (EricZimmerman/Registry #24)
            plan.append((lf, entry))
            last = entry.sequence
        if lf.stop_reason not in (None, "end of entries"):
            report.notes.append(f"{lf.name}: stopped at {lf.stop_offset:#x}: {lf.stop_reason}")
    if last is None:
        raise RecoveryError("no log entry could be applied")
    _check_growth(
        hbins,
        len(primary),
        (off + psize for _lf, e in plan for off, psize in e.pages),
    )
    # Decided; now write. Bytes past the final size would be cut at the end anyway, so the
    # image is made at its final length and page writes are clipped to it.
    size = BASE + hbins
    image = (make_image or _copy_image)(primary, size)
    if head is not None:
        # Base-block recovery: the log's 512 bytes, rest zero, type back to primary.
        image[:BASE] = head[:SECTOR] + bytes(BASE - SECTOR)
    # Hive-bins bytes the primary supplied; anything beyond is zero fill until an entry
    # writes it, so it counts as dirty for the bin check below.
    primary_end = max(0, len(primary) - BASE)
    dirty_runs: list[tuple[int, int]] = []
    with memoryview(image) as dst:
        for lf, entry in plan:
            src = entry.data_offset
            with lf.view as data:
                for off, psize in entry.pages:
                    lo, hi = BASE + off, min(BASE + off + psize, size)
                    if lo < hi:
                        # memoryview to memoryview: one memmove, no temporary bytes.
                        dst[lo:hi] = data[src : src + hi - lo]
                    src += psize
            dirty_runs.extend(entry.pages)
            report.applied_entries.append((lf.name, entry.sequence, entry.pages))
    _put(image, _FLAGS, flags)
    if primary_end < hbins:
        dirty_runs.append((primary_end, hbins - primary_end))
    end = _repair_dirty_bins(image, hbins, dirty_runs, report)
    if end < hbins:
        # A broken bin the logs never touched: Windows would refuse the hive; we report it
        # and leave the bytes as they are (the reader skips or rejects that bin).
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
    _check_growth(hbins, len(primary), (off + SECTOR for off, _src in lf.sectors))
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
    _finish(image, hbins, seq, seq)
    return image


def _check_growth(hbins: int, primary_len: int, written_ends: Iterator[int]) -> None:
    """Refuse a final hive-bins size far past what the primary and the logs' own data
    reach. Zero fill there becomes dummy bins (fmt §6.5 step 6), but a hive that grew
    had its new bins logged whole (they are dirty), so only a little of it is
    plausible: a 2 GB size field in an otherwise valid entry made a read-only open
    allocate and scan 2 GB for 30 s (found by fuzzing, issue 19)."""
    reach = max(primary_len - BASE, max(written_ends, default=0))
    reach = -(-reach // PAGE) * PAGE + MAX_ZERO_GROWTH
    if hbins > reach:
        raise RecoveryError(
            f"log hive-bins size {hbins:#x} lies past everything the primary and the logs "
            f"hold ({reach:#x})"
        )


def _valid_bins_end(image: bytearray, hbins: int) -> int:
    """Hive-bins offset where the chain of sane bin headers from offset 0 ends."""
    hbins = min(hbins, max(0, len(image) - BASE))
    with memoryview(image) as mv, mv[BASE : BASE + hbins] as bins:
        return bin_chain_end(bins, hbins, 0)


def _dummy_bin(offset: int) -> bytes:
    """A 4096-byte bin at ``offset`` holding one free cell over all of its space."""
    head = b"hbin" + offset.to_bytes(4, "little") + PAGE.to_bytes(4, "little") + bytes(20)
    return head + (PAGE - 0x20).to_bytes(4, "little") + bytes(PAGE - 0x24)


def _repair_dirty_bins(
    image: Image, hbins: int, dirty_runs: list[tuple[int, int]], report: RecoveryReport
) -> int:
    """Replace each invalid *dirty* bin by a dummy bin (fmt §6.5 step 6); return where the
    chain of sane bins ends (``hbins`` when it reaches the end).

    A bin whose header is insane after the entries were applied, and whose first page
    was written by an entry (or lies in zero fill beyond the primary's end), becomes a
    4096-byte bin with one free cell, and the chain continues after it. An insane bin
    that no entry touched stops the chain: that damage is the primary's own.
    """
    npages = hbins // PAGE
    dirty = bytearray(npages)
    for off, size in dirty_runs:
        first, last = off // PAGE, min(npages, -(-(off + size) // PAGE))
        if first < last:
            dirty[first:last] = b"\1" * (last - first)
    pos = 0
    with memoryview(image) as mv, mv[BASE : BASE + hbins] as bins:
        while True:
            pos = bin_chain_end(bins, hbins, pos)
            if pos >= hbins or not dirty[pos // PAGE]:
                return pos
            image[BASE + pos : BASE + pos + PAGE] = _dummy_bin(pos)
            report.dummy_bins.append(pos)
            pos += PAGE


def _check_bins(image: bytearray, runs: list[tuple[int, int]], hbins: int) -> str | None:
    """Every recovered sector must lie in a bin with a sane header (fmt §6.2)."""
    valid_end = _valid_bins_end(image, hbins)
    for off, size in runs:
        if off + size > valid_end:
            return f"recovered data at hive-bins offset {off:#x} lies past the last valid bin"
    return None


__all__ = [
    "LogSummary",
    "RecoveryReport",
    "is_dirty",
    "mapped_logs",
    "recover",
    "recover_files",
]
