"""Generated and mutated hives (regf.model.fuzz): regf's own round trips, fuzzed."""

from __future__ import annotations

import warnings
from pathlib import Path

import oracles
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regf
from regf.cli import main as cli_main
from regf.model.check import check_hive
from regf.model.deleted import scan_deleted
from regf.model.fuzz import MUTATIONS, generate, mutate
from regf.model.spec import KeySpec
from regf.strategies import walk_tree

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _spec_walk(spec: KeySpec) -> oracles.Walk:
    return oracles._finish(
        (path, k.class_name or None, [(v.name, int(v.type), v.raw) for v in k.values])
        for path, k in walk_tree(spec)
    )


@SLOW
@given(st.integers(0, 2**32 - 1))
def test_generated_hive_reads_back_exactly_and_checks_clean(seed: int) -> None:
    data, spec = generate(seed, max_keys=40)
    assert generate(seed, max_keys=40)[0] == data  # deterministic
    ours = oracles.walk_regf(data)
    assert ours == _spec_walk(spec), oracles.diff_walks(ours, _spec_walk(spec), "regf", "spec")
    with regf.open(data) as hive:
        assert check_hive(hive) == []
        assert scan_deleted(hive).keys == []  # a fresh hive has nothing deleted


@pytest.mark.skipif(not oracles.hivex_available(), reason="hivex not installed")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_hive_reads_identically_in_hivex(seed: int, tmp_path: Path) -> None:
    data, spec = generate(seed, max_keys=40)
    path = tmp_path / "g.hiv"
    path.write_bytes(data)
    theirs = oracles.walk_hivex(path)
    want = oracles.without_classes(_spec_walk(spec))
    assert theirs == want, oracles.diff_walks(theirs, want, "hivex", "spec")


def _read_everything(data: bytes, strict: bool) -> None:
    with regf.open(data, strict=strict) as hive:
        for key in hive.walk():
            _ = (key.class_name, key.last_written, key.flags)
            try:
                _ = key.security
            except regf.RegfError:
                if strict:
                    raise
            for v in key.values():
                _ = (v.raw, v.data, v.type)
        check_hive(hive)
        scan_deleted(hive)


_BASE_HIVES = [generate(s, max_keys=25)[0] for s in (11, 12)]


@SLOW
@given(
    st.sampled_from(range(len(_BASE_HIVES))),
    st.integers(0, 2**32 - 1),
    st.integers(1, 4),
    st.booleans(),
)
def test_mutated_hives_only_ever_raise_regf_errors(
    which: int, seed: int, count: int, fix: bool
) -> None:
    bad = mutate(_BASE_HIVES[which], seed, count=count, fix_checksum=fix)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for strict in (True, False):
            try:
                _read_everything(bad, strict)
            except regf.RegfError as exc:
                assert exc.offset is None or isinstance(exc.offset, int)


def test_mutate_is_deterministic_and_fixes_the_checksum() -> None:
    data = _BASE_HIVES[0]
    a = mutate(data, 5, count=3)
    assert a == mutate(data, 5, count=3) and a != data
    for kind in MUTATIONS:
        m = mutate(data, 9, kinds=(kind,))
        if kind not in ("truncate", "base_block"):
            assert len(m) == len(data), kind
    from regf._accel import checksum

    m = mutate(data, 3, kinds=("cell_index",))
    assert int.from_bytes(m[0x1FC:0x200], "little") == checksum(m[:512])
    with pytest.raises(regf.InvalidArgumentError):
        mutate(data, 1, kinds=("nope",))


def test_cli_fuzz_writes_valid_and_mutated_hives(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    res = CliRunner().invoke(
        cli_main, ["fuzz", str(out), "--count", "3", "--seed", "7", "--mutations", "2"]
    )
    assert res.exit_code == 0, res.output
    valid = sorted(out.glob("hive-*.hiv"))
    mutated = sorted(out.glob("hive-*-m*.hiv"))
    assert len(mutated) == 6 and len(valid) == 3 + 6
    for p in set(valid) - set(mutated):
        assert CliRunner().invoke(cli_main, ["check", str(p)]).exit_code == 0
    again = tmp_path / "again"
    CliRunner().invoke(
        cli_main, ["fuzz", str(again), "--count", "3", "--seed", "7", "--mutations", "2"]
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {
        p.name: p.read_bytes() for p in again.iterdir()
    }
