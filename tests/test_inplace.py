"""Byte-level fidelity of the in-place writer (regf.model.edit / nodes / sublists).

Checks the image itself, cell by cell, against format.md: subkey list kinds by version,
1.5x leaf growth (cell sizes observed in Windows hives), lf -> li conversion, ri
creation and splits (Windows' ManySubkeysHive reproduced exactly), maxima as UTF-16
high-water marks touching only the low 16 bits of +0x34, timestamps, compressed names,
handles across moves, volatile keys, and that deleting frees every cell (no leak) while
every structural check passes.
"""

from __future__ import annotations

import struct
import warnings
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import corpus_dir

import regf
from regf._accel import checksum, name_hash, sort_key
from regf.cells import sublists
from regf.cells.security import check_security
from regf.cli.check import walk_problems
from regf.format.constants import BASE, DATA_INLINE, HCELL_NIL
from regf.model.check import check_hive
from regf.model.edit import ChildMustBeVolatileError, EditHive, EditKey
from regf.model.serialize import lf_hint

FT = 132_000_000_000_000_000

# ---------------------------------------------------------------------------------------
# Image helpers
# ---------------------------------------------------------------------------------------


def u16(buf: Any, off: int) -> int:
    return int(struct.unpack_from("<H", buf, off)[0])


def u32(buf: Any, off: int) -> int:
    return int(struct.unpack_from("<I", buf, off)[0])


def cell_size(buf: Any, cell: int) -> int:
    """Absolute size of the cell at ``cell`` (allocated cells are negative)."""
    size = int(struct.unpack_from("<i", buf, BASE + cell)[0])
    assert size < 0, f"cell {cell:#x} is free"
    return -size


def nk_field(buf: Any, nk: int, off: int) -> int:
    return u32(buf, BASE + nk + 4 + off)


def list_of(key: EditKey) -> int:
    assert key.index is not None
    return nk_field(key._hive.image, key.index, 0x1C)


def list_head(buf: Any, cell: int) -> tuple[bytes, int, int]:
    """(signature, count, cell size) of a subkey list cell."""
    start = BASE + cell + 4
    return bytes(buf[start : start + 2]), u16(buf, start + 2), cell_size(buf, cell)


def leaves_of(buf: Any, lst: int) -> list[tuple[bytes, int, int]]:
    sig, n, _size = list_head(buf, lst)
    if sig != b"ri":
        return [list_head(buf, lst)]
    return [list_head(buf, c) for c in struct.unpack_from(f"<{n}I", buf, BASE + lst + 8)]


def clean_copy(hive: EditHive) -> bytes:
    """The image as a clean primary (Seq2 = Seq1, checksum) for the reader."""
    img = bytearray(hive.image)
    struct.pack_into("<I", img, 8, u32(img, 4))
    struct.pack_into("<I", img, 0x1FC, checksum(img[:512]))
    return bytes(img)


def reachable(buf: Any, root: int) -> set[int]:
    """Every cell the stable tree points at (nk, class, sk, lists, values, data)."""
    minor = u32(buf, 0x18)
    out: set[int] = set()
    stack = [root]
    while stack:
        nk = stack.pop()
        out.add(nk)

        def f(off: int, nk: int = nk) -> int:
            return nk_field(buf, nk, off)

        out.add(f(0x2C))
        if u16(buf, BASE + nk + 4 + 0x4A) and f(0x30) not in (HCELL_NIL, 0):
            out.add(f(0x30))
        if f(0x14):
            lst = f(0x1C)
            out.add(lst)
            sig, n, _ = list_head(buf, lst)
            lvs = list(struct.unpack_from(f"<{n}I", buf, BASE + lst + 8)) if sig == b"ri" else [lst]
            for leaf in lvs:
                out.add(leaf)
                lsig, ln, _ = list_head(buf, leaf)
                es = 4 if lsig == b"li" else 8
                for i in range(ln):
                    stack.append(u32(buf, BASE + leaf + 8 + es * i))
        if f(0x24):
            vl = f(0x28)
            out.add(vl)
            for vk in struct.unpack_from(f"<{f(0x24)}I", buf, BASE + vl + 4):
                out.add(vk)
                size, data = struct.unpack_from("<II", buf, BASE + vk + 4 + 4)
                if size & DATA_INLINE or size == 0:
                    continue
                out.add(data)
                at = BASE + data + 4
                if minor >= 4 and size > 16344 and bytes(buf[at : at + 2]) == b"db":
                    count, seg_list = struct.unpack_from("<HI", buf, at + 2)
                    out.add(seg_list)
                    out.update(struct.unpack_from(f"<{count}I", buf, BASE + seg_list + 4))
    return out


def allocated(buf: Any) -> set[int]:
    out: set[int] = set()
    end = u32(buf, 0x28)
    off = 0
    while off < end:
        size = u32(buf, BASE + off + 8)
        c = off + 32
        while c < off + size:
            n = int(struct.unpack_from("<i", buf, BASE + c)[0])
            if n < 0:
                out.add(c)
            c += abs(n)
        off += size
    return out


def structure_problems(hive: EditHive) -> list[str]:
    """Everything ``regf check`` checks, plus sk rings/refcounts, sorted and hashed lists,
    parent pointers, counts and leaked cells, on the live image."""
    data = clean_copy(hive)
    problems: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dirty or odd image would warn
        # 1.2 hives are read leniently (strict mode accepts 1.3 .. 1.6 only)
        with regf.open(data, strict=u32(data, 0x18) >= 3) as h:
            problems += [str(p) for p in walk_problems(h)[0]]
            problems += [str(p) for p in check_hive(h)]
    root = u32(data, 0x24)
    problems += [m for _o, m in check_security(data, root)]
    minor = u32(data, 0x18)
    stack = [root]
    while stack:
        nk = stack.pop()
        count, lst = nk_field(data, nk, 0x14), nk_field(data, nk, 0x1C)
        if not count:
            if lst != HCELL_NIL:
                problems.append(f"nk {nk:#x}: count 0 but list {lst:#x}")
            continue
        lvs = leaves_of(data, lst)
        if sum(n for _s, n, _z in lvs) != count:
            problems.append(f"nk {nk:#x}: leaf counts do not sum to {count}")
        children = sublists.cells(bytearray(data), lst, u32(data, 0x28))
        keys = [sublists.nk_key(bytearray(data), c) for c in children]
        if any(a >= b for a, b in pairwise(keys)):
            problems.append(f"nk {nk:#x}: subkey list not sorted")
        sig, _n, _z = list_head(data, lst)
        top = [lst] if sig != b"ri" else list(struct.unpack_from(f"<{_n}I", data, BASE + lst + 8))
        for leaf in top:
            lsig, ln, _ = list_head(data, leaf)
            if sig == b"ri" and lsig != (b"lh" if minor >= 5 else b"li"):
                problems.append(f"leaf {leaf:#x} under ri is {lsig!r}")
            for i in range(ln):
                el = BASE + leaf + 8 + (4 if lsig == b"li" else 8) * i
                child = u32(data, el)
                cname = _nk_name(data, child)
                if lsig == b"lh" and u32(data, el + 4) != name_hash(cname):
                    problems.append(f"bad lh hash for {cname!r}")
                if lsig == b"lf" and bytes(data[el + 4 : el + 8]) != lf_hint(cname):
                    problems.append(f"bad lf hint for {cname!r}")
        for c in children:
            if nk_field(data, c, 0x10) != nk:
                problems.append(f"nk {c:#x}: parent field {nk_field(data, c, 0x10):#x} != {nk:#x}")
            stack.append(c)
    leaked = allocated(data) - reachable(data, root)
    if leaked:
        problems.append(f"leaked cells: {sorted(leaked)[:10]}")
    return problems


def _nk_name(buf: Any, nk: int) -> str:
    start = BASE + nk + 4
    n = u16(buf, start + 0x48)
    raw = bytes(buf[start + 0x4C : start + 0x4C + n])
    if u16(buf, start + 2) & 0x20:
        return raw.decode("latin-1")
    return raw[: n & ~1].decode("utf-16-le", "surrogatepass")


@pytest.fixture
def new_hive(tmp_path: Path) -> Any:
    hives: list[EditHive] = []

    def make(minor: int = 5) -> EditHive:
        h = regf.create(tmp_path / f"h{len(hives)}.hiv", minor=minor)
        hives.append(h)
        return h

    yield make
    for h in hives:
        h.discard()


# ---------------------------------------------------------------------------------------
# Fresh image
# ---------------------------------------------------------------------------------------


def test_fresh_image(new_hive: Any) -> None:
    hive = new_hive()
    img = hive.image
    assert bytes(img[:4]) == b"regf" and u32(img, 0x18) == 5
    assert u32(img, 0x28) == 4096 and len(img) == 8192
    root = hive.root_cell
    assert u32(img, 0x24) == root
    assert u16(img, BASE + root + 4 + 2) == 0x2C  # HIVE_ENTRY | NO_DELETE | COMP_NAME
    sk = nk_field(img, root, 0x2C)
    assert bytes(img[BASE + sk + 4 : BASE + sk + 6]) == b"sk"
    # a lone sk links to itself and counts the root
    assert struct.unpack_from("<III", img, BASE + sk + 8) == (sk, sk, 1)
    assert hive.allocator.image is img
    assert structure_problems(hive) == []


# ---------------------------------------------------------------------------------------
# Subkey lists
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "kind"), [(2, b"li"), (3, b"lf"), (4, b"lf"), (5, b"lh"), (6, b"lh")]
)
def test_first_leaf_kind_by_version(new_hive: Any, minor: int, kind: bytes) -> None:
    hive = new_hive(minor)
    k = hive.create_key("K")
    k.create_key("child")
    sig, n, size = list_head(hive.image, list_of(k))
    assert (sig, n, size) == (kind, 1, 16)  # sizeof(CM_KEY_FAST_INDEX) -> 16-byte cell
    assert structure_problems(hive) == []


def test_leaf_growth_matches_windows(new_hive: Any) -> None:
    # System_Delta (Windows 10, 1.6): lh leaves with these counts have these cell sizes
    # (fmt §4.2), whatever the insertion order.
    observed = {1: 16, 2: 24, 3: 40, 9: 96, 14: 144, 35: 328, 61: 496, 181: 1680, 242: 2520}
    hive = new_hive(6)
    k = hive.create_key("K")
    import random

    order = list(range(242))
    random.Random(7).shuffle(order)
    seen = {}
    for n, i in enumerate(order, 1):
        k.create_key(f"sub{i:04d}")
        if n in observed:
            seen[n] = list_head(hive.image, list_of(k))[2]
    assert seen == observed
    assert structure_problems(hive) == []


def test_leaf_cell_kept_while_it_fits(new_hive: Any) -> None:
    hive = new_hive()
    k = hive.create_key("K")
    k.create_key("a")
    k.create_key("b")
    cell = list_of(k)  # cap 20: 2 lh entries
    k.create_key("c")
    moved = list_of(k)
    assert moved != cell and list_head(hive.image, moved)[2] == 40  # 20 * 1.5 = 30 -> 40
    k.create_key("d")  # 4 + 4 * 8 = 36 <= 36: same cell
    assert list_of(k) == moved
    k.delete_key("a")
    k.delete_key("b")
    assert list_of(k) == moved and list_head(hive.image, moved)[:2] == (b"lh", 2)  # not shrunk


def test_lf_converts_to_li_in_place(new_hive: Any) -> None:
    hive = new_hive(3)
    k = hive.create_key("K")
    for i in range(507):
        k.create_key(f"n{i:04d}")
    lst = list_of(k)
    assert list_head(hive.image, lst) == (b"lf", 507, 5680)
    k.create_key("n9999")
    assert list_of(k) == lst  # same cell
    assert list_head(hive.image, lst) == (b"li", 508, 5680)
    assert structure_problems(hive) == []


def test_index_root_split_reproduces_windows(new_hive: Any, maybe_corpus: Path | None) -> None:
    """yarp's ManySubkeysHive (Windows, 1.3): 5000 subkeys "1".."5000" created in numeric
    order give an ri of 9 li leaves with these counts and cell sizes (fmt §4.2)."""
    hive = new_hive(3)
    k = hive.create_key("key_with_many_subkeys")
    for i in range(1, 5001):
        k.create_key(str(i))
    lst = list_of(k)
    mine = (list_head(hive.image, lst), [x[1:] for x in leaves_of(hive.image, lst)])
    windows = (
        (b"ri", 9, 48),
        [(506, 5680)] + [(506, 4600)] * 6 + [(951, 4600), (507, 2040)],
    )
    assert mine == windows
    name = "msuhanov__yarp/hives_for_tests/ManySubkeysHive"
    src = maybe_corpus / name if maybe_corpus else None
    if src is not None and src.exists():
        data = src.read_bytes()
        with regf.open(data) as h:
            wk = h.open_key("key_with_many_subkeys")
            wl = u32(data, BASE + wk.index + 4 + 0x1C)
            assert (list_head(data, wl), [x[1:] for x in leaves_of(data, wl)]) == mine
    assert structure_problems(hive) == []
    # and every key is found again, in order
    names = sorted((str(i) for i in range(1, 5001)), key=sort_key)
    assert [s.name for s in k.subkeys()] == names
    assert k.subkey("4321").name == "4321"


@pytest.fixture
def maybe_corpus() -> Path | None:
    """The corpus directory, or None (the test then checks the documented numbers only)."""
    return corpus_dir()


def test_lh_root_and_removal(new_hive: Any) -> None:
    hive = new_hive(5)
    k = hive.create_key("K")
    for i in range(1014):
        k.create_key(f"k{i:05d}")
    lst = list_of(k)
    head = list_head(hive.image, lst)
    assert head[:2] == (b"ri", 2) and head[2] == 16
    assert [x[:2] for x in leaves_of(hive.image, lst)] == [(b"lh", 506), (b"lh", 508)]
    # the split-off leaf was allocated with 8 * 507 + 4 + 1 data bytes, then grew 1.5x
    assert structure_problems(hive) == []
    before = hive.allocator.stats()
    # remove every key of the second leaf: the leaf is freed and leaves the root
    for i in range(506, 1014):
        k.delete_key(f"k{i:05d}")
    assert list_head(hive.image, list_of(k))[:2] == (b"ri", 1)
    for i in range(506):
        k.delete_key(f"k{i:05d}")
    assert nk_field(hive.image, k.index, 0x1C) == HCELL_NIL and k.subkey_count == 0
    assert hive.allocator.stats().allocated < before.allocated
    assert structure_problems(hive) == []


def test_sorting_uses_windows_upcase(new_hive: Any) -> None:
    hive = new_hive()
    names = ["ss1", "SS3", "ß2", "b", "B2", "ÿ", "µ", "Ω", "\U0001f600", "\ue000", "a"]
    k = hive.create_key("K")
    for n in names:
        k.create_key(n)
    got = [s.name for s in k.subkeys()]
    assert got == sorted(names, key=sort_key)
    assert got.index("ss1") < got.index("SS3") < got.index("ß2")  # UpcaseHive's order
    assert got.index("\U0001f600") < got.index("\ue000")  # surrogates below U+E000
    assert structure_problems(hive) == []


# ---------------------------------------------------------------------------------------
# Names, maxima, timestamps
# ---------------------------------------------------------------------------------------


def test_names_compressed_when_latin1(new_hive: Any) -> None:
    hive = new_hive()
    a = hive.create_key("Straße")
    b = hive.create_key("日本")
    img = hive.image
    assert a.index is not None and b.index is not None
    assert u16(img, BASE + a.index + 4 + 2) & 0x20 and u16(img, BASE + a.index + 4 + 0x48) == 6
    assert not u16(img, BASE + b.index + 4 + 2) & 0x20
    assert u16(img, BASE + b.index + 4 + 0x48) == 4
    assert cell_size(img, a.index) == (4 + 0x4C + 6 + 7) & ~7
    # renaming across the Latin-1 boundary flips the flag
    hive.rename_key("Straße", "Ωmega")
    assert a.name == "Ωmega" and not a.flags & 0x20
    assert structure_problems(hive) == []


def test_maxima_high_water(new_hive: Any) -> None:
    hive = new_hive()
    p = hive.create_key("P")
    p.user_flags, p.virt_flags, p.debug = 0x3, 0x5, 0x7
    p.create_key("abc", class_name="Klass")
    assert (p.max_name_len, p.max_class_len) == (6, 10)
    p.create_key("a\U0001f600")  # 3 code units: 6 bytes, not more
    long = p.create_key("x" * 200)
    assert (p.max_name_len, p.max_class_len) == (400, 10)
    p.delete_key("x" * 200)
    assert p.max_name_len == 400  # high-water mark, not recomputed
    # the flag nibbles and debug byte beside MaxNameLen survive
    assert (p.user_flags, p.virt_flags, p.debug) == (0x3, 0x5, 0x7)
    p.delete_key("abc")
    p.delete_key("a\U0001f600")
    assert (p.max_name_len, p.max_class_len) == (0, 0)  # reset with the last subkey
    assert (p.user_flags, p.virt_flags, p.debug) == (0x3, 0x5, 0x7)
    assert long.deleted
    # value maxima (cellvalues) are high-water marks too
    p.set_value("name", b"12345678")
    assert (p.max_value_name_len, p.max_value_data_len) == (8, 8)
    p.set_value("name", b"1")
    assert p.max_value_data_len == 8
    # renaming raises the parent's MaxNameLen
    q = p.create_key("q")
    q.rename("q" * 30)
    assert p.max_name_len == 60


def test_timestamps(new_hive: Any) -> None:
    hive = new_hive()
    p = hive.create_key("P", timestamp=FT)
    assert (p.last_written_raw, hive.root.last_written_raw) == (FT, FT)
    c = p.create_key("c", timestamp=FT + 1)
    assert (c.last_written_raw, p.last_written_raw, hive.root.last_written_raw) == (
        FT + 1,
        FT + 1,
        FT,
    )
    c.rename("d", timestamp=FT + 2)
    assert (c.last_written_raw, p.last_written_raw) == (FT + 2, FT + 2)
    c.set_value("v", 1, timestamp=FT + 3)
    assert (c.last_written_raw, p.last_written_raw) == (FT + 3, FT + 2)
    p.delete_key("d", timestamp=FT + 4)
    assert p.last_written_raw == FT + 4


# ---------------------------------------------------------------------------------------
# Handles, moves, rename
# ---------------------------------------------------------------------------------------


def test_rename_moves_node_and_keeps_handles(new_hive: Any) -> None:
    hive = new_hive()
    hive.create_key(r"A\x\y")
    a = hive.open_key("A")
    x = hive.open_key(r"A\x")
    y = hive.open_key(r"A\x\y")
    for i in range(5):
        x.create_key(f"c{i}").set_value("v", i)
    for name in ["m", "b", "z"]:
        hive.create_key(f"A\\{name}")
    old = x.index
    x.rename("a-much-longer-name-than-before")
    assert x.index != old  # the nk grew: a new cell
    assert hive.open_key(r"A\A-MUCH-LONGER-NAME-THAN-BEFORE") is x
    assert y.path == r"A\a-much-longer-name-than-before\y"
    assert [s.name for s in a.subkeys()] == ["a-much-longer-name-than-before", "b", "m", "z"]
    assert x.subkey("c3").value("v").data == 3
    a.rename("Top")
    assert y.path == r"Top\a-much-longer-name-than-before\y"
    x.rename("q")  # shorter: same cell
    cell = x.index
    x.rename("Q")
    assert x.index == cell and x.name == "Q"
    assert structure_problems(hive) == []
    hive.delete_key("Top", recursive=True)
    for k in (a, x, y):
        assert k.deleted
        with pytest.raises(regf.KeyNotFoundError):
            _ = k.name
    assert structure_problems(hive) == []


def test_handles_are_shared_and_not_retained(new_hive: Any) -> None:
    hive = new_hive()
    k = hive.create_key("K")
    assert hive.open_key("k") is k and hive.root.subkeys()[0] is k
    for i in range(100):
        hive.create_key(f"K\\{i}")
    assert len(hive._handles) <= 3  # only what is still referenced (root, k, ...)


# ---------------------------------------------------------------------------------------
# Deletion frees everything
# ---------------------------------------------------------------------------------------


SD_SYSTEM = (
    bytes([1, 0, 0x00, 0x80])
    + (20).to_bytes(4, "little")
    + bytes(12)
    + bytes([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0])
)


@pytest.mark.parametrize("minor", [3, 5])
def test_delete_subtree_leaks_nothing(new_hive: Any, minor: int) -> None:
    hive = new_hive(minor)
    keep = hive.create_key("Keep")
    keep.set_value("x", "y")
    # The subtree hangs below a key without subkeys: its list goes away with it (a
    # list that only grew would keep its bigger cell: Windows never shrinks cells).
    before = hive.allocator.stats()
    free_before = hive.allocator.free_cells()
    bins_before = hive.allocator.bins()
    t = hive.create_key(r"Keep\Tree\a\b", class_name="cls")
    t.set_value("big", bytes(range(256)) * 200)  # db big data in 1.5, one cell in 1.3
    t.set_value("small", b"\1\2")
    t.set_value("mid", b"m" * 100)
    hive.open_key(r"Keep\Tree").security_raw = SD_SYSTEM  # a second sk, used once
    s = hive.create_key(r"Keep\Tree\s", security=SD_SYSTEM)
    assert s.security_raw == SD_SYSTEM
    for i in range(600):  # an lf -> li conversion in 1.3, several growths in 1.5
        hive.create_key(rf"Keep\Tree\a\k{i}").set_value("i", i)
    assert structure_problems(hive) == []
    hive.delete_key(r"Keep\Tree", recursive=True)
    after = hive.allocator.stats()
    assert after.allocated == before.allocated
    # Every freed cell coalesced: the old free cells are back as they were and each bin
    # the subtree added is one whole free cell (bins never go away).
    free_after = hive.allocator.free_cells()
    new_bins = [b for b in hive.allocator.bins() if b not in bins_before]
    assert new_bins  # the subtree did need more bins
    extra = {c: n for c, n in free_after.items() if c not in free_before}
    assert {c: free_after[c] for c in free_before} == free_before
    assert extra == {s + 32: e - s - 32 for s, e in new_bins}
    assert structure_problems(hive) == []
    assert keep.value("x").data == "y"


def test_check_passes_on_written_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from regf.cli import main

    p = tmp_path / "w.hiv"
    with regf.create(p) as hive:
        for i in range(300):
            hive.create_key(rf"A\{i % 7}\k{i}", class_name="c" if i % 3 else None).set_value("v", i)
        hive.delete_key(r"A\3", recursive=True)
        hive.rename_key(r"A\4", "four")
    result = CliRunner().invoke(main, ["check", str(p)])
    assert result.exit_code == 0, result.output
    with regf.open(p) as h:
        assert h.version == (1, 5)
        assert h.base_block.seq1 == h.base_block.seq2 and h.base_block.checksum_valid
        assert sorted(s.name for s in h.open_key("A").subkeys()) == [
            "0",
            "1",
            "2",
            "5",
            "6",
            "four",
        ]


# ---------------------------------------------------------------------------------------
# Volatile keys
# ---------------------------------------------------------------------------------------


def test_volatile_keys_live_in_memory_only(new_hive: Any, tmp_path: Path) -> None:
    hive = new_hive()
    p = hive.create_key("P", timestamp=FT)
    stable_image = bytes(hive.image)
    v = p.create_key(r"Vol\Inner", volatile=True, timestamp=FT + 1, class_name="vc")
    assert v.volatile and v.index is None and v.flags & 0x1
    vol = hive.open_key(r"P\vol")
    assert vol.volatile and vol.volatile_subkey_count == 1 and vol.subkey_count == 0
    assert (p.subkey_count, p.volatile_subkey_count) == (0, 1)
    v.set_value("n", 42)
    assert hive.open_key(r"P\Vol\Inner").value("n").data == 42
    assert v.class_name == "vc" and v.security_raw == p.security_raw
    assert v.path == r"P\Vol\Inner" and v.parent is vol and vol.parent is p
    # only the stable parent's time and maxima changed in the image (as in Windows)
    changed = [i for i in range(len(stable_image)) if stable_image[i] != hive.image[i]]
    assert p.index is not None
    assert all(BASE + p.index + 4 <= i < BASE + p.index + 4 + 0x4C for i in changed)
    assert p.last_written_raw == FT + 1 and p.max_name_len == 6
    with pytest.raises(ChildMustBeVolatileError):
        vol.create_key("stable")
    with pytest.raises(regf.InvalidArgumentError):
        hive.create_key(r"P\Vol\x\y")
    # stable siblings and enumeration order: stable first, then volatile
    p.create_key("A")
    assert [(s.name, s.volatile) for s in p.subkeys()] == [("A", False), ("Vol", True)]
    assert [k.path for k in hive.walk()] == ["", "P", r"P\A", r"P\Vol", r"P\Vol\Inner"]
    out = tmp_path / "saved.hiv"
    hive.save_as(out)
    with regf.open(out) as h:
        assert [k.path for k in h.walk()] == ["", "P", r"P\A"]
    vol.rename("Renamed")
    assert v.path == r"P\Renamed\Inner"
    # a stable parent whose nk moves keeps its volatile children (their parent field)
    cell = p.index
    p.rename("P" * 40)
    assert p.index != cell and v.path == "P" * 40 + r"\Renamed\Inner"
    p.rename("P")
    hive.delete_key(r"P\Renamed", recursive=True)
    assert v.deleted and p.volatile_subkey_count == 0
    assert hive._space(True).stats().allocated == cell_size(
        hive._space(True).image, hive._vanchor
    )  # only the permanent volatile sk is left
    assert structure_problems(hive) == []


def test_volatile_with_own_descriptor(new_hive: Any) -> None:
    hive = new_hive()
    a = hive.create_key("A", volatile=True, security=SD_SYSTEM)
    b = hive.create_key(r"A\B", volatile=True)
    assert a.security_raw == b.security_raw == SD_SYSTEM
    assert hive.create_key("S").security_raw != SD_SYSTEM
    hive.delete_key("A", recursive=True)
    assert structure_problems(hive) == []


# ---------------------------------------------------------------------------------------
# r+ editing keeps the original layout and edits it in place
# ---------------------------------------------------------------------------------------


def test_open_r_plus_edits_original_image(tmp_path: Path) -> None:
    p = tmp_path / "o.hiv"
    with regf.create(p) as hive:
        for i in range(50):
            hive.create_key(f"K{i}").set_value("v", i)
    data = p.read_bytes()
    with regf.open(p, mode="r+") as ed:
        assert isinstance(ed, EditHive)
        assert bytes(ed.image) == data  # loaded as is
        assert ed.allocator.take_dirty() == set()
        ed.open_key("K7").set_value("v", "changed")
        dirty = ed.allocator.take_dirty()
        assert dirty and all(0 < page < len(data) // 4096 + 2 for page in dirty)
        ed.delete_key("K8")
        ed.create_key("New")
        assert structure_problems(ed) == []
        assert p.read_bytes() == data  # nothing written in place


# ---------------------------------------------------------------------------------------
# Peers read the edited image
# ---------------------------------------------------------------------------------------


def _edited_hive(path: Path, minor: int) -> None:
    with regf.create(path, minor=minor) as hive:
        many = hive.create_key("Many")
        for i in range(1100):  # an ri in 1.3 needs > 1013 (after lf -> li), in 1.5 too
            many.create_key(f"k{i:05d}").set_value("", i)
        for i in range(0, 1100, 3):
            many.delete_key(f"k{i:05d}")
        k = hive.create_key(r"Data\Ünïcödé\日本", class_name="Klass")
        for n, raw in enumerate([b"", b"1", b"1234", b"12345", bytes(16344), bytes(16345)]):
            k.set_value(f"v{n}", raw, 3)
        k.set_value("big", bytes(range(256)) * 300, 3)
        k.set_value("sz", "text")
        hive.create_key(r"Data\old\child").set_value("x", 1)
        hive.rename_key(r"Data\old", "renamed-to-a-longer-name")
        hive.create_key("Vol", volatile=True).set_value("never", "saved")


@pytest.mark.parametrize("minor", [3, 5])
def test_peers_read_edited_image(tmp_path: Path, minor: int) -> None:
    import oracles

    p = tmp_path / "peer.hiv"
    _edited_hive(p, minor)
    mine = oracles.walk_regf(p)
    assert not any(path.startswith("Vol") for path, _c, _v in mine)
    checked = 0
    if oracles.hivex_available():
        assert oracles.walk_hivex(p) == oracles.without_classes(mine)
        checked += 1
    try:
        theirs = oracles.walk_pyregf(p)
    except oracles.PeerUnavailable:
        pass
    else:
        fixed, _forgiven = oracles.reconcile_pyregf(mine, theirs)
        assert fixed == mine, oracles.diff_walks(mine, fixed, "regf", "pyregf")
        checked += 1
    if not checked:
        pytest.skip("no peer (hivex, pyregf) installed")
