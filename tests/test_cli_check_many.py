"""``regf check`` on several hives and directories, through the installed entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli_people import EXE, regf_cli

import regf
from regf.format.fast import NK_L

pytestmark = pytest.mark.skipif(EXE is None, reason="the regf entry point is not installed")


def _make(path: Path, *names: str) -> Path:
    with regf.create(path) as h:
        for n in names:
            h.create_key(n).set_value("v", 1, regf.REG_DWORD)
    return path


def _damage(path: Path) -> int:
    """Point the root's subkey list at a misaligned cell; returns the nk's file offset."""
    with regf.open(path) as h:
        nk = h.root.offset
    assert nk is not None
    data = bytearray(path.read_bytes())
    NK_L.field("subkey_list").pack_into(data, nk + 4, 0x13)
    path.write_bytes(bytes(data))
    return nk


def test_check_several_hives_and_a_directory(tmp_path: Path) -> None:
    a = _make(tmp_path / "a.hiv", "One")
    d = tmp_path / "collection" / "HOST1"
    d.mkdir(parents=True)
    _make(d / "NTUSER.DAT", "Two")
    _make(d / "SYSTEM", "Three")
    (d / "notes.txt").write_text("not a hive")
    res = regf_cli("check", str(a), str(tmp_path / "collection"))
    assert res.returncode == 0, (res.stdout, res.stderr)
    lines = res.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines] == [
        str(a),
        str(d / "NTUSER.DAT"),
        str(d / "SYSTEM"),
    ]
    assert all(": OK: " in ln for ln in lines)


def test_check_reports_every_hive_and_fails_if_any_is_damaged(tmp_path: Path) -> None:
    good = _make(tmp_path / "good.hiv", "K")
    bad = _make(tmp_path / "bad.hiv", "K")
    _damage(bad)
    res = regf_cli("check", str(bad), str(good))
    assert res.returncode == 1
    assert f"{bad}: " in res.stdout and "problem" in res.stdout
    assert f"{good}: OK: " in res.stdout  # checked after the damaged one


def test_check_json_records(tmp_path: Path) -> None:
    good = _make(tmp_path / "good.hiv", "K")
    bad = tmp_path / "bad.hiv"
    shutil.copyfile(good, bad)
    _damage(bad)
    res = regf_cli("check", "--json", str(good), str(bad))
    assert res.returncode == 1
    recs = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert [(r["record"], r["hive"], r["ok"]) for r in recs] == [
        ("check", str(good), True),
        ("check", str(bad), False),
    ]
    assert recs[0]["problems"] == []
    first = recs[1]["problems"][0]
    assert isinstance(first["offset"], int) and first["message"]


def test_check_a_directory_without_hives_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = regf_cli("check", str(tmp_path / "empty"))
    assert res.returncode == 2 and "no hive files" in res.stderr
