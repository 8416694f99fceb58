"""Every peer reads random regf-written hives identically; hivexsh edits one.

Hives are built through the writer API (``regf.create`` + create_key / set_value /
delete / rename), then written two ways: the writer's own image (``close``: in place,
free holes left by deletes) and the compact ``save_as`` copy. Each file is read by regf
and by every installed peer -- hivex, pyregf (libregf), regfexport (libregf's tool),
python-registry, regipy, dissect.regf, reglookup -- and the readings must agree with
regf's walk of the in-memory hive, except for the peer bugs modelled below, each shown
on its own by a ``test_peer_bug_*`` test. A peer that is not installed is skipped.

Names mix ASCII, Latin-1 (stored compressed), CJK and non-BMP characters (UTF-16 with
surrogates); values cover every type, sizes 0..5, 16344 / 16345 (the big-data border,
fmt §4.6) and a large one; one test writes a key with thousands of subkeys (an ``ri``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import oracles
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_inplace import structure_problems
from test_serialize import (
    canonical,
    compare_with_peers,
    pyregf_rule,
)

import regf
from regf.errors import RegfError
from regf.model.edit import EditHive, open_editable

Flat = dict[tuple[str, ...], tuple[str | None, list[tuple[str, int, bytes]]]]

KEY_NAMES = st.sampled_from(
    ["a", "B", "Key", "é", "Straße", "ÿx", "µ", "日本", "語", "\U0001f600", "𐐀z", "x y"]
)
VALUE_NAMES = st.sampled_from(["", "v", "Data", "é", "Größe", "名前", "\U0001f600", "n" * 40])
SIZES = [0, 1, 2, 3, 4, 5, 16344, 16345, 40000]
TYPES = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x1234])


@st.composite
def raw_values(draw: Any) -> bytes:
    n = draw(st.sampled_from(SIZES))
    seed = draw(st.integers(0, 255))
    return bytes((seed + i * 7) & 0xFF for i in range(n))


Op = tuple[Any, ...]
OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("mk"),
            st.lists(KEY_NAMES, min_size=1, max_size=3),
            st.one_of(st.none(), st.sampled_from(["Cls", "類"])),
        ),
        st.tuples(
            st.just("set"), st.lists(KEY_NAMES, max_size=3), VALUE_NAMES, TYPES, raw_values()
        ),
        st.tuples(st.just("rmval"), st.lists(KEY_NAMES, max_size=3), VALUE_NAMES),
        st.tuples(st.just("rm"), st.lists(KEY_NAMES, min_size=1, max_size=3)),
        st.tuples(st.just("ren"), st.lists(KEY_NAMES, min_size=1, max_size=3), KEY_NAMES),
    ),
    min_size=1,
    max_size=30,
)


def apply(hive: EditHive, ops: list[Op]) -> None:
    """Run ``ops`` on ``hive``; operations the hive refuses (missing key, name taken)
    are skipped, as a user's failed call would be."""
    for op in ops:
        path = "\\".join(op[1])
        try:
            if op[0] == "mk":
                hive.create_key(path, class_name=op[2])
            elif op[0] == "set":
                key = hive.open_key(path) if path else hive.root
                key.set_value(op[2], op[4], op[3])
            elif op[0] == "rmval":
                (hive.open_key(path) if path else hive.root).delete_value(op[2])
            elif op[0] == "rm":
                hive.delete_key(path, recursive=True)
            else:
                hive.rename_key(path, op[2])
        except RegfError:
            pass


def flat(hive: Any) -> Flat:
    """path tuple -> (class, [(name, type, raw)]) in stored value order."""
    out: Flat = {}
    for k in hive.walk():
        path = tuple(k.path.split("\\")) if k.path else ()
        out[path] = (k.class_name or None, [(v.name, int(v.type_), v.raw) for v in k.values()])
    return out


def write_both(tmp: Path, ops: list[Op], minor: int = 5) -> tuple[Flat, list[Path]]:
    """The model walk and two files: the writer's image (close) and save_as."""
    image = tmp / "image.hiv"
    compact = tmp / "compact.hiv"
    hive = regf.create(image, minor=minor)
    assert isinstance(hive, EditHive)
    apply(hive, ops)
    assert structure_problems(hive) == []
    want = flat(hive)
    hive.save_as(compact, compact=True)
    hive.close()
    for p in (image, compact):
        with regf.open(p) as h:
            assert canonical(flat(h)) == canonical(want), p.name
    return want, [image, compact]


# ---------------------------------------------------------------------------------------
# Peer readers not already in test_serialize (which has pyregf, python-registry,
# dissect.regf and hivex over bytes)
# ---------------------------------------------------------------------------------------

REGIPY_TYPES = {
    0: "REG_NONE", 1: "REG_SZ", 2: "REG_EXPAND_SZ", 3: "REG_BINARY", 4: "REG_DWORD",
    5: "REG_DWORD_BIG_ENDIAN", 6: "REG_LINK", 7: "REG_MULTI_SZ", 8: "REG_RESOURCE_LIST",
    9: "REG_FULL_RESOURCE_DESCRIPTOR", 10: "REG_RESOURCE_REQUIREMENTS_LIST", 11: "REG_QWORD",
}  # fmt: skip


def read_regipy(path: Path) -> dict[tuple[str, ...], Any]:
    """path tuple -> sorted [(value name, type name, interpreted value)], or the name
    of the exception regipy raised reading the key's values. regipy interprets data by
    type (binary as hex text or bytes: normalised to bytes here) and exposes no class
    names. Its ``recurse_subkeys`` aborts at the first such key, so the walk recurses
    with ``iter_subkeys`` itself."""
    registry = pytest.importorskip("regipy.registry")
    hive = registry.RegistryHive(str(path))
    out: dict[tuple[str, ...], Any] = {}

    def rec(nk: Any, p: tuple[str, ...]) -> None:
        try:
            vals: Any = sorted(
                (
                    ("" if v.name == "(default)" else v.name, str(v.value_type),
                     _regipy_bytes(v.value_type, v.value))
                    for v in nk.iter_values(as_json=False, trim_values=False)
                ),
                key=lambda t: (t[0], t[1]),
            )  # fmt: skip
        except Exception as exc:  # a peer failing is recorded, not raised
            vals = type(exc).__name__
        out[p] = vals
        for sk in nk.iter_subkeys():
            rec(sk, (*p, sk.name))

    rec(hive.root, ())
    return out


def _regipy_bytes(vtype: Any, value: Any) -> Any:
    if str(vtype) == "REG_BINARY" and isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value
    return value


def regipy_name(name: str) -> str:
    """How regipy spells a name regf stored compressed: it decodes the Latin-1 bytes as
    UTF-8 with replacement characters (test_peer_bug_regipy_latin1_names)."""
    if all(ord(c) <= 0xFF for c in name):
        return name.encode("latin-1").decode("utf-8", "replace")
    return name


def regipy_expect(want: Flat) -> dict[tuple[str, ...], Any]:
    """What regipy reports for ``want``: strings decoded, DWORD/QWORD as ints, binary as
    bytes; other data masked. A key holding a REG_QWORD of 5..7 bytes makes regipy raise
    (test_peer_bug_regipy_short_qword)."""
    out: dict[tuple[str, ...], Any] = {}
    for p, (_cls, vals) in want.items():
        exp = []
        for name, t, raw in vals:
            exp.append((regipy_name(name), REGIPY_TYPES.get(t, str(t)), _regipy_value(t, raw)))
        bad = any(t == 11 and 5 <= len(raw) < 8 for _n, t, raw in vals)
        key = tuple(regipy_name(c) for c in p)
        out[key] = "StreamError" if bad else sorted(exp, key=lambda e: (e[0], e[1]))
    return out


class _Masked:
    """Compares equal to anything (regipy's rendering of that data is not modelled)."""

    def __eq__(self, other: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "<masked>"

    __hash__ = None  # type: ignore[assignment]


MASKED = _Masked()


def _regipy_value(t: int, raw: bytes) -> Any:
    if t == 4 and len(raw) == 4:
        return int.from_bytes(raw, "little")
    if t == 11 and len(raw) == 8:
        return int.from_bytes(raw, "little")
    if t == 3:
        return raw
    return MASKED


def _masked_equal(got: Any, exp: Any) -> bool:
    if got.keys() != exp.keys():
        return False
    for p in got:
        g, e = got[p], exp[p]
        if isinstance(g, str) or isinstance(e, str):
            if g != e:
                return False
            continue
        if len(g) != len(e):
            return False
        for (gn, gt, gv), (en, et, ev) in zip(g, e, strict=True):
            if gn != en or gt != et or ev != gv:
                return False
    return True


def read_reglookup(path: Path) -> dict[tuple[bytes, ...], list[tuple[bytes, str, str]]]:
    """reglookup's CSV: key paths and value names as the stored bytes (reglookup prints
    printable ASCII as is, escapes everything else as %XX and, when a name cannot be
    converted to ASCII, quotes its raw stored buffer), types, and data text."""
    exe = shutil.which("reglookup")
    if exe is None:
        pytest.skip("reglookup not installed")
    r = subprocess.run([exe, "-H", str(path)], capture_output=True, check=True)
    out: dict[tuple[bytes, ...], list[tuple[bytes, str, str]]] = {}
    for line in r.stdout.decode("ascii").splitlines():
        fields = line.split(",")
        assert len(fields) == 4, line
        p, typ, data, _mtime = fields
        if typ == "KEY":
            out.setdefault(_key_parts(p), [])
        else:  # key path, "/", value name (the root's values: "/name", "//" default)
            key, _sep, name = p.rpartition("/")
            out.setdefault(_key_parts(key), []).append((_unquote(name), typ, data))
    return {k: sorted(v) for k, v in out.items()}


def _key_parts(path: str) -> tuple[bytes, ...]:
    return tuple(_unquote(c) for c in path.strip("/").split("/")) if path.strip("/") else ()


def _unquote(text: str) -> bytes:
    return re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]),
                  text.encode("ascii"))  # fmt: skip


REGLOOKUP_TYPES = {
    0: "NONE", 1: "SZ", 2: "EXPAND_SZ", 3: "BINARY", 4: "DWORD", 5: "DWORD_BE", 6: "LINK",
    7: "MULTI_SZ", 8: "RSRC_LIST", 9: "RSRC_DESC", 10: "RSRC_REQ_LIST", 11: "QWORD",
}  # fmt: skip


def _stored(name: str) -> bytes:
    """A name as regf stores it: Latin-1 when every character fits, else UTF-16LE."""
    if all(ord(c) <= 0xFF for c in name):
        return name.encode("latin-1")
    return name.encode("utf-16-le", "surrogatepass")


def reglookup_expect(want: Flat) -> dict[tuple[bytes, ...], list[tuple[bytes, str, str]]]:
    """Type names; data compared for BINARY (%XX-quoted bytes) and 4-byte DWORDs
    (0x%08X); other renderings (string conversion, MULTI_SZ joining) are masked."""
    out: dict[tuple[bytes, ...], list[tuple[bytes, str, str]]] = {}
    for p, (_cls, vals) in want.items():
        exp = []
        for name, t, raw in vals:
            typ = REGLOOKUP_TYPES.get(t, f"0x{t:08X}")
            if t == 3 and not raw:
                data = "(null)"  # reglookup prints empty data as (null)
            elif t == 3:
                data = "".join(chr(b) if 0x20 <= b < 0x7F and chr(b) not in "%,\"" else
                               f"%{b:02X}" for b in raw)  # fmt: skip
            elif t == 4 and len(raw) == 4:
                data = f"0x{int.from_bytes(raw, 'little'):08X}"
            else:
                data = "*"
            exp.append((_stored(name), typ, data))
        out[tuple(_stored(c) for c in p)] = sorted(exp)
    return out


def _reglookup_equal(got: Any, exp: Any) -> bool:
    if got.keys() != exp.keys():
        return False
    for p in got:
        g, e = got[p], exp[p]
        if len(g) != len(e):
            return False
        for (gn, gt, gd), (en, et, ed) in zip(g, e, strict=True):
            if gn != en or gt != et or (ed != "*" and gd != ed):
                return False
    return True


def read_regfexport(path: Path) -> dict[tuple[str, ...], list[tuple[str, str, int]]]:
    """regfexport's text dump: key paths (below the root), value names, the type's
    REG_* name and the data size; classes as "Class name" lines (checked separately)."""
    exe = shutil.which("regfexport")
    if exe is None:
        pytest.skip("regfexport not installed")
    r = subprocess.run([exe, str(path)], capture_output=True, check=True)
    text = r.stdout.decode("utf-8", "surrogateescape")
    out: dict[tuple[str, ...], list[tuple[str, str, int]]] = {}
    cur: tuple[str, ...] | None = None
    name: str | None = None
    typ = ""
    for line in text.split("\n"):
        if line.startswith("Key path: "):
            parts = line[len("Key path: ") :].split("\\")[1:]
            cur = tuple(parts)
            out[cur] = []
        elif line.startswith("Value: ") and cur is not None:
            rest = line[len("Value: ") :]
            _idx, _sp, vname = rest.partition(" ")
            name = "" if vname == "(default)" else vname
        elif line.startswith("Type: ") and name is not None:
            m = re.search(r"\((REG_[A-Z_]+|0x[0-9a-f]+)\)|(0x[0-9a-f]+)", line)
            typ = (m.group(1) or m.group(2)) if m else line[6:]
        elif line.startswith("Data size: ") and name is not None and cur is not None:
            out[cur].append((name, typ, int(line[len("Data size: ") :])))
            name = None
    return {k: sorted(v) for k, v in out.items()}


REGFEXPORT_TYPES = {
    0: "REG_NONE", 1: "REG_SZ", 2: "REG_EXPAND_SZ", 3: "REG_BINARY",
    4: "REG_DWORD_LITTLE_ENDIAN", 5: "REG_DWORD_BIG_ENDIAN", 6: "REG_LINK",
    7: "REG_MULTI_SZ", 8: "REG_RESOURCE_LIST", 9: "REG_FULL_RESOURCE_DESCRIPTOR",
    10: "REG_RESOURCE_REQUIREMENTS_LIST", 11: "REG_QWORD_LITTLE_ENDIAN",
}  # fmt: skip


def regfexport_expect(want: Flat) -> dict[tuple[str, ...], list[tuple[str, str, int]]]:
    """Names, REG_* names and data sizes; the "Data size" of REG_SZ / REG_EXPAND_SZ is
    that of libregf's converted string, not the stored size, so it is masked (-1)."""
    return {
        p: sorted(
            (n, REGFEXPORT_TYPES.get(t, f"0x{t:08x}"), -1 if t in (1, 2) else len(raw))
            for n, t, raw in vals
        )
        for p, (_c, vals) in want.items()
    }


def _regfexport_type_equal(got: Any, exp: Any) -> bool:
    """Types of unknown values are printed as "unknown"-ish text: compare names and sizes
    always, types only when exp names a REG_* type."""
    if got.keys() != exp.keys():
        return False
    for p in got:
        g, e = got[p], exp[p]
        if [n for n, _t, _s in g] != [n for n, _t, _s in e]:
            return False
        for (_gn, gt, gs), (_en, et, es) in zip(g, e, strict=True):
            if (et.startswith("REG_") and gt != et) or (es != -1 and gs != es):
                return False
    return True


# ---------------------------------------------------------------------------------------
# The comparison over every peer
# ---------------------------------------------------------------------------------------


def check_all_peers(want: Flat, path: Path) -> None:
    """Every installed peer reads ``path`` as ``want`` (modulo the modelled peer bugs)."""
    data = path.read_bytes()
    expected = canonical(want)
    # pyregf, python-registry, dissect.regf, regf itself (bytes in, rules applied)
    compare_with_peers(data, expected)
    if oracles.hivex_available():
        got = {tuple(p.split("\\")) if p else (): v for p, _c, v in oracles.walk_hivex(path)}
        assert got == {p: sorted(v) for p, (_c, v) in expected.items()}, "hivex"
    if _importable("regipy"):
        assert _masked_equal(read_regipy(path), regipy_expect(want)), "regipy"
    if shutil.which("reglookup"):
        assert _reglookup_equal(read_reglookup(path), reglookup_expect(want)), "reglookup"
    if shutil.which("regfexport"):
        assert _regfexport_type_equal(read_regfexport(path), regfexport_expect(want)), "regfexport"


def _importable(mod: str) -> bool:
    try:
        __import__(mod)
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=OPS, minor=st.sampled_from([3, 5]))
def test_random_hives_read_identically_by_every_peer(
    tmp_path_factory: pytest.TempPathFactory, ops: list[Op], minor: int
) -> None:
    tmp = tmp_path_factory.mktemp("peers")
    want, files = write_both(tmp, ops, minor)
    for path in files:
        check_all_peers(want, path)


def test_fixed_hive_every_size_and_name_read_by_every_peer(tmp_path: Path) -> None:
    """Deterministic coverage of everything the strategy samples, in one hive."""
    ops: list[Op] = []
    for i, n in enumerate(SIZES):
        for t in (0, 1, 3, 4, 7, 11, 0x1234):
            raw = bytes((i + j) & 0xFF for j in range(n))
            ops.append(("set", ["Values"], f"t{t}_n{n}", t, raw))
    for name in ["é", "Straße", "日本", "\U0001f600", "𐐀z", "ÿx"]:
        ops.append(("mk", ["Names", name], "Cls"))
        ops.append(("set", ["Names", name], name, 3, b"abcdef"))
    ops.append(("rm", ["Values2"]))
    want, files = write_both(tmp_path, ops)
    for path in files:
        check_all_peers(want, path)


def test_thousands_of_subkeys_read_by_every_peer(tmp_path: Path) -> None:
    """3000 subkeys: an ri over several lh leaves (fmt §4.1), after some deletes."""
    image, compact = tmp_path / "image.hiv", tmp_path / "compact.hiv"
    with regf.create(image) as hive:
        many = hive.create_key("Many")
        for i in range(3000):
            many.create_key(f"k{i:05d}é" if i % 7 == 0 else f"k{i:05d}")
        for i in range(0, 3000, 10):
            hive.delete_key(f"Many\\k{i:05d}" + ("é" if i % 7 == 0 else ""))
        many.set_value("v", 7)
        assert isinstance(hive, EditHive)
        assert structure_problems(hive) == []
        want = flat(hive)
        hive.save_as(compact, compact=True)
    assert len(want) == 2 + 2700
    for path in (image, compact):
        check_all_peers(want, path)


# ---------------------------------------------------------------------------------------
# hivexsh edits a regf-written hive; regf reads the edit
# ---------------------------------------------------------------------------------------


_HIVEX_EDIT = r"""
import sys, hivex
src, out = sys.argv[1], sys.argv[2]
h = hivex.Hivex(src, write=True)
root = h.root()
# a new key with values under the root, and a value replaced on the first child
node = h.node_add_child(root, "HivexAdded")
h.node_set_values(node, [{"key": "n", "t": 4, "value": b"\x07\x00\x00\x00"},
                         {"key": "s", "t": 3, "value": b"abcdefgh"}])
kids = h.node_children(root)
first = [k for k in kids if h.node_name(k) != "HivexAdded"]
if first:
    h.node_set_value(first[0], {"key": "hx", "t": 3, "value": b"xyz12"})
    print(h.node_name(first[0]))
h.commit(out)
"""


@pytest.mark.skipif(not oracles.hivex_available(), reason="python3-hivex not importable")
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=OPS)
def test_hivex_edits_random_regf_hives(
    tmp_path_factory: pytest.TempPathFactory, ops: list[Op]
) -> None:
    """hivex (node_add_child, node_set_values, node_set_value, commit) edits random
    regf-written hives, both the in-place image and the save_as copy; regf reads
    exactly the edit and can keep editing the result."""
    tmp = tmp_path_factory.mktemp("hxedit")
    want, files = write_both(tmp, ops)
    for path in files:
        out = path.with_suffix(".hivex.hiv")
        r = subprocess.run(
            [oracles.SYSTEM_PYTHON, "-c", _HIVEX_EDIT, str(path), str(out)],
            capture_output=True, text=True, check=False,
            env={**os.environ, "PYTHONIOENCODING": "utf-8:surrogatepass"},
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        expect = dict(want)
        first = r.stdout.rstrip("\n")
        if first:
            key = (first,)
            cls, vals = expect[key]
            expect[key] = (cls, [v for v in vals if v[0].lower() != "hx"] + [("hx", 3, b"xyz12")])
        expect[("HivexAdded",)] = (None, [("n", 4, b"\x07\0\0\0"), ("s", 3, b"abcdefgh")])
        with regf.open(out) as h:
            got = flat(h)
        norm = {p: (c, sorted(v)) for p, (c, v) in got.items()}
        assert norm == {p: (c, sorted(v)) for p, (c, v) in expect.items()}
        with open_editable(out, in_place=False) as ed:  # a copy: hivex's file stays
            ed.create_key(r"HivexAdded\\After").set_value("x", b"\1\0\0\0", 4)
            assert [p for p in structure_problems(ed) if not p.startswith("leaked")] == []


def test_hivexsh_edits_regf_written_hive(tmp_path: Path) -> None:
    exe = shutil.which("hivexsh")
    if exe is None:
        pytest.skip("hivexsh not installed")
    src, out = tmp_path / "src.hiv", tmp_path / "edited.hiv"
    with regf.create(src) as hive:
        k = hive.create_key(r"Software\Vendor", class_name="Cls")
        k.set_value("Keep", "kept")
        k.set_value("Drop", 1)
        k.set_value("Big", bytes(range(256)) * 100)
        hive.create_key(r"Software\Gone\Child")
        for i in range(600):  # an index root for hivex to insert into
            hive.create_key(rf"Software\Many\m{i:04d}")
    script = "\n".join(
        [
            r"cd \Software\Vendor",
            "setval 2",
            "Drop",
            "none",
            "New",
            "dword:0x2a",
            r"cd \Software",
            "add Added",
            "cd Added",
            "setval 1",
            "@",
            "string:hello",
            r"cd \Software\Gone",
            "del",
            r"cd \Software\Many",
            "add m0300x",
            f"commit {out}",
            "",
        ]
    )
    r = subprocess.run([exe, "-w", str(src)], input=script.encode(), capture_output=True,
                       check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    with regf.open(out) as h:
        got = flat(h)
        from regf.model.check import check_hive

        assert check_hive(h) == []
    vendor = got[("Software", "Vendor")]
    assert vendor[0] == "Cls"
    # hivex's setval replaces all values of the node
    assert vendor[1] == [("Drop", 0, b""), ("New", 4, (42).to_bytes(4, "little"))]
    assert got[("Software", "Added")][1] == [("", 1, "hello\0".encode("utf-16-le"))]
    assert not any(p[:2] == ("Software", "Gone") for p in got)
    many = sorted(p[2] for p in got if p[:2] == ("Software", "Many") and len(p) == 3)
    assert len(many) == 601 and "m0300x" in many
    # regf can keep editing what hivex wrote, adding no problem of its own (hivex's
    # setval leaked the replaced big value's segments: test_peer_bug_hivex_leaks_...)
    with regf.open(out, mode="r+") as ed:
        assert isinstance(ed, EditHive)
        before = structure_problems(ed)
        assert [p for p in before if not p.startswith("leaked cells")] == []
        ed.create_key(r"Software\Added\AfterHivex").set_value("x", 1)
        assert structure_problems(ed) == before
        ed.save_as(tmp_path / "again.hiv")
    with regf.open(tmp_path / "again.hiv") as h:
        assert flat(h)[("Software", "Added", "AfterHivex")][1] == [("x", 4, b"\1\0\0\0")]


# ---------------------------------------------------------------------------------------
# Peer bugs met on regf-written hives (each forgiven above only as modelled here)
# ---------------------------------------------------------------------------------------


def test_peer_bug_pyregf_short_inline_data_on_written_hive(tmp_path: Path) -> None:
    """libregf (pyregf, regfexport) misreads resident data of 1..3 bytes: b"\\1\\2\\3"
    comes back shifted. regf, hivex, python-registry and dissect.regf read the bytes."""
    pyregf = pytest.importorskip("pyregf")
    p = tmp_path / "h.hiv"
    with regf.create(p) as hive:
        hive.root.set_value("three", b"\x01\x02\x03", 3)
    f = pyregf.file()
    f.open(str(p))
    got = f.get_root_key().get_value_by_name("three").data
    f.close()
    assert got != b"\x01\x02\x03"
    assert pyregf_rule(3, b"\x01\x02\x03", got)[0] == pyregf_rule(3, b"\x01\x02\x03", b"")[0]
    with regf.open(p) as h:
        assert h.root.value("three").raw == b"\x01\x02\x03"


def test_peer_bug_hivex_leaks_big_data_segments(tmp_path: Path) -> None:
    """hivex replacing (or deleting) a big-data value frees the db cell only: the
    segment list and the segments stay allocated and unreferenced (a leak regf's check
    reports). hivex writes no db records itself, so it does not follow one it meets."""
    exe = shutil.which("hivexsh")
    if exe is None:
        pytest.skip("hivexsh not installed")
    src, out = tmp_path / "src.hiv", tmp_path / "out.hiv"
    with regf.create(src) as hive:
        hive.create_key("K").set_value("Big", bytes(40000))
    r = subprocess.run([exe, "-w", str(src)], input=f"cd K\nsetval 0\ncommit {out}\n".encode(),
                       capture_output=True, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    with regf.open(out, mode="r+") as ed:
        assert isinstance(ed, EditHive)
        assert ed.open_key("K").values() == []
        problems = structure_problems(ed)
    # 40000 bytes = 3 segments + the segment list: 4 cells left behind
    assert len(problems) == 1 and problems[0].startswith("leaked cells")
    assert problems[0].count(",") + 1 == 4


def test_peer_bug_regipy_short_qword(tmp_path: Path) -> None:
    """regipy parses REG_QWORD data as 8 bytes whatever the stored length: a 5..7-byte
    QWORD makes reading the key's values raise (construct StreamError), and
    ``recurse_subkeys`` aborts there. Windows stores any length for any type."""
    registry = pytest.importorskip("regipy.registry")
    p = tmp_path / "q.hiv"
    with regf.create(p) as hive:
        hive.create_key("Q").set_value("q", b"12345", 11)
    nk = registry.RegistryHive(str(p)).root.get_subkey("Q")
    with pytest.raises(Exception, match="expected 8, found 5"):
        list(nk.iter_values(as_json=False))
    with regf.open(p) as h:
        assert h.open_key("Q").value("q").raw == b"12345"


def test_peer_bug_regipy_latin1_names(tmp_path: Path) -> None:
    """regipy decodes compressed (Latin-1, fmt §4.2) names as UTF-8 with replacement:
    "Straße" comes back as "Stra\ufffde"."""
    registry = pytest.importorskip("regipy.registry")
    p = tmp_path / "n.hiv"
    with regf.create(p) as hive:
        hive.create_key("Straße").set_value("é", 1)
    nk = registry.RegistryHive(str(p)).root
    (sub,) = list(nk.iter_subkeys())
    assert sub.name == "Stra\ufffde" == regipy_name("Straße")
    assert [v.name for v in sub.iter_values(as_json=False)] == ["\ufffd"]


def test_peer_bug_regfexport_string_size_is_converted(tmp_path: Path) -> None:
    """regfexport (libregf) prints a REG_SZ's "Data size" from its converted string,
    not the stored size: a 1-byte REG_SZ shows 2, and 16344 bytes holding "a" and then
    NULs show 4 ("a" and its terminator: cut at the NUL, as pyregf cuts the data). regf and the
    other peers report the stored bytes; only names, types and non-string sizes are
    compared with regfexport."""
    if shutil.which("regfexport") is None:
        pytest.skip("regfexport not installed")
    p = tmp_path / "s.hiv"
    big = b"a\0" + bytes(16342)
    with regf.create(p) as hive:
        hive.root.set_value("one", b"\0", 1)
        hive.root.set_value("big", big, 1)
    got = dict((n, s) for n, _t, s in read_regfexport(p)[()])
    assert got == {"one": 2, "big": 4}
    with regf.open(p) as h:
        assert h.root.value("one").raw == b"\0" and h.root.value("big").raw == big
