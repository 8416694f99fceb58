"""Tests for regf.model.regexport: regedit-exact value lines, export, and the .reg parser."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regf.model.regexport import (
    CreateKey,
    DeleteKey,
    DeleteValue,
    RegParseError,
    SetValue,
    export_json,
    export_reg,
    parse_reg,
    reg_sz_text,
    reg_value_line,
)


@dataclass
class FakeValue:
    name: str
    type: int
    raw: bytes

    @property
    def data(self) -> bytes:
        return self.raw


@dataclass
class FakeKey:
    name: str
    vals: list[FakeValue] = field(default_factory=list)
    subs: list[FakeKey] = field(default_factory=list)
    class_name: str | None = None

    def subkeys(self) -> list[FakeKey]:
        return self.subs

    def values(self) -> list[FakeValue]:
        return self.vals


def sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


# ----------------------------------------------------------------------- value lines


@pytest.mark.parametrize(
    ("name", "type_int", "raw", "expected"),
    [
        ("a", 1, sz("x"), '"a"="x"'),
        ("", 1, sz("default"), '@="default"'),
        ('q"uo\\te', 1, sz('C:\\dir\\"x"'), '"q\\"uo\\\\te"="C:\\\\dir\\\\\\"x\\""'),
        ("e", 1, sz(""), '"e"=""'),
        ("d", 4, (0x12345678).to_bytes(4, "little"), '"d"=dword:12345678'),
        ("d", 4, b"\x01", '"d"=hex(4):01'),
        ("d", 4, b"\x01\x00\x00\x00\x00", '"d"=hex(4):01,00,00,00,00'),
        ("b", 3, b"\x01\x02\xff", '"b"=hex:01,02,ff'),
        ("n", 0, b"", '"n"=hex(0):'),
        ("x", 2, sz("%X%"), '"x"=hex(2):25,00,58,00,25,00,00,00'),
        ("q", 11, b"\xff" * 8, '"q"=hex(b):ff,ff,ff,ff,ff,ff,ff,ff'),
        ("u", 0x12, b"\x00", '"u"=hex(12):00'),
        ("u", 0xFFFF0001, b"", '"u"=hex(ffff0001):'),
        ("be", 5, b"\x00\x00\x00\x2a", '"be"=hex(5):00,00,00,2a'),
    ],
)
def test_value_line_exact(name: str, type_int: int, raw: bytes, expected: str) -> None:
    assert reg_value_line(name, type_int, raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # no terminator at all
        b"a\x00",  # one code unit ("a"), no NUL terminator
        "ab".encode("utf-16-le"),  # not NUL terminated
        sz("a") + b"\x00\x00",  # two terminating NULs
        sz("a\0b"),  # embedded NUL
        sz("ab") + b"\x00",  # odd length
        b"\x00\xd8\x00\x00",  # lone high surrogate
    ],
)
def test_reg_sz_falls_back_to_hex(raw: bytes) -> None:
    assert reg_sz_text(raw) is None
    assert reg_value_line("s", 1, raw).startswith('"s"=hex(1):')


def test_wrapping_matches_regedit_sample() -> None:
    # Layout of a real regedit export: 21 bytes after the 16-character prefix, then 25
    # bytes per two-space-indented continuation line, each line ending in ",\".
    raw = bytes(range(71))
    text = reg_value_line("ProductId", 3, raw)
    lines = text.split("\r\n")
    assert lines[0].startswith('"ProductId"=hex:00,01,')
    assert len(lines[0]) == 80 and lines[0].endswith(",\\")
    assert lines[0].count(",") == 21
    assert lines[1].startswith("  ") and len(lines[1]) == 78 and lines[1].count(",") == 25
    assert lines[2] == "  " + ",".join(f"{b:02x}" for b in raw[46:])
    assert all(len(line) <= 80 for line in lines)


def test_wrapping_default_value_and_lf() -> None:
    text = reg_value_line("", 7, bytes(100), newline="\n")
    first = text.split("\n")[0]
    # "@=hex(7):" is 9 columns: the first line holds 23 bytes (9 + 3*23 = 78 >= 77).
    assert first.count(",") == 23
    assert "\r" not in text


def test_no_wrap_after_last_byte() -> None:
    # 21 bytes fit exactly: the 21st byte would be followed by a wrap only if not last.
    text = reg_value_line("ProductId", 3, bytes(21))
    assert "\\" not in text.replace('"ProductId"', "")


# ----------------------------------------------------------------------- export


def sample_tree() -> FakeKey:
    child = FakeKey("Child", [FakeValue("v", 4, b"\x01\x00\x00\x00")])
    return FakeKey(
        "ROOT",
        [FakeValue("", 1, sz("def")), FakeValue("bin", 3, b"\x00")],
        [child, FakeKey("Empty")],
    )


def test_export_reg_layout() -> None:
    lines = list(export_reg(sample_tree(), "HKEY_LOCAL_MACHINE\\SOFTWARE"))
    assert lines == [
        "Windows Registry Editor Version 5.00",
        "",
        "[HKEY_LOCAL_MACHINE\\SOFTWARE]",
        '@="def"',
        '"bin"=hex:00',
        "",
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Child]",
        '"v"=dword:00000001',
        "",
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Empty]",
        "",
    ]


def test_export_reg_default_prefix_is_root_name() -> None:
    assert list(export_reg(sample_tree()))[2] == "[ROOT]"


def test_export_json() -> None:
    text = "\n".join(export_json(sample_tree()))
    doc = json.loads(text)
    assert [k["path"] for k in doc] == ["ROOT", "ROOT\\Child", "ROOT\\Empty"]
    assert doc[0]["values"][1] == {
        "name": "bin",
        "type": "REG_UNKNOWN_0x3",
        "type_id": 3,
        "data": "00",
        "raw": "00",
    }
    lines = list(export_json(sample_tree(), lines=True))
    assert len(lines) == 3 and json.loads(lines[1])["path"] == "ROOT\\Child"


# ----------------------------------------------------------------------- parsing


def test_parse_regedit5_operations() -> None:
    text = (
        "\ufeffWindows Registry Editor Version 5.00\r\n\r\n"
        "; a comment\r\n"
        "[HKEY_CURRENT_USER\\A]\r\n"
        '"s"="a\\"b\\\\c"\r\n'
        "@=dword:0000002a\r\n"
        '"h"=hex(7):61,00,\\\r\n'
        "  ; comment inside continuation\r\n"
        "  00,00,00,00\r\n"
        '"gone"=-\r\n'
        "\r\n"
        "[-HKEY_CURRENT_USER\\B]\r\n"
    )
    ops = parse_reg(text)
    assert ops == [
        CreateKey("HKEY_CURRENT_USER\\A"),
        SetValue("HKEY_CURRENT_USER\\A", "s", 1, sz('a"b\\c')),
        SetValue("HKEY_CURRENT_USER\\A", "", 4, b"\x2a\x00\x00\x00"),
        SetValue("HKEY_CURRENT_USER\\A", "h", 7, b"a\x00\x00\x00\x00\x00"),
        DeleteValue("HKEY_CURRENT_USER\\A", "gone"),
        DeleteKey("HKEY_CURRENT_USER\\B"),
    ]


def test_parse_regedit4_ansi() -> None:
    text = 'REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\X]\n"s"="\xe9t\xe9"\n"e"=hex(2):25,e9,00\n"b"=hex:e9\n'
    ops = parse_reg(text)
    assert ops[1] == SetValue("HKEY_LOCAL_MACHINE\\X", "s", 1, sz("\xe9t\xe9"))
    assert ops[2] == SetValue("HKEY_LOCAL_MACHINE\\X", "e", 2, "%\xe9\0".encode("utf-16-le"))
    assert ops[3] == SetValue("HKEY_LOCAL_MACHINE\\X", "b", 3, b"\xe9")


@pytest.mark.parametrize(
    "text",
    [
        "not a reg file\n",
        'Windows Registry Editor Version 5.00\n"v"="outside a key"\n',
        'Windows Registry Editor Version 5.00\n[K]\n"v"=hex:zz\n',
        'Windows Registry Editor Version 5.00\n[K]\n"v"=dword:123456789\n',
        "Windows Registry Editor Version 5.00\n[K\n",
        'Windows Registry Editor Version 5.00\n[K]\n"v"="unterminated\n',
        'Windows Registry Editor Version 5.00\n[K]\n"v"=bogus\n',
    ],
)
def test_parse_errors(text: str) -> None:
    with pytest.raises(RegParseError):
        parse_reg(text)


# ----------------------------------------------------------------------- round trip

TYPES = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), st.integers(0, 2**32 - 1)
)
KEY_NAMES = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\\\r\n"),
    min_size=1,
    max_size=12,
)
VALUE_NAMES = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@st.composite
def raw_for(draw: st.DrawFn, type_int: int) -> bytes:
    if type_int == 1 and draw(st.booleans()):
        return sz(draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=40)))
    if type_int == 4 and draw(st.booleans()):
        return draw(st.binary(min_size=4, max_size=4))
    return draw(st.binary(max_size=300))


@st.composite
def values(draw: st.DrawFn) -> FakeValue:
    type_int = draw(TYPES)
    return FakeValue(draw(VALUE_NAMES), type_int, draw(raw_for(type_int)))


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> FakeKey:
    key = FakeKey(draw(KEY_NAMES), draw(st.lists(values(), max_size=4)))
    if depth < 2:
        key.subs = draw(st.lists(trees(depth + 1), max_size=3))
    return key


def expected_ops(key: FakeKey, path: str) -> list[object]:
    ops: list[object] = [CreateKey(path)]
    ops.extend(SetValue(path, v.name, v.type, v.raw) for v in key.vals)
    for sub in key.subs:
        ops.extend(expected_ops(sub, f"{path}\\{sub.name}"))
    return ops


@given(trees(), st.sampled_from(["\r\n", "\n"]))
def test_export_parse_round_trip(tree: FakeKey, newline: str) -> None:
    text = newline.join(export_reg(tree, "HKEY_LOCAL_MACHINE\\T", newline=newline)) + newline
    assert parse_reg(text) == expected_ops(tree, "HKEY_LOCAL_MACHINE\\T")


@given(VALUE_NAMES, TYPES, st.binary(max_size=2000))
def test_value_round_trip_random_bytes(name: str, type_int: int, raw: bytes) -> None:
    line = reg_value_line(name, type_int, raw)
    if type_int != 1:  # hex lines never exceed 80 columns (names here are short)
        assert all(len(part) <= 80 for part in line.split("\r\n"))
    text = f"Windows Registry Editor Version 5.00\r\n\r\n[K]\r\n{line}\r\n"
    assert parse_reg(text) == [CreateKey("K"), SetValue("K", name, type_int, raw)]


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=60))
def test_string_round_trip(text: str) -> None:
    raw = sz(text)
    line = reg_value_line("s", 1, raw)
    if "\0" not in text and "\n" not in text and "\r" not in text:
        assert line.startswith('"s"="')
    else:  # line breaks and NULs go out as hex(1), which every importer takes
        assert line.startswith('"s"=hex(1):')
    doc = f"Windows Registry Editor Version 5.00\r\n[K]\r\n{line}\r\n"
    assert parse_reg(doc)[1] == SetValue("K", "s", 1, raw)
