"""The writer's table of live key handles: node key -> handle, held weakly.

:class:`~regf.model.edithive.EditHive` hands out one handle object per key so that a delete
or a move can reach every handle of that key. A ``weakref.WeakValueDictionary`` does
that, but each lookup and insert runs several Python-level calls and every handle gets
a keyed reference with a callback; bulk writers create one handle per key written, so
this table keeps plain weak references without callbacks instead and drops the dead
ones in a sweep whenever the table has doubled since the last one (amortised O(1) per
insert; the table holds at most twice the live handles plus :data:`MIN_SWEEP`).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Generic, TypeVar

_T = TypeVar("_T")

#: The table is never swept below this many entries.
MIN_SWEEP = 1024


class HandleTable(Generic[_T]):
    """int -> object, weakly: an entry whose object died reads as absent."""

    __slots__ = ("_limit", "_refs")

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref[_T]] = {}
        self._limit = MIN_SWEEP

    def get(self, key: int) -> _T | None:
        """The live object of ``key``, or None."""
        r = self._refs.get(key)
        return None if r is None else r()

    def put(self, key: int, obj: _T) -> None:
        """Map ``key`` to ``obj`` (replacing any entry)."""
        refs = self._refs
        refs[key] = weakref.ref(obj)
        if len(refs) > self._limit:
            self._sweep()

    def pop(self, key: int) -> _T | None:
        """Remove ``key``; its object if it was still alive."""
        r = self._refs.pop(key, None)
        return None if r is None else r()

    def live(self) -> Iterator[_T]:
        """The objects still alive (a snapshot: the table may change meanwhile)."""
        for r in list(self._refs.values()):
            obj = r()
            if obj is not None:
                yield obj

    def clear(self) -> None:
        """Remove every entry."""
        self._refs.clear()
        self._limit = MIN_SWEEP

    def __len__(self) -> int:
        """Entries whose object is alive."""
        return sum(1 for r in self._refs.values() if r() is not None)

    def _sweep(self) -> None:
        self._refs = {k: r for k, r in self._refs.items() if r() is not None}
        self._limit = max(MIN_SWEEP, 2 * len(self._refs))
