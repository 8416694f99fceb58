"""benchmarks/fuzz_campaign.py: its outcome classes and its verdict (not its speed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz_campaign.py"
_spec = importlib.util.spec_from_file_location("fuzz_campaign", _PATH)
assert _spec is not None and _spec.loader is not None
campaign = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_campaign"] = campaign
_spec.loader.exec_module(campaign)


def test_a_sound_hive_is_ok_and_a_damaged_one_a_regf_error(tmp_path: Path) -> None:
    from regf.model.fuzz import generate, mutate

    data = generate(4, max_keys=10)[0]
    p = tmp_path / "h"
    p.write_bytes(data)
    strict, forensic = campaign.run_input("hive", str(p))
    assert strict[0] == forensic[0] == campaign.OK
    p.write_bytes(mutate(data, 1, kinds=("signature",), count=3))
    outcomes = campaign.run_input("hive", str(p))
    assert {o[0] for o in outcomes} <= {campaign.OK, campaign.REGF}


def test_findings_are_other_exceptions_and_disagreements() -> None:
    tally = campaign.Tally()
    ok = [[campaign.OK, "d1"], [campaign.OK, "d1"]]
    campaign._compare("same", [], {"c": ok, "python": ok}, tally)
    assert tally.findings == []
    other = [[campaign.OTHER, "KeyError", "x"], [campaign.OK, "d1"]]
    campaign._compare("bad", ["m"], {"c": other, "python": ok}, tally)
    assert any("other exception" in f for f in tally.findings)
    assert any(f.startswith("backends disagree on bad") for f in tally.findings)


def test_timeouts_and_signals_are_classified(tmp_path: Path) -> None:
    w = campaign.Worker("python")
    try:
        assert w.ask("_hang", str(tmp_path), 1.0) == [[campaign.TIMEOUT, "> 1 s"]]
        assert w.ask("_segv", str(tmp_path), 30.0) == [[campaign.SIGNAL, "SIGSEGV"]]
        p = tmp_path / "h"
        from regf.model.fuzz import generate

        p.write_bytes(generate(1, max_keys=5)[0])
        assert w.ask("hive", str(p), 30.0)[0][0] == campaign.OK  # restarted after both
    finally:
        w.stop()


@pytest.mark.slow
def test_small_campaign_on_generated_hives_passes(tmp_path: Path) -> None:
    assert campaign.main(["--mutants", "2", "--logs", "4", "--corpus", str(tmp_path)]) == 0
