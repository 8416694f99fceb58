"""Issue 19, bugs D-G: each regression test damages a hive it generates itself."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import oracles
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regf
from regf._accel import checksum
from regf.cli import main
from regf.format.constants import DATA_INLINE, HCELL_NIL
from regf.format.fast import BASE_L, VK_L
from regf.model.check import full_check
from regf.model.serialize import serialize
from regf.model.spec import KeySpec, ValueSpec


def _hive() -> bytes:
    spec = KeySpec(
        "ROOT",
        subkeys=[
            KeySpec(
                "K",
                values=[
                    ValueSpec("small", 3, b"abcd"),
                    ValueSpec("empty", 3, b""),
                    ValueSpec("cell", 3, b"x" * 40),
                ],
            )
        ],
    )
    return serialize(spec, minor=5)


def _vk_offsets(data: bytes) -> dict[str, tuple[int, int, int]]:
    with regf.open(data) as h:
        return {v.name: (v.offset, v.data_size, v.data_cell) for v in h.open_key("K").values()}


def _patch_vk(hive: bytes, name: str, **fields: int) -> bytes:
    """``hive`` with vk fields of value ``name`` rewritten (checksum fixed)."""
    buf = bytearray(hive)
    off = _vk_offsets(hive)[name][0]
    for field, value in fields.items():
        VK_L.field(field).pack_into(buf, off + 4, value)
    BASE_L.field("checksum").pack_into(buf, 0, checksum(bytes(buf[:512])))
    return bytes(buf)


def _check(tmp_path: Path, data: bytes) -> tuple[int, str]:
    p = tmp_path / "h.hiv"
    p.write_bytes(data)
    r = CliRunner().invoke(main, ["check", str(p)])
    return r.exit_code, r.output


def _hivex_reads(path: Path, value: str) -> bool:
    """Whether hivex returns value ``value`` of key K (python3-hivex, system python)."""
    code = (
        "import hivex,sys\n"
        "h=hivex.Hivex(sys.argv[1]); k=h.node_get_child(h.root(),'K')\n"
        "v=h.node_get_value(k,sys.argv[2])\n"
        "try:\n h.value_value(v); print(1)\nexcept RuntimeError: print(0)\n"
    )
    out = subprocess.run(
        ["/usr/bin/python3", "-c", code, str(path), value],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return bool(json.loads(out.stdout))


# ---------------------------------------------------------------------------------------
# F: regf check is as strict as hivex about vk data fields


@pytest.mark.parametrize("size", [5, 8, 0x7FFFFFFF])
def test_check_reports_inline_data_longer_than_4(tmp_path: Path, size: int) -> None:
    data = _hive()
    assert _check(tmp_path, data)[0] == 0
    bad = _patch_vk(data, "small", data_size=DATA_INLINE | size)
    code, out = _check(tmp_path, bad)
    off = _vk_offsets(data)["small"][0]
    assert code == 1 and f"{off:#010x}: K: value 'small': inline data size {size}" in out
    if oracles.hivex_available():
        assert not _hivex_reads(tmp_path / "h.hiv", "small")  # hivex refuses it too


@pytest.mark.parametrize("bogus", [0x12345678, 0, 0x21, 0x80000020])
def test_check_reports_zero_length_value_with_bogus_data_offset(tmp_path: Path, bogus: int) -> None:
    bad = _patch_vk(_hive(), "empty", data_size=0, data=bogus)
    code, out = _check(tmp_path, bad)
    assert code == 1, out
    assert f"zero-length value with a bogus data offset {bogus:#x}" in out
    if oracles.hivex_available():
        assert not _hivex_reads(tmp_path / "h.hiv", "empty")


def test_check_accepts_zero_length_value_with_nil_or_real_cell(tmp_path: Path) -> None:
    """NIL is what Windows writes for tombstones (yarp System_Delta); a real cell is
    harmless. hivex rejects NIL: regf does not follow it there."""
    data = _hive()
    real = _vk_offsets(data)["cell"][2]
    for target in (HCELL_NIL, real):
        code, out = _check(tmp_path, _patch_vk(data, "empty", data_size=0, data=target))
        assert code == 0, out


def test_corpus_windows_hives_stay_clean_under_the_value_checks(corpus: Path) -> None:
    """The new vk checks add no problem to any corpus hive (clean or not)."""
    import warnings

    from regf.model.check import value_problems

    seen = 0
    for path in oracles.corpus_files(corpus):
        if not oracles.is_primary(path):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                hive = regf.open(path, strict=False)
            except regf.RegfError:
                continue
        with hive:
            try:
                for key in hive.walk():
                    for v in key.values():
                        seen += 1
                        assert value_problems(hive, v, key.path) == [], (path, key.path)
            except regf.RegfError:
                continue
    assert seen > 10_000


# ---------------------------------------------------------------------------------------
# G: regf fuzz validates its counts


@pytest.mark.parametrize(
    "args", [["--count", "-1"], ["--mutations", "-2"], ["--damage", "0"], ["--max-keys", "-1"]]
)
def test_fuzz_rejects_negative_counts(tmp_path: Path, args: list[str]) -> None:
    r = CliRunner().invoke(main, ["fuzz", str(tmp_path / "o"), *args])
    assert r.exit_code == 2, r.output  # click usage error
    assert "Invalid value" in r.output
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------
# D: regf recover checks its result like regf check


def _freed_sk_dirty_set(tmp_path: Path) -> tuple[Path, int]:
    """A dirty hive whose DIRT log carries the root's sk cell with its size sign flipped
    (the cell turns free), written as HIVE, HIVE.LOG1, HIVE.LOG2. Returns HIVE and the
    sk's file offset. DIRT logs have no hash, so the flipped bit passes every log check."""
    from regf.model.fuzz import generate
    from regf.storage.logbuild import dirty_set

    before = serialize(KeySpec("ROOT"), minor=3)
    after, _spec = generate(3, minor=3, max_keys=20)
    with regf.open(after) as h:
        sk = h.root.security_index
    ds = dirty_set(before, after, "old")
    sector = sk - sk % 512
    log = bytearray(ds.logs["LOG1"])
    data_start = len(log) - 512 * len(ds.dirty)
    at = data_start + 512 * ds.dirty.index(sector) + sk % 512 + 3
    assert log[at] & 0x80  # allocated: negative size
    log[at] ^= 0x80
    hive = tmp_path / "HIVE"
    hive.write_bytes(ds.primary)
    (tmp_path / "HIVE.LOG1").write_bytes(bytes(log))
    (tmp_path / "HIVE.LOG2").write_bytes(ds.logs["LOG2"])
    return hive, 4096 + sk


def test_recover_refuses_a_result_that_check_rejects(tmp_path: Path) -> None:
    hive, sk_offset = _freed_sk_dirty_set(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    out = tmp_path / "out.hiv"
    r = CliRunner().invoke(main, ["recover", str(hive), "-o", str(out)])
    assert r.exit_code == 1, r.output
    assert "fails the check" in r.output and f"{sk_offset:#010x}" in r.output
    assert not out.exists()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # inputs untouched
    # What regf check says of the same recovery, done in memory by a strict open.
    with regf.open(hive) as h:
        problems = full_check(h).problems
    assert problems and problems[0].offset == sk_offset and "free" in problems[0].message


def test_recover_forensic_writes_the_damaged_result_and_says_so(tmp_path: Path) -> None:
    hive, sk_offset = _freed_sk_dirty_set(tmp_path)
    out = tmp_path / "out.hiv"
    r = CliRunner().invoke(main, ["--forensic", "recover", str(hive), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert f"regf: warning: recovered hive: {sk_offset:#010x}" in r.output
    assert CliRunner().invoke(main, ["check", str(out)]).exit_code == 1


def test_recover_of_the_unflipped_log_is_clean(tmp_path: Path) -> None:
    """The same set without the flip recovers and checks clean (the test above is the bit)."""
    from regf.model.fuzz import generate
    from regf.storage.logbuild import dirty_set

    after, _ = generate(3, minor=3, max_keys=20)
    ds = dirty_set(serialize(KeySpec("ROOT"), minor=3), after, "old")
    hive = tmp_path / "HIVE"
    hive.write_bytes(ds.primary)
    (tmp_path / "HIVE.LOG1").write_bytes(ds.logs["LOG1"])
    out = tmp_path / "out.hiv"
    r = CliRunner().invoke(main, ["recover", str(hive), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[4096:] == ds.expected_bins
    assert CliRunner().invoke(main, ["check", str(out)]).exit_code == 0


# ---------------------------------------------------------------------------------------
# E: mode="r+" refuses a hive that regf check rejects


def _freed_sk_hive() -> tuple[bytes, int]:
    """A generated hive whose root sk cell is marked free (size sign flipped): every
    key still reads, only the security check trips. Returns it and the sk's offset."""
    from regf.format.fast import CELL_L
    from regf.model.fuzz import generate

    data, _ = generate(5, max_keys=15)
    with regf.open(data) as h:
        sk = h.root.security_index
    buf = bytearray(data)
    size = CELL_L.field("size").unpack_from(buf, 4096 + sk)
    assert size < 0
    CELL_L.field("size").pack_into(buf, 4096 + sk, -size)
    return bytes(buf), 4096 + sk


def test_open_r_plus_refuses_a_damaged_hive_in_place(tmp_path: Path) -> None:
    bad, sk_offset = _freed_sk_hive()
    path = tmp_path / "h.hiv"
    path.write_bytes(bad)
    with regf.open(path) as h:  # the reader (not a full check) has no complaint
        assert sum(1 for _ in h.walk()) > 1
    with pytest.raises(regf.DamagedHiveError) as info:
        regf.open(path, mode="r+")
    assert info.value.offset == sk_offset and "free" in str(info.value)
    assert info.value.problems and info.value.problems[0].offset == sk_offset
    assert path.read_bytes() == bad and sorted(p.name for p in tmp_path.iterdir()) == ["h.hiv"]


def test_open_r_plus_repair_opens_it_to_fix_the_damage(tmp_path: Path) -> None:
    path = tmp_path / "h.hiv"
    path.write_bytes(_patch_vk(_hive(), "small", data_size=DATA_INLINE | 9))
    with pytest.raises(regf.DamagedHiveError, match="inline data size 9"):
        regf.open(path, mode="r+")
    with regf.open(path, mode="r+", repair=True) as h:
        h.open_key("K").set_value("small", b"abcd", regf.REG_BINARY)
    with regf.open(path) as h:
        assert full_check(h).ok
    with regf.open(path, mode="r+") as h:  # sound again: no flag needed
        h.root.create_key("After")


def test_open_r_plus_refuses_a_damaged_copy(tmp_path: Path) -> None:
    bad, sk_offset = _freed_sk_hive()
    with pytest.raises(regf.DamagedHiveError) as info:
        regf.open(bad, mode="r+")
    assert info.value.offset == sk_offset
    damaged = _patch_vk(_hive(), "empty", data_size=0, data=0x12345678)
    with pytest.raises(regf.DamagedHiveError, match="bogus data offset"):
        regf.open(damaged, mode="r+")
    with regf.open(damaged, mode="r+", repair=True) as h:
        h.root.create_key("X")
    with pytest.raises(regf.InvalidArgumentError):
        regf.open(bad, repair=True)  # read-only opens are never refused: no such flag


def test_cli_edit_refuses_a_damaged_hive_unless_forced(tmp_path: Path) -> None:
    bad, sk_offset = _freed_sk_hive()
    path = tmp_path / "h.hiv"
    path.write_bytes(bad)
    r = CliRunner().invoke(main, ["mkkey", str(path), "New"])
    assert r.exit_code == 1 and r.output.startswith("regf: error:"), r.output
    assert f"{sk_offset:#x}" in r.output and "--repair" in r.output
    assert path.read_bytes() == bad
    out = tmp_path / "o.hiv"
    r = CliRunner().invoke(main, ["mkkey", str(path), "New", "-o", str(out)])
    assert r.exit_code == 1 and not out.exists()
    path.write_bytes(_patch_vk(_hive(), "small", data_size=DATA_INLINE | 9))
    assert CliRunner().invoke(main, ["set", str(path), "K", "small", "1"]).exit_code == 1
    r = CliRunner().invoke(main, ["--repair", "set", str(path), "K", "small", "1"])
    assert r.exit_code == 0, r.output
    assert CliRunner().invoke(main, ["check", str(path)]).exit_code == 0


def test_open_r_plus_of_a_sound_hive_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "h.hiv"
    path.write_bytes(_hive())
    with regf.open(path, mode="r+") as h:
        h.open_key("K").set_value("n", 1)
    with regf.open(path) as h:
        assert full_check(h).ok and h.open_key("K").value("n").data == 1


_MUTANT_BASES = [_hive()]


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_quick_check_agrees_with_the_full_check(seed: int, count: int) -> None:
    """The r+ gate's fast verdict is the full check's, on mutants of generated hives."""
    import warnings

    from regf.model.check import quick_sound
    from regf.model.fuzz import generate, mutate

    if not _MUTANT_BASES[1:]:
        _MUTANT_BASES.append(generate(21, max_keys=30)[0])
    bad = mutate(_MUTANT_BASES[seed % 2], seed, count=count)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            hive = regf.open(bad, recover=False)
        except regf.RegfError:
            return
    with hive:
        assert quick_sound(hive) == full_check(hive, dirty=False).ok


# ---------------------------------------------------------------------------------------
# Found by the strategies' log fuzzing: a resealed HvLE entry claiming a 2 GB hive


@pytest.mark.parametrize("size", [0x80000000, 0x7FFFF000])
@pytest.mark.parametrize("fmt", ["new", "old"])
def test_recovery_refuses_a_log_that_grows_the_hive_to_2gb(fmt: str, size: int) -> None:
    """2 GiB is refused by the storage layer's size cap; just under it, by the growth
    check (the zero fill past everything the primary and the logs hold)."""
    import time

    from regf.format.fast import HVLE_L
    from regf.model.fuzz import generate, reseal_log
    from regf.storage.logbuild import dirty_set
    from regf.storage.recovery import recover

    before, after = generate(2, max_keys=10, minor=5)[0], generate(3, max_keys=20, minor=5)[0]
    ds = dirty_set(before, after, fmt)  # type: ignore[arg-type]
    log = bytearray(ds.logs["LOG1"])
    if fmt == "new":
        HVLE_L.field("hbins_size").pack_into(log, 512, size)
    else:
        old_bits = (len(after) - 4096) // 4096
        bitmap = bytes(log[516 : 516 + old_bits]).ljust(size // 4096, b"\0")
        vector = b"DIRT" + bitmap
        vector += bytes(-(512 + len(vector)) % 512)
        log = log[:512] + bytearray(vector) + log[len(log) - 512 * len(ds.dirty) :]
        BASE_L.field("hbins_size").pack_into(log, 0, size)
    bad = reseal_log(bytes(log))
    t = time.perf_counter()
    why = "lies past everything" if size < 0x80000000 else "past everything|below 2 GiB"
    with pytest.raises(regf.RecoveryError, match=why):
        recover(ds.primary, [("LOG1", bad)])
    assert time.perf_counter() - t < 5


def test_recover_of_a_clean_but_damaged_hive_refuses_to_copy_it(tmp_path: Path) -> None:
    """Bug D's rule holds for the clean-hive copy too: recover never hands on a hive that
    `regf check` rejects, unless --forensic (which copies it and lists the problems)."""
    bad, sk_offset = _freed_sk_hive()
    path = tmp_path / "h.hiv"
    path.write_bytes(bad)
    out = tmp_path / "out.hiv"
    r = CliRunner().invoke(main, ["recover", str(path), "-o", str(out)])
    assert r.exit_code == 1 and not out.exists(), r.output
    assert f"{sk_offset:#010x}" in r.output and "fails the check" in r.output
    r = CliRunner().invoke(main, ["--forensic", "recover", str(path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == bad and "copied to" in r.output
