"""Tests of :mod:`regf.cells.alloc` (fmt §2, §3, §8.1).

Unit tests pin the Windows-compatible behaviour (8-byte cells, split keeping 8-byte
remainders, coalescing on both sides within a bin only, bin growth sizes, realloc, dirty
pages); a hypothesis state machine checks the allocator against a dict model, re-walking
the raw image after every step; a corpus test rebuilds the free lists of a real hive.
Everything runs on both implementations: the pure-Python specification and the C twin
(skipped only with ``REGF_BACKEND=python``; otherwise a missing C build fails). Their
step-by-step parity is tests/test_alloc_parity.py.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)

from regf import _accel
from regf.cells.alloc import (
    CCellAllocator,
    CellAllocator,
    CellAllocatorAPI,
    PyCellAllocator,
    cell_total,
    size_class,
)
from regf.cells.image import HiveImage
from regf.errors import CellError, FormatError, InvalidArgumentError

BASE = 4096

C_SKIPPED = os.environ.get("REGF_BACKEND", "").strip().lower() == "python"
skip_c = pytest.mark.skipif(C_SKIPPED, reason="REGF_BACKEND=python")
AllocClass = type[PyCellAllocator] | type[CCellAllocator]
#: Every test taking ``cls`` runs on both implementations.
both = pytest.mark.parametrize(
    "cls",
    [
        pytest.param(PyCellAllocator, id="python"),
        pytest.param(CCellAllocator, id="c", marks=skip_c),
    ],
)


def fresh(cls: AllocClass = CellAllocator) -> CellAllocatorAPI:
    """An allocator over a base block with no bins yet."""
    img = bytearray(BASE)
    img[0:4] = b"regf"
    return cls(img)


def test_backend_choice() -> None:
    """CellAllocator is the live backend's class."""
    want = CCellAllocator if _accel.BACKEND == "c" else PyCellAllocator
    assert CellAllocator is want


def walk(
    img: bytes | bytearray, hbins_size: int, new_bins: bool = False
) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Independent re-walk of the raw image: [(bin start, bin end, [(cell, signed size)])].

    ``new_bins``: every bin was made by the allocator, so reserved/timestamp/spare are 0.
    """
    out = []
    off = 0
    while off < hbins_size:
        sig, boff, size, res, ts, spare = struct.unpack_from("<4sII8sQI", img, BASE + off)
        assert sig == b"hbin" and boff == off and size >= 4096 and size % 4096 == 0
        if new_bins:
            assert res == bytes(8) and ts == 0 and spare == 0
        cells = []
        c = off + 0x20
        while c < off + size:
            (s,) = struct.unpack_from("<i", img, BASE + c)
            assert s != 0 and abs(s) % 8 == 0 and abs(s) >= 8, (c, s)
            assert c + abs(s) <= off + size, "cell crosses its bin"
            cells.append((c, s))
            c += abs(s)
        assert c == off + size, "cells do not tile the bin"
        out.append((off, off + size, cells))
        off += size
    assert off == hbins_size
    return out


def free_map(a: CellAllocatorAPI) -> dict[int, int]:
    """Free cells found by walking the image."""
    return {c: s for _b, _e, cells in walk(a.image, a.hbins_size) for c, s in cells if s > 0}


# -- helpers --------------------------------------------------------------------------


def test_cell_total_and_classes() -> None:
    assert cell_total(0) == 8
    assert cell_total(4) == 8
    assert cell_total(5) == 16
    assert cell_total(0x50) == 0x58  # nk with a 4-char name and no slack
    assert [size_class(s) for s in (8, 16, 128)] == [0, 1, 15]
    assert size_class(136) == 16 and size_class(256) == 16 and size_class(264) == 17
    assert size_class(16392) == 23 and size_class(1 << 30) == 23
    # classes are monotonic in size
    classes = [size_class(s) for s in range(8, 40000, 8)]
    assert classes == sorted(classes)


# -- unit tests -----------------------------------------------------------------------


@both
def test_first_alloc_creates_bin_and_splits(cls: AllocClass) -> None:
    a = fresh(cls)
    c = a.alloc(0x50)
    assert c == 0x20
    assert a.hbins_size == 4096
    assert int.from_bytes(a.image[0x28:0x2C], "little") == 4096
    assert len(a.image) == BASE + 4096
    assert bytes(a.image[BASE : BASE + 4]) == b"hbin"
    assert walk(a.image, a.hbins_size)[0][2] == [(0x20, -0x58), (0x78, 4096 - 0x78)]
    assert a.stats() == (0x58, 4096 - 0x78, 1)
    assert a.read(c) == bytes(0x54)


@both
def test_split_keeps_8_byte_remainder(cls: AllocClass) -> None:
    a = fresh(cls)
    big = a.alloc(4096 - 0x20 - 4 - 24)  # leave a 24-byte free tail
    assert free_map(a) == {4096 - 24: 24}
    x = a.alloc(12)  # 16-byte cell from the 24-byte free cell: 8 bytes left
    assert x == 4096 - 24
    assert free_map(a) == {4096 - 8: 8}
    assert a.stats().free_cells == 1
    y = a.alloc(4)  # exact 8-byte fit
    assert y == 4096 - 8 and free_map(a) == {}
    assert big == 0x20


@both
def test_whole_cell_taken_when_exact(cls: AllocClass) -> None:
    a = fresh(cls)
    cells = [a.alloc(12) for _ in range(3)]
    a.free(cells[1])
    assert a.alloc(10) == cells[1]  # same 16-byte class, reused at once


@both
def test_coalesce_following_preceding_and_both(cls: AllocClass) -> None:
    a = fresh(cls)
    c = [a.alloc(12) for _ in range(5)]  # 16-byte cells at 0x20, 0x30, ...
    tail = 4096 - (0x20 + 5 * 16)
    a.free(c[1])
    a.free(c[2])  # merges into preceding c1
    assert free_map(a) == {c[1]: 32, c[4] + 16: tail}
    a.free(c[0])  # merges with following (c1+c2)
    assert free_map(a) == {c[0]: 48, c[4] + 16: tail}
    a.free(c[4])  # merges with the following tail
    assert free_map(a) == {c[0]: 48, c[4]: tail + 16}
    a.free(c[3])  # both sides: the whole bin is one free cell again
    assert free_map(a) == {0x20: 4096 - 0x20}
    assert a.stats() == (0, 4096 - 0x20, 1)


@both
def test_no_merge_across_bins(cls: AllocClass) -> None:
    a = fresh(cls)
    first = a.alloc(4096 - 0x20 - 4)  # fills bin 0 exactly
    second = a.alloc(12)  # new bin at 0x1000
    assert first == 0x20 and second == 0x1020
    assert a.bins() == [(0, 4096), (4096, 8192)]
    a.free(first)
    a.free(second)
    assert free_map(a) == {0x20: 4096 - 0x20, 0x1020: 4096 - 0x20}
    assert a.stats().free_cells == 2


@both
def test_bin_growth_sizes_and_big_cell_own_bin(cls: AllocClass) -> None:
    a = fresh(cls)
    a.alloc(100)
    # 16 344-byte big-data segment: 16 352-byte cell + 32 header = exactly 16 384 (fmt §2).
    seg = a.alloc(16344)
    assert seg == 0x1020
    assert a.bins() == [(0, 4096), (4096, 4096 + 16384)]
    walked = walk(a.image, a.hbins_size)
    assert walked[1][2] == [(0x1020, -16352)]
    # 5000 bytes + 4 + 32 -> two pages
    big = a.alloc(5000)
    assert a.bins()[-1] == (20480, 20480 + 8192)
    assert big == 20480 + 0x20
    # a small request is served from free space in an earlier bin, not a new one
    n = len(a.bins())
    small = a.alloc(40)
    assert small < 4096 and len(a.bins()) == n
    assert a.hbins_size == sum(e - s for s, e in a.bins())
    assert int.from_bytes(a.image[0x28:0x2C], "little") == a.hbins_size


@both
def test_growth_reuses_slack_and_zeroes_it(cls: AllocClass) -> None:
    img = bytearray(BASE + 8192)
    img[BASE:] = b"\xaa" * 8192  # file slack after the (empty) hive bins
    a = cls(img, 0)
    c = a.alloc(8)
    assert len(img) == BASE + 8192  # no extension needed
    assert a.read(c) == bytes(12)
    assert struct.unpack_from("<i", img, BASE + 0x30)[0] == 4096 - 0x30
    assert img[BASE + 0x34 : BASE + 4096] == bytes(4096 - 0x34)  # old slack cleared
    assert img[BASE + 4096 :] == b"\xaa" * 4096  # beyond the new bin: untouched


@both
def test_alloc_zeroes_reused_space(cls: AllocClass) -> None:
    a = fresh(cls)
    c = a.alloc(60)
    a.write(c, 0, b"\xff" * 60)
    a.free(c)
    d = a.alloc(60)
    assert d == c and a.read(d) == bytes(a.capacity(d))


@both
def test_realloc_keeps_and_moves(cls: AllocClass) -> None:
    a = fresh(cls)
    c = a.alloc(10)  # 16-byte cell, capacity 12
    a.write(c, 0, b"0123456789")
    assert a.realloc(c, 12) == c  # still fits
    assert a.realloc(c, 2) == c  # no shrinking
    assert a.capacity(c) == 12
    blocker = a.alloc(4)
    d = a.realloc(c, 40)
    assert d != c
    assert a.read(d)[:12] == b"0123456789\0\0" and a.read(d)[12:] == bytes(a.capacity(d) - 12)
    with pytest.raises(CellError):
        a.read(c)  # old cell freed
    assert c in free_map(a)
    assert blocker == c + 16


@both
def test_dirty_pages(cls: AllocClass) -> None:
    a = fresh(cls)
    a.alloc(16344)  # one 16 KiB bin: pages 1..4 plus the base block
    assert a.take_dirty() == {0, 1, 2, 3, 4}
    assert a.dirty_pages() == set()
    c = a.alloc(4100)  # 4104 + 32 > 4096: new 8 KiB bin at 0x4000, file pages 5, 6
    assert c == 0x4020
    assert a.take_dirty() == {0, 5, 6}
    a.write(c, 4100 - 1, b"x")  # file offset 0x5000 + 0x20 + 4 + 4099 -> page 6
    assert a.take_dirty() == {6}
    a.free(c)  # size field only (merged with the free tail at 0x5028: header stays)
    assert a.take_dirty() == {5}
    assert a.free_cells() == {0x4020: 8192 - 0x20}
    d = a.alloc(8)  # reuses 0x4020: size fields on page 5 (split remainder too)
    assert d == 0x4020
    assert a.take_dirty() == {5}
    # a cell whose data straddles a page boundary marks both pages
    e = a.alloc(4096)
    assert a.take_dirty() == {5, 6}
    assert e == 0x4030


@both
def test_free_and_write_reject_bad_indexes(cls: AllocClass) -> None:
    a = fresh(cls)
    c = a.alloc(8)
    with pytest.raises(CellError):
        a.free(c + 4)  # misaligned
    with pytest.raises(CellError):
        a.free(0)  # bin header
    with pytest.raises(CellError):
        a.free(c + 16)  # the free remainder
    with pytest.raises(CellError):
        a.free(0x10000)  # out of range
    with pytest.raises(InvalidArgumentError):
        a.write(c, 9, b"1234")  # capacity is 12
    with pytest.raises(InvalidArgumentError):
        a.alloc(-1)
    a.free(c)
    with pytest.raises(CellError):
        a.free(c)  # double free


@both
def test_load_rebuilds_free_lists(cls: AllocClass) -> None:
    a = fresh(cls)
    cells = [a.alloc(n) for n in (10, 200, 30, 5000, 70, 16)]
    a.free(cells[1])
    a.free(cells[4])
    b = cls(bytearray(a.image))
    assert b.free_cells() == a.free_cells() == free_map(a)
    assert b.stats() == a.stats()
    assert b.bins() == a.bins()
    # the reloaded allocator makes the same choices
    assert [b.alloc(n) for n in (150, 8, 3000)] == [a.alloc(n) for n in (150, 8, 3000)]
    assert b.image == a.image


@both
def test_load_rejects_damaged_bins(cls: AllocClass) -> None:
    a = fresh(cls)
    a.alloc(8)
    bad = bytearray(a.image)
    struct.pack_into("<i", bad, BASE + 0x20, -12)  # breaks the tiling
    with pytest.raises(FormatError):
        cls(bad)
    bad = bytearray(a.image)
    bad[BASE : BASE + 4] = b"hbix"
    with pytest.raises(FormatError):
        cls(bad)
    with pytest.raises(FormatError):
        cls(bytearray(a.image), 8192)  # declared past the image


@both
@given(st.lists(st.integers(0, 9000), min_size=1, max_size=40))
@settings(max_examples=30)
def test_alloc_sizes_exact(cls: AllocClass, sizes: list[int]) -> None:
    a = fresh(cls)
    for n in sizes:
        c = a.alloc(n)
        assert a.capacity(c) + 4 == cell_total(n)  # no slack beyond round8 (fmt §3)


# -- state machine --------------------------------------------------------------------

payloads = st.one_of(
    st.integers(0, 130),
    st.integers(131, 1100),
    st.integers(1100, 20000),
)


class AllocMachine(RuleBasedStateMachine):
    """CellAllocator vs a model: live cell index -> (cell size, content written)."""

    cells = Bundle("cells")
    cls: AllocClass = PyCellAllocator

    def __init__(self) -> None:
        super().__init__()
        self.a = fresh(self.cls)
        self.model: dict[int, tuple[int, bytes]] = {}
        self.snapshot = bytes(self.a.image)

    def _fill(self, c: int, n: int, seed: int) -> bytes:
        data = bytes((seed + i * 7) & 0xFF for i in range(n))
        self.a.write(c, 0, data)
        return data

    @rule(target=cells, n=payloads, seed=st.integers(0, 255))
    def alloc(self, n: int, seed: int) -> int:
        return self._alloc(n, seed)

    def _alloc(self, n: int, seed: int) -> int:
        c = self.a.alloc(n)
        assert c not in self.model
        size = self.a.capacity(c) + 4
        assert size == cell_total(n)
        assert self.a.read(c) == bytes(size - 4), "allocated data is zeroed"
        self.model[c] = (size, self._fill(c, n, seed))
        return c

    @rule(c=consumes(cells))
    def free(self, c: int) -> None:
        if c not in self.model:  # already moved by a realloc
            return
        del self.model[c]
        self.a.free(c)

    @rule(target=cells, c=consumes(cells), n=payloads, seed=st.integers(0, 255))
    def realloc(self, c: int, n: int, seed: int) -> int:
        if c not in self.model:
            return self._alloc(n, seed)
        size, content = self.model.pop(c)
        d = self.a.realloc(c, n)
        if cell_total(n) <= size:
            assert d == c
            new_size = size
        else:
            assert d != c
            new_size = cell_total(n)
            assert self.a.capacity(d) + 4 == new_size
        assert self.a.read(d)[: len(content)] == content
        # overwrite a prefix that fits
        extra = self._fill(d, min(n, new_size - 4), seed)
        content = extra + content[len(extra) :]
        self.model[d] = (new_size, content)
        return d

    @rule(c=cells, seed=st.integers(0, 255), data=st.data())
    def write(self, c: int, seed: int, data: st.DataObject) -> None:
        if c not in self.model:
            return
        size, content = self.model[c]
        off = data.draw(st.integers(0, size - 4))
        n = data.draw(st.integers(0, size - 4 - off))
        chunk = bytes((seed ^ i) & 0xFF for i in range(n))
        self.a.write(c, off, chunk)
        buf = bytearray(content.ljust(size - 4, b"\0"))
        buf[off : off + n] = chunk
        self.model[c] = (size, bytes(buf))

    @invariant()
    def image_consistent(self) -> None:
        a = self.a
        img = a.image
        walked = walk(img, a.hbins_size, new_bins=True)
        assert a.hbins_size == sum(e - s for s, e, _ in walked)
        assert int.from_bytes(img[0x28:0x2C], "little") == a.hbins_size
        assert [(s, e) for s, e, _ in walked] == a.bins()
        live: dict[int, int] = {}
        free: dict[int, int] = {}
        for _s, _e, cells in walked:
            prev_free = False
            for c, s in cells:
                if s > 0:
                    assert not prev_free, f"adjacent free cells at {c:#x}"
                    free[c] = s
                else:
                    live[c] = -s
                prev_free = s > 0
        assert live == {c: s for c, (s, _) in self.model.items()}
        assert free == a.free_cells()
        st_ = a.stats()
        assert st_.free == sum(free.values())
        assert st_.free_cells == len(free)
        assert st_.allocated == sum(live.values())
        view = HiveImage(bytes(img), a.hbins_size, minor=5)
        for c, (s, content) in self.model.items():
            off, cap = view.cell(c)
            assert cap == s - 4
            assert img[off : off + len(content)] == content

    @invariant()
    def dirty_covers_changes(self) -> None:
        img = bytes(self.a.image)
        old = self.snapshot
        dirty = self.a.take_dirty()
        for p in range(0, (max(len(img), len(old)) + 4095) // 4096):
            if img[p * 4096 : (p + 1) * 4096] != old[p * 4096 : (p + 1) * 4096]:
                assert p in dirty, f"page {p} changed but not marked dirty"
        self.snapshot = img


AllocMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestAllocMachine = AllocMachine.TestCase


class CAllocMachine(AllocMachine):
    """The same machine over the C twin."""

    cls = CCellAllocator


CAllocMachine.TestCase.settings = AllocMachine.TestCase.settings
TestCAllocMachine = skip_c(CAllocMachine.TestCase)


# -- corpus ---------------------------------------------------------------------------


def _corpus_hives() -> list[Path]:
    root = os.environ.get("REGF_CORPUS")
    if not root or not Path(root).is_dir():
        return []
    cands = [
        Path(root) / "ColinFinck__nt-hive" / "testdata" / "testhive",
        Path(root) / "testhive",
    ]
    return [p for p in cands if p.is_file()]


@pytest.mark.corpus
@pytest.mark.skipif(not _corpus_hives(), reason="REGF_CORPUS not set or testhive missing")
@both
def test_corpus_hive_free_lists(cls: AllocClass) -> None:
    for path in _corpus_hives():
        raw = path.read_bytes()
        hbins_size = int.from_bytes(raw[0x28:0x2C], "little")
        a = cls(bytearray(raw))
        # direct count over the raw bytes
        free = {c: s for _b, _e, cells in walk(raw, hbins_size) for c, s in cells if s > 0}
        live = sum(-s for _b, _e, cells in walk(raw, hbins_size) for _c, s in cells if s < 0)
        assert a.free_cells() == free
        assert a.stats() == (live, sum(free.values()), len(free))
        assert a.dirty_pages() == set()
        assert bytes(a.image) == raw  # loading does not write
        # allocations work on the real hive and keep it readable
        view_before = HiveImage(raw, hbins_size, minor=5)
        cells = [a.alloc(n) for n in (0x50, 8, 300, 17000)]
        view = HiveImage(bytes(a.image), a.hbins_size, minor=5)
        for c in cells:
            view.cell(c)
        for c in (c for _b, _e, cs in walk(raw, hbins_size) for c, s in cs if s < 0):
            assert view.cell(c) == view_before.cell(c)
