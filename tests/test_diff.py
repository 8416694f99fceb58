"""regf diff / timeline (regf.model.diff, regf.cli.compare)."""

from __future__ import annotations

import collections
import os
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import regf
from regf.cli import main as cli_main
from regf.cli.edit import apply_reg
from regf.model.diff import (
    CLASS_CHANGED,
    KEY_ADDED,
    KEY_REMOVED,
    VALUE_ADDED,
    diff_hives,
    reg_patch,
)
from regf.model.fuzz import generate
from regf.model.regexport import parse_reg

CORPUS = os.environ.get("REGF_CORPUS")
corpus = pytest.mark.skipif(not CORPUS, reason="REGF_CORPUS not set")


def _regipy(name: str) -> Path:
    return Path(CORPUS or "", "mkorman90__regipy", "regipy_tests", "data", name)


@corpus
def test_regipy_modified_ntuser_differences() -> None:
    # regipy's compare test: 7 differences, "6 new subkeys" (key paths in one hive only,
    # either way) and 1 new value (in a key both hives have).
    with regf.open(_regipy("NTUSER.DAT")) as a, regf.open(_regipy("NTUSER_modified.DAT")) as b:
        changes = diff_hives(a, b)
    kinds = collections.Counter(c.kind for c in changes)
    assert kinds[KEY_ADDED] + kinds[KEY_REMOVED] == 6
    added = {c.path for c in changes if c.kind == KEY_ADDED}
    new_values_in_old_keys = [c for c in changes if c.kind == VALUE_ADDED and c.path not in added]
    assert [(c.path, c.value) for c in new_values_in_old_keys] == [
        ("Software\\Microsoft\\Windows\\CurrentVersion\\Run", "not_a_malware")
    ]


@corpus
def test_recovered_transactions_ntuser_against_stale_primary() -> None:
    path = _regipy("transactions_NTUSER.DAT")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with regf.open(path, recover=False) as stale, regf.open(path) as new:
            kinds = collections.Counter(c.kind for c in diff_hives(stale, new))
    assert (kinds[KEY_ADDED], kinds[KEY_REMOVED]) == (521, 6)  # regipy: 527 keys either way


def _patched(old: bytes, new: bytes) -> list[regf.model.diff.Change]:  # type: ignore[name-defined]
    with regf.open(old) as a, regf.open(new) as b:
        patch = reg_patch(diff_hives(a, b), root=b.root.name)
    edit = regf.open(old, mode="r+")
    try:
        apply_reg(edit, parse_reg(patch), None)
        data = edit.to_bytes()
    finally:
        edit.discard()
    with regf.open(data) as a2, regf.open(new) as b:
        return [c for c in diff_hives(a2, b) if c.kind != CLASS_CHANGED]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**20), st.integers(0, 2**20))
def test_reg_patch_turns_one_random_hive_into_another(s1: int, s2: int) -> None:
    # Class names cannot be written in a .reg file, so only they may still differ.
    a, _ = generate(s1, minor=5, max_keys=20)
    b, _ = generate(s2, minor=5, max_keys=20)
    assert _patched(a, b) == []


@corpus
def test_reg_patch_reproduces_the_modified_ntuser() -> None:
    assert (
        _patched(_regipy("NTUSER.DAT").read_bytes(), _regipy("NTUSER_modified.DAT").read_bytes())
        == []
    )


def test_diff_of_identical_hives_is_empty_and_exit_status(tmp_path: Path) -> None:
    a, _ = generate(3, max_keys=10)
    b, _ = generate(4, max_keys=10)
    pa, pb = tmp_path / "a.hiv", tmp_path / "b.hiv"
    pa.write_bytes(a)
    pb.write_bytes(b)
    same = CliRunner().invoke(cli_main, ["diff", str(pa), str(pa)])
    assert same.exit_code == 0 and same.output == ""
    other = CliRunner().invoke(cli_main, ["diff", str(pa), str(pb)])
    assert other.exit_code == 1 and other.output
    reg = CliRunner().invoke(cli_main, ["diff", str(pa), str(pb), "--format", "reg"])
    assert reg.output.startswith("Windows Registry Editor Version 5.00")
    junk = tmp_path / "junk"
    junk.write_bytes(b"x" * 5000)
    bad = CliRunner().invoke(cli_main, ["diff", str(pa), str(junk)])
    assert bad.exit_code == 2 and "error" in bad.output
    js = CliRunner().invoke(cli_main, ["diff", str(pa), str(pb), "--format", "json"])
    import json

    records = [json.loads(line) for line in js.output.splitlines()]
    assert records and all(r["record"] == "change" for r in records)


def test_names_are_matched_case_insensitively_like_windows(tmp_path: Path) -> None:
    def hive(name: str, vname: str) -> bytes:
        with regf.create(tmp_path / f"{name}.hiv") as h:
            h.create_key(name).set_value(vname, "x")
        return (tmp_path / f"{name}.hiv").read_bytes()

    # U+00E9 / U+00C9 are one name to Windows' upcase table.
    with regf.open(hive("caf\u00e9", "V\u00e9")) as a, regf.open(hive("CAF\u00c9", "v\u00c9")) as b:
        assert diff_hives(a, b) == []


def test_timeline_orders_by_last_written_and_filters(tmp_path: Path) -> None:
    path = tmp_path / "t.hiv"
    with regf.create(path) as h:
        for i, year in enumerate((2019, 2005, 2012)):
            h.create_key(f"K{i}", timestamp=_ft(year))
    out = CliRunner().invoke(
        cli_main, ["timeline", str(path), "--since", "2000-01-01", "--until", "2020-01-01"]
    )
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    # Creating a key stamps its parent with the same time (the root ends up at K2's
    # 2012, the last create; equal times sort by path).
    assert [ln.split()[1] for ln in lines] == ["ROOT\\K1", "ROOT", "ROOT\\K2", "ROOT\\K0"]
    csv_out = CliRunner().invoke(
        cli_main, ["timeline", str(path), "--format", "csv", "--since", "2010-01-01"]
    )
    assert csv_out.output.splitlines()[0] == "last_written,filetime,path,values,hive"
    body = CliRunner().invoke(
        cli_main, ["timeline", str(path), "--format", "bodyfile", "--until", "2006-01-01"]
    )
    (row,) = body.output.splitlines()
    assert row.split("|")[1].endswith("\\K1") and int(row.split("|")[8]) == 1104537600


def _ft(year: int) -> int:
    from datetime import UTC, datetime

    return (
        int((datetime(year, 1, 1, tzinfo=UTC) - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds())
        * 10**7
    )
