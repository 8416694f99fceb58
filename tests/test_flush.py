"""The pager (regf/storage/flush.py): invariants, states, log layout, interop with peers.

Each numbered invariant of the module docstring has a ``test_invariant_<n>_...`` here.
Invariants 1, 4 and 5 are checked *during* flushes by :class:`CheckingOps`, a FileOps
double that keeps the durable (last fsynced) content of every file and asserts the
invariant at each write. The log layout is checked byte by byte against an independent
Marvin32 and checksum written in this file from fmt §1.2 and §7.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import random
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from crashio import CrashOps, FailingOps, SimulatedCrash, mutate

import regf
from regf.cells.alloc import CellAllocator
from regf.errors import HiveStateError, LockedError
from regf.model.check import check_hive
from regf.storage import fileio, recovery
from regf.storage.fileio import FileHandle, OSFileOps
from regf.storage.flush import TRANSITIONS, LogPolicy, Pager, PagerState
from regf.storage.logs import parse_log

BASE = 4096
PAGE = 4096
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample.hiv"
SEED = 0x82EF4D887A4E55C5
M32 = 0xFFFFFFFF


# -- independent reference implementations (fmt §1.2, §7) ------------------------------


def ref_marvin32(data: bytes, seed: int = SEED) -> int:
    s0, s1 = seed & M32, seed >> 32

    def rotl(x: int, n: int) -> int:
        return ((x << n) | (x >> (32 - n))) & M32

    def mix(s0: int, s1: int) -> tuple[int, int]:
        s1 ^= s0
        s0 = (rotl(s0, 20) + s1) & M32
        s1 = rotl(s1, 9) ^ s0
        s0 = (rotl(s0, 27) + s1) & M32
        s1 = rotl(s1, 19)
        return s0, s1

    n = len(data) // 4 * 4
    for (w,) in struct.iter_unpack("<I", data[:n]):
        s0 = (s0 + w) & M32
        s0, s1 = mix(s0, s1)
    tail = data[n:]
    t = 0x80 << (8 * len(tail))
    for i, b in enumerate(tail):
        t |= b << (8 * i)
    s0 = (s0 + (t & M32)) & M32
    s0, s1 = mix(s0, s1)
    s0, s1 = mix(s0, s1)
    return (s1 << 32) | s0


def ref_checksum(block: bytes) -> int:
    c = 0
    for (w,) in struct.iter_unpack("<I", block[:508]):
        c ^= w
    return 0xFFFFFFFE if c == M32 else 1 if c == 0 else c


def test_reference_marvin32_vectors() -> None:
    """The test's own Marvin32 reproduces the published vectors (fmt §7)."""
    assert ref_marvin32(b"abc", 0xD53CD9CECD0893B7) == 0x22C74339492769BF
    assert ref_marvin32(b"", 0x004FB61A001BDBCC) == 0x30ED35C100CD3C7D
    assert ref_marvin32(bytes.fromhex("0932e6246c47"), 0x004FB61A001BDBCC) == 0x6F04BF1A5EA24060
    assert ref_marvin32(b"") == 0xB39EFCA403966E08
    assert ref_marvin32(bytes(32)) == 0xDA91A06AC5359223
    head = bytes.fromhex("48764c45005e00000000000002000000005000000100000031e40718666c8667")
    assert ref_marvin32(head) == 0xCD44F3CFA7657F02
    assert ref_checksum(b"regf" + bytes(508)) == 0x66676572


# -- helpers ---------------------------------------------------------------------------


def u32(buf: bytes | bytearray, off: int) -> int:
    return int.from_bytes(buf[off : off + 4], "little")


def bins(buf: bytes | bytearray) -> bytes:
    return bytes(buf[BASE : BASE + u32(buf, 0x28)])


def copy_sample(folder: Path, name: str = "s.hiv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLE, folder / name)
    return folder / name


def recovered(hive: Path) -> bytes:
    """Hive bins as regf.open reads them (recovering in memory), after a tiling check."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = regf.open(hive)
    try:
        assert not check_hive(h)
        return bins(h.buf)
    finally:
        h.close()


def vk(hive_image: bytes | bytearray, key: str, name: str) -> int:
    with regf.open(bytes(hive_image)) as h:
        for v in h.open_key(key).values():
            if v.name == name:
                return int(v.index)
    raise KeyError(name)


def set_dword(a: CellAllocator, vk_index: int, value: int) -> None:
    """Inline REG_DWORD: the data sits in the vk's data field (payload +8, fmt §4.3)."""
    a.write(vk_index, 8, struct.pack("<I", value))


def set_string(a: CellAllocator, vk_index: int, text: str) -> None:
    """Point a REG_SZ vk at a new data cell holding ``text`` and free the old one."""
    old_size, old_data = struct.unpack_from("<II", a.read(vk_index), 4)
    raw = (text + "\0").encode("utf-16-le")
    cell = a.alloc(len(raw))
    a.write(cell, 0, raw)
    a.write(vk_index, 4, struct.pack("<II", len(raw), cell))
    if not old_size & 0x80000000:
        a.free(old_data)


def value_of(path: Path | bytes, key: str, name: str) -> Any:
    with regf.open(path) as h:
        return h.open_key(key).value(name).data


class CheckingOps(OSFileOps):
    """Real I/O that asserts invariants 1, 4 and 5 at every write (see module doc)."""

    def __init__(self, hive: Path) -> None:
        self.hive = hive.resolve()
        self.synced: dict[Path, bytes] = {}
        self.page_writes = 0
        self.starts = 0
        self.dirty_starts = 0
        self.clean_marks = 0

    def content(self, p: Path) -> bytes:
        return p.read_bytes() if p.exists() else b""

    def durable(self, p: Path) -> bytes:
        p = p.resolve()
        if p not in self.synced:
            self.synced[p] = self.content(p)
        return self.synced[p]

    def durable_logs(self, leave_out: Path | None = None) -> list[tuple[str, bytes]]:
        """(name, durable content) of each log file, for recovery.recover."""
        return [(str(q), self.durable(q)) for q in self.logs() if q.resolve() != leave_out]

    def recover_durable(self, leave_out: Path | None = None) -> bytearray:
        """What recovering the durable files gives (without ``leave_out``'s log)."""
        image, _ = recovery.recover(self.durable(self.hive), self.durable_logs(leave_out))
        return image

    def logs(self) -> list[Path]:
        return sorted(
            q
            for q in self.hive.parent.iterdir()
            if q.name.casefold().startswith(self.hive.name.casefold() + ".log")
        )

    def open(self, path: Path, *, create: bool = False) -> FileHandle:
        for q in [self.hive, *self.logs(), Path(path)]:
            self.durable(q)  # content before the first write counts as durable
        return _CheckingFile(super().open(path, create=create), self)

    def before_write(self, p: Path, data: bytes, off: int) -> None:
        p = p.resolve()
        if p == self.hive and off >= BASE:
            self.page_writes += 1
            head = self.durable(self.hive)[:512]
            # Invariant 1: the primary is durably dirty before a page is written ...
            assert recovery.is_dirty(head) is not None, "page write into a clean primary"
            # ... and the durable logs already hold these bytes: recovering the durable
            # files gives exactly the data being written.
            image = self.recover_durable()
            assert bytes(image[off : off + len(data)]) == bytes(data), "page not in a log"
        elif p == self.hive and off == 0:
            new_head = bytes(data[:512])
            if recovery.is_dirty(new_head) is None:
                # Invariant 5: marking the primary clean only once its pages are durable.
                self.clean_marks += 1
                assert self.content(self.hive)[BASE:] == self.durable(self.hive)[BASE:], (
                    "clean mark written while page writes are not yet durable"
                )
        elif p != self.hive and off == 0:
            # Invariant 4: a log file is started only while the primary is clean, and
            # never the file that the durable primary may still need: recovering the
            # durable files gives the same image with that file or without it.
            self.starts += 1
            assert recovery.is_dirty(self.content(self.hive)[:512]) is None
            if recovery.is_dirty(self.durable(self.hive)[:512]) is not None:
                assert self.recover_durable() == self.recover_durable(leave_out=p), (
                    "started the log file a dirty primary needs"
                )
                self.dirty_starts += 1

    def synced_now(self, p: Path) -> None:
        self.synced[p.resolve()] = self.content(p)


class _CheckingFile:
    def __init__(self, inner: FileHandle, ops: CheckingOps) -> None:
        self._inner, self._ops, self.path = inner, ops, inner.path

    def pread(self, size: int, offset: int) -> bytes:
        return self._inner.pread(size, offset)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        self._ops.before_write(self.path, bytes(data), offset)
        self._inner.pwrite(data, offset)

    def fsync(self) -> None:
        self._inner.fsync()
        self._ops.synced_now(self.path)

    def truncate(self, size: int) -> None:
        self._inner.truncate(size)

    def size(self) -> int:
        return self._inner.size()

    def fileno(self) -> int | None:
        return self._inner.fileno()

    def close(self) -> None:
        self._inner.close()


def workload(pager: Pager, image: bytearray, rng: random.Random, n: int, **kw: Any) -> None:
    ours: list[int] = []
    for _ in range(n):
        pager.flush(image, mutate(image, rng, ours), reconcile=rng.random() < 0.5, **kw)


# -- invariants ------------------------------------------------------------------------


def test_invariant_1_log_before_primary(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    ops = CheckingOps(hive)
    pager, image, _ = Pager.open(hive, io=ops)
    workload(pager, image, random.Random(1), 30)
    pager.close()
    assert ops.page_writes > 10 and ops.starts > 5 and ops.clean_marks > 5


def test_invariant_1_holds_for_the_write_back_at_open(tmp_path: Path, corpus: Path) -> None:
    """Windows' own dirty hive (two real logs): the open's write-back follows the logs."""
    src = corpus / "msuhanov__yarp/hives_for_tests/NewDirtyHive1"
    for n in ("NewDirtyHive", "NewDirtyHive.LOG1", "NewDirtyHive.LOG2"):
        shutil.copyfile(src / n, tmp_path / n)
    hive = tmp_path / "NewDirtyHive"
    want = recovered(hive)
    ops = CheckingOps(hive)
    pager, image, report = Pager.open(hive, io=ops)
    pager.close()
    assert report is not None and report.applied and ops.page_writes > 0
    assert bins(image) == want
    # The primary alone is now clean and complete.
    for q in tmp_path.glob("NewDirtyHive.*"):
        q.unlink()
    assert recovered(hive) == want


def test_invariant_2_flush_returns_committed(tmp_path: Path) -> None:
    """After every flush, a copy of the files recovers to exactly the flushed image, and
    so do the durable files alone (a power cut then: the clean mark of a full flush is
    not fsynced, and the run it ends must still recover the flush)."""
    hive = copy_sample(tmp_path / "w")
    ops = CheckingOps(hive)
    pager, image, _ = Pager.open(hive, io=ops)
    rng = random.Random(2)
    ours: list[int] = []
    unsynced_marks = 0
    for i in range(25):
        pager.flush(image, mutate(image, rng, ours), reconcile=rng.random() < 0.5)
        if recovery.is_dirty(ops.durable(hive)[:512]) is not None:
            unsynced_marks += pager.state is PagerState.CLEAN
        assert bins(ops.recover_durable()) == bins(image)
        snap = tmp_path / f"snap{i}"
        shutil.copytree(hive.parent, snap)
        assert recovered(snap / hive.name) == bins(image)
        if pager.state is PagerState.PENDING:
            # The data is in the log only: the primary alone is the older state.
            h = regf.open(snap / hive.name, recover=False, strict=False)
            assert h.dirty
            h.close()
        shutil.rmtree(snap)
    pager.flush(image, mutate(image, rng, ours))  # end CLEAN, its clean mark unsynced
    assert recovery.is_dirty(ops.durable(hive)[:512]) is not None
    pager.close()
    assert unsynced_marks >= 5
    # close() made the last clean mark durable.
    assert recovery.is_dirty(ops.durable(hive)[:512]) is None


def test_invariant_3_one_run_in_one_file(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    rng = random.Random(3)
    ours: list[int] = []
    pager.flush(image, mutate(image, rng, ours))  # a full flush: LOG1 holds entry 1
    first = pager.sequence
    for _ in range(6):
        stats = pager.flush(image, mutate(image, rng, ours), reconcile=False)
        assert stats.log == pager.current_log
    head = hive.read_bytes()[:512]
    seq1, seq2 = u32(head, 4), u32(head, 8)
    assert seq1 != seq2 and seq2 == first
    run = parse_log("run", pager.current_log.read_bytes())  # type: ignore[union-attr]
    assert run.valid and run.seq == seq2 == run.entries[0].sequence
    assert [e.sequence for e in run.entries] == list(range(first, first + 6))
    assert run.entries[0].offset == 512
    assert all((e.offset + e.size) % 4096 == 0 for e in run.entries)
    # The other file holds the older, reconciled run: its sequence is older than Seq2.
    other = next(p for p in pager.log_paths if p != pager.current_log)
    assert parse_log("other", other.read_bytes()).seq < seq2
    pager.close()


def test_invariant_4_logs_started_only_when_clean(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    ops = CheckingOps(hive)
    pager, image, _ = Pager.open(hive, io=ops, log_policy=LogPolicy(cap=32 * 1024))
    rng = random.Random(4)
    ours: list[int] = []
    for _ in range(40):  # mostly log-only: runs end by the cap or a full flush
        pager.flush(image, mutate(image, rng, ours), reconcile=rng.random() < 0.15)
    pager.close()
    assert ops.starts >= 5
    # Runs started while the last clean mark was not yet durable (checked above).
    assert ops.dirty_starts >= 1


def test_invariant_5_clean_only_after_pages_durable(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    ops = CheckingOps(hive)
    pager, image, _ = Pager.open(hive, io=ops)
    workload(pager, image, random.Random(5), 20)
    pager.reconcile()
    pager.close()
    assert ops.clean_marks > 5
    # From a clean primary no log is needed.
    want = bins(image)
    for p in pager.log_paths:
        p.unlink()
    assert recovered(hive) == want and hive.read_bytes()[: len(image)] == bytes(image)


def _discarded_run(tmp_path: Path) -> tuple[Path, bytes]:
    """A flush that died between its log fsync and the dirty mark: its run is valid but
    never committed. Returns the hive and its (unchanged) bins."""
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    rng = random.Random(6)
    pager.flush(image, mutate(image, rng, []))  # LOG1 used, primary clean at S
    pager.close()
    before = bins(image)
    counter = CrashOps()
    pager, image, _ = Pager.open(hive, io=counter)
    pager.flush(image, mutate(image, rng, []), reconcile=False)
    pager.close()
    # Find the dirty-mark write (first primary write) and crash there, from the start.
    k = next(
        i for i, (op, name, _) in enumerate(counter.log) if op == "pwrite" and name == hive.name
    )
    shutil.rmtree(tmp_path)
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    rng = random.Random(6)
    pager.flush(image, mutate(image, rng, []))
    pager.close()
    pager, image, _ = Pager.open(hive, io=CrashOps(k))
    with pytest.raises(SimulatedCrash):
        pager.flush(image, mutate(image, rng, []), reconcile=False)
    pager.close()
    return hive, before


def test_invariant_6_uncommitted_run_is_emptied_at_open(tmp_path: Path) -> None:
    hive, before = _discarded_run(tmp_path)
    log2 = hive.with_name(hive.name + ".LOG2")
    stale = parse_log("LOG2", log2.read_bytes())
    primary_seq = u32(hive.read_bytes(), 8)
    assert stale.valid and stale.seq == primary_seq  # the hazard exists on disk
    assert recovered(hive) == before  # (ignored while the primary is clean)
    pager, image, _ = Pager.open(hive)
    assert log2.stat().st_size == 0  # invariant 6: emptied
    # A new log-only flush with different content must be what a reader recovers,
    # not the stale run (without invariant 6 both runs would start at Seq2).
    pager.flush(image, mutate(image, random.Random(99), []), reconcile=False)
    assert recovered(hive) == bins(image)
    for p in pager.log_paths:
        lf = parse_log(p.name, p.read_bytes()) if p.exists() and p.stat().st_size else None
        if lf is not None and lf.valid and p != pager.current_log:
            assert (lf.seq - u32(hive.read_bytes(), 8)) & M32 >= 0x80000000  # older
    pager.close()


def test_invariant_6_old_format_logs_emptied(tmp_path: Path, corpus: Path) -> None:
    """A Windows 7 dirty hive with DIRT logs: after the writer's open they are gone."""
    src = corpus / "msuhanov__yarp/hives_for_tests/OldDirtyHive"
    names = [p.name for p in src.iterdir() if p.name.startswith("OldDirtyHive")]
    for n in names:
        shutil.copyfile(src / n, tmp_path / n)
    hive = tmp_path / "OldDirtyHive"
    want = recovered(hive)
    pager, image, report = Pager.open(hive)
    assert report is not None and report.applied and bins(image) == want
    for n in names:
        if n != "OldDirtyHive":
            assert (tmp_path / n).stat().st_size == 0, n
    pager.flush(image, mutate(image, random.Random(7), []), reconcile=False)
    assert recovered(hive) == bins(image)
    pager.close()


def _new_root(image: bytearray, a: CellAllocator) -> int:
    """Copy the root nk into a new cell and make it the root (a base-block-only change
    as far as the log entries are concerned)."""
    old = u32(image, 0x24)
    data = a.read(old)
    new = a.alloc(len(data))
    a.write(new, 0, data)
    image[0x24:0x28] = new.to_bytes(4, "little")
    return new


def test_invariant_7_base_copy_matches(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    a = CellAllocator(image)
    a.alloc(10)
    pager.flush(image, a.take_dirty(), reconcile=False)  # a run is pending
    run_log = pager.current_log
    new_root = _new_root(image, a)
    stats = pager.flush(image, a.take_dirty(), reconcile=False)
    # The pending run was reconciled and a new run (with a fresh copy) started.
    assert stats.started_log and stats.log != run_log
    copy = stats.log.read_bytes()[:512]  # type: ignore[union-attr]
    assert u32(copy, 0x24) == new_root
    # A crash that wipes the primary base block: recovery takes the copy's fields.
    data = bytearray(hive.read_bytes())
    data[:BASE] = bytes(BASE)
    hive.write_bytes(data)
    with regf.open(hive) as h:
        assert h.base_block.root_cell == new_root
        assert bins(h.buf) == bins(image)
        assert [k.name for k in h.root.subkeys()] == ["Software"]
    pager.close()


@pytest.mark.parametrize("reconcile", [True, False])
def test_invariant_8_error_state(tmp_path: Path, reconcile: bool) -> None:
    """An I/O error at any operation: FAILED, HiveStateError afterwards, before/after on
    disk, and reopening recovers."""
    hive = copy_sample(tmp_path / "a")
    rng = random.Random(8)
    pager, image, _ = Pager.open(hive)
    pager.flush(image, mutate(image, rng, []), reconcile=False)  # start PENDING
    pager.close()
    base = {p.name: p.read_bytes() for p in hive.parent.iterdir()}
    before = bins(image)
    edit = rng.randrange(1 << 30)
    after_img = bytearray(image)
    mutate(after_img, random.Random(edit), [])
    after = bins(after_img)
    k = 0
    while True:
        for p in hive.parent.iterdir():
            p.unlink()
        for n, d in base.items():
            (hive.parent / n).write_bytes(d)
        pager, image, _ = Pager.open(hive)
        failing = FailingOps(k, OSError(28, "No space left on device"))
        pager._ops = failing  # the I/O seam from here on (open itself already done)
        for i, h in enumerate(pager._logs):
            if h is not None:
                pager._logs[i] = None
        pager._primary = failing.open(hive)  # type: ignore[assignment]
        try:
            pager.flush(image, mutate(image, random.Random(edit), []), reconcile=reconcile)
        except OSError as exc:
            assert exc.errno == 28
            assert pager.failed and pager.state is PagerState.FAILED
            with pytest.raises(HiveStateError, match="earlier flush failed"):
                pager.flush(image, {1})
            with pytest.raises(HiveStateError):
                pager.reconcile()
            pager.close()
            assert recovered(hive) in (before, after), f"I/O error at op {k}"
            pager2, image2, _ = Pager.open(hive)
            assert bins(image2) in (before, after)
            pager2.close()
            k += 1
            continue
        try:
            pager.close()  # fsyncs the last clean mark (a full flush leaves it unsynced)
        except OSError as exc:
            assert exc.errno == 28 and reconcile and pager.state is PagerState.CLOSED
            assert recovered(hive) == after, "the run no longer recovers the flush"
            k += 1
            continue
        assert recovered(hive) == after
        break
    assert k >= 4


def test_invariant_9_logs_bounded_and_alternating(tmp_path: Path) -> None:
    cap = 48 * 1024
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive, log_policy=LogPolicy(cap=cap))
    rng = random.Random(9)
    ours: list[int] = []
    used: list[str] = []
    biggest = 0
    for _ in range(150):
        stats = pager.flush(image, mutate(image, rng, ours), reconcile=rng.random() < 0.1)
        biggest = max(biggest, stats.entry_size)
        if stats.started_log:
            used.append(stats.log.name)  # type: ignore[union-attr]
        for p in pager.log_paths:
            if p.exists():
                assert p.stat().st_size <= cap + biggest
    assert recovered(hive) == bins(image)
    pager.close()
    # Runs alternate strictly between the two files.
    assert len(used) > 10
    assert all(a != b for a, b in itertools.pairwise(used))
    assert set(used) == {hive.name + ".LOG1", hive.name + ".LOG2"}


def test_invariant_9_oversized_log_is_cut_back(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    big = hive.with_name(hive.name + ".LOG1")
    big.write_bytes(b"\x5a" * (3 << 20))  # junk from somewhere, 3 MiB
    pager, image, _ = Pager.open(hive, log_policy=LogPolicy(cap=64 * 1024))
    stats = pager.flush(image, mutate(image, random.Random(10), []))
    assert stats.log == big and big.stat().st_size == 512 + stats.entry_size
    pager.close()


_LOCKER = r"""
import sys
from regf.errors import LockedError
from regf.storage.flush import Pager
try:
    p, _, _ = Pager.open(sys.argv[1])
except LockedError as e:
    print("locked:", e)
    sys.exit(3)
p.close()
print("opened")
"""


def test_invariant_10_one_writer(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    with pytest.raises(LockedError, match="already open for writing in this process"):
        Pager.open(hive)
    # Another spelling of the same file (a hard link) is the same hive.
    link = tmp_path / "link.hiv"
    os.link(hive, link)
    with pytest.raises(LockedError):
        Pager.open(link)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [sys.executable, "-c", _LOCKER, str(hive)], capture_output=True, text=True, env=env
    )
    assert r.returncode == 3 and "locked by another process" in r.stdout
    with pytest.raises(LockedError):
        Pager.create(hive, bytearray(image), overwrite=True)
    # Readers are not blocked.
    assert recovered(hive) == bins(image)
    pager.close()
    r = subprocess.run(
        [sys.executable, "-c", _LOCKER, str(hive)], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stdout + r.stderr
    Pager.open(hive)[0].close()


def test_invariant_11_read_only_open_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """regf.open of a dirty hive (pending run) and of a Windows dirty hive: no write,
    truncate, create or rename, checked through the seam, os, and the files themselves."""
    hive = copy_sample(tmp_path / "own")
    pager, image, _ = Pager.open(hive)
    pager.flush(image, mutate(image, random.Random(11), []), reconcile=False)
    pager.close()
    folders = [hive.parent]
    src = ROOT / "fixtures"
    del src
    corpus_env = os.environ.get("REGF_CORPUS")
    if corpus_env:
        win = Path(corpus_env) / "msuhanov__yarp/hives_for_tests/NewDirtyHive1"
        if win.is_dir():
            shutil.copytree(win, tmp_path / "win")
            folders.append(tmp_path / "win")

    def forbidden(*a: object, **k: object) -> None:
        raise AssertionError(f"read-only open wrote: {a!r}")

    for name in (
        "pwrite",
        "write",
        "ftruncate",
        "truncate",
        "fsync",
        "replace",
        "rename",
        "unlink",
        "remove",
    ):
        monkeypatch.setattr(os, name, forbidden)
    for name in ("pwrite", "fsync", "truncate"):
        monkeypatch.setattr(fileio.OSFile, name, forbidden)
    for name in ("open", "fsync_dir", "unlink", "replace"):
        monkeypatch.setattr(fileio.OSFileOps, name, forbidden)
    real_open = open

    def guarded_open(file: Any, mode: str = "r", *a: Any, **k: Any) -> Any:
        if any(c in mode for c in "wax+"):
            raise AssertionError(f"read-only open opened {file} with mode {mode}")
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr("builtins.open", guarded_open)
    real_os_open = os.open

    def guarded_os_open(path: Any, flags: int, *a: Any, **k: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
            raise AssertionError(f"read-only open opened {path} for writing")
        return real_os_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", guarded_os_open)
    for folder in folders:
        before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
        primary = min(before, key=len)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            h = regf.open(folder / primary)
        assert h.was_dirty and h.recovery is not None and h.recovery.applied
        for k in h.walk():
            for v in k.values():
                v.raw  # noqa: B018 - read everything
        h.close()
        after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
        assert after == before  # same files (none created), same bytes, same mtimes


def test_invariant_11_read_only_files_and_refused_opens_are_never_written(
    tmp_path: Path,
) -> None:
    """A hive file without write permission is refused before any open for writing (root
    could write it); recover=False on a dirty hive and a junk file are refused unchanged."""
    hive = copy_sample(tmp_path / "ro")
    hive.chmod(0o444)
    counter = CrashOps()  # counts every mutating operation
    try:
        with pytest.raises(PermissionError):
            Pager.open(hive, io=counter)
    finally:
        hive.chmod(0o644)
    assert counter.count == 0 and not counter.log
    assert sorted(p.name for p in hive.parent.iterdir()) == [hive.name]
    pager, image, _ = Pager.open(hive)
    pager.flush(image, mutate(image, random.Random(3), []), reconcile=False)
    pager.close()
    before = {p.name: p.read_bytes() for p in hive.parent.iterdir()}
    with pytest.raises(regf.RecoveryError):
        Pager.open(hive, recover=False)
    assert {p.name: p.read_bytes() for p in hive.parent.iterdir()} == before
    junk = tmp_path / "junk" / "j.hiv"
    junk.parent.mkdir()
    junk.write_bytes(b"not a hive" * 1000)
    with pytest.raises(regf.SignatureError):
        Pager.open(junk)
    assert junk.read_bytes() == b"not a hive" * 1000


# -- states ----------------------------------------------------------------------------


def test_states_follow_the_transition_table(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    seen: set[tuple[PagerState, str]] = set()
    a = CellAllocator(image)

    def step(event: str, fn: Any) -> None:
        s0 = pager.state
        fn()
        assert pager.state is TRANSITIONS[(s0, event)]
        seen.add((s0, event))

    def edit() -> set[int]:
        a.write(a.alloc(30), 0, b"x" * 30)
        return a.take_dirty()

    step("flush", lambda: pager.flush(image, edit()))
    step("flush_log_only", lambda: pager.flush(image, edit(), reconcile=False))
    step("flush_log_only", lambda: pager.flush(image, edit(), reconcile=False))
    step("reconcile", pager.reconcile)
    step("reconcile", pager.reconcile)
    step("flush_log_only", lambda: pager.flush(image, edit(), reconcile=False))
    step("flush", lambda: pager.flush(image, edit()))
    step("close", pager.close)
    step("close", pager.close)
    p1, img1, _ = Pager.open(hive)
    p1.flush(img1, mutate(img1, random.Random(1), []), reconcile=False)
    assert p1.state is PagerState.PENDING
    p1.close()
    seen.add((PagerState.PENDING, "close"))
    assert p1.state is PagerState.CLOSED
    for call in (lambda: pager.flush(image, {1}), pager.reconcile):
        with pytest.raises(HiveStateError, match="closed"):
            call()
    # FAILED from both live states.
    for log_only_first in (False, True):
        p2, img2, _ = Pager.open(hive)
        a2 = CellAllocator(img2)
        if log_only_first:
            a2.alloc(8)
            p2.flush(img2, a2.take_dirty(), reconcile=False)
        s0 = p2.state
        p2._primary = FailingOps(0, OSError(5, "EIO")).open(hive)  # type: ignore[assignment]
        p2._logs = [FailingOps(0, OSError(5, "EIO")).open(q, create=True) for q in p2.log_paths]
        a2.alloc(8)
        with pytest.raises(OSError):
            p2.flush(img2, a2.take_dirty())
        assert p2.state is TRANSITIONS[(s0, "error")]
        seen.add((s0, "error"))
        s1 = p2.state
        p2.close()
        seen.add((s1, "close"))
    assert seen == set(TRANSITIONS)


def test_state_clean_primary_equals_image(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    workload(pager, image, random.Random(12), 10)
    pager.reconcile()
    assert pager.state is PagerState.CLEAN
    # Every byte, base block included (sequence numbers, checksum).
    assert hive.read_bytes()[: len(image)] == bytes(image)
    assert u32(image, 4) == u32(image, 8) == pager.sequence
    pager.close()


def test_state_pending_primary_keeps_last_reconcile(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    pager.flush(image, mutate(image, random.Random(13), []))
    reconciled = hive.read_bytes()
    ours: list[int] = []
    rng = random.Random(14)
    for _ in range(5):
        pager.flush(image, mutate(image, rng, ours), reconcile=False)
        now = hive.read_bytes()
        assert u32(now, 4) != u32(now, 8)  # durably dirty
        assert now[BASE:] == reconciled[BASE:]  # pages untouched
        assert recovered(hive) == bins(image)
    pager.close()
    # Closing does not flush, and loses nothing: the run is in the log.
    assert recovered(hive) == bins(image)


# -- log layout, byte by byte ----------------------------------------------------------


def test_log_layout_byte_by_byte(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    a = CellAllocator(image)
    set_dword(a, vk(image, r"Software\Example", "Dword"), 0xC0FFEE)
    set_string(a, vk(image, r"Software\Example", "String"), "flushed in place")
    far = a.alloc(9000)  # a new bin at the end: pages far from the first ones
    a.write(far, 0, b"\xa5" * 9000)
    dirty = a.take_dirty()
    seq = pager.sequence
    stats = pager.flush(image, dirty, reconcile=False)
    log = stats.log.read_bytes()  # type: ignore[union-attr]
    assert stats.log == hive.with_name(hive.name + ".LOG1")

    # The 512-byte base-block copy: the hive's first 512 bytes with type 6, Seq1 =
    # Seq2 = the first entry's sequence, and its own checksum (fmt §6.1).
    copy = log[:512]
    want = bytearray(image[:512])
    struct.pack_into("<II", want, 4, seq, seq)
    struct.pack_into("<I", want, 0x1C, 6)
    struct.pack_into("<I", want, 0x1FC, ref_checksum(bytes(want)))
    assert copy == bytes(want)

    # The entry header (fmt §6.3).
    sig, size, flags, eseq, hbins, count, h1, h2 = struct.unpack_from("<4sIIIIIQQ", log, 512)
    assert sig == b"HvLE" and eseq == seq and hbins == u32(image, 0x28)
    assert flags == u32(image, 0x90) & 1
    assert size % 512 == 0 and (512 + size) % 4096 == 0  # ends on a 4 KiB boundary
    pages = sorted(p for p in dirty if p)
    runs: list[list[int]] = []
    for p in pages:
        if runs and runs[-1][-1] + 1 == p:
            runs[-1].append(p)
        else:
            runs.append([p])
    assert count == len(runs) >= 2  # contiguous pages merged, the far ones apart
    refs = [struct.unpack_from("<II", log, 512 + 0x28 + 8 * i) for i in range(count)]
    assert refs == [((r[0] - 1) * PAGE, len(r) * PAGE) for r in runs]
    pos = 512 + 0x28 + 8 * count
    for r in runs:
        for p in r:
            assert log[pos : pos + PAGE] == image[p * PAGE : (p + 1) * PAGE]
            pos += PAGE
    assert log[pos : 512 + size] == bytes(512 + size - pos)  # zero padding
    # Hashes, recomputed independently: Hash-1 over [0x28, size), Hash-2 over [0, 0x20).
    assert h1 == ref_marvin32(log[512 + 0x28 : 512 + size])
    assert h2 == ref_marvin32(log[512 : 512 + 0x20])
    assert stats.pages == len(pages) and stats.references == count

    # A second flush appends the next entry right after, also ending on 4 KiB.
    a.write(far, 100, b"\x11" * 10)
    stats2 = pager.flush(image, a.take_dirty(), reconcile=False)
    log = stats2.log.read_bytes()  # type: ignore[union-attr]
    assert stats2.log_offset == 512 + size and stats2.sequence == seq + 1
    s2 = struct.unpack_from("<4sIIIIIQQ", log, 512 + size)
    assert s2[0] == b"HvLE" and s2[3] == seq + 1 and (512 + size + s2[1]) % 4096 == 0
    assert log[:512] == copy  # the copy is written only when the file is started

    # The primary is marked dirty: Seq1 = S + 1 (after two entries: still the first
    # mark), Seq2 = the run's first sequence, valid checksum; pages untouched.
    head = hive.read_bytes()[:512]
    assert u32(head, 8) == seq and u32(head, 4) == seq + 1
    assert u32(head, 0x1FC) == ref_checksum(head)
    assert value_of(SAMPLE, r"Software\Example", "Dword") == 0x12345678
    assert value_of(hive, r"Software\Example", "Dword") == 0xC0FFEE  # recovered
    assert value_of(hive, r"Software\Example", "String") == "flushed in place"
    pager.close()


def test_full_flush_sequence_numbers(tmp_path: Path) -> None:
    """fmt §6.4: a clean primary at S/S logs entry S and ends at S+1/S+1."""
    hive = copy_sample(tmp_path)
    s = u32(hive.read_bytes(), 4)
    pager, image, _ = Pager.open(hive)
    a = CellAllocator(image)
    a.alloc(10)
    stats = pager.flush(image, a.take_dirty())
    assert stats.sequence == s and stats.reconciled
    head = hive.read_bytes()[:512]
    assert u32(head, 4) == u32(head, 8) == s + 1 == pager.sequence
    assert u32(head, 0x1FC) == ref_checksum(head)
    pager.close()


def test_flush_with_nothing_dirty_writes_nothing(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    counter = CrashOps()
    pager, image, _ = Pager.open(hive, io=counter)
    at_open = counter.count  # the open laid out the two empty logs
    stats = pager.flush(image, set())
    assert stats.bytes_written == 0 and counter.count == at_open
    pager.close()
    assert hive.with_name(hive.name + ".LOG1").stat().st_size == 0


def test_base_block_only_change_is_logged(tmp_path: Path) -> None:
    """A change the caller did not mark (page 0 only) still gets an entry and a copy."""
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    a = CellAllocator(image)
    new_root = _new_root(image, a)
    a.take_dirty()
    stats = pager.flush(image, {0}, reconcile=False)
    assert stats.pages >= 1
    # The root's new cell was not logged (the caller said only page 0 changed), so only
    # the base block is checked here.
    with regf.open(hive, strict=False) as h:
        assert h.base_block.root_cell == new_root
    pager.close()


def test_create_writes_a_new_hive_and_removes_stale_logs(tmp_path: Path) -> None:
    image = bytearray(SAMPLE.read_bytes())
    target = tmp_path / "new.hiv"
    stale = tmp_path / "new.hiv.LOG1"
    stale.write_bytes(b"junk" * 1000)
    pager = Pager.create(target, image)
    assert stale.stat().st_size == 0  # the stale run is gone; LOG1 is laid out anew
    assert recovered(target) == bins(image)
    with pytest.raises(LockedError):
        Pager.open(target)
    a = CellAllocator(image)
    a.alloc(100)
    pager.flush(image, a.take_dirty(), reconcile=False)
    assert recovered(target) == bins(image)
    pager.close()
    with pytest.raises(FileExistsError):
        Pager.create(target, bytearray(SAMPLE.read_bytes()))
    Pager.create(target, bytearray(SAMPLE.read_bytes()), overwrite=True).close()
    assert recovered(target) == bins(SAMPLE.read_bytes())
    assert not any(p.name.startswith(".new.hiv") for p in tmp_path.iterdir())


def test_windows_log_layout_both_logs_exist_from_the_first_writer_open(tmp_path: Path) -> None:
    """Issue 15 item 7: like Windows, a writer lays out LOG1 and LOG2 when it first opens
    (or creates) a hive, even while one stays empty, so a hive left dirty by a log-only
    flush always has both files that dual-log tools (yarp) require."""
    hive = copy_sample(tmp_path)
    logs = [hive.with_name(hive.name + s) for s in (".LOG1", ".LOG2")]
    assert not any(p.exists() for p in logs)
    ops = CrashOps()
    pager, image, _ = Pager.open(hive, io=ops)
    assert [p.stat().st_size for p in logs] == [0, 0]
    assert ("fsync_dir", tmp_path.name, 0) in ops.log  # the new names are durable
    stats = pager.flush(image, mutate(image, random.Random(21), []), reconcile=False)
    pager.close()
    assert stats.fsyncs == 2  # log + dirty mark: no folder fsync left for the flush
    assert logs[0].stat().st_size > 0 and logs[1].exists() and logs[1].stat().st_size == 0
    # Every log-aware reader recovers it; the empty LOG2 is ignored, not an error.
    assert recovered(hive) == bins(image)
    with regf.open(hive) as h:
        assert h.recovery is not None and h.recovery.applied
    assert bins(python_registry_recover(hive)) == bins(image)
    # A hive made by create() gets both logs too.
    made = tmp_path / "made.hiv"
    Pager.create(made, bytearray(SAMPLE.read_bytes())).close()
    assert all(made.with_name(made.name + s).stat().st_size == 0 for s in (".LOG1", ".LOG2"))


def test_open_refuses_dirty_hive_without_logs(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    pager.flush(image, mutate(image, random.Random(15), []), reconcile=False)
    pager.close()
    for p in pager.log_paths:
        p.unlink(missing_ok=True)
    raw = hive.read_bytes()
    with pytest.raises(regf.RecoveryError, match="no transaction log"):
        Pager.open(hive)
    assert hive.read_bytes() == raw
    # The failed open released its lock (else LockedError); an empty log does not help.
    (tmp_path / "s.hiv.LOG1").write_bytes(b"")
    with pytest.raises(regf.RecoveryError):
        Pager.open(hive)
    assert hive.read_bytes() == raw


def test_flush_rejects_pages_outside_the_bins(tmp_path: Path) -> None:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    with pytest.raises(regf.InvalidArgumentError):
        pager.flush(image, {10**6})
    assert pager.state is PagerState.CLEAN  # a bad argument is not an I/O failure
    pager.close()


# -- peers -----------------------------------------------------------------------------


def _log_only_edit(tmp_path: Path, *, grow: bool = False) -> tuple[Path, bytearray]:
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    a = CellAllocator(image)
    set_dword(a, vk(image, r"Software\Example", "Dword"), 0xC0FFEE)
    set_string(a, vk(image, r"Software\Example", "String"), "flushed in place")
    if grow:
        a.write(a.alloc(20000), 0, b"\x77" * 20000)
    pager.flush(image, a.take_dirty(), reconcile=False)
    a.write(a.alloc(64), 0, b"\x42" * 64)
    pager.flush(image, a.take_dirty(), reconcile=False)  # a run of two entries
    pager.close()
    return hive, image


def python_registry_recover(hive: Path) -> bytes:
    """python-registry's documented dual-log recovery, into a copy in memory."""
    from Registry.RegistryLog import RegistryLog

    primary = io.BytesIO(hive.read_bytes())
    logs = [
        RegistryLog(primary, str(p))
        for p in (hive.with_name(hive.name + s) for s in (".LOG1", ".LOG2"))
        if p.exists() and p.stat().st_size
    ]
    eligible = [lg for lg in logs if lg.is_eligible_log()]
    assert eligible, "python-registry finds no eligible log"
    if len(eligible) == 2 and not eligible[0].is_starting_log(eligible[1]):
        eligible.reverse()
    last = eligible[0].recover_hive()
    if len(eligible) == 2 and last is not None:
        eligible[1].reload_primary_regf()
        eligible[1].recover_hive_continue(last + 1)
    return primary.getvalue()


def test_log_only_flush_recovered_by_python_registry(tmp_path: Path) -> None:
    pytest.importorskip("Registry")
    from Registry import Registry

    hive, image = _log_only_edit(tmp_path)
    data = python_registry_recover(hive)
    assert bins(data) == bins(image)
    reg = Registry.Registry(io.BytesIO(data))
    values = {v.name(): v.value() for v in reg.open(r"Software\Example").values()}
    assert values["Dword"] == 0xC0FFEE and values["String"] == "flushed in place"


def test_log_only_flush_with_growth_recovered_by_python_registry(tmp_path: Path) -> None:
    pytest.importorskip("Registry")
    hive, image = _log_only_edit(tmp_path, grow=True)
    data = python_registry_recover(hive)
    assert bins(data) == bins(image)  # BytesIO grows on writes past its end


def test_peer_bug_python_registry_overwrites_flags(tmp_path: Path) -> None:
    """python-registry stores each entry's whole flags field as the base block's Flags,
    but entries carry only bit 0 (fmt §6.3, §6.5 step 5): a hive with bit 1 set ("layered
    keys", Windows 10 RS1+) loses it in python-registry's recovery; regf keeps it."""
    pytest.importorskip("Registry")
    hive = copy_sample(tmp_path)
    raw = bytearray(hive.read_bytes())
    struct.pack_into("<I", raw, 0x90, 2)
    struct.pack_into("<I", raw, 0x1FC, ref_checksum(bytes(raw[:512])))
    hive.write_bytes(raw)
    pager, image, _ = Pager.open(hive)
    pager.flush(image, mutate(image, random.Random(16), []), reconcile=False)
    pager.close()
    with regf.open(hive) as h:
        assert h.base_block.flags == 2 and bins(h.buf) == bins(image)
    data = python_registry_recover(hive)
    assert bins(data) == bins(image)  # the data is right ...
    assert u32(data, 0x90) == 0  # ... but bit 1 of Flags is gone


def regipy_recover(hive: Path, out: Path) -> bytes:
    from regipy.recovery import apply_transaction_logs

    log1 = hive.with_name(hive.name + ".LOG1")
    log2 = hive.with_name(hive.name + ".LOG2")
    # regipy applies the "secondary" log first, then the "primary" one: the newest run
    # must come last.
    logs = [p for p in (log1, log2) if p.exists() and p.stat().st_size]
    logs.sort(key=lambda p: u32(p.read_bytes(), 4))
    if len(logs) == 2:
        apply_transaction_logs(str(hive), str(logs[1]), str(logs[0]), str(out))
    else:
        apply_transaction_logs(str(hive), str(logs[0]), restored_hive_path=str(out))
    return out.read_bytes()


def test_log_only_flush_recovered_by_regipy(tmp_path: Path) -> None:
    pytest.importorskip("regipy")
    from regipy.registry import RegistryHive

    hive, image = _log_only_edit(tmp_path / "h")
    data = regipy_recover(hive, tmp_path / "restored")
    assert bins(data) == bins(image)
    key = RegistryHive(str(tmp_path / "restored")).get_key(r"\Software\Example")
    values = {v.name: v.value for v in key.iter_values()}
    assert values["Dword"] == 0xC0FFEE and values["String"] == "flushed in place"


def test_peer_bug_regipy_no_growth(tmp_path: Path) -> None:
    """regipy refuses any page past the primary's current end ("points outside of the
    hive"): it never grows the image, so a log-only flush that added a bin cannot be
    replayed by it (fmt §6.5 step 5; EricZimmerman/Registry #24 is the same bug)."""
    pytest.importorskip("regipy")
    from regipy.exceptions import RegistryRecoveryException

    hive, image = _log_only_edit(tmp_path / "h", grow=True)
    assert recovered(hive) == bins(image)  # regf does it
    with pytest.raises(RegistryRecoveryException, match="outside of the hive"):
        regipy_recover(hive, tmp_path / "restored")


def test_peer_bug_regipy_applies_stale_entries(tmp_path: Path) -> None:
    """regipy replays every HvLE-signed block up to the end of the file, ignoring the
    sequence numbers and hashes that mark the end of the live run (fmt §6.5 step 4), so
    entries left from an earlier run in the same file are applied on top of the new
    ones. The pager reuses log files (they are bounded, not truncated), as Windows does."""
    pytest.importorskip("regipy")
    hive = copy_sample(tmp_path / "h")
    pager, image, _ = Pager.open(hive)
    a = CellAllocator(image)
    target = vk(image, r"Software\Example", "Dword")
    # Run 1 in LOG1: three one-page entries (Dword = 1, 2, 3), at 0x200, 0x1000, 0x2000.
    for i in (1, 2, 3):
        set_dword(a, target, i)
        pager.flush(image, a.take_dirty(), reconcile=False)
    pager.reconcile()
    set_dword(a, target, 7)  # run 2 in LOG2
    pager.flush(image, a.take_dirty())
    set_dword(a, target, 0xC0FFEE)  # run 3 restarts LOG1: one entry, 0x200..0x1000
    pager.flush(image, a.take_dirty(), reconcile=False)
    pager.close()
    assert value_of(hive, r"Software\Example", "Dword") == 0xC0FFEE  # regf: right
    data = regipy_recover(hive, tmp_path / "restored")
    assert bins(data) != bins(image)
    from regipy.registry import RegistryHive

    key = RegistryHive(str(tmp_path / "restored")).get_key(r"\Software\Example")
    values = {v.name: v.value for v in key.iter_values()}
    assert values["Dword"] == 3  # the stale run-1 entries were replayed last


def test_peer_bug_regipy_leaves_bad_checksum(tmp_path: Path) -> None:
    """regipy writes the new sequence numbers and hive-bins size into the base block but
    never recomputes its checksum (fmt §6.5 step 7), so its "restored" hive is dirty
    again for any reader that checks (regf, Windows)."""
    pytest.importorskip("regipy")
    hive, image = _log_only_edit(tmp_path / "h")
    data = regipy_recover(hive, tmp_path / "restored")
    assert bins(data) == bins(image)  # the data itself is right
    assert u32(data, 4) == u32(data, 8)
    assert u32(data, 0x1FC) != ref_checksum(data[:512])
    assert recovery.is_dirty(data[:512]) == "checksum"


@pytest.mark.peers
def test_full_flush_read_by_hivex_and_pyregf(tmp_path: Path) -> None:
    import oracles

    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    a = CellAllocator(image)
    set_dword(a, vk(image, r"Software\Example", "Dword"), 0xC0FFEE)
    set_string(a, vk(image, r"Software\Example", "String"), "flushed in place")
    pager.flush(image, a.take_dirty(), reconcile=False)
    pager.flush(image, set())  # reconcile the run
    pager.close()
    want_dword = (r"Software\Example", "Dword", struct.pack("<I", 0xC0FFEE))
    want_sz = "flushed in place\0".encode("utf-16-le")
    walks = {}
    with contextlib.suppress(oracles.PeerUnavailable):
        walks["pyregf"] = oracles.walk_pyregf(hive)
    if oracles.hivex_available():
        walks["hivex"] = oracles.walk_hivex(hive)
    if not walks:
        pytest.skip("neither pyregf nor hivex is available")
    for peer, walk in walks.items():
        values = {p: {n: d for n, _t, d in vals} for p, _c, vals in walk}
        ex = values[want_dword[0]]
        assert ex["Dword"] == want_dword[2], peer
        assert ex["String"] == want_sz, peer
        assert len(walk) == len(oracles.walk_regf(hive)), peer


def test_fsyncs_per_kind_of_flush(tmp_path: Path) -> None:
    """The fsyncs the protocol's argument needs and no more (module doc, "Why three
    fsyncs"): starting a run, full 3 (entry, dirty mark, pages) and log-only 2 (entry,
    dirty mark); extending one, full 2 (entry, pages) and log-only 1 (entry). The clean
    mark is fsynced by the next run's dirty mark or by close()."""
    hive = copy_sample(tmp_path)
    pager, image, _ = Pager.open(hive)
    rng = random.Random(11)
    ours: list[int] = []
    got = []
    for reconcile in (True, False, False, True, True):
        stats = pager.flush(image, mutate(image, rng, ours), reconcile=reconcile)
        got.append((stats.started_log, reconcile, stats.fsyncs))
    assert got == [(True, True, 3), (True, False, 2), (False, False, 1), (False, True, 2),
                   (True, True, 3)]  # fmt: skip
    pager.close()
