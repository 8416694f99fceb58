"""Key.subkeys() through the grouped walker stream (issue 15 item 1).

On the C backend a read-only hive answers ``key.subkeys()`` from a walker stream in
``WALK_GROUPS`` order (regf/model/substream.py): each key's children come as one group,
names, cells and values, in the order the recursive walk asks for them, and a child
without subkeys is marked (``K_LEAF``) so its own ``subkeys()`` needs no call. Anything
the walker flags sends the call to the checked decoder. These tests
prove that the natural recursive walk sees exactly what the checked decoder shows
(keys, values, every field, errors with their offsets, recorded problems), driven by
the C walker and by its pure twin, on random and mutated hives and on the corpus; and
that the C and pure walkers agree chunk by chunk in that mode.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_walk import (
    C_SKIPPED,
    SETTINGS,
    TINY,
    _allocated,
    _c,
    _caps,
    _open,
    hive_bytes,
    normalized,
    skip_c,
)

import regf
from regf._accel import purewalk
from regf._accel.purewalk import WalkCaps
from regf.format.constants import BASE, MAX_DEPTH
from regf.model.hive import Hive
from regf.model.spec import KeySpec, ValueSpec
from regf.model.substream import SubkeyStream
from regf.model.walk import WALK_CAPS

LEVEL = purewalk.WALK_VALUES | purewalk.WALK_LEVEL


class _Stop(Exception):
    """The natural walk went past its bound (the same point in every mode)."""


def natural(hive: Hive, limit: int = 400) -> tuple[list[Any], Any, list[Any]]:
    """The user's recursive loop, recording everything it shows: each key's fields and
    values (raw or the error reading it), each subkeys() error, the recorded problems.
    Bounded (duplicate list entries can make the tree exponential), identically in
    every mode because every mode yields the same keys in the same order."""
    out: list[Any] = []
    seen = [0]

    def err(e: regf.RegfError) -> tuple[Any, ...]:
        return ("E", type(e).__name__, str(e), e.offset)

    def visit(k: regf.Key, depth: int) -> None:
        seen[0] += 1
        if seen[0] > limit or depth > 40:
            raise _Stop
        vs: Any = []
        try:
            for v in k.values():
                try:
                    raw: Any = v.raw
                except regf.RegfError as e:
                    raw = err(e)
                vs.append((v.index, v.name, int(v.type), raw, v.data_size, v.data_cell, v.flags))
        except regf.RegfError as e:
            vs = err(e)
        out.append((k.index, k.name, k.path, k.parent_path, k.last_written_raw, vs))
        try:
            subs = k.subkeys()
        except regf.RegfError as e:
            out.append(err(e))
            return
        for s in subs:
            visit(s, depth + 1)

    res: Any = "ok"
    try:
        visit(hive.root, 0)
    except _Stop:
        res = "stopped"
    except regf.RegfError as e:
        res = err(e)
    probs = [(type(e).__name__, str(e), e.offset) for e in hive.problems]
    return out, res, probs


def _modes() -> list[Any]:
    """The checked decoder (None), the pure twin's batches and (C) the C batches."""
    modes: list[Any] = [None, purewalk.walk_binder]
    if not C_SKIPPED:
        modes.append(_c().walk_binder)
    return modes


#: Stream read-ahead tried (first chunk, largest chunk, in key records): one record at
#: a time (every group spans chunks), small, and the default.
_LEVELS = [(1, 1), (2, 5), (32, 256)]


def natural_walks(data: bytes, strict: bool, limit: int = 400) -> list[Any]:
    outs = []
    for binder in _modes():
        for levels in _LEVELS if binder is not None else [(0, 0)]:
            h = _open(data, strict)
            if h is None:
                return []
            h._batch_binder = binder
            h._scratch = None if binder is None else SubkeyStream(h, binder, *levels)
            try:
                _ = h.root
            except regf.RegfError:
                return []
            outs.append(natural(h, limit))
    return outs


@SETTINGS
@given(hive_bytes(), st.booleans())
def test_natural_walk_same_as_checked(data: bytes, strict: bool) -> None:
    outs = natural_walks(data, strict)
    assert all(o == outs[0] for o in outs[1:])


def _tree() -> KeySpec:
    vals = [ValueSpec(f"v{i}", i % 12, bytes(range(i))) for i in range(7)]
    vals.append(ValueSpec("big", 3, b"\x02" * 70_000))  # over the walker's copy limit
    kids = [
        KeySpec(f"k{i:03d}", values=vals[: i % 8], subkeys=[KeySpec("leaf")] if i % 3 else [])
        for i in range(300)  # more than one batch (256 keys) under one parent
    ]
    return KeySpec("ROOT", values=vals[:2], subkeys=[KeySpec("P", subkeys=kids), KeySpec("Q")])


@pytest.mark.parametrize("strict", [True, False])
def test_sound_hive_every_mode_and_batches(strict: bool) -> None:
    from regf.model.serialize import serialize

    data = serialize(_tree(), minor=5)
    outs = natural_walks(data, strict, 10_000)
    assert len(outs) == 1 + (len(_modes()) - 1) * len(_LEVELS)
    assert all(o == outs[0] for o in outs[1:])
    keys, res, probs = outs[0]
    assert res == "ok" and probs == []
    assert len(keys) == 1 + 2 + 300 + 200  # root, P, Q, the k's, their leaves


def test_leaf_answer_handed_out_once() -> None:
    """A leaf's prefilled answer is a fresh list each time (the caller owns it)."""
    from regf.model.serialize import serialize

    with regf.open(serialize(_tree(), minor=5)) as hive:
        (p, _q) = hive.root.subkeys()
        kids = p.subkeys()
        k0 = kids[0]  # i = 0: no subkeys
        a = k0.subkeys()
        a.append(k0)  # the caller's list
        assert k0.subkeys() == []
        assert [s.name for s in kids[1].subkeys()] == ["leaf"]
        assert [v.name for v in kids[3].values()] == ["v0", "v1", "v2"]
        assert [v.name for v in kids[3].values()] == ["v0", "v1", "v2"]  # read again


@pytest.mark.parametrize("strict", [True, False])
def test_subkeys_over_hive_walk_back_off(strict: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """README's loop asks every key hive.walk() yields for its subkeys: each is a key
    the stream is not about to reach. The answers equal the checked decoder's, leaves
    never restart the stream and wasted restarts back off (a few, not one per key)."""
    from regf.model.serialize import serialize

    data = serialize(_tree(), minor=5)
    restarts: list[int] = []
    real = SubkeyStream._restart

    def counting(self: SubkeyStream, k: Any) -> None:
        restarts.append(k._cell)
        real(self, k)

    monkeypatch.setattr(SubkeyStream, "_restart", counting)
    with regf.open(data, strict=strict) as hive, regf.open(data, strict=strict) as ref:
        ref._batch_binder = None  # the checked decoder only
        streamed = hive._batch_binder is not None  # the stream is C only
        got = [[s.path for s in k.subkeys()] for k in hive.walk()]
        want = [[s.path for s in k.subkeys()] for k in ref.walk()]
    assert got == want and len(got) == 503
    if streamed:
        assert 1 <= len(restarts) <= 12  # 201 keys have subkeys


def test_threads_share_a_hive() -> None:
    """Concurrent natural walks of one hive (each thread gets its own walker state)."""
    from regf.model.serialize import serialize

    with regf.open(serialize(_tree(), minor=5)) as hive:
        want = natural(hive, limit=10_000)
        got: list[Any] = []

        def run() -> None:
            for _ in range(3):
                got.append(natural(hive, limit=10_000))

        ts = [threading.Thread(target=run) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(got) == 9 and all(g == want for g in got)


# ---------------------------------------------------------------------------------------
# The walker in one-level mode: C == pure, chunk by chunk


def level_chunks(
    binder: Any, hive: Hive, cell: int, flags: int, caps: WalkCaps, levels: int = 1
) -> list[Any]:
    image = hive.image
    visited = bytearray((image.hbins_size >> 6) + 1)
    state = purewalk.new_walk_state()
    call = binder(image.buf, BASE, image.hbins_size, image.bitmap(),
                  visited, state, caps)  # fmt: skip
    out = []
    for _ in range(image.hbins_size // 8 + 16):
        ch = call(cell, 0, levels, flags, image.minor)
        # The C binder's names and data are views its next call overwrites: keep copies.
        ch = ch._replace(knames=bytes(ch.knames), vnames=bytes(ch.vnames), data=bytes(ch.data))
        out.append((ch, bytes(state)))
        if ch.rc != 1:
            return out
    raise AssertionError("walker did not finish")


@skip_c
@SETTINGS
@given(hive_bytes(), st.one_of(_caps, st.just(TINY), st.just(WALK_CAPS)), st.booleans(),
       st.integers(0, 30), st.integers(1, 3))  # fmt: skip
def test_level_walker_c_same_as_pure(
    data: bytes, caps: WalkCaps, strict: bool, pick: int, levels: int
) -> None:
    h = _open(data, strict)
    if h is None:
        return
    cells = _allocated(data)
    if not cells:
        return
    cell = [h.base_block.root_cell, *cells][pick % (len(cells) + 1)]
    flags = LEVEL | (purewalk.WALK_STRICT if strict else 0)
    a = level_chunks(purewalk.walk_binder, h, cell, flags, caps, levels)
    b = level_chunks(_c().walk_binder, h, cell, flags, caps, levels)
    assert a == b
    if a[0][0].rc >= 0:
        keys = normalized(h, a)
        # The start key (no values), then keys down to ``levels``; only the deepest
        # carry K_DEPTH, and K_LEAF only with it.
        assert keys[0][1] == 0 and keys[0][4] == []
        for rec in keys[1:]:
            d, s = rec[1], rec[2]
            assert 1 <= d <= levels
            if not s & purewalk.K_CYCLE:
                assert bool(s & purewalk.K_DEPTH) == (d == levels)
            assert not s & purewalk.K_LEAF or s & purewalk.K_DEPTH


def test_level_flag_marks_leaves_only_in_level_mode() -> None:
    from regf.model.serialize import serialize

    with regf.open(serialize(_tree(), minor=5)) as hive:
        p = hive.root.subkeys()[0]
        for binder in _modes()[1:]:
            for flags, leaf_bits in ((LEVEL, True), (purewalk.WALK_VALUES, False)):
                ch = level_chunks(binder, hive, p.index, flags, WALK_CAPS)[0][0]
                st_ = ch.key_status
                leaves = [bool(s & purewalk.K_LEAF) for s in st_[1:]]
                if leaf_bits:
                    assert leaves == [i % 3 == 0 for i in range(len(leaves))]
                    assert ch.key_nvals[0] == 0  # the start key's values are skipped
                else:
                    assert not any(leaves)


def test_binder_refuses_bad_arguments() -> None:
    for binder in _modes()[1:]:
        with pytest.raises(ValueError):
            binder(b"\0" * 8, 0, 16, b"", bytearray(1), purewalk.new_walk_state())
        with pytest.raises(ValueError):
            binder(b"\0" * 64, 0, 16, b"", bytearray(1), bytearray(4))


def _small_primaries(corpus: Path, limit: int) -> list[Path]:
    import oracles

    prim = [p for p in oracles.corpus_files(corpus) if oracles.is_primary(p)]
    prim.sort(key=lambda p: p.stat().st_size)
    return prim[:limit]


@skip_c
def test_corpus_natural_walk_same_as_checked(corpus: Path) -> None:
    """The corpus's 12 smallest primary hives, strict and forensic."""
    for path in _small_primaries(corpus, 12):
        data = path.read_bytes()
        for strict in (True, False):
            outs = []
            for binder in (None, _c().walk_binder):
                h = _open(data, strict)
                if h is None:
                    break
                h._batch_binder = binder
                h._scratch = None
                try:
                    outs.append(natural(h, limit=100_000))
                except regf.RegfError as e:
                    outs.append(("root", type(e).__name__, str(e)))
            assert all(o == outs[0] for o in outs[1:]), (path, strict)


def _deep_hive(tmp_path: Path) -> bytes:
    """ROOT\\P\\Q\\R\\{S, T} and ROOT\\P\\Q\\U, with values here and there."""
    path = tmp_path / "deep.hiv"
    with regf.create(path) as hive:
        for p in ("P\\Q\\R\\S", "P\\Q\\R\\T", "P\\Q\\U", "P\\V"):
            hive.create_key(p).set_value("x", p)
    return path.read_bytes()


_PARENTS = ["P", "P\\Q", "P\\Q\\R"]
_TARGETS = [None, "P", "P\\Q", "P\\Q\\R", "P\\Q\\R\\T", "P\\Q\\U", "P\\V"]


@pytest.mark.parametrize("parent", _PARENTS)
@pytest.mark.parametrize("target", _TARGETS)
def test_patched_entries_at_every_depth(tmp_path: Path, parent: str, target: str | None) -> None:
    """A list entry below the batch's first level naming the root, an ancestor, the key
    itself, a sibling (duplicate) or a key elsewhere: every mode shows the same (the
    prefill of the key owning that list must be dropped, not just the entry)."""
    from test_cycles import _point_at

    data = _point_at(_deep_hive(tmp_path), parent, target)
    for strict in (True, False):
        outs = natural_walks(data, strict, 10_000)
        assert outs and all(o == outs[0] for o in outs[1:]), (parent, target, strict)


# ---------------------------------------------------------------------------------------
# The grouped order itself, scattered calls, and the stream's clean-up


def _groups(binder: Any, hive: Hive, caps: WalkCaps) -> list[tuple[int, list[int]]]:
    """The groups of a WALK_GROUPS walk from the root, each as (parent cell, child
    cells), the parents found the way the stream finds them (a stack)."""
    flags = LEVEL | purewalk.WALK_GROUPS | purewalk.WALK_STRICT
    recs = normalized(hive, level_chunks(binder, hive, hive.base_block.root_cell, flags,
                                         caps, MAX_DEPTH))  # fmt: skip
    no_group = purewalk.K_LEAF | purewalk.K_CYCLE | purewalk.K_DEPTH | purewalk.K_CHILDREN_BAD
    stack = [recs[0][0]]
    out: list[tuple[int, list[int]]] = []
    kids: list[int] = []
    for c, _d, st_, _n, _v in recs[1:]:
        if st_ & purewalk.K_GROUP:
            stack.extend(reversed(kids))
            kids = []
            out.append((stack.pop(), []))
        out[-1][1].append(c)
        if not st_ & no_group:
            kids.append(c)
    return out


@pytest.mark.parametrize("caps", [TINY, WALK_CAPS], ids=["one-record-chunks", "default"])
def test_groups_are_each_keys_subkeys_in_walk_order(caps: WalkCaps) -> None:
    """Every group is one key's whole subkey list, the groups in the pre-order of their
    parents (the order a recursive walk asks), whatever the chunk borders."""
    from regf.model.serialize import serialize

    with regf.open(serialize(_tree(), minor=5)) as hive:
        want = []
        for k in hive.walk():
            subs = hive._key_subkeys(k, False)
            if subs:
                want.append((k.index, [s.index for s in subs]))
        for binder in _modes()[1:]:
            assert _groups(binder, hive, caps) == want


def _bfs(hive: Hive) -> list[Any]:
    """Subkeys asked level by level (never the order the stream expects)."""
    out: list[Any] = []
    level = [hive.root]
    while level:
        nxt = []
        for k in level:
            subs = k.subkeys()
            out.append((k.path, [(s.name, s.index, [v.name for v in s.values()]) for s in subs]))
            nxt.extend(subs)
        level = nxt
    return out


@pytest.mark.parametrize("strict", [True, False])
def test_scattered_calls_same_as_checked(strict: bool) -> None:
    """Breadth-first calls restart the stream at every key; the answers stay the checked
    decoder's, and so does a repeated or out-of-order call."""
    from regf.model.serialize import serialize

    data = serialize(_tree(), minor=5)
    outs = []
    for binder in _modes():
        for levels in _LEVELS if binder is not None else [(0, 0)]:
            h = _open(data, strict)
            assert h is not None
            h._batch_binder = binder
            h._scratch = None if binder is None else SubkeyStream(h, binder, *levels)
            p = h.root.subkeys()[0]
            kids = p.subkeys()
            again = [k.name for k in p.subkeys()]  # p's answer was handed out: asked again
            late = [s.name for s in kids[4].subkeys()]  # a later sibling first
            early = [s.name for s in kids[1].subkeys()]
            outs.append((_bfs(h), again, late, early))
    assert all(o == outs[0] for o in outs[1:])


@skip_c
def test_stream_leaves_visited_clean() -> None:
    """Between streams every visited bit and expansion mark is clear again (a restart
    must not see the previous stream's keys as cycles)."""
    from regf.model.serialize import serialize

    with regf.open(serialize(_tree(), minor=5)) as hive:
        sc = SubkeyStream(hive, _c().walk_binder, 2, 4)
        hive._scratch = sc
        p = hive.root.subkeys()[0]
        kids = p.subkeys()
        assert any(sc.visited)
        kids[7].subkeys()  # a later key: the stream reads ahead to its group
        assert [k.name for k in p.subkeys()] == [k.name for k in kids]  # a restart at p
        sc._clear()
        assert not any(sc.visited)
        # And after a whole walk, over a large number of chunks.
        natural(hive, limit=10_000)
        sc._clear()
        assert not any(sc.visited)


@pytest.mark.parametrize("walk", ["natural", "hive.walk"])
def test_values_made_when_asked(walk: str) -> None:
    """A chunk's Value objects are made by ``values()``, key by key, not when the chunk
    is decoded: made all at once (a chunk of 256 keys with 8 values each is ~2,300
    objects, alive until the loop reaches their keys) they woke the cyclic GC every few
    hundred keys. Counted with the default young-generation threshold (700)."""
    import gc

    from regf.model.serialize import serialize

    vals = [ValueSpec(f"v{i}", 3, bytes(8)) for i in range(8)]
    tree = KeySpec("ROOT", subkeys=[KeySpec(f"k{i:04d}", values=vals) for i in range(2000)])
    young: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            young.append(info["generation"])

    def visit(k: regf.Key) -> int:
        n = sum(len(v.raw) for v in k.values())
        return n + sum(visit(s) for s in k.subkeys())

    with regf.open(serialize(tree, minor=5)) as hive:
        old = gc.get_threshold()
        gc.collect()
        gc.set_threshold(700, 10, 10)
        gc.callbacks.append(count)
        try:
            if walk == "natural":
                total = visit(hive.root)
            else:
                total = sum(len(v.raw) for k in hive.walk() for v in k.values())
        finally:
            gc.callbacks.remove(count)
            gc.set_threshold(*old)
    assert total == 2000 * 8 * 8
    # Keys alone take 6-8 collections; values made a chunk at a time took 28.
    assert len(young) <= 12, young


# ---------------------------------------------------------------------------------------
# subkeys() of the keys hive.walk() yields: answered from the walker chunk's records


def walked_subkeys(h: Hive, keys: Any, limit: int = 300) -> tuple[list[Any], Any, list[Any]]:
    """Every yielded key's subkeys() (and its first subkey's), as fields or the error."""

    def err(e: regf.RegfError) -> tuple[Any, ...]:
        return ("E", type(e).__name__, str(e), e.offset)

    def answer(k: regf.Key) -> Any:
        try:
            subs = k.subkeys()
        except regf.RegfError as e:
            return err(e)
        return [(s.index, s.name, s.path, s.parent_path, s.last_written_raw) for s in subs]

    out: list[Any] = []
    res: Any = "ok"
    try:
        for n, k in enumerate(keys):
            if n >= limit:
                res = "stopped"
                break
            first = answer(k)
            deeper: Any = None
            if isinstance(first, list) and first:
                try:
                    kid = k.subkeys()[0]
                    deeper = (answer(kid), [(v.name, v.raw) for v in kid.values()])
                except regf.RegfError as e:
                    deeper = err(e)
            out.append((k.index, k.path, first, deeper))
    except regf.RegfError as e:
        res = err(e)
    return out, res, [(type(e).__name__, str(e), e.offset) for e in h.problems]


def walked_subkeys_modes(data: bytes, strict: bool, limit: int = 300) -> list[Any]:
    """The checked walk and decoder, then the chunked walks (pure twin, C) whose keys
    answer from their records; the stream is off so any fallback is the checked one."""
    outs: list[Any] = []
    codes: list[Any] = [None, purewalk.walk_code] + ([] if C_SKIPPED else [_c().walk_code])
    for code in codes:
        for values in (True, False) if code is not None else (True,):
            h = _open(data, strict)
            if h is None:
                return []
            h._batch_binder = None
            h._scratch = None
            visited = bytearray((h.image.hbins_size >> 6) + 1)
            try:
                root = h.root
            except regf.RegfError:
                return []
            if code is None:
                keys = h._walk_keys(root, 0, visited)
            else:
                keys = h._walk_chunks(root, 0, visited, code, values)
            outs.append(walked_subkeys(h, keys, limit))
    return outs


@SETTINGS
@given(hive_bytes(), st.booleans(), st.sampled_from([None, 2, 5]))
def test_subkeys_of_walked_keys_same_as_checked(data: bytes, strict: bool, keys: Any) -> None:
    """Also with chunks of 2 or 5 key records: most subtrees then run past their chunk,
    and the checked decoder makes the children it finds records of from them."""
    import regf.model.walk as walkmod

    caps = WALK_CAPS if keys is None else WALK_CAPS._replace(keys=keys)
    with patch.object(walkmod, "WALK_CAPS", caps):
        outs = walked_subkeys_modes(data, strict)
    assert all(o == outs[0] for o in outs[1:])


@pytest.mark.parametrize("strict", [True, False])
def test_subkeys_of_walked_keys_from_records(strict: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """README's loop (hive.walk(), then len(k.subkeys()) of each key) decodes no subkey
    list again where the chunk's records hold the answer: only the caller's start key
    and keys whose subtree may run past their chunk (its last records, and P, whose 300
    children span chunks) ask the checked decoder."""
    from regf.model.serialize import serialize

    data = serialize(_tree(), minor=5)
    outs = walked_subkeys_modes(data, strict)
    assert all(o == outs[0] for o in outs[1:])
    calls: list[int] = []
    real = Hive._key_subkeys

    def counting(self: Hive, k: regf.Key, check: bool = True) -> list[regf.Key]:
        if getattr(k, "_wk", None) is None or k._wk.subkeys(k) is None:
            calls.append(k._cell)
        return real(self, k, check)

    monkeypatch.setattr(Hive, "_key_subkeys", counting)
    with regf.open(data, strict=strict) as hive:
        total = sum(len(k.subkeys()) for k in hive.walk())
    assert total == 2 + 300 + 200
    if not C_SKIPPED:  # the pure backend's hive.walk() is the checked walk
        # Without the records every one of the 503 keys asks (7 to 20 do here).
        assert len(calls) <= 503 // 10, len(calls)


@pytest.mark.parametrize("strict", [True, False])
def test_subkeys_of_walked_keys_deep_and_revisited(strict: bool) -> None:
    """Keys at the depth limit (no child records) and a subkey list reached twice: the
    records do not hold those answers, and the checked decoder gives them."""
    from test_walk import _chain_with_deep_link

    outs = walked_subkeys_modes(_chain_with_deep_link(), strict, limit=2000)
    assert len(outs) >= 3 and all(o == outs[0] for o in outs[1:])


@skip_c
def test_walk_code_keeps_its_key_cap_after_a_stream_call() -> None:
    """The C binder lowers the thread's shared output buffers' key cap for a stream's
    small chunks; walk_code must use its own caps again (it ran with the stream's last
    cap, 32-128 keys a chunk, before)."""
    from regf.model.serialize import serialize

    c = _c()
    with regf.open(serialize(_tree(), minor=5)) as hive:
        image = hive.image
        visited = bytearray((image.hbins_size >> 6) + 1)
        state = purewalk.new_walk_state()
        call = c.walk_binder(image.buf, BASE, image.hbins_size, image.bitmap(),
                             visited, state, WALK_CAPS)  # fmt: skip
        assert len(call(hive.root.index, 0, MAX_DEPTH, purewalk.WALK_VALUES, 5, 2).key_cell) == 2
        ch = c.walk_code(
            image.bins_view(), image.hbins_size, image.bitmap(),
            bytearray(len(visited)), hive.root.index, 0, MAX_DEPTH, purewalk.WALK_VALUES,
            5, purewalk.new_walk_state(), WALK_CAPS,
        )  # fmt: skip
        assert len(ch.key_cell) > 2


@pytest.mark.parametrize("levels", _LEVELS)
def test_links_resolved_deep_without_recursion(levels: tuple[int, int]) -> None:
    """A stream links each key to its parent Key; a key's path, parent path and
    ancestors are filled from that chain on first use, top down, with no recursion:
    here the deepest key (MAX_DEPTH - 1 levels down, nothing above it asked) resolves
    under a recursion limit far below its depth, after a key halfway down resolved the
    upper half."""
    import sys

    from regf.model.serialize import serialize

    leaf = KeySpec("k0", values=[ValueSpec("v", 4, b"\1\0\0\0")])
    for i in range(1, MAX_DEPTH - 1):
        leaf = KeySpec(f"k{i}", subkeys=[leaf, KeySpec(f"side{i}")])
    data = serialize(KeySpec("R", subkeys=[leaf]), minor=5)
    for binder in _modes()[1:]:
        h = _open(data, True)
        assert h is not None
        h._batch_binder = binder
        h._scratch = SubkeyStream(h, binder, *levels)
        chain = [h.root]
        while subs := chain[-1].subkeys():  # the first child: the next link down
            chain.append(subs[0])
        assert len(chain) == MAX_DEPTH and chain[-1].name == "k0"
        mid = chain[MAX_DEPTH // 2]
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(60)
        assert isinstance(chain[-1]._pp, regf.Key)  # linked: nothing resolved yet
        try:
            mid_parent = mid.parent_path  # resolves the upper half
            deep_path = chain[-1].path  # the rest, down from there
            deep_anc = chain[-1]._anc
        finally:
            sys.setrecursionlimit(old)
        want = "\\".join(k.name for k in chain[1:])
        assert deep_path == want
        assert mid_parent == "\\".join(k.name for k in chain[1 : MAX_DEPTH // 2])
        assert deep_anc == tuple(k.index for k in chain[:-1])
        checked = h.open_key(want)  # the checked decoder, by path
        assert checked.index == chain[-1].index and checked.value("v").data == 1


def test_group_is_the_top_status_bit() -> None:
    """SubkeyStream tests a record's K_GROUP bit as ``status >= K_GROUP`` and a plain leaf
    as ``status == K_LEAF`` (one specialised int compare each): that holds only while
    every other key status bit is below K_GROUP."""
    others = (
        purewalk.K_CYCLE | purewalk.K_DEPTH | purewalk.K_CHILDREN_BAD
        | purewalk.K_VALUES_BAD | purewalk.K_LEAF
    )  # fmt: skip
    assert others < purewalk.K_GROUP and purewalk.K_GROUP & (purewalk.K_GROUP - 1) == 0
    assert {n for n in dir(purewalk) if n.startswith("K_")} == {
        "K_CYCLE", "K_DEPTH", "K_CHILDREN_BAD", "K_VALUES_BAD", "K_LEAF", "K_GROUP",
    }  # fmt: skip
