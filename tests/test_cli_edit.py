"""Editing CLI commands (``regf new|mkkey|set|rm|rmval|rename|import|shell|flush``):
in place by default (through the writer lock and a full flush via the logs), ``-o OUT``
writes a copy and leaves HIVE untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import regf
from regf.cli import main
from regf.format.constants import ValueType
from regf.model.check import check_hive

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample.hiv"


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def ok(*args: str, input: str | None = None) -> Result:
    r = run(*args, input=input)
    assert r.exit_code == 0, (r.output, r.exception)
    return r


def one_line_error(r: Result, needle: str = "") -> None:
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines() if r.stderr_bytes is not None else []
    text = "\n".join(lines) or r.output.strip()
    assert len(text.splitlines()) == 1, text
    assert text.startswith("regf: error: ")
    assert "Traceback" not in r.output
    assert needle.lower() in text.lower(), text


def walk(path: Path) -> list[tuple[str, list[tuple[str, int, bytes]]]]:
    with regf.open(path) as h:
        return [
            (k.path, [(v.name, int(v.type), bytes(v.raw)) for v in k.values()]) for k in h.walk()
        ]


def value(path: Path, key: str, name: str) -> Any:
    with regf.open(path) as h:
        v = (h.open_key(key) if key else h.root).value(name)
        return int(v.type), bytes(v.raw)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    """A small hive: Soft\\Foo with one REG_SZ value."""
    a, b, c = tmp_path / "a.hiv", tmp_path / "b.hiv", tmp_path / "base.hiv"
    ok("new", str(a))
    ok("mkkey", str(a), "Soft\\Foo", "-o", str(b))
    ok("set", str(b), "Soft\\Foo", "v", "hello", "-o", str(c))
    return c


def test_new(tmp_path: Path) -> None:
    out = tmp_path / "n.hiv"
    ok("new", str(out), "--minor", "3")
    with regf.open(out) as h:
        assert h.base_block.minor == 3
        assert [k.path for k in h.walk()] == [""]
    one_line_error(run("new", str(out)), "exists")
    ok("new", str(out), "--force")


def test_mkkey_and_class(tmp_path: Path) -> None:
    a, b = tmp_path / "a.hiv", tmp_path / "b.hiv"
    ok("new", str(a))
    before = digest(a)
    ok("mkkey", str(a), "X\\Y\\Z", "-o", str(b), "--class", "MyClass")
    assert digest(a) == before  # input untouched
    with regf.open(b) as h:
        assert [k.path for k in h.walk()] == ["", "X", "X\\Y", "X\\Y\\Z"]
        assert h.open_key("X\\Y\\Z").class_name == "MyClass"


@pytest.mark.parametrize(
    ("args", "vtype", "raw"),
    [
        (["s", "héllo"], ValueType.REG_SZ, "héllo".encode("utf-16-le") + b"\0\0"),
        (["e", "%X%", "-t", "REG_EXPAND_SZ"], ValueType.REG_EXPAND_SZ, "%X%\0".encode("utf-16-le")),
        (["m", "a", "bc", "-t", "REG_MULTI_SZ"], 7, "a\0bc\0\0".encode("utf-16-le")),
        (["m", "a;bc", "-t", "multi_sz", "--sep", ";"], 7, "a\0bc\0\0".encode("utf-16-le")),
        (["d", "0x10", "-t", "REG_DWORD"], ValueType.REG_DWORD, b"\x10\0\0\0"),
        (["d", "4294967295", "-t", "REG_DWORD"], ValueType.REG_DWORD, b"\xff" * 4),
        (["q", "0x1122334455667788", "-t", "REG_QWORD"], 11, bytes.fromhex("8877665544332211")),
        (["b", "01 02,ff", "-t", "REG_BINARY"], ValueType.REG_BINARY, b"\x01\x02\xff"),
        (["n", "", "-t", "REG_NONE"], ValueType.REG_NONE, b""),
        (["x", "hex:dead", "-t", "0x12", "--hex"], 0x12, b"\xde\xad"),
        (["x", "6100", "-t", "REG_SZ", "--hex"], ValueType.REG_SZ, b"a\0"),  # no NUL added
        (["@", "dflt"], ValueType.REG_SZ, "dflt\0".encode("utf-16-le")),
    ],
)
def test_set_types(tmp_path: Path, base: Path, args: list[str], vtype: int, raw: bytes) -> None:
    out = tmp_path / "o.hiv"
    name = args[0]
    ok("set", str(base), "Soft\\Foo", *args, "-o", str(out))
    assert value(out, "Soft\\Foo", "" if name == "@" else name) == (int(vtype), raw)
    assert value(out, "Soft\\Foo", "v")[0] == ValueType.REG_SZ  # others kept


def test_set_default_value_by_empty_name(tmp_path: Path, base: Path) -> None:
    out = tmp_path / "o.hiv"
    ok("set", str(base), "Soft", "", "x", "-o", str(out))
    assert value(out, "Soft", "") == (1, "x\0".encode("utf-16-le"))


def test_set_errors(tmp_path: Path, base: Path) -> None:
    out = tmp_path / "o.hiv"
    one_line_error(run("set", str(base), "Soft", "d", "0x100000000", "-t", "REG_DWORD", "-o",
                       str(out)), "does not fit")  # fmt: skip
    neg = ["-t", "REG_QWORD", "-o", str(out), "--", "Soft", "d", "-1"]
    one_line_error(run("set", str(base), *neg), "does not fit")
    one_line_error(run("set", str(base), "Soft", "d", "abc", "-t", "REG_DWORD", "-o", str(out)))
    one_line_error(run("set", str(base), "Soft", "d", "1", "-t", "REG_BOGUS", "-o", str(out)))
    one_line_error(run("set", str(base), "Soft", "b", "zz", "--hex", "-o", str(out)), "hex")
    one_line_error(run("set", str(base), "Nope", "v", "x", "-o", str(out)), "Nope")
    assert not out.exists()


def test_set_create(tmp_path: Path, base: Path) -> None:
    out = tmp_path / "o.hiv"
    ok("set", str(base), "New\\Key", "v", "7", "-t", "REG_DWORD", "--create", "-o", str(out))
    assert value(out, "New\\Key", "v") == (4, b"\x07\0\0\0")


def test_rm(tmp_path: Path, base: Path) -> None:
    out = tmp_path / "o.hiv"
    one_line_error(run("rm", str(base), "Soft", "-o", str(out)), "subkeys")
    ok("rm", str(base), "Soft\\Foo", "-o", str(out))
    assert [p for p, _ in walk(out)] == ["", "Soft"]
    ok("rm", str(base), "Soft", "-r", "-o", str(out), "--force")
    assert [p for p, _ in walk(out)] == [""]
    one_line_error(run("rm", str(base), "Missing", "-o", str(out), "-f"), "Missing")


def test_rmval(tmp_path: Path, base: Path) -> None:
    out = tmp_path / "o.hiv"
    ok("rmval", str(base), "Soft\\Foo", "V", "-o", str(out))
    assert walk(out)[-1] == ("Soft\\Foo", [])
    one_line_error(run("rmval", str(base), "Soft\\Foo", "nope", "-o", str(out), "-f"), "nope")


def test_rename(tmp_path: Path, base: Path) -> None:
    out = tmp_path / "o.hiv"
    ok("rename", str(base), "Soft\\Foo", "Bar", "-o", str(out))
    assert [p for p, _ in walk(out)] == ["", "Soft", "Soft\\Bar"]
    assert value(out, "Soft\\Bar", "v")[0] == 1


@pytest.mark.parametrize(
    "cmd",
    [
        ["mkkey", "{h}", "K"],
        ["set", "{h}", "Soft", "v", "x"],
        ["rm", "{h}", "Soft\\Foo"],
        ["rmval", "{h}", "Soft\\Foo", "v"],
        ["rename", "{h}", "Soft", "S2"],
        ["import", "{h}", "{reg}"],
    ],
)
def test_out_equal_hive_refused(tmp_path: Path, base: Path, cmd: list[str]) -> None:
    reg = tmp_path / "x.reg"
    reg.write_text("Windows Registry Editor Version 5.00\r\n\r\n[ROOT\\K]\r\n", "utf-8")
    before = digest(base)
    args = [a.format(h=base, reg=reg) for a in cmd]
    one_line_error(run(*args, "-o", str(base)), "overwrite")
    # another spelling of the same file
    alias = str(base.parent / "." / base.name)
    one_line_error(run(*args, "-o", alias), "overwrite")
    assert digest(base) == before
    ok(*args)  # without -o: HIVE itself is edited
    assert digest(base) != before
    with regf.open(base) as h:
        assert not h.base_block.dirty  # a full flush: no log needed to read it


def test_help_mentions_in_place_and_out(tmp_path: Path) -> None:
    for cmd in ("mkkey", "set", "rm", "rmval", "rename", "import", "shell"):
        text = " ".join(ok(cmd, "--help").output.split())
        assert "HIVE is edited in place" in text, cmd
        assert "-o OUT" in text and "untouched" in text, cmd
    assert "Reconcile a dirty HIVE in place" in " ".join(ok("flush", "--help").output.split())


def test_import_roundtrip_sample(tmp_path: Path) -> None:
    reg, empty, out = tmp_path / "s.reg", tmp_path / "e.hiv", tmp_path / "o.hiv"
    ok("export", str(SAMPLE), "--format", "reg", "-o", str(reg))
    assert reg.read_bytes()[:2] == b"\xff\xfe"
    ok("new", str(empty))
    ok("import", str(empty), str(reg), "-o", str(out))
    assert walk(out) == walk(SAMPLE)


def test_import_utf8_prefix_and_deletes(tmp_path: Path, base: Path) -> None:
    reg, out = tmp_path / "x.reg", tmp_path / "o.hiv"
    reg.write_bytes(
        "\r\n".join(
            [
                "Windows Registry Editor Version 5.00",
                "",
                "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Soft\\Foo]",
                '"v"=-',
                '"ü"="wört"',
                "@=dword:00000005",
                "",
                "[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Missing]",
                "[HKEY_LOCAL_MACHINE\\SOFTWARE\\New\\K]",
                '"h"=hex(b):01,00,00,00,00,00,00,00',
                "",
            ]
        ).encode("utf-8")
    )
    ok("import", str(base), str(reg), "--prefix", "HKEY_LOCAL_MACHINE\\SOFTWARE", "-o", str(out))
    got = dict(walk(out))
    assert got["Soft\\Foo"] == [
        ("ü", 1, "wört\0".encode("utf-16-le")),
        ("", 4, b"\x05\0\0\0"),
    ]
    assert got["New\\K"] == [("h", 11, (1).to_bytes(8, "little"))]
    # Default stripping removes only the first component: SOFTWARE stays.
    ok("import", str(base), str(reg), "-o", str(out), "--force")
    assert "SOFTWARE\\New\\K" in dict(walk(out))
    one_line_error(
        run("import", str(base), str(reg), "--prefix", "HKCU", "-o", str(out), "-f"), "prefix"
    )


def test_import_delete_key(tmp_path: Path, base: Path) -> None:
    reg, out = tmp_path / "x.reg", tmp_path / "o.hiv"
    text = "Windows Registry Editor Version 5.00\r\n\r\n[-ROOT\\Soft]\r\n"
    reg.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    ok("import", str(base), str(reg), "-o", str(out))
    assert [p for p, _ in walk(out)] == [""]


def test_import_reuses_keys_only_while_they_live(tmp_path: Path, base: Path) -> None:
    """apply_reg keeps the handles of keys it opened (values go to the section's key,
    subkeys are made under their parent's handle): a key deleted and made again in the
    same file, other letter case, and a section revisited all land where regedit puts
    them."""
    reg, out = tmp_path / "x.reg", tmp_path / "o.hiv"
    reg.write_text(
        "\r\n".join(
            [
                "Windows Registry Editor Version 5.00",
                "[ROOT\\A\\B]",
                '"v"="1"',
                "[ROOT\\A\\B\\C]",
                '"c"=dword:00000003',
                "[-ROOT\\A]",
                "[ROOT\\A\\B]",
                '"w"="2"',
                "[root\\a\\b\\c]",
                '"lower"=dword:00000001',
                "[ROOT\\A\\B]",
                '"x"="3"',
                "[root\\A\\b]",
                '"y"="4"',
                "",
            ]
        ),
        "utf-8",
    )
    ok("import", str(base), str(reg), "-o", str(out))
    got = dict(walk(out))
    # C went with the deleted A; [root\a\b\c] then made a new key named "c"
    assert "A\\B\\C" not in got and got["A\\B\\c"] == [("lower", 4, b"\1\0\0\0")]
    # "v" went with A too; "y" reached the same key through another letter case
    assert [n for n, _t, _d in got["A\\B"]] == ["w", "x", "y"]


def test_import_cut_utf16_file(tmp_path: Path, base: Path) -> None:
    """A UTF-16 .reg file with an odd byte count (cut short) is a one-line error."""
    reg, out = tmp_path / "x.reg", tmp_path / "o.hiv"
    text = "Windows Registry Editor Version 5.00\r\n\r\n[ROOT\\A]\r\n"
    reg.write_bytes((b"\xff\xfe" + text.encode("utf-16-le"))[:-1])
    one_line_error(run("import", str(base), str(reg), "-o", str(out)), "UTF-16")
    assert not out.exists()


def test_import_bad_file(tmp_path: Path, base: Path) -> None:
    reg, out = tmp_path / "x.reg", tmp_path / "o.hiv"
    reg.write_text("not a reg file\n", "utf-8")
    one_line_error(run("import", str(base), str(reg), "-o", str(out)), "not a .reg")
    assert not out.exists()


def test_shell_session(tmp_path: Path, base: Path) -> None:
    out, out2 = tmp_path / "o.hiv", tmp_path / "o2.hiv"
    before = digest(base)
    script = "\n".join(
        [
            "# a comment",
            "ls",
            "cd Soft\\Foo",
            "lsval",
            'setval x REG_SZ "hi there"',
            "setval @ hex:REG_BINARY 01,02",
            "setval m REG_MULTI_SZ a 'b c'",
            "setval d REG_DWORD 0x20",
            "rmval v",
            "cd ..",
            "rename Foo Baz",
            "mkkey New\\Sub",
            "mkkey Gone",
            "rmkey Gone",
            "rmkey New -r",
            "mkkey Kept",
            "ls",
            "commit",
            "cd \\",
            "mkkey Later",
            f"commit {out2}",
            "quit",
            "mkkey NeverRun",
        ]
    )
    r = ok("shell", str(base), "-o", str(out), input=script + "\n")
    assert r.stdout.splitlines() == ["Soft", '"v"=REG_SZ:hello', "Baz", "Kept"]
    assert digest(base) == before
    got = dict(walk(out))
    assert list(got) == ["", "Soft", "Soft\\Baz", "Soft\\Kept"]
    assert got["Soft\\Baz"] == [
        ("x", 1, "hi there\0".encode("utf-16-le")),
        ("", 3, b"\x01\x02"),
        ("m", 7, "a\0b c\0\0".encode("utf-16-le")),
        ("d", 4, b"\x20\0\0\0"),
    ]
    assert list(dict(walk(out2))) == ["", "Later", "Soft", "Soft\\Baz", "Soft\\Kept"]


def test_shell_errors_continue(tmp_path: Path, base: Path) -> None:
    out = tmp_path / "o.hiv"
    script = "\n".join(
        [
            "cd Nope",
            "bogus",
            "setval d REG_DWORD 99999999999",
            "rmkey Soft",
            f"commit {base}",
            "mkkey Ok",
            "commit",
        ]
    )
    r = run("shell", str(base), "-o", str(out), input=script + "\n")
    assert r.exit_code == 1
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 5, errors
    assert all(line.startswith("regf shell: line ") and "error: " in line for line in errors)
    assert [p for p, _ in walk(out)] == ["", "Ok", "Soft", "Soft\\Foo"]


def test_shell_commit_flushes_in_place(base: Path) -> None:
    r = run("shell", str(base), input="mkkey A\ncommit\nmkkey B\n")
    assert r.exit_code == 0, r.stderr
    assert "uncommitted changes discarded" in r.stderr
    assert [p for p, _ in walk(base)] == ["", "A", "Soft", "Soft\\Foo"]  # B was not committed


def test_shell_out_equal_hive(base: Path) -> None:
    one_line_error(run("shell", str(base), "-o", str(base), input=""), "overwrite")


# ---------------------------------------------------------------------------------------
# In place (the default) and regf flush
# ---------------------------------------------------------------------------------------


def logs_of(hive: Path) -> list[str]:
    return sorted(p.name for p in hive.parent.iterdir() if p.name.startswith(hive.name + "."))


@pytest.mark.parametrize(
    ("cmd", "paths"),
    [
        (["mkkey", "{h}", "K\\L"], ["", "K", "K\\L", "Soft", "Soft\\Foo"]),
        (["set", "{h}", "Soft", "v", "x"], ["", "Soft", "Soft\\Foo"]),
        (["rm", "{h}", "Soft\\Foo"], ["", "Soft"]),
        (["rm", "{h}", "Soft", "-r"], [""]),
        (["rmval", "{h}", "Soft\\Foo", "v"], ["", "Soft", "Soft\\Foo"]),
        (["rename", "{h}", "Soft", "S2"], ["", "S2", "S2\\Foo"]),
        (["import", "{h}", "{reg}"], ["", "New", "Soft", "Soft\\Foo"]),
    ],
)
def test_edit_in_place(tmp_path: Path, base: Path, cmd: list[str], paths: list[str]) -> None:
    reg = tmp_path / "x.reg"
    reg.write_text('Windows Registry Editor Version 5.00\r\n\r\n[ROOT\\New]\r\n"a"="b"\r\n')
    before = walk(base)
    assert logs_of(base) == []
    ok(*[a.format(h=base, reg=reg) for a in cmd])
    after = walk(base)
    assert after != before and [p for p, _ in after] == paths
    # The flush went through a log first; the writer laid out both logs (issue 15 item 7).
    assert logs_of(base) == ["base.hiv.LOG1", "base.hiv.LOG2"]
    assert (base.parent / "base.hiv.LOG1").stat().st_size > 0
    with regf.open(base) as h:
        assert not h.base_block.dirty
        assert check_hive(h) == []


def test_out_leaves_hive_and_logs_untouched(tmp_path: Path, base: Path) -> None:
    # A dirty HIVE (a log-only flush): -o reads it recovered, but writes nothing beside it.
    with regf.open(base, mode="r+") as ed:
        ed.create_key("Pending")
        ed.flush(reconcile=False)
        ed.discard()  # keep it dirty
    snap = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    out = tmp_path / "o.hiv"
    ok("mkkey", str(base), "Copy", "-o", str(out))
    snap.pop("o.hiv", None)
    now = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and p != out}
    assert now == snap
    assert [p for p, _ in walk(out)] == ["", "Copy", "Pending", "Soft", "Soft\\Foo"]


def test_in_place_refused_while_another_writer_has_it(base: Path) -> None:
    before = digest(base)
    with regf.open(base, mode="r+"):
        one_line_error(run("mkkey", str(base), "K"), "open for writing")
    assert digest(base) == before


def test_forensic_cannot_edit_in_place(tmp_path: Path, base: Path) -> None:
    one_line_error(run("--forensic", "mkkey", str(base), "K"), "-o OUT")
    ok("--forensic", "mkkey", str(base), "K", "-o", str(tmp_path / "o.hiv"))


def test_flush_reconciles_a_dirty_hive(base: Path) -> None:
    with regf.open(base, mode="r+") as ed:
        ed.open_key("Soft\\Foo").set_value("v", "flushed to the log only")
        ed.flush(reconcile=False)
        ed.discard()
    with regf.open(base, recover=False) as stale:
        assert stale.base_block.dirty
    r = ok("flush", str(base))
    assert "was dirty" in r.output and "now clean" in r.output
    with regf.open(base, recover=False) as h:  # no log needed any more
        assert not h.base_block.dirty
    assert value(base, "Soft\\Foo", "v") == (1, "flushed to the log only\0".encode("utf-16-le"))
    again = ok("flush", str(base))
    assert "clean, nothing to reconcile" in again.output


def test_output_is_scrubbed_image_or_compact(base: Path, tmp_path: Path) -> None:
    """``-o OUT`` writes the hive as it stands with free cells zeroed (a deleted value's
    data is gone from OUT); ``--compact`` re-packs it: no free cell but the bins' tails,
    and the same keys and values either way."""
    marker = "SECRET-MARKER-" * 8
    with_secret, plain, packed = (tmp_path / n for n in ("s.hiv", "p.hiv", "c.hiv"))
    ok("set", str(base), "Soft\\Foo", "secret", marker, "-o", str(with_secret))
    assert marker.encode("utf-16-le") in with_secret.read_bytes()
    ok("rmval", str(with_secret), "Soft\\Foo", "secret", "-o", str(plain))
    ok("rmval", str(with_secret), "Soft\\Foo", "secret", "-o", str(packed), "--compact")
    for out in (plain, packed):
        assert marker.encode("utf-16-le") not in out.read_bytes()
        assert walk(out) == walk(base)
        with regf.open(out) as h:
            assert check_hive(h) == []
    assert len(packed.read_bytes()) <= len(plain.read_bytes())
