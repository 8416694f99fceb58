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


def test_flushkey_on_a_master_hive_key_writes_nothing_and_succeeds(reg):
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
