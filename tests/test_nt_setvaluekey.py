"""ZwSetValueKey (nt-api/002): one scenario per documented behaviour."""

from __future__ import annotations

import pytest

import regf
from regf import nt

ROOT = r"\Registry\Machine\TEST"


@pytest.fixture
def reg(tmp_path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None)
    r.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
    yield r
    if not r.closed:
        r.close()


@pytest.fixture
def key(reg) -> int:
    h, _ = reg.ZwCreateKey(ROOT + r"\Key", nt.KEY_ALL_ACCESS)
    return h


def _values(reg: nt.Registry, h: int) -> list[tuple[str, int, bytes]]:
    out = []
    i = 0
    while True:
        try:
            v = reg.ZwEnumerateValueKey(h, i, nt.KeyValueFullInformation)
        except nt.NtStatusError as err:
            assert err.status == nt.STATUS_NO_MORE_ENTRIES
            return out
        out.append((v.Name, v.Type, v.Data))
        i += 1


def test_setvaluekey_creates_a_value_entry_when_none_has_the_name(reg, key):
    assert _values(reg, key) == []
    reg.ZwSetValueKey(key, "Fresh", nt.REG_BINARY, b"\x01\x02")
    assert _values(reg, key) == [("Fresh", nt.REG_BINARY, b"\x01\x02")]


def test_setvaluekey_replaces_the_data_of_an_existing_name_keeping_names_unique(reg, key):
    reg.ZwSetValueKey(key, "Name", nt.REG_SZ, "old\0".encode("utf-16-le"))
    reg.ZwSetValueKey(key, "NAME", nt.REG_DWORD, (5).to_bytes(4, "little"))  # same name
    assert _values(reg, key) == [("Name", nt.REG_DWORD, b"\x05\0\0\0")]
    full = reg.ZwQueryKey(key, nt.KeyFullInformation)
    assert full.Values == 1


def test_setvaluekey_same_value_name_in_different_keys_are_separate_entries(reg, key):
    other, _ = reg.ZwCreateKey(ROOT + r"\Other", nt.KEY_ALL_ACCESS)
    reg.ZwSetValueKey(key, "Shared", nt.REG_BINARY, b"a")
    reg.ZwSetValueKey(other, "Shared", nt.REG_BINARY, b"b")
    assert _values(reg, key) == [("Shared", nt.REG_BINARY, b"a")]
    assert _values(reg, other) == [("Shared", nt.REG_BINARY, b"b")]


TYPED = [
    (nt.REG_BINARY, b"\x00\xff\x10"),
    (nt.REG_DWORD, (0x12345678).to_bytes(4, "little")),
    (nt.REG_DWORD_LITTLE_ENDIAN, (0x12345678).to_bytes(4, "little")),
    (nt.REG_DWORD_BIG_ENDIAN, (0x12345678).to_bytes(4, "big")),
    (nt.REG_EXPAND_SZ, "%PATH%;x\0".encode("utf-16-le")),
    (nt.REG_LINK, r"\Registry\Machine\TEST".encode("utf-16-le")),
    (nt.REG_MULTI_SZ, "a\0bc\0\0".encode("utf-16-le")),
    (nt.REG_NONE, b"anything"),
    (nt.REG_SZ, "text\0".encode("utf-16-le")),
    (nt.REG_RESOURCE_LIST, bytes(range(20))),
    (nt.REG_RESOURCE_REQUIREMENTS_LIST, bytes(range(32))),
    (nt.REG_FULL_RESOURCE_DESCRIPTOR, bytes(range(16))),
]


@pytest.mark.parametrize(("vtype", "data"), TYPED, ids=[t.name for t, _ in TYPED])
def test_setvaluekey_stores_every_documented_type_and_its_data_exactly(
    reg, key, tmp_path, vtype, data
):
    reg.ZwSetValueKey(key, "V", vtype, data)
    v = reg.ZwQueryValueKey(key, "V", nt.KeyValuePartialInformation)
    assert (v.Type, v.DataLength, v.Data) == (vtype, len(data), data)
    reg.ZwFlushKey(key)
    with regf.open(tmp_path / "t.hiv") as hive:
        stored = hive.open_key("Key").value("V")
        assert (int(stored.type), stored.raw) == (vtype, data)


def test_setvaluekey_dword_little_endian_is_identical_to_dword():
    assert nt.REG_DWORD_LITTLE_ENDIAN == nt.REG_DWORD == 4
    assert nt.REG_DWORD_BIG_ENDIAN == 5


@pytest.mark.parametrize("null_name", [None, ""])
def test_setvaluekey_null_or_empty_name_is_the_default_value(reg, key, null_name):
    reg.ZwSetValueKey(key, null_name, nt.REG_SZ, "dflt\0".encode("utf-16-le"))
    # Both spellings address the one unnamed value.
    for name in (None, ""):
        v = reg.ZwQueryValueKey(key, name, nt.KeyValueFullInformation)
        assert (v.Name, v.NameLength, v.Data) == ("", 0, "dflt\0".encode("utf-16-le"))
    reg.ZwSetValueKey(key, "" if null_name is None else None, nt.REG_BINARY, b"2")
    assert _values(reg, key) == [("", nt.REG_BINARY, b"2")]


def test_setvaluekey_string_size_includes_the_terminating_zeros_given_by_the_caller(reg, key):
    with_nul = "abc\0".encode("utf-16-le")
    without = "abc".encode("utf-16-le")
    reg.ZwSetValueKey(key, "Term", nt.REG_SZ, with_nul)
    reg.ZwSetValueKey(key, "NoTerm", nt.REG_SZ, without)  # stored as given, not fixed up
    assert reg.ZwQueryValueKey(key, "Term", nt.KeyValuePartialInformation).DataLength == 8
    assert reg.ZwQueryValueKey(key, "NoTerm", nt.KeyValuePartialInformation).Data == without
    multi = "a\0b\0\0".encode("utf-16-le")
    reg.ZwSetValueKey(key, "Multi", nt.REG_MULTI_SZ, multi)
    assert reg.ZwQueryValueKey(key, "Multi", nt.KeyValuePartialInformation).DataLength == 10


def test_setvaluekey_needs_key_set_value_access(reg, key):
    reg.ZwClose(key)
    read_only = reg.ZwOpenKey(ROOT + r"\Key", nt.KEY_READ | nt.KEY_CREATE_SUB_KEY)
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwSetValueKey(read_only, "X", nt.REG_BINARY, b"1")
    assert err.value.status == nt.STATUS_ACCESS_DENIED
    reg.ZwClose(read_only)
    only_set = reg.ZwOpenKey(ROOT + r"\Key", nt.KEY_SET_VALUE)
    reg.ZwSetValueKey(only_set, "X", nt.REG_BINARY, b"1")  # KEY_SET_VALUE alone suffices
    generic = reg.ZwOpenKey(ROOT + r"\Key", nt.GENERIC_WRITE)  # maps to KEY_WRITE
    reg.ZwSetValueKey(generic, "Y", nt.REG_BINARY, b"2")
    reg.ZwClose(only_set)
    reg.ZwClose(generic)


@pytest.mark.parametrize("bad", ["closed", 0, 0x1234, -4, "text", None])
def test_setvaluekey_invalid_handle(reg, key, bad):
    if bad == "closed":
        reg.ZwClose(key)
        bad = key
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwSetValueKey(bad, "X", nt.REG_BINARY, b"1")
    assert err.value.status == nt.STATUS_INVALID_HANDLE


def test_setvaluekey_titleindex_is_reserved_and_reported_as_zero(reg, key):
    reg.ZwSetValueKey(key, "T", nt.REG_BINARY, b"1", title_index=77)
    assert reg.ZwQueryValueKey(key, "T", nt.KeyValueBasicInformation).TitleIndex == 0


def test_setvaluekey_handle_from_zwopenkey_or_zwcreatekey_both_work(reg, key):
    reg.ZwSetValueKey(key, "FromCreate", nt.REG_BINARY, b"1")
    opened = reg.ZwOpenKey(ROOT + r"\Key", nt.KEY_ALL_ACCESS)
    reg.ZwSetValueKey(opened, "FromOpen", nt.REG_BINARY, b"2")
    assert [n for n, _, _ in _values(reg, key)] == ["FromCreate", "FromOpen"]
    reg.ZwClose(opened)


def test_setvaluekey_on_a_deleted_key_fails_with_key_deleted(reg, key):
    reg.ZwDeleteKey(key)
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwSetValueKey(key, "X", nt.REG_BINARY, b"1")
    assert err.value.status == nt.STATUS_KEY_DELETED


def test_setvaluekey_updates_the_keys_last_write_time(reg, key):
    before = reg.ZwQueryKey(key, nt.KeyBasicInformation).LastWriteTime
    reg.ZwSetValueKey(key, "X", nt.REG_BINARY, b"1")
    assert reg.ZwQueryKey(key, nt.KeyBasicInformation).LastWriteTime >= before


def test_setvaluekey_rejects_non_bytes_data_and_bad_types(reg, key):
    for args in (("X", nt.REG_SZ, "not bytes"), ("X", -1, b""), ("X", 1 << 32, b"")):
        with pytest.raises(nt.NtStatusError) as err:
            reg.ZwSetValueKey(key, *args)
        assert err.value.status == nt.STATUS_INVALID_PARAMETER
    reg.ZwSetValueKey(key, "Empty", nt.REG_NONE, None)  # Data is optional when DataSize is 0
    assert reg.ZwQueryValueKey(key, "Empty", nt.KeyValuePartialInformation).DataLength == 0
