"""Walking a read-only hive's key tree: the checked key-by-key walk and the chunked
C walker (:func:`regf._accel.walk_code`), which give the same keys, values, errors and
recorded problems."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from .._accel.purewalk import (
    K_CHILDREN_BAD,
    K_CYCLE,
    K_DEPTH,
    K_VALUES_BAD,
    WALK_STRICT,
    WALK_VALUES,
    WalkCaps,
    new_walk_state,
)
from ..cells.nodes import name_of
from ..cells.values import vk_name
from ..format.constants import MAX_DEPTH
from .keys import Key
from .values import ValueRecords, value_type


def chunk_names(ch: Any, buf: Any) -> tuple[list[str], list[str]]:
    """The key and value names of a walker chunk, in record order."""
    if ch.name_nul:
        # A name holds U+0000 itself: the chunk cannot be split on NUL.
        return (
            [name_of(buf, c) for c in ch.key_cell],
            [vk_name(buf, c) for c in ch.val_cell],
        )
    # str(), not .decode(): the binder's names are buffer views, not bytes.
    return (
        str(ch.knames, "utf-16-le", "surrogatepass").split("\0"),
        str(ch.vnames, "utf-16-le", "surrogatepass").split("\0"),
    )


def chunk_values(ch: Any, image: Any, vnames: list[str]) -> ValueRecords:
    """The value records of a walker chunk; each key holds its slice of them, and
    ``Key.values()`` makes the :class:`~regf.model.values.Value` objects. Made there,
    a key's values live only while the caller's loop uses them: a chunk's worth made at
    once (hundreds of objects, alive until the caller reaches their keys) woke the
    cyclic GC ~90 times per walk of a 43,000-key hive, ~12 % of the walk."""
    types = list(map(value_type, ch.val_type))
    return (ch.val_cell, vnames, types, ch.val_status, struct.unpack(ch.fmt, ch.data), image)


class WalkedKeys:
    """The key records of one walker chunk, kept by the keys ``hive.walk()`` made from
    them (their ``_wk`` slot), so that ``subkeys()`` of such a key is answered from the
    records instead of decoding its subkey list again (README's loop asks every key the
    walk yields for ``len(k.subkeys())``). A record's children are the records one level
    deeper up to the end of its subtree, in stored order. Anything the walker flagged
    (a cycle or a key reached twice, a damaged list, depth) or a subtree running past
    the chunk leaves the answer to the checked decoder, so answers and recorded problems
    are the checked decoder's. Holds no values: the keys it makes read theirs checked.
    """

    __slots__ = ("_ends", "_pos", "cells", "depths", "final", "hive", "names", "statuses")

    def __init__(
        self, hive: Any, cells: list[int], depths: list[int], statuses: list[int],
        names: list[str], final: bool,
    ) -> None:  # fmt: skip
        self.hive = hive
        self.cells = cells
        self.depths = depths
        self.statuses = statuses
        self.names = names
        self.final = final  # the walker's walk ended in this chunk: every subtree closes
        self._pos: dict[int, int] | None = None
        self._ends: list[int] = []

    def _index(self) -> dict[int, int]:
        """Record of each cell (its first: a later record of the cell is a K_CYCLE one),
        and where each record's subtree ends; built on the first question."""
        cells, depths = self.cells, self.depths
        n = len(cells)
        pos = dict(zip(reversed(cells), range(n - 1, -1, -1), strict=True))
        ends = [n] * n
        open_: list[int] = []
        for j, d in enumerate(depths):
            while open_ and depths[open_[-1]] >= d:
                ends[open_.pop()] = j
            open_.append(j)
        # Both whole before _pos is set: another thread may read them once it is.
        self._ends = ends
        self._pos = pos
        return pos

    def subkeys(self, k: Key) -> list[Key] | None:
        """``k``'s subkeys from the records, or None: ask the checked decoder."""
        pos = self._pos if self._pos is not None else self._index()
        j = pos.get(k._cell)
        statuses = self.statuses
        if j is None or statuses[j] & _NOT_FROM_RECORDS:
            return None
        ends = self._ends
        end = ends[j]
        if end == len(statuses) and not self.final:
            return None  # the subtree may go on in the next chunk
        if end == j + 1:
            return []  # no records below it: a leaf
        pp = k.path
        anc = (*k._anc, k._cell)
        out: list[Key] = []
        c = j + 1
        while c < end:
            if statuses[c] & K_CYCLE:
                return None  # reached twice: the checked decoder decides
            out.append(self._make(c, pp, anc))
            c = ends[c]
        return out

    def known(self, k: Key, cell: int, parent_path: str, anc: tuple[int, ...]) -> Key | None:
        """Subkey ``cell`` of ``k`` (a key made from these records), made from its record
        (the walker checked its nk and decoded its name), or None: no record of it as a
        child of ``k``'s record here. The checked decoder uses it for a list it read
        itself. Only a record under ``k``'s own: a record of the same cell elsewhere (a
        list entry shared by two keys) was checked for cycles against other ancestors."""
        pos = self._pos if self._pos is not None else self._index()
        jk = pos.get(k._cell)
        j = pos.get(cell)
        if jk is None or j is None or not jk < j < self._ends[jk]:
            return None
        if self.depths[j] != self.depths[jk] + 1:
            return None
        return self._make(j, parent_path, anc)

    def _make(self, j: int, parent_path: str, anc: tuple[int, ...]) -> Key:
        kk = Key.__new__(Key)
        kk._hive = self.hive
        kk._cell = self.cells[j]
        kk._vol = False
        kk._nm = self.names[j]
        kk._pp = parent_path
        kk._ac = anc
        kk._pc = kk._fc = None
        kk._subs = kk._vals = None  # values read checked, on demand
        kk._wk = self
        return kk


#: Statuses whose key's subkeys the records do not hold.
_NOT_FROM_RECORDS = K_CYCLE | K_DEPTH | K_CHILDREN_BAD


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
    hive: Any,
    key: Key | str | None,
    base: int,
    visited: bytearray | None,
    walk_code: Any,
    values: bool = True,
    limit: int = -1,
) -> Iterator[Key]:
    """The walk from ``key`` (at depth ``base``) through the chunked C walker.

    The walker checks every cell it reads like HiveImage.cell() and flags whatever it
    does not handle (cycles, depth, damaged subkey or value lists, big data); those
    cases go through the same checked code as :meth:`_walk_keys`, so keys, values,
    errors and recorded problems are identical. A key whose subkey list the walker
    refused ends its chunk; its subkeys (from the checked decoder) are then walked
    one by one, each by a walker of its own sharing ``visited``, before the parent's
    walker resumes. ``values=False`` leaves every key's values unread (``values()``
    then reads them checked, on demand): a walk of keys only is about a third faster.
    ``limit`` >= 0 stops that many levels below ``key``, as :func:`walk_keys` does: the
    walker does not read the lists of keys at that depth (it flags them K_DEPTH, which
    is an error only at MAX_DEPTH short of the limit, as in walk_keys).
    """
    stop = MAX_DEPTH if limit < 0 else min(MAX_DEPTH, base + limit)
    start = hive._start(key)
    image = hive.image
    if visited is None:
        visited = bytearray((image.hbins_size >> 6) + 1)
    flags = (WALK_VALUES if values else 0) | (WALK_STRICT if hive.strict else 0)
    # Without value records every key's values are unknown (None), not "none" (()).
    no_vals: tuple[()] | None = () if values else None
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
            stop,
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
        knames, vnames = chunk_names(ch, image.buf)
        # The chunk's value records; each key takes its slice (see chunk_values).
        vals = chunk_values(ch, image, vnames)
        wk = WalkedKeys(hive, ch.key_cell, ch.key_depth, ch.key_status, knames, ch.rc == 0)
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
                if st & K_DEPTH and _d >= MAX_DEPTH and _d - base != limit:
                    hive._too_deep(k)
        for c, d, st, nv, nm in kz:
            k = knew(Key)
            k._hive = hive
            k._cell = c
            k._vol = False
            k._nm = nm
            k._subs = None
            k._wk = wk  # subkeys() answered from the chunk's records
            k._pc = k._fc = None  # filled on first use
            if d > prev_d:
                # Stepping down: the previous key is the parent.
                pps[d] = prev.path
                pas[d] = (*prev._anc, prev._cell)
            k._pp = pps[d]
            k._ac = pas[d]
            prev = k
            prev_d = d
            if nv:
                k._vals = (vals, vi, vi + nv)
                vi += nv
            else:
                # No records: no values, or values for the checked path (None).
                k._vals = None if st & K_VALUES_BAD else no_vals
            if st:
                if st & K_CYCLE:
                    hive._cycle(k)
                    continue
                yield k
                if st & K_DEPTH and d >= MAX_DEPTH and d - base != limit:
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


__all__ = ["WALK_CAPS", "WalkedKeys", "chunk_names", "chunk_values", "walk_chunks", "walk_keys"]
