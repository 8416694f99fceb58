"""Crash tests of the pager (regf/storage/flush.py), after SQLite's test/crash9.test.

For a random workload (cells allocated, written and freed through CellAllocator, so the
hive stays valid) on fixtures/sample.hiv and on real corpus hives, one open + edit +
flush is interrupted at EVERY mutating file operation k (pwrite, fsync, truncate, ...),
also with the k-th write torn (a prefix, zeros, or a prefix then zeros), and with
unsynced writes lost at random (a power cut on a device that reorders writes). After each
crash the hive is reopened read-only with regf.open (recovering from the logs in memory):
its hive bins must equal exactly the state before or after the interrupted flush, and
regf's tiling check must pass. Then a writer reopens it (recovery written back), and a
second flush is crashed at a random position, to exercise crashes that follow crashes.

A last test SIGKILLs real writer processes at random moments: every flush reported as
returned must survive.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from crashio import CrashOps, SimulatedCrash, mutate

import regf
from regf.model.check import check_hive
from regf.storage.flush import Pager

BASE = 4096
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample.hiv"
TEARS = ("prefix", "zeros", "prefix-zeros")

#: Corpus hives (relative to REGF_CORPUS) with the logs that come with them.
CORPUS_HIVES = {
    # Windows 10 dirty hive: the writer's open recovers it from two real Windows logs.
    "yarp-NewDirtyHive1": (
        "msuhanov__yarp/hives_for_tests/NewDirtyHive1",
        ["NewDirtyHive", "NewDirtyHive.LOG1", "NewDirtyHive.LOG2"],
    ),
    "ez-SAM": ("EricZimmerman__Registry/Registry.Test/Hives", ["SAM"]),
    "regipy-NTUSER": ("mkorman90__regipy/regipy_tests/data", ["NTUSER.DAT"]),
    # Dirty, with big real logs in lower case (the writer must find and reuse them).
    "regipy-transactions": (
        "mkorman90__regipy/regipy_tests/data",
        [
            "transactions_NTUSER.DAT",
            "transactions_ntuser.dat.log1",
            "transactions_ntuser.dat.log2",
        ],
    ),
}


def bins(buf: bytes | bytearray) -> bytes:
    """The hive-bins bytes of a whole-file image (as declared by its base block)."""
    hbins = int.from_bytes(buf[0x28:0x2C], "little")
    return bytes(buf[BASE : BASE + hbins])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def restore(folder: Path, snap: dict[str, bytes]) -> None:
    for p in folder.iterdir():
        if p.name not in snap:
            p.unlink()
    for name, data in snap.items():
        (folder / name).write_bytes(data)


def read_recovered(hive: Path) -> bytes:
    """Reopen read-only (recovering in memory); check; return the hive bins."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dirty hive opened without its logs is a failure
        h = regf.open(hive)
    try:
        problems = check_hive(h)
        assert not problems, problems[:3]
        return bins(h.buf)
    finally:
        h.close()


@dataclass
class Scenario:
    """A hive folder at a known committed state plus one pending edit to flush."""

    folder: Path
    hive: Path
    baseline: dict[str, bytes]
    before: bytes
    after: bytes
    ours: list[int]
    seed: int
    reconcile: bool
    nops: int = 0
    oplog: list[tuple[str, str, int]] = field(default_factory=list)

    def run(self, ops: CrashOps | None) -> None:
        """Open + edit + flush through ``ops``; a SimulatedCrash propagates."""
        pager, image, _ = Pager.open(self.hive, io=ops)
        try:
            dirty = mutate(image, random.Random(self.seed), list(self.ours))
            pager.flush(image, dirty, reconcile=self.reconcile)
        finally:
            pager.close()


def prepare(tmp: Path, src: Path, names: list[str], seed: int, history: int) -> Scenario:
    """Copy a hive, flush ``history`` random edits (mixed full / log-only), stop there."""
    folder = tmp / f"h{seed}"
    folder.mkdir()
    for n in names:
        shutil.copyfile(src / n, folder / n)
    hive = folder / names[0]
    rng = random.Random(seed)
    ours: list[int] = []
    if history:
        pager, image, _ = Pager.open(hive)
        for _ in range(history):
            dirty = mutate(image, rng, ours)
            pager.flush(image, dirty, reconcile=rng.random() < 0.5)
        pager.close()  # leaves the hive PENDING about half of the time
    else:
        # The files as they came: the crashed open may be writing a recovery back.
        h = regf.open(hive)
        image = bytearray(h.buf[: BASE + h.base_block.hbins_size])
        h.close()
    before = bins(image)
    after_image = bytearray(image)
    edit_seed = rng.randrange(1 << 30)
    mutate(after_image, random.Random(edit_seed), list(ours))
    sc = Scenario(
        folder,
        hive,
        snapshot(folder),
        before,
        bins(after_image),
        ours,
        edit_seed,
        reconcile=rng.random() < 0.5,
    )
    assert sc.before != sc.after
    counter = CrashOps()
    sc.run(counter)
    assert read_recovered(hive) == sc.after  # the uninterrupted flush lands
    sc.nops, sc.oplog = counter.count, list(counter.log)
    restore(folder, sc.baseline)
    return sc


def crash_and_check(sc: Scenario, ops: CrashOps, rng: random.Random) -> None:
    """Run the scenario crashing per ``ops``; check before/after; then crash again."""
    restore(sc.folder, sc.baseline)
    with pytest.raises(SimulatedCrash):
        sc.run(ops)
    got = read_recovered(sc.hive)
    where = f"crash at op {ops.state.crash_at} {sc.oplog[ops.state.crash_at]} tear={ops.state.tear}"
    assert got in (sc.before, sc.after), where
    # A writer reopens (recovery written back to the primary), edits, crashes again.
    pager, image, _ = Pager.open(sc.hive)
    assert bins(image) == got, where
    pager.close()
    assert read_recovered(sc.hive) == got
    seed2 = rng.randrange(1 << 30)
    after2 = bytearray(image)
    mutate(after2, random.Random(seed2), [])
    second = CrashOps(rng.randrange(12), tear=rng.choice((None, *TEARS)))
    try:
        pager, image, _ = Pager.open(sc.hive, io=second)
        try:
            pager.flush(
                image, mutate(image, random.Random(seed2), []), reconcile=rng.random() < 0.5
            )
        finally:
            pager.close()
    except SimulatedCrash:
        pass
    assert read_recovered(sc.hive) in (got, bins(after2)), f"second crash after {where}"
    pager, image, _ = Pager.open(sc.hive)  # and a clean writer open still works
    pager.close()


def every_position(sc: Scenario, *, tears: bool = True, sample: int | None = None) -> int:
    """Crash at every operation (or at ``sample`` random ones); return the trial count."""
    rng = random.Random(sc.seed)
    trials = 0
    positions = range(sc.nops)
    if sample is not None and sample < sc.nops:
        positions = sorted(rng.sample(positions, sample))  # type: ignore[assignment]
    for k in positions:
        modes: list[str | None] = [None]
        if tears and sc.oplog[k][0] == "pwrite":
            modes += list(TEARS)
        for tear in modes:
            crash_and_check(sc, CrashOps(k, tear=tear), rng)
            trials += 1
    return trials


# -- sample.hiv ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_crash_every_position_sample(tmp_path: Path, seed: int) -> None:
    sc = prepare(tmp_path, SAMPLE.parent, [SAMPLE.name], seed, history=seed % 4)
    assert sc.nops >= 4  # at least: log write, log fsync, primary write + fsync(s)
    assert every_position(sc) >= sc.nops


@pytest.mark.parametrize("seed", range(4))
def test_crash_power_cut_sample(tmp_path: Path, seed: int) -> None:
    """Unsynced writes lost at random: the fsync barriers must order what matters."""
    sc = prepare(tmp_path, SAMPLE.parent, [SAMPLE.name], 100 + seed, history=2)
    rng = random.Random(seed)
    for k in range(sc.nops):
        for _ in range(3):
            ops = CrashOps(k, lose_unsynced=True, rng=random.Random(rng.randrange(1 << 30)))
            crash_and_check(sc, ops, rng)


def test_crash_growth_sample(tmp_path: Path) -> None:
    """A flush that appends new bins (hive-bins size grows) crashed everywhere."""
    folder = tmp_path / "g"
    folder.mkdir()
    shutil.copyfile(SAMPLE, folder / "g.hiv")
    hive = folder / "g.hiv"
    pager, image, _ = Pager.open(hive)
    before_size = len(image)
    pager.close()
    grown = bytearray(image)
    from regf.cells.alloc import CellAllocator

    a = CellAllocator(grown)
    idx = a.alloc(60000)
    a.write(idx, 0, bytes(range(256)) * 234)
    assert len(grown) > before_size
    sc = Scenario(folder, hive, snapshot(folder), bins(image), bins(grown), [], 0, True)

    def run(ops: CrashOps | None) -> None:
        pager, img, _ = Pager.open(hive, io=ops)
        try:
            al = CellAllocator(img)
            i = al.alloc(60000)
            al.write(i, 0, bytes(range(256)) * 234)
            pager.flush(img, al.take_dirty(), reconcile=True)
        finally:
            pager.close()

    sc.run = run  # type: ignore[method-assign]
    counter = CrashOps()
    run(counter)
    assert read_recovered(hive) == sc.after
    sc.nops, sc.oplog = counter.count, list(counter.log)
    assert every_position(sc) > 0


#: Reconcile flag of each flush in one open: full flushes leave their clean mark unsynced
#: for the next run's dirty mark (or close) to make durable.
SEQUENCE = (True, True, False, True, False, False, True, True)


def _sequence(hive: Path, ops: CrashOps, images: list[bytes] | None = None) -> int:
    """Open, then flush the SEQUENCE of random edits, then close, through ``ops``;
    returns how many flushes returned (a SimulatedCrash stops it there)."""
    done = 0
    rng = random.Random(7)
    ours: list[int] = []
    try:
        pager, image, _ = Pager.open(hive, io=ops)
    except SimulatedCrash:
        return 0
    try:
        for reconcile in SEQUENCE:
            pager.flush(image, mutate(image, rng, ours), reconcile=reconcile)
            done += 1
            if images is not None:
                images.append(bins(image))
    except SimulatedCrash:
        pass
    with contextlib.suppress(SimulatedCrash):
        pager.close()  # a crash may also hit close()'s fsync of the last clean mark
    return done


@pytest.mark.parametrize("seed", range(2))
def test_crash_power_cut_across_flushes(tmp_path: Path, seed: int) -> None:
    """A power cut at every operation of a sequence of flushes in one open, losing
    unsynced writes at random, the clean marks that full flushes no longer fsync among
    them: reopening gives the image of the last flush that returned, or of the one in
    flight, never an older one (a run restarted while the durable primary needed it
    would lose a returned flush)."""
    folder = tmp_path / "s"
    folder.mkdir()
    hive = folder / "s.hiv"
    shutil.copyfile(SAMPLE, hive)
    base = snapshot(folder)
    images = [read_recovered(hive)]
    counter = CrashOps()
    assert _sequence(hive, counter, images) == len(SEQUENCE)
    assert read_recovered(hive) == images[-1]
    rng = random.Random(seed)
    for k in range(counter.count):
        restore(folder, base)
        ops = CrashOps(k, lose_unsynced=True, rng=random.Random(rng.randrange(1 << 30)))
        done = _sequence(hive, ops)
        got = read_recovered(hive)
        allowed = images[done : done + 2]
        assert got in allowed, f"crash at op {k} {counter.log[k]} after {done} flushes"


def test_crash_create_over_a_dirty_hive(tmp_path: Path) -> None:
    """Pager.create(overwrite=True) over a hive whose last flush is only in its logs,
    crashed at every operation: the path holds the old hive (still recoverable) or the
    new one, never a mixture, and a writer can open it afterwards."""
    folder = tmp_path / "c"
    folder.mkdir()
    hive = folder / "c.hiv"
    shutil.copyfile(SAMPLE, hive)
    pager, image, _ = Pager.open(hive)
    pager.flush(image, mutate(image, random.Random(5), []), reconcile=False)
    pager.close()
    old = bins(image)
    new_image = bytearray(SAMPLE.read_bytes())
    mutate(new_image, random.Random(6), [])
    new = bins(new_image)
    baseline = snapshot(folder)
    counter = CrashOps()
    Pager.create(hive, bytearray(new_image), io=counter, overwrite=True).close()
    assert read_recovered(hive) == new
    assert (folder / "c.hiv.LOG1").stat().st_size == 0  # the old run is gone
    for k in range(counter.count):
        for tear in (None, "prefix", "zeros") if counter.log[k][0] == "pwrite" else (None,):
            restore(folder, baseline)
            with pytest.raises(SimulatedCrash):
                Pager.create(hive, bytearray(new_image), io=CrashOps(k, tear=tear), overwrite=True)
            got = read_recovered(hive)
            assert got in (old, new), f"crash at {k} {counter.log[k]} tear={tear}"
            Pager.open(hive)[0].close()


# -- corpus ----------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_HIVES))
def test_crash_every_position_corpus(tmp_path: Path, corpus: Path, name: str) -> None:
    rel, names = CORPUS_HIVES[name]
    src = corpus / rel
    if not all((src / n).is_file() for n in names):
        pytest.skip(f"{rel} not in this corpus")
    # The pure-Python backend hashes the 1 MB Windows logs of "regipy-transactions" in
    # Python at every recovery (minutes for every position): sample positions there.
    slow = regf.BACKEND == "python" and name == "regipy-transactions"
    for seed in range(2):
        sc = prepare(tmp_path, src, names, 1000 * seed + len(name), history=seed)
        every_position(sc, tears=seed == 0 and not slow, sample=3 if slow else None)


@pytest.mark.corpus
def test_crash_big_system_hive(tmp_path: Path, corpus: Path) -> None:
    """The 11 MB SYSTEM hive: plain crash at every position of one log-only + one full flush."""
    src = corpus / "fox-it__dissect.regf/tests/_data"
    if not (src / "SYSTEM").is_file():
        pytest.skip("SYSTEM not in this corpus")
    sc = prepare(tmp_path, src, ["SYSTEM"], 7, history=1)
    every_position(sc, tears=False)


# -- SIGKILL ---------------------------------------------------------------------------

_CHILD = r"""
import hashlib, random, sys
sys.path.insert(0, sys.argv[3])
from crashio import mutate
from regf.storage.flush import Pager
hive, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
out = sys.stdout
pager, image, _ = Pager.open(hive)
out.write("ready\n"); out.flush()
ours = []
i = 0
while True:
    dirty = mutate(image, rng, ours)
    hb = int.from_bytes(image[0x28:0x2C], "little")
    digest = hashlib.sha256(image[4096:4096 + hb]).hexdigest()
    out.write(f"begin {i} {digest}\n"); out.flush()
    pager.flush(image, dirty, reconcile=rng.random() < 0.5)
    out.write(f"done {i}\n"); out.flush()
    i += 1
"""


def test_sigkill_never_loses_a_returned_flush(tmp_path: Path) -> None:
    import hashlib

    rng = random.Random(20240607)
    hive = tmp_path / "k.hiv"
    shutil.copyfile(SAMPLE, hive)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    kills = flushes = 0
    deadline = time.monotonic() + 60
    while kills < 12 and time.monotonic() < deadline:
        start = hashlib.sha256(read_recovered(hive)).hexdigest()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(hive),
                str(rng.randrange(1 << 30)),
                str(Path(__file__).parent),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        # Wait for the writer to be up (however loaded the machine), then kill it at a
        # random point of its flush loop (a full flush takes a few milliseconds).
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == b"ready\n", first
        time.sleep(rng.random() * 0.3)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        kills += 1
        lines = out.decode().splitlines()
        began = {int(ln.split()[1]): ln.split()[2] for ln in lines if ln.startswith("begin")}
        done = [int(ln.split()[1]) for ln in lines if ln.startswith("done")]
        got = hashlib.sha256(read_recovered(hive)).hexdigest()
        # The last returned flush, or the one in flight when the kill came.
        last = max(done) if done else None
        allowed = {start} if last is None else {began[last]}
        in_flight = 0 if last is None else last + 1
        if in_flight in began:
            allowed.add(began[in_flight])
        assert got in allowed, f"kill {kills}: flush {last} returned but its state is gone"
        flushes += len(done)
    print(f"{kills} writers killed after {flushes} returned flushes in total")
    assert kills >= 3
    assert flushes > 0, "the writers never completed a flush: the test proved nothing"
