"""ZwFlushKey (nt-api/000): one scenario per documented behaviour."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import regf
from regf import nt

SOFT = r"\Registry\Machine\SOFT"


@pytest.fixture
def reg() -> nt.Registry:
    r = nt.Registry(lazy_flush=None)
    yield r
    if not r.closed:
        r.close()


def _on_disk(path: Path, key: str) -> str | None:
    with regf.open(path) as hive:
        try:
            k = hive.open_key(key)
        except regf.KeyNotFoundError:
            return None
        return k.name


def _values_on_disk(path: Path, key: str) -> dict[str, tuple[int, bytes]]:
    with regf.open(path) as hive:
        return {v.name: (int(v.type), v.raw) for v in hive.open_key(key).values()}


def test_flushkey_commits_createkey_and_setvaluekey_changes_to_disk(reg, tmp_path):
    f = tmp_path / "soft.hiv"
    reg.load_hive(SOFT, f, create_new=True)
    h, _ = reg.ZwCreateKey(SOFT + r"\Vendor", nt.KEY_ALL_ACCESS)
    reg.ZwSetValueKey(h, "Build", nt.REG_DWORD, (7).to_bytes(4, "little"))
    assert not f.exists()  # nothing is written before the flush (lazy flusher is off)
    reg.ZwFlushKey(h)
    # ZwFlushKey returns only once the data is in the file.
    assert _values_on_disk(f, "Vendor") == {"Build": (4, b"\x07\0\0\0")}
    reg.ZwClose(h)


def test_flushkey_flushes_the_entire_hive_including_every_subkey_and_siblings(reg, tmp_path):
    f = tmp_path / "soft.hiv"
    reg.load_hive(SOFT, f, create_new=True)
    a, _ = reg.ZwCreateKey(SOFT + r"\A", nt.KEY_ALL_ACCESS)
    b, _ = reg.ZwCreateKey(r"B", nt.KEY_ALL_ACCESS, root=a)
    c, _ = reg.ZwCreateKey(SOFT + r"\Sibling", nt.KEY_ALL_ACCESS)
    reg.ZwSetValueKey(b, "deep", nt.REG_BINARY, b"\1\2")
    reg.ZwSetValueKey(c, "other", nt.REG_BINARY, b"\3")
    reg.ZwFlushKey(a)  # a handle to A only
    assert _values_on_disk(f, r"A\B") == {"deep": (3, b"\1\2")}
    assert _values_on_disk(f, "Sibling") == {"other": (3, b"\3")}
    for h in (a, b, c):
        reg.ZwClose(h)


def test_flushkey_writes_only_the_hive_of_the_key(reg, tmp_path):
    one, two = tmp_path / "one.hiv", tmp_path / "two.hiv"
    reg.load_hive(r"\Registry\Machine\ONE", one, create_new=True)
    reg.load_hive(r"\Registry\Machine\TWO", two, create_new=True)
    h1, _ = reg.ZwCreateKey(r"\Registry\Machine\ONE\K", nt.KEY_ALL_ACCESS)
    h2, _ = reg.ZwCreateKey(r"\Registry\Machine\TWO\K", nt.KEY_ALL_ACCESS)
    reg.ZwFlushKey(h1)
    assert one.exists() and _on_disk(one, "K") == "K"
    assert not two.exists()
    reg.ZwClose(h1)
    reg.ZwClose(h2)


def test_flushkey_accepts_a_handle_from_zwopenkey_with_no_access(reg, tmp_path):
    f = tmp_path / "soft.hiv"
    reg.load_hive(SOFT, f, create_new=True)
    h, _ = reg.ZwCreateKey(SOFT + r"\K", nt.KEY_ALL_ACCESS)
    reg.ZwClose(h)
    h = reg.ZwOpenKey(SOFT + r"\K", 0)  # no rights at all: flushing needs none
    reg.ZwFlushKey(h)
    assert _on_disk(f, "K") == "K"
    reg.ZwClose(h)


def test_flushkey_returns_an_error_code_on_failure(reg, tmp_path):
    d = tmp_path / "gone"
    d.mkdir()
    reg.load_hive(SOFT, d / "soft.hiv", create_new=True)
    h, _ = reg.ZwCreateKey(SOFT + r"\K", nt.KEY_ALL_ACCESS)
    shutil.rmtree(d)  # the hive's directory disappears: the write must fail
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwFlushKey(h)
    assert err.value.status == nt.STATUS_REGISTRY_IO_FAILED
    reg.ZwClose(h)
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwFlushKey(h)
    assert err.value.status == nt.STATUS_INVALID_HANDLE
    d.mkdir()  # let close() succeed


def test_flushkey_not_needed_because_the_system_flushes_every_few_seconds(tmp_path):
    f = tmp_path / "soft.hiv"
    with nt.Registry(lazy_flush=0.05) as reg:
        reg.load_hive(SOFT, f, create_new=True)
        h, _ = reg.ZwCreateKey(SOFT + r"\Lazy", nt.KEY_ALL_ACCESS)
        reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"x")
        deadline = time.monotonic() + 10
        while not f.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert f.exists(), "the lazy flusher never wrote the dirty hive"
        assert _values_on_disk(f, "Lazy") == {"v": (3, b"x")}
        reg.ZwClose(h)


@pytest.mark.parametrize("above", [r"\Registry\Machine", r"\Registry", r"\Registry\User"])
def test_flushkey_above_the_loaded_hives_flushes_every_loaded_hive(reg, tmp_path, above):
    """nt-api/000: ZwFlushKey on a key above the hives flushes the whole registry: every
    loaded hive, in whichever part of the namespace it is loaded."""
    one, two = tmp_path / "one.hiv", tmp_path / "two.hiv"
    reg.load_hive(r"\Registry\Machine\ONE", one, create_new=True)
    reg.load_hive(r"\Registry\User\TWO", two, create_new=True)
    for root in (r"\Registry\Machine\ONE", r"\Registry\User\TWO"):
        h, _ = reg.ZwCreateKey(root + r"\K", nt.KEY_ALL_ACCESS)
        reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"1")
        reg.ZwClose(h)
    assert not one.exists() and not two.exists()
    h = reg.ZwOpenKey(above, nt.KEY_READ)
    reg.ZwFlushKey(h)
    reg.ZwClose(h)
    assert _values_on_disk(one, "K") == {"v": (3, b"1")}
    assert _values_on_disk(two, "K") == {"v": (3, b"1")}
    assert not reg.hive_flags(r"\Registry\Machine\ONE")["dirty"]


def test_flushkey_on_a_master_hive_key_with_no_hive_loaded_succeeds(reg):
    h = reg.ZwOpenKey(r"\Registry\Machine", nt.KEY_READ)
    reg.ZwFlushKey(h)
    reg.ZwClose(h)


def test_registry_close_flushes_all_dirty_hives(tmp_path):
    one, two = tmp_path / "one.hiv", tmp_path / "two.hiv"
    reg = nt.Registry(lazy_flush=None)
    reg.load_hive(r"\Registry\Machine\ONE", one, create_new=True)
    reg.load_hive(r"\Registry\User\TWO", two, create_new=True)
    for root in (r"\Registry\Machine\ONE", r"\Registry\User\TWO"):
        h, _ = reg.ZwCreateKey(root + r"\K", nt.KEY_ALL_ACCESS)
        reg.ZwClose(h)
    reg.close()
    assert _on_disk(one, "K") == "K" and _on_disk(two, "K") == "K"


# -- hive files loaded from disk: ZwFlushKey flushes in place through the logs ---------

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample.hiv"


def _changed_pages(a: bytes, b: bytes) -> int:
    n = max(len(a), len(b)) // 4096
    return sum(a[i * 4096 : (i + 1) * 4096] != b[i * 4096 : (i + 1) * 4096] for i in range(n))


def test_flushkey_on_a_loaded_hive_file_writes_the_log_then_the_pages(tmp_path):
    f = tmp_path / "soft.hiv"
    shutil.copyfile(SAMPLE, f)
    with nt.Registry(lazy_flush=None) as reg:
        reg.load_hive(SOFT, f)
        with pytest.raises(regf.LockedError):  # the registry holds the writer lock
            regf.open(f, mode="r+")
        h, _ = reg.ZwCreateKey(SOFT + r"\Software\Vendor", nt.KEY_ALL_ACCESS)
        reg.ZwSetValueKey(h, "Build", nt.REG_DWORD, (7).to_bytes(4, "little"))
        v, _ = reg.ZwCreateKey(
            SOFT + r"\Software\Vendor\Run", nt.KEY_ALL_ACCESS, create_options=nt.REG_OPTION_VOLATILE
        )
        before = f.read_bytes()
        reg.ZwFlushKey(h)
        log1 = f.with_name(f.name + ".LOG1")
        assert log1.is_file() and log1.stat().st_size > 512  # the dirty pages went here first
        with regf.open(f, recover=False) as disk:  # reconciled: no log needed to read it
            assert not disk.base_block.dirty
            assert disk.base_block.seq1 == disk.base_block.seq2 > 1
        assert _values_on_disk(f, r"Software\Vendor") == {"Build": (4, b"\x07\0\0\0")}
        assert _on_disk(f, r"Software\Vendor\Run") is None  # volatile: never written
        after = f.read_bytes()
        assert 0 < _changed_pages(before, after) <= 8  # the dirty pages, not the file
        reg.ZwClose(v)
        reg.ZwClose(h)
    regf.open(f, mode="r+").close()  # unloaded on close: the lock is free again


def test_load_hive_recovers_a_dirty_hive_file_and_flushkey_reconciles(tmp_path):
    f = tmp_path / "soft.hiv"
    shutil.copyfile(SAMPLE, f)
    with regf.open(f, mode="r+") as ed:  # a log-only flush, then "the system died"
        ed.create_key("Pending").set_value("p", 1)
        ed.flush(reconcile=False)
        ed.discard()
    with regf.open(f, recover=False) as stale:
        assert stale.base_block.dirty
    reg = nt.Registry(lazy_flush=None)
    try:
        reg.load_hive(SOFT, f)  # loading recovers and writes the recovered state back
        with regf.open(f, recover=False) as disk:
            assert not disk.base_block.dirty
        h = reg.ZwOpenKey(SOFT + r"\Pending", nt.KEY_ALL_ACCESS)
        reg.ZwSetValueKey(h, "q", nt.REG_BINARY, b"\1")
        reg.ZwFlushKey(h)
        assert _values_on_disk(f, "Pending") == {"p": (4, b"\1\0\0\0"), "q": (3, b"\1")}
        reg.ZwClose(h)
    finally:
        reg.close()


def test_lazy_flusher_flushes_a_loaded_hive_file(tmp_path):
    f = tmp_path / "soft.hiv"
    shutil.copyfile(SAMPLE, f)
    with nt.Registry(lazy_flush=0.05) as reg:
        reg.load_hive(SOFT, f)
        h, _ = reg.ZwCreateKey(SOFT + r"\Lazy", nt.KEY_ALL_ACCESS)
        reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"x")
        deadline = time.monotonic() + 20
        while _values_on_disk_or_none(f, "Lazy") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _values_on_disk(f, "Lazy") == {"v": (3, b"x")}
        reg.ZwClose(h)


def _values_on_disk_or_none(path: Path, key: str) -> dict[str, tuple[int, bytes]] | None:
    try:
        return _values_on_disk(path, key)
    except regf.KeyNotFoundError:
        return None


def test_load_hive_of_a_locked_file_is_a_sharing_violation(tmp_path):
    f = tmp_path / "soft.hiv"
    shutil.copyfile(SAMPLE, f)
    with nt.Registry(lazy_flush=None) as reg:
        with regf.open(f, mode="r+"):  # another writer has it
            with pytest.raises(nt.NtStatusError) as err:
                reg.load_hive(SOFT, f)
            assert err.value.status == nt.STATUS_SHARING_VIOLATION
        reg.load_hive(SOFT, f)  # and now it loads


def test_no_lazy_flush_hive_is_written_only_by_an_explicit_flush(tmp_path):
    """REG_NO_LAZY_FLUSH (winnt.h; ZwLoadKeyEx Flags): the lazy flusher, which writes
    the other hives "every few seconds" (nt-api/000), passes this hive by; ZwFlushKey
    writes it. The interval is per registry."""
    lazy, manual = tmp_path / "lazy.hiv", tmp_path / "manual.hiv"
    shutil.copyfile(SAMPLE, lazy)
    shutil.copyfile(SAMPLE, manual)
    with nt.Registry(lazy_flush=0.05) as reg:
        reg.load_hive(r"\Registry\Machine\LAZY", lazy)
        reg.load_hive(r"\Registry\Machine\MANUAL", manual, flags=nt.REG_NO_LAZY_FLUSH)
        assert reg.hive_flags(r"\Registry\Machine\MANUAL")["no_lazy_flush"]
        handles = []
        for root in (r"\Registry\Machine\LAZY", r"\Registry\Machine\MANUAL"):
            h, _ = reg.ZwCreateKey(root + r"\Made", nt.KEY_ALL_ACCESS)
            reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"1")
            handles.append(h)
        flusher = reg._flusher
        assert flusher is not None
        start = flusher.passes
        deadline = time.monotonic() + 10
        while _values_on_disk_or_none(lazy, "Made") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        while flusher.passes < start + 3 and time.monotonic() < deadline:
            time.sleep(0.02)  # several more lazy passes
        assert _values_on_disk_or_none(lazy, "Made") == {"v": (3, b"1")}
        assert _values_on_disk_or_none(manual, "Made") is None
        reg.flush_all()  # "what the lazy flusher does": still not this hive
        assert _values_on_disk_or_none(manual, "Made") is None
        assert reg.hive_flags(r"\Registry\Machine\MANUAL")["dirty"]
        reg.ZwFlushKey(handles[1])
        assert _values_on_disk_or_none(manual, "Made") == {"v": (3, b"1")}
        for h in handles:
            reg.ZwClose(h)
