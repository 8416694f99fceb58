"""``mode="r+"`` reads (and recovers) a hive once: the whole-hive check runs on the
pager's image, in memory, before the pager writes anything (regf/model/opening.py,
the ``validate`` hook of :meth:`regf.storage.flush.Pager.open`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from crashio import CrashOps

import regf
from regf._accel import checksum
from regf.format.constants import BASE, PAGE
from regf.format.fast import BASE_L, CELL_L
from regf.model import check
from regf.model.check import full_check
from regf.model.fuzz import generate
from regf.storage import recovery
from regf.storage.flush import Pager

# -- counting every open of a file by any code (os.open, open(), Path.read_bytes) -------

_RECORDS: list[list[tuple[str, int]]] = []
_HOOKED = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _RECORDS and isinstance(args[0], str | bytes | os.PathLike):
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        _RECORDS[-1].append((os.path.realpath(os.fsdecode(args[0])), flags))


@contextmanager
def recorded_opens() -> Iterator[list[tuple[str, int]]]:
    """Every file opened in the block, as (real path, open flags)."""
    global _HOOKED
    if not _HOOKED:  # an audit hook cannot be removed: install one, gated by _RECORDS
        sys.addaudithook(_audit)
        _HOOKED = True
    opens: list[tuple[str, int]] = []
    _RECORDS.append(opens)
    try:
        yield opens
    finally:
        _RECORDS.pop()


def _count(opens: list[tuple[str, int]], path: Path, *, read_only: bool = False) -> int:
    want = os.path.realpath(path)
    return sum(
        1
        for p, flags in opens
        if p == want and (not read_only or flags & os.O_ACCMODE == os.O_RDONLY)
    )


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls of the log recovery (reader's and pager's) and of the whole-hive check."""
    calls = {"recover": 0, "check": 0}
    real_recover, real_check = recovery._recover, check.quick_sound

    def counting_recover(*args: Any, **kwargs: Any) -> Any:
        calls["recover"] += 1
        return real_recover(*args, **kwargs)

    def counting_check(*args: Any, **kwargs: Any) -> Any:
        calls["check"] += 1
        return real_check(*args, **kwargs)

    monkeypatch.setattr(recovery, "_recover", counting_recover)
    monkeypatch.setattr(check, "quick_sound", counting_check)
    return calls


# -- hives -----------------------------------------------------------------------------


def _sound_hive() -> tuple[bytes, int]:
    """A generated hive that passes the check, and the file offset of its root's sk."""
    data, _ = generate(5, max_keys=15)
    with regf.open(data) as h:
        assert full_check(h).ok
        return data, BASE + h.root.security_index


def _free_cell(image: bytearray, offset: int) -> None:
    """Mark the allocated cell at ``offset`` free (size sign flipped): every key still
    reads, only the whole-hive check trips."""
    size = CELL_L.field("size").unpack_from(image, offset)
    assert size < 0
    CELL_L.field("size").pack_into(image, offset, -size)


def _dirty_hive(path: Path, damage: bool) -> int:
    """Write a hive at ``path`` whose primary is sound but dirty, its last flush only in
    a log (``reconcile=False``); with ``damage`` that flush freed the root's sk cell.
    Returns the sk cell's offset."""
    data, sk = _sound_hive()
    path.write_bytes(data)
    pager, image, _ = Pager.open(path)
    with pager:
        if damage:
            _free_cell(image, sk)
        else:
            image[sk + 8] = image[sk + 8]  # same bytes: a sound flush of that page
        pager.flush(image, [sk // PAGE], reconcile=False)
    head = path.read_bytes()[:BASE]
    assert BASE_L.field("seq1").unpack_from(head, 0) != BASE_L.field("seq2").unpack_from(head, 0)
    return sk


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- the file is read once -------------------------------------------------------------


def test_r_plus_opens_a_clean_hive_once_and_checks_it_once(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    path = tmp_path / "h.hiv"
    path.write_bytes(_sound_hive()[0])
    with recorded_opens() as opens, regf.open(path, mode="r+") as h:
        assert h.root.subkey_count > 0
    assert _count(opens, path) == 1  # the pager's descriptor, nothing else
    assert counted == {"recover": 0, "check": 1}


def test_r_plus_reads_and_recovers_a_dirty_hive_once(
    tmp_path: Path, counted: dict[str, int]
) -> None:
    path = tmp_path / "h.hiv"
    _dirty_hive(path, damage=False)
    logs = [tmp_path / "h.hiv.LOG1", tmp_path / "h.hiv.LOG2"]
    with recorded_opens() as opens, regf.open(path, mode="r+") as h:
        assert h.recovery is not None and h.recovery.applied
    assert _count(opens, path) == 1
    # No read-only open of the hive or a log (the old pre-check's separate read): every
    # log access is the pager's, and the logs are applied once.
    assert not any(_count(opens, p, read_only=True) for p in [path, *logs])
    assert counted == {"recover": 1, "check": 1}
    with regf.open(path, recover=False) as h:  # the recovery was written back
        assert not h.dirty and full_check(h).ok


def test_r_plus_repair_skips_the_check(tmp_path: Path, counted: dict[str, int]) -> None:
    path = tmp_path / "h.hiv"
    path.write_bytes(_sound_hive()[0])
    with regf.open(path, mode="r+", repair=True):
        pass
    assert counted["check"] == 0


# -- a dirty hive whose recovered image fails the check --------------------------------


def test_dirty_hive_damaged_by_its_log_is_refused_without_a_byte_changed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.hiv"
    sk = _dirty_hive(path, damage=True)
    before = _files(tmp_path)
    assert sorted(before) == ["h.hiv", "h.hiv.LOG1", "h.hiv.LOG2"]
    with regf.open(path, recover=False) as h:  # the primary alone is sound ...
        assert full_check(h, dirty=False).ok
    with pytest.raises(regf.DamagedHiveError) as info:  # ... its recovery is not
        regf.open(path, mode="r+")
    assert info.value.offset == sk and "free" in str(info.value)
    assert _files(tmp_path) == before  # not written back, logs not emptied or created
    # The lock was released, and repair=True edits the recovered (damaged) state.
    with regf.open(path, mode="r+", repair=True) as h:
        assert h.recovery is not None
    with regf.open(path, recover=False) as h:
        assert not h.dirty and not full_check(h).ok


# -- the storage hook itself -----------------------------------------------------------


@pytest.mark.parametrize("dirty", [False, True])
def test_pager_validate_runs_once_before_any_write(tmp_path: Path, dirty: bool) -> None:
    path = tmp_path / "h.hiv"
    if dirty:
        _dirty_hive(path, damage=False)
    else:
        path.write_bytes(_sound_hive()[0])
    before = _files(tmp_path)
    ops = CrashOps()  # crash_at=None: counts every write, fsync, truncate, unlink
    seen: list[tuple[int, bytes]] = []

    def refuse(image: bytearray) -> None:
        seen.append((ops.count, bytes(image)))
        raise regf.DamagedHiveError("refused by the test", 0)

    with pytest.raises(regf.DamagedHiveError, match="refused by the test"):
        Pager.open(path, io=ops, validate=refuse)
    assert len(seen) == 1 and seen[0][0] == 0 and ops.count == 0
    assert _files(tmp_path) == before
    # The hook saw the image the pager goes on to edit (recovered when dirty), and the
    # lock was released: the same open without the hook succeeds and returns it.
    pager, image, report = Pager.open(path, io=ops, validate=lambda im: seen.append((0, b"")))
    with pager:
        assert (report is not None) == dirty
        assert image[BASE:] == seen[0][1][BASE:]
    assert ops.count > 0  # and then wrote (the recovery back, the missing logs)


# -- a file the writer refuses before the check: the reader's (more precise) error ------


def _set(data: bytes, offset: int, raw: bytes, *, fix_checksum: bool = True) -> bytes:
    buf = bytearray(data)
    buf[offset : offset + len(raw)] = raw
    if fix_checksum:
        BASE_L.field("checksum").pack_into(buf, 0, checksum(bytes(buf[:508])))
    return bytes(buf)


_MANGLE = {
    "truncated": lambda d: d[:5000],
    "signature": lambda d: _set(d, 0, b"XXXX"),
    "major 9": lambda d: _set(d, BASE_L.offset("major"), b"\x09"),
    "major 9, bad checksum": lambda d: _set(d, BASE_L.offset("major"), b"\x09", fix_checksum=False),
    "minor 9": lambda d: _set(d, BASE_L.offset("minor"), b"\x09"),
    "bins past the end": lambda d: _set(d, BASE_L.offset("hbins_size"), b"\x00\x00\x10\x00"),
}


@pytest.mark.filterwarnings("ignore:hive is dirty")  # the read-only open's, expected
@pytest.mark.parametrize("how", sorted(_MANGLE))
def test_r_plus_refuses_a_bad_file_with_the_readers_error(tmp_path: Path, how: str) -> None:
    path = tmp_path / "h.hiv"
    path.write_bytes(_MANGLE[how](_sound_hive()[0]))
    before = _files(tmp_path)
    with pytest.raises(regf.RegfError) as ro:
        regf.open(path)
    with pytest.raises(regf.RegfError) as rw:
        regf.open(path, mode="r+")
    assert (type(rw.value), str(rw.value)) == (type(ro.value), str(ro.value))
    assert _files(tmp_path) == before
