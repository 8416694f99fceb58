"""The files a writable hive is made of: the primary and its LOG1/LOG2 siblings.

Helpers of the pager (:mod:`.flush`) that are not the flush protocol itself: the names
of the log files beside a hive, how big a log may grow (:class:`LogPolicy`), mapping a
file for recovery, writing a recovered image back, emptying logs no correct recovery
may apply, creating the log pair, and laying down a new hive file atomically. The
protocol (which write and fsync comes when, and why) stays in :mod:`.flush`; these
functions only do the I/O they are asked for, through :mod:`.fileio`, in the order the
protocol documents.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import FormatError
from ..format.constants import (
    BASE,
    FILE_TYPE_LOG_NEW,
    FILE_TYPE_LOG_OLD,
    FILE_TYPE_LOG_OLD_NT,
    PAGE,
)
from . import lock
from .baseblock import FILE_TYPE, MAX_HBINS, SECTOR, SEQ1, check_log_base_block, get, not_older
from .fileio import FileHandle, FileOps
from .files import refuse_non_regular
from .logs import page_runs

#: Suffixes of the two logs the pager writes (dual-log scheme, fmt §6.1).
LOG_SUFFIXES = (".LOG1", ".LOG2")


@dataclass(frozen=True)
class LogPolicy:
    """How big a log file may grow before its run is reconciled (see "Log alternation"
    in :mod:`.flush`)."""

    #: Bytes of a log file after which its run is reconciled (and a longer file is cut
    #: back when a run starts in it).
    cap: int = 1 << 20


def sibling_path(hive: Path, suffix: str) -> Path:
    """The existing sibling ``hive`` + ``suffix`` in any letter case, else the canonical name."""
    want = (hive.name + suffix).casefold()
    try:
        names = sorted(os.listdir(hive.parent))
    except OSError:
        names = []
    matches = [n for n in names if n.casefold() == want]
    exact = hive.name + suffix
    if exact in matches or not matches:
        return hive.with_name(exact)
    return hive.with_name(matches[0])


def map_file(h: FileHandle, stack: contextlib.ExitStack) -> bytes | mmap.mmap:
    """The whole file behind ``h``, mapped read-only when it has a descriptor (closed by
    ``stack``); a handle without one is read, up to the largest size a hive can have."""
    size, fd = h.size(), h.fileno()
    if fd is None or size == 0:
        if size > BASE + MAX_HBINS:
            raise FormatError(f"{h.path}: {size} bytes is larger than any hive", BASE)
        return h.pread(size, 0)
    m = mmap.mmap(fd, size, access=mmap.ACCESS_READ)

    def close() -> None:
        with contextlib.suppress(BufferError):  # a view may outlive us: GC closes it
            m.close()

    stack.callback(close)
    return m


def neutralise_logs(ops: FileOps, hive: Path, log_paths: list[Path], seq: int) -> int:
    """Invariant 6 of :mod:`.flush` at open: empty logs no correct recovery may apply.

    Called with the primary clean on disk and ``seq`` its sequence number. A valid
    new-format log whose sequence is not older than the primary's comes from a run whose
    flush never committed (the process died between the log fsync and the dirty mark);
    left alone it could be applied after a later run in the other file. A valid
    old-format log is stale once the primary is clean, and Windows or a peer might prefer
    it over our runs. Returns the index (into ``log_paths``) of the file holding the
    newest run, or 1 when there is none: the next run goes to the other file.
    """
    newest: tuple[int, int] | None = None  # (sequence, index)
    candidates = [(i, lp) for i, lp in enumerate(log_paths)]
    single = sibling_path(hive, ".LOG")
    candidates.append((-1, single))
    for i, lp in candidates:
        if not ops.exists(lp):
            continue
        h = ops.open(lp)
        try:
            head = h.pread(SECTOR + 4, 0)
            if len(head) < SECTOR + 4 or check_log_base_block(head[:SECTOR]) is not None:
                continue  # not a usable log: nothing can apply it
            ftype, lseq = get(head, FILE_TYPE), get(head, SEQ1)
            stale_old = ftype in (FILE_TYPE_LOG_OLD, FILE_TYPE_LOG_OLD_NT)
            uncommitted = ftype == FILE_TYPE_LOG_NEW and not_older(lseq, seq)
            if stale_old or uncommitted:
                h.truncate(0)
                h.fsync()
            elif i >= 0 and (newest is None or not not_older(newest[0], lseq)):
                newest = (lseq, i)
        finally:
            h.close()
    return newest[1] if newest is not None else 1


def create_missing_logs(
    ops: FileOps, hive: Path, log_paths: list[Path], logs: list[FileHandle | None]
) -> None:
    """Create whichever of LOG1 and LOG2 is missing, empty, at the first writer open.

    Windows creates both files of the dual-log scheme when it loads a hive, even while
    one stays empty, and dual-log tools (yarp) refuse a dirty hive whose second log file
    is missing: so a hive left dirty by ``flush(reconcile=False)`` always has both. An
    empty log is never applied by anyone. Doing it at open also takes the folder fsync
    for a new file out of the first flush. The handles opened are stored in ``logs``;
    on failure every handle in ``logs`` is closed and the slots reset to None.
    """
    created = False
    try:
        for i, lp in enumerate(log_paths):
            if logs[i] is None and not ops.exists(lp):
                logs[i] = ops.open(lp, create=True)
                created = True
        if created:
            ops.fsync_dir(hive.parent)
    except BaseException:
        for h in logs:
            if h is not None:
                h.close()
        logs[:] = [None] * len(logs)
        raise


def lay_down(
    ops: FileOps, p: Path, image: bytearray, overwrite: bool
) -> tuple[FileHandle, lock.HiveLock, list[FileHandle | None]]:
    """Write ``image`` as the new hive file ``p`` atomically, with an empty log pair.

    The file is written beside ``p``, fsynced and renamed over it (then the folder is
    fsynced), so a crash leaves the old file (or none) or the complete new one. Sibling
    logs of a previous hive with that name are removed after the rename, and LOG1 and
    LOG2 are created empty. Returns the primary's handle, its writer lock and the two
    log handles. Raises FileExistsError unless ``overwrite``; LockedError when another
    writer has the existing file open.
    """
    old_lock: lock.HiveLock | None = None
    if ops.exists(p):
        if not overwrite:
            raise FileExistsError(f"{p} exists (pass overwrite=True to replace it)")
        old_lock = lock.acquire(p)  # refuse to replace a hive another writer has
    for suffix in LOG_SUFFIXES:
        refuse_non_regular(sibling_path(p, suffix))
    tmp = p.with_name(f".{p.name}.regf-new-{os.getpid()}")
    logs: list[FileHandle | None] = [None, None]
    handle = ops.open(tmp, create=True)
    try:
        hive_lock = lock.acquire(tmp, handle.fileno())
    except BaseException:
        handle.close()
        ops.unlink(tmp)
        if old_lock is not None:
            old_lock.release()
        raise
    renamed = False
    try:
        handle.truncate(0)
        handle.pwrite(image, 0)
        handle.fsync()
        ops.replace(tmp, p)
        renamed = True
        ops.fsync_dir(p.parent)
        # Only now: until the rename, the old hive (maybe dirty) may need its logs.
        # A crash before they are gone leaves a clean primary, which ignores them,
        # and the next writer open empties any that could ever apply (invariant 6).
        for suffix in (".LOG", *LOG_SUFFIXES):
            ops.unlink(sibling_path(p, suffix))
        # Both logs exist from the start, as Windows lays them out (see
        # create_missing_logs); one folder fsync makes the removals and creations durable.
        for i, suffix in enumerate(LOG_SUFFIXES):
            logs[i] = ops.open(p.with_name(p.name + suffix), create=True)
        ops.fsync_dir(p.parent)
    except BaseException:
        hive_lock.release()
        handle.close()
        for h in logs:
            if h is not None:
                h.close()
        if not renamed:
            with contextlib.suppress(OSError):
                ops.unlink(tmp)
        raise
    finally:
        if old_lock is not None:
            old_lock.release()
    handle.path = p
    hive_lock.retarget(p)
    return handle, hive_lock, logs


def write_back(primary: FileHandle, disk: bytes | mmap.mmap, image: bytearray, hbins: int) -> int:
    """Reconcile a recovered ``image`` into the still-dirty primary (whose bytes before
    recovery are ``disk``); return the primary's new size.

    The base block on disk stays dirty until every changed page is durable, so a crash
    here leaves a primary from which the same recovery runs again (the pages written
    so far are exactly what the logs put there anyway).
    """
    changed = [
        p
        for p in range(1, 1 + hbins // PAGE)
        if disk[p * PAGE : (p + 1) * PAGE] != image[p * PAGE : (p + 1) * PAGE]
    ]
    for first, count in page_runs(changed):
        primary.pwrite(memoryview(image)[first * PAGE : (first + count) * PAGE], first * PAGE)
    if primary.size() < BASE + hbins:
        primary.truncate(BASE + hbins)
    primary.fsync()
    primary.pwrite(memoryview(image)[:BASE], 0)
    primary.fsync()
    return max(len(disk), BASE + hbins)


__all__ = [
    "LOG_SUFFIXES",
    "LogPolicy",
    "create_missing_logs",
    "lay_down",
    "map_file",
    "neutralise_logs",
    "sibling_path",
    "write_back",
]
