"""``regf shell`` on a terminal: tab completion of commands, keys, values and types,
and history (prompt_toolkit driven through a pipe input, as a terminal would)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import regf
from regf.cli.edit import Shell
from regf.cli.shell_ui import completions, make_reader
from regf.model.edit import open_editable

pytest.importorskip("prompt_toolkit")


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    path = tmp_path / "h.hiv"
    with regf.create(path) as h:
        h.create_key("Software\\Vendor").set_value("Path Name", "x")
        h.create_key("Software\\Vendor").set_value("count", 1, regf.REG_DWORD)
        h.create_key("System")
    hive = open_editable(str(path), in_place=False)
    return Shell(hive, str(path), str(tmp_path / "o.hiv"), lambda _m: None)


def test_completes_commands_keys_values_types(shell: Shell) -> None:
    assert [c for c, _ in completions(shell, "ls")] == ["ls", "lsval"]
    assert completions(shell, "cd so") == [("Software\\", -2)]
    assert completions(shell, "cd S") == [("Software\\", -1), ("System\\", -1)]
    assert completions(shell, "cd Software\\v") == [("Vendor\\", -1)]
    assert completions(shell, "ls nope\\x") == []
    shell.run(["cd", "Software\\Vendor"])
    assert completions(shell, "cd ..\\..\\Sy") == [("System\\", -2)]
    assert completions(shell, "rmval p") == [('"Path Name"', -1)]
    assert completions(shell, "setval c") == [("count", -1)]
    assert completions(shell, "setval count REG_DW") == [
        ("REG_DWORD", -6),
        ("REG_DWORD_BIG_ENDIAN", -6),
    ]


def test_tab_completion_and_history_in_a_session(
    shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with create_pipe_input() as inp:
        read = make_reader(shell, input=inp, output=DummyOutput())
        inp.send_text("cd Sof")
        # Keys arrive as a user types them; completions are computed in the background.
        threading.Timer(0.5, inp.send_text, ["\t"]).start()
        threading.Timer(2.0, inp.send_text, ["\r"]).start()
        assert read("> ") == "cd Software\\"
        inp.send_text("\x1b[A\r")  # up arrow: the previous line again
        assert read("> ") == "cd Software\\"
    history = (tmp_path / "state" / "regf" / "shell_history").read_text()
    assert "cd Software\\" in history
