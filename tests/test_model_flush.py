"""Flushing through the model: ``regf.open(path, mode="r+")`` edits in place (issue 5).

The pager alone is tested in test_flush.py / test_crash.py with cell-level edits; here
every edit goes through the model (create_key, set_value, delete_key, ...) and every
flush through ``EditHive.flush`` / ``close``:

* edit -> flush -> reopen equals; close flushes; a ``with`` block left by an exception
  keeps committed flushes only; volatile keys never reach a file;
* log-only flushes are recovered by regf and by the PyPI peers that can
  (python-registry's RegistryLog, regipy's transaction-log replay); after a full flush
  hivex and pyregf read the new content;
* crash tests through the model: random create/set/delete workloads on fixtures and on
  real corpus hives, crashed at every write / fsync / truncate (torn writes too, and
  power cuts); the reopened hive equals exactly the state before or after the
  interrupted flush and passes the structural check;
* failed I/O puts the hive into its error state (HiveStateError until close);
* SIGKILLed model-level writer loops never lose a returned flush;
* one writer at a time (this process and another), autoflush from a thread that is
  serialised with edits.
"""

from __future__ import annotations

import errno
import hashlib
import inspect
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oracles
import pytest
from crashio import CrashOps, FailingOps, SimulatedCrash
from test_flush import python_registry_recover, regipy_recover

import regf
from regf.model import edit as edit_module
from regf.model.check import check_hive
from regf.model.edit import EditHive, EditKey, open_editable

BASE = 4096
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample.hiv"
TEARS = ("prefix", "zeros", "prefix-zeros")
FT = 132_000_000_000_000_000  # fixed timestamps: a workload is byte-for-byte repeatable

#: Corpus hives (relative to REGF_CORPUS) with the logs that come with them.
CORPUS_HIVES = {
    "ez-SAM": ("EricZimmerman__Registry/Registry.Test/Hives", ["SAM"]),
    "regipy-NTUSER": ("mkorman90__regipy/regipy_tests/data", ["NTUSER.DAT"]),
    # Windows 10 dirty hive: the writer's open recovers it and writes it back first.
    "yarp-NewDirtyHive1": (
        "msuhanov__yarp/hives_for_tests/NewDirtyHive1",
        ["NewDirtyHive", "NewDirtyHive.LOG1", "NewDirtyHive.LOG2"],
    ),
    # Dirty, with big real logs in lower case (found, applied, written back, reused).
    "regipy-transactions": (
        "mkorman90__regipy/regipy_tests/data",
        [
            "transactions_NTUSER.DAT",
            "transactions_ntuser.dat.log1",
            "transactions_ntuser.dat.log2",
        ],
    ),
}


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def bins(buf: bytes | bytearray) -> bytes:
    hbins = int.from_bytes(buf[0x28:0x2C], "little")
    return bytes(buf[BASE : BASE + hbins])


def copy_files(src: Path, names: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copyfile(src / n, folder / n)  # copyfile: the copy is writable
    return folder / names[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def restore(folder: Path, snap: dict[str, bytes]) -> None:
    for p in folder.iterdir():
        if p.name not in snap:
            p.unlink()
    for name, data in snap.items():
        (folder / name).write_bytes(data)


def read_recovered(hive: Path) -> bytes:
    """Reopen read-only (recovering in memory), check the structure, return the bins."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dirty hive opened without its logs fails
        h = regf.open(hive)
    try:
        problems = check_hive(h)
        assert not problems, problems[:3]
        return bins(h.buf)
    finally:
        h.close()


def walk(source: Any) -> oracles.Walk:
    return oracles.walk_regf(source)


def edit(path: Path, **kw: Any) -> EditHive:
    hive = regf.open(path, mode="r+", **kw)
    assert isinstance(hive, EditHive) and hive.pager is not None
    return hive


class Workload:
    """Random create / set / delete operations through the model (deterministic)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, hive: EditHive) -> EditKey:
        key = hive.root
        for _ in range(self.rng.randrange(4)):
            subs = key.subkeys()
            if not subs:
                break
            key = self.rng.choice(subs)
        return key

    def data(self) -> tuple[object, int | None]:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.randrange(1 << 32), None
        if r < 0.5:
            return "model " * self.rng.randrange(1, 40), None
        size = self.rng.choice((0, 1, 4, 5, 100, 3000, 17000))  # inline .. big data
        return self.rng.randbytes(size), regf.REG_BINARY

    def run(self, hive: EditHive, n: int) -> None:
        rng = self.rng
        for _ in range(n):
            key = self.pick(hive)
            r = rng.random()
            if r < 0.3 and not key.volatile:
                key.create_key(f"regf-{rng.randrange(1 << 20):05x}", timestamp=FT)
            elif r < 0.65:
                data, vtype = self.data()
                key.set_value(f"v{rng.randrange(8)}", data, vtype, timestamp=FT)
            elif r < 0.8:
                values = key.values()
                if values:
                    key.delete_value(rng.choice(values).name, timestamp=FT)
            else:
                leaves = [s for s in key.subkeys() if not s.subkey_count]
                if leaves:
                    key.delete_key(rng.choice(leaves).name, timestamp=FT)


# ---------------------------------------------------------------------------------------
# Edit -> flush -> reopen
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reconcile", [True, False])
def test_edit_flush_reopen_equals(tmp_path: Path, reconcile: bool) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    with edit(hive) as ed:
        Workload(1).run(ed, 40)
        ed.create_key(r"New\Deep\Key", class_name="Cls").set_value("x", "y")
        ed.delete_key(r"Software\Example\Many", recursive=True)
        stats = ed.flush(reconcile=reconcile)
        assert stats is not None and stats.sequence is not None
        assert stats.reconciled is reconcile
        want = walk(bytes(ed.image))  # the image as flushed (pager-owned fields set)
        assert not ed.modified
        with regf.open(hive, recover=False, strict=False) as stale:  # the bins may have grown
            assert stale.base_block.dirty is not reconcile
        assert walk(hive) == want
    with regf.open(hive, recover=False) as h:
        assert not h.base_block.dirty  # close() reconciled the log-only flush
        assert check_hive(h) == []
    assert walk(hive) == want
    # and editing continues on the reopened hive
    with edit(hive) as ed:
        ed.open_key(r"New\Deep\Key").set_value("x", "z")
    with regf.open(hive) as h:
        assert h.open_key(r"New\Deep\Key").value("x").data == "z"


@pytest.mark.corpus
def test_edit_flush_reopen_corpus(tmp_path: Path, corpus: Path) -> None:
    rel, names = CORPUS_HIVES["regipy-NTUSER"]
    hive = copy_files(corpus / rel, names, tmp_path)
    for seed in range(3):
        with edit(hive) as ed:
            Workload(seed).run(ed, 30)
            ed.flush(reconcile=seed % 2 == 0)
            want = walk(bytes(ed.image))
            assert read_recovered(hive) == bins(ed.image)
        assert walk(hive) == want


def test_close_flushes_and_releases_the_lock(tmp_path: Path) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    ed = edit(hive)
    ed.create_key("Closed").set_value("v", 1)
    with pytest.raises(regf.LockedError):
        regf.open(hive, mode="r+")
    ed.close()
    assert ed.closed
    with regf.open(hive, recover=False) as h:
        assert not h.base_block.dirty and h.open_key("Closed").value("v").data == 1
    with pytest.raises(regf.HiveStateError):
        ed.root  # noqa: B018 - a closed hive refuses everything
    edit(hive).close()  # the lock was released


def test_a_dropped_hive_releases_its_lock_without_flushing(tmp_path: Path) -> None:
    import gc

    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    ed = edit(hive)
    ed.create_key("Flushed")
    ed.flush()
    ed.create_key("NeverFlushed")
    del ed
    gc.collect()
    with edit(hive) as again:  # the lock is free again
        names = {k.name for k in again.root.subkeys()}
    assert "Flushed" in names and "NeverFlushed" not in names


def test_with_block_left_by_an_exception_keeps_committed_flushes_only(tmp_path: Path) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    with pytest.raises(RuntimeError), edit(hive) as ed:
        ed.create_key("Committed")
        ed.flush(reconcile=False)
        ed.create_key("Dropped")
        raise RuntimeError("half-done batch")
    paths = {p for p, _c, _v in walk(hive)}
    assert "Committed" in paths and "Dropped" not in paths
    edit(hive).close()  # the lock was released


def test_volatile_keys_are_never_written(tmp_path: Path) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    marker = "VolatileMarkerName"
    with edit(hive) as ed:
        vol = ed.create_key(marker, volatile=True)
        vol.set_value(marker + "Value", marker + "Data")
        vol.create_key(marker + "Child", volatile=True)
        ed.create_key("Stable").set_value("s", "kept")
        ed.flush(reconcile=False)
        ed.flush()
    for p in tmp_path.iterdir():
        data = p.read_bytes()
        for enc in ("ascii", "utf-16-le"):
            assert marker.encode(enc) not in data, p.name
    paths = {p for p, _c, _v in walk(hive)}
    assert "Stable" in paths and not any(marker in p for p in paths)


def test_copy_and_bytes_sources_never_write(tmp_path: Path) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    before = snapshot(tmp_path)
    with open_editable(hive, in_place=False) as ed:
        ed.create_key("X")
        with pytest.raises(regf.HiveStateError, match="copy in memory"):
            ed.flush()
    with regf.open(hive.read_bytes(), mode="r+") as ed2:
        assert isinstance(ed2, EditHive) and ed2.pager is None
        ed2.create_key("Y")
    assert snapshot(tmp_path) == before
    with pytest.raises(regf.InvalidArgumentError):
        regf.open(hive, autoflush=1.0)  # read-only opens have nothing to flush
    with pytest.raises(regf.InvalidArgumentError):
        open_editable(hive, in_place=False, autoflush=1.0)
    with pytest.raises(regf.InvalidArgumentError):
        open_editable(hive, strict=False)  # in place is always strict
    assert snapshot(tmp_path) == before


def test_read_only_file_is_never_opened_for_writing(tmp_path: Path) -> None:
    """Even as root (who could write it), a hive without write permission is refused."""
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    hive.chmod(0o444)
    try:
        with pytest.raises(PermissionError):
            regf.open(hive, mode="r+")
        assert sorted(p.name for p in tmp_path.iterdir()) == [hive.name]
    finally:
        hive.chmod(0o644)


def test_recover_false_refuses_a_dirty_hive(tmp_path: Path) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    with edit(hive) as ed:
        ed.create_key("Pending")
        ed.flush(reconcile=False)
        ed.discard()
    before = snapshot(tmp_path)
    with pytest.raises(regf.RecoveryError):
        regf.open(hive, mode="r+", recover=False)
    assert snapshot(tmp_path) == before
    with edit(hive) as ed:  # the default recovers it (and writes it back)
        assert ed.recovery is not None and ed.recovery.applied
        assert ed.open_key("Pending").name == "Pending"
    with regf.open(hive, recover=False) as h:
        assert not h.base_block.dirty


# ---------------------------------------------------------------------------------------
# Interop: log-only flushes recovered by peers; full flushes read by hivex and pyregf
# ---------------------------------------------------------------------------------------


def _log_only_model_edit(folder: Path) -> tuple[Path, bytes]:
    """sample.hiv with two log-only flushes of model edits (no new bin: regipy cannot
    grow a hive, see test_flush.py::test_peer_bug_regipy_no_growth)."""
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], folder)
    ed = edit(hive)
    ex = ed.open_key(r"Software\Example")
    ex.set_value("Dword", 0xC0FFEE, regf.REG_DWORD, timestamp=FT)
    ex.set_value("String", "flushed through the model", timestamp=FT)
    ed.flush(reconcile=False)
    ed.create_key(r"Software\Logged", timestamp=FT).set_value("n", 7, timestamp=FT)
    ed.delete_key(r"Software\Example\Many\Sub0007", timestamp=FT)
    hb = ed.allocator.hbins_size
    ed.flush(reconcile=False)
    assert ed.allocator.hbins_size == hb == len(SAMPLE.read_bytes()) - BASE  # no growth
    image = bytes(ed.image)
    ed.discard()  # leave the hive dirty: the new state is only in the log
    return hive, image


def test_log_only_flush_recovered_by_regf(tmp_path: Path) -> None:
    hive, image = _log_only_model_edit(tmp_path)
    with regf.open(hive, recover=False) as stale:
        assert stale.base_block.dirty
        assert "Logged" not in [k.name for k in stale.open_key("Software").subkeys()]
    assert read_recovered(hive) == bins(image)
    assert walk(hive) == walk(image)


def test_log_only_flush_recovered_by_python_registry(tmp_path: Path) -> None:
    pytest.importorskip("Registry")
    from Registry import Registry

    hive, image = _log_only_model_edit(tmp_path)
    data = python_registry_recover(hive)
    assert bins(data) == bins(image)
    reg = Registry.Registry(io.BytesIO(data))
    values = {v.name(): v.value() for v in reg.open(r"Software\Example").values()}
    assert values["Dword"] == 0xC0FFEE and values["String"] == "flushed through the model"
    assert reg.open(r"Software\Logged").value("n").value() == 7


def test_log_only_flush_that_grows_the_hive_recovered_by_python_registry(
    tmp_path: Path,
) -> None:
    """A big value needs new bins: python-registry grows its image (regipy cannot, see
    test_flush.py::test_peer_bug_regipy_no_growth; regf checks it here too)."""
    pytest.importorskip("Registry")
    from Registry import Registry

    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    ed = edit(hive)
    big = bytes(range(256)) * 160  # 40 KiB: big data in new bins
    ed.create_key(r"Software\Grown", timestamp=FT).set_value("big", big, timestamp=FT)
    ed.flush(reconcile=False)
    assert ed.allocator.hbins_size > len(SAMPLE.read_bytes()) - BASE
    image = bytes(ed.image)
    ed.discard()
    assert read_recovered(hive) == bins(image)
    data = python_registry_recover(hive)
    assert bins(data) == bins(image)
    reg = Registry.Registry(io.BytesIO(data))
    assert reg.open(r"Software\Grown").value("big").value() == big


def test_log_only_flush_recovered_by_regipy(tmp_path: Path) -> None:
    pytest.importorskip("regipy")
    from regipy.registry import RegistryHive

    hive, image = _log_only_model_edit(tmp_path / "h")
    data = regipy_recover(hive, tmp_path / "restored")
    assert bins(data) == bins(image)  # (its base block checksum is wrong: a known bug)
    reg = RegistryHive(str(tmp_path / "restored"))
    values = {v.name: v.value for v in reg.get_key(r"\Software\Example").iter_values()}
    assert values["Dword"] == 0xC0FFEE and values["String"] == "flushed through the model"
    assert {v.name: v.value for v in reg.get_key(r"\Software\Logged").iter_values()} == {"n": 7}


@pytest.mark.peers
def test_full_flush_read_by_hivex_and_pyregf(tmp_path: Path) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    with edit(hive) as ed:
        Workload(5).run(ed, 60)
        ed.create_key(r"Software\Flushed").set_value("big", bytes(range(256)) * 100)
        ed.delete_key(r"Software\Example\Many\Sub0100")
    want = walk(hive)
    assert any(p == r"Software\Flushed" for p, _c, _v in want)
    checked = []
    with_pyregf = True
    try:
        got = oracles.walk_pyregf(hive)
    except oracles.PeerUnavailable:
        with_pyregf = False
    if with_pyregf:
        fixed, _counts = oracles.reconcile_pyregf(want, got)
        assert fixed == want, oracles.diff_walks(want, fixed, "regf", "pyregf")
        checked.append("pyregf")
    if oracles.hivex_available():
        hx = oracles.walk_hivex(hive)
        assert hx == oracles.without_classes(want), oracles.diff_walks(
            oracles.without_classes(want), hx, "regf", "hivex"
        )
        checked.append("hivex")
    if not checked:
        pytest.skip("neither pyregf nor hivex is available")


# ---------------------------------------------------------------------------------------
# Crash tests through the model
# ---------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """A hive folder at a committed state plus one model workload to flush."""

    folder: Path
    hive: Path
    baseline: dict[str, bytes]
    seed: int
    n: int
    reconcile: bool
    before: bytes = b""
    after: bytes = b""
    nops: int = 0
    oplog: list[tuple[str, str, int]] = field(default_factory=list)

    def run(self, ops: CrashOps | None) -> bytes:
        """Open r+ through ``ops``, run the workload, flush; return the flushed bins."""
        hive = open_editable(self.hive, io=ops)
        try:
            Workload(self.seed).run(hive, self.n)
            hive.flush(reconcile=self.reconcile)
            return bins(hive.image)
        finally:
            hive.discard()


def prepare(tmp: Path, src: Path, names: list[str], seed: int, history: int) -> Scenario:
    """Copy a hive, commit ``history`` model flushes (mixed full / log-only), measure."""
    folder = tmp / f"h{seed}"
    hive = copy_files(src, names, folder)
    rng = random.Random(seed)
    if history:
        ed = open_editable(hive)
        for i in range(history):
            Workload(seed * 31 + i).run(ed, 6)
            ed.flush(reconcile=rng.random() < 0.5)
        ed.discard()  # leaves the hive dirty about half of the time
    sc = Scenario(folder, hive, snapshot(folder), rng.randrange(1 << 30), 12, rng.random() < 0.5)
    sc.before = read_recovered(hive)
    counter = CrashOps()
    sc.after = sc.run(counter)
    assert sc.after != sc.before
    assert read_recovered(hive) == sc.after  # the uninterrupted flush lands
    sc.nops, sc.oplog = counter.count, list(counter.log)
    restore(folder, sc.baseline)
    return sc


def crash_and_check(sc: Scenario, ops: CrashOps) -> None:
    restore(sc.folder, sc.baseline)
    with pytest.raises(SimulatedCrash):
        sc.run(ops)
    k = ops.state.crash_at
    assert k is not None
    where = f"crash at op {k} {sc.oplog[k]} tear={ops.state.tear}"
    got = read_recovered(sc.hive)
    assert got in (sc.before, sc.after), where
    # A model writer reopens it (recovery written back) and sees the same state.
    with open_editable(sc.hive) as ed:
        assert bins(ed.image) == got, where
    assert read_recovered(sc.hive) == got, where


def every_position(sc: Scenario, *, tears: bool, sample: int | None = None) -> int:
    rng = random.Random(sc.seed)
    positions = list(range(sc.nops))
    if sample is not None and sample < len(positions):
        positions = sorted(rng.sample(positions, sample))
    trials = 0
    for k in positions:
        modes: list[str | None] = [None]
        if tears and sc.oplog[k][0] == "pwrite":
            modes += TEARS
        for tear in modes:
            crash_and_check(sc, CrashOps(k, tear=tear))
            trials += 1
    return trials


@pytest.mark.parametrize("seed", range(4))
def test_model_crash_every_position_sample(tmp_path: Path, seed: int) -> None:
    sc = prepare(tmp_path, SAMPLE.parent, [SAMPLE.name], seed, history=seed % 3)
    assert sc.nops >= 4
    assert every_position(sc, tears=True) >= sc.nops


@pytest.mark.parametrize("seed", range(2))
def test_model_crash_power_cut_sample(tmp_path: Path, seed: int) -> None:
    """Unsynced writes lost at random at the crash (a device that reorders writes)."""
    sc = prepare(tmp_path, SAMPLE.parent, [SAMPLE.name], 50 + seed, history=1)
    rng = random.Random(seed)
    for k in range(sc.nops):
        for _ in range(2):
            crash_and_check(
                sc, CrashOps(k, lose_unsynced=True, rng=random.Random(rng.randrange(1 << 30)))
            )


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS_HIVES))
def test_model_crash_every_position_corpus(tmp_path: Path, corpus: Path, name: str) -> None:
    rel, names = CORPUS_HIVES[name]
    src = corpus / rel
    if not all((src / n).is_file() for n in names):
        pytest.skip(f"{rel} not in this corpus")
    # The pure-Python backend hashes the 1 MB Windows logs of "regipy-transactions" in
    # Python at every recovery: sample positions there (every position with C).
    slow = regf.BACKEND == "python" and name == "regipy-transactions"
    for seed in range(3):
        sc = prepare(tmp_path, src, names, 1000 * seed + len(name), history=seed)
        every_position(sc, tears=seed == 0 and not slow, sample=4 if slow else None)


# ---------------------------------------------------------------------------------------
# Error state
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reconcile", [True, False])
def test_failed_flush_puts_the_hive_in_its_error_state(tmp_path: Path, reconcile: bool) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    open_editable(hive).close()  # lays out the (empty) logs: only the flush is failed
    sc = Scenario(tmp_path, hive, snapshot(tmp_path), 9, 10, reconcile)
    sc.before = read_recovered(hive)
    counter = CrashOps()
    sc.after = sc.run(counter)
    for k in range(counter.count):
        restore(tmp_path, sc.baseline)
        ops = FailingOps(k, OSError(errno.EIO, "injected I/O error"))
        ed = open_editable(hive, io=ops)
        Workload(sc.seed).run(ed, sc.n)
        key = ed.root.subkeys()[0]
        try:
            ed.flush(reconcile=reconcile)
        except OSError as exc:
            assert "injected" in str(exc)
        else:
            # The last op is close() making the clean mark durable (a full flush leaves
            # it unsynced): close raises, and the run still recovers the flush.
            assert reconcile and k == counter.count - 1, f"op {k} did not fail the flush"
            with pytest.raises(OSError, match="injected"):
                ed.close()
            assert read_recovered(hive) == sc.after
            continue
        assert ed.failed
        for op in (
            lambda h=ed: h.root,
            lambda k=key: k.name,
            lambda k=key: k.set_value("after", 1),
            lambda h=ed: h.create_key("after"),
            lambda h=ed: h.flush(),
            lambda h=ed: h.save_as(tmp_path / "copy.hiv"),
        ):
            with pytest.raises(regf.HiveStateError, match="earlier flush failed"):
                op()
        ed.close()  # allowed, writes nothing
        ed.close()
        got = read_recovered(hive)
        assert got in (sc.before, sc.after), f"I/O error at op {k} {counter.log[k]}"
        with open_editable(hive) as again:  # reopening recovers it
            assert bins(again.image) == got


# ---------------------------------------------------------------------------------------
# One writer; autoflush
# ---------------------------------------------------------------------------------------


def test_second_writer_is_refused_in_this_and_another_process(tmp_path: Path) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    alias = tmp_path / "alias.hiv"
    os.link(hive, alias)
    with edit(hive) as ed:
        for path in (hive, alias):
            with pytest.raises(regf.LockedError, match="this process"):
                regf.open(path, mode="r+")
        script = (
            "import sys, regf\n"
            "try:\n    regf.open(sys.argv[1], mode='r+')\n"
            "except regf.LockedError as e:\n    print('locked:', e)\n"
        )
        r = subprocess.run(
            [sys.executable, "-c", script, str(hive)],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            timeout=120,
            check=False,
        )
        assert r.stdout.startswith("locked:") and "another process" in r.stdout, r
        with regf.open(hive) as reader:  # readers are never blocked
            assert reader.root.name == ed.root.name
        ed.create_key("Mine")
    with edit(alias) as again:
        assert again.open_key("Mine").name == "Mine"


def test_autoflush_writes_dirty_hives_in_the_background(tmp_path: Path) -> None:
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    with edit(hive, autoflush=0.05) as ed:
        ed.create_key("Auto").set_value("v", "background")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with regf.open(hive, recover=False) as h:
                if "Auto" in [k.name for k in h.root.subkeys()] and not h.base_block.dirty:
                    break
            time.sleep(0.02)
        else:
            pytest.fail("the autoflush thread never flushed the hive")
        assert not ed.modified
    assert not [t for t in threading.enumerate() if t.name.startswith("regf-autoflush")]


def test_autoflush_is_serialised_with_edits(tmp_path: Path) -> None:
    """Edits racing a 1 ms autoflush: every flush sees whole operations only, so the file
    passes the structural check at the end and equals the model's last state."""
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    ed = edit(hive, autoflush=0.001)
    assert ed.pager is not None
    first = ed.pager.sequence
    wl = Workload(77)
    deadline = time.monotonic() + 60
    while ed.pager.sequence - first < 20 and time.monotonic() < deadline:
        wl.run(ed, 20)
        time.sleep(0.001)
    assert ed.pager.sequence - first >= 20, "too few background flushes to prove anything"
    want = walk(bytes(ed.image))
    ed.close()
    assert read_recovered(hive) and walk(hive) == want


def test_every_public_edit_is_serialised() -> None:
    """Guard for the autoflush lock: every public EditKey / EditHive method or property
    setter either holds the hive's mutex (edit_module.KEY_EDITS, ...) or is known not to
    change the image. A new editing method must be added to those lists."""
    read_only_key = {
        "child", "iter_subkeys", "open_key", "subkey", "subkeys", "to_spec", "value",
        "values",
    }  # fmt: skip
    read_only_hive = {
        "open_key", "walk", "to_spec", "to_bytes", "save_as", "flush", "close", "discard",
        "start_autoflush",
        "image_bytes",  # copies the image under the mutex itself; changes nothing
    }  # fmt: skip
    for cls, edits, setters, read_only in (
        (EditKey, edit_module.KEY_EDITS, edit_module.KEY_SETTERS, read_only_key),
        (EditHive, edit_module.HIVE_EDITS, (), read_only_hive),
    ):
        for name, member in inspect.getmembers(cls):
            if name.startswith("_"):
                continue
            if isinstance(member, property):
                if member.fset is not None:
                    assert name in setters, f"{cls.__name__}.{name} setter is not serialised"
                    assert hasattr(member.fset, "__wrapped__"), name
            elif callable(member):
                if name in edits:
                    assert hasattr(member, "__wrapped__"), f"{cls.__name__}.{name}"
                elif cls is EditKey and name in edit_module.SELF_LOCKED:
                    assert not hasattr(member, "__wrapped__"), name  # locks once, itself
                else:
                    assert name in read_only, f"{cls.__name__}.{name}: serialise or list it"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda k: k.create_key("Plain"), id="create_key-fast-path"),
        pytest.param(lambda k: k.create_key("Deep\\Er"), id="create_key-general-path"),
        pytest.param(
            lambda k: k.set_values([("v", b"1234", regf.REG_DWORD)]), id="set_values-bulk"
        ),
        pytest.param(lambda k: k.set_values({"v": "text"}), id="set_values-items"),
        pytest.param(lambda k: k.set_value("v", b"1234", regf.REG_DWORD), id="set_value-raw"),
        pytest.param(lambda k: k.set_value("v", ["a", "b"]), id="set_value-typed"),
    ],
)
def test_self_locked_edits_wait_for_the_mutex(
    tmp_path: Path, call: Callable[[EditKey], object]
) -> None:
    """The SELF_LOCKED edits take the hive's mutex in their body (no wrapper): while
    another thread holds it, they wait and change nothing; once it is released they run."""
    assert set(edit_module.SELF_LOCKED) == {"create_key", "set_value", "set_values"}
    with regf.create(tmp_path / "h.hiv") as hive:
        key = hive.create_key("K")
        before = bytes(hive.image)
        worker = threading.Thread(target=call, args=(key,))
        with hive._mutex:
            worker.start()
            worker.join(0.3)
            assert worker.is_alive(), "the edit ran without the mutex"
            assert bytes(hive.image) == before
        worker.join(30)
        assert not worker.is_alive()
        assert bytes(hive.image) != before


# ---------------------------------------------------------------------------------------
# SIGKILL of a model-level writer loop
# ---------------------------------------------------------------------------------------

_CHILD = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[3])
import regf
from test_model_flush import Workload, bins
hive, seed = sys.argv[1], int(sys.argv[2])
wl = Workload(seed)
ed = regf.open(hive, mode="r+")
out = sys.stdout
out.write("ready\n"); out.flush()
i = 0
while True:
    wl.run(ed, 5)
    digest = hashlib.sha256(bins(ed.image)).hexdigest()
    out.write(f"begin {i} {digest}\n"); out.flush()
    ed.flush(reconcile=wl.rng.random() < 0.5)
    out.write(f"done {i}\n"); out.flush()
    i += 1
"""


def _kill_once(hive: Path, rng: random.Random) -> int:
    """Run one writer, SIGKILL it at a random moment, check; return its returned flushes."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = hashlib.sha256(read_recovered(hive)).hexdigest()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(hive), str(rng.randrange(1 << 30)), str(ROOT / "tests")],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first == b"ready\n", first
    time.sleep(rng.random() * 0.4)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    lines = out.decode().splitlines()
    began = {int(ln.split()[1]): ln.split()[2] for ln in lines if ln.startswith("begin")}
    done = [int(ln.split()[1]) for ln in lines if ln.startswith("done")]
    got = hashlib.sha256(read_recovered(hive)).hexdigest()
    last = max(done) if done else None
    allowed = {start} if last is None else {began[last]}
    in_flight = 0 if last is None else last + 1
    if in_flight in began:
        allowed.add(began[in_flight])
    assert got in allowed, f"flush {last} returned but its state is gone"
    return len(done)


def test_sigkill_of_a_model_writer_never_loses_a_returned_flush(tmp_path: Path) -> None:
    rng = random.Random(5150)
    hive = copy_files(SAMPLE.parent, [SAMPLE.name], tmp_path)
    kills = flushes = 0
    deadline = time.monotonic() + 60
    while kills < 10 and time.monotonic() < deadline:
        flushes += _kill_once(hive, rng)
        kills += 1
        open_editable(hive).close()  # the next writer recovers whatever was left
    assert kills >= 3
    assert flushes > 0, "the writers never completed a flush: the test proved nothing"
