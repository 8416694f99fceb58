"""Issue 14: one object model for read-only and editable hives.

A hive opened read-only and one opened for editing hand out the same ``Key`` and
``Value`` classes; every writing method on a read-only hive raises ReadOnlyError and
changes nothing. The model and cells packages keep small, single-concern modules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import regf
from regf.model.edithive import EditHive

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def hive_file(tmp_path: Path) -> Path:
    path = tmp_path / "h.hiv"
    with regf.create(path) as hive:
        k = hive.create_key("Software\\Vendor", class_name="C")
        k.set_value("Name", "text")
        k.set_value("", b"\x01\x02", regf.REG_BINARY)
    return path


def test_same_classes_read_only_and_editable(hive_file: Path) -> None:
    with regf.open(hive_file) as ro:
        rk = ro.open_key("Software\\Vendor")
        rv = rk.value("Name")
        ro_view = (rk.path, rk.class_name, [(v.name, v.type, v.raw) for v in rk.values()])
        assert type(rk) is regf.Key and type(rv) is regf.Value
        assert type(ro.root) is regf.Key
    with regf.open(hive_file, mode="r+") as ed:
        assert isinstance(ed, EditHive) and isinstance(ed, regf.EditHive)
        ek = ed.open_key("Software\\Vendor")
        ev = ek.value("Name")
        assert type(ek) is regf.Key and type(ev) is regf.Value
        assert (ek.path, ek.class_name, [(v.name, v.type, v.raw) for v in ek.values()]) == (ro_view)
        # the same fields, read from the image
        assert ek.value_count == 2 and ek.subkey_count == 0 and ev.data == "text"
        assert ev.index is not None and ev.offset == 4096 + ev.index and not ev.inline


WRITES: list[tuple[str, Callable[[regf.Key], object]]] = [
    ("create_key", lambda k: k.create_key("New")),
    ("delete_key", lambda k: k.delete_key("Vendor")),
    ("rename", lambda k: k.rename("Other")),
    ("set_value", lambda k: k.set_value("x", 1)),
    ("set_values", lambda k: k.set_values({"x": 1})),
    ("delete_value", lambda k: k.delete_value("Name")),
    ("touch", lambda k: k.touch()),
    ("to_spec", lambda k: k.to_spec()),
    ("class_name", lambda k: setattr(k, "class_name", "D")),
    ("security_raw", lambda k: setattr(k, "security_raw", k.security_raw)),
    ("extra_flags", lambda k: setattr(k, "extra_flags", 0)),
    ("user_flags", lambda k: setattr(k, "user_flags", 1)),
    ("virt_flags", lambda k: setattr(k, "virt_flags", 1)),
    ("debug", lambda k: setattr(k, "debug", 1)),
    ("last_written_raw", lambda k: setattr(k, "last_written_raw", 5)),
]


@pytest.mark.parametrize("write", [w for _n, w in WRITES], ids=[n for n, _w in WRITES])
def test_writes_on_a_read_only_hive_raise(
    hive_file: Path, write: Callable[[regf.Key], object]
) -> None:
    before = hive_file.read_bytes()
    with regf.open(hive_file) as hive:
        key = hive.open_key("Software" if write is WRITES[1][1] else "Software\\Vendor")
        with pytest.raises(regf.ReadOnlyError, match="read-only"):
            write(key)
        assert not key.writable
    assert hive_file.read_bytes() == before


@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.create_key("X"),
        lambda h: h.delete_key("Software"),
        lambda h: h.rename_key("Software", "S"),
        lambda h: h.flush(),
        lambda h: h.save_as("elsewhere"),
    ],
    ids=["create_key", "delete_key", "rename_key", "flush", "save_as"],
)
def test_hive_writes_on_a_read_only_hive_raise(
    hive_file: Path, call: Callable[[regf.Hive], object]
) -> None:
    with regf.open(hive_file) as hive, pytest.raises(regf.ReadOnlyError):
        call(hive)
    assert not (hive_file.parent / "elsewhere").exists()


def test_the_same_writes_work_on_an_editable_hive(hive_file: Path) -> None:
    """The writes refused above are the editable hive's ordinary operations."""
    with regf.open(hive_file, mode="r+") as hive:
        key = hive.open_key("Software\\Vendor")
        assert key.writable
        key.set_value("x", 1)
        key.class_name = "D"
        key.create_key("New")
    with regf.open(hive_file) as hive:
        key = hive.open_key("Software\\Vendor")
        assert key.value("x").data == 1 and key.class_name == "D"
        assert [k.name for k in key.subkeys()] == ["New"]


@pytest.mark.parametrize("package", ["model", "cells"])
def test_modules_stay_small(package: str) -> None:
    """No module of regf/model or regf/cells is over 800 lines (one concern each)."""
    sizes = {
        p.name: len(p.read_text(encoding="utf-8").splitlines())
        for p in (ROOT / "regf" / package).glob("*.py")
    }
    assert sizes and max(sizes.values()) <= 800, sizes


def test_key_and_value_have_no_getattr_hook() -> None:
    """A class with ``__getattr__`` gets CPython's generic attribute hook, and no read of
    its instances' attributes is ever specialised: every ``v.name`` and ``key.subkeys``
    of a walk would pay for the lookup (8 % of a natural walk's instructions for Key,
    6 % for Value). The per-kind fields are properties over private slots instead."""
    for cls in (regf.Key, regf.Value):
        assert not any("__getattr__" in vars(c) for c in cls.__mro__ if c is not object)
        assert cls.__getattribute__ is object.__getattribute__
