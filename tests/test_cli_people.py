"""The command line for people and pipes (issue 16), run through the installed ``regf``
entry point in a subprocess: exit status, stdout and stderr as a user sees them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import regf

ROOT = Path(__file__).resolve().parent.parent
EXE = shutil.which("regf")
LONG = "L" * 200

pytestmark = pytest.mark.skipif(EXE is None, reason="the regf entry point is not installed")


def regf_cli(*args: str, input: str | None = None, cwd: Path | None = None) -> Any:
    """Run the installed ``regf`` with this checkout on PYTHONPATH (stdout is a pipe)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="80")
    assert EXE is not None
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, input=input, env=env, cwd=cwd, timeout=120
    )


def one_error(res: Any, file: str | Path, *words: str) -> str:
    """Exit 1 and exactly one line ``regf: error: FILE: ...`` containing ``words``."""
    assert res.returncode == 1, (res.stdout, res.stderr)
    line = res.stderr
    assert line.count("\n") == 1 and line.startswith(f"regf: error: {file}: "), line
    for w in words:
        assert w in line, (w, line)
    assert "Traceback" not in line and "regf-tmp" not in line
    return line


@pytest.fixture
def hive(tmp_path: Path) -> Path:
    path = tmp_path / "h.hiv"
    with regf.create(path, root_name="CMI-CreateHive{ABC}") as h:
        soft = h.create_key("Software")
        run = h.create_key("Software\\Vendor\\Run")
        run.set_value("app", "c:\\app.exe")
        h.create_key("Software\\Other\\Run").set_value("tool", "c:\\tool.exe")
        soft.set_value("multi", "line one\r\nline two")
        soft.set_value("n", 0x1234, regf.REG_DWORD)
        soft.set_value("blob", b"\x01\x02\x03", regf.REG_BINARY)
        h.create_key(f"Software\\{LONG}")
        h.create_key("ControlSet001\\Services\\Tcpip").set_value("Start", 1, regf.REG_DWORD)
        h.create_key("ControlSet002\\Services\\Dhcp")
    return path


# -- item 1: never over an input hive or its logs; --force for any existing file ---------


def test_export_over_input_hive_refused(hive: Path) -> None:
    before = hive.read_bytes()
    for target in (hive, hive.parent / (hive.name + ".LOG1")):
        if target != hive:
            target.write_bytes(b"")
        res = regf_cli("export", str(hive), "-o", str(target), "--force")
        one_error(res, target, "refusing")
    assert hive.read_bytes() == before


def test_same_inode_and_symlink_refused(hive: Path, tmp_path: Path) -> None:
    link = tmp_path / "hard"
    os.link(hive, link)
    sym = tmp_path / "sym"
    sym.symlink_to(hive)
    before = hive.read_bytes()
    for target in (link, sym):
        for cmd in (["export", str(hive)], ["mkkey", str(hive), "X"], ["recover", str(hive)]):
            one_error(regf_cli(*cmd, "-o", str(target), "--force"), target, "input hive")
    assert hive.read_bytes() == before


def test_existing_file_needs_force_for_every_command(hive: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    for cmd in (
        ["export", str(hive)],
        ["mkkey", str(hive), "X"],
        ["set", str(hive), "Software", "v", "1"],
        ["rm", str(hive), "Software\\Other", "-r"],
        ["recover", str(hive)],
    ):
        notes.write_text("keep me")
        one_error(regf_cli(*cmd, "-o", str(notes)), notes, "--force")
        assert notes.read_text() == "keep me"
        res = regf_cli(*cmd, "-o", str(notes), "--force")
        assert res.returncode == 0, (cmd, res.stderr)
        assert notes.read_text(errors="replace") != "keep me"
    notes.write_text("keep me")
    one_error(regf_cli("new", str(notes)), notes, "--force")


# -- item 2: plain, unwrapped output when piped; --json everywhere -------------------------


def test_piped_output_is_plain_and_unwrapped(hive: Path) -> None:
    tree = regf_cli("tree", str(hive))
    assert tree.returncode == 0 and tree.stderr == ""
    assert any(line.endswith(LONG) for line in tree.stdout.splitlines())
    assert "\x1b[" not in tree.stdout
    ls = regf_cli("ls", str(hive), "Software")
    assert any(line.endswith(LONG + "\\") for line in ls.stdout.splitlines())
    info = regf_cli("info", str(hive))
    assert [ln for ln in info.stdout.splitlines() if ln.startswith("keys:")] == [
        "keys:           13"
    ]
    assert "embedded name:" in info.stdout and "\x1b[" not in info.stdout


@pytest.mark.parametrize(
    ("cmd", "records"),
    [
        (["ls", "{h}", "Software"], {"key"}),
        (["info", "{h}"], {"info"}),
        (["tree", "{h}", "--values"], {"key"}),
        (["get", "{h}", "Software", "blob"], {"value"}),
        (["deleted", "{h}"], set()),
        (["timeline", "{h}"], {"key"}),
        (["find", "{h}", "--value", "."], {"value"}),
        (["export", "{h}", "--format", "jsonl"], {"key"}),
    ],
)
def test_json_lines_schema(hive: Path, cmd: list[str], records: set[str]) -> None:
    args = [a.replace("{h}", str(hive)) for a in cmd]
    if "--format" not in args:
        args.append("--json")
    res = regf_cli(*args)
    assert res.returncode == 0, res.stderr
    docs = [json.loads(line) for line in res.stdout.splitlines()]
    assert {d["record"] for d in docs} == records
    assert all(d["hive"] == str(hive) for d in docs)
    for d in docs:
        for v in d.get("values", [d] if d["record"] == "value" else []):
            assert bytes.fromhex(v["raw"]) is not None  # hex everywhere, never base64
    if cmd[0] == "get":
        assert docs[0]["path"].startswith("CMI-CreateHive{ABC}\\Software")


def test_diff_json_and_iso_times(hive: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.hiv"
    res = regf_cli("set", str(hive), "Software", "blob", "-o", str(new), "--hex", "01 02 04")
    assert res.returncode == 0, res.stderr
    text = regf_cli("diff", str(hive), str(new), "--timestamps")
    assert text.returncode == 1
    assert "REG_BINARY 01 02 03 -> 01 02 04" in text.stdout
    stamp = next(ln for ln in text.stdout.splitlines() if "timestamp changed" in ln)
    assert "+00:00 -> " in stamp and stamp.count("T") >= 2
    docs = [
        json.loads(x)
        for x in regf_cli("diff", str(hive), str(new), "--json").stdout.split("\n")
        if x
    ]
    (change,) = docs
    assert change["record"] == "change" and change["new"]["raw"] == "010204"
    assert change["old"]["type"] == "REG_BINARY"


def test_diff_long_data_shows_where_it_differs(hive: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.hiv", tmp_path / "b.hiv"
    base = "x" * 300
    assert regf_cli("set", str(hive), "Software", "s", base + "A", "-o", str(a)).returncode == 0
    assert regf_cli("set", str(hive), "Software", "s", base + "B", "-o", str(b)).returncode == 0
    res = regf_cli("diff", str(a), str(b))
    (line,) = [ln for ln in res.stdout.splitlines() if "value changed" in ln]
    old, new = line.split(" -> ")
    assert old.rstrip().endswith("xA") and "xB" in new and "differs at character 300" in new


# -- item 3: .reg strings with line breaks as hex(1) -------------------------------------


def test_reg_export_line_break_as_hex1(hive: Path, tmp_path: Path) -> None:
    res = regf_cli("export", str(hive), "Software")
    assert '"multi"=hex(1):6c,00,69,00' in res.stdout
    assert '"app"="c:\\\\app.exe"' in res.stdout
    reg = tmp_path / "x.reg"
    assert regf_cli("export", str(hive), "-o", str(reg)).returncode == 0
    out = tmp_path / "back.hiv"
    assert regf_cli("new", str(out), "--root-name", "CMI-CreateHive{ABC}").returncode == 0
    assert regf_cli("import", str(out), str(reg)).returncode == 0
    assert regf_cli("diff", str(hive), str(out)).returncode == 0


# -- item 4: paths carry between commands --------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "Software\\Vendor\\Run",
        "\\Software\\Vendor\\Run\\",
        "ROOT\\Software\\Vendor\\Run",
        "CMI-CreateHive{ABC}\\Software\\Vendor\\Run",
        "HKLM\\SOFTWARE\\Software\\Vendor\\Run",
        "HKEY_LOCAL_MACHINE\\SYSTEM\\Software\\Vendor\\Run",
        "HKCU\\Software\\Vendor\\Run",
        "HKEY_USERS\\S-1-5-21-1\\Software\\Vendor\\Run",
        "software\\VENDOR\\run",
    ],
)
def test_paths_other_tools_print(hive: Path, path: str) -> None:
    res = regf_cli("get", str(hive), path, "app")
    assert res.returncode == 0 and res.stdout == "c:\\app.exe\n", res.stderr
    assert regf_cli("ls", str(hive), path).returncode == 0


def test_printed_paths_are_accepted(hive: Path) -> None:
    docs = [json.loads(x) for x in regf_cli("find", str(hive), "--json").stdout.splitlines()]
    for d in docs:
        res = regf_cli("ls", str(hive), d["path"], "--json")
        assert res.returncode == 0 and json.loads(res.stdout.splitlines()[0])["path"] == d["path"]
    # mkkey under a printed path creates below the root, not a key called ROOT
    assert regf_cli("mkkey", str(hive), "CMI-CreateHive{ABC}\\Software\\New").returncode == 0
    assert regf_cli("get", str(hive), "Software\\New").returncode == 1  # no default value
    assert regf_cli("ls", str(hive), "Software\\New").returncode == 0


def test_error_shows_path_as_typed(hive: Path) -> None:
    line = one_error(regf_cli("ls", str(hive), "Software\\Nope\\X"), hive)
    assert "Software\\Nope\\X" in line and "\\\\" not in line


# -- item 5: find, globs, several hives ----------------------------------------------


def test_find_keys_values_data_type(hive: Path) -> None:
    keys = regf_cli("find", str(hive), "--key", r"\\Run$")
    assert [ln.split("  ")[-1] for ln in keys.stdout.splitlines()] == [
        "CMI-CreateHive{ABC}\\Software\\Other\\Run",
        "CMI-CreateHive{ABC}\\Software\\Vendor\\Run",
    ]
    data = regf_cli("find", str(hive), "--data", "tool\\.exe")
    assert data.stdout.splitlines() == [
        "CMI-CreateHive{ABC}\\Software\\Other\\Run  tool  REG_SZ  c:\\tool.exe"
    ]
    dw = regf_cli("find", str(hive), "--type", "dword", "--json")
    assert sorted(json.loads(x)["name"] for x in dw.stdout.splitlines()) == ["Start", "n"]
    assert regf_cli("find", str(hive), "--data", "0x1234").stdout.count("\n") == 1
    assert regf_cli("find", str(hive), "--since", "2100-01-01").stdout == ""
    bad = regf_cli("find", str(hive), "--key", "(")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_globs_in_ls_get_export(hive: Path) -> None:
    got = regf_cli("get", str(hive), "Software\\*\\Run", "app", "--json")
    assert [json.loads(x)["data"] for x in got.stdout.splitlines()] == ["c:\\app.exe"]
    ls = regf_cli("ls", str(hive), "ControlSet00?\\Services\\*", "--json")
    paths = [json.loads(x)["path"] for x in ls.stdout.splitlines()]
    assert "CMI-CreateHive{ABC}\\ControlSet001\\Services\\Tcpip" in paths
    assert "CMI-CreateHive{ABC}\\ControlSet002\\Services\\Dhcp" in paths
    exp = regf_cli("export", str(hive), "software\\*\\RUN")
    heads = [ln for ln in exp.stdout.splitlines() if ln.startswith("[")]
    assert heads == [
        "[CMI-CreateHive{ABC}\\Software\\Other\\Run]",
        "[CMI-CreateHive{ABC}\\Software\\Vendor\\Run]",
    ]
    one_error(regf_cli("ls", str(hive), "Nope\\*"), hive, "Nope\\*")


def test_several_hives_and_a_directory(hive: Path, tmp_path: Path) -> None:
    coll = tmp_path / "collection" / "C" / "Windows"
    coll.mkdir(parents=True)
    shutil.copy(hive, coll / "SYSTEM")
    (coll / "SYSTEM.LOG1").write_bytes(b"regf-looking log")
    (coll / "notes.txt").write_text("not a hive")
    res = regf_cli("find", str(hive), str(tmp_path / "collection"), "--value", "^app$", "--json")
    assert res.returncode == 0, res.stderr
    assert [json.loads(x)["hive"] for x in res.stdout.splitlines()] == [
        str(hive),
        str(coll / "SYSTEM"),
    ]
    text = regf_cli("get", str(hive), str(coll / "SYSTEM"), "Software\\Vendor\\Run", "app")
    assert text.stdout.splitlines() == [
        f"==> {hive} <==",
        "c:\\app.exe",
        "",
        f"==> {coll / 'SYSTEM'} <==",
        "c:\\app.exe",
    ]
    junk = tmp_path / "junk.hiv"
    junk.write_bytes(b"x" * 5000)
    res = regf_cli("info", str(hive), str(junk))
    assert res.returncode == 1 and "keys:" in res.stdout
    assert res.stderr.startswith(f"regf: error: {junk}: ")


# -- item 6: streaming and progress (no bar when piped) ------------------------------------


def test_no_progress_when_piped(hive: Path, tmp_path: Path) -> None:
    for cmd in (["tree", "--values"], ["export", "-o", str(tmp_path / "o.reg")], ["info"]):
        res = regf_cli(cmd[0], str(hive), *cmd[1:])
        assert res.returncode == 0 and res.stderr == "", cmd


# -- item 7: defaults and consistency ------------------------------------------------


def test_set_hex_without_type_is_binary(hive: Path) -> None:
    assert regf_cli("set", str(hive), "Software", "h", "--hex", "de ad").returncode == 0
    with regf.open(hive) as h:
        v = h.open_key("Software").value("h")
        assert v.type == regf.REG_BINARY and v.raw == b"\xde\xad"


def test_global_options_after_subcommand(hive: Path) -> None:
    assert regf_cli("info", str(hive), "--forensic").returncode == 0
    assert regf_cli("ls", str(hive), "--no-recover", "Software").returncode == 0


def test_recover_clean_hive_copies_and_exits_0(hive: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.hiv"
    res = regf_cli("recover", str(hive), "-o", str(out))
    assert res.returncode == 0 and "clean" in res.stdout
    assert out.read_bytes() == hive.read_bytes()


def test_errors_name_the_file_and_hide_internals(hive: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    bogus.write_bytes(b"\x00" * 8192)
    line = one_error(regf_cli("info", str(bogus)), bogus)
    assert "(parsing)" not in line
    line = one_error(regf_cli("rm", str(hive), "Software"), hive, "-r")
    assert "recursive=True" not in line
    missing = tmp_path / "nodir" / "x.reg"
    one_error(regf_cli("export", str(hive), "-o", str(missing)), missing)
    one_error(regf_cli("get", str(hive), "Software", "nope"), hive, "nope")


# -- item 8: the shell's scripted mode still works -----------------------------------


def test_shell_script_from_stdin(hive: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.hiv"
    script = "cd Software\nsetval x REG_SZ hello\ncommit\nquit\n"
    res = regf_cli("shell", str(hive), "-o", str(out), input=script)
    assert res.returncode == 0, res.stderr
    assert regf_cli("get", str(out), "Software", "x").stdout == "hello\n"


def test_python_m_regf_entry(hive: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run(
        [sys.executable, "-m", "regf", "ls", str(hive)], capture_output=True, text=True, env=env
    )
    assert res.returncode == 0 and "Software\\" in res.stdout


def _stderr_on_terminal(args: list[str], stdout: Any) -> bytes:
    """Run ``regf ARGS`` with stderr on a pseudo-terminal; what the terminal got."""
    import pty

    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    assert EXE is not None
    proc = subprocess.Popen([EXE, *args], stdout=stdout, stderr=slave, env=env)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0
    return data


def test_progress_bar_on_a_terminal_only(hive: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.reg"
    shown = _stderr_on_terminal(["export", str(hive), "-o", str(out)], subprocess.DEVNULL)
    assert b"exporting h.hiv" in shown and b"3/3" in shown  # Software, ControlSet00[12]
    assert out.read_bytes().startswith(b"\xff\xfe")
    with open(tmp_path / "tree.txt", "wb") as fh:
        shown = _stderr_on_terminal(["tree", "--values", str(hive)], fh)
    assert b"walking" in shown
    assert (tmp_path / "tree.txt").read_text().startswith("CMI-CreateHive{ABC}\n")


def test_key_named_like_a_file_in_the_current_directory(hive: Path, tmp_path: Path) -> None:
    (tmp_path / "Software").write_text("not a hive")
    res = regf_cli("get", str(hive), "Software", "n", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout == "4660\n", res.stderr
    res = regf_cli("ls", str(hive), "Software", "--json", cwd=tmp_path)
    assert json.loads(res.stdout.splitlines()[0])["name"] == "Software"


def test_tree_depth_and_guides(hive: Path) -> None:
    res = regf_cli("tree", str(hive), "--depth", "1")
    assert res.stdout.splitlines() == [
        "CMI-CreateHive{ABC}",
        "├── ControlSet001",
        "│   └── … 1 subkeys",
        "├── ControlSet002",
        "│   └── … 1 subkeys",
        "└── Software",
        "    └── … 3 subkeys",
    ]
    sub = regf_cli("tree", str(hive), "ROOT\\ControlSet001", "--values")
    assert sub.stdout.splitlines() == [
        "CMI-CreateHive{ABC}\\ControlSet001",
        "└── Services",
        "    └── Tcpip",
        "        └── Start (REG_DWORD)",
    ]


def test_export_json_array_and_several_hives_in_one_reg(hive: Path, tmp_path: Path) -> None:
    doc = json.loads(regf_cli("export", str(hive), "--format", "json").stdout)
    assert [k["path"] for k in doc][:2] == [
        "CMI-CreateHive{ABC}",
        "CMI-CreateHive{ABC}\\ControlSet001",
    ]
    other = tmp_path / "other.hiv"
    shutil.copy(hive, other)
    out = tmp_path / "both.reg"
    assert (
        regf_cli("export", str(hive), str(other), "Software\\Vendor", "-o", str(out)).returncode
        == 0
    )
    text = out.read_bytes().decode("utf-16")
    assert text.count("Windows Registry Editor Version 5.00") == 1
    assert f"; hive: {hive}\r\n" in text and f"; hive: {other}\r\n" in text


def test_timeline_formats_name_the_hive(hive: Path) -> None:
    csv_lines = regf_cli("timeline", str(hive), "--format", "csv").stdout.splitlines()
    assert csv_lines[0] == "last_written,filetime,path,values,hive"
    assert all(line.endswith("," + str(hive)) for line in csv_lines[1:])
    docs = [json.loads(x) for x in regf_cli("timeline", str(hive), "--json").stdout.splitlines()]
    times = [d["last_written"] for d in docs]
    assert times == sorted(times) and all(t.endswith("+00:00") for t in times)
    body = regf_cli("timeline", str(hive), "--format", "bodyfile").stdout.splitlines()
    assert body[0].startswith("0|CMI-CreateHive{ABC}")


def test_sparse_find_output_is_not_held_back() -> None:
    from regf.cli import _output

    class Sink:
        def __init__(self) -> None:
            self.data = b""

        def write(self, b: bytes) -> None:
            self.data += b

        def flush(self) -> None:
            pass

    sink = Sink()
    w = _output.LineWriter(sink)  # type: ignore[arg-type]
    for i in range(100):
        w.line(f"dense {i}")
    assert sink.data.count(b"\n") == 64  # the first lines at once, then batched
    w.last_flush -= 1.0  # a quiet second of walking passes
    w.tick()
    assert sink.data.count(b"\n") == 100


def test_big_lines_do_not_pile_up_in_a_batch() -> None:
    # A JSON line holds a key's every value: 512 of them could be megabytes, copied
    # twice on the way out. A batch also goes out once it holds 64 Ki characters.
    from regf.cli import _output

    class Sink:
        def __init__(self) -> None:
            self.writes: list[int] = []

        def write(self, b: bytes) -> None:
            self.writes.append(len(b))

        def flush(self) -> None:
            pass

    sink = Sink()
    w = _output.LineWriter(sink)  # type: ignore[arg-type]
    w.written = 64  # past the lines that go out at once
    w.last_flush += 3600.0  # and never quiet: only the batch limits flush
    for _ in range(40):
        w.line("x" * 10_000)
    # 7 lines reach 64 Ki characters: 5 batches of 7 go out, 5 lines wait.
    assert sink.writes == [7 * 10_001] * 5
    assert len(w.pending) == 5 and w.pending_chars == 50_000


def test_shell_commit_needs_force_for_an_existing_file(hive: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.hiv"
    other.write_text("keep me")
    script = f"mkkey N\ncommit {other}\ncommit -f {other}\ncommit {hive}\n"
    res = regf_cli("shell", str(hive), "-o", str(tmp_path / "o.hiv"), input=script)
    assert res.returncode == 1
    errors = res.stderr.splitlines()
    assert len(errors) == 2
    assert "line 2" in errors[0] and "--force" in errors[0]
    assert "line 4" in errors[1] and "input hive" in errors[1]
    assert regf_cli("ls", str(other), "N").returncode == 0
