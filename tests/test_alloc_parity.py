"""The C cell allocator is the twin of the pure-Python specification (fmt §2, §3, §8.1).

Random operation sequences run on :class:`PyCellAllocator` and :class:`CCellAllocator`
over copies of the same image (a fresh hive, a hive with file slack, fixtures/sample.hiv,
real hives from ``REGF_CORPUS``) and must give the same cell indexes, the same exceptions
(type, message and offset) for bad indexes and arguments, the same image bytes, dirty
pages, statistics, free cells and bins. Loading damaged images fails identically. A
lockstep state machine checks both against a model: cells tile every bin without
overlap, free-space accounting is exact.

The whole module needs the C build; it is skipped only with ``REGF_BACKEND=python``
(otherwise a missing build fails, as in tests/test_accel.py).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from regf.cells.alloc import CCellAllocator, PyCellAllocator, cell_total
from regf.errors import RegfError

pytestmark = pytest.mark.skipif(
    os.environ.get("REGF_BACKEND", "").strip().lower() == "python",
    reason="REGF_BACKEND=python",
)

BASE = 4096
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "sample.hiv"
# Small real hives with free cells; rlenvalue_test_hive was written by hivex, which never
# coalesces, so it has adjacent free cells (fmt §8.2).
CORPUS_HIVES = (
    "ColinFinck__nt-hive/testdata/testhive",
    "EricZimmerman__Registry/Registry.Test/Hives/UsrClassDeletedBags.dat",
    "EricZimmerman__Registry/Registry.Test/Hives/NTUSER1.DAT",
    "libguestfs__hivex/images/rlenvalue_test_hive",
)


def _corpus() -> Path | None:
    root = os.environ.get("REGF_CORPUS")
    return Path(root) if root and Path(root).is_dir() else None


@cache
def images() -> dict[str, bytes]:
    """Name -> whole-file image for the op-sequence tests."""
    base = bytearray(BASE)
    base[0:4] = b"regf"
    out = {
        "fresh": bytes(base),
        # hive bins size 0 but 8 KiB of junk after the base block: growth reuses it
        "slack": bytes(base) + b"\xaa" * 8192,
        "sample": FIXTURE.read_bytes(),
    }
    root = _corpus()
    if root is not None:
        for rel in CORPUS_HIVES:
            path = root / rel
            if path.is_file():
                out[rel.rsplit("/", 1)[-1]] = path.read_bytes()
    return out


def outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    """('ok', result) or (exception type, message, offset)."""
    try:
        return ("ok", fn())
    except RegfError as exc:
        return (type(exc), str(exc), exc.offset)


def walk(img: bytes | bytearray, hbins_size: int) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Independent re-walk: [(bin start, bin end, [(cell, signed size)])]; asserts tiling."""
    out = []
    off = 0
    while off < hbins_size:
        sig, boff, size = struct.unpack_from("<4sII", img, BASE + off)
        assert sig == b"hbin" and boff == off and size >= 4096 and size % 4096 == 0
        cells = []
        c = off + 0x20
        while c < off + size:
            (s,) = struct.unpack_from("<i", img, BASE + c)
            assert s != 0 and abs(s) % 8 == 0, (c, s)
            cells.append((c, s))
            c += abs(s)
        assert c == off + size, "cells do not tile the bin (overlap or gap)"
        out.append((off, off + size, cells))
        off += size
    assert off == hbins_size
    return out


def assert_same(py: PyCellAllocator, c: CCellAllocator, full: bool = False) -> None:
    assert c.hbins_size == py.hbins_size
    assert c.image == py.image
    assert c.stats() == py.stats()
    assert c.dirty_pages() == py.dirty_pages()
    if full:
        assert c.free_cells() == py.free_cells()
        assert c.bins() == py.bins()
        # save_as's scrubbed copy: the whole bins, and windows cutting through cells.
        n = py.hbins_size
        for lo, size in ((0, n), (8, n - 8), (n // 3 & ~7, 4096 + 12), (n - 100, 100)):
            if lo < 0 or size <= 0:
                continue  # an empty hive (no bins)
            a = bytearray(py.image[BASE + lo : BASE + lo + size])
            b = bytearray(a)
            py.scrub_window(a, lo)
            c.scrub_window(b, lo)
            assert a == b, (lo, size)


def pair(raw: bytes, hbins_size: int | None = None) -> tuple[PyCellAllocator, CCellAllocator]:
    return PyCellAllocator(bytearray(raw), hbins_size), CCellAllocator(bytearray(raw), hbins_size)


def live_cells(a: PyCellAllocator) -> list[int]:
    return [c for _b, _e, cells in walk(a.image, a.hbins_size) for c, s in cells if s < 0]


# -- op sequences ------------------------------------------------------------------------

payloads = st.one_of(
    st.integers(0, 130),
    st.integers(131, 1100),
    st.integers(1100, 20000),
    st.sampled_from([16344, 16345, 4096 - 36, 8192 - 36]),
)
# Payloads and offsets that must be refused (too large, negative, beyond a C int64) or
# that ask for a bin ending at 2 GiB (refused before the image is extended).
bad_numbers = st.sampled_from(
    [-1, -8, -(1 << 40), -(1 << 70), 2**31 - 100, 2**31 - 36, 1 << 31, 1 << 40, 1 << 70]
)
# A bad (or at least suspicious) index, resolved against the current state at run time.
index_kinds = st.one_of(
    st.tuples(st.just("raw"), st.integers(-64, 1 << 19)),
    st.tuples(st.just("num"), bad_numbers),
    st.tuples(st.just("free"), st.integers(0, 1 << 16), st.sampled_from([0, 4, 8, 16])),
    st.tuples(st.just("live"), st.integers(0, 1 << 16), st.sampled_from([4, 8, 12, 16])),
    st.tuples(st.just("bin"), st.integers(0, 1 << 16), st.sampled_from([0, 8, 0x18, 0x20])),
)
# Cell payloads spread over every size class, the power-of-two buckets included (their
# boundaries are 256, 512, ... 16384-byte cells).
fragment_sizes = st.one_of(
    st.integers(0, 130),
    st.integers(0, 8).flatmap(lambda b: st.integers(max(0, (128 << b) - 40), (128 << b) + 40)),
    st.integers(16300, 40000),
)
ops = st.one_of(
    st.tuples(st.just("alloc"), payloads),
    st.tuples(st.just("free"), st.integers(0, 1 << 16)),
    st.tuples(st.just("realloc"), st.integers(0, 1 << 16), payloads),
    st.tuples(
        st.just("write"),
        st.integers(0, 1 << 16),
        st.integers(0, 1 << 16),
        st.integers(0, 300),
        st.sampled_from(["bytes", "bytearray", "memoryview"]),
    ),
    st.tuples(
        st.just("bad"),
        st.sampled_from(["free", "realloc", "write", "read", "capacity"]),
        index_kinds,
    ),
    st.tuples(st.just("badarg"), st.sampled_from(["alloc", "realloc", "write_off"]), bad_numbers),
    st.tuples(st.just("take_dirty")),
    # a write whose last byte is just before, on, or just after a page boundary
    st.tuples(st.just("pagewrite"), st.integers(0, 1 << 16), st.integers(-2, 2)),
    # free cells of many sizes side by side: first-fit choices across all 24 classes
    st.tuples(st.just("fragment"), st.lists(fragment_sizes, min_size=1, max_size=12)),
)


def resolve(kind: tuple[Any, ...], py: PyCellAllocator, live: list[int]) -> int:
    """Turn an index_kinds draw into a concrete index."""
    if kind[0] in ("raw", "num"):
        return int(kind[1])
    if kind[0] == "free":
        free = sorted(py.free_cells())
        return free[kind[1] % len(free)] + kind[2] if free else kind[2]
    if kind[0] == "live":
        return live[kind[1] % len(live)] + kind[2] if live else kind[2]
    bins = py.bins()
    return bins[kind[1] % len(bins)][0] + kind[2] if bins else kind[2]


def both(py: PyCellAllocator, c: CCellAllocator, method: str, *args: Any) -> tuple[Any, ...]:
    """Call ``method`` on both allocators; the outcomes must be equal. Returns it."""
    r = outcome(lambda: getattr(py, method)(*args))
    assert outcome(lambda: getattr(c, method)(*args)) == r, (method, args)
    return r


def run_ops(raw: bytes, seq: list[tuple[Any, ...]]) -> tuple[PyCellAllocator, CCellAllocator]:
    """Run ``seq`` on both twins, comparing them after every step; both at the end."""
    py, c = pair(raw)
    assert_same(py, c, full=True)
    live = live_cells(py)
    for op in seq:
        name = op[0]
        if name == "alloc":
            r = both(py, c, "alloc", op[1])
            if r[0] == "ok":
                live.append(r[1])
        elif name in ("free", "realloc", "write") and live:
            i = op[1] % len(live)
            cell = live[i]
            if name == "free":
                assert both(py, c, "free", cell)[0] == "ok"
                live.pop(i)
            elif name == "realloc":
                r = both(py, c, "realloc", cell, op[2])
                assert r[0] == "ok", r
                live[i] = r[1]
            else:
                cap = py.capacity(cell)
                off = op[2] % (cap + 1)
                n = min(op[3], cap - off)
                chunk = bytes((off + k * 13) & 0xFF for k in range(n))
                data: Any = {
                    "bytes": chunk,
                    "bytearray": bytearray(chunk),
                    "memoryview": memoryview(bytearray(chunk)),
                }[op[4]]
                assert both(py, c, "write", cell, off, data)[0] == "ok"
        elif name == "bad":
            what, index = op[1], resolve(op[2], py, live)
            check = both(py, c, "capacity", index)
            # Mutate only through indexes both refuse: an index that happens to look like
            # an allocated cell (inside a live one) is the caller's promise to keep.
            if what in ("read", "capacity") or check[0] != "ok":
                extra = {"realloc": (40,), "write": (0, b"xy")}.get(what, ())
                both(py, c, what, index, *extra)
        elif name == "badarg":
            what, value = op[1], op[2]
            if what == "alloc":
                assert both(py, c, "alloc", value)[0] != "ok"
            elif live:
                args = (live[0], value) if what == "realloc" else (live[0], value, b"ab")
                assert both(py, c, "realloc" if what == "realloc" else "write", *args)[0] != "ok"
        elif name == "take_dirty":
            assert c.take_dirty() == py.take_dirty()
        elif name == "pagewrite":
            spanning = [
                x for x in live if (BASE + x + 4) // 4096 != (BASE + x + py.capacity(x) + 3) // 4096
            ]
            if spanning:
                cell = spanning[op[1] % len(spanning)]
                assert c.take_dirty() == py.take_dirty()  # only this write's pages count
                boundary = (BASE + cell + 4) // 4096 * 4096 + 4096  # first byte of next page
                last = min(boundary + op[2], BASE + cell + 3 + py.capacity(cell))
                start = max(BASE + cell + 4, last - 5)
                chunk = b"\x5a" * (last - start + 1)
                assert both(py, c, "write", cell, start - (BASE + cell + 4), chunk)[0] == "ok"
        elif name == "fragment":
            made = []
            for n in op[1]:
                made.append(both(py, c, "alloc", n)[1])
                live.append(both(py, c, "alloc", 0)[1])  # spacer: keeps the free cells apart
            for x in made:
                both(py, c, "free", x)
        assert_same(py, c)
    assert_same(py, c, full=True)
    # The state is what a fresh load of the result finds, and the result is a valid hive.
    walked = walk(py.image, py.hbins_size)
    assert sorted(live) == sorted(c for _b, _e, cs in walked for c, s in cs if s < 0)
    re_py, re_c = pair(bytes(py.image))
    assert re_c.free_cells() == re_py.free_cells() == py.free_cells()
    assert re_c.stats() == re_py.stats() == py.stats()
    return py, c


@given(name=st.sampled_from(sorted(images())), seq=st.lists(ops, max_size=60))
@settings(deadline=None)
def test_op_sequences_identical(name: str, seq: list[tuple[Any, ...]]) -> None:
    run_ops(images()[name], seq)


def test_many_ops_identical() -> None:
    """A long deterministic mix on one hive (the tree-shaped free lists see depth)."""
    import random

    rnd = random.Random(4)
    seq: list[tuple[Any, ...]] = []
    for _ in range(3000):
        r = rnd.random()
        if r < 0.45:
            seq.append(("alloc", rnd.choice([rnd.randrange(0, 140), rnd.randrange(0, 3000)])))
        elif r < 0.8:
            seq.append(("free", rnd.randrange(1 << 16)))
        elif r < 0.95:
            seq.append(("realloc", rnd.randrange(1 << 16), rnd.randrange(0, 2000)))
        else:
            seq.append(("take_dirty",))
    run_ops(images()["sample"], seq)


def test_bucket_choices_identical() -> None:
    """Free cells of every class side by side, in shuffled orders; requests of every class.

    Pins the first-fit choice across class boundaries: the lowest address in exact classes,
    the first fit in address order inside the request's own bucket, then the lowest
    address of the next non-empty class (a cell of a higher class at a lower address must
    not win over a fitting one in the request's bucket).
    """
    import random

    sizes = list(range(8, 136, 8))
    for b in range(4, 13):  # bucket boundaries: cells of 8 * 2**b bytes, 16..32 KiB last
        edge = 8 << b
        sizes += [edge - 8, edge, edge + 8, edge + edge // 2]
    sizes += [16392, 20000, 40000]
    rnd = random.Random(22)
    for _ in range(12):
        py, c = pair(images()["fresh"])
        layout = rnd.sample(sizes, len(sizes))
        cells = []
        for size in layout:
            cell = py.alloc(size - 4)
            assert c.alloc(size - 4) == cell
            assert c.alloc(0) == py.alloc(0)  # spacer: keeps the free cells apart
            cells.append(cell)
        for cell in rnd.sample(cells, len(cells)):
            py.free(cell)
            c.free(cell)
        assert_same(py, c, full=True)
        for size in rnd.sample(sizes, len(sizes)):
            n = max(0, size - 4 - rnd.choice([0, 0, 4, 7]))
            assert c.alloc(n) == py.alloc(n)
        assert_same(py, c, full=True)


def test_dirty_page_edges_identical() -> None:
    """Writes starting, ending or lying just around a page boundary mark the same pages."""
    py, c = pair(images()["fresh"])
    cell = py.alloc(10000)  # data runs from file offset 0x1024 over two page boundaries
    assert c.alloc(10000) == cell
    data_at = BASE + cell + 4
    for boundary in (0x2000, 0x3000):
        for first in range(boundary - 3, boundary + 2):
            for last in range(first, boundary + 3):
                assert c.take_dirty() == py.take_dirty()
                chunk = b"\x77" * (last - first + 1)
                py.write(cell, first - data_at, chunk)
                c.write(cell, first - data_at, chunk)
                assert_same(py, c)
                want = set(range(first // 4096, last // 4096 + 1))
                assert py.dirty_pages() == want
    assert c.take_dirty() == py.take_dirty()
    py.write(cell, 0, b"")  # an empty write marks nothing
    c.write(cell, 0, b"")
    assert c.dirty_pages() == py.dirty_pages() == set()


# -- loading -----------------------------------------------------------------------------


def load_outcome(
    cls: type[PyCellAllocator] | type[CCellAllocator], raw: bytes, hbins_size: int | None
) -> tuple[Any, ...]:
    def load() -> tuple[Any, ...]:
        a = cls(bytearray(raw), hbins_size)
        return (a.hbins_size, a.stats(), a.free_cells(), a.bins(), a.dirty_pages())

    return outcome(load)


@given(
    name=st.sampled_from(sorted(images())),
    hbins_size=st.one_of(
        st.sampled_from([0, 4096, -4096, 8192, 1 << 31, (1 << 31) - 4096, 1 << 70, -(1 << 70)]),
        st.integers(-8192, 1 << 20),
        st.integers(-2, 64).map(lambda k: k * 4096),
    ),
)
@settings(deadline=None)
def test_load_hbins_size_identical(name: str, hbins_size: int) -> None:
    """An explicit hive-bins size (wrong, negative, huge, short of the real one)."""
    raw = images()[name]
    assert load_outcome(CCellAllocator, raw, hbins_size) == load_outcome(
        PyCellAllocator, raw, hbins_size
    )


@given(data=st.data())
@settings(deadline=None)
def test_load_identical(data: st.DataObject) -> None:
    """Damaged images (bin headers, cell sizes, hbins size, truncation) fail identically."""
    hbins_size = None
    raw = bytearray(data.draw(st.sampled_from(sorted(images())).map(lambda n: images()[n])))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(
            st.one_of(
                st.sampled_from([0x28, 0x29, 0x2B]),
                st.integers(0, max(0, len(raw) - 1)),
                # bin header fields (signature, offset, size) and the first cell's size
                st.tuples(
                    st.integers(0, max(0, (len(raw) - BASE) // 4096 - 1)),
                    st.sampled_from([0, 3, 4, 5, 7, 8, 9, 10, 0x20, 0x21, 0x23]),
                ).map(lambda t: BASE + t[0] * 4096 + t[1]),
            )
        )
        if where < len(raw):
            raw[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))))
    if cut is not None:
        del raw[cut:]
    assert load_outcome(CCellAllocator, bytes(raw), hbins_size) == load_outcome(
        PyCellAllocator, bytes(raw), hbins_size
    )


def _corpus_files(limit: int) -> list[Path]:
    root = _corpus()
    if root is None:
        return []
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and 4096 <= p.stat().st_size <= limit and p.suffix.lower() != ".md"
    )


@pytest.mark.corpus
def test_corpus_load_identical(corpus: Path) -> None:
    """Every corpus file up to 4 MiB (hives, logs, junk) loads or fails identically."""
    files = _corpus_files(4 << 20)
    assert files
    loaded = 0
    for path in files:
        raw = path.read_bytes()
        r = load_outcome(PyCellAllocator, raw, None)
        assert load_outcome(CCellAllocator, raw, None) == r, path
        loaded += r[0] == "ok"
    assert loaded > 20


# -- lockstep state machine against a model ----------------------------------------------


class Lockstep(RuleBasedStateMachine):
    """Both allocators driven together; a model of live cells checks what they do."""

    cells = Bundle("cells")

    def __init__(self) -> None:
        super().__init__()
        self.py, self.c = pair(images()["fresh"])
        self.model: dict[int, tuple[int, bytes]] = {}  # live index -> (cell size, content)

    def _both(self, fn: Callable[[Any], Any]) -> Any:
        r = outcome(lambda: fn(self.py))
        assert outcome(lambda: fn(self.c)) == r
        assert r[0] == "ok", r
        return r[1]

    @rule(target=cells, n=payloads)
    def alloc(self, n: int) -> int:
        cell: int = self._both(lambda a: a.alloc(n))
        assert cell not in self.model
        self.model[cell] = (cell_total(n), b"")
        return cell

    @rule(c=consumes(cells))
    def free(self, c: int) -> None:
        if c in self.model:
            del self.model[c]
            self._both(lambda a: a.free(c))
        else:  # moved by a realloc or freed: both refuse (or the index now names a new cell)
            r = outcome(lambda: self.py.capacity(c))
            assert outcome(lambda: self.c.capacity(c)) == r

    @rule(target=cells, c=consumes(cells), n=payloads)
    def realloc(self, c: int, n: int) -> int:
        if c not in self.model:
            return self.alloc(n)
        size, content = self.model.pop(c)
        d: int = self._both(lambda a: a.realloc(c, n))
        assert (d == c) == (cell_total(n) <= size)
        self.model[d] = (max(size, cell_total(n)), content)
        return d

    @rule(c=cells, seed=st.integers(0, 255))
    def write(self, c: int, seed: int) -> None:
        if c not in self.model:
            return
        size, _ = self.model[c]
        data = bytes((seed + k) & 0xFF for k in range(size - 4))
        self._both(lambda a: a.write(c, 0, data))
        self.model[c] = (size, data)

    @rule()
    def take_dirty(self) -> None:
        assert self.c.take_dirty() == self.py.take_dirty()

    @invariant()
    def same_and_consistent(self) -> None:
        py = self.py
        assert_same(py, self.c, full=True)
        live: dict[int, int] = {}
        free: dict[int, int] = {}
        for _s, _e, cells in walk(py.image, py.hbins_size):
            for c, s in cells:
                (free if s > 0 else live)[c] = abs(s)
        assert live == {c: s for c, (s, _) in self.model.items()}
        assert free == py.free_cells()
        stats = py.stats()
        assert stats.allocated == sum(live.values())
        assert stats.free == sum(free.values())
        assert stats.free_cells == len(free)
        bins_bytes = sum(e - s - 0x20 for s, e in py.bins())
        assert stats.allocated + stats.free == bins_bytes
        for c, (s, content) in self.model.items():
            assert py.read(c) == content.ljust(s - 4, b"\0")


Lockstep.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
TestLockstep = Lockstep.TestCase


def test_scrub_window_zeroes_free_cells_and_nothing_else() -> None:
    """After frees and allocations, a scrubbed copy of the bins has every free cell's data
    zeroed, every size field and every live cell as in the image (both twins)."""
    import random

    rnd = random.Random(7)
    seq: list[tuple[Any, ...]] = []
    for _ in range(400):
        if rnd.random() < 0.6:
            seq.append(("alloc", rnd.randrange(0, 600)))
        else:
            seq.append(("free", rnd.randrange(1 << 16)))
    py, c = run_ops(images()["sample"], seq)
    assert py.free_cells()
    for alloc in (py, c):
        window = bytearray(alloc.image[BASE : BASE + alloc.hbins_size])
        alloc.scrub_window(window, 0)
        for _b, _e, cells in walk(alloc.image, alloc.hbins_size):
            for cell, size in cells:
                got, want = (
                    window[cell : cell + abs(size)],
                    alloc.image[BASE + cell : BASE + cell + abs(size)],
                )
                assert got[:4] == want[:4]
                if size > 0:
                    assert not any(got[4:]), cell
                else:
                    assert got == want, cell
