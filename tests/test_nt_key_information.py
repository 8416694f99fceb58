"""KEY_FULL_INFORMATION (nt-api/003) and the other information classes: Windows x64
byte layouts checked field by field with ``struct`` at the DDK offsets (independently
of regf.nt's Construct declarations), and the buffer protocol."""

from __future__ import annotations

import struct

import pytest

import regf
from regf import nt
from regf.nt import infoclass

ROOT = r"\Registry\Machine\TEST"


def u32(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", b, off)[0])


def i64(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<q", b, off)[0])


def w(text: str) -> bytes:
    return text.encode("utf-16-le")


@pytest.fixture
def reg(tmp_path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None)
    r.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
    yield r
    if not r.closed:
        r.close()


@pytest.fixture
def classed(reg) -> int:
    """Key "K" (class "MyClass") with subkeys Alpha (class "Cls12") and Be, values
    "Name1" (10 bytes) and the default value (3 bytes)."""
    h, _ = reg.ZwCreateKey(ROOT + r"\K", nt.KEY_ALL_ACCESS, class_name="MyClass")
    a, _ = reg.ZwCreateKey("Alpha", nt.KEY_ALL_ACCESS, root=h, class_name="Cls12")
    b, _ = reg.ZwCreateKey("Be", nt.KEY_ALL_ACCESS, root=h)
    reg.ZwClose(a)
    reg.ZwClose(b)
    reg.ZwSetValueKey(h, "Name1", nt.REG_BINARY, bytes(10))
    reg.ZwSetValueKey(h, None, nt.REG_BINARY, b"abc")
    return h


# ---------------------------------------------------------------------------------------
# FIELD_OFFSET of the variable members (the minimum buffers) and sizeof
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixed", "offset"),
    [
        (infoclass.KEY_BASIC_INFORMATION_FIXED, 16),  # Name
        (infoclass.KEY_NODE_INFORMATION_FIXED, 24),  # Name
        (infoclass.KEY_FULL_INFORMATION_FIXED, 44),  # Class
        (infoclass.KEY_NAME_INFORMATION_FIXED, 4),  # Name
        (infoclass.KEY_CACHED_INFORMATION_FIXED, 40),  # sizeof (8-aligned)
        (infoclass.KEY_VALUE_BASIC_INFORMATION_FIXED, 12),  # Name
        (infoclass.KEY_VALUE_FULL_INFORMATION_FIXED, 20),  # Name
        (infoclass.KEY_VALUE_PARTIAL_INFORMATION_FIXED, 12),  # Data
        (infoclass.KEY_VALUE_PARTIAL_INFORMATION_ALIGN64_FIXED, 8),  # Data
    ],
)
def test_information_fixed_parts_end_at_the_ddk_field_offsets(fixed, offset):
    assert fixed.sizeof() == offset


# ---------------------------------------------------------------------------------------
# KEY_FULL_INFORMATION (page 003)
# ---------------------------------------------------------------------------------------


def test_key_full_information_layout_with_a_class_name(reg, classed):
    info = reg.ZwQueryKey(classed, nt.KeyFullInformation)
    b = info.to_bytes()
    lwt = reg.ZwQueryKey(classed, nt.KeyBasicInformation).LastWriteTime
    assert i64(b, 0x00) == lwt  # LastWriteTime
    assert u32(b, 0x08) == 0  # TitleIndex
    assert u32(b, 0x0C) == 44  # ClassOffset: from the structure's start to Class
    assert u32(b, 0x10) == 14  # ClassLength: bytes of "MyClass"
    assert u32(b, 0x14) == 2  # SubKeys
    assert u32(b, 0x18) == 10  # MaxNameLen: "Alpha" in bytes
    assert u32(b, 0x1C) == 10  # MaxClassLen: "Cls12" in bytes
    assert u32(b, 0x20) == 2  # Values
    assert u32(b, 0x24) == 10  # MaxValueNameLen: "Name1"
    assert u32(b, 0x28) == 10  # MaxValueDataLen
    assert b[44:] == w("MyClass")  # Class: not NUL-terminated, nothing after it
    assert len(b) == info.result_length == 58
    assert (info.SubKeys, info.MaxNameLen, info.Class) == (2, 10, "MyClass")


def test_key_full_information_layout_without_a_class_name(reg):
    h, _ = reg.ZwCreateKey(ROOT + r"\Plain", nt.KEY_ALL_ACCESS)
    b = reg.ZwQueryKey(h, nt.KeyFullInformation).to_bytes()
    assert len(b) == 44
    assert u32(b, 0x0C) == 0xFFFFFFFF  # ClassOffset: no class
    assert u32(b, 0x10) == 0  # ClassLength
    assert [u32(b, o) for o in range(0x14, 0x2C, 4)] == [0, 0, 0, 0, 0, 0]


def test_key_full_information_lastwritetime_changes_with_the_key_or_its_values(reg, classed):
    t0 = reg.ZwQueryKey(classed, nt.KeyFullInformation).LastWriteTime
    reg.ZwSetValueKey(classed, "Later", nt.REG_BINARY, b"1")
    t1 = reg.ZwQueryKey(classed, nt.KeyFullInformation).LastWriteTime
    assert t1 >= t0 > 116444736000000000  # a FILETIME after 1970


def test_key_full_information_maxima_are_the_nk_fields(reg, classed, tmp_path):
    """The counts and maxima are the nk's (fmt §5.3), as a reader sees them on disk."""
    info = reg.ZwQueryKey(classed, nt.KeyFullInformation)
    reg.ZwFlushKey(classed)
    with regf.open(tmp_path / "t.hiv") as hive:
        k = hive.open_key("K")
        assert (info.SubKeys, info.Values) == (k.subkey_count, k.value_count)
        assert info.MaxNameLen == k.max_name_len
        assert info.MaxClassLen == k.max_class_len
        assert info.MaxValueNameLen == k.max_value_name_len
        assert info.MaxValueDataLen == k.max_value_data_len


def test_key_full_information_maxima_are_high_water_marks(reg, classed):
    a = reg.ZwOpenKey("Alpha", nt.DELETE, root=classed)
    reg.ZwDeleteKey(a)
    reg.ZwClose(a)
    reg.ZwDeleteValueKey(classed, "Name1")
    info = reg.ZwQueryKey(classed, nt.KeyFullInformation)
    assert (info.SubKeys, info.Values) == (1, 1)
    # "Be" (4 bytes) and the 3-byte default value remain, but the marks stay (fmt §5.2).
    assert (info.MaxNameLen, info.MaxClassLen) == (10, 10)
    assert (info.MaxValueNameLen, info.MaxValueDataLen) == (10, 10)


def test_key_full_information_subkeys_counts_stable_and_volatile(reg, classed):
    v, _ = reg.ZwCreateKey(
        "VolatileChild", nt.KEY_ALL_ACCESS, root=classed, create_options=nt.REG_OPTION_VOLATILE
    )
    info = reg.ZwQueryKey(classed, nt.KeyFullInformation)
    assert info.SubKeys == 3
    assert info.MaxNameLen == 2 * len("VolatileChild")
    reg.ZwClose(v)


def test_key_full_information_from_zwenumeratekey_equals_zwquerykey(reg, classed):
    parent = reg.ZwOpenKey(ROOT, nt.KEY_READ)
    listed = reg.ZwEnumerateKey(parent, 0, nt.KeyFullInformation)
    assert listed.to_bytes() == reg.ZwQueryKey(classed, nt.KeyFullInformation).to_bytes()
    reg.ZwClose(parent)


def test_key_full_information_sizes_buffers_for_names_and_values(reg, classed):
    """MaxNameLen etc. are enough to size enumeration buffers, as the page says."""
    full = reg.ZwQueryKey(classed, nt.KeyFullInformation)
    name_buf = nt.KEY_BASIC_INFORMATION.minimum_length() + full.MaxNameLen
    for i in range(full.SubKeys):
        reg.ZwEnumerateKey(classed, i, nt.KeyBasicInformation, length=name_buf)
    value_buf = (
        nt.KEY_VALUE_FULL_INFORMATION.minimum_length()
        + full.MaxValueNameLen
        + 7  # x64 data alignment
        + full.MaxValueDataLen
    )
    names = [
        reg.ZwEnumerateValueKey(classed, i, nt.KeyValueFullInformation, length=value_buf).Name
        for i in range(full.Values)
    ]
    assert names == ["Name1", ""]


def test_key_full_information_buffer_protocol(reg, classed):
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryKey(classed, nt.KeyFullInformation, length=43)
    assert err.value.status == nt.STATUS_BUFFER_TOO_SMALL
    assert err.value.result_length == 58 and err.value.info is None
    # Fixed part fits: every member is written, the class as far as it goes.
    for length, cls in ((44, ""), (50, "MyC"), (57, "MyClas")):
        with pytest.raises(nt.NtStatusError) as err:
            reg.ZwQueryKey(classed, nt.KeyFullInformation, length=length)
        assert err.value.status == nt.STATUS_BUFFER_OVERFLOW
        assert err.value.result_length == 58
        part = err.value.info
        b = part.to_bytes()
        assert len(b) == length
        assert (u32(b, 0x0C), u32(b, 0x10), u32(b, 0x14)) == (44, 14, 2)
        assert part.Class == cls
    exact = reg.ZwQueryKey(classed, nt.KeyFullInformation, length=58)
    big = reg.ZwQueryKey(classed, nt.KeyFullInformation, length=4096)
    assert exact.to_bytes() == big.to_bytes() and len(big.to_bytes()) == 58


# ---------------------------------------------------------------------------------------
# The other key classes
# ---------------------------------------------------------------------------------------


def test_key_basic_information_layout_and_partial_name(reg, classed):
    info = reg.ZwQueryKey(classed, nt.KeyBasicInformation)
    b = info.to_bytes()
    assert u32(b, 8) == 0 and u32(b, 12) == 2 and b[16:] == w("K")
    assert info.result_length == 18
    sub = reg.ZwEnumerateKey(classed, 0, nt.KeyBasicInformation, length=100)
    assert sub.Name == "Alpha" and sub.NameLength == 10
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwEnumerateKey(classed, 0, nt.KeyBasicInformation, length=19)
    assert err.value.status == nt.STATUS_BUFFER_OVERFLOW
    assert err.value.result_length == 26
    assert err.value.info.to_bytes()[16:] == w("Alpha")[:3]  # a byte-exact partial copy
    assert err.value.info.Name == "A" and err.value.info.NameLength == 10
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwEnumerateKey(classed, 0, nt.KeyBasicInformation, length=15)
    assert err.value.status == nt.STATUS_BUFFER_TOO_SMALL


def test_key_node_information_layout_class_4_aligned_after_the_name(reg, classed):
    b = reg.ZwQueryKey(classed, nt.KeyNodeInformation).to_bytes()
    # Name "K" (2 bytes) ends at 26; the class starts at 28.
    assert (u32(b, 8), u32(b, 12), u32(b, 16), u32(b, 20)) == (0, 28, 14, 2)
    assert b[24:26] == w("K") and b[26:28] == b"\0\0" and b[28:] == w("MyClass")
    plain = reg.ZwEnumerateKey(classed, 1, nt.KeyNodeInformation).to_bytes()  # "Be"
    assert u32(plain, 12) == 0xFFFFFFFF and u32(plain, 16) == 0 and plain[24:] == w("Be")


def test_key_node_information_result_length_leaves_out_the_class_padding(reg, classed):
    """ResultLength = FIELD_OFFSET(Name) + NameLength + ClassLength (WRK CmpQueryKeyData):
    a buffer of exactly ResultLength still misses 2 class bytes when the name length
    is 2 mod 4."""
    info = reg.ZwQueryKey(classed, nt.KeyNodeInformation)
    assert info.result_length == 24 + 2 + 14 == len(info.to_bytes()) - 2
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryKey(classed, nt.KeyNodeInformation, length=info.result_length)
    assert err.value.status == nt.STATUS_BUFFER_OVERFLOW
    assert err.value.info.Class == "MyClas"
    # "Alpha" (10 bytes): 24 + 10 = 34 -> class at 36; ResultLength = 44, needs 46.
    alpha = reg.ZwEnumerateKey(classed, 0, nt.KeyNodeInformation)
    assert (alpha.ClassOffset, alpha.result_length, len(alpha.to_bytes())) == (36, 44, 46)


def test_key_name_information_is_the_full_object_name(reg, classed):
    info = reg.ZwQueryKey(classed, nt.KeyNameInformation)
    b = info.to_bytes()
    assert u32(b, 0) == len(w(r"\REGISTRY\MACHINE\TEST\K"))
    assert b[4:] == w(r"\REGISTRY\MACHINE\TEST\K")
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryKey(classed, nt.KeyNameInformation, length=3)
    assert err.value.status == nt.STATUS_BUFFER_TOO_SMALL
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryKey(classed, nt.KeyNameInformation, length=14)
    assert err.value.status == nt.STATUS_BUFFER_OVERFLOW and err.value.info.Name == r"\REGI"


def test_key_name_information_needs_no_access(reg, classed):
    h = reg.ZwOpenKey(ROOT + r"\K", 0)
    assert reg.ZwQueryKey(h, nt.KeyNameInformation).Name == r"\REGISTRY\MACHINE\TEST\K"
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryKey(h, nt.KeyBasicInformation)
    assert err.value.status == nt.STATUS_ACCESS_DENIED
    reg.ZwClose(h)


def test_key_cached_information_layout_is_40_bytes_all_or_nothing(reg, classed):
    info = reg.ZwQueryKey(classed, nt.KeyCachedInformation)
    b = info.to_bytes()
    assert len(b) == info.result_length == 40
    lwt = reg.ZwQueryKey(classed, nt.KeyBasicInformation).LastWriteTime
    assert i64(b, 0) == lwt
    # TitleIndex, SubKeys, MaxNameLen, Values, MaxValueNameLen, MaxValueDataLen, NameLength
    assert [u32(b, o) for o in range(8, 36, 4)] == [0, 2, 10, 2, 10, 10, 2]
    assert b[36:40] == b"\0\0\0\0"  # tail padding
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryKey(classed, nt.KeyCachedInformation, length=39)
    assert err.value.status == nt.STATUS_BUFFER_TOO_SMALL and err.value.result_length == 40


@pytest.mark.parametrize("cls", [nt.KeyNameInformation, nt.KeyCachedInformation, 99])
def test_zwenumeratekey_takes_only_basic_node_and_full(reg, classed, cls):
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwEnumerateKey(classed, 0, cls)
    assert err.value.status == nt.STATUS_INVALID_PARAMETER


# ---------------------------------------------------------------------------------------
# Value classes
# ---------------------------------------------------------------------------------------


def test_key_value_basic_information_layout(reg, classed):
    b = reg.ZwQueryValueKey(classed, "name1", nt.KeyValueBasicInformation).to_bytes()
    assert (u32(b, 0), u32(b, 4), u32(b, 8)) == (0, nt.REG_BINARY, 10)
    assert b[12:] == w("Name1")  # the stored case


@pytest.mark.parametrize("cls", [nt.KeyValueFullInformation, nt.KeyValueFullInformationAlign64])
def test_key_value_full_information_layout_data_8_aligned_on_x64(reg, classed, cls):
    reg.ZwSetValueKey(classed, "abc", nt.REG_SZ, w("xy\0"))
    info = reg.ZwQueryValueKey(classed, "abc", cls)
    b = info.to_bytes()
    # Name ends at 20 + 6 = 26; data at 32.
    assert (u32(b, 0), u32(b, 4), u32(b, 8), u32(b, 12), u32(b, 16)) == (0, 1, 32, 6, 6)
    assert b[20:26] == w("abc") and b[26:32] == bytes(6) and b[32:] == w("xy\0")
    assert info.result_length == 38 == len(b)  # the padding counts here
    reg.ZwSetValueKey(classed, "ab", nt.REG_BINARY, b"\x09")
    b = reg.ZwQueryValueKey(classed, "ab", cls).to_bytes()
    assert u32(b, 8) == 24 and b[24:] == b"\x09"  # 20 + 4 is already aligned


def test_key_value_full_information_without_data(reg, classed):
    reg.ZwSetValueKey(classed, "empty", nt.REG_NONE, b"")
    info = reg.ZwQueryValueKey(classed, "empty", nt.KeyValueFullInformation)
    b = info.to_bytes()
    assert u32(b, 8) == 0xFFFFFFFF and u32(b, 12) == 0 and len(b) == info.result_length == 30


def test_key_value_partial_information_layouts(reg, classed):
    b = reg.ZwQueryValueKey(classed, "Name1", nt.KeyValuePartialInformation).to_bytes()
    assert (u32(b, 0), u32(b, 4), u32(b, 8), b[12:]) == (0, nt.REG_BINARY, 10, bytes(10))
    b = reg.ZwQueryValueKey(classed, "Name1", nt.KeyValuePartialInformationAlign64).to_bytes()
    assert (u32(b, 0), u32(b, 4), b[8:]) == (nt.REG_BINARY, 10, bytes(10))


def test_value_information_buffer_protocol(reg, classed):
    reg.ZwSetValueKey(classed, "Data", nt.REG_BINARY, bytes(range(40)))
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryValueKey(classed, "Data", nt.KeyValuePartialInformation, length=11)
    assert err.value.status == nt.STATUS_BUFFER_TOO_SMALL and err.value.result_length == 52
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryValueKey(classed, "Data", nt.KeyValuePartialInformation, length=20)
    part = err.value.info
    assert err.value.status == nt.STATUS_BUFFER_OVERFLOW and err.value.result_length == 52
    assert (part.DataLength, part.Data) == (40, bytes(range(8)))
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwEnumerateValueKey(classed, 2, nt.KeyValueFullInformation, length=22)
    part = err.value.info
    assert err.value.status == nt.STATUS_BUFFER_OVERFLOW
    assert (part.Name, part.Data, err.value.result_length) == ("D", b"", 32 + 40)
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryValueKey(classed, "Data", nt.KeyValueBasicInformation, length=11)
    assert err.value.status == nt.STATUS_BUFFER_TOO_SMALL and err.value.result_length == 20


def test_value_information_invalid_class(reg, classed):
    for cls in (nt.KeyValueLayerInformation, 17, -1):
        with pytest.raises(nt.NtStatusError) as err:
            reg.ZwQueryValueKey(classed, "Name1", cls)
        assert err.value.status == nt.STATUS_INVALID_PARAMETER
