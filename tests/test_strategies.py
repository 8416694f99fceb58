"""regf.strategies: the public hypothesis strategies, checked against regf itself."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import oracles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regf
from regf import strategies as rs
from regf._accel import sort_key, upcase
from regf.model.check import full_check
from regf.model.fuzz import LOG_MUTATIONS, MUTATIONS
from regf.model.spec import KeySpec
from regf.storage.recovery import recover

SLOW = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=20)


def spec_walk(tree: KeySpec) -> oracles.Walk:
    """The tree in the canonical form of tests/oracles.py."""
    return oracles._finish(
        (path, k.class_name or None, [(v.name, int(v.type), bytes(v.raw)) for v in k.values])
        for path, k in rs.walk_tree(tree)
    )


def test_import_regf_does_not_import_hypothesis() -> None:
    code = "import sys, regf, regf.cli; sys.exit('hypothesis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_upcase_corner_cases_are_where_windows_and_python_disagree() -> None:
    corners = rs.upcase_corner_cases()
    assert "\u00df" in corners and "\u0131" in corners and "a" not in corners
    assert all(upcase(c) != c.upper() for c in corners)


@given(st.lists(rs.key_names(), min_size=1, max_size=8, unique_by=sort_key))
def test_key_names_are_accepted_by_the_writer(names: list[str]) -> None:
    from regf.model.serialize import serialize

    tree = KeySpec("ROOT", subkeys=[KeySpec(n) for n in names])
    with regf.open(serialize(tree)) as h:
        assert sorted(k.name for k in h.root.subkeys()) == sorted(names)


@SLOW
@given(rs.hives())
def test_generated_hives_read_back_exactly(h: rs.GeneratedHive) -> None:
    ours = oracles.walk_regf(h.data)
    want = spec_walk(h.tree)
    assert ours == want, oracles.diff_walks(ours, want, "regf", "tree")
    with regf.open(h.data) as hive:
        assert full_check(hive).ok
        assert sorted(k.path for k in hive.walk()) == sorted(h.paths)
        for path, k in rs.walk_tree(h.tree):
            if k.security is not None:
                key = hive.open_key(path) if path else hive.root
                assert key.security_raw == k.security


@SLOW
@given(rs.dirty_hives())
def test_dirty_sets_recover_to_their_tree(d: rs.DirtyHive) -> None:
    image, report = recover(d.primary, list(d.logs.items()))
    assert report.applied and bytes(image[4096:]) == d.expected_bins
    with tempfile.TemporaryDirectory() as tmp:
        path = d.write(tmp)
        with regf.open(path, recover=False) as stale:
            assert stale.dirty
        ours = oracles.walk_regf(path)
    want = spec_walk(d.tree)
    assert ours == want, oracles.diff_walks(ours, want, "regf", "tree")


@SLOW
@given(rs.mutated_hives())
def test_mutants_are_labelled_and_only_raise_regf_errors(m: rs.Mutant) -> None:
    assert (
        m.data != m.base
        or not m.mutations
        or all("-> " in x.detail or x.kind == "bitflip" for x in m.mutations)
    )
    for mut in m.mutations:
        assert mut.kind in MUTATIONS and 0 <= mut.offset <= len(m.base)
        assert mut.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for strict in (True, False):
            try:
                with regf.open(m.data, strict=strict) as hive:
                    for key in hive.walk():
                        for v in key.values():
                            _ = v.data
                    full_check(hive)
            except regf.RegfError:
                pass


def test_mutated_hives_of_a_real_hive(corpus: Path) -> None:
    data = (corpus / "libguestfs__hivex/images/minimal").read_bytes()

    @settings(max_examples=30, deadline=None)
    @given(rs.mutated_hives(data, kinds=("cell_size", "hbin")))
    def run(m: rs.Mutant) -> None:
        assert m.base == data
        assert {x.kind for x in m.mutations} <= {"cell_size", "hbin"}

    run()


@SLOW
@given(rs.damaged_log_sets())
def test_damaged_log_sets_never_crash_recovery(d: rs.DamagedLogSet) -> None:
    for mut in d.mutations:
        assert mut.kind in LOG_MUTATIONS
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = d.write(tmp)
        for strict in (True, False):
            try:
                with regf.open(path, strict=strict) as hive:
                    for key in hive.walk():
                        key.values()
            except regf.RegfError:
                pass


@given(rs.security_descriptors())
def test_security_descriptors_parse_back(raw: bytes) -> None:
    from regf.format.security import parse_descriptor

    assert parse_descriptor(raw).to_bytes() == raw
