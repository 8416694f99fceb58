"""Recover a dirty primary hive from its transaction logs, like Windows (fmt §6.2, §6.5).

:func:`recover` is a pure function over bytes: it builds the recovered image in a copy
(or a private copy-on-write mapping) and returns it only when recovery succeeded, so a
caller never sees a half-applied hive.

Acceptance rules
================

Recovery applies exactly what these rules accept, in this order; each rule is tested by
``tests/test_recovery.py::test_rule_R<n>_...``. "Newer" and "older" compare sequence
numbers on the 32-bit circle: ``a`` is not older than ``b`` iff ``(a - b) mod 2^32 <=
0x7FFFFFFF`` (:func:`.baseblock.not_older`, fmt §6.5 step 1).

R1. *Dirty.* The primary needs recovery iff its signature or checksum is bad, or its
    Seq1 != Seq2 (:func:`.baseblock.is_dirty`). A clean primary is returned as it is and
    every log is ignored, whatever it holds.
R2. *Usable log.* A log file is considered iff its 512-byte base block is sane (signature,
    checksum, Seq1 = Seq2, version 1.1-1.6, log file type, format and clustering 1,
    hive-bins size a positive multiple of 4096 below 2 GiB) and the 4 bytes at offset 512
    agree with its file type (``HvLE`` for type 6, ``DIRT`` for types 1 and 2). The format
    is decided by those 4 bytes, never by the hive's minor version (regipy PR #27).
R3. *Format order.* New-format logs are tried first; old-format (DIRT) logs only when no
    new-format recovery succeeded.
R4. *Entry.* A log entry is applied iff it and every entry before it in its log are valid:
    signature ``HvLE``; size a positive multiple of 512; hive-bins size a positive
    multiple of 4096 below 2 GiB; page count != 0; Hash-2 (bytes [0, 0x20)) and Hash-1
    (bytes [0x28, size)) match; the entry lies inside the file; its sequence number is
    the log's base-block Seq1 for the first entry and the previous entry's + 1 after
    that; every page reference is 512-aligned, non-empty and inside the entry's hive
    bins; and the page data lies inside the entry. The walk stops at the first invalid
    entry; what follows it is remnants (fmt §6.5 step 4).
R5. *Valid primary base block* (Seq1 != Seq2 only): the logs are taken oldest first; a log
    is eligible iff its base-block Seq1 is not older than the primary's Seq2. A second
    log is applied after the first iff its Seq1 is the last applied entry's + 1.
R6. *Broken primary base block* (bad signature or checksum): only the log with the newest
    base-block Seq1 is used, and its 512-byte base-block copy (rest zero, file type 0)
    becomes the primary's base block (fmt §6.5 step 3).
R7. *Applying* an entry writes each page at file offset 4096 + its offset, sets the
    hive-bins size to the entry's (growing the image with zeros) and copies flag bit 0
    into the base block's flags; nothing else of the base block changes.
R8. *Dirty bins.* After every entry is applied, a bin with an invalid header that an
    entry wrote (or that lies in zero fill past the primary's end) is replaced by a
    4096-byte dummy bin holding one free cell (fmt §6.5 step 6); an invalid bin no entry
    touched is left as it is and reported.
R9. *Finish* (new format): Seq1 = Seq2 = last applied sequence + 1 (as Windows 10 does),
    file type 0, fresh checksum, and the image is exactly 4096 + hive-bins bytes long.
R10. *Old format* (DIRT): a log is eligible iff its base block's last-written timestamp
    is not older than the primary's (the first bin's when the primary base block is
    broken); of several, the newest wins. Every stored sector must lie inside the chain
    of valid bins, or the log is refused. Size, root cell, version and flags come from
    the log's base-block copy (its whole sector under R6).
R11. *Refusal.* A dirty primary that no log can recover raises
    :class:`~regf.errors.RecoveryError` naming each log's problem; nothing is returned.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._accel import BACKEND, bin_chain_end, copy_runs, marvin32_spans
from ..errors import RecoveryError
from ..format.constants import BASE, FILE_TYPE_PRIMARY, PAGE
from ..format.fast import CELL_L, HBIN_L
from ..format.structs import HBIN_HEADER_SIZE
from .baseblock import (
    ENTRY_FLAG_MASK,
    FLAGS,
    HBINS_SIZE,
    LAST_WRITTEN,
    OLD_LOG_FIELDS,
    SECTOR,
    SEQ1,
    SEQ2,
    DirtyReason,
    get,
    is_dirty,
    next_seq,
    not_older,
    put,
    seal,
    seq_cmp,
)
from .files import map_readonly, open_readable
from .logs import LogEntry, LogFile, hash1_spans, parse_log, settle

_HBIN_STAMP = HBIN_L.field("timestamp")

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


def _log_cmp(a: LogFile, b: LogFile) -> int:
    return seq_cmp(a.seq, b.seq)


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
    dirty = is_dirty(primary[:SECTOR])
    # A dirty primary's logs are parsed without their Hash-1 checks, which _Hash1Check
    # runs beside the first attempt; if it cuts a log short, the attempt is redone on
    # the settled logs (its image discarded), so the result is the sequential one.
    parsed = [parse_log(name, data, defer_hash1=dirty is not None) for name, data in logs]
    check = _Hash1Check(parsed)
    try:
        result = _attempt(primary, parsed, make_image, dirty)
    finally:
        cut = check.finish()
    if cut:
        if isinstance(result, tuple) and isinstance(result[0], mmap.mmap):
            result[0].close()
        result = _attempt(primary, parsed, make_image, dirty)
    if isinstance(result, RecoveryError):
        raise result
    return result


class _Hash1Check:
    """The Hash-1 checks (rule R4) of every unsettled log, for :func:`_recover`.

    Hash-1 covers each entry's whole body, so it is most of the CPU time of a recovery.
    With the C backend and enough bytes to hash, a second thread hashes (cffi releases
    the GIL) while the first plans and copies pages (``copy_runs``, also without the
    GIL), and :meth:`finish` settles the logs. Otherwise the logs are settled at once,
    before the attempt: pure-Python hashing holds the GIL, so a thread would only add
    switching.
    """

    #: Below this many bytes a thread costs more than it saves (~0.1 ms to start one).
    THREAD_BYTES = 512 << 10

    def __init__(self, logs: list[LogFile]) -> None:
        self._logs = [lf for lf in logs if lf.unsettled]
        self._spans = [hash1_spans(lf) for lf in self._logs]
        self._hashes: list[list[int]] = []
        self._error: BaseException | None = None
        # Held while the worker runs; a bare _thread (no threading.Thread bookkeeping)
        # starts in a fraction of the time, which matters at ~1 ms saved.
        self._busy: Any = None
        total = sum(n for spans in self._spans for _off, n in spans)
        if BACKEND == "c" and total >= self.THREAD_BYTES:
            self._busy = _thread.allocate_lock()
            self._busy.acquire()
            _thread.start_new_thread(self._run, ())
        else:
            self._run()
            self._settle()

    def _run(self) -> None:
        try:
            self._hashes = [
                marvin32_spans(lf.data, spans)
                for lf, spans in zip(self._logs, self._spans, strict=True)
            ]
        except BaseException as exc:  # re-raised by finish(), in the caller's thread
            self._error = exc
        finally:
            if self._busy is not None:
                self._busy.release()

    def _settle(self) -> bool:
        if self._error is not None:
            raise self._error
        cut = False
        for lf, hashes in zip(self._logs, self._hashes, strict=True):
            cut |= settle(lf, hashes)
        return cut

    def finish(self) -> bool:
        """Wait for the hashes and settle the logs; True if a log lost entries since
        the attempt began (the attempt must then be redone)."""
        if self._busy is None:
            return False
        with self._busy:  # released by the worker when it is done
            pass
        self._busy = None
        return self._settle()


def _attempt(
    primary: Primary,
    parsed: list[LogFile],
    make_image: ImageFactory | None,
    dirty: DirtyReason | None,
) -> tuple[Image, RecoveryReport] | RecoveryError:
    """One recovery over ``parsed`` (rules R1-R11): the image and report, or the refusal."""
    report = RecoveryReport(dirty=dirty)
    report.logs = [
        LogSummary(lf.name, lf.format, lf.seq, lf.seq_range, lf.valid, lf.problem, lf.stop_reason)
        for lf in parsed
    ]
    if report.dirty is None:
        report.reason = "primary is clean; logs ignored"
        return bytearray(primary), report
    if len(primary) < BASE and report.dirty == "sequence":
        return RecoveryError("primary shorter than its 4096-byte base block")
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
    return RecoveryError(f"primary is dirty ({report.dirty}) and {report.reason}")


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
            fd, size = open_readable(p)  # a FIFO given as a log must not hang the open
            try:
                m = map_readonly(fd, size)
            finally:
                os.close(fd)
            if isinstance(m, mmap.mmap):
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


def _copy_image(primary: Primary, size: int) -> bytearray:
    """The default image factory: a copy of the primary's first ``size`` bytes, zero
    filled when the primary is shorter."""
    with memoryview(primary) as mv:
        image = bytearray(mv[:size])
    if len(image) < size:
        image.extend(bytes(size - len(image)))
    return image


def _finish(image: Image, hbins: int, seq1: int, seq2: int) -> Image:
    """Write the final base block fields (rule R9) and cut the image to 4096 + hbins."""
    put(image, HBINS_SIZE, hbins)
    seal(image, seq1, seq2, FILE_TYPE_PRIMARY)
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
        flags = get(head, FLAGS)
        # Until an entry says otherwise, estimate the size from the file (fmt §6.5 step 3).
        hbins = max(0, (len(primary) - BASE) // PAGE * PAGE)
    else:
        seq2 = get(primary, SEQ2)
        chosen = []
        for lf in ordered:
            if not not_older(lf.seq, seq2):
                report.rejected.append((lf.name, lf.seq, f"log sequence {lf.seq} < primary {seq2}"))
                continue
            chosen.append(lf)
        if not chosen:
            raise RecoveryError(f"no log continues the primary (primary Seq2 {seq2})")
        if chosen[0].seq != seq2:
            # Windows accepts this (spec: log Seq >= primary Seq2); note the gap.
            report.notes.append(f"{chosen[0].name} starts at {chosen[0].seq}, primary at {seq2}")
        flags = get(primary, FLAGS)
        hbins = get(primary, HBINS_SIZE)
    plan: list[tuple[LogFile, LogEntry]] = []
    last: int | None = None
    for i, lf in enumerate(chosen):
        if i and last is not None and lf.seq != next_seq(last):
            # The second log only counts when it continues the first one.
            report.rejected.append((lf.name, lf.seq, f"does not continue sequence {last}"))
            break
        for entry in lf.entries:
            flags = (flags & ~ENTRY_FLAG_MASK) | (
                entry.flags & ENTRY_FLAG_MASK
            )  # only bit 0 travels in entries
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
    # (image offset, log offset, length) per page run, grouped by log in plan order: one
    # copy_runs call per log (C: one memmove per run, without the GIL).
    copies: list[tuple[LogFile, list[tuple[int, int, int]]]] = []
    for lf, entry in plan:
        if not copies or copies[-1][0] is not lf:
            copies.append((lf, []))
        runs = copies[-1][1]
        src = entry.data_offset
        for off, psize in entry.pages:
            lo, hi = BASE + off, min(BASE + off + psize, size)
            if lo < hi:
                runs.append((lo, src, hi - lo))
            src += psize
        dirty_runs.extend(entry.pages)
        report.applied_entries.append((lf.name, entry.sequence, entry.pages))
    for lf, runs in copies:
        copy_runs(image, lf.data, runs)
    put(image, FLAGS, flags)
    if primary_end < hbins:
        dirty_runs.append((primary_end, hbins - primary_end))
    end = _repair_dirty_bins(image, hbins, dirty_runs, report)
    if end < hbins:
        # A broken bin the logs never touched: Windows would refuse the hive; we report it
        # and leave the bytes as they are (the reader skips or rejects that bin).
        report.notes.append(f"bin chain breaks at hive-bins offset {end:#x} after recovery")
    # The Windows 10 sample (yarp RecoveredHive_Windows10) ends at last applied + 1.
    final = next_seq(last)
    report.final_sequence = final
    return _finish(image, hbins, final, final)


def _recover_old(primary: Primary, logs: list[LogFile], report: RecoveryReport) -> bytearray:
    """DIRT recovery (fmt §6.2): timestamp eligibility, sector copy, bin check."""
    bad_head = report.dirty == "checksum"
    if bad_head:
        # The first bin's timestamp mirrors the base block's (fmt §1.1).
        ok = len(primary) >= BASE + HBIN_L.size and bytes(primary[BASE : BASE + 4]) == b"hbin"
        stamp = _HBIN_STAMP.unpack_from(primary, BASE) if ok else 0
    else:
        stamp = get(primary, LAST_WRITTEN)
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
    hbins = lf.hbins_size
    _check_growth(hbins, len(primary), (off + SECTOR for off, _src in lf.sectors))
    # Only what the log's base block declares is copied (never a whole, maybe huge, file).
    image = _copy_image(primary, BASE + hbins)
    if bad_head:
        # Base-block recovery (R6): the log's 512 bytes, rest zero; _finish sets type 0.
        image[:BASE] = lf.head[:SECTOR] + bytes(BASE - SECTOR)
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
        for f in OLD_LOG_FIELDS:
            put(image, f, get(lf.head, f))
    report.applied_entries.append((lf.name, lf.seq, tuple(runs)))
    seq = lf.seq if bad_head else get(image, SEQ1)
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
    """A 4096-byte bin at ``offset`` holding one free cell over all of its space (R8)."""
    b = bytearray(PAGE)
    HBIN_L.struct.pack_into(b, 0, b"hbin", offset, PAGE, bytes(8), 0, 0)
    CELL_L.struct.pack_into(b, HBIN_HEADER_SIZE, PAGE - HBIN_HEADER_SIZE)  # positive: free
    return bytes(b)


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
    dirty: bytearray | None = None  # built only when a bin is insane (rare)
    pos = 0
    with memoryview(image) as mv, mv[BASE : BASE + hbins] as bins:
        while True:
            pos = bin_chain_end(bins, hbins, pos)
            if pos >= hbins:
                return pos
            if dirty is None:
                dirty = bytearray(npages)
                for off, size in dirty_runs:
                    first, last = off // PAGE, min(npages, -(-(off + size) // PAGE))
                    if first < last:
                        dirty[first:last] = b"\1" * (last - first)
            if not dirty[pos // PAGE]:
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
