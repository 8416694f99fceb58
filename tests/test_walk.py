"""The chunked tree walker (C ``regf_walk``, pure twin ``walk_code``) and the reader's
walk built on it.

* parity: the C walker and its pure twin emit identical chunks (records, names, data,
  format, state) on random trees, on randomly mutated hive bytes, with random output
  capacities, flags and even random state words; and on the corpus hives;
* resumption: tiny capacities (one key per chunk, values that never fit) give the same
  walk, concatenated, as the default ones;
* the reader: ``Hive.walk`` through the walker (C, or driven by the pure twin) yields
  the same keys and values (names, types, raw bytes, vk fields) in the same order,
  raises the same errors and records the same problems as the checked key-by-key walk.

C-only tests skip under ``REGF_BACKEND=python``.
"""

from __future__ import annotations

import importlib
import os
import struct
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import oracles
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regf
from regf._accel import pure, purewalk
from regf._accel.purewalk import WalkCaps, WalkChunk
from regf.cells.nodes import name_of
from regf.cells.values import vk_name
from regf.format.constants import BASE, MAX_DEPTH
from regf.model.hive import Hive
from regf.model.serialize import serialize
from regf.model.spec import KeySpec, ValueSpec

C_SKIPPED = os.environ.get("REGF_BACKEND", "").strip().lower() == "python"
skip_c = pytest.mark.skipif(C_SKIPPED, reason="REGF_BACKEND=python")
SETTINGS = settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None
)
#: One key per chunk and room for almost no values: every resumption path is taken.
TINY = WalkCaps(keys=1, vals=1, knames=purewalk.WALK_MIN_NAMES, vnames=8, data=4, fmt=6)


def _c() -> ModuleType:
    return importlib.import_module("regf._accel.cbackend")


# ---------------------------------------------------------------------------------------
# Random trees and mutated hives

_names = st.text(
    alphabet=st.sampled_from(["a", "B", "z", "\0", "é", "ÿ", "日", "\ud800", "\udc00", "ß"]),
    min_size=0,
    max_size=6,
)
_raws = st.integers(0, 19).flatmap(
    lambda r: (
        st.integers(16340, 16400).map(bytes)  # around the big-data threshold
        if r == 0
        else st.just(b"\x01" * 65537)  # above the walker's copy limit
        if r == 1
        else st.binary(max_size=12)
    )
)
_values = st.lists(st.builds(ValueSpec, _names, st.integers(0, 12), _raws), max_size=4)


def _dedup(items: list[Any]) -> list[Any]:
    """Drop case-insensitively duplicate names (the writer refuses them)."""
    seen: set[str] = set()
    out = []
    for it in items:
        key = pure.upcase(it.name)
        if key not in seen:
            seen.add(key)
            out.append(it)
    return out


def _key(children: st.SearchStrategy[list[KeySpec]]) -> st.SearchStrategy[KeySpec]:
    return st.builds(
        lambda n, v, c: KeySpec(n or "k", values=_dedup(v), subkeys=_dedup(c)),
        _names,
        _values,
        children,
    )


_trees = st.recursive(
    _key(st.just([])), lambda inner: _key(st.lists(inner, max_size=5)), max_leaves=25
)


def _allocated(data: bytes) -> list[int]:
    """Allocated cell indexes of a hive (for pointer-like mutations)."""
    hbins = int.from_bytes(data[0x28:0x2C], "little")
    bins = data[BASE : BASE + hbins]
    try:
        bm = pure.scan_cells(bins, len(bins))
    except regf.RegfError:
        return []
    return [8 * i for i in range(8 * len(bm)) if bm[i >> 3] >> (i & 7) & 1]


@st.composite
def hive_bytes(draw: st.DrawFn) -> bytes:
    """A serialized random tree, then byte and pointer mutations inside the bins."""
    data = bytearray(serialize(draw(_trees), minor=draw(st.sampled_from([3, 5]))))
    cells = _allocated(bytes(data))
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(BASE, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if cells:
        for _ in range(draw(st.integers(0, 4))):
            # A random aligned word becomes another cell's index: lists pointing at the
            # wrong cells, cycles, duplicate entries, values where keys should be.
            pos = draw(st.integers(BASE, len(data) - 4)) & ~3
            data[pos : pos + 4] = draw(st.sampled_from(cells)).to_bytes(4, "little")
    return bytes(data)


def _open(data: bytes, strict: bool) -> Hive | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return regf.open(data, strict=strict, recover=False)
    except regf.RegfError:
        return None


# ---------------------------------------------------------------------------------------
# Driving the walker directly


def run_walk(
    mod: Any,
    hive: Hive,
    *,
    caps: WalkCaps = purewalk.DEFAULT_CAPS,
    flags: int = purewalk.WALK_VALUES | purewalk.WALK_STRICT,
    start: int | None = None,
    max_depth: int = MAX_DEPTH,
) -> list[WalkChunk]:
    """Every chunk of one walk (bounded: a walker that never finishes fails the test)."""
    image = hive.image
    visited = bytearray((image.hbins_size >> 6) + 1)
    state = purewalk.new_walk_state()
    cell = hive.base_block.root_cell if start is None else start
    out = []
    for _ in range(4 * (image.hbins_size // 8) + 16):
        ch = mod.walk_code(
            image.bins_view(), image.hbins_size, image.bitmap(), visited, cell, 0,
            max_depth, flags, image.minor, state, caps,
        )  # fmt: skip
        out.append((ch, bytes(state)))
        if ch.rc != 1:
            return out  # type: ignore[return-value]
    raise AssertionError("walker did not finish")


def normalized(hive: Hive, chunks: list[Any]) -> list[tuple[Any, ...]]:
    """The walk as (cell, depth, status, name, values) per key, chunk borders erased."""
    image = hive.image
    keys: list[tuple[Any, ...]] = []
    for ch, _state in chunks:
        assert ch.rc >= 0
        if ch.name_nul:
            kn = [name_of(image.buf, c) for c in ch.key_cell]
            vn = [vk_name(image.buf, c) for c in ch.val_cell]
        else:
            kn = ch.knames.decode("utf-16-le", "surrogatepass").split("\0")[:-1]
            vn = ch.vnames.decode("utf-16-le", "surrogatepass").split("\0")[:-1]
        assert len(kn) == len(ch.key_cell) and len(vn) == len(ch.val_cell)
        raws = struct.unpack(ch.fmt, ch.data)
        vals = list(zip(ch.val_cell, ch.val_type, ch.val_status, vn, raws, strict=True))
        at = 0
        for c, d, s, nv, name in zip(
            ch.key_cell, ch.key_depth, ch.key_status, ch.key_nvals, kn, strict=True
        ):
            keys.append((c, d, s, name, vals[at : at + nv]))
            at += nv
        assert at == len(vals)
    return keys


_caps = st.builds(
    WalkCaps,
    st.integers(1, 6),
    st.integers(0, 12),
    st.integers(purewalk.WALK_MIN_NAMES, purewalk.WALK_MIN_NAMES + 64),
    st.integers(0, 300),
    st.integers(0, 100_000),
    st.integers(0, 80),
)


@skip_c
@SETTINGS
@given(hive_bytes(), _caps, st.integers(0, 15))
def test_parity_c_pure_mutated(data: bytes, caps: WalkCaps, flags: int) -> None:
    hive = _open(data, strict=False)
    if hive is None:
        return
    c = run_walk(_c(), hive, caps=caps, flags=flags)
    p = run_walk(purewalk, hive, caps=caps, flags=flags)
    assert c == p
    # And from an arbitrary cell (usually not an nk: E_START), with a shallow limit.
    cells = _allocated(data)
    if cells:
        start = cells[len(data) % len(cells)]
        kw: dict[str, Any] = {"caps": caps, "flags": flags, "start": start, "max_depth": 2}
        assert run_walk(_c(), hive, **kw) == run_walk(purewalk, hive, **kw)


@skip_c
@SETTINGS
@given(hive_bytes(), st.binary(min_size=8, max_size=64), st.integers(0, 15))
def test_parity_hostile_state(data: bytes, words: bytes, flags: int) -> None:
    """Garbage state words (frames pointing anywhere): same answer, no crash."""
    hive = _open(data, strict=False)
    if hive is None:
        return
    image = hive.image
    results = []
    for mod in (_c(), purewalk):
        state = bytearray(words) + purewalk.new_walk_state()[len(words) :]
        visited = bytearray((image.hbins_size >> 6) + 1)
        ch = mod.walk_code(
            image.bins_view(), image.hbins_size, image.bitmap(), visited,
            hive.base_block.root_cell, 0, MAX_DEPTH, flags, image.minor, state, TINY,
        )  # fmt: skip
        results.append((ch, bytes(state), bytes(visited)))
    assert results[0] == results[1]


@skip_c
@SETTINGS
@given(hive_bytes(), _caps)
def test_resumption_tiny_chunks(data: bytes, caps: WalkCaps) -> None:
    hive = _open(data, strict=True)
    if hive is None:
        return
    whole = run_walk(_c(), hive)
    if whole[0][0].rc < 0:
        return  # the root is not a sound nk: nothing to resume
    ref = normalized(hive, whole)
    for small in (TINY, caps):
        got = normalized(hive, run_walk(_c(), hive, caps=small))
        if small is TINY:
            assert all(len(ch.key_cell) <= 1 for ch, _ in run_walk(_c(), hive, caps=TINY))
        # Capacities only move chunk borders, except that a key whose values do not fit
        # in an empty chunk has them flagged for the checked path instead.
        assert [k[:2] for k in got] == [k[:2] for k in ref]
        for a, b in zip(got, ref, strict=True):
            if a[2] & purewalk.K_VALUES_BAD and not b[2] & purewalk.K_VALUES_BAD:
                assert a[2] & ~purewalk.K_VALUES_BAD == b[2] and a[4] == []
            else:
                assert a == b


def test_walk_arguments_refused() -> None:
    data = serialize(KeySpec("r", subkeys=[KeySpec("a")]))
    hive = _open(data, strict=True)
    assert hive is not None
    image = hive.image
    mods = [purewalk] if C_SKIPPED else [purewalk, _c()]
    for mod in mods:

        def call(mod: Any = mod, **kw: Any) -> int:
            args: dict[str, Any] = {
                "visited": bytearray((image.hbins_size >> 6) + 1),
                "start_cell": hive.base_block.root_cell,
                "base_depth": 0,
                "max_depth": MAX_DEPTH,
                "state": purewalk.new_walk_state(),
                "caps": purewalk.DEFAULT_CAPS,
            }
            args.update(kw)
            ch = mod.walk_code(
                image.bins_view(), image.hbins_size, image.bitmap(), args["visited"],
                args["start_cell"], args["base_depth"], args["max_depth"], 3, image.minor,
                args["state"], args["caps"],
            )  # fmt: skip
            return int(ch.rc)

        assert call() == 0
        assert call(visited=bytearray(1)) == purewalk.WALK_E_ARGS
        assert call(base_depth=3, max_depth=2) == purewalk.WALK_E_ARGS
        assert call(max_depth=purewalk.WALK_MAX_FRAMES) == purewalk.WALK_E_ARGS
        assert call(caps=WalkCaps(keys=0)) == purewalk.WALK_E_ARGS
        assert call(caps=WalkCaps(knames=purewalk.WALK_MIN_NAMES - 1)) == purewalk.WALK_E_ARGS
        assert call(caps=WalkCaps(data=purewalk.WALK_CAP_MAX + 1)) == purewalk.WALK_E_ARGS
        bad_state = purewalk.new_walk_state()
        bad_state[0] = 7
        assert call(state=bad_state) == purewalk.WALK_E_ARGS
        assert call(start_cell=hive.base_block.root_cell + 8) == purewalk.WALK_E_START
        assert call(start_cell=0xFFFFFFFF) == purewalk.WALK_E_START


# ---------------------------------------------------------------------------------------
# The reader's walk: fast (walker) == checked (key by key)


def collect(hive: Hive, keys: Any) -> tuple[list[Any], Any, list[Any]]:
    """Everything a walk shows: keys, values (all fields), errors, problems."""
    out: list[Any] = []
    res: Any = "ok"
    try:
        for k in keys:
            try:
                vs: Any = []
                for v in k.values():
                    try:
                        raw: Any = v.raw
                    except regf.RegfError as e:
                        raw = ("E", type(e).__name__, str(e), e.offset)
                    vs.append((v.index, v.name, v.type_, raw, v.data_size, v.data_cell, v.flags))
            except regf.RegfError as e:
                vs = ("E", type(e).__name__, str(e), e.offset)
            out.append(
                (k.index, k.name, k.path, k.parent_path, k.last_written_raw, k.subkey_count, vs)
            )
    except regf.RegfError as e:
        res = ("E", type(e).__name__, str(e), e.offset)
    probs = [(type(e).__name__, str(e), e.offset) for e in hive.problems]
    return out, res, probs


def _fresh_visited(hive: Hive) -> bytearray:
    return bytearray((hive.image.hbins_size >> 6) + 1)


def three_walks(data: bytes, strict: bool, with_pure: bool = True, limit: int = -1) -> list[Any]:
    """collect() of the checked walk, the fast walk driven by the pure twin and (C)
    the fast walk driven by the C walker, each fast walk also without values read
    ahead (``values=False``: ``values()`` reads them on demand)."""
    outs = []
    makers = [lambda h: h._walk_keys(h.root, 0, _fresh_visited(h), limit)]
    codes = ([purewalk.walk_code] if with_pure else []) + ([] if C_SKIPPED else [_c().walk_code])
    for code in codes:
        for ahead in (True, False):
            makers.append(
                lambda h, code=code, ahead=ahead: h._walk_chunks(
                    h.root, 0, _fresh_visited(h), code, ahead, limit
                )
            )
    for make in makers:
        h = _open(data, strict)
        if h is None:
            return []
        try:
            root_ok = h.root is not None
        except regf.RegfError:
            root_ok = False
        outs.append(collect(h, make(h)) if root_ok else None)
    return outs


@SETTINGS
@given(hive_bytes(), st.booleans())
def test_reader_walk_same_as_checked_walk(data: bytes, strict: bool) -> None:
    outs = three_walks(data, strict)
    assert all(o == outs[0] for o in outs[1:])


@SETTINGS
@given(hive_bytes(), st.booleans(), st.integers(0, 3))
def test_limited_walk_same_as_checked_walk(data: bytes, strict: bool, limit: int) -> None:
    """hive.walk(max_depth=...) takes the chunked walk on the C backend: the walker
    stops at the limit exactly where the key-by-key walk does."""
    outs = three_walks(data, strict, limit=limit)
    assert all(o == outs[0] for o in outs[1:])


@pytest.mark.parametrize("strict", [True, False])
def test_limited_walk_at_the_depth_cap(strict: bool) -> None:
    """A limit that ends exactly at MAX_DEPTH is the limit, not "too deep"."""
    data = _chain_with_deep_link()
    for limit in (MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1):
        outs = three_walks(data, strict, limit=limit)
        assert outs and all(o == outs[0] for o in outs[1:]), limit


def test_walk_yields_start_key_and_values_once_prefilled() -> None:
    tree = KeySpec(
        "r",
        values=[ValueSpec("v", 4, b"\1\0\0\0")],
        subkeys=[KeySpec("a", values=[ValueSpec("x", 3, b"abc"), ValueSpec("", 1, b"")])],
    )
    with regf.open(serialize(tree)) as h:
        keys = list(h.walk())
        assert keys[0] is h.root
        a = keys[1]
        first = a.values()
        assert [(v.name, v.type_, v.raw) for v in first] == [("x", 3, b"abc"), ("", 1, b"")]
        first.clear()  # the caller owns the list: a second call reads the key again
        assert [(v.name, v.raw, v.size, v.inline) for v in a.values()] == [
            ("x", b"abc", 3, True),
            ("", b"", 0, True),
        ]
        assert a.path == "a" and a.parent_path == "" and a.subkey_count == 0
        assert [k.path for k in h.walk("a")] == ["a"]


def _chain_with_deep_link() -> bytes:
    """A chain MAX_DEPTH - 1 levels deep whose deepest key borrows X's subkey list, so
    that X's child Y sits at depth MAX_DEPTH (and is reached again through X)."""
    deep = KeySpec("k")
    top = deep
    for _ in range(MAX_DEPTH - 2):
        top = KeySpec("k", subkeys=[top])
    tree = KeySpec("r", subkeys=[top, KeySpec("x", subkeys=[KeySpec("y")])])
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(old + 4 * MAX_DEPTH)
    try:
        data = bytearray(serialize(tree))
    finally:
        sys.setrecursionlimit(old)
    with regf.open(bytes(data)) as h:
        *_, last = h.walk("\\".join(["k"] * (MAX_DEPTH - 1)))
        x = h.open_key("x")
        at = BASE + last.index + 4
        data[at + 0x14 : at + 0x18] = (1).to_bytes(4, "little")
        data[at + 0x1C : at + 0x20] = x._f[9].to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize("strict", [True, False])
def test_depth_limit_and_revisit(strict: bool) -> None:
    data = _chain_with_deep_link()
    outs = three_walks(data, strict)
    assert outs and all(o == outs[0] for o in outs[1:])
    _keys, res, probs = outs[0]
    if strict:
        assert res[:2] == ("E", "StructureError") and "deeper than" in res[2]
    else:
        assert res == "ok"
        assert [p[1].split(" ")[0] for p in probs] == ["tree", "key"]  # depth, then cycle


@pytest.mark.parametrize("strict", [True, False])
def test_cycle_same_as_checked_walk(strict: bool) -> None:
    data = bytearray(serialize(KeySpec("r", subkeys=[KeySpec("a"), KeySpec("b")])))
    with regf.open(bytes(data)) as h:
        start, _ = h.image.cell(h.root._f[9])
        root = h.root.index
    data[start + 4 : start + 8] = root.to_bytes(4, "little")  # first entry -> the root
    outs = three_walks(bytes(data), strict)
    assert outs and all(o == outs[0] for o in outs[1:])
    assert "cycle" in str(outs[0][1] if strict else outs[0][2])


# ---------------------------------------------------------------------------------------
# Corpus


def _small_primaries(corpus: Path, limit: int) -> list[Path]:
    files = oracles.corpus_files(corpus)
    return [p for p in files if oracles.is_primary(p) and p.stat().st_size <= limit]


@skip_c
def test_corpus_parity_c_pure(corpus: Path) -> None:
    n = 0
    for path in _small_primaries(corpus, 3 << 20):
        hive = _open(path.read_bytes(), strict=False)
        if hive is None:
            continue
        groups = purewalk.WALK_VALUES | purewalk.WALK_LEVEL | purewalk.WALK_GROUPS
        for flags in (
            purewalk.WALK_VALUES | purewalk.WALK_STRICT,
            purewalk.WALK_VALUES,
            groups | purewalk.WALK_STRICT,
            groups,
        ):
            assert run_walk(_c(), hive, flags=flags) == run_walk(purewalk, hive, flags=flags), path
        n += 1
    assert n > 10


@skip_c
def test_corpus_resumption(corpus: Path) -> None:
    for path in _small_primaries(corpus, 1 << 20)[:40]:
        hive = _open(path.read_bytes(), strict=False)
        if hive is None:
            continue
        whole = run_walk(_c(), hive, flags=purewalk.WALK_VALUES)
        if whole[0][0].rc < 0:
            continue  # damaged root
        ref = normalized(hive, whole)
        caps = WalkCaps(keys=3, vals=5, knames=purewalk.WALK_MIN_NAMES, vnames=200, data=5000)
        got = normalized(hive, run_walk(_c(), hive, caps=caps, flags=purewalk.WALK_VALUES))
        assert [k[:2] for k in got] == [k[:2] for k in ref], path
        for a, b in zip(got, ref, strict=True):
            assert a == b or (a[2] & purewalk.K_VALUES_BAD and a[4] == []), path


def test_corpus_reader_walk_same_as_checked_walk(corpus: Path) -> None:
    """Every corpus file, both modes: the fast walk equals the checked walk."""
    for path in oracles.corpus_files(corpus):
        if path.stat().st_size > 40 << 20:
            continue
        data = path.read_bytes()
        for strict in (True, False):
            # The pure twin is a slow spec: it drives the walk on the smaller files only.
            outs = three_walks(data, strict, with_pure=len(data) <= 2 << 20)
            assert all(o == outs[0] for o in outs[1:]), (path, strict)


def test_strict_error_traceback_collected_safely() -> None:
    """A strict walk's error keeps the checked decoder's frames alive in a reference
    cycle; collecting it must not crash (the C list decoder's buffer export of the
    image's memoryview is released before raising)."""
    import gc

    data = bytearray(serialize(KeySpec("r", subkeys=[KeySpec("a"), KeySpec("b")])))
    with regf.open(bytes(data)) as h:
        start, _ = h.image.cell(h.root._f[9])
    data[start + 4 : start + 8] = (0x7FFFFFF8).to_bytes(4, "little")  # entry: no cell
    kept = []
    for _ in range(3):
        with regf.open(bytes(data)) as h:
            try:
                for k in h.walk():
                    k.values()
            except regf.CellError as exc:
                kept.append(exc)
                exc.cycle = exc  # type: ignore[attr-defined]  # a cycle through the error
    del kept, h
    gc.collect()
    _ = [object() for _ in range(10000)]
    gc.collect()


@skip_c
def test_names_every_length_and_nul_position() -> None:
    """The C walker widens Latin-1 names four bytes at a time with a byte tail, and
    tests for U+0000 per block: names of every length 1-13, with a NUL at each position
    or none, as key names and as value names, Latin-1 and UTF-16, decode exactly as the
    pure twin's. One key record per chunk, each with one odd name, so a chunk's name_nul
    is that one name's."""
    names = []
    for n in range(1, 14):
        base = "".join("aZé~ÿ0"[i % 6] for i in range(n))
        names.append(base)
        names += [base[:i] + "\0" + base[i + 1 :] for i in range(n)]
    names += ["日本\0語", "日本語"]  # UTF-16: not compressible
    kids = [KeySpec(nm, values=[ValueSpec("v", 1, b"")]) for nm in names]
    kids += [KeySpec(f"k{i:03d}", values=[ValueSpec(nm, 1, b"")]) for i, nm in enumerate(names)]
    hive = regf.open(serialize(KeySpec("R", subkeys=kids), minor=5))
    caps = purewalk.DEFAULT_CAPS._replace(keys=1)
    c_chunks = run_walk(_c(), hive, caps=caps)
    p_chunks = run_walk(purewalk, hive, caps=caps)
    assert len(c_chunks) > 2 * len(names)
    for (cc, _s1), (pc, _s2) in zip(c_chunks, p_chunks, strict=True):
        assert (cc.knames, cc.vnames, cc.name_nul) == (pc.knames, pc.vnames, pc.name_nul)
    walked = normalized(hive, c_chunks)
    assert walked == normalized(hive, p_chunks)
    assert {k[3] for k in walked} >= set(names)
    assert {v[3] for k in walked for v in k[4]} == {"v", *names}
