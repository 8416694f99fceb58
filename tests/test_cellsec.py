"""Tests of :mod:`regf.cells.security`: shared sk cells, the sk ring and reference counts.

Images come from :func:`regf.model.serialize.serialize`; keys are re-pointed at new
descriptors in place and every result is checked by walking the ring by hand (flink and
blink exact), by :func:`check_security` (refcount == referencing keys), by the reader
(``key.security_raw``), and for leaks by :func:`regf.cells.reach.leaked_cells`.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import regf
from regf._accel import checksum
from regf.cells import security as cs
from regf.cells.alloc import CellAllocator, cell_total
from regf.cells.reach import leaked_cells
from regf.errors import InvalidArgumentError, StructureError
from regf.format.security import from_sddl
from regf.model.check import scan_bins
from regf.model.serialize import DEFAULT_SECURITY, serialize
from regf.model.spec import KeySpec

BASE = 4096
TS = 0x01D0_0000_0000_0000

SD_A = from_sddl("O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;KR;;;BU)").to_bytes()
SD_B = from_sddl("O:SYG:SYD:(A;;KA;;;BA)").to_bytes()
SD_C = from_sddl("O:BAG:BAD:P(A;CI;KA;;;BA)(D;;KA;;;WD)").to_bytes()
SD_D = from_sddl("O:BAG:SYD:(A;;KR;;;WD)S:(AU;SA;KA;;;WD)").to_bytes()
POOL = [DEFAULT_SECURITY, SD_A, SD_B, SD_C, SD_D]


def build(n_keys: int = 4, security: list[bytes | None] | None = None) -> CellAllocator:
    """ROOT with subkeys k0..k{n-1}; ``security[i]`` for key i (None: the default)."""
    sec = security or [None] * n_keys
    tree = KeySpec("ROOT", subkeys=[KeySpec(f"k{i}", security=sec[i]) for i in range(n_keys)])
    return CellAllocator(bytearray(serialize(tree, timestamp=TS)))


def finished(alloc: CellAllocator) -> bytes:
    img = bytearray(alloc.image)
    struct.pack_into("<I", img, 0x1FC, checksum(img))
    return bytes(img)


def root_of(alloc: CellAllocator) -> int:
    return int(struct.unpack_from("<I", alloc.image, 0x24)[0])


def key_index(alloc: CellAllocator, path: str) -> int:
    with regf.open(finished(alloc)) as hive:
        return int(hive.open_key(path).index)


def nk_sk(alloc: CellAllocator, nk: int) -> int:
    return int(struct.unpack_from("<I", alloc.image, BASE + nk + 4 + 0x2C)[0])


def refcount(alloc: CellAllocator, sk: int) -> int:
    return cs.read_sk(alloc, sk).reference_count


def ring_by_hand(alloc: CellAllocator, start: int) -> list[int]:
    """Follow flink from ``start`` back to it, asserting every blink mirrors it."""
    out = [start]
    cur = start
    for _ in range(1000):
        flink = struct.unpack_from("<I", alloc.image, BASE + cur + 4 + 4)[0]
        blink_of_next = struct.unpack_from("<I", alloc.image, BASE + flink + 4 + 8)[0]
        assert blink_of_next == cur
        if flink == start:
            return out
        out.append(flink)
        cur = flink
    raise AssertionError("ring does not close")


def assert_sound(alloc: CellAllocator) -> None:
    data = finished(alloc)
    assert scan_bins(data, alloc.hbins_size).problems == []
    assert cs.check_security(data, root_of(alloc)) == []
    assert leaked_cells(data) == set()


def reader_security(alloc: CellAllocator) -> dict[str, bytes]:
    with regf.open(finished(alloc)) as hive:
        return {k.path: k.security_raw for k in hive.walk()}


# --------------------------------------------------------------------------- basics


def test_serialized_hive_is_sound() -> None:
    alloc = build(4, [None, SD_A, SD_A, None])
    sks = ring_by_hand(alloc, nk_sk(alloc, root_of(alloc)))
    assert len(sks) == 2
    assert [refcount(alloc, s) for s in sks] == [3, 2]
    assert_sound(alloc)


def test_identical_descriptor_is_shared() -> None:
    alloc = build()
    root_sk = nk_sk(alloc, root_of(alloc))
    before = bytes(alloc.image)
    assert cs.find_or_create_sk(alloc, root_sk, DEFAULT_SECURITY) == root_sk
    assert cs.find_sk(alloc, root_sk, SD_A) is None
    assert bytes(alloc.image) == before


def test_new_sk_is_linked_before_the_anchor() -> None:
    alloc = build(3, [None, SD_A, SD_B])
    ring = ring_by_hand(alloc, nk_sk(alloc, root_of(alloc)))
    assert len(ring) == 3
    anchor = ring[1]
    new = cs.find_or_create_sk(alloc, anchor, SD_C)
    rec = cs.read_sk(alloc, new)
    assert (rec.flink, rec.blink, rec.reference_count, rec.descriptor) == (
        anchor,
        ring[0],
        0,
        SD_C,
    )
    assert ring_by_hand(alloc, ring[0]) == [ring[0], new, ring[1], ring[2]]
    # Cell = round8(4 + 0x14 + len), fmt §4.5.
    assert struct.unpack_from("<i", alloc.image, BASE + new)[0] == -cell_total(0x14 + len(SD_C))
    # Unreferenced until the caller adds a reference: the checker says so.
    problems = cs.check_security(finished(alloc), root_of(alloc))
    assert len(problems) == 1 and "unreferenced" in problems[0][1]


def test_insert_into_a_ring_of_one() -> None:
    alloc = build()
    only = nk_sk(alloc, root_of(alloc))
    assert cs.sk_ring(alloc, only) == [only]
    new = cs.find_or_create_sk(alloc, only, SD_A)
    assert cs.sk_ring(alloc, only) == [only, new]
    assert cs.read_sk(alloc, only)[:2] == (new, new)
    assert cs.read_sk(alloc, new)[:2] == (only, only)


def test_set_key_security_moves_references() -> None:
    alloc = build(3)
    root = root_of(alloc)
    default_sk = nk_sk(alloc, root)
    assert refcount(alloc, default_sk) == 4
    k0, k1 = key_index(alloc, "k0"), key_index(alloc, "k1")
    new = cs.set_key_security(alloc, k0, SD_A)
    assert nk_sk(alloc, k0) == new != default_sk
    assert (refcount(alloc, new), refcount(alloc, default_sk)) == (1, 3)
    assert cs.set_key_security(alloc, k1, SD_A) == new  # shared
    assert (refcount(alloc, new), refcount(alloc, default_sk)) == (2, 2)
    assert cs.set_key_security(alloc, k1, SD_A) == new  # same again: nothing changes
    assert refcount(alloc, new) == 2
    assert_sound(alloc)
    sec = reader_security(alloc)
    assert sec == {"": DEFAULT_SECURITY, "k0": SD_A, "k1": SD_A, "k2": DEFAULT_SECURITY}
    assert cs.key_security(alloc, k0) == SD_A
    # Moving both back frees SD_A's sk: unlinked, cell free, ring of one again.
    cs.set_key_security(alloc, k0, DEFAULT_SECURITY)
    cs.set_key_security(alloc, k1, DEFAULT_SECURITY)
    assert struct.unpack_from("<i", alloc.image, BASE + new)[0] > 0
    assert ring_by_hand(alloc, default_sk) == [default_sk]
    assert refcount(alloc, default_sk) == 4
    assert_sound(alloc)


def test_release_unlinks_the_middle_of_a_ring() -> None:
    alloc = build(3, [SD_A, SD_B, SD_C])
    head = nk_sk(alloc, root_of(alloc))
    ring = ring_by_hand(alloc, head)
    assert len(ring) == 4
    k1 = key_index(alloc, "k1")
    middle = nk_sk(alloc, k1)
    assert middle == ring[2]
    allocated = alloc.stats().allocated
    cs.set_key_security(alloc, k1, SD_A)
    assert ring_by_hand(alloc, head) == [ring[0], ring[1], ring[3]]
    assert alloc.stats().allocated == allocated - cell_total(0x14 + len(SD_B))
    assert_sound(alloc)


def test_last_sk_is_never_freed() -> None:
    alloc = build(0)
    only = nk_sk(alloc, root_of(alloc))
    assert refcount(alloc, only) == 1
    assert cs.sk_release(alloc, only) is False
    assert refcount(alloc, only) == 0
    assert struct.unpack_from("<i", alloc.image, BASE + only)[0] < 0
    with pytest.raises(StructureError):
        cs.sk_release(alloc, only)
    assert cs.sk_addref(alloc, only) == 1
    assert_sound(alloc)


def test_addref_and_release_counts() -> None:
    alloc = build(1)
    sk = nk_sk(alloc, root_of(alloc))
    assert cs.sk_addref(alloc, sk, 5) == 7
    for _ in range(5):
        assert cs.sk_release(alloc, sk) is False
    assert refcount(alloc, sk) == 2
    assert_sound(alloc)


def test_new_key_uses_anchor() -> None:
    """A node without an sk yet (security NIL) is given one through ``anchor``."""
    alloc = build(1)
    k0 = key_index(alloc, "k0")
    parent_sk = nk_sk(alloc, root_of(alloc))
    cs.sk_release(alloc, parent_sk)
    alloc.write(k0, 0x2C, b"\xff\xff\xff\xff")  # as if the nk were just being built
    with pytest.raises(InvalidArgumentError):
        cs.set_key_security(alloc, k0, SD_A)
    sk = cs.set_key_security(alloc, k0, SD_A, anchor=parent_sk)
    assert refcount(alloc, sk) == 1
    assert_sound(alloc)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x01" * 10,
        SD_A[:-1],  # owner SID cut short
        bytes([1, 0, 0x04, 0x00]) + SD_A[4:],  # not self-relative
        bytes([1, 0]) + SD_A[2:16] + struct.pack("<I", 0x4000),  # DACL offset past the end
        "O:BA",
    ],
)
def test_bad_descriptors_are_refused(bad: object) -> None:
    alloc = build(1)
    k0 = key_index(alloc, "k0")
    image = bytes(alloc.image)
    with pytest.raises(InvalidArgumentError):
        cs.set_key_security(alloc, k0, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        cs.find_or_create_sk(alloc, nk_sk(alloc, k0), bad)  # type: ignore[arg-type]
    assert bytes(alloc.image) == image


def test_descriptor_round_trips_byte_exact() -> None:
    assert cs.validate_descriptor(bytearray(SD_D)) == SD_D


# --------------------------------------------------------------------------- cache


def test_cache_gives_the_same_answers_and_survives_staleness() -> None:
    alloc = build(4)
    cache = cs.SkCache()
    keys = [key_index(alloc, f"k{i}") for i in range(4)]
    a = cs.set_key_security(alloc, keys[0], SD_A, cache=cache)
    assert cache.built and cache.by_desc[SD_A] == a
    assert cs.set_key_security(alloc, keys[1], SD_A, cache=cache) == a
    b = cs.set_key_security(alloc, keys[2], SD_B, cache=cache)
    # Free SD_B's sk behind the cache's back, then allocate something over it.
    cs.set_key_security(alloc, keys[2], DEFAULT_SECURITY)
    assert cache.by_desc[SD_B] == b
    assert cs.find_sk(alloc, a, SD_B, cache=cache) is None  # stale hit re-verified
    b2 = cs.set_key_security(alloc, keys[3], SD_B, cache=cache)
    assert cs.read_sk(alloc, b2).descriptor == SD_B
    # Releasing through the cache drops the entry.
    cs.set_key_security(alloc, keys[3], DEFAULT_SECURITY, cache=cache)
    assert SD_B not in cache.by_desc
    assert_sound(alloc)


# --------------------------------------------------------------------------- checker


def corrupt(alloc: CellAllocator, cell: int, off: int, value: int) -> bytes:
    img = bytearray(finished(alloc))
    struct.pack_into("<I", img, BASE + cell + 4 + off, value)
    return bytes(img)


def test_checker_finds_bad_refcount_ring_and_stray_sk() -> None:
    alloc = build(3, [SD_A, SD_B, None])
    root = root_of(alloc)
    ring = ring_by_hand(alloc, nk_sk(alloc, root))
    assert len(ring) == 3
    bad_count = corrupt(alloc, ring[1], 0x0C, 7)
    msgs = [m for _o, m in cs.check_security(bad_count, root)]
    assert len(msgs) == 1 and "reference count 7, 1 key(s)" in msgs[0]
    bad_blink = corrupt(alloc, ring[2], 0x08, ring[2])
    assert any("blink" in m for _o, m in cs.check_security(bad_blink, root))
    # ring[0] -> ring[2] directly: ring[1] is still used by a key but not in the ring.
    skipped = bytearray(corrupt(alloc, ring[0], 0x04, ring[2]))
    struct.pack_into("<I", skipped, BASE + ring[2] + 4 + 8, ring[0])
    msgs = [m for _o, m in cs.check_security(bytes(skipped), root)]
    assert any("not in the ring" in m for m in msgs)
    not_sk = corrupt(alloc, key_index(alloc, "k2"), 0x2C, key_index(alloc, "k1"))
    assert any("not a valid sk" in m for _o, m in cs.check_security(not_sk, root))
    with pytest.raises(StructureError):
        cs.sk_ring(CellAllocator(bytearray(bad_blink)), ring[0])


def test_checker_on_real_hives(corpus: Path) -> None:
    """Windows-written hives keep the ring and the counts exact (fmt §4.5 [observed])."""
    names = [
        "ColinFinck__nt-hive/testdata/testhive",
        "msuhanov__yarp/hives_for_tests/BigDataHive",
        "msuhanov__yarp/hives_for_tests/System_Delta",  # 1.6, 42 sk cells in one ring
        "msuhanov__yarp/hives_for_tests/TwoOwnersHive",
        "msuhanov__yarp/hives_for_tests/OffHive",
        "EricZimmerman__Registry/Registry.Test/Hives/SAM",
    ]
    checked = 0
    for name in names:
        path = corpus / name
        if not path.exists():
            continue
        data = path.read_bytes()
        root = struct.unpack_from("<I", data, 0x24)[0]
        assert cs.check_security(data, root) == [], name
        checked += 1
    assert checked == len(names)


# --------------------------------------------------------------------------- model test

_ops = st.lists(st.tuples(st.integers(0, 5), st.integers(0, len(POOL) - 1)), max_size=30)


@settings(max_examples=40)
@given(ops=_ops, use_cache=st.booleans())
def test_random_security_assignments(ops: list[tuple[int, int]], use_cache: bool) -> None:
    alloc = build(5)
    keys = [root_of(alloc)] + [key_index(alloc, f"k{i}") for i in range(5)]
    # One cache for every call or none at all (the module's contract).
    cache = cs.SkCache() if use_cache else None
    model = [DEFAULT_SECURITY] * 6
    start = alloc.stats().allocated
    for k, d in ops:
        cs.set_key_security(alloc, keys[k], POOL[d], cache=cache)
        model[k] = POOL[d]
        data = finished(alloc)
        assert cs.check_security(data, keys[0]) == []
        ring = cs.sk_ring(alloc, nk_sk(alloc, keys[0]))
        assert sorted(cs.read_sk(alloc, s).descriptor for s in ring) == sorted(set(model))
    assert reader_security(alloc) == {
        ("" if i == 0 else f"k{i - 1}"): sd for i, sd in enumerate(model)
    }
    assert_sound(alloc)
    for k in keys:
        cs.set_key_security(alloc, k, DEFAULT_SECURITY, cache=cache)
    assert alloc.stats().allocated == start
    assert_sound(alloc)
