"""``Key.subkeys()`` of a read-only hive, answered from one grouped walker stream.

The loop users write recurses through ``key.subkeys()``: it asks every key for its
subkeys in pre-order. The walker's ``WALK_GROUPS`` order emits each key's children
together, with their values, in exactly that order, in resumable chunks. So a stream
started at the first key asked runs one step ahead of the walk: each later ``subkeys()``
finds its answer decoded already, or pulls the next chunk. Only the keys of one chunk
and the pending parents (the right-hand siblings along the current path) are alive, and
through each key's link to its parent Key (its path and ancestors are filled from that
link on first use: keys.resolve_links) the ancestors of those.

A call for a key the stream is not about to reach starts a new stream there. A stream's
first chunk is small and each next one twice as large (like a file read-ahead), so
scattered calls decode little more than they use. Anything the walker flags (a cycle, a
duplicate, a damaged list, depth) leaves that key's answer to the checked decoder, which
raises or records exactly as before (tests/test_subkeys_batch.py compares the two).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from threading import get_ident
from typing import Any

from .._accel.purewalk import (
    K_CHILDREN_BAD,
    K_CYCLE,
    K_DEPTH,
    K_GROUP,
    K_LEAF,
    K_VALUES_BAD,
    WALK_GROUPS,
    WALK_LEVEL,
    WALK_MARK_UNIT,
    WALK_STRICT,
    WALK_VALUES,
    new_walk_state,
)
from ..format.constants import BASE, MAX_DEPTH
from .keys import Key
from .walk import WALK_CAPS, chunk_names, chunk_values

#: Key records of a stream's first chunk, and the most any chunk gets (it doubles up to
#: the walker buffers' 256 keys: with keys linked to their parents, 256 walked 3-4 %
#: faster than 128 on the corpus's largest hives, best of 18-24 fresh-process walks).
FIRST_KEYS = 32
MOST_KEYS = WALK_CAPS.keys
#: A record with none of these bits gets a group of its own later in the stream.
_NO_GROUP = K_LEAF | K_CYCLE | K_DEPTH | K_CHILDREN_BAD
#: A group start past the last record of a finished walk: closes its last group.
_END = (-1, K_GROUP, 0, "")


class SubkeyStream:
    """One thread's grouped walk of a read-only hive (see the module). ``owner``: the
    thread that may use it (the walker state is not shared)."""

    __slots__ = (
        "call", "cur", "cur_bad", "cur_kids", "cur_list", "done",
        "first", "flags", "fresh", "hits", "hive", "marked", "most", "nmarked", "owner", "pending",
        "quota", "skip", "stack", "start", "state", "visited", "wasted",
    )  # fmt: skip

    def __init__(
        self, hive: Any, binder: Any, first: int = FIRST_KEYS, most: int = MOST_KEYS
    ) -> None:
        image = hive.image
        self.hive = hive
        self.owner = get_ident()
        self.first = first
        self.most = most
        self.visited = bytearray((image.hbins_size >> 6) + 1)
        self.state = new_walk_state()
        self.call = binder(
            image.buf, BASE, image.hbins_size, image.bitmap(), self.visited, self.state,
            WALK_CAPS,
        )  # fmt: skip
        self.flags = WALK_VALUES | WALK_LEVEL | WALK_GROUPS | (WALK_STRICT if image.strict else 0)
        # Cells whose visited bits (and expansion marks) this stream may have set.
        self.marked: list[Any] = []
        self.nmarked = 0
        # Keys whose group is still to come, by cell; the parents of the coming
        # groups (next last); the group being filled.
        self.pending: dict[int, Key] = {}
        self.stack: list[Key] = []
        self.cur: Key | None = None
        self.cur_list: list[Key] = []
        self.cur_kids: list[Key] = []
        self.cur_bad = False
        self.start: Key | None = None
        self.quota = first
        # Calls answered by the current stream, and the restart back-off: after a stream
        # that answered nothing, the next 2**wasted calls it would restart for go to the
        # checked decoder (a hive.walk() asking each key for its subkeys: every key is
        # a new start, and a restart costs more than decoding one list).
        self.hits = 0
        self.wasted = 0
        self.skip = 0
        self.done = True
        self.fresh = False

    def subkeys(self, k: Key) -> list[Key] | None:
        """``k``'s subkeys (each with its values prefilled), or None when the walker
        flagged something or restarts are backing off: the caller then takes the
        checked decoder."""
        pending = self.pending
        if pending.get(k._cell) is not k:
            # A key the stream is not about to reach (a scattered call; the caller
            # answered leaves already).
            if self.start is not None and not self.hits:
                if self.skip:
                    self.skip -= 1
                    return None
                self.wasted = min(self.wasted + 1, 6)
                self.skip = (1 << self.wasted) - 1
            elif self.hits:
                self.wasted = 0
            self._restart(k)
        else:
            self.hits += 1
        while pending.get(k._cell) is k and self._pull():
            pass
        subs = k._subs
        if subs is None:
            return None
        k._subs = None  # handed out once, like values()
        return subs or []

    # -- the stream ----------------------------------------------------------------------

    def _clear(self) -> None:
        """Forget the stream; clear every visited bit it set (all zero between streams)."""
        visited = self.visited
        if self.nmarked * 16 > len(visited):
            visited[:] = bytes(len(visited))
        else:
            for cells in self.marked:
                for c in cells:
                    # The cell's own bit and its expansion mark: every bit in those
                    # bytes is this stream's.
                    q = c >> 3
                    visited[q >> 3] = 0
                    visited[(q + WALK_MARK_UNIT) >> 3] = 0
        self.marked = []
        self.nmarked = 0
        self.pending.clear()
        self.stack.clear()
        self.cur = self.start = None
        self.cur_list = []
        self.cur_kids = []
        self.done = True

    def _restart(self, k: Key) -> None:
        """A new stream from ``k``; its ancestors count as visited (an entry naming one
        is a cycle, flagged by the walker)."""
        self._clear()
        anc = k._anc
        visited = self.visited
        for a in anc:
            q = a >> 3
            visited[q >> 3] |= 1 << (q & 7)
        self.marked.append(anc)
        self.nmarked = len(anc)
        self.state[0:4] = b"\0\0\0\0"  # WALK_START: the only word read before it is written
        self.start = k
        self.hits = 0
        self.pending[k._cell] = k
        self.stack.append(k)
        self.quota = self.first
        self.done = False
        self.fresh = True

    def _pull(self) -> bool:
        """Decode the next chunk; False when the stream is over (done or refused)."""
        if self.done:
            return False
        hive = self.hive
        image = hive.image
        quota = self.quota
        self.quota = min(2 * quota, self.most)
        start = self.start
        assert start is not None
        ch = self.call(start._cell, 0, MAX_DEPTH, self.flags, image.minor, quota)
        cells = ch.key_cell
        n = self.nmarked + len(cells)
        if n * 16 <= len(self.visited):
            # Kept to clear their bits one by one; past that, _clear zeroes the whole
            # map and the lists need not be kept (a long stream kept every key's cell:
            # 1.7 MB for a 43,000-key hive).
            self.marked.append(cells)
        self.nmarked = n
        if ch.rc < 0:
            self._clear()
            return False
        statuses = ch.key_status
        nvals = ch.key_nvals
        knames, vnames = chunk_names(ch, image.buf)
        vals = chunk_values(ch, image, vnames)
        lo = vi = 0
        if self.fresh:
            # The start key's own record (no values: WALK_LEVEL) opens the first chunk.
            self.fresh = False
            st = statuses[0]
            lo = 1
            if st & (K_CYCLE | K_CHILDREN_BAD | K_DEPTH):
                self._clear()
                return False
            if st & K_LEAF:
                start._subs = []
                del self.pending[start._cell]
                self.stack.pop()
        # The group state in locals (this loop runs once per key of the walk). A group's
        # start closes the previous one: hands it to its parent (unless flagged) and
        # queues its children that get groups of their own, first child next.
        knew = Key.__new__
        pending = self.pending
        stack = self.stack
        cur = self.cur
        cur_list = self.cur_list
        kids = self.cur_kids
        bad = self.cur_bad
        # knames ends with one more (empty) name than there are records.
        recs: Iterator[tuple[int, int, int, str]] = zip(
            cells, statuses, nvals, knames, strict=False
        )
        if lo:
            next(recs)  # the start key's record, handled above (no list copies)
        if ch.rc == 0:
            recs = chain(recs, (_END,))  # the walk is over: close its last group
        for c, st, nv, name in recs:
            if st >= K_GROUP:  # K_GROUP is the top status bit: one int compare
                if cur is not None:
                    del pending[cur._cell]
                    if not bad:
                        cur._subs = cur_list
                    kids.reverse()
                    stack += kids
                    cur = None
                if c < 0:
                    self.done = True
                    break
                if not stack:
                    # Out of step with the walker (bytes changed under it): give up.
                    self._clear()
                    return False
                cur = stack.pop()
                cur_list = []
                kids = []
                bad = False
            elif cur is None:
                self._clear()  # a record outside any group: out of step, give up
                return False
            kk = knew(Key)
            kk._hive = hive
            kk._cell = c
            kk._vol = False
            kk._nm = name
            # The parent itself, not its path and ancestors: most keys of a walk
            # are never asked for them (resolved on first use, keys.resolve_links).
            kk._pp = cur
            kk._ac = None
            kk._pc = kk._fc = None  # filled on first use
            if st == K_LEAF:
                # Most records: a plain leaf, known by one int compare (CPython
                # specialises it) instead of three flag tests. () marks a key with no
                # subkeys: no list per leaf while the chunk waits.
                kk._subs = ()
            elif st & _NO_GROUP:
                kk._subs = () if st & K_LEAF else None
                if st & K_CYCLE:
                    bad = True
            else:
                kk._subs = None
                kids.append(kk)
                pending[c] = kk
            if nv:
                kk._vals = (vals, vi, vi + nv)
                vi += nv
            else:
                kk._vals = None if st & K_VALUES_BAD else ()
            cur_list.append(kk)
        self.cur = cur
        self.cur_list = cur_list
        self.cur_kids = kids
        self.cur_bad = bad
        return True


__all__ = ["FIRST_KEYS", "MOST_KEYS", "SubkeyStream"]
