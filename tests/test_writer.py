"""The writer API: ``regf.create`` / ``regf.open(mode="r+")`` hives edited in place.

(Byte-level checks of the image are in test_inplace.py, the model-based state machine
over both allocator twins in test_writer_stateful.py; this module checks the API.)

* API behaviour: key creation with parents, typed and raw values, deletes, renames, name
  validation, timestamps, security inheritance, save_as/flush/close rules.
* A hypothesis state machine of random edits against a plain dict model, with save_as +
  reopen by the reader (and the structural tiling check) at random points.
* Corpus round trips: open mode="r+", save_as, reopen: identical walk and descriptors.
* hivex (``/usr/bin/python3``, where python3-hivex lives) reads a regf-written hive.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import oracles
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import regf
from regf._accel import upcase
from regf.format.constants import KeyFlags
from regf.model.check import check_hive
from regf.model.edit import EditHive, EditKey, encode_value, open_editable
from regf.model.serialize import DEFAULT_SECURITY, now_filetime

FT = 132_000_000_000_000_000  # a fixed FILETIME (2019)

# A canonical, comparable form of a hive: path tuple -> (class, [(name, type, raw)]).
Flat = dict[tuple[str, ...], tuple[str | None, list[tuple[str, int, bytes]]]]


def flat(hive: Any) -> Flat:
    """Canonical form of a reader ``Hive`` or an ``EditHive`` (the root path is ())."""
    out: Flat = {}
    for k in hive.walk():
        path = tuple(k.path.split("\\")) if k.path else ()
        out[path] = (k.class_name or None, [(v.name, int(v.type_), v.raw) for v in k.values()])
    return out


def edit(source: Any) -> EditHive:
    """``regf.open(source, mode="r+")`` (typed as the reader's Hive, hence the cast)."""
    hive = regf.open(source, mode="r+")
    assert isinstance(hive, EditHive)
    return cast(EditHive, hive)


def reopen(path: Path) -> Flat:
    with regf.open(path) as h:
        assert check_hive(h) == []
        return flat(h)


# ---------------------------------------------------------------------------------------
# API behaviour
# ---------------------------------------------------------------------------------------


def test_brief_example(tmp_path: Path) -> None:
    p = tmp_path / "new.hiv"
    with regf.create(p) as hive:
        assert isinstance(hive, EditHive)
        assert hive.version == (1, 5)
        k = hive.create_key(r"Software\Example")
        assert isinstance(k, EditKey)
        assert k.path == r"Software\Example"
        k.set_value("Answer", (42).to_bytes(4, "little"), regf.REG_DWORD)
        k.set_value("Name", "text")
        assert k.value("answer").data == 42
        k.delete_value("Answer")
        hive.create_key(r"Software\A\Child")
        hive.rename_key(r"Software\A", "B")
        assert hive.open_key(r"software\b\child").path == r"Software\B\Child"
        hive.save_as(tmp_path / "copy.hiv")
        hive.delete_key(r"Software\Example", recursive=True)
    got = reopen(p)
    assert set(got) == {(), ("Software",), ("Software", "B"), ("Software", "B", "Child")}
    copy = reopen(tmp_path / "copy.hiv")
    assert copy[("Software", "Example")] == (None, [("Name", 1, "text\0".encode("utf-16-le"))])
    with regf.open(p) as h:
        assert h.version == (1, 5)


@pytest.mark.parametrize("minor", [3, 4, 5, 6])
def test_minor_version(tmp_path: Path, minor: int) -> None:
    p = tmp_path / "v.hiv"
    with regf.create(p, minor=minor) as hive:
        hive.create_key("x").set_value("big", bytes(40000))
    with regf.open(p) as h:
        assert h.version == (1, minor)
        assert h.open_key("x").value("big").raw == bytes(40000)
        assert check_hive(h) == []


def test_typed_values() -> None:
    assert encode_value("ab") == (1, "ab\0".encode("utf-16-le"))
    assert encode_value(["a", "bc"]) == (7, "a\0bc\0\0".encode("utf-16-le"))
    assert encode_value([]) == (7, b"\0\0")
    assert encode_value(5) == (4, b"\x05\0\0\0")
    assert encode_value(2**32 - 1) == (4, b"\xff" * 4)
    assert encode_value(2**32) == (11, (2**32).to_bytes(8, "little"))
    assert encode_value(b"\x01\x02") == (3, b"\x01\x02")
    assert encode_value(b"\x01", 0) == (0, b"\x01")
    assert encode_value("%x%", regf.REG_EXPAND_SZ) == (2, "%x%\0".encode("utf-16-le"))
    assert encode_value("\\A\\B", regf.REG_LINK) == (6, "\\A\\B".encode("utf-16-le"))
    assert encode_value(1, regf.REG_DWORD_BIG_ENDIAN) == (5, b"\0\0\0\x01")
    assert encode_value(1, regf.REG_QWORD) == (11, (1).to_bytes(8, "little"))
    for bad in (-1, 2**64, 1.5, None, {"a": 1}):
        with pytest.raises(regf.InvalidArgumentError):
            encode_value(bad)
    for bad_args in (("a\0b",), (["a\0"],), (5, regf.REG_SZ), ("x", regf.REG_DWORD), (1, -1)):
        with pytest.raises(regf.InvalidArgumentError):
            encode_value(*bad_args)


def test_values_behaviour(tmp_path: Path) -> None:
    hive = regf.create(tmp_path / "v.hiv")
    k = hive.create_key("K")
    k.set_value("", "default")
    k.set_value("Mixed", 1)
    k.set_value("z", b"")
    k.set_value("MIXED", "replaced")  # replaces in place, keeps the first name and position
    assert [(v.name, v.type, v.data) for v in k.values()] == [
        ("", regf.REG_SZ, "default"),
        ("Mixed", regf.REG_SZ, "replaced"),
        ("z", regf.REG_BINARY, b""),
    ]
    assert k.value().data == "default"
    with pytest.raises(regf.ValueNotFoundError):
        k.delete_value("nope")
    with pytest.raises(regf.ValueNotFoundError):
        k.value("nope")
    k.delete_value("mixed")
    assert [v.name for v in k.values()] == ["", "z"]
    assert k.value_count == 2
    k.set_value("v" * 16383, b"x")
    with pytest.raises(regf.InvalidArgumentError):
        k.set_value("v" * 16384, b"x")
    with pytest.raises(regf.InvalidArgumentError):
        k.set_value(5, b"x")  # type: ignore[arg-type]
    hive.close()
    with regf.open(tmp_path / "v.hiv") as h:
        assert [v.name for v in h.open_key("k").values()] == ["", "z", "v" * 16383]


def test_set_values_is_set_value_in_turn(tmp_path: Path) -> None:
    """set_values gives the image of set_value called for each item with the same
    timestamp (repeated names replace, conversions as set_value's), accepts a mapping,
    and checks every item before writing anything."""
    items: list[tuple[Any, ...]] = [
        ("", "default"),
        ("n", 5),
        ("raw", b"\1\2\3\4\5\6", regf.REG_BINARY),
        ("N", 2**40),
        ("multi", ["a", "b"]),
        ("big", b"x" * 40000, 3),
        ("e", "%PATH%", regf.REG_EXPAND_SZ),
    ]
    (tmp_path / "1").mkdir()
    one = regf.create(tmp_path / "1" / "h.hiv")  # the same name: the base block holds it
    bulk = regf.create(tmp_path / "h.hiv")
    for h in (one, bulk):
        h.root.last_written_raw = FT
    k1, k2 = (h.create_key("K", timestamp=FT) for h in (one, bulk))
    for item in items:
        k1.set_value(*item, timestamp=FT + 1)
    k2.set_values(items, timestamp=FT + 1)
    assert _untimed(one.image) == _untimed(bulk.image)
    bulk.root.create_key("M").set_values({"a": 1, "b": "two"}, timestamp=FT)
    assert [(v.name, v.data) for v in bulk.open_key("M").values()] == [("a", 1), ("b", "two")]
    before = bytes(bulk.image)
    for bad in ([("ok", 1), ("bad", object())], [("ok", 1), (5, b"")], [("ok", 1), ("x",)],
                [("ok", 1), ("x", b"", -1)], [("ok", 1), ("v" * 16384, b"")]):  # fmt: skip
        with pytest.raises(regf.InvalidArgumentError):
            k2.set_values(bad)  # type: ignore[arg-type]
        assert bytes(bulk.image) == before
    one.close()
    bulk.close()
    with regf.open(tmp_path / "h.hiv") as h:
        assert check_hive(h) == []
        assert [v.name for v in h.open_key("K").values()] == [i[0] for i in items if i[0] != "N"]


_RAW_ITEMS = st.lists(
    st.tuples(
        st.sampled_from(["", "v", "V", "value01", "名前", "\U0001f600", "x" * 256, "a\0b"]),
        st.sampled_from([0, 1, 2, 4, 16344, 16345, 40000]),
        st.sampled_from([0, 4, regf.REG_DWORD, 0xFFFFFFFF]),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(_RAW_ITEMS, min_size=1, max_size=4))
def test_set_values_raw_tuples_are_set_value_in_turn(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[tuple[str, int, int]]]
) -> None:
    """Raw (name, bytes, int type) tuples take set_values' bulk check (one pass over the
    batch, cellvalues.quick_batch) and the packed C call; the image is still that of
    set_value per item, with names holding a NUL (no packed batch), long names and big
    data (declined by C mid-batch) among them."""
    d = tmp_path_factory.mktemp("raw")
    (d / "1").mkdir()
    one = regf.create(d / "1" / "h.hiv")
    bulk = regf.create(d / "h.hiv")
    for h in (one, bulk):
        h.root.last_written_raw = FT
    k1, k2 = (h.create_key("K", timestamp=FT) for h in (one, bulk))
    for i, batch in enumerate(batches):
        items = [(name, bytes([j]) * n, t) for j, (name, n, t) in enumerate(batch)]
        for item in items:
            k1.set_value(*item, timestamp=FT + i)
        k2.set_values(items, timestamp=FT + i)
        assert _untimed(one.image) == _untimed(bulk.image)
    one.close()
    bulk.close()


def test_set_values_raw_tuples_check_every_item(tmp_path: Path) -> None:
    """What the bulk check does not take as it is goes item by item, and a bad item
    still raises before anything is written: a bool or negative type, a type beyond
    u32, str data for a raw type, a list item, an over-long name."""
    hive = regf.create(tmp_path / "h.hiv")
    k = hive.create_key("K", timestamp=FT)
    ok = ("a", b"\1\0\0\0", regf.REG_DWORD)
    before = bytes(hive.image)
    # the bulk check tests the classes of items, data and types in one set: a field of
    # an allowed class in the wrong place (a tuple datum, a bytes or tuple type, an int
    # datum, a str / bytes / int item) must still fail; typed items ("e", 5, REG_DWORD)
    # and (name, data) pairs are not raw and go item by item
    for bad in (("b", b"", True), ("b", b"", -1), ("b", b"", 1 << 32), ("b", "x", 4.0),
                ["b", b"", 4], ("v" * 16384, b"", 4), (b"b", b"", 4), ("b", b"", b"x"),
                ("b", b"", (4,)), ("b", (1,), 4), "abc", b"abc", 7, ("b", b"", 4, 0)):  # fmt: skip
        with pytest.raises(regf.InvalidArgumentError):
            k.set_values([ok, bad])  # type: ignore[list-item]
        assert bytes(hive.image) == before
    from array import array
    from typing import NamedTuple

    class Item(NamedTuple):
        name: str
        data: bytes
        vtype: int

    wide = memoryview(array("I", [7]))  # one element, four bytes: stored as its bytes
    k.set_values((ok, ("b", bytearray(b"xy"), regf.REG_BINARY), Item("c", b"z", 3),
                  ("d", wide, regf.REG_DWORD), ("e", 5, regf.REG_DWORD), ("f", b"")),
                 timestamp=FT)  # fmt: skip
    assert [(v.name, v.raw) for v in k.values()] == [
        ("a", b"\1\0\0\0"),
        ("b", b"xy"),
        ("c", b"z"),
        ("d", bytes(wide)),
        ("e", b"\5\0\0\0"),
        ("f", b""),
    ]
    hive.close()


def test_key_names(tmp_path: Path) -> None:
    hive = regf.create(tmp_path / "n.hiv")
    hive.create_key("k" * 255)
    for bad in ("k" * 256, ""):
        with pytest.raises(regf.InvalidArgumentError):
            hive.root.create_key(bad)
    with pytest.raises(regf.InvalidArgumentError):
        hive.rename_key("k" * 255, "a\\b")
    with pytest.raises(regf.InvalidArgumentError):
        hive.rename_key("k" * 255, "")
    with pytest.raises(regf.InvalidArgumentError):
        hive.create_key(7)  # type: ignore[arg-type]
    # Windows case-insensitivity (not str.upper: no "ß" -> "SS" expansion)
    a = hive.create_key("é\\Straße")
    assert hive.create_key("É\\STRAßE") is a
    assert hive.open_key("É").subkey_count == 1
    with pytest.raises(regf.KeyNotFoundError):
        hive.open_key("é\\STRASSE")
    hive.discard()


def test_create_existing_and_parents(tmp_path: Path) -> None:
    hive = regf.create(tmp_path / "c.hiv")
    k = hive.create_key(r"\A\\B\C", class_name="Cls", timestamp=FT)
    assert k.class_name == "Cls"
    assert hive.open_key("A").class_name is None
    assert [x.last_written_raw for x in hive.walk()] == [FT] * 4
    again = hive.create_key(r"a\b\c", class_name="Other", timestamp=FT + 1)
    assert again is k and k.class_name == "Cls"
    assert hive.root.last_written_raw == FT  # nothing was created
    rel = hive.open_key("A").create_key("B\\D", timestamp=FT + 5)
    assert rel.path == r"A\B\D"
    assert hive.open_key(r"A\B").last_written_raw == FT + 5
    assert hive.open_key(r"A").last_written_raw == FT
    with pytest.raises(regf.InvalidArgumentError):
        hive.create_key("")
    with pytest.raises(regf.KeyNotFoundError):
        hive.open_key(r"A\nope")
    hive.discard()


def test_delete_and_rename(tmp_path: Path) -> None:
    hive = regf.create(tmp_path / "d.hiv")
    hive.create_key(r"P\A\x", timestamp=FT)
    hive.create_key(r"P\B", timestamp=FT)
    a = hive.open_key(r"P\A")
    x = hive.open_key(r"P\A\x")
    with pytest.raises(regf.InvalidArgumentError):
        hive.delete_key(r"P\A")
    with pytest.raises(regf.InvalidArgumentError):
        hive.rename_key(r"P\A", "b")  # sibling clash, case-insensitively
    with pytest.raises(regf.InvalidArgumentError):
        hive.delete_key("")
    with pytest.raises(regf.InvalidArgumentError):
        hive.rename_key("", "x")
    hive.rename_key(r"P\A", "a", timestamp=FT + 1)  # case-only rename is fine
    assert a.name == "a" and x.path == r"P\a\x"
    assert hive.open_key("P").last_written_raw == FT + 1
    hive.rename_key(r"P\a", "C", timestamp=FT + 2)
    assert x.path == r"P\C\x"
    assert [s.name for s in hive.open_key("P").subkeys()] == ["B", "C"]
    hive.delete_key(r"P\C", recursive=True, timestamp=FT + 3)
    assert hive.open_key("P").last_written_raw == FT + 3
    assert a.deleted and x.deleted
    for op in (lambda: x.set_value("v", 1), lambda: x.subkeys(), lambda: a.create_key("y")):
        with pytest.raises(regf.KeyNotFoundError):
            op()
    hive.delete_key(r"P\B")
    assert hive.open_key("P").subkeys() == []
    with pytest.raises(regf.KeyNotFoundError):
        hive.delete_key("nope")
    hive.discard()


def test_value_timestamps(tmp_path: Path) -> None:
    hive = regf.create(tmp_path / "t.hiv")
    k = hive.create_key("K", timestamp=FT)
    k.set_value("a", 1, timestamp=FT + 10)
    assert k.last_written_raw == FT + 10
    assert hive.root.last_written_raw == FT
    k.delete_value("a", timestamp=datetime(2020, 1, 1, tzinfo=UTC))
    assert k.last_written == datetime(2020, 1, 1, tzinfo=UTC)
    before = now_filetime()
    k.set_value("b", 2)
    assert k.last_written_raw >= before
    with pytest.raises(regf.InvalidArgumentError):
        k.touch(datetime(2020, 1, 1))  # naive
    k.touch(FT)
    hive.close()
    with regf.open(tmp_path / "t.hiv") as h:
        assert h.open_key("K").last_written_raw == FT
        assert h.root.last_written_raw == FT


def test_security_inherited(tmp_path: Path) -> None:
    hive = regf.create(tmp_path / "s.hiv")
    assert hive.root.security_raw == DEFAULT_SECURITY
    a = hive.create_key("A")
    assert a.security_raw == DEFAULT_SECURITY
    # a descriptor with owner SYSTEM only, no DACL (self-relative)
    sid = bytes([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0])
    custom = bytes([1, 0, 0x00, 0x80]) + (20).to_bytes(4, "little") + bytes(12) + sid
    a.security_raw = custom
    b = hive.create_key(r"A\B")
    assert b.security_raw == custom
    assert hive.create_key("C").security_raw == DEFAULT_SECURITY
    with pytest.raises(regf.InvalidArgumentError):
        b.security_raw = b"\x01\x00"
    assert a.security.owner is not None
    hive.close()
    with regf.open(tmp_path / "s.hiv") as h:
        assert h.open_key(r"A\B").security_raw == custom
        assert h.open_key("A").security_raw == custom
        assert h.open_key("C").security_raw == DEFAULT_SECURITY


def test_close_flush_and_exceptions(tmp_path: Path) -> None:
    p = tmp_path / "f.hiv"
    hive = regf.create(p)
    hive.create_key("A")
    assert hive.modified
    hive.flush()
    assert not hive.modified and set(reopen(p)) == {(), ("A",)}
    hive.create_key("B")
    hive.close()
    assert set(reopen(p)) == {(), ("A",), ("B",)}
    with pytest.raises(regf.HiveStateError):
        hive.create_key("C")
    with pytest.raises(regf.HiveStateError):
        _ = hive.root
    hive.close()  # idempotent

    q = tmp_path / "never.hiv"
    with pytest.raises(RuntimeError), regf.create(q) as h2:
        h2.create_key("A")
        raise RuntimeError("boom")
    assert not q.exists()


def test_depth_limit_and_replace(tmp_path: Path) -> None:
    p = tmp_path / "deep.hiv"
    p.write_bytes(b"not a hive")
    with regf.create(p) as hive:
        assert p.read_bytes() == b"not a hive"  # nothing written before close
        # the reader's walk refuses keys at depth 512, so 511 levels is the limit
        leaf = hive.create_key("\\".join(["d"] * 511))
        assert leaf.path.count("\\") == 510
        with pytest.raises(regf.InvalidArgumentError):
            leaf.create_key("too-deep")
        with pytest.raises(regf.InvalidArgumentError):
            hive.create_key("\\".join(["e"] * 512))
        assert "E" not in [s.name.upper() for s in hive.root.subkeys()]
        # the limit counts from the first key created, not twice through existing ones
        hive.create_key("f")
        assert hive.create_key("\\".join(["f"] * 511)).path.count("\\") == 510
        with pytest.raises(regf.InvalidArgumentError):
            hive.create_key("\\".join(["f"] * 512))
    with regf.open(p) as h:
        assert sum(1 for _ in h.walk()) == 1 + 511 + 511


def test_r_plus_copy_never_writes_in_place(tmp_path: Path) -> None:
    """A copy (in_place=False, or a bytes source) never writes to its source; r+ on a
    path writes in place (tests/test_model_flush.py)."""
    p = tmp_path / "orig.hiv"
    with regf.create(p) as hive:
        hive.create_key("A").set_value("v", "x")
    before = p.read_bytes()
    with open_editable(p, in_place=False) as ed:
        assert isinstance(ed, EditHive) and ed.mode == "r+" and ed.pager is None
        assert not ed.modified
        ed.create_key("B")
        with pytest.raises(regf.HiveStateError, match="copy in memory"):
            ed.flush()
        with pytest.raises(regf.HiveStateError):
            ed.save_as(p)
        with pytest.raises(regf.HiveStateError):
            ed.save_as(tmp_path / "." / "orig.hiv")
        ed.save_as(tmp_path / "edited.hiv")
    assert p.read_bytes() == before
    assert set(reopen(tmp_path / "edited.hiv")) == {(), ("A",), ("B",)}
    # bytes sources work too, and have no "same file" to protect
    ed2 = edit(before)
    assert flat(ed2) == reopen(p)
    ed2.save_as(tmp_path / "from-bytes.hiv")
    ed2.close()
    with pytest.raises(regf.HiveStateError):
        regf.open(p, mode="w")
    # in place: save_as over the hive itself is refused too (flush() writes in place)
    with edit(p) as ed3, pytest.raises(regf.HiveStateError, match="use flush"):
        ed3.save_as(p)


def test_loaded_metadata_kept(tmp_path: Path) -> None:
    p = tmp_path / "m.hiv"
    with regf.create(p, root_name="MyRoot") as hive:
        k = hive.create_key("A", class_name="Klass", timestamp=FT)
        k.extra_flags = int(KeyFlags.NO_DELETE)
        k.user_flags, k.virt_flags, k.debug = 0x3, 0x5, 0x7
    with edit(p) as ed:
        a = ed.open_key("a")
        assert ed.root.name == "MyRoot"
        assert (a.class_name, a.last_written_raw) == ("Klass", FT)
        assert (a.user_flags, a.virt_flags, a.debug) == (0x3, 0x5, 0x7)
        assert a.flags & KeyFlags.NO_DELETE
        ed.save_as(tmp_path / "m2.hiv")
    with regf.open(tmp_path / "m2.hiv") as h:
        a2 = h.open_key("A")
        assert h.root.name == "MyRoot"
        assert (a2.user_flags, a2.virt_control_flags, a2.debug) == (0x3, 0x5, 0x7)
        assert a2.flags & KeyFlags.NO_DELETE and a2.last_written_raw == FT


# ---------------------------------------------------------------------------------------
# State machine against a dict model
# ---------------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "A", "b", "Key", "KEY", "é", "É", "Straße", "日本", "x" * 255])
VNAMES = st.sampled_from(["", "v", "V", "data", "DATA", "ü", "Ü", "n" * 300])
VTYPES = st.sampled_from([0, 1, 2, 3, 4, 7, 11, 0x1234])
RAWS = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([bytes(16344), bytes(16345), bytes(range(256)) * 100]),
)


class _Node:
    def __init__(self, name: str, cls: str | None = None) -> None:
        self.name = name
        self.cls = cls
        self.values: dict[str, tuple[str, int, bytes]] = {}
        self.children: dict[str, _Node] = {}


class WriterMachine(RuleBasedStateMachine):
    """Random edits on an EditHive and on a plain dict model; they must agree."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="regf-writer-"))
        self.hive = regf.create(self.dir / "main.hiv")
        self.model = _Node("ROOT")
        self.saves = 0

    def teardown(self) -> None:
        self.hive.discard()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- model helpers -------------------------------------------------------------------

    def paths(self) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        stack: list[tuple[tuple[str, ...], _Node]] = [((), self.model)]
        while stack:
            path, node = stack.pop()
            out.append(path)
            stack.extend(((*path, c.name), c) for c in node.children.values())
        return sorted(out)

    def node(self, path: tuple[str, ...]) -> _Node:
        n = self.model
        for part in path:
            n = n.children[upcase(part)]
        return n

    def model_flat(self) -> Flat:
        out: Flat = {}
        stack: list[tuple[tuple[str, ...], _Node]] = [((), self.model)]
        while stack:
            path, node = stack.pop()
            out[path] = (node.cls, list(node.values.values()))
            stack.extend(((*path, c.name), c) for c in node.children.values())
        return out

    # -- rules ---------------------------------------------------------------------------

    @rule(data=st.data(), name=NAMES, cls=st.one_of(st.none(), st.sampled_from(["C", "类"])))
    def create_key(self, data: st.DataObject, name: str, cls: str | None) -> None:
        parent = data.draw(st.sampled_from(self.paths()))
        if len(parent) >= 4:
            return
        k = self.hive.create_key("\\".join((*parent, name)), class_name=cls)
        pnode = self.node(parent)
        existing = pnode.children.get(upcase(name))
        if existing is None:
            pnode.children[upcase(name)] = _Node(name, cls)
            assert k.name == name and k.class_name == cls
        else:
            assert k.name == existing.name and k.class_name == existing.cls

    @rule(data=st.data(), recursive=st.booleans())
    def delete_key(self, data: st.DataObject, recursive: bool) -> None:
        paths = [p for p in self.paths() if p]
        if not paths:
            return
        path = data.draw(st.sampled_from(paths))
        node = self.node(path)
        if node.children and not recursive:
            with pytest.raises(regf.InvalidArgumentError):
                self.hive.delete_key("\\".join(path), recursive=recursive)
            return
        self.hive.delete_key("\\".join(path), recursive=recursive)
        del self.node(path[:-1]).children[upcase(path[-1])]

    @rule(data=st.data(), name=NAMES)
    def rename_key(self, data: st.DataObject, name: str) -> None:
        paths = [p for p in self.paths() if p]
        if not paths:
            return
        path = data.draw(st.sampled_from(paths))
        parent = self.node(path[:-1])
        old, new = upcase(path[-1]), upcase(name)
        if new != old and new in parent.children:
            with pytest.raises(regf.InvalidArgumentError):
                self.hive.rename_key("\\".join(path), name)
            return
        self.hive.rename_key("\\".join(path), name)
        node = parent.children.pop(old)
        node.name = name
        parent.children[new] = node

    @rule(data=st.data(), name=VNAMES, vtype=VTYPES, raw=RAWS)
    def set_value(self, data: st.DataObject, name: str, vtype: int, raw: bytes) -> None:
        path = data.draw(st.sampled_from(self.paths()))
        self.hive.open_key("\\".join(path)).set_value(name, raw, vtype)
        node = self.node(path)
        old = node.values.get(upcase(name))
        node.values[upcase(name)] = (old[0] if old else name, vtype, raw)

    @rule(data=st.data(), name=VNAMES, text=st.text(alphabet="ab€\U0001f600", max_size=5))
    def set_typed(self, data: st.DataObject, name: str, text: str) -> None:
        path = data.draw(st.sampled_from(self.paths()))
        key = self.hive.open_key("\\".join(path))
        value: Any = data.draw(
            st.sampled_from([text, [text, text], len(text), 2**40 + len(text), text.encode()])
        )
        key.set_value(name, value)
        vtype, raw = encode_value(value)
        node = self.node(path)
        old = node.values.get(upcase(name))
        node.values[upcase(name)] = (old[0] if old else name, vtype, raw)
        assert key.value(name).raw == raw
        if not isinstance(value, bytes):
            assert key.value(name).data == value

    @rule(data=st.data(), name=VNAMES)
    def delete_value(self, data: st.DataObject, name: str) -> None:
        path = data.draw(st.sampled_from(self.paths()))
        key = self.hive.open_key("\\".join(path))
        node = self.node(path)
        if upcase(name) not in node.values:
            with pytest.raises(regf.ValueNotFoundError):
                key.delete_value(name)
            return
        key.delete_value(name)
        del node.values[upcase(name)]

    @rule()
    def save_and_reopen(self) -> None:
        self.saves += 1
        p = self.dir / f"save{self.saves}.hiv"
        self.hive.save_as(p)
        assert reopen(p) == self.model_flat()
        # and the editable reopen agrees too
        with edit(p) as ed:
            assert flat(ed) == self.model_flat()

    @invariant()
    def hive_matches_model(self) -> None:
        assert flat(self.hive) == self.model_flat()


TestWriterMachine = WriterMachine.TestCase
TestWriterMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


# ---------------------------------------------------------------------------------------
# Corpus round trips
# ---------------------------------------------------------------------------------------

CORPUS_HIVES = [
    "ColinFinck__nt-hive/testdata/testhive",
    "libguestfs__hivex/images/minimal",
    "libguestfs__hivex/images/special",
    "mkorman90__regipy/regipy_tests/data/NTUSER.DAT",
]
_KEPT_FLAGS = ~int(
    KeyFlags.COMP_NAME
    | KeyFlags.HIVE_ENTRY
    | KeyFlags.VOLATILE
    | KeyFlags.HIVE_EXIT
    | KeyFlags.PREDEF_HANDLE
)


def full(hive: Any) -> dict[str, Any]:
    """Everything the round trip must keep, per key path."""
    out: dict[str, Any] = {}
    for k in hive.walk():
        out[k.path] = (
            k.name,
            k.class_name or None,
            k.last_written_raw,
            # the writer always marks the root NO_DELETE (offreg's roots lack it)
            int(k.flags) & _KEPT_FLAGS & (~int(KeyFlags.NO_DELETE) if not k.path else -1),
            (k.user_flags, k.virt_control_flags, k.debug),
            k.security_raw,
            [(v.name, int(v.type_), v.raw) for v in k.values()],
        )
    return out


@pytest.mark.corpus
@pytest.mark.parametrize("compact", [False, True], ids=["image", "compact"])
@pytest.mark.parametrize("rel", CORPUS_HIVES)
def test_corpus_round_trip(corpus: Path, rel: str, tmp_path: Path, compact: bool) -> None:
    src = corpus / rel
    if not src.exists():
        pytest.skip(f"{rel} not in the corpus")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with regf.open(src) as h:
            want = full(h)
            minor = h.version[1]
        # A copy: the shared corpus must never be opened for writing.
        with open_editable(src, in_place=False) as ed:
            assert full(ed) == want
            out = tmp_path / "copy.hiv"
            ed.save_as(out, compact=compact)
    with regf.open(out) as h2:
        assert check_hive(h2) == []
        assert h2.version == (1, minor)
        got = full(h2)
    assert list(got) == list(want)  # same paths in the same (sorted) walk order
    assert got == want


# ---------------------------------------------------------------------------------------
# hivex reads what we write
# ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not oracles.hivex_available(), reason="python3-hivex not importable")
def test_hivex_reads_written_hive(tmp_path: Path) -> None:
    p = tmp_path / "hx.hiv"
    with regf.create(p) as hive:
        k = hive.create_key(r"Software\Example", class_name="Cls")
        k.set_value("", "default")
        k.set_value("Answer", 42)
        k.set_value("Big", bytes(range(256)) * 100)
        k.set_value("Multi", ["a", "b"])
        k.set_value("Q", 2**40)
        for i in range(50):
            hive.create_key(rf"Software\Many\k{i:03}").set_value("i", i)
        hive.create_key(r"Software\Gone")
        hive.delete_key(r"Software\Gone")
        hive.create_key(r"Software\Old")
        hive.rename_key(r"Software\Old", "New")
    got = {
        tuple(path.split("\\")) if path else (): vals for path, _cls, vals in oracles.walk_hivex(p)
    }
    mine = {path: sorted(vals) for path, (_cls, vals) in reopen(p).items()}
    assert got == mine
    assert ("Software", "New") in got and ("Software", "Gone") not in got


def test_raw_set_value_returns_stored_name_case(tmp_path: Path) -> None:
    """set_value with raw bytes and a type (the C allocator's fast path when built):
    a new value reports its given name, a replaced one keeps the stored case, an
    IntEnum type is accepted, and the data reads back (both allocator twins agree via
    test_cellvalues' parity test)."""
    with regf.create(tmp_path / "n.hiv") as hive:
        k = hive.create_key("K")
        assert k.set_value("Value", b"\1\0\0\0", regf.REG_DWORD).name == "Value"
        v = k.set_value("VALUE", b"\2\0\0\0\0", 3)
        assert (v.name, int(v.type), v.raw) == ("Value", 3, b"\2\0\0\0\0")
        assert [(x.name, int(x.type), x.raw) for x in k.values()] == [("Value", 3, b"\2\0\0\0\0")]
        k.set_value("é", b"", 0)
        assert k.value("É").raw == b"" and k.value_count == 2


# ---------------------------------------------------------------------------------------
# The C allocator's create_key / set_value paths equal the Python specification
# ---------------------------------------------------------------------------------------

_TWIN_NAMES = st.sampled_from(
    ["a", "A", "b", "key001", "KEY001", "key002", "é", "É", "ÿ", "Ÿ", "日本", "\U0001f600",
     "\U0001f601", "Straße", "x" * 255, "y" * 256, "\u0131", "z"]
)  # fmt: skip
_TWIN_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("mk"), st.lists(_TWIN_NAMES, min_size=1, max_size=3),
                  st.sampled_from([None, None, None, "Cls"]), st.booleans()),
        # around the ri limit (1013 in one leaf) and past the first leaf splits
        st.tuples(st.just("many"), _TWIN_NAMES,
                  st.integers(1, 1100) | st.sampled_from([1013, 1014, 2600])),
        st.tuples(st.just("set"), st.lists(_TWIN_NAMES, max_size=2), _TWIN_NAMES,
                  st.sampled_from([0, 4, 3]), st.sampled_from([0, 4, 9, 20000])),
        st.tuples(st.just("setm"), st.lists(_TWIN_NAMES, max_size=2),
                  st.lists(st.tuples(_TWIN_NAMES, st.sampled_from([0, 4, 3]),
                                     st.sampled_from([0, 4, 9, 20000])), max_size=6)),
        st.tuples(st.just("rm"), st.lists(_TWIN_NAMES, min_size=1, max_size=2)),
        st.tuples(st.just("ren"), st.lists(_TWIN_NAMES, min_size=1, max_size=2), _TWIN_NAMES),
    ),
    min_size=1,
    max_size=25,
)  # fmt: skip


def _twin_apply(hive: EditHive, op: tuple[Any, ...], ts: int) -> str:
    """Apply one op; the outcome as text (the exception type, or the handle's path)."""
    try:
        if op[0] == "mk":
            return hive.create_key("\\".join(op[1]), class_name=op[2], volatile=op[3],
                                   timestamp=ts).path  # fmt: skip
        if op[0] == "many":
            parent = hive.create_key(f"Many{op[1]}", timestamp=ts)
            for i in range(op[2]):
                parent.create_key(f"k{(i * 7919) % op[2]:05d}", timestamp=ts)
            return parent.path
        if op[0] == "set":
            path = "\\".join(op[1])
            key = hive.open_key(path) if path else hive.root
            return key.set_value(op[2], bytes(op[4]), op[3], timestamp=ts).name
        if op[0] == "setm":
            path = "\\".join(op[1])
            key = hive.open_key(path) if path else hive.root
            key.set_values([(name, bytes(n), t) for name, t, n in op[2]], timestamp=ts)
            return "setm"
        if op[0] == "rm":
            hive.delete_key("\\".join(op[1]), recursive=True, timestamp=ts)
            return "rm"
        return hive.rename_key("\\".join(op[1]), op[2], timestamp=ts).path
    except regf.errors.RegfError as exc:
        return type(exc).__name__


@settings(max_examples=40, deadline=None)
@given(ops=_TWIN_OPS, minor=st.sampled_from([3, 5, 6]))
def test_c_fast_paths_equal_python(ops: list[tuple[Any, ...]], minor: int) -> None:
    """The same random edits through an EditHive over PyCellAllocator (the Python
    writer, the specification) and over CCellAllocator (create_key / find / set_value
    in C where they apply: stable keys under lh leaves, short names, small data) give
    the same outcome, the same image bytes and the same dirty pages at every step."""
    from regf.cells.alloc import PyCellAllocator

    try:
        from regf.cells.alloc import CCellAllocator

        CCellAllocator(bytearray(serialize_minimal()))
    except Exception:
        pytest.skip("C allocator not built")
    with tempfile.TemporaryDirectory() as d:
        py = EditHive(minor=minor, target=Path(d) / "p.hiv", file_name="x",
                      allocator=PyCellAllocator)  # fmt: skip
        c = EditHive(minor=minor, target=Path(d) / "c.hiv", file_name="x",
                     allocator=CCellAllocator)  # fmt: skip
        try:
            for h in (py, c):  # the same root timestamp (created "now")
                h.root.last_written_raw = FT
                h.allocator.take_dirty()
            for i, op in enumerate(ops):
                assert _twin_apply(c, op, FT + i) == _twin_apply(py, op, FT + i), op
                assert _untimed(c.image) == _untimed(py.image), op
                assert c.allocator.take_dirty() == py.allocator.take_dirty(), op
            assert flat(c) == flat(py)
        finally:
            py.discard()
            c.discard()


@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled"])
def test_c_create_key_under_an_index_root_equals_python(order: str) -> None:
    """3,000 keys under one parent, C and Python side by side: past 1,013 the list
    becomes an ri of lh leaves (Python), C then inserts into the selected leaf, grows it
    and repoints the root when the leaf moves, and leaves each full leaf's split to
    Python. Same images and dirty pages after every key; lookups of every name (any
    case) agree."""
    import random

    from regf.cells.alloc import PyCellAllocator

    try:
        from regf.cells.alloc import CCellAllocator

        CCellAllocator(bytearray(serialize_minimal()))
    except Exception:
        pytest.skip("C allocator not built")
    names = [f"Key{i:05d}" for i in range(3000)]
    if order == "descending":
        names.reverse()
    elif order == "shuffled":
        random.Random(5).shuffle(names)
    with tempfile.TemporaryDirectory() as d:
        py = EditHive(minor=5, target=Path(d) / "p.hiv", file_name="x",
                      allocator=PyCellAllocator)  # fmt: skip
        c = EditHive(minor=5, target=Path(d) / "c.hiv", file_name="x",
                     allocator=CCellAllocator)  # fmt: skip
        try:
            for h in (py, c):
                h.root.last_written_raw = FT
                h.allocator.take_dirty()
            parents = [h.create_key("P", timestamp=FT) for h in (py, c)]
            for i, name in enumerate(names):
                for p in parents:
                    p.create_key(name, timestamp=FT + i)
                assert c.allocator.take_dirty() == py.allocator.take_dirty(), name
                if i % 97 == 0 or i > 2990:
                    assert _untimed(c.image) == _untimed(py.image), name
            assert _untimed(c.image) == _untimed(py.image)
            # the parent's list (nk +0x1C) is an index root now
            lst = int.from_bytes(c.image[4096 + parents[1]._cell + 4 + 0x1C :][:4], "little")
            assert c.image[4096 + lst + 4 : 4096 + lst + 6] == b"ri"
            for name in names[::7]:
                for variant in (name, name.upper(), name.lower()):
                    path = "P\\" + variant
                    assert c.open_key(path)._cell == py.open_key(path)._cell
            assert parents[1].create_key(names[0].lower()) is c.open_key("P\\" + names[0])
            assert flat(c) == flat(py)
        finally:
            py.discard()
            c.discard()


def _ri_twins(d: str) -> tuple[EditHive, EditHive, int, int]:
    """Python and C twins with 1,100 keys under P (an ri of two lh leaves), and the
    file offsets of P's ri data and of its first leaf's data."""
    from regf.cells.alloc import CCellAllocator, PyCellAllocator

    twins = []
    for cls, name in ((PyCellAllocator, "p"), (CCellAllocator, "c")):
        h = EditHive(minor=5, target=Path(d) / f"{name}.hiv", file_name="x", allocator=cls)
        h.root.last_written_raw = FT
        p = h.create_key("P", timestamp=FT)
        for i in range(1100):
            p.create_key(f"K{i:05d}", timestamp=FT)
        twins.append(h)
    py, c = twins
    nk = py.open_key("P")._cell
    ri = 4096 + int.from_bytes(py.image[4096 + nk + 4 + 0x1C :][:4], "little") + 4
    assert py.image[ri : ri + 2] == b"ri" and _untimed(py.image) == _untimed(c.image)
    leaf = 4096 + int.from_bytes(py.image[ri + 4 : ri + 8], "little") + 4
    return py, c, ri, leaf


@pytest.mark.parametrize(
    "damage",
    ["empty root", "leaf is free", "leaf is li", "leaf is an ri", "bad last entry"],
)
def test_c_create_key_declines_a_damaged_index_root(damage: str) -> None:
    """The same damage to both twins' ri (or its leaf): C declines before changing
    anything, so the C twin ends exactly as the Python one (the same error, or the same
    bytes when Python can go on, e.g. through an li leaf)."""
    try:
        from regf.cells.alloc import CCellAllocator

        CCellAllocator(bytearray(serialize_minimal()))
    except Exception:
        pytest.skip("C allocator not built")
    with tempfile.TemporaryDirectory() as d:
        py, c, ri, leaf = _ri_twins(d)
        try:
            for h in (py, c):
                img = h.image
                if damage == "empty root":
                    img[ri + 2 : ri + 4] = bytes(2)
                elif damage == "leaf is free":
                    size = int.from_bytes(img[leaf - 4 : leaf], "little", signed=True)
                    img[leaf - 4 : leaf] = (-size).to_bytes(4, "little", signed=True)
                elif damage == "leaf is li":
                    img[leaf : leaf + 2] = b"li"
                elif damage == "leaf is an ri":
                    img[leaf : leaf + 2] = b"ri"
                else:  # the first leaf's last entry: a misaligned cell index
                    n = int.from_bytes(img[leaf + 2 : leaf + 4], "little")
                    at = leaf + 4 + 8 * (n - 1)
                    img[at : at + 4] = (3).to_bytes(4, "little")
                h.allocator.take_dirty()
            outcomes = []
            for h in (py, c):
                try:
                    outcomes.append(h.open_key("P").create_key("K00000x", timestamp=FT).path)
                except regf.errors.RegfError as exc:
                    outcomes.append(type(exc).__name__)
            assert outcomes[0] == outcomes[1], outcomes
            assert _untimed(c.image) == _untimed(py.image)
            assert c.allocator.take_dirty() == py.allocator.take_dirty()
        finally:
            py.discard()
            c.discard()


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "parent"),
    [
        ("fox-it__dissect.regf/tests/_data/SYSTEM", "DriverDatabase\\DeviceIds\\PCI"),
        ("mkorman90__regipy/regipy_tests/data/SYSTEM",
         "ControlSet001\\Control\\CriticalDeviceDatabase"),
    ],
)  # fmt: skip
def test_c_create_key_under_windows_index_roots_equals_python(
    corpus: Path, rel: str, parent: str
) -> None:
    """Keys added under a Windows-written ri of lh leaves (a clean real hive edited in
    memory), C and Python twins: names before, between and after the existing ones, any
    case, Latin-1 and CJK, so that leaves fill, grow, move and split. Same outcome, same
    image and the same dirty pages after every key."""
    import random

    from regf.cells.alloc import PyCellAllocator

    try:
        from regf.cells.alloc import CCellAllocator

        CCellAllocator(bytearray(serialize_minimal()))
    except Exception:
        pytest.skip("C allocator not built")
    src = corpus / rel
    if not src.exists():
        pytest.skip(f"{rel} not in the corpus")
    rng = random.Random(rel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        py = open_editable(src, in_place=False, allocator=PyCellAllocator)
        c = open_editable(src, in_place=False, allocator=CCellAllocator)
    try:
        existing = [k.name for k in py.open_key(parent).subkeys()]
        assert len(existing) > 1013  # an ri, the case under test
        names = []
        for i in range(1200):
            base = rng.choice(existing)
            names.append(rng.choice([base + f"_{i}", base[:-1] + f"{i}", f"{i}" + base,
                                     base.lower() + "é", "Ω" + base, base + "名"]))  # fmt: skip
        names += rng.sample(existing, 20)  # existing ones: found, not created
        py.allocator.take_dirty()
        c.allocator.take_dirty()
        pk, ck = py.open_key(parent), c.open_key(parent)
        for i, name in enumerate(names):
            made = [k.create_key(name, timestamp=FT + i)._cell for k in (pk, ck)]
            assert made[0] == made[1], name
            assert c.allocator.take_dirty() == py.allocator.take_dirty(), name
            if i % 50 == 0:
                assert c.image == py.image, name
        assert c.image == py.image
        with regf.open(bytes(c.image), recover=False) as h:
            assert check_hive(h) == []
            assert len(h.open_key(parent).subkeys()) == len(set(map(upcase, existing + names)))
    finally:
        py.discard()
        c.discard()


_RI_BASE: list[tuple[bytes, int, list[int]]] = []


def _ri_base() -> tuple[bytes, int, list[int]]:
    """A clean hive image (checksum fixed) with 1,100 keys under P, its ri's cell data
    offset, and the data offsets of its two leaves (built once)."""
    if not _RI_BASE:
        with tempfile.TemporaryDirectory() as d:
            py, c, ri, _leaf = _ri_twins(d)
            img = bytearray(py.image)
            py.discard()
            c.discard()
        from regf._accel import checksum

        img[0x1FC:0x200] = checksum(bytes(img[:0x1FC])).to_bytes(4, "little")
        n = int.from_bytes(img[ri + 2 : ri + 4], "little")
        leaves = [4096 + int.from_bytes(img[ri + 4 + 4 * i :][:4], "little") + 4 for i in range(n)]
        _RI_BASE.append((bytes(img), ri, leaves))
    return _RI_BASE[0]


@settings(max_examples=150, deadline=None)
@given(
    hits=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 8200), st.integers(0, 255)),
                  min_size=1, max_size=6),
    name=st.sampled_from(["K00000x", "A", "K00549", "K00550x", "K01099", "Z", "k00700x"]),
)  # fmt: skip
def test_c_create_key_under_a_mutated_index_root_equals_python(
    hits: list[tuple[int, int, int]], name: str
) -> None:
    """Random bytes of P's ri or its leaves overwritten (counts, signatures, cell
    indexes, hashes), then the same create_key on a Python and a C twin loaded from the
    mutated file: the same outcome (cell or error class), image and dirty pages. C must
    decline wherever it cannot follow Python, and never read or write out of bounds."""
    from regf.cells.alloc import PyCellAllocator

    try:
        from regf.cells.alloc import CCellAllocator

        CCellAllocator(bytearray(serialize_minimal()))
    except Exception:
        pytest.skip("C allocator not built")
    base, ri, leaves = _ri_base()
    img = bytearray(base)
    regions = [ri, *leaves]
    for which, off, value in hits:
        start = regions[min(which, len(regions) - 1)]  # a cell's data: within its size
        size = -int.from_bytes(img[start - 4 : start], "little", signed=True) - 4
        img[start + off % max(size, 1)] = value
    outcomes, hives = [], []
    for cls in (PyCellAllocator, CCellAllocator):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                h = open_editable(bytes(img), allocator=cls, strict=False)
        except regf.errors.RegfError as exc:
            outcomes.append(("open", type(exc).__name__))
            continue
        hives.append(h)
        h.allocator.take_dirty()
        try:
            outcomes.append(("ok", h.open_key("P").create_key(name, timestamp=FT)._cell))
        except regf.errors.RegfError as exc:
            outcomes.append(("error", type(exc).__name__))
    try:
        assert outcomes[0] == outcomes[1]
        if len(hives) == 2:
            assert hives[1].image == hives[0].image
            assert hives[1].allocator.take_dirty() == hives[0].allocator.take_dirty()
    finally:
        for h in hives:
            h.discard()


def _untimed(image: bytearray) -> bytes:
    """The image without the creation timestamps (base block 0x0C, first bin 0x14)
    and the base block checksum over them."""
    out = bytearray(image)
    out[0x0C:0x14] = bytes(8)
    out[4096 + 0x14 : 4096 + 0x1C] = bytes(8)
    out[0x1FC:0x200] = bytes(4)  # the checksum covers the timestamp
    return bytes(out)


def serialize_minimal() -> bytes:
    from regf.model.serialize import serialize
    from regf.model.spec import KeySpec

    return serialize(KeySpec("R"), timestamp=FT)


def test_save_as_default_is_the_image_with_free_cells_zeroed(tmp_path: Path) -> None:
    """save_as() writes the hive as it stands (one copy of the image, what hivex's commit
    writes) with every free cell zeroed: a deleted key or value does not survive in the
    copy, although the live image still holds it (checked first, so the test can fail)."""
    marker, gone = b"SECRET-MARKER-" * 8, "GoneKeyMarker"
    out, packed = tmp_path / "copy.hiv", tmp_path / "compact.hiv"
    with regf.create(tmp_path / "h.hiv") as hive:
        a = hive.create_key("A")
        a.set_value("keep", "kept")
        a.set_value("secret", marker)
        hive.create_key(f"A\\{gone}").set_value("v", 1)
        a.delete_value("secret")
        hive.delete_key(f"A\\{gone}")
        image = hive.image_bytes()
        assert marker in image and gone.encode() in image
        hive.save_as(out)
        hive.save_as(packed, compact=True)
        live = hive.allocator.free_cells()
    data = out.read_bytes()
    assert len(data) == len(image)
    assert marker not in data and gone.encode() not in data
    # outside the base block, only free cells' contents differ from the image
    diff = [i for i in range(4096, len(data)) if data[i] != image[i]]
    assert diff, "the deleted cells should have been zeroed"
    assert all(any(4096 + c + 4 <= i < 4096 + c + size for c, size in live.items()) for i in diff)
    with regf.open(out) as h:
        assert check_hive(h) == [] and flat(h) == {
            (): (None, []),
            ("A",): (None, [("keep", 1, "kept\0".encode("utf-16-le"))]),
        }
        found = regf.scan_deleted(h)
        assert not [r for r in found.keys if r.name == gone]
        assert not [r for r in found.values if r.name == "secret"]
    with regf.open(packed) as h:
        assert check_hive(h) == [] and flat(h) == reopen(out)
    assert len(packed.read_bytes()) <= len(data)
