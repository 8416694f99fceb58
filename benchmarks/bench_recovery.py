"""Time regf's log recovery of regipy's SYSTEM_B (+ LOG1/LOG2) against regipy's replay.

Usage: ``REGF_CORPUS=/path/to/corpus python3 benchmarks/bench_recovery.py [--runs 3]``.
The best of ``--runs`` runs of each (all runs printed), and their ratio. Both timings
include reading the input files: regf is timed through its public API (``regf.open``
finds the logs beside the hive, maps the files and recovers in memory), regipy through
``apply_transaction_logs``, which also writes its restored hive to a temporary file (its
API needs one). The file reads are warmed up first for both, so neither pays for the
disk, and garbage is collected before every timed call of either side.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path

# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import regf
from regf._accel import BACKEND


def _regf(hive: Path) -> tuple[float, int]:
    start = time.perf_counter()
    with regf.open(hive) as h:
        report = h.recovery
    elapsed = time.perf_counter() - start
    return elapsed, report.pages_applied


def _regipy(hive: Path) -> tuple[float, int]:
    from regipy.recovery import apply_transaction_logs

    log1, log2 = (hive.with_name(hive.name + s) for s in (".LOG1", ".LOG2"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "restored")
        start = time.perf_counter()
        _, pages = apply_transaction_logs(str(hive), str(log1), str(log2), out)
        return time.perf_counter() - start, pages


def main() -> int:
    """Run both recoveries once and print the timings and their ratio."""
    corpus = os.environ.get("REGF_CORPUS")
    if not corpus:
        print("set REGF_CORPUS to the corpus folder", file=sys.stderr)
        return 2
    hive = Path(corpus, "mkorman90__regipy", "regipy_tests", "data", "SYSTEM_B")
    for p in (hive, hive.with_name(hive.name + ".LOG1"), hive.with_name(hive.name + ".LOG2")):
        p.read_bytes()  # page cache warm-up only; not timed
    # Best of --runs (default 3) for each side, alternating: a single cold run mostly
    # measures first-call costs (imports, page faults of a 12 MB copy), on both sides.
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    regf_runs, regipy_runs = [], []
    for _ in range(runs):
        # Each side starts with no garbage from the other's last run: regipy's replay
        # leaves ~100k objects whose collection otherwise lands in regf's timed call.
        gc.collect()
        regf_runs.append(_regf(hive))
        gc.collect()
        regipy_runs.append(_regipy(hive))
    (t_regf, p_regf), (t_regipy, p_regipy) = min(regf_runs), min(regipy_runs)
    print(
        f"runs: {runs} each, best shown; regf all: "
        + ", ".join(f"{t * 1000:.1f}" for t, _ in regf_runs)
        + " ms; regipy all: "
        + ", ".join(f"{t * 1000:.1f}" for t, _ in regipy_runs)
        + " ms"
    )
    print(f"regf   ({BACKEND} backend): {t_regf * 1000:8.1f} ms, {p_regf} pages")
    print(f"regipy              : {t_regipy * 1000:8.1f} ms, {p_regipy} pages")
    print(f"ratio regipy/regf   : {t_regipy / t_regf:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
