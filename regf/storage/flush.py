"""The pager: crash-safe in-place writing of a hive through its LOG1/LOG2 transaction logs.

A :class:`Pager` is the only code that writes to an existing hive. It takes the hive's
writer lock, recovers a dirty hive the way Windows' loader does (and writes the recovered
state back), and then turns each flush of a whole-file image into a new-format (HvLE) log
entry followed, at once or later, by an in-place update of the primary file. At every
moment the files on disk, read by any log-aware reader (regf, yarp, Windows), hold either
the hive as of the last completed flush or as of the flush in progress, never a mixture.
The model (:mod:`regf.model`) edits the image; the pager only copies pages of it. The
file helpers it calls (log names, mapping, creating and emptying logs, laying down a new
file) are in :mod:`.fileset`, its counters in :mod:`.flushstats`, its states in
:mod:`.pagerstate`.

NOTES ON THE DESIGN OF THE PAGER
================================

Definitions
-----------

*Page*
    A 4 KiB unit of the primary file. Page 0 is the base block; page ``p >= 1`` is the
    hive-bins data at hive-bins offset ``(p - 1) * 4096`` (fmt §1, §2).

*Image*
    The caller's ``bytearray``: the whole hive file (base block + hive bins) as it should
    be. *Dirty pages* are the page numbers the caller changed since its last flush
    (:meth:`regf.cells.alloc.CellAllocator.take_dirty`). The pager owns these base-block
    fields of the image and of the files: Seq1 (0x04), Seq2 (0x08), file type (0x1C) and
    checksum (0x1FC). The last-written timestamp (0x0C) is left as the caller set it:
    Windows 8.1 and later no longer maintain it (fmt §1.1).

*Sequence* ``S``
    The pager's counter. The next log entry gets number ``S``; a clean primary holds
    Seq1 = Seq2 = ``S``. Arithmetic is modulo 2^32 (fmt §6.5 step 1).

*Entry*
    One HvLE record (fmt §6.3): all dirty pages of one flush, contiguous pages merged into
    one page reference, both Marvin32 hashes, the sequence number, the hive-bins size and
    flag bit 0; zero padding makes it end on a 4096-byte boundary of the log file, as
    Windows 10 does.

*Run*
    The entries of one log file, written back to back from offset 512 behind a 512-byte
    copy of the base block (file type 6, Seq1 = Seq2 = the first entry's number). A log
    file is *started* by writing that copy and the first entry at offset 0; it is
    *extended* by appending an entry right after the last one.

*Unreconciled*
    Logged in the current run but not yet written to the primary's pages. The primary is
    *dirty on disk* when its Seq1 != Seq2 (or its checksum is bad), *clean* otherwise.

*Reconcile*
    Copying the unreconciled pages into the primary (fmt §6.4 step 3): base block with
    Seq1 = ``S`` (Seq2 unchanged), pages, fsync, base block with Seq2 = Seq1 (the *clean
    mark*; fsynced by the next run's dirty mark or by :meth:`Pager.close`, see 5).

*Durable*
    Written and fsynced. A flush is *committed* when its entry is durable and the primary
    is durably dirty (log-only flush) or durably reconciled (full flush).

*Current log*
    The log file holding the current run. Only ``<hive>.LOG1`` and ``<hive>.LOG2`` are
    written; an old single-log ``<hive>.LOG`` is only read (and emptied, see 6).

Protocol of one flush
---------------------

1. Build the entry (sequence ``S``) from every dirty page of the image.
2. If the primary is clean, *start* the next log file: write the base-block copy and the
   entry at offset 0 (cutting the file to that length if it had grown past the cap);
   otherwise *extend* the current run. fsync the log. (Both log files already exist:
   the first writer open or :meth:`Pager.create` lays out LOG1 and LOG2, empty, and
   fsyncs their folder once, as Windows does; see
   :func:`.fileset.create_missing_logs`.)
3. ``S := S + 1``.
4. Full flush (default, or a log-only flush whose run passed the cap): reconcile. If the
   primary was clean, the base block with Seq1 = ``S`` is fsynced on its own before any
   page is written, because a device may otherwise persist pages before the dirty mark.
   The clean mark that ends the reconcile is written but not fsynced: see "Why three
   fsyncs" below.
5. Log-only flush (``reconcile=False``, Windows' lazy reconcile): if the primary is clean,
   write its base block with Seq1 = ``S``, Seq2 = the run's first number (this marks it
   dirty so that readers apply the run) and fsync. The pages stay in the log.

Commit point
------------

A flush is committed at one fsync, the **commit point**: the first moment at which
recovering the files yields the new image.

* Starting a run (the primary was clean): the fsync of the primary's *dirty mark* (its
  base block with Seq1 = ``S`` + 1, Seq2 = the run's first number), step 4 below (full
  flush) or step 5 (log-only flush). Before it the primary reads as clean, and a clean
  primary ignores every log (recovery rule R1), so the files hold the old image.
* Extending a run (the primary is already durably dirty): the fsync of the log entry
  (step 2), since recovery applies every valid entry of the run (rule R4).

Everything after the commit point only makes the new image readable without the log.

Crash windows
-------------

A full flush that starts a run does these I/O steps (a log-only flush stops after step
4; a flush that extends a run does steps 1, 2 and, when full, 5-8). "Recovery sees" is
what any log-aware reader (regf, Windows, yarp) finds on reopening after a crash (or
power cut) once the step before it has completed; "user gets" is the state reopening
yields and what the interrupted call did. Each row is exercised by
``tests/test_crash.py`` (a crash at every write and fsync, torn writes, lost unsynced
writes).

===  ===============================  ==========================================  ==================
k    step (crash after it)            recovery sees                               user gets
===  ===============================  ==========================================  ==================
0    (nothing done)                   clean primary, old pages                    old image
1    write base-block copy + entry    clean primary: logs ignored (R1); the next  old image; flush
     to LOG1/LOG2 at offset 0         writer open empties the uncommitted run     raised
2    fsync the log                    as k=1 (entry durable but not referenced)   old image; raised
3    write primary dirty mark         if the mark reached the disk: dirty, the    old or new image
     (Seq1 = S+1, Seq2 = run start)   run applies (R5); a torn mark has a bad     (never a mix);
                                      checksum: base block from the run's copy    raised
                                      (R6), run applies; else as k=2
4    fsync primary  **COMMIT POINT**  dirty primary, old pages, durable run:      new image; a log-
                                      recovery applies the run                    only flush returns
5    write the pages (and grow)       dirty primary, some pages new or torn: the  new image; raised
                                      run rewrites every one of them (R7)
6    fsync primary                    dirty primary, new pages                    new image; raised
7    write base block Seq2 = Seq1     clean new primary, or still dirty (run      new image; returns
     (the clean mark, not fsynced)    re-applied), or torn (R6, run re-applied)   (nothing more)
8    (later) the next run's dirty     as k=4 of that flush, or (close) a clean    new image
     mark fsync, or close()'s fsync   primary equal to the image
===  ===============================  ==========================================  ==================

Why three fsyncs. The disk's floor for a full flush is three ordered writes made
durable: the entry, the pages, the clean base block (measured by
``benchmarks/bench_flush.py``). A flush that starts a run needs one more barrier, step
4: without it a device may persist pages (step 5) before the dirty mark (step 3), and a
crash then leaves a primary that reads as *clean* with some new pages, which every
reader accepts without its log: a silent mixture. That barrier cannot be merged into
step 2 (a mark durable before its entry is a dirty primary no log can recover) nor into
step 6. The flush does not need the clean mark's own fsync: it committed at step 4, its
pages are durable at step 6, and until the mark is durable a crash leaves the primary
dirty for this run, which recovery applies again (its file is not restarted before
then, invariant 4). The next run's dirty mark overwrites the mark in place and its fsync
makes it durable; :meth:`Pager.close` fsyncs one no later run covered. So a full flush
that starts a run does three fsyncs, as the floor does, and one that extends a run two.

Log alternation policy
----------------------

A run is always started after a reconcile, in the other file than the last run (LOG1,
LOG2, LOG1, ...), so a run never spans two files and every run stands on its own: it
starts at the primary's Seq2, which is what regf, yarp, python-registry and Windows look
for. A run is reconciled as soon as its file passes ``LogPolicy.cap`` bytes (default
1 MiB), even by a log-only flush, and a file longer than the cap is cut back when a new
run starts in it. So each log file stays under ``cap`` plus one entry, and the only
log copy of unreconciled data is never overwritten (invariant 4). The pager keeps a copy
of the unreconciled pages in memory (at most the run's size), so reconciling never reads
the image, which may already hold newer, unlogged edits.

Invariants
----------

Each is named in a test ``tests/test_flush.py::test_invariant_<n>_...``.

1. No hive-bins page of the primary is written unless the primary is durably dirty and
   recovering the durable files already yields the bytes being written: for a flush, the
   entry carrying them is durable in the current run, whose first number is the
   primary's Seq2 (for the write-back at open, the logs that were recovered).
2. :meth:`Pager.flush` returns only when the flush is committed; recovering the files at
   that moment (regf, yarp, Windows) yields the image as flushed.
3. All unreconciled entries form one run in one log file: it starts at offset 512, its
   base-block copy has Seq1 = Seq2 = the primary's Seq2 = its first entry's number, its
   numbers are consecutive, and every entry ends on a 4096-byte boundary of the file.
4. A log file is started (offset 0 rewritten) only while the primary is clean, and never
   in the file of the last run: until the next dirty mark is durable, the durable primary
   may still be dirty for the last run (its clean mark is not fsynced, see 5), and
   recovering the durable files must not need the file being started. So the only log
   copy of unreconciled data is never overwritten.
5. Seq2 = Seq1 (the clean mark) is written to the primary only after every page of the
   reconcile is durable; from then on no log is needed to read the hive as written. The
   mark is made durable by the next fsync of the primary (the next run's dirty mark) or
   by :meth:`Pager.close`; until then a crash recovers the same image from the last
   run.
6. Apart from the current run's file, no log file holds a valid new-format base block
   whose sequence number is not older than the primary's Seq2, and no valid old-format
   log remains after a writer opened the hive (:meth:`Pager.open` empties such files once
   the primary is clean), so no reader can apply a run that was never committed.
7. The base-block copy of the current run equals the pager's base block in every field
   log entries do not carry (all but Seq1, Seq2, hive-bins size, flag bit 0, file type
   and checksum), so a primary base block torn by a crash is recovered from that copy
   (fmt §6.5 step 3) without losing, e.g., a new root cell.
8. After any failed I/O the pager does no further I/O; every later call except
   :meth:`Pager.close` raises :class:`~regf.errors.HiveStateError`, and the files hold
   the state before or after the failed flush (reopening recovers it).
9. Once a run has been started in it, a log file is never longer than ``LogPolicy.cap``
   plus one entry.
10. From open to close the pager holds the hive's exclusive writer lock (:mod:`.lock`);
    a second writer in this or another process gets :class:`~regf.errors.LockedError`.
11. Read-only opens (:func:`regf.open` in mode ``"r"``) never write, truncate or create
    a file: only a pager writes, and only through :mod:`.fileio`. A pager never opens a
    hive file that has no write permission bit, even when the process (root) could
    write it, and never writes when its open fails (``recover=False`` on a dirty hive,
    a file that is not a hive, an image the ``validate`` hook of :meth:`Pager.open`
    refuses: it runs on the in-memory image before the first write).

States
------

::

       open() / create()
              |
              v        flush(reconcile=False)
         +---------+ ---------------------------> +---------+ --+
         |  CLEAN  |                              | PENDING |   | flush(reconcile=False)
         +---------+ <--------------------------- +---------+ <-+
          |  ^     flush(), reconcile(), cap passed     |
          +--+ flush()                                  |
              \\                                        /
               +---- any I/O error ----> FAILED <-----+
     close() from any state ----> CLOSED

=============  ===================  ==========  ====================================
from           event                to          method
=============  ===================  ==========  ====================================
CLEAN          flush                CLEAN       :meth:`Pager.flush`
CLEAN          flush_log_only       PENDING     :meth:`Pager.flush` (reconcile=False)
PENDING        flush                CLEAN       :meth:`Pager.flush`
PENDING        flush_log_only       PENDING     :meth:`Pager.flush` (reconcile=False)
CLEAN/PENDING  reconcile            CLEAN       :meth:`Pager.reconcile`
CLEAN/PENDING  error                FAILED      any method, when I/O fails
any            close                CLOSED      :meth:`Pager.close`
=============  ===================  ==========  ====================================

(A log-only flush whose run passes the cap is a ``flush`` event.) What each state
guarantees:

CLEAN
    The primary is clean as written and its bytes equal the image as of the last flush
    (pager-owned fields included); its pages are durable. Its clean mark may not be
    durable yet: until the next run's dirty mark (or close) fsyncs it, a crash leaves it
    dirty for the last run, whose file stays intact. The next flush starts a new run in
    the other file.
PENDING
    The primary is durably dirty (Seq1 != Seq2); the current run holds every change since
    the last reconcile; recovering the files yields the image as of the last flush. The
    primary's pages are those of the last reconcile.
FAILED
    A write, fsync or truncate failed (or the process "crashed" in a test). The files hold
    the state before or after the failed flush; the in-memory state may not match them,
    so nothing more is written. Only :meth:`Pager.close` works; reopening recovers.
CLOSED
    The lock is released and the files are closed. Closing does not flush: unreconciled
    data stays in the log, where every log-aware reader finds it. It fsyncs a clean mark
    that is not durable yet, so a hive closed CLEAN is clean on disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from ..errors import (
    FormatError,
    HiveStateError,
    InvalidArgumentError,
    RecoveryError,
    SignatureError,
)
from ..format.constants import BASE, PAGE
from . import discover, lock, recovery
from .baseblock import (
    FLAGS,
    HBINS_SIZE,
    SECTOR,
    SEQ1,
    SEQ2,
    SEQ_MASK,
    check_primary_head,
    get,
    log_base_block,
    next_seq,
    seal,
    uncarried,
)
from .fileio import DEFAULT_OPS, FileHandle, FileOps
from .files import check_regular_file, refuse_non_regular
from .fileset import (
    LOG_SUFFIXES,
    LogPolicy,
    create_missing_logs,
    lay_down,
    map_file,
    neutralise_logs,
    sibling_path,
    write_back,
)
from .flushstats import FlushStats
from .logs import build_entry, page_runs
from .pagerstate import TRANSITIONS, PagerState


class _Reconcile(NamedTuple):
    """The writes of one reconcile, computed before the flush's first write."""

    mark: bytearray  # the base block marked dirty (Seq1 = S, Seq2 = run start)
    writes: list[tuple[int, bytes]]  # (file offset, bytes) per run of pages
    seal: bytes  # the clean base block written last
    hbins: int


class Pager:
    """Crash-safe writer of one hive file (see the module docstring for the protocol).

    Make one with :meth:`open` (existing hive) or :meth:`create` (new file). Thread-safe:
    calls are serialised by an internal lock (an autoflush thread may call :meth:`flush`).
    """

    def __init__(
        self,
        path: Path,
        ops: FileOps,
        primary: FileHandle,
        hive_lock: lock.HiveLock,
        bb: bytes,
        sequence: int,
        disk_size: int,
        policy: LogPolicy,
    ) -> None:
        self.path = path
        self.policy = policy
        self._ops = ops
        self._primary = primary
        self._lock = hive_lock
        self._mutex = threading.RLock()
        self._state = PagerState.CLEAN
        #: the base block as of the last flush, sealed as clean (Seq1 = Seq2 = sequence).
        self._bb = bytes(bb)
        self._seq = sequence & SEQ_MASK
        self._disk_size = disk_size
        self.log_paths = [sibling_path(path, s) for s in LOG_SUFFIXES]
        self._logs: list[FileHandle | None] = [None, None]
        #: size of each log file (-1 until first used), kept so a flush needs no fstat.
        self._log_size = [-1, -1]
        #: index of the file holding the current run (PENDING) / the last run.
        self._cur = 1
        #: next offset in the current run's file.
        self._log_end = 0
        #: first sequence number of the current run (the primary's Seq2 while PENDING).
        self._run_start = self._seq
        #: base-block copy of the current run (invariant 7).
        self._run_head = b""
        #: page -> bytes of every unreconciled page, as logged.
        self._pending: dict[int, bytes] = {}
        #: True while the primary is durably dirty (PENDING).
        self._primary_dirty = False
        #: True while the last reconcile's clean mark is written but not fsynced.
        self._seal_unsynced = False
        self.failure: BaseException | None = None

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        io: FileOps | None = None,
        log_policy: LogPolicy | None = None,
        recover: bool = True,
        validate: Callable[[bytearray], None] | None = None,
    ) -> tuple[Pager, bytearray, recovery.RecoveryReport | None]:
        """Open an existing hive for writing: lock, recover if dirty, reconcile.

        Returns the pager, the image (a ``bytearray`` of exactly 4096 + hive-bins bytes
        that the caller may edit in place) and the recovery report (None when the hive
        was clean). A dirty hive is recovered from its logs (:mod:`.recovery`) and the
        recovered state is written back to the primary before this returns, as Windows'
        loader does; a dirty hive whose logs cannot be applied raises
        :class:`~regf.errors.RecoveryError` without writing anything. Logs that could
        mislead a later recovery are emptied (invariant 6). Raises
        :class:`~regf.errors.LockedError` when another writer has the hive. With
        ``recover=False`` a dirty hive raises RecoveryError instead of being recovered.
        A file without any write permission bit raises PermissionError before anything
        is opened for writing, even for root (which the kernel would let write): a
        read-only hive, such as a shared evidence file, is never changed.

        ``validate`` (the model's whole-hive check: storage cannot import it) is called
        once with the image, read and recovered in memory, after the lock is taken and
        before the first write: an exception it raises propagates with the lock released
        and not a byte of the hive or its logs written (a dirty hive's recovery is not
        written back). It must not keep a reference to the image.
        """
        ops = io if io is not None else DEFAULT_OPS
        p = Path(path)
        # A directory, FIFO or device is refused before any open (issue 19 B).
        if not check_regular_file(p).st_mode & 0o222:
            raise PermissionError(errno.EACCES, "hive file is read-only", str(p))
        for suffix in LOG_SUFFIXES:
            refuse_non_regular(sibling_path(p, suffix))
        primary = ops.open(p)
        try:
            hive_lock = lock.acquire(p, primary.fileno())
        except BaseException:
            primary.close()
            raise
        try:
            pager, image, report = cls._load(
                p, ops, primary, hive_lock, log_policy or LogPolicy(), recover, validate
            )
        except BaseException:
            hive_lock.release()
            primary.close()
            raise
        return pager, image, report

    @classmethod
    def _load(
        cls,
        p: Path,
        ops: FileOps,
        primary: FileHandle,
        hive_lock: lock.HiveLock,
        policy: LogPolicy,
        recover: bool = True,
        validate: Callable[[bytearray], None] | None = None,
    ) -> tuple[Pager, bytearray, recovery.RecoveryReport | None]:
        # Only the base block is read first, then exactly what it declares: a hive
        # padded to gigabytes (or a sparse 10 GB file) costs its declared size, and an
        # absurd declared size is a typed error, never a huge read (issue 19 C).
        size = primary.size()
        head = primary.pread(BASE, 0)
        report: recovery.RecoveryReport | None = None
        if recovery.is_dirty(head[:SECTOR]) is not None:
            if not recover:
                raise RecoveryError(
                    f"{p}: hive is dirty; a writer must recover it first (recover=False)", 0
                )
            log_paths = discover.find_logs(p)
            if not log_paths:
                if bytes(head[:4]) != b"regf":
                    # Nothing could rebuild the base block: this is not a hive at all.
                    raise SignatureError(f"{p}: not a regf hive (bad signature)", 0)
                raise RecoveryError(f"{p}: hive is dirty and has no transaction log", 0)
            with contextlib.ExitStack() as maps:
                # Recovery reads only the valid entries and copies only the final size
                # of the primary: the files are mapped, not read.
                disk = map_file(primary, maps)
                pairs = []
                for lp in log_paths:
                    h = ops.open(lp)
                    maps.callback(h.close)
                    pairs.append((str(lp), map_file(h, maps)))
                image, report = recovery.recover(disk, pairs)
                del pairs
                hbins = check_primary_head(image, len(image))
                if validate is not None:
                    # Judged before the write-back: a refused hive stays as it was,
                    # still dirty, its logs untouched (the recovery lives only here).
                    validate(image)
                size = write_back(primary, disk, image, hbins)
                del disk
        else:
            hbins = check_primary_head(head, size)
            image = bytearray(primary.pread(BASE + hbins, 0))
            if len(image) != BASE + hbins:  # the file shrank under us
                raise FormatError(f"{p}: file ends before its hive bins", len(image))
            if validate is not None:
                validate(image)  # before neutralise_logs, the first write of a clean open
        seq = get(image, SEQ1)
        bb = bytes(seal(bytearray(image[:BASE]), seq, seq))
        image[:BASE] = bb
        pager = cls(p, ops, primary, hive_lock, bb, seq, size, policy)
        # Invariant 6: empty the logs no recovery may apply; alternate from the newest.
        pager._cur = neutralise_logs(ops, p, pager.log_paths, pager._seq)
        create_missing_logs(ops, p, pager.log_paths, pager._logs)
        return pager, image, report

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        image: bytearray,
        *,
        io: FileOps | None = None,
        log_policy: LogPolicy | None = None,
        overwrite: bool = False,
    ) -> Pager:
        """Write ``image`` as a new hive file at ``path`` and return a pager on it.

        The file is written beside ``path``, fsynced and renamed over it (then the folder
        is fsynced), so a crash leaves the old file (or none) or the complete new one.
        Sibling logs of a previous hive with that name are removed after the rename. The
        image's Seq1/Seq2 (the larger of the two, at least 1), file type and checksum are
        set in place. Raises FileExistsError unless ``overwrite``; LockedError when
        another writer has the existing file open.
        """
        ops = io if io is not None else DEFAULT_OPS
        p = Path(path)
        hbins = check_primary_head(image, len(image))
        if len(image) != BASE + hbins:
            raise InvalidArgumentError(f"image is {len(image)} bytes, expected {BASE + hbins}")
        seq = max(get(image, SEQ1), get(image, SEQ2), 1)
        seal(image, seq, seq)
        handle, hive_lock, logs = lay_down(ops, p, image, overwrite)
        pager = cls(
            p,
            ops,
            handle,
            hive_lock,
            bytes(image[:BASE]),
            seq,
            len(image),
            log_policy or LogPolicy(),
        )
        pager._logs = logs
        pager._cur = 1  # no run yet: the first run goes to LOG1
        return pager

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> PagerState:
        """The current :class:`PagerState`."""
        return self._state

    @property
    def failed(self) -> bool:
        """True once an I/O error has put the pager into the FAILED state."""
        return self._state is PagerState.FAILED

    @property
    def sequence(self) -> int:
        """The sequence number the next log entry will get (fmt §6.4)."""
        return self._seq

    @property
    def current_log(self) -> Path | None:
        """The log file holding the unreconciled run (PENDING), else None."""
        return self.log_paths[self._cur] if self._state is PagerState.PENDING else None

    def _check_live(self) -> None:
        if self._state is PagerState.FAILED:
            raise HiveStateError(
                f"{self.path}: an earlier flush failed ({self.failure!r}); close the hive "
                "and reopen it (reopening recovers the last committed state)"
            )
        if self._state is PagerState.CLOSED:
            raise HiveStateError(f"{self.path}: hive is closed")

    def _go(self, event: str) -> None:
        new = TRANSITIONS.get((self._state, event))
        if new is None:  # pragma: no cover - guarded by _check_live
            raise HiveStateError(f"cannot {event} in state {self._state.value}")
        self._state = new

    # -- I/O helpers (all counted) --------------------------------------------------------

    def _write(
        self,
        h: FileHandle,
        data: bytes | bytearray | memoryview,
        off: int,
        stats: FlushStats,
        *,
        log: bool,
    ) -> None:
        h.pwrite(data, off)
        stats.writes += 1
        if log:
            stats.log_bytes += len(data)
        else:
            stats.primary_bytes += len(data)

    def _fsync(self, h: FileHandle, stats: FlushStats) -> None:
        h.fsync()
        stats.fsyncs += 1
        if h is self._primary:
            self._seal_unsynced = False

    def _log_handle(self, i: int, stats: FlushStats) -> FileHandle:
        h = self._logs[i]
        if h is None:
            lp = self.log_paths[i]
            created = not self._ops.exists(lp)
            h = self._ops.open(lp, create=True)
            self._logs[i] = h
            if created:
                # The new directory entry must be durable before the run it holds counts.
                self._ops.fsync_dir(lp.parent)
                stats.fsyncs += 1
        if self._log_size[i] < 0:
            self._log_size[i] = h.size()
        return h

    # -- flushing ----------------------------------------------------------------------

    def flush(
        self, image: bytearray, dirty_pages: Iterable[int], *, reconcile: bool = True
    ) -> FlushStats:
        """Make the image durable: log its dirty pages, then (by default) reconcile.

        ``dirty_pages`` are page numbers (file offset // 4096; 0 = base block) changed
        since the last flush; the base block is also compared with the last flush's, so
        a base-block change is never missed. With ``reconcile=False`` the primary is only
        marked dirty and the pages stay in the current run (Windows' lazy reconcile).
        Sets Seq1, Seq2, file type and checksum in ``image``'s base block. Raises
        :class:`~regf.errors.HiveStateError` in the FAILED or CLOSED state; the first
        I/O error is re-raised as is and puts the pager in FAILED (invariant 8).
        """
        with self._mutex:
            self._check_live()
            hbins = check_primary_head(image, len(image))
            npages = 1 + hbins // PAGE
            pages = sorted({int(p) for p in dirty_pages if int(p) != 0})
            bad = [p for p in pages if not 0 < p < npages]
            if bad:
                raise InvalidArgumentError(
                    f"dirty page {bad[0]} is outside the hive bins (pages 1..{npages - 1})"
                )
            head = bytearray(image[:BASE])
            stats = FlushStats()
            # (A base-block change is looked for only when no page is dirty: with dirty
            # pages the flush logs the new base block anyway.)
            if not pages and bytes(seal(bytearray(head), self._seq, self._seq)) == self._bb:
                if reconcile and self._state is PagerState.PENDING:
                    self._guarded(self._reconcile, stats)
                return stats
            if not pages:
                # An entry needs at least one page (fmt §6.3); a base-block-only change
                # (e.g. a new root cell) is carried by the first bin page and the copy.
                pages = [1]
            self._guarded(self._flush, image, head, pages, hbins, reconcile, stats)
            return stats

    def _guarded(self, fn: Callable[..., None], *args: object) -> None:
        """Run an I/O step; any exception moves the pager to FAILED (invariant 8)."""
        try:
            fn(*args)
        except BaseException as exc:
            self.failure = exc
            self._go("error")
            raise

    def _flush(
        self,
        image: bytearray,
        head: bytearray,
        pages: list[int],
        hbins: int,
        reconcile: bool,
        stats: FlushStats,
    ) -> None:
        if self._primary_dirty and uncarried(head) != uncarried(self._run_head):
            # The run's base-block copy would no longer match (invariant 7): finish the
            # run, so that the new base block gets a run (and a copy) of its own.
            self._reconcile(stats)
        # Every byte this flush writes is computed before its first write: between two
        # fsyncs only I/O is issued. CPU work just after an fsync returns runs on cold
        # caches and costs about twice as much, and a full flush has three fsyncs.
        seq = self._seq
        nseq = next_seq(seq)
        snapshot = {p: bytes(image[p * PAGE : (p + 1) * PAGE]) for p in pages}
        runs = page_runs(pages)
        flags = get(head, FLAGS)
        start = not self._primary_dirty
        if start:
            i, off, run_start = 1 - self._cur, 0, seq  # alternate LOG1 <-> LOG2
            entry = build_entry(snapshot, seq, hbins, flags, SECTOR, runs)
            run_head = log_base_block(head, seq)
            data = run_head + entry
        else:
            i, off, run_start = self._cur, self._log_end, self._run_start
            entry = build_entry(snapshot, seq, hbins, flags, off, runs)
            run_head, data = self._run_head, entry
        end = off + len(data)
        bb = bytes(seal(head, nseq, nseq))
        full = reconcile or end > self.policy.cap
        plan: _Reconcile | None = None
        mark: bytearray | None = None
        if full:
            pending = {**self._pending, **snapshot} if self._pending else snapshot
            plan = self._plan(bb, nseq, run_start, pending)
        elif start:
            mark = seal(bytearray(bb), nseq, run_start)
        h = self._log_handle(i, stats)
        self._write(h, data, off, stats, log=True)
        size = self._log_size[i] = max(self._log_size[i], end)
        if start and size > max(self.policy.cap, end):
            h.truncate(end)  # bound the file (invariant 9); the tail is stale
            self._log_size[i] = end
        self._fsync(h, stats)
        # The entry is durable: the new state exists on disk (in the log).
        self._cur, self._log_end = i, end
        self._run_start, self._run_head = run_start, run_head
        stats.started_log = start
        stats.sequence, stats.pages, stats.references = seq, len(pages), len(runs)
        stats.log = self.log_paths[i]
        stats.log_offset, stats.entry_size = end - len(entry), len(entry)
        self._seq = nseq
        self._pending.update(snapshot)
        self._bb = bb
        image[:SECTOR] = bb[:SECTOR]
        if plan is not None:
            self._reconcile_io(plan, stats)
            self._go("flush")
            return
        if mark is not None:
            # Mark the primary dirty so that readers apply the run (fmt §6.4).
            self._write(self._primary, mark, 0, stats, log=False)
            self._fsync(self._primary, stats)
            self._primary_dirty = True
        self._go("flush_log_only")

    def reconcile(self) -> FlushStats:
        """Write the unreconciled pages into the primary (no-op when CLEAN)."""
        with self._mutex:
            self._check_live()
            stats = FlushStats()
            if self._state is PagerState.PENDING:
                self._guarded(self._reconcile, stats)
            self._go("reconcile")
            return stats

    def _reconcile(self, stats: FlushStats) -> None:
        """fmt §6.4 step 3 from the in-memory copy of the run's pages (invariants 1, 5)."""
        if not self._pending and not self._primary_dirty:
            return
        self._reconcile_io(self._plan(self._bb, self._seq, self._run_start, self._pending), stats)

    def _plan(self, bb: bytes, seq: int, run_start: int, pending: dict[int, bytes]) -> _Reconcile:
        """The writes of a reconcile of ``pending`` towards base block ``bb``."""
        writes = [
            (first * PAGE, b"".join(pending[p] for p in range(first, first + count)))
            for first, count in page_runs(pending)
        ]
        return _Reconcile(seal(bytearray(bb), seq, run_start), writes, bb, get(bb, HBINS_SIZE))

    def _reconcile_io(self, plan: _Reconcile, stats: FlushStats) -> None:
        primary = self._primary
        self._write(primary, plan.mark, 0, stats, log=False)
        if not self._primary_dirty:
            # Barrier: the dirty mark must be durable before the first page can be.
            self._fsync(primary, stats)
            self._primary_dirty = True
        size = self._disk_size
        for off, data in plan.writes:
            self._write(primary, data, off, stats, log=False)
            size = max(size, off + len(data))
        if size < BASE + plan.hbins:
            primary.truncate(BASE + plan.hbins)  # grow to the bins (fmt §6.4)
            stats.writes += 1
            size = BASE + plan.hbins
        self._disk_size = size
        self._fsync(primary, stats)
        # The clean mark is not fsynced here (invariant 5): the flush committed long
        # ago, and until the mark is durable a crash leaves the primary dirty for this
        # run, whose file the next run does not touch (invariant 4). The next run's
        # dirty mark, or close(), makes it durable in the same fsync.
        self._write(primary, memoryview(plan.seal)[:SECTOR], 0, stats, log=False)
        self._seal_unsynced = True
        self._pending.clear()
        self._primary_dirty = False
        stats.reconciled = True

    # -- closing -----------------------------------------------------------------------

    def close(self) -> None:
        """Make the last clean mark durable, release the lock, close the files. Does not
        flush (unreconciled data is safe in the run). Idempotent; the only call allowed
        after a failure (then no I/O). An fsync error is raised once all is closed."""
        with self._mutex:
            if self._state is PagerState.CLOSED:
                return
            error: OSError | None = None
            if self._seal_unsynced and self._state is not PagerState.FAILED:
                try:
                    self._fsync(self._primary, FlushStats())
                except OSError as exc:
                    error = exc
            self._go("close")
            try:
                self._lock.release()
            finally:
                for h in self._logs:
                    if h is not None:
                        h.close()
                self._logs = [None, None]
                self._primary.close()
            if error is not None:
                raise error

    def __enter__(self) -> Pager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Pager {self.path} {self._state.value} seq={self._seq}>"


__all__ = [
    "LOG_SUFFIXES",
    "TRANSITIONS",
    "FlushStats",
    "LogPolicy",
    "Pager",
    "PagerState",
    "build_entry",
    "check_primary_head",
    "log_base_block",
    "page_runs",
    "sibling_path",
]
