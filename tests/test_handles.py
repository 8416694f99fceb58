"""The writer's weak handle table (regf.model.handles) and the handle rules it serves."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import regf
from regf.errors import KeyNotFoundError
from regf.model.handles import MIN_SWEEP, HandleTable


class _Obj:
    pass


def test_table_reads_dead_entries_as_absent() -> None:
    t: HandleTable[_Obj] = HandleTable()
    a, b = _Obj(), _Obj()
    t.put(1, a)
    t.put(2, b)
    assert t.get(1) is a and t.get(3) is None and len(t) == 2
    del b
    gc.collect()
    assert t.get(2) is None and len(t) == 1 and list(t.live()) == [a]
    assert t.pop(2) is None and t.pop(1) is a and t.get(1) is None
    t.put(4, a)
    t.clear()
    assert t.get(4) is None and len(t) == 0


def test_table_stays_within_twice_the_live_entries() -> None:
    """Dead entries are swept once the table has doubled: it never holds more than
    max(MIN_SWEEP, 2 x live) + 1 entries, however many short-lived objects pass."""
    t: HandleTable[_Obj] = HandleTable()
    keep = [_Obj() for _ in range(10)]
    for i, o in enumerate(keep):
        t.put(i, o)
    for i in range(10, 50_000):
        t.put(i, _Obj())  # dies at once (CPython frees it on the spot)
        assert len(t._refs) <= max(MIN_SWEEP, 2 * 10) + 1
    assert all(t.get(i) is o for i, o in enumerate(keep))


def test_writer_handles_survive_sweeps(tmp_path: Path) -> None:
    """A handle held across thousands of short-lived ones is still the one handed out
    for its key, and deleting or renaming its key still reaches it."""
    with regf.create(tmp_path / "h.hiv") as hive:
        held = hive.create_key("Held")
        moved = hive.create_key("Moved")
        for i in range(3 * MIN_SWEEP):
            hive.root.create_key(f"k{i:05d}")  # handle dropped at once
        assert hive.open_key("Held") is held and hive.root.create_key("held") is held
        hive.rename_key("Moved", "MovedToo")
        assert hive.open_key("MovedToo") is moved and moved.name == "MovedToo"
        hive.delete_key("Held")
        with pytest.raises(KeyNotFoundError):
            held.values()
    assert held.__repr__() == "<Key (deleted)>"


def test_create_key_of_an_existing_name_changes_nothing(tmp_path: Path) -> None:
    """create_key's one-call open-or-create path returns an existing key (any case)
    without writing: same bytes, no dirty pages, the parent's timestamp kept."""
    with regf.create(tmp_path / "h.hiv") as hive:
        k = hive.root.create_key("Name", timestamp=1000)
        before = bytes(hive.image)
        hive._alloc.take_dirty()
        assert hive.root.create_key("NAME", timestamp=2000) is k
        assert hive.root.create_key("name") is k
        assert bytes(hive.image) == before
        assert not hive._alloc.take_dirty()
