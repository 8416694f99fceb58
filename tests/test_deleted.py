"""Deleted-record recovery (regf.model.deleted, fmt §9): yarp's samples and regf's own edits."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import regf
from regf import scan_deleted
from regf.cli import main as cli_main

CORPUS = os.environ.get("REGF_CORPUS")
corpus = pytest.mark.skipif(not CORPUS, reason="REGF_CORPUS not set")


def _yarp(name: str) -> Path:
    return Path(CORPUS or "", "msuhanov__yarp", "hives_for_tests", name)


def _scan(path: Path) -> regf.DeletedRecords:
    with regf.open(path, strict=False, recover=False) as hive:
        return scan_deleted(hive)


# ---------------------------------------------------------------------------------------
# yarp's samples (facts from its test suite, restated in corpus/CATALOG.md §6)
# ---------------------------------------------------------------------------------------

TREE = {"1\\2\\3", "1\\2\\3\\4", "1\\2\\3\\4\\5", "1\\2\\3\\4\\New Key #1"}


@corpus
@pytest.mark.parametrize("name", ["DeletedTreeHive", "DeletedTreeNoRootFlagHive"])
def test_deleted_tree_exactly_four_keys_with_full_paths(name: str) -> None:
    found = _scan(_yarp(name))
    assert {k.path for k in found.keys} == TREE and len(found.keys) == 4
    assert all(k.path_complete for k in found.keys)
    assert found.values == []


@corpus
def test_deleted_tree_partial_path_when_the_parent_chain_breaks() -> None:
    found = _scan(_yarp("DeletedTreePartialPathHive"))
    assert {k.path for k in found.keys} == {"3", "3\\4", "3\\4\\5", "3\\4\\New Key #1"}
    assert not any(k.path_complete for k in found.keys)


@corpus
def test_deleted_data_key_values_and_remnant_value_association() -> None:
    found = _scan(_yarp("DeletedDataHive"))
    assert [k.name for k in found.keys] == ["456"]
    (key,) = found.keys
    assert [(v.name, v.type, v.raw) for v in key.values] == [
        ("v", regf.REG_SZ, "123456\0".encode("utf-16-le"))
    ]
    assert sorted((v.name, v.data) for v in found.values) == [("v", "123456"), ("v2", "456")]
    # v2 was deleted from the live key "123" and is still named in its value list's slack.
    assert [v.name for v in found.remnant_values["123"]] == ["v2"]
    assert next(v for v in found.values if v.name == "v2").owner == "123"


@corpus
def test_healed_hive_unreferenced_cells_hold_a_key_and_its_value() -> None:
    found = _scan(_yarp("HealedHive"))
    assert len(found.unreferenced_cells) == 5
    assert [(k.name, k.source) for k in found.keys] == [("cccc", "unreferenced")]
    assert [(v.name, v.data) for v in found.keys[0].values] == [("123", "test")]
    assert [(v.name, v.type, v.data) for v in found.values] == [("123", regf.REG_SZ, "test")]


@corpus
def test_remnants_hive_one_unnamed_dword_past_the_bins() -> None:
    found = _scan(_yarp("RemnantsHive"))
    assert found.keys == []
    assert [(v.name, v.type, v.data, v.data_reliable) for v in found.values] == [
        ("", regf.REG_DWORD, 1, True)  # inline data: kept in the vk itself
    ]
    assert found.values[0].source == "tail"


@corpus
def test_clean_samples_have_nothing_deleted() -> None:
    for name in ("EmptyHive", "BigDataHive"):
        found = _scan(_yarp(name))
        assert found.keys == [] and found.values == [], name


@corpus
def test_scan_never_changes_the_file_and_only_raises_regf_errors() -> None:
    root = Path(CORPUS or "")
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with regf.open(path, strict=False, recover=False) as hive:
                    scan_deleted(hive)
            except regf.RegfError:
                pass
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before, path


# ---------------------------------------------------------------------------------------
# Round trip: what regf itself deletes, regf finds again
# ---------------------------------------------------------------------------------------


def _edited_image(tmp_path: Path) -> bytes:
    with regf.create(tmp_path / "h.hiv") as hive:
        keep = hive.create_key("Keep")
        keep.set_value("live", "still here")
        gone = hive.create_key(r"Keep\Gone")
        gone.set_value("small", (7).to_bytes(4, "little"), regf.REG_DWORD)
        gone.set_value("text", "deleted text")
        hive.create_key(r"Keep\Gone\Child")
        keep.set_value("dropped", b"\x01\x02\x03\x04\x05\x06", regf.REG_BINARY)
        keep.delete_value("dropped")
        hive.delete_key(r"Keep\Gone", recursive=True)
        return bytes(hive.image)


def test_regf_deletions_are_found(tmp_path: Path) -> None:
    with regf.open(_edited_image(tmp_path)) as hive:
        found = scan_deleted(hive)
        # The live tree is untouched by the scan and nothing live is reported.
        assert [k.path for k in hive.walk()] == ["", "Keep"]
    paths = {k.path: k for k in found.keys}
    assert set(paths) == {"Keep\\Gone", "Keep\\Gone\\Child"}
    assert all(k.path_complete for k in found.keys)
    # (regf's writer empties a key's value list before freeing it, so the values are
    # not associated with the deleted key; Windows leaves the nk fields as they were.)
    by_name = {v.name: v for v in found.values}
    assert sorted(by_name) == ["dropped", "small", "text"]
    assert by_name["small"].data == 7 and by_name["small"].data_reliable  # inline
    assert by_name["text"].data in ("deleted text", None)
    dropped = next(v for v in found.values if v.name == "dropped")
    assert dropped.raw in (b"\x01\x02\x03\x04\x05\x06", None)
    assert not dropped.data_reliable


def test_fresh_hive_has_nothing_deleted(tmp_path: Path) -> None:
    with regf.create(tmp_path / "h.hiv") as hive:
        hive.create_key(r"A\B").set_value("v", "x" * 100)
        data = bytes(hive.image)
    with regf.open(data) as h:
        found = scan_deleted(h)
    assert found.keys == [] and found.values == [] and found.unreferenced_cells == []


def test_scan_of_a_strict_hive_restores_strict_mode(tmp_path: Path) -> None:
    with regf.open(_edited_image(tmp_path)) as hive:
        scan_deleted(hive)
        assert hive.strict and hive.image.strict and hive.problems == []


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------


def test_cli_deleted_text_and_json(tmp_path: Path) -> None:
    import json

    path = tmp_path / "e.hiv"
    path.write_bytes(_edited_image(tmp_path))
    res = CliRunner().invoke(cli_main, ["deleted", str(path)])
    assert res.exit_code == 0, res.output
    assert "Keep\\Gone\\Child" in res.output and "deleted text" in res.output
    res = CliRunner().invoke(cli_main, ["deleted", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in res.output.splitlines()]
    keys = [r for r in records if r["record"] == "deleted_key"]
    assert {k["path"] for k in keys} == {"Keep\\Gone", "Keep\\Gone\\Child"}
    values = [r for r in records if r["record"] == "deleted_value"]
    values += [v for k in keys for v in k["values"]]
    assert {v["name"] for v in values} == {"dropped", "small", "text"}
    assert all(v["raw"] is None or bytes.fromhex(v["raw"]) is not None for v in values)


def test_cli_deleted_bad_file_is_one_line_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a hive" * 100)
    res = CliRunner().invoke(cli_main, ["deleted", str(junk)])
    assert res.exit_code == 1
    assert res.output.count("\n") <= 1 and "error" in res.output


# ---------------------------------------------------------------------------------------
# The remnant search: region by region == one search of the whole hive


def _candidates_reference(buf: bytes, regions: list[tuple[int, int, str]]) -> list[Any]:
    """The rule, searched the slow way: every signature of the hive, kept when its
    record position lies in the last region starting at or before it."""
    import bisect
    import re

    from regf.format.constants import BASE

    starts = [r[0] for r in regions]
    out = []
    for m in re.finditer(rb"(?=(nk|vk))", buf[BASE:]):
        p = m.start() - 4
        i = bisect.bisect_right(starts, p) - 1
        if p < 0 or i < 0 or p >= regions[i][1]:
            continue
        source = regions[i][2]
        if p & 7 if source != "tail" else p & 1:
            continue
        out.append((p, m.group(1).decode(), source))
    return out


@settings(max_examples=300, deadline=None)
@given(
    # 8-byte units: a record start with its signature 4 bytes in, signatures at other
    # (even or odd) offsets, and filler; regions up to 64 units long, often overlapping.
    body=st.lists(
        st.sampled_from(
            [b"\0\0\0\0nk\0\0", b"\0\0\0\0vk\0\0", b"\0\0nk\0\0\0\0", b"\0nk\0vk\0\0\0", b"\0" * 8]
        ),
        max_size=64,
    ),
    cuts=st.lists(st.tuples(st.integers(0, 520), st.integers(0, 160), st.booleans()), max_size=8),
)
def test_region_search_equals_whole_hive_search(
    body: list[bytes], cuts: list[tuple[int, int, bool]]
) -> None:
    from regf.format.constants import BASE
    from regf.model.deleted import _candidates

    buf = bytes(BASE) + b"".join(body)
    # Sorted starts, overlapping or equal ones included, as _regions may give near the
    # tail (which starts 4 bytes before the bins end).
    regions = sorted((s, s + n, "tail" if t else "free") for s, n, t in cuts)
    assert list(_candidates(buf, regions)) == _candidates_reference(buf, regions)
