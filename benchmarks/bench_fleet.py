"""Fleet benchmark: ``regf.fleet.collect`` over a synthetic collection, 1 and 2 workers.

Builds a collection of ``--hives N`` hives in a temp folder: corpus primary hives (up to
``--max-mb`` each) and random valid hives from :func:`regf.model.fuzz.generate` (what
``regf fuzz`` writes), copied under host folders ``host-0001/...`` (plain layout, a few
hives per host). Then, for each worker count, it starts a ``LocalCluster`` (not timed),
collects into a fresh output folder and prints hives/s, MB/s, worker-seconds and CPU
seconds per hive, and the workers' peak RSS (``ru_maxrss`` reported by every task) next
to the largest hive. Last, the
estimate for a 100,000-hive fleet from the measured per-hive cost.

    python benchmarks/bench_fleet.py [--hives N] [--workers 1,2] [--corpus DIR] [--max-mb M]

The default is small (300 hives) because the development machine has 2 cores shared
with other jobs; the README figures come from ``--hives 2000``. Figures taken under
shared load: compare the ratios within one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from regf.fleet import collect  # noqa: E402
from regf.fleet.discover import classify_head  # noqa: E402
from regf.model.fuzz import generate  # noqa: E402

HIVES_PER_HOST = 5


def corpus_hives(corpus: Path | None, max_bytes: int) -> list[Path]:
    """Primary hives of the corpus (by signature) no larger than ``max_bytes``."""
    if corpus is None or not corpus.is_dir():
        return []
    found = []
    for p in sorted(corpus.rglob("*")):
        if not p.is_file() or p.stat().st_size > max_bytes:
            continue
        with open(p, "rb") as fh:
            if classify_head(fh.read(512)) == "primary":
                found.append(p)
    return found


def build(root: Path, n: int, corpus: list[Path]) -> tuple[int, int]:
    """Write ``n`` hives under ``root``; returns (hives, bytes). Every other hive is a
    corpus hive (cycling) while there are any, the rest fuzz hives."""
    total = 0
    for i in range(n):
        host = root / f"host-{i // HIVES_PER_HOST + 1:04d}"
        host.mkdir(exist_ok=True)
        if corpus and i % 2 == 0:
            src = corpus[(i // 2) % len(corpus)]
            dest = host / f"{i:05d}-{src.name}"
            shutil.copyfile(src, dest)
        else:
            data, _ = generate(i, max_keys=200)
            dest = host / f"{i:05d}-fuzz.hiv"
            dest.write_bytes(data)
        total += dest.stat().st_size
    return n, total


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def run(src: Path, out: Path, workers: int) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        idle = client.run(_rss)
        start = time.perf_counter()
        res = collect([src], out, client=client)
        seconds = time.perf_counter() - start
    return {
        "workers": workers,
        "hives": len(res.hives),
        "failed": res.failed,
        "bytes": res.bytes,
        "seconds": seconds,
        "cpu_seconds": sum(h["cpu_seconds"] for h in res.hives),
        # ru_maxrss reported by each task: the peak of every worker process (a worker
        # restarted by its nanny would start again from zero).
        "peak_rss": max((h["max_rss"] or 0 for h in res.hives), default=0),
        "idle_rss": max(idle.values(), default=0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hives", type=int, default=300, help="collection size (README: 2000)")
    ap.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    ap.add_argument("--corpus", type=Path, default=os.environ.get("REGF_CORPUS"))
    ap.add_argument("--max-mb", type=float, default=4.0, help="largest corpus hive to use")
    ap.add_argument("--keep", type=Path, default=None, help="build the collection here")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the worker counts, alternating their order (load drifts between runs)",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="regf-bench-fleet-"))
    try:
        src = args.keep or tmp / "collection"
        src.mkdir(parents=True, exist_ok=True)
        pool = corpus_hives(Path(args.corpus) if args.corpus else None, int(args.max_mb * 2**20))
        n, nbytes = build(src, args.hives, pool)
        largest = max(p.stat().st_size for p in src.rglob("*") if p.is_file())
        print(
            f"collection: {n} hives, {nbytes / 1e6:.1f} MB, {len(pool)} distinct corpus hives "
            f"+ fuzz hives, largest {largest / 2**20:.1f} MiB, {os.cpu_count()} CPUs (shared)"
        )
        print(
            "| workers | hives | MB | seconds | hives/s | MB/s | worker-ms per hive "
            "| CPU-ms per hive | peak RSS per worker (idle) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        results = []
        counts = [int(x) for x in args.workers.split(",")]
        order = [w for i in range(args.rounds) for w in (counts if i % 2 == 0 else counts[::-1])]
        for k, w in enumerate(order):
            r = run(src, tmp / f"out-{k}", w)
            shutil.rmtree(tmp / f"out-{k}", ignore_errors=True)
            results.append(r)
            print(
                f"| {w} | {r['hives']} | {r['bytes'] / 1e6:.1f} | {r['seconds']:.1f} "
                f"| {r['hives'] / r['seconds']:.1f} | {r['bytes'] / 1e6 / r['seconds']:.2f} "
                f"| {1000 * r['seconds'] * w / r['hives']:.1f} "
                f"| {1000 * r['cpu_seconds'] / r['hives']:.1f} "
                f"| {r['peak_rss'] / 2**20:.0f} MiB ({r['idle_rss'] / 2**20:.0f}) |"
            )
        # Best run of each worker count: the one least disturbed by other jobs.
        best = {
            w: min((r for r in results if r["workers"] == w), key=lambda r: r["seconds"])
            for w in counts
        }
        base = best[counts[0]]
        per_hive = base["seconds"] * base["workers"] / base["hives"]
        cpu_per_hive = base["cpu_seconds"] / base["hives"]
        if len(counts) > 1:
            last = best[counts[-1]]
            speedup = base["seconds"] / last["seconds"]
            eff = speedup / (last["workers"] / base["workers"])
            print(
                f"speedup {base['workers']} -> {last['workers']} workers (best runs): "
                f"{speedup:.2f}x (efficiency {eff:.0%})"
            )
        print(
            f"estimate for 100,000 such hives, from {per_hive * 1000:.1f} worker-ms per hive "
            f"(wall, this machine) and {cpu_per_hive * 1000:.1f} CPU-ms per hive (one free "
            "core per worker), perfect scaling:"
        )
        for workers in (1, 2, 8, 32, 128):
            wall = per_hive * 100_000 / workers / 3600
            cpu = cpu_per_hive * 100_000 / workers / 3600
            print(f"  {workers:>4} workers: {wall:6.2f} h as measured, {cpu:6.2f} h on free cores")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
