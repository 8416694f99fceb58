"""Opening hive files: file kinds (issue 19 B) and bounded reads (issue 19 C).

Every input is built by the test itself: a FIFO with ``os.mkfifo``, a directory, and
sparse files of 10 GB made with ``os.truncate`` (they cost no disk space).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import regf
from regf._accel import checksum
from regf.errors import FileKindError, FormatError, RegfError

TEN_GB = 10 << 30
#: Far below 10 GB, far above what an 8 KB hive needs (the image plus the model's
#: bookkeeping): a read of the whole file could not stay under it.
MEMORY_CAP = 64 << 20


def _small_hive(path: Path) -> int:
    """Write a small valid hive with one value at ``path``; return its file size."""
    with regf.create(path) as h:
        h.create_key("Software\\Test").set_value("n", 1, regf.REG_DWORD)
    return path.stat().st_size


def _leave_dirty(path: Path, n: int) -> None:
    """Set the value to ``n`` with a log-only flush and close without reconciling."""
    h = regf.open(path, mode="r+")
    h.open_key("Software\\Test").set_value("n", n, regf.REG_DWORD)
    h.flush(reconcile=False)  # the new value lives in LOG1 only
    h.discard()
    with open(path, "rb") as fh:
        seq1, seq2 = struct.unpack("<II", fh.read(12)[4:])
    assert seq1 != seq2, "the primary should be dirty on disk"


def _value(path: Path, mode: str = "r") -> Any:
    with regf.open(path, mode=mode) as h:
        return h.open_key("Software\\Test").value("n").data


def _open_in_thread(path: Path, mode: str) -> BaseException | None:
    """regf.open(path, mode) in a thread; fail the test if it blocks for 10 seconds."""
    result: list[BaseException | None] = []

    def run() -> None:
        try:
            regf.open(path, mode=mode).close()
            result.append(None)
        except BaseException as exc:
            result.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        # Unblock the reader so the thread ends, then fail.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(5)
        pytest.fail(f"regf.open({path.name!r}, mode={mode!r}) blocked on a FIFO")
    return result[0]


# -- bug B: file kinds -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_bug_B_fifo_is_refused_without_blocking(tmp_path: Path, mode: str) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    exc = _open_in_thread(fifo, mode)
    assert isinstance(exc, FileKindError) and "FIFO" in str(exc)


def test_bug_B_cli_info_on_a_fifo_exits_with_an_error(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    r = subprocess.run(
        [sys.executable, "-m", "regf", "info", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode != 0 and "FIFO" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_bug_B_directory_raises_a_regf_error(tmp_path: Path, mode: str) -> None:
    with pytest.raises(RegfError) as e:
        regf.open(tmp_path, mode=mode)
    assert isinstance(e.value, FileKindError) and "directory" in str(e.value)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_bug_B_character_device_is_refused() -> None:
    with pytest.raises(FileKindError, match="character device"):
        regf.open("/dev/null")


def test_bug_B_fifo_in_place_of_a_log_is_refused(tmp_path: Path) -> None:
    hive = tmp_path / "h"
    _small_hive(hive)
    _leave_dirty(hive, 2)
    # A reader given a FIFO as a log refuses it instead of waiting for a writer.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileKindError, match="FIFO"):
        regf.open(hive, logs=[fifo])
    # A writer finding a FIFO where its log goes refuses before writing anything.
    os.unlink(tmp_path / "h.LOG2")
    os.mkfifo(tmp_path / "h.LOG2")
    before = hive.read_bytes()
    with pytest.raises(FileKindError, match="FIFO"):
        regf.open(hive, mode="r+")
    assert hive.read_bytes() == before


# -- bug C: read only what the base block declares ---------------------------------------


def _peak_during(fn: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_bug_C_sparse_10gb_file_costs_its_declared_size(tmp_path: Path) -> None:
    hive = tmp_path / "h"
    declared = _small_hive(hive)
    os.truncate(hive, TEN_GB)  # a sparse tail: no disk space

    def edit() -> int:
        with regf.open(hive, mode="r+") as h:
            assert len(h.image) == declared
            h.open_key("Software\\Test").set_value("n", 7, regf.REG_DWORD)
            h.flush()
        return 0

    _, peak = _peak_during(edit)
    assert peak < MEMORY_CAP
    value, peak = _peak_during(lambda: _value(hive))
    assert value == 7 and peak < MEMORY_CAP
    assert hive.stat().st_size == TEN_GB  # padding is left alone, never read


def test_bug_C_dirty_sparse_10gb_file_is_recovered_without_reading_it(tmp_path: Path) -> None:
    hive = tmp_path / "h"
    _small_hive(hive)
    _leave_dirty(hive, 9)
    os.truncate(hive, TEN_GB)
    value, peak = _peak_during(lambda: _value(hive))  # read-only recovery in memory
    assert value == 9 and peak < MEMORY_CAP
    value, peak = _peak_during(lambda: _value(hive, "r+"))  # recovered and written back
    assert value == 9 and peak < MEMORY_CAP
    assert _value(hive) == 9


def _declare(path: Path, hbins: int) -> None:
    """Set the base block's hive-bins size (0x28) and a valid checksum."""
    with open(path, "r+b") as fh:
        head = bytearray(fh.read(4096))
        struct.pack_into("<I", head, 0x28, hbins)
        struct.pack_into("<I", head, 0x1FC, checksum(bytes(head[:512])))
        fh.seek(0)
        fh.write(head)


@pytest.mark.parametrize(
    ("hbins", "why"),
    [(0x7FFFF000, "before the hive bins end"), (0x80000000, "below 2 GiB")],
    ids=["past-the-file", "beyond-the-cap"],
)
def test_bug_C_absurd_declared_size_is_a_typed_error(tmp_path: Path, hbins: int, why: str) -> None:
    hive = tmp_path / "h"
    _small_hive(hive)
    _declare(hive, hbins)
    with pytest.raises(FormatError, match=why) as e:
        regf.open(hive, mode="r+")
    assert e.value.offset is not None
    # Padding the file to match does not make a 2 GiB+ declaration acceptable either,
    # and a declaration that fits a sparse file is read only as far as it says.
    os.truncate(hive, TEN_GB)
    if hbins >= 0x80000000:
        with pytest.raises(FormatError, match=why):
            regf.open(hive, mode="r+")
