"""Walking a read-only hive's key tree: the checked key-by-key walk and the chunked
C walker (:func:`regf._accel.walk_code`), which give the same keys, values, errors and
recorded problems."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from threading import get_ident
from typing import Any

from .._accel.purewalk import (
    K_CHILDREN_BAD,
    K_CYCLE,
    K_DEPTH,
    K_LEAF,
    K_VALUES_BAD,
    WALK_LEVEL,
    WALK_STRICT,
    WALK_VALUES,
    WalkCaps,
    new_walk_state,
)
from ..cells.nodes import name_of
from ..cells.values import vk_name
from ..format.constants import BASE, HCELL_NIL, MAX_DEPTH
from ..format.fast import CELL_HEADER, NK_L
from .keys import Key
from .values import Value


def _chunk_names(ch: Any, buf: Any) -> tuple[list[str], list[str]]:
    """The key and value names of a walker chunk, in record order."""
    if ch.name_nul:
        # A name holds U+0000 itself: the chunk cannot be split on NUL.
        return (
            [name_of(buf, c) for c in ch.key_cell],
            [vk_name(buf, c) for c in ch.val_cell],
        )
    return (
        ch.knames.decode("utf-16-le", "surrogatepass").split("\0"),
        ch.vnames.decode("utf-16-le", "surrogatepass").split("\0"),
    )


def _chunk_values(ch: Any, image: Any, vnames: list[str]) -> list[Value]:
    """Every value record of a walker chunk as a :class:`Value`, in one flat loop (raw
    data filled unless the walker left it to the checked path)."""
    vnew = Value.__new__
    vals: list[Value] = []
    append = vals.append
    for vc, vn, vt, vs, rw in zip(
        ch.val_cell, vnames, ch.val_type, ch.val_status, struct.unpack(ch.fmt, ch.data),
        strict=False,
    ):  # fmt: skip
        v = vnew(Value)
        v._image = image
        v.index = vc
        v.name = vn
        v.type_ = vt
        if not vs:
            v.raw = rw
        append(v)
    return vals


def walk_keys(
    hive: Any, key: Key | str | None, base: int, visited: bytearray | None, limit: int = -1
) -> Iterator[Key]:
    """The checked key-by-key walk from ``key`` at depth ``base`` (``visited``: one bit
    per cell, as the C walker's; None: a fresh one). ``limit`` >= 0 stops that many
    levels below ``key``."""
    start = hive._start(key)
    if visited is None:
        visited = bytearray((hive.image.hbins_size >> 6) + 1)
    stack: list[tuple[Key, int]] = [(start, base)]
    while stack:
        k, depth = stack.pop()
        q = k._cell >> 3
        if (visited[q >> 3] >> (q & 7)) & 1:
            hive._cycle(k)
            continue
        visited[q >> 3] |= 1 << (q & 7)
        yield k
        if depth - base == limit:
            continue
        if depth >= MAX_DEPTH:
            hive._too_deep(k)
            continue
        # Unchecked for ancestors: ``visited`` catches every cycle (as C does).
        subs = hive._key_subkeys(k, False)
        d = depth + 1
        stack.extend((s, d) for s in reversed(subs))


def walk_chunks(
    hive: Any, key: Key | str | None, base: int, visited: bytearray | None, walk_code: Any
) -> Iterator[Key]:
    """The walk from ``key`` (at depth ``base``) through the chunked C walker.

    The walker checks every cell it reads like HiveImage.cell() and flags whatever it
    does not handle (cycles, depth, damaged subkey or value lists, big data); those
    cases go through the same checked code as :meth:`_walk_keys`, so keys, values,
    errors and recorded problems are identical. A key whose subkey list the walker
    refused ends its chunk; its subkeys (from the checked decoder) are then walked
    one by one, each by a walker of its own sharing ``visited``, before the parent's
    walker resumes.
    """
    start = hive._start(key)
    image = hive.image
    if visited is None:
        visited = bytearray((image.hbins_size >> 6) + 1)
    flags = WALK_VALUES | (WALK_STRICT if hive.strict else 0)
    bins = image.bins_view()
    size = image.hbins_size
    cellmap = image.bitmap()
    minor = image.minor
    knew = Key.__new__
    # Walkers in progress (innermost last) and, above each, the subkeys still to walk
    # (a (key, depth) pair becomes a walker when it reaches the top).
    stack: list[Any] = [(start, base)]
    while stack:
        top = stack[-1]
        if isinstance(top, tuple):
            # [start key, depth, state, start record pending, pps, last key, its
            # depth, pas]; pps[d] / pas[d]: the parent path and the ancestors' cells
            # of keys at depth d (set when the walk steps down).
            top = stack[-1] = [
                top[0], top[1], new_walk_state(), True, {}, top[0], top[1], {}
            ]  # fmt: skip
        wstart, wbase, state, first, pps, prev, prev_d, pas = top
        ch = walk_code(
            bins,
            size,
            cellmap,
            visited,
            wstart.index,
            wbase,
            MAX_DEPTH,
            flags,
            minor,
            state,
            WALK_CAPS,
        )
        if ch.rc < 0:
            stack.pop()
            if not first:  # pragma: no cover - the state is only ever ours
                raise AssertionError(f"regf_walk failed mid-walk ({ch.rc})")
            # Cannot happen for a key that Key() accepted; keep the checked walk.
            yield from walk_keys(hive, wstart, wbase, visited)
            continue
        if ch.rc == 0:
            stack.pop()
        knames, vnames = _chunk_names(ch, image.buf)
        # All values of the chunk at once; chunks are kept small so that few objects
        # are alive at a time and the cyclic GC stays asleep.
        vals = _chunk_values(ch, image, vnames)
        vi = 0
        kz = zip(ch.key_cell, ch.key_depth, ch.key_status, ch.key_nvals, knames, strict=False)
        k = wstart
        if first:
            # The start key's own record (always the first): yield the caller's object.
            first = top[3] = False
            _c, _d, st, vi, _n = next(kz)
            if st & K_CYCLE:
                hive._cycle(k)
            else:
                yield k
                if st & K_DEPTH:
                    hive._too_deep(k)
        for c, d, st, nv, nm in kz:
            k = knew(Key)
            k._hive = hive
            k._cell = c
            k._vol = False
            k.name = nm
            if d > prev_d:
                # Stepping down: the previous key is the parent.
                ppp = prev.parent_path
                if prev is wstart or ppp is None:
                    pps[d] = prev.path
                else:
                    pps[d] = prev._path = prev.name if ppp == "" else ppp + "\\" + prev.name
                pas[d] = (*prev._anc, prev._cell)
            k.parent_path = pps[d]
            k._anc = pas[d]
            prev = k
            prev_d = d
            if nv:
                k._vals = vals[vi : vi + nv]
                vi += nv
            else:
                # No records: no values, or values for the checked path (None).
                k._vals = None if st & K_VALUES_BAD else []
            if st:
                if st & K_CYCLE:
                    hive._cycle(k)
                    continue
                yield k
                if st & K_DEPTH:
                    hive._too_deep(k)
                continue
            yield k
        top[5] = prev
        top[6] = prev_d
        if ch.key_status and ch.key_status[-1] & K_CHILDREN_BAD:
            # Always the chunk's last record. The checked decoder raises (strict) or
            # records what it skips; the subkeys it returns are walked next.
            d = ch.key_depth[-1] + 1
            stack.extend((s, d) for s in reversed(hive._key_subkeys(k, False)))


#: Output capacities of one walker call. 256 keys: few enough that a chunk's Key and
#: Value objects do not wake the cyclic GC (its young generation holds 700), enough
#: that the per-call cost is spread. Values and data get room for keys with thousands
#: of values (real SYSTEM hives have keys with 1200 values or 440 KB of data), which
#: would otherwise take the checked path.
WALK_CAPS = WalkCaps(
    keys=256, vals=4096, knames=1 << 17, vnames=1 << 18, data=1 << 22, fmt=6 * 4096
)


# ---- one key's subkeys in one batch (Key.subkeys() of a read-only hive) ---------------

#: The nk's stable subkey count and list, read in one call (the leaf test of subkeys()).
_SUBKEY_HEAD = NK_L.pick("subkey_count", "subkey_list")
_NK_AT = BASE + CELL_HEADER
#: Levels one subkeys() batch decodes below its key: the children (which the caller
#: gets) and two more (prefilled as each key's answer to subkeys(), as the natural
#: recursive walk asks for next): a third of the walker calls of a one-level batch.
LEVELS = 3
#: Statuses a grandchild record may carry: K_DEPTH only says that its own subkeys were
#: not looked at, K_LEAF that it has none, K_VALUES_BAD that its values take the checked
#: path. A child may carry K_VALUES_BAD and K_CHILDREN_BAD (its own list is left to its
#: own subkeys()). Anything else (K_CYCLE: an entry naming a key visited in this batch,
#: the key itself or a duplicate) sends the call (a child) or that child's prefill (a
#: grandchild) to the checked decoder.
_GRAND_OK = K_DEPTH | K_LEAF | K_VALUES_BAD
_CHILD_OK = K_VALUES_BAD | K_CHILDREN_BAD


class BatchScratch:
    """A read-only hive's walker for :func:`subkeys_batch`, its buffers bound once: the
    ``visited`` bitmap (all zero between calls: each call clears the bits it set) and
    the state. ``owner``: the thread that may use it (the state is not shared)."""

    __slots__ = ("call", "levels", "owner", "state", "visited")

    def __init__(self, image: Any, binder: Any, levels: int = 0) -> None:
        self.owner = get_ident()
        self.levels = levels or LEVELS
        self.visited = bytearray((image.hbins_size >> 6) + 1)
        self.state = new_walk_state()
        self.call = binder(
            image.buf, BASE, image.hbins_size, image.bitmap(), self.visited, self.state,
            WALK_CAPS,
        )  # fmt: skip


def subkeys_batch(hive: Any, k: Key, scratch: BatchScratch) -> list[Key] | None:
    """``k``'s subkeys, each with its values and its subtree down to ``scratch.levels``
    levels below ``k`` prefilled (each key's answer to subkeys(), what the natural
    recursive walk asks for next), from walker calls that skip ``k``'s own values (one
    call per 256 records); or None when the walker flags a child (bad list, cycle,
    duplicate) or a child is among ``k``'s ancestors: the caller then takes the checked
    decoder, which raises or records exactly as before. A deeper key whose own subkeys
    are flagged gets no prefill (its subkeys() asks again).

    The walker makes every check the checked decoder makes (cells in range and
    allocated, signatures, names inside cells; strict: no two equal neighbouring
    names), so the keys and values are the same (tests/test_subkeys_batch.py)."""
    image = hive.image
    cell = k._cell
    buf = image.buf
    count, lst = _SUBKEY_HEAD.unpack_from(buf, _NK_AT + cell)
    if count == 0 or lst == HCELL_NIL:
        return []
    chain = (*k._anc, cell)
    levels = scratch.levels
    minor = image.minor
    call = scratch.call
    flags = WALK_VALUES | WALK_LEVEL | (WALK_STRICT if image.strict else 0)
    visited = scratch.visited
    state = scratch.state
    state[0:4] = b"\0\0\0\0"  # WALK_START: the only word read before it is written
    knew = Key.__new__
    out: list[Key] = []
    # Per depth d: the key being filled (its subkeys still coming), the list of its
    # subkeys (None: no prefill), its path and its children's ancestor chain. Depth 0
    # is ``k``; its list is ``out``, which must be complete.
    curs: list[Key | None] = [None] * (levels + 1)
    lists: list[list[Key] | None] = [out] + [None] * levels
    paths = [k.path] * (levels + 1)
    chains = [chain] * (levels + 1)
    first = True
    while True:
        ch = call(cell, 0, levels, flags, minor)
        cells = ch.key_cell
        for c in cells:
            visited[c >> 6] = 0  # only this call's bits were set
        if ch.rc < 0:
            return None
        statuses = ch.key_status
        nvals = ch.key_nvals
        depths = ch.key_depth
        knames, vnames = _chunk_names(ch, buf)
        lo = vi = 0
        if first:
            # The start key's own record (no values: WALK_LEVEL); its subkey list must
            # have passed the walker's checks.
            first = False
            if statuses[0]:
                return None
            lo = 1
        # All values of the chunk in one flat loop, then cut per key (as walk_chunks).
        vals = _chunk_values(ch, image, vnames)
        for i in range(lo, len(cells)):
            c = cells[i]
            st = statuses[i]
            nv = nvals[i]
            d = depths[i]
            if d < levels:
                # Depth-first order: every key at depth >= d has all its subkeys now.
                for dd in range(d, levels):
                    kd = curs[dd]
                    if kd is not None:
                        kd._subs = lists[dd]
                        curs[dd] = None
            parent = lists[d - 1]
            deepest = d == levels
            if parent is None or st & ~(_GRAND_OK if deepest else _CHILD_OK) or c in chain:
                if d == 1:
                    return None
                if parent is not None:
                    lists[d - 1] = None  # the parent gets no prefill
                if not deepest:
                    lists[d] = None  # nor does anything below this record
                vi += nv
                continue
            kk = knew(Key)
            name = knames[i]
            pp = paths[d - 1]
            kk.parent_path = pp
            kk._anc = chains[d - 1]
            if deepest:
                # A leaf's subkeys() is answered without a call (handed out once).
                kk._subs = [] if st & K_LEAF else None
            else:
                curs[d] = kk
                lists[d] = None if st & K_CHILDREN_BAD else []
                paths[d] = kk._path = name if pp == "" else pp + "\\" + name
                chains[d] = (*chains[d - 1], c)
            parent.append(kk)
            kk._hive = hive
            kk._cell = c
            kk._vol = False
            kk.name = name
            if nv:
                kk._vals = vals[vi : vi + nv]
                vi += nv
            else:
                kk._vals = None if st & K_VALUES_BAD else []
        if ch.rc == 0:
            for dd in range(1, levels):
                kd = curs[dd]
                if kd is not None:
                    kd._subs = lists[dd]
            return out


__all__ = ["LEVELS", "WALK_CAPS", "BatchScratch", "subkeys_batch", "walk_chunks", "walk_keys"]
