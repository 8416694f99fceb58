"""Issue 19 bug A: a subkey list entry that points back at an ancestor.

Each test builds a small hive with regf's writer, then patches one subkey-list entry so
that it names the root (or the key itself): the mutation the test makes itself. Every
API that returns keys must notice: a typed StructureError (with an offset) in strict
mode, the entry skipped and recorded in ``hive.problems`` in forensic mode, so that a
recursive walk through ``subkeys()`` always ends.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import regf
from regf.format.constants import BASE
from regf.format.fast import HASH_ELEM_L, LIST_HEAD_L, U32
from regf.model.opening import open_editable


def _hive(tmp_path: Path) -> bytes:
    """ROOT\\A\\B (B has a value) and ROOT\\C, as a compact clean file."""
    path = tmp_path / "h.hiv"
    with regf.create(path) as hive:
        hive.create_key("A\\B").set_value("v", 1)
        hive.create_key("C")
    return path.read_bytes()


def _point_at(data: bytes, parent: str, target: str | None) -> bytes:
    """``data`` with the first entry of ``parent``'s subkey list naming ``target``'s nk
    (None: the root). The entry's lh hash is left alone: it still matches the old child."""
    with regf.open(data) as hive:
        lst = hive.open_key(parent)._f[9]
        cell = hive.base_block.root_cell if target is None else hive.open_key(target).index
    buf = bytearray(data)
    entry = BASE + lst + 4 + LIST_HEAD_L.size + HASH_ELEM_L.offset("cell")
    U32.pack_into(buf, entry, cell)
    return bytes(buf)


def _walk(key: regf.Key, depth: int = 0) -> list[str]:
    """The recursive walk users write (bounded here only so that a bug fails fast)."""
    assert depth < 64, "subkeys() led into a cycle"
    out = [key.path]
    for sub in key.subkeys():
        out += _walk(sub, depth + 1)
    return out


@pytest.mark.parametrize("target", [None, "A"], ids=["root", "itself"])
def test_strict_subkeys_refuses_an_ancestor(tmp_path: Path, target: str | None) -> None:
    data = _point_at(_hive(tmp_path), "A", target)
    with regf.open(data) as hive:
        a = hive.open_key("A")
        with pytest.raises(regf.StructureError, match="ancestor") as info:
            a.subkeys()
        assert info.value.offset == BASE + a._f[9]  # the damaged subkey list
        with pytest.raises(regf.StructureError):
            _walk(hive.root)


def test_strict_lookup_refuses_an_ancestor(tmp_path: Path) -> None:
    """subkey()/open_key() find the entry by its (unchanged) hash, then refuse it."""
    data = _point_at(_hive(tmp_path), "A", None)
    with regf.open(data) as hive:
        with pytest.raises(regf.StructureError, match="ancestor"):
            hive.open_key("A\\B")
        with pytest.raises(regf.StructureError, match="ancestor"):
            hive.open_key("A").subkey("B")


def test_forensic_skips_and_records(tmp_path: Path) -> None:
    data = _point_at(_hive(tmp_path), "A", None)
    with regf.open(data, strict=False) as hive:
        assert _walk(hive.root) == ["", "A", "C"]  # ends; B's entry is the damaged one
        assert any("ancestor" in str(p) for p in hive.problems)
        n = len(hive.problems)
        with pytest.raises(regf.KeyNotFoundError):
            hive.open_key("A\\B")
        assert len(hive.problems) == n + 1


def test_walk_still_reports_the_cycle(tmp_path: Path) -> None:
    """hive.walk() (both backends' walkers) catches the cycle as before."""
    data = _point_at(_hive(tmp_path), "A", None)
    with regf.open(data) as hive, pytest.raises(regf.StructureError):
        list(hive.walk())
    with regf.open(data, strict=False) as hive:
        assert [k.path for k in hive.walk()] == ["", "A", "C"]
        assert hive.problems


def test_keys_from_the_walk_know_their_ancestors(tmp_path: Path) -> None:
    """A key made by hive.walk() (the C walker's records, or the checked walk) checks
    its subkeys against its ancestors too, and so does a bare Key(hive, cell, path)."""
    data = _point_at(_hive(tmp_path), "A", None)
    with regf.open(data, strict=False) as hive:
        walked = {k.path: k for k in hive.walk()}
        n = len(hive.problems)
        assert walked["A"].subkeys() == []
        assert len(hive.problems) == n + 1
    with regf.open(data) as hive:
        bare = regf.Key(hive, hive.open_key("A").index, "")
        with pytest.raises(regf.StructureError, match="ancestor"):
            bare.subkeys()


def test_editable_hive_refuses_an_ancestor(tmp_path: Path) -> None:
    data = _point_at(_hive(tmp_path), "A", None)
    # The whole-hive check refuses such a hive for writing (issue 19, bug E) ...
    with pytest.raises(regf.DamagedHiveError, match=r"ancestor|cycle"):
        open_editable(data)
    # ... and repair=True opens it anyway: the editor must still refuse the back edge.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hive = open_editable(data, repair=True)
    with hive:
        a = hive.open_key("A")
        with pytest.raises(regf.StructureError, match="ancestor"):
            a.subkeys()
        # The writer looks children up by the name in their nk: B is gone, and the
        # entry's key (named ROOT) is refused as an ancestor.
        with pytest.raises(regf.KeyNotFoundError):
            hive.open_key("A\\B")
        with pytest.raises(regf.StructureError, match="ancestor"):
            hive.open_key("A\\ROOT")
        with pytest.raises(regf.StructureError):
            list(hive.walk())
        hive.discard()


def test_sound_hive_is_unchanged(tmp_path: Path) -> None:
    with regf.open(_hive(tmp_path)) as hive:
        assert _walk(hive.root) == ["", "A", "A\\B", "C"]
        assert [k.path for k in hive.walk()] == ["", "A", "A\\B", "C"]
        assert hive.open_key("A\\B").value("v").data == 1
