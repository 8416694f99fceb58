"""Tests of :mod:`regf.cells.values`: values edited in place through the cell allocator.

Images are built with :func:`regf.model.serialize.serialize` (independent of the in-place
writer), edited with ``set_value`` / ``delete_value`` / ``free_values``, and checked three
ways: the raw cells (sizes, inline fields, db layout, cell reuse, list growth, nk maxima),
the reader (``regf.open`` on the edited bytes gives the same values), and soundness (cell
tiling, sk ring, and no allocated cell left unreachable from the root).
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import regf
from regf._accel import checksum, upcase
from regf.cells import valuebatch as vb
from regf.cells import values as cv
from regf.cells.alloc import CellAllocator, cell_total
from regf.cells.reach import leaked_cells
from regf.cells.security import check_security
from regf.errors import InvalidArgumentError
from regf.model.check import scan_bins
from regf.model.serialize import serialize
from regf.model.spec import KeySpec, ValueSpec

BASE = 4096
BIG = 16344
NIL = 0xFFFFFFFF
TS = 0x01D0_0000_0000_0000

SIZES = [0, 1, 3, 4, 5, 8, 100, BIG - 1, BIG, BIG + 1, 2 * BIG, 2 * BIG + 1, 100_000]


# --------------------------------------------------------------------------- helpers


def build(tree: KeySpec | None = None, minor: int = 5) -> CellAllocator:
    """An allocator over a serialized hive (default: ROOT with an empty key ``K``)."""
    if tree is None:
        tree = KeySpec("ROOT", subkeys=[KeySpec("K"), KeySpec("Other")])
    return CellAllocator(bytearray(serialize(tree, minor=minor, timestamp=TS)))


def finished(alloc: CellAllocator) -> bytes:
    """The image as a file: checksum recomputed (the allocator changes hbins size)."""
    img = bytearray(alloc.image)
    struct.pack_into("<I", img, 0x1FC, checksum(img))
    return bytes(img)


def key_index(alloc: CellAllocator, path: str = "K") -> int:
    with regf.open(finished(alloc)) as hive:
        return int(hive.open_key(path).index)


def reader_values(alloc: CellAllocator, path: str = "K") -> list[tuple[str, int, bytes]]:
    with regf.open(finished(alloc)) as hive:
        return [(v.name, int(v.type_), bytes(v.raw)) for v in hive.open_key(path).values()]


def reader_key(alloc: CellAllocator, path: str = "K") -> dict[str, int]:
    with regf.open(finished(alloc)) as hive:
        k = hive.open_key(path)
        return dict(
            count=k.value_count,
            max_name=k.max_value_name_len,
            max_data=k.max_value_data_len,
            written=k.last_written_raw,
        )


def assert_sound(alloc: CellAllocator) -> None:
    """Tiling, sk ring/refcounts, no leaked cell, and every value readable (strict)."""
    data = finished(alloc)
    stats = scan_bins(data, alloc.hbins_size)
    assert stats.problems == []
    root = struct.unpack_from("<I", data, 0x24)[0]
    assert check_security(data, root) == []
    assert leaked_cells(data) == set()
    with regf.open(data) as hive:
        for key in hive.walk():
            for v in key.values():
                assert len(v.raw) == v.size


def nk_field(alloc: CellAllocator, nk: int, off: int) -> int:
    return int(struct.unpack_from("<I", alloc.image, BASE + nk + 4 + off)[0])


def vk_fields(alloc: CellAllocator, vk: int) -> tuple[bytes, int, int, int, int, int, int]:
    return struct.unpack_from("<2sHIIIHH", alloc.image, BASE + vk + 4)


def cell_size(alloc: CellAllocator, idx: int) -> int:
    """Signed size field of cell ``idx`` (negative: allocated)."""
    return int(struct.unpack_from("<i", alloc.image, BASE + idx)[0])


def payload(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("minor", [3, 5])
@pytest.mark.parametrize("n", SIZES)
def test_size_boundaries_layout_and_read_back(n: int, minor: int) -> None:
    alloc = build(minor=minor)
    nk = key_index(alloc)
    raw = payload(n)
    vk = cv.set_value(alloc, nk, "Value", 3, raw, timestamp=TS + 1)
    sig, name_len, size, data, vtype, flags, _spare = vk_fields(alloc, vk)
    assert (sig, name_len, vtype, flags) == (b"vk", 5, 3, 1)
    assert cell_size(alloc, vk) == -cell_total(20 + 5)
    if n <= 4:
        # Inline, including n == 0 (size 0x80000000, data 0) as Windows writes it.
        assert size == 0x80000000 | n
        assert data == int.from_bytes(raw.ljust(4, b"\0"), "little")
    elif n > BIG and minor >= 4:
        assert size == n
        count = -(-n // BIG)
        assert cell_size(alloc, data) == -16  # db cell (fmt §4.6)
        sig_db, seg_count, seg_list = struct.unpack_from("<2sHI", alloc.image, BASE + data + 4)
        assert (sig_db, seg_count) == (b"db", count)
        assert cell_size(alloc, seg_list) == -cell_total(4 * count)
        segs = struct.unpack_from(f"<{count}I", alloc.image, BASE + seg_list + 4)
        for seg in segs:
            assert cell_size(alloc, seg) == -16352  # every segment full size, even the last
        joined = b"".join(bytes(alloc.image[BASE + s + 4 : BASE + s + 4 + BIG]) for s in segs)
        assert joined[:n] == raw and joined[n:] == bytes(len(joined) - n)
    else:
        assert size == n
        assert cell_size(alloc, data) == -cell_total(n)  # one cell, any length in 1.3
        assert bytes(alloc.image[BASE + data + 4 : BASE + data + 4 + n]) == raw
    assert reader_values(alloc) == [("Value", 3, raw)]
    assert cv.read_value(alloc, vk) == ("Value", 3, raw, vk)
    info = reader_key(alloc)
    assert info == dict(count=1, max_name=10, max_data=n, written=TS + 1)
    assert_sound(alloc)


def test_records_match_the_serializer() -> None:
    """vk records written in place equal the serializer's, apart from data cell indexes."""
    specs = [
        ValueSpec("", 1, b""),
        ValueSpec("dword", 4, b"\x2a\0\0\0"),
        ValueSpec("three", 3, b"abc"),
        ValueSpec("\u65e5\u672c", 1, payload(10)),
        ValueSpec("\xe4\xf6\xfc", 3, payload(BIG)),
        ValueSpec("big", 3, payload(BIG + 1)),
        ValueSpec("\U00010400", 11, payload(8)),
    ]
    alloc = build()
    nk = key_index(alloc)
    for v in specs:
        cv.set_value(alloc, nk, v.name, v.type, v.raw, timestamp=TS)
    ref = CellAllocator(
        bytearray(serialize(KeySpec("ROOT", subkeys=[KeySpec("K", values=specs)]), timestamp=TS))
    )
    ref_nk = key_index(ref)
    mine = cv.value_cells(alloc, nk)
    theirs = cv.value_cells(ref, ref_nk)
    assert len(mine) == len(theirs) == len(specs)
    for a, b in zip(mine, theirs, strict=True):
        fa, fb = vk_fields(alloc, a), vk_fields(ref, b)
        inline = fa[2] & 0x80000000
        assert fa[:3] == fb[:3] and fa[4:] == fb[4:]
        assert (fa[3] == fb[3]) if inline else True
        assert alloc.read(a)[20:] == ref.read(b)[20:]  # stored names
        assert cell_size(alloc, a) == cell_size(ref, b)
    # nk maxima equal the serializer's exact values here (values only ever added).
    for off in (cv.NK_VALUE_COUNT, cv.NK_MAX_VALUE_NAME, cv.NK_MAX_VALUE_DATA):
        assert nk_field(alloc, nk, off) == nk_field(ref, ref_nk, off)
    assert list(cv.iter_values(alloc, nk)) == [
        cv.ValueRecord(r.name, r.type, r.raw, c)
        for r, c in zip(cv.iter_values(ref, ref_nk), mine, strict=True)
    ]
    assert_sound(alloc)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "stored", "flags"),
    [
        ("", b"", 0),  # the default value: flags 0 (fmt §4.3)
        ("abc", b"abc", 1),
        ("\xe4\xf6\xfc", b"\xe4\xf6\xfc", 1),  # Latin-1, not cp1252
        ("\u65e5\u672c", "\u65e5\u672c".encode("utf-16-le"), 0),
        ("a\u0100", "a\u0100".encode("utf-16-le"), 0),
        ("\U00010400", "\U00010400".encode("utf-16-le"), 0),
        ("\ud800x", b"\x00\xd8x\x00", 0),  # unpaired surrogate
    ],
)
def test_name_storage_and_max_name_len(name: str, stored: bytes, flags: int) -> None:
    alloc = build()
    nk = key_index(alloc)
    vk = cv.set_value(alloc, nk, name, 1, b"xx\0\0\0\0", timestamp=TS)
    f = vk_fields(alloc, vk)
    assert (f[1], f[5]) == (len(stored), flags)
    assert alloc.read(vk)[20 : 20 + len(stored)] == stored
    units = len(name.encode("utf-16-le", "surrogatepass"))
    assert nk_field(alloc, nk, cv.NK_MAX_VALUE_NAME) == units
    assert reader_values(alloc) == [(name, 1, b"xx\0\0\0\0")]
    assert cv.find_value(alloc, nk, name) == vk


@pytest.mark.parametrize(
    ("first", "second"),
    [("Foo", "FOO"), ("foo", "fOo"), ("\xe4", "\xc4"), ("\uff46", "\uff26"), ("", "")],
)
def test_existing_value_found_case_insensitively(first: str, second: str) -> None:
    assert upcase(first) == upcase(second)
    alloc = build()
    nk = key_index(alloc)
    vk = cv.set_value(alloc, nk, first, 1, payload(10), timestamp=TS)
    assert cv.set_value(alloc, nk, second, 4, b"\1\0\0\0", timestamp=TS + 5) == vk
    assert nk_field(alloc, nk, cv.NK_VALUE_COUNT) == 1
    # The stored name keeps the case it was created with (only data and type change).
    assert reader_values(alloc) == [(first, 4, b"\1\0\0\0")]
    assert reader_key(alloc)["written"] == TS + 5
    assert_sound(alloc)


def test_distinct_names_that_differ_beyond_upcase() -> None:
    alloc = build()
    nk = key_index(alloc)
    # U+10400 and U+10428 are a case pair in Unicode but Windows' table is per UTF-16
    # code unit, so they are different names; "a" and "a\0" differ in length.
    for name in ("\U00010400", "\U00010428", "a", "a\0", "\xdf", "SS"):
        cv.set_value(alloc, nk, name, 3, name.encode("utf-8", "surrogatepass"), timestamp=TS)
    assert [n for n, _t, _r in reader_values(alloc)] == [
        "\U00010400",
        "\U00010428",
        "a",
        "a\0",
        "\xdf",
        "SS",
    ]


# --------------------------------------------------------------------------- replacing data


def test_type_change_keeps_vk_and_data_cell() -> None:
    alloc = build()
    nk = key_index(alloc)
    vk = cv.set_value(alloc, nk, "v", 1, "hello".encode("utf-16-le") + b"\0\0", timestamp=TS)
    data = vk_fields(alloc, vk)[3]
    assert cv.set_value(alloc, nk, "v", 3, payload(12), timestamp=TS) == vk
    assert vk_fields(alloc, vk)[3] == data  # 12 bytes fit the 12-byte cell
    assert reader_values(alloc) == [("v", 3, payload(12))]
    assert_sound(alloc)


def test_data_cell_reused_while_it_fits() -> None:
    alloc = build()
    nk = key_index(alloc)
    vk = cv.set_value(alloc, nk, "v", 3, payload(100), timestamp=TS)
    cell = vk_fields(alloc, vk)[3]
    assert alloc.capacity(cell) == 100  # round8(4 + 100) - 4
    for n in (50, 5, 100, 77):
        cv.set_value(alloc, nk, "v", 3, payload(n, seed=n), timestamp=TS)
        assert vk_fields(alloc, vk)[3] == cell, n
        assert reader_values(alloc) == [("v", 3, payload(n, seed=n))]
        # Slack after the new data is zeroed: no remnant of the longer old value.
        assert alloc.read(cell)[n:] == bytes(100 - n)
    before = alloc.stats()
    cv.set_value(alloc, nk, "v", 3, payload(101), timestamp=TS)  # no longer fits
    new = vk_fields(alloc, vk)[3]
    assert new != cell
    assert cell_size(alloc, new) == -cell_total(101)
    assert alloc.stats().allocated == before.allocated - 104 + cell_total(101)
    assert reader_values(alloc) == [("v", 3, payload(101))]
    assert_sound(alloc)


def test_inline_transitions_free_and_allocate() -> None:
    alloc = build()
    nk = key_index(alloc)
    start = alloc.stats()
    vk = cv.set_value(alloc, nk, "v", 3, payload(40), timestamp=TS)
    with_cell = alloc.stats()
    data = vk_fields(alloc, vk)[3]
    for n in (4, 0, 1, 3):
        cv.set_value(alloc, nk, "v", 3, payload(n), timestamp=TS)
        assert cell_size(alloc, data) > 0  # the old data cell was freed
        size, field = vk_fields(alloc, vk)[2:4]
        assert size == 0x80000000 | n
        assert field == int.from_bytes(payload(n).ljust(4, b"\0"), "little")
        assert alloc.stats().allocated == with_cell.allocated - cell_total(40)
        assert reader_values(alloc) == [("v", 3, payload(n))]
    cv.set_value(alloc, nk, "v", 3, payload(5), timestamp=TS)
    assert vk_fields(alloc, vk)[2] == 5
    assert alloc.stats().allocated == with_cell.allocated - cell_total(40) + cell_total(5)
    assert cv.delete_value(alloc, nk, "v", timestamp=TS)
    assert alloc.stats() == start
    assert_sound(alloc)


def db_cells(alloc: CellAllocator, vk: int) -> tuple[int, int, list[int]]:
    db = vk_fields(alloc, vk)[3]
    _sig, count, seg_list = struct.unpack_from("<2sHI", alloc.image, BASE + db + 4)
    segs = list(struct.unpack_from(f"<{count}I", alloc.image, BASE + seg_list + 4))
    return db, seg_list, segs


def test_big_data_replaced_in_place() -> None:
    alloc = build()
    nk = key_index(alloc)
    vk = cv.set_value(alloc, nk, "big", 3, payload(5 * BIG), timestamp=TS)
    db, seg_list, segs = db_cells(alloc, vk)
    assert len(segs) == 5
    # Shrink to 2 segments: db and the first two segments kept, three freed.
    cv.set_value(alloc, nk, "big", 3, payload(BIG + 10, seed=1), timestamp=TS)
    db2, list2, segs2 = db_cells(alloc, vk)
    assert (db2, list2, segs2) == (db, seg_list, segs[:2])
    assert all(cell_size(alloc, s) > 0 or s in segs2 for s in segs)
    assert reader_values(alloc) == [("big", 3, payload(BIG + 10, seed=1))]
    assert_sound(alloc)
    # Grow to 7 segments: db kept, old segments reused first, list reallocated.
    cv.set_value(alloc, nk, "big", 3, payload(7 * BIG - 3, seed=2), timestamp=TS)
    db3, _list3, segs3 = db_cells(alloc, vk)
    assert db3 == db and segs3[:2] == segs[:2] and len(segs3) == 7
    assert reader_values(alloc) == [("big", 3, payload(7 * BIG - 3, seed=2))]
    assert_sound(alloc)


@pytest.mark.parametrize(
    "sizes",
    [
        (BIG + 1, 100, BIG + 1),  # db -> plain -> db
        (100, 3 * BIG, 2),  # plain -> db -> inline
        (0, 3 * BIG, 0),  # inline -> db -> inline
        (BIG, BIG + 1, BIG),  # the exact threshold both ways
    ],
)
def test_db_plain_transitions_free_the_old_structure(sizes: tuple[int, ...]) -> None:
    alloc = build()
    nk = key_index(alloc)
    before = alloc.stats()
    bins_before = len(alloc.bins())
    for i, n in enumerate(sizes):
        cv.set_value(alloc, nk, "v", 3, payload(n, seed=i), timestamp=TS)
        assert reader_values(alloc) == [("v", 3, payload(n, seed=i))]
        assert_sound(alloc)
    assert cv.delete_value(alloc, nk, "v", timestamp=TS)
    after = alloc.stats()
    # Everything allocated went back; new bins (big data) are one free cell each.
    assert after.allocated == before.allocated
    assert after.free_cells == before.free_cells + len(alloc.bins()) - bins_before
    assert_sound(alloc)


def test_minor_3_never_writes_db() -> None:
    alloc = build(minor=3)
    nk = key_index(alloc)
    vk = cv.set_value(alloc, nk, "v", 3, b"db" + payload(3 * BIG), timestamp=TS)
    data = vk_fields(alloc, vk)[3]
    assert cell_size(alloc, data) == -cell_total(3 * BIG + 2)
    # Literal bytes starting with "db" in a 1.3 hive are data, not a big-data record.
    assert reader_values(alloc) == [("v", 3, b"db" + payload(3 * BIG))]
    cv.set_value(alloc, nk, "v", 3, payload(BIG + 1), timestamp=TS)
    assert vk_fields(alloc, vk)[3] == data  # fits the old cell: reused
    assert_sound(alloc)


def test_minor_is_read_from_the_base_block() -> None:
    for minor, db in ((3, False), (4, True), (5, True), (6, True)):
        alloc = build(minor=minor)
        assert cv.hive_minor(alloc) == minor
        nk = key_index(alloc)
        vk = cv.set_value(alloc, nk, "v", 3, payload(BIG + 1), timestamp=TS)
        data = vk_fields(alloc, vk)[3]
        assert (alloc.read(data)[:2] == b"db") is db
        assert reader_values(alloc) == [("v", 3, payload(BIG + 1))]


def test_hivex_style_plain_big_value_is_replaced_correctly() -> None:
    """A > 16344-byte value stored in one plain cell (hivex) is freed as one cell."""
    alloc = build(minor=3)
    nk = key_index(alloc)
    vk = cv.set_value(alloc, nk, "v", 3, payload(2 * BIG), timestamp=TS)
    data = vk_fields(alloc, vk)[3]
    struct.pack_into("<I", alloc.image, 0x18, 5)  # now pretend it is a 1.5 hive
    assert cv.read_value(alloc, vk).raw == payload(2 * BIG)
    cv.set_value(alloc, nk, "v", 3, payload(3 * BIG), timestamp=TS)
    assert cell_size(alloc, data) > 0
    assert alloc.read(vk_fields(alloc, vk)[3])[:2] == b"db"
    assert_sound(alloc)


# --------------------------------------------------------------------------- value list


def test_value_list_bytes_rule() -> None:
    assert [cv.value_list_bytes(n) for n in (1, 2, 99)] == [4, 8, 396]
    assert cv.value_list_bytes(100) == 400
    assert cv.value_list_bytes(101) == 800
    assert cv.value_list_bytes(200) == 800
    assert cv.value_list_bytes(1000) == 4000
    assert cv.value_list_bytes(1001) == 8192  # 1100 entries = 4400 bytes -> 2 pages


def test_value_list_growth() -> None:
    alloc = build()
    nk = key_index(alloc)
    model_size = 0
    model_list = NIL
    for n in range(1, 260):
        cv.set_value(alloc, nk, f"v{n}", 4, struct.pack("<I", n), timestamp=TS)
        vlist = nk_field(alloc, nk, cv.NK_VALUE_LIST)
        need = cell_total(cv.value_list_bytes(n))
        if need > model_size:  # realloc: a new cell exactly as big as asked
            assert vlist != model_list
            model_size = need
            model_list = vlist
        else:  # fits: the cell is kept
            assert vlist == model_list
        assert cell_size(alloc, vlist) == -model_size, n
    assert model_size == cell_total(300 * 4)
    assert [r.name for r in cv.iter_values(alloc, nk)] == [f"v{n}" for n in range(1, 260)]
    assert_sound(alloc)


def test_delete_keeps_order_and_list_cell() -> None:
    alloc = build()
    nk = key_index(alloc)
    for name in "abcde":
        cv.set_value(alloc, nk, name, 1, name.encode() * 9, timestamp=TS)
    vlist = nk_field(alloc, nk, cv.NK_VALUE_LIST)
    assert cv.delete_value(alloc, nk, "B", timestamp=TS)
    assert cv.delete_value(alloc, nk, "e", timestamp=TS)
    assert nk_field(alloc, nk, cv.NK_VALUE_LIST) == vlist  # never shrunk
    assert [r.name for r in cv.iter_values(alloc, nk)] == ["a", "c", "d"]
    assert nk_field(alloc, nk, cv.NK_VALUE_COUNT) == 3
    cv.set_value(alloc, nk, "f", 1, b"f" * 9, timestamp=TS)
    assert nk_field(alloc, nk, cv.NK_VALUE_LIST) == vlist  # the slot is reused
    assert [n for n, _t, _r in reader_values(alloc)] == ["a", "c", "d", "f"]
    assert_sound(alloc)


def test_delete_missing_value_writes_nothing() -> None:
    alloc = build()
    nk = key_index(alloc)
    cv.set_value(alloc, nk, "a", 1, b"x" * 9, timestamp=TS)
    image = bytes(alloc.image)
    assert not cv.delete_value(alloc, nk, "b", timestamp=TS + 9)
    assert not cv.delete_value(alloc, key_index(alloc, "Other"), "a", timestamp=TS + 9)
    assert bytes(alloc.image) == image


# --------------------------------------------------------------------------- nk fields


def test_maxima_are_high_water_marks() -> None:
    alloc = build()
    nk = key_index(alloc)
    cv.set_value(alloc, nk, "LongName", 3, payload(300), timestamp=TS + 1)
    cv.set_value(alloc, nk, "a", 3, payload(5), timestamp=TS + 2)
    assert reader_key(alloc) == dict(count=2, max_name=16, max_data=300, written=TS + 2)
    cv.set_value(alloc, nk, "LongName", 3, payload(2), timestamp=TS + 3)  # smaller now
    cv.delete_value(alloc, nk, "LongName", timestamp=TS + 4)
    assert reader_key(alloc) == dict(count=1, max_name=16, max_data=300, written=TS + 4)
    cv.set_value(alloc, nk, "a", 3, payload(BIG * 3), timestamp=TS + 5)
    assert reader_key(alloc)["max_data"] == BIG * 3  # full length, big data included
    cv.delete_value(alloc, nk, "a", timestamp=TS + 6)
    # Last value gone: list freed, NIL, maxima reset to 0 (fmt §4.4, §5.2).
    assert reader_key(alloc) == dict(count=0, max_name=0, max_data=0, written=TS + 6)
    assert nk_field(alloc, nk, cv.NK_VALUE_LIST) == NIL
    assert_sound(alloc)


def test_other_nk_fields_untouched() -> None:
    tree = KeySpec(
        "ROOT",
        subkeys=[
            KeySpec(
                "K",
                class_name="cls",
                user_flags=1,
                virt_flags=2,
                debug=3,
                subkeys=[KeySpec("sub")],
                values=[ValueSpec("old", 3, b"12345")],
            )
        ],
    )
    alloc = build(tree)
    nk = key_index(alloc)
    before = bytes(alloc.read(nk))
    cv.set_value(alloc, nk, "new", 3, payload(50), timestamp=TS + 7)
    cv.delete_value(alloc, nk, "new", timestamp=TS + 8)
    after = bytes(alloc.read(nk))
    changed = {i for i in range(len(before)) if before[i] != after[i]}
    # Timestamp, value list (reallocated for the 2nd entry), and the raised maxima.
    allowed = {*range(4, 12), *range(0x28, 0x2C), *range(0x3C, 0x44)}
    assert changed <= allowed and changed & set(range(4, 12))
    assert before[:4] + before[12:0x28] + before[0x2C:0x3C] + before[0x44:] == (
        after[:4] + after[12:0x28] + after[0x2C:0x3C] + after[0x44:]
    )
    assert_sound(alloc)


def test_free_values() -> None:
    values = [ValueSpec(f"v{i}", 3, payload(n)) for i, n in enumerate(SIZES)]
    alloc = build(KeySpec("ROOT", subkeys=[KeySpec("K", values=values)]))
    nk = key_index(alloc)
    cv.set_value(alloc, nk, "extra", 3, payload(3 * BIG), timestamp=TS)
    cv.free_values(alloc, nk)
    assert nk_field(alloc, nk, cv.NK_VALUE_COUNT) == 0
    assert nk_field(alloc, nk, cv.NK_VALUE_LIST) == NIL
    assert cv.value_cells(alloc, nk) == []
    assert reader_values(alloc) == []
    assert_sound(alloc)


def test_dirty_pages_cover_the_changes() -> None:
    alloc = build()
    nk = key_index(alloc)
    alloc.take_dirty()
    vk = cv.set_value(alloc, nk, "v", 3, payload(20), timestamp=TS)
    data = vk_fields(alloc, vk)[3]
    dirty = alloc.take_dirty()
    for cell in (nk, vk, data, nk_field(alloc, nk, cv.NK_VALUE_LIST)):
        assert (BASE + cell) // 4096 in dirty


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "vtype", "raw"),
    [
        (b"bytes-name", 1, b""),
        ("x" * 16384, 1, b""),
        ("ok", -1, b""),
        ("ok", 1 << 32, b""),
        ("ok", True, b""),
        ("ok", 1, "text"),
    ],
)
def test_bad_arguments_change_nothing(name: object, vtype: object, raw: object) -> None:
    alloc = build()
    nk = key_index(alloc)
    image = bytes(alloc.image)
    with pytest.raises(InvalidArgumentError):
        cv.set_value(alloc, nk, name, vtype, raw, timestamp=TS)  # type: ignore[arg-type]
    assert bytes(alloc.image) == image


def test_bad_timestamp_and_non_key_cell() -> None:
    alloc = build()
    nk = key_index(alloc)
    with pytest.raises(InvalidArgumentError):
        cv.set_value(alloc, nk, "v", 1, b"", timestamp=-1)
    with pytest.raises(InvalidArgumentError):
        cv.delete_value(alloc, nk, "v", timestamp=1 << 64)
    root = struct.unpack_from("<I", alloc.image, 0x24)[0]
    sk = nk_field(alloc, root, cv.NK_SECURITY)
    with pytest.raises(regf.errors.SignatureError):
        cv.set_value(alloc, sk, "v", 1, b"", timestamp=TS)


def test_timestamp_default_is_now() -> None:
    alloc = build()
    nk = key_index(alloc)
    cv.set_value(alloc, nk, "v", 1, b"")
    written = reader_key(alloc)["written"]
    # A FILETIME after 2020-01-01 (and not the serialized TS).
    assert written > 132223104000000000


# --------------------------------------------------------------------------- peers


def test_peers_read_edited_values(tmp_path: object) -> None:
    import oracles

    alloc = build()
    nk = key_index(alloc)
    for i, n in enumerate(SIZES):
        cv.set_value(alloc, nk, f"v{n}", 3, payload(n, seed=i), timestamp=TS)
    cv.set_value(alloc, nk, "v5", 1, payload(BIG * 2 + 7), timestamp=TS)  # plain -> db
    cv.set_value(alloc, nk, f"v{2 * BIG}", 1, payload(9), timestamp=TS)  # db -> plain
    cv.delete_value(alloc, nk, "v100", timestamp=TS)
    path = tmp_path / "edited.hiv"  # type: ignore[operator]
    path.write_bytes(finished(alloc))
    ref = oracles.walk_regf(path)
    try:
        peer = oracles.walk_pyregf(path)
    except oracles.PeerUnavailable:
        pytest.skip("pyregf not installed")
    fixed, _forgiven = oracles.reconcile_pyregf(ref, peer)
    assert oracles.diff_walks(ref, fixed, "regf", "pyregf") == ""
    if oracles.hivex_available():
        assert oracles.diff_walks(ref, oracles.walk_hivex(path), "regf", "hivex") == ""


# --------------------------------------------------------------------------- model test

_NAMES = ["", "a", "A", "b", "Long value name", "\xe4", "\xc4", "\u65e5", "\U00010400"]
_SIZE_CHOICES = [0, 1, 3, 4, 5, 7, 8, 12, 13, 100, BIG, BIG + 1, 2 * BIG + 5]

_op = st.one_of(
    st.tuples(
        st.just("set"),
        st.sampled_from(_NAMES),
        st.integers(0, 11),
        st.one_of(st.sampled_from(_SIZE_CHOICES), st.integers(0, 3 * BIG)),
    ),
    st.tuples(st.just("del"), st.sampled_from(_NAMES), st.just(0), st.just(0)),
)


@settings(max_examples=40)
@given(ops=st.lists(_op, max_size=25), minor=st.sampled_from([3, 5]))
def test_random_set_delete_matches_a_dict_model(
    ops: list[tuple[str, str, int, int]], minor: int
) -> None:
    alloc = build(minor=minor)
    nk = key_index(alloc)
    start = alloc.stats()
    bins = len(alloc.bins())
    model: dict[str, tuple[str, int, bytes]] = {}  # upcased name -> (stored name, type, raw)
    max_name = max_data = 0
    for step, (op, name, vtype, n) in enumerate(ops):
        ts = TS + step
        key = upcase(name)
        if op == "set":
            raw = payload(n, seed=step)
            cv.set_value(alloc, nk, name, vtype, raw, timestamp=ts)
            stored = model[key][0] if key in model else name
            model[key] = (stored, vtype, raw)  # dicts keep insertion order, like the list
            max_name = max(max_name, len(name.encode("utf-16-le", "surrogatepass")))
            max_data = max(max_data, n)
        else:
            assert cv.delete_value(alloc, nk, name, timestamp=ts) == (key in model)
            model.pop(key, None)
            if not model:
                max_name = max_data = 0
        assert [(r.name, r.type, r.raw) for r in cv.iter_values(alloc, nk)] == list(model.values())
    assert reader_values(alloc) == list(model.values())
    info = reader_key(alloc)
    assert (info["count"], info["max_name"], info["max_data"]) == (len(model), max_name, max_data)
    assert_sound(alloc)
    for key in list(model):
        assert cv.delete_value(alloc, nk, model[key][0], timestamp=TS)
    end = alloc.stats()
    assert end.allocated == start.allocated
    assert end.free_cells == start.free_cells + len(alloc.bins()) - bins


# --------------------------------------------------------------------------- C fast path


def _c_allocator() -> type | None:
    try:
        from regf.cells.alloc import CCellAllocator

        CCellAllocator(bytearray(serialize(KeySpec("R"), timestamp=TS)))
    except Exception:  # ImportError, or an extension without the allocator
        return None
    return CCellAllocator


def _twin_allocators(a_cls: type, b_cls: type, minor: int) -> tuple[Any, Any, dict[str, int]]:
    """Two allocators of the given classes over the same hive (keys K, K\\Sub, Other)
    and the keys' nk cells."""
    tree = KeySpec("ROOT", subkeys=[KeySpec("K", subkeys=[KeySpec("Sub")]), KeySpec("Other")])
    data = serialize(tree, minor=minor, timestamp=TS)
    with regf.open(data) as hive:
        cells = {p: int(hive.open_key(p).index) for p in ("K", "Other", "K\\Sub")}
    return a_cls(bytearray(data)), b_cls(bytearray(data)), cells


_PARITY_NAMES = st.sampled_from(
    ["", "v", "V", "value01", "VALUE01", "é", "É", "ÿ", "Ÿ", "名前", "\U0001f600", "\u0131",
     "Größe", "x" * 255, "y" * 256, "\U0001f600" * 200, "a\0b", "\0"]
)  # fmt: skip
_PARITY_SIZES = st.sampled_from([0, 1, 2, 3, 4, 5, 8, 100, 1000, BIG, BIG + 1, 40000])
_PARITY_OPS = st.lists(
    st.tuples(
        st.sampled_from(["set", "set", "set", "del"]),
        st.sampled_from(["K", "Other", "K\\Sub"]),
        _PARITY_NAMES,
        st.sampled_from([0, 1, 3, 4, 11, 0x1234, 0xFFFFFFFF]),
        _PARITY_SIZES,
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ops=_PARITY_OPS, minor=st.sampled_from([3, 5]))
def test_c_set_value_equals_python(ops: list[tuple[str, str, str, int, int]], minor: int) -> None:
    """CCellAllocator's C set_value (csrc/valcells.c regf_alloc_set_value, taken by
    cellvalues.set_value when it applies) leaves exactly the image, dirty pages, free
    cells and results of the Python specification over PyCellAllocator, including the
    cases where C declines (long names, big data, db replacement) and the Python path
    runs on the C allocator."""
    from regf.cells.alloc import PyCellAllocator

    c_cls = _c_allocator()
    if c_cls is None:
        pytest.skip("C allocator not built")
    py, c, cells = _twin_allocators(PyCellAllocator, c_cls, minor)
    for i, (op, path, name, vtype, n) in enumerate(ops):
        nk = cells[path]
        raw = payload(n, i)
        if op == "set":
            got_py = cv._set_value_py(py, nk, name, vtype, raw, None, TS + i)
            got_c = cv.set_value(c, nk, name, vtype, raw, timestamp=TS + i)
        else:
            got_py = cv.delete_value(py, nk, name, timestamp=TS + i)
            got_c = cv.delete_value(c, nk, name, timestamp=TS + i)
        assert got_c == got_py
        assert c.image == py.image
        assert c.take_dirty() == py.take_dirty()
        assert c.free_cells() == py.free_cells()
    assert c.stats() == py.stats()
    assert_sound(c)


def test_c_set_value_declines_on_a_bad_cell() -> None:
    """A value list pointing at a free cell: C declines, the Python path raises the
    precise error, and nothing was changed."""
    c_cls = _c_allocator()
    if c_cls is None:
        pytest.skip("C allocator not built")
    alloc = c_cls(bytearray(serialize(KeySpec("R", subkeys=[KeySpec("K")]), timestamp=TS)))
    with regf.open(finished(alloc)) as hive:
        nk = int(hive.open_key("K").index)
    cv.set_value(alloc, nk, "a", 4, b"\1\0\0\0", timestamp=TS)
    vlist = nk_field(alloc, nk, cv.NK_VALUE_LIST)
    vk = struct.unpack_from("<I", alloc.image, BASE + vlist + 4)[0]
    struct.pack_into("<i", alloc.image, BASE + vk, -cell_size(alloc, vk))  # "free" the vk
    before = bytes(alloc.image)
    assert alloc.set_value_fast(nk, "b", 4, b"\2\0\0\0", TS) == -1
    assert bytes(alloc.image) == before
    with pytest.raises(regf.errors.RegfError):
        cv.set_value(alloc, nk, "b", 4, b"\2\0\0\0", timestamp=TS)


_BATCHES = st.lists(
    st.tuples(
        st.sampled_from(["K", "Other", "K\\Sub"]),
        st.lists(
            st.tuples(_PARITY_NAMES, st.sampled_from([0, 3, 4, 0xFFFFFFFF]), _PARITY_SIZES),
            max_size=12,
        ),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(batches=_BATCHES, minor=st.sampled_from([3, 5]), backend=st.sampled_from(["c", "py"]))
def test_set_values_equals_set_value_one_by_one(
    batches: list[tuple[str, list[tuple[str, int, int]]]], minor: int, backend: str
) -> None:
    """cellvalues.set_values (one C call per batch on the C allocator, csrc/alloc.c
    regf_alloc_set_values, with declined values -- long names, big data, db replacement
    -- handed back to Python mid-batch) leaves exactly the image, dirty pages and free
    cells of the Python specification called once per value, repeated names included."""
    from regf.cells.alloc import PyCellAllocator

    c_cls = _c_allocator() if backend == "c" else PyCellAllocator
    if c_cls is None:
        pytest.skip("C allocator not built")
    py, bulk, cells = _twin_allocators(PyCellAllocator, c_cls, minor)
    for i, (path, batch) in enumerate(batches):
        items = [(name, vtype, payload(n, i * 16 + j)) for j, (name, vtype, n) in enumerate(batch)]
        for name, vtype, raw in items:
            cv._set_value_py(py, cells[path], name, vtype, raw, None, TS + i)
        names, types, datas = ([it[f] for it in items] for f in range(3))
        vb.set_values(bulk, cells[path], names, types, datas, timestamp=TS + i)
        assert bulk.image == py.image
        assert bulk.take_dirty() == py.take_dirty()
        assert bulk.free_cells() == py.free_cells()
    assert_sound(bulk)


def test_set_values_checks_every_item_before_writing() -> None:
    """A bad item anywhere in the batch raises before the first value is written, and so
    do lists of different lengths."""
    alloc = build()
    nk = key_index(alloc)
    before = bytes(alloc.image)
    bad_items: list[list[tuple[object, object, object]]] = [
        [("a", 4, b"\1\0\0\0"), ("b", -1, b"")],
        [("a", 4, b"\1\0\0\0"), ("x" * 16384, 4, b"")],
        [("a", 4, b"\1\0\0\0"), (None, 4, b"")],
    ]
    for items in bad_items:
        names, types, datas = ([it[f] for it in items] for f in range(3))
        with pytest.raises(InvalidArgumentError):
            vb.set_values(alloc, nk, names, types, datas, timestamp=TS)  # type: ignore[arg-type]
        assert bytes(alloc.image) == before
    with pytest.raises(InvalidArgumentError):
        vb.set_values(alloc, nk, ["a", "b"], [4], [b"", b""], timestamp=TS)
    assert bytes(alloc.image) == before


def test_set_batch_with_arguments_beyond_c_types_runs_in_python() -> None:
    """set_batch with an nk beyond a C int64 (C cannot be called: the allocator answers
    -1 before C runs) raises the Python function's own error and changes nothing, on
    both allocators alike."""
    from regf.cells.alloc import PyCellAllocator

    c_cls = _c_allocator()
    if c_cls is None:
        pytest.skip("C allocator not built")
    batch = vb.quick_batch([("v", b"1234", 4)], frozenset({tuple, bytes, int}))
    assert batch is not None
    errors = []
    for cls in (PyCellAllocator, c_cls):
        alloc = cls(bytearray(serialize(KeySpec("R", subkeys=[KeySpec("K")]), timestamp=TS)))
        before = bytes(alloc.image)
        if cls is c_cls:
            args = (batch.names16, batch.data, batch.meta, TS, True)
            assert alloc.set_values_fast(1 << 70, *args) == -1
        with pytest.raises(regf.errors.RegfError) as info:
            vb.set_batch(alloc, 1 << 70, batch, 5, TS)
        errors.append((type(info.value), str(info.value)))
        assert bytes(alloc.image) == before
    assert errors[0] == errors[1]


def test_c_open_key_answers() -> None:
    """CCellAllocator.open_key_fast's one int: the child's nk when it exists, nk +
    CREATED when the call created it, -1 when absent and not creating, -2 when C
    declines before changing anything; find_key_fast / create_key_fast are its two
    halves."""
    from regf.cells.alloc import CREATED

    c_cls = _c_allocator()
    if c_cls is None:
        pytest.skip("C allocator not built")
    alloc = c_cls(bytearray(serialize(KeySpec("R", subkeys=[KeySpec("K")]), timestamp=TS)))
    with regf.open(finished(alloc)) as hive:
        root, k = int(hive.root.index), int(hive.open_key("K").index)
    assert alloc.open_key_fast(root, "k", TS, False) == k  # case-insensitive
    assert alloc.find_key_fast(root, "K") == k
    assert alloc.open_key_fast(root, "New", TS, False) == -1
    assert alloc.find_key_fast(root, "New") == -1
    before = bytes(alloc.image)
    assert alloc.open_key_fast(1 << 70, "New", TS, True) == -2  # beyond C's int64
    assert alloc.open_key_fast(root + 1, "New", TS, True) == -2  # not a cell: declined
    assert bytes(alloc.image) == before
    r = alloc.open_key_fast(root, "New", TS, True)
    assert r >= CREATED
    nk = r - CREATED
    assert alloc.open_key_fast(root, "NEW", TS, True) == nk  # now found, not created
    assert alloc.create_key_fast(root, "new", TS) == -1  # exists: nothing changed
    made = alloc.create_key_fast(root, "Other", TS)
    assert made >= 0 and alloc.find_key_fast(root, "other") == made
    with regf.open(finished(alloc)) as hive:
        assert sorted(s.name for s in hive.root.subkeys()) == ["K", "New", "Other"]
        assert int(hive.open_key("New").index) == nk
    assert_sound(alloc)


def test_c_set_value_answers() -> None:
    """CCellAllocator.set_value_fast's one int: a new value's vk + CREATED, the same vk
    (unmarked) when it replaces that value in any case of its name, -1 when C
    declines; cellvalues.set_value hands back the bare vk either way."""
    from regf.cells.alloc import CREATED

    c_cls = _c_allocator()
    if c_cls is None:
        pytest.skip("C allocator not built")
    alloc = c_cls(bytearray(serialize(KeySpec("R", subkeys=[KeySpec("K")]), timestamp=TS)))
    nk = key_index(alloc)
    r = alloc.set_value_fast(nk, "Name", 4, b"\1\0\0\0", TS)
    assert r >= CREATED
    vk = r - CREATED
    assert alloc.set_value_fast(nk, "NAME", 3, b"xyz", TS) == vk
    assert alloc.set_value_fast(1 << 70, "x", 4, b"", TS) == -1  # beyond C's int64
    assert cv.set_value(alloc, nk, "name", 1, b"a\0", timestamp=TS) == vk
    assert cv.set_value(alloc, nk, "Other", 1, b"b\0", timestamp=TS) < CREATED
    assert reader_values(alloc) == [("Name", 1, b"a\0"), ("Other", 1, b"b\0")]
