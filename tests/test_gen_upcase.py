"""regf/_accel/upcase_table.py and csrc/upcase_table.h are what tools/gen_upcase.py makes.

The Python table is stored as runs and expanded at import; the C header as pairs. Both
must give the same table, and (when the shared data folder is there) the table must be
Windows' one from ``windows-upcase.tsv``; without it that test skips.
"""

from __future__ import annotations

import importlib.util
import random
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from regf._accel import pure
from regf._accel.upcase_table import UPCASE

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_upcase", ROOT / "tools/gen_upcase.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _generator()


def test_python_and_c_tables_agree() -> None:
    pairs = gen.read_header()
    assert len(pairs) > 900
    assert pairs == UPCASE


def test_committed_files_are_what_the_generator_writes() -> None:
    # Regenerated from the committed table itself: a hand edit of either file shows.
    assert gen.stale(UPCASE) == []


def test_runs_round_trip_on_random_tables() -> None:
    rng = random.Random(14)
    for _ in range(300):
        table: dict[int, int] = {}
        for _ in range(rng.randrange(0, 60)):
            unit = rng.randrange(0, 0x10000)
            table[unit] = rng.choice([unit - 1, unit - 32, unit + 1, rng.randrange(0x10000)])
        table = {u: d for u, d in table.items() if u != d}
        runs = gen.ranges(table)
        assert gen.expand(runs) == table
        for first, last, step, _ in runs:
            assert step in (1, 2) and first <= last and (last - first) % step == 0


def test_runs_are_compact() -> None:
    # The point of the run form: far fewer lines than one per code unit.
    assert len(gen.ranges(UPCASE)) * 5 < len(UPCASE)
    assert len((ROOT / gen.PY).read_text(encoding="utf-8").splitlines()) < 200


def test_upcase_spot_checks() -> None:
    # Independent of the generator: a few units whose Windows upper case is known.
    assert pure.upcase("abcxyz") == "ABCXYZ"
    assert pure.upcase("\u00ff") == "\u0178"  # y with diaeresis: outside Latin-1 upper
    assert pure.upcase("\u0101\u0100") == "\u0100\u0100"  # a Latin Extended pair
    assert pure.upcase("\u00df") == "\u00df"  # sharp s has no one-unit upper case
    assert pure.upcase("\u0131") == "\u0131"  # dotless i: unchanged (str.upper gives I)


def test_stale_file_is_reported(tmp_path: Path) -> None:
    for rel in (gen.PY, gen.HEADER):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    assert gen.stale(UPCASE, tmp_path) == []
    changed = dict(UPCASE)
    changed[0x0061] = 0x0042
    assert gen.stale(changed, tmp_path) == [gen.PY, gen.HEADER]


def test_check_without_tsv_compares_the_files(tmp_path: Path) -> None:
    assert gen.main(["--check", str(tmp_path / "missing.tsv")]) == 0


def test_table_matches_windows_tsv() -> None:
    tsv = gen.default_tsv()
    if not tsv.is_file():
        pytest.skip(f"{tsv} not found (set REGF_CORPUS to the shared corpus)")
    assert gen.read_tsv(tsv) == UPCASE
    assert gen.main(["--check", str(tsv)]) == 0
