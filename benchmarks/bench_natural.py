"""Natural-walk benchmark: the loop a new user writes, regf next to hivex, in one run.

The loop recurses through ``key.subkeys()``, reads ``sk.name``, every value's ``name``,
``int(type)`` and ``raw``, and builds each key's path itself. hivex does the same with
``node_children`` / ``node_name`` / ``node_values`` / ``value_key`` / ``value_type`` /
``value_value``. Each side runs in its own fresh process (so neither pays for the
other's garbage), opens the hive untimed, and times the walk alone; both run under this
interpreter (Debian's python3-hivex is importable into any CPython 3.11 build by adding
its dist-packages), so the Python parts of the loops run on the same build.

Default hives: the corpus's 3 largest primary hives. Each side runs ``--runs`` times,
alternating; the ratios printed are best regf / best hivex, and the median of each run's
regf / hivex pair (the two run back to back, so a slow spell of the machine slows both:
on a shared VM whose speed drifts by half, that median moves less than the best times).
Timings on a loaded machine vary: compare the ratios, not the seconds.

    python benchmarks/bench_natural.py [--corpus DIR] [--runs 11] [HIVE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import oracles  # noqa: E402

REGF = r"""
import json, sys, time
sys.path[:0] = [sys.argv[2]]
import regf
counts = [0, 0, 0]

def visit(key, path):
    counts[0] += 1
    for v in key.values():
        name = v.name
        t = int(v.type)
        data = v.raw
        counts[1] += 1
        counts[2] += len(data)
    for sk in key.subkeys():
        visit(sk, path + "\\" + sk.name if path else sk.name)

sys.setrecursionlimit(10000)
with regf.open(sys.argv[1], recover=False, strict=False) as hive:
    root = hive.root
    t0 = time.perf_counter()
    visit(root, "")
    t1 = time.perf_counter()
print(json.dumps({"s": t1 - t0, "counts": counts, "backend": regf.BACKEND}))
"""

HIVEX = r"""
import json, sys, time
sys.path.append("/usr/lib/python3/dist-packages")
import hivex
counts = [0, 0, 0]
h = hivex.Hivex(sys.argv[1])

def visit(node, path):
    counts[0] += 1
    for v in h.node_values(node):
        name = h.value_key(v)
        t = h.value_type(v)[0]
        data = h.value_value(v)[1]
        counts[1] += 1
        counts[2] += len(data)
    for c in h.node_children(node):
        n = h.node_name(c)
        visit(c, path + "\\" + n if path else n)

sys.setrecursionlimit(10000)
root = h.root()
t0 = time.perf_counter()
visit(root, "")
t1 = time.perf_counter()
print(json.dumps({"s": t1 - t0, "counts": counts}))
"""


def run(script: str, path: Path) -> dict[str, object]:
    """One side's walk in a fresh process: its seconds and (keys, values, bytes)."""
    r = subprocess.run(
        [sys.executable, "-c", script, str(path), str(HERE.parent)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:surrogatepass"},
    )
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr else "failed")
    out: dict[str, object] = json.loads(r.stdout)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hives", nargs="*", type=Path)
    ap.add_argument("--corpus", type=Path, default=os.environ.get("REGF_CORPUS"))
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args(argv)
    hives: list[Path] = args.hives
    if not hives:
        if not args.corpus:
            ap.error("give HIVE paths, or --corpus / REGF_CORPUS")
        prim = [p for p in oracles.corpus_files(args.corpus) if oracles.is_primary(p)]
        prim.sort(key=lambda p: p.stat().st_size, reverse=True)
        hives = prim[:3]
    cols = f"{'regf s':>7} | {'hivex s':>7} | {'x hivex':>7} | {'paired':>7}"
    print(f"| {'hive':<28} | {cols} | runs")
    print(f"|{'-' * 30}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|------")
    for path in hives:
        rt: list[float] = []
        ht: list[float] = []
        rc = hc = None
        backend = "?"
        for _ in range(args.runs):
            r = run(REGF, path)
            h = run(HIVEX, path)
            rt.append(float(r["s"]))  # type: ignore[arg-type]
            ht.append(float(h["s"]))  # type: ignore[arg-type]
            rc, hc, backend = r["counts"], h["counts"], str(r["backend"])
        note = "" if rc == hc else f"  counts differ: regf {rc} hivex {hc}"
        label = f"{path.parent.name[:12]}/{path.name}"[-28:]
        print(
            f"| {label:<28} | {min(rt):7.3f} | {min(ht):7.3f} | {min(rt) / min(ht):7.2f} | "
            f"{statistics.median(r / h for r, h in zip(rt, ht, strict=True)):7.2f} | "
            f"regf {' '.join(f'{t:.3f}' for t in rt)}; hivex "
            f"{' '.join(f'{t:.3f}' for t in ht)} ({backend}){note}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
