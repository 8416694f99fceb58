"""dfwinreg RecurseKeys benchmark: dfwinreg on regf (regf.contrib) vs on pyregf.

Through dfwinreg's interface only, as plaso reads a hive: open the file object,
``RecurseKeys()``, and for every key every value's ``data`` (with ``--objects`` also
``GetDataAsObject()``). Default hive: the largest primary hive of the corpus (regipy's
SYSTEM_WIN_10_1709, 15 MiB). Prints the best of ``--runs`` runs per backend, the counts
(keys, values, data bytes: the bytes differ by pyregf's inline/NUL-cut bugs), and the
speed-up of regf over pyregf measured in the same process, one run after the other.

    python benchmarks/bench_dfwinreg.py [--corpus DIR] [--runs N] [--objects] [HIVE ...]

Dirty hives are read as they are on both sides (``recover=False`` for regf; pyregf never
applies logs), so both read the same bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import oracles  # noqa: E402

Counts = tuple[int, int, int]


def recurse(module: Any, path: Path, objects: bool, **kwargs: Any) -> Counts:
    """Keys, values and data bytes of one RecurseKeys pass through ``module``."""
    keys = values = nbytes = 0
    registry_file = module.REGFWinRegistryFile(**kwargs)
    with open(path, "rb") as file_object:
        registry_file.Open(file_object)
        try:
            for key in registry_file.RecurseKeys():
                keys += 1
                for value in key.GetValues():
                    values += 1
                    data = value.data
                    if data is not None:
                        nbytes += len(data)
                    if objects and data is not None:
                        # Errors (pyregf's or ours) count alike: only time matters here.
                        with contextlib.suppress(Exception):
                            value.GetDataAsObject()
        finally:
            registry_file.Close()
    return keys, values, nbytes


def backends(objects: bool) -> dict[str, Callable[[Path], Counts]]:
    from dfwinreg import regf as dfwinreg_regf

    from regf.contrib import dfwinreg as regf_backend

    return {
        "pyregf": lambda p: recurse(dfwinreg_regf, p, objects),
        "regf": lambda p: recurse(regf_backend, p, objects, recover=False),
    }


def best(fn: Callable[[Path], Counts], path: Path, runs: int) -> tuple[float, Counts]:
    times, counts = [], (0, 0, 0)
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        counts = fn(path)
        times.append(time.perf_counter() - start)
    return min(times), counts


def largest_hive(corpus: Path) -> Path:
    hives = [p for p in oracles.corpus_files(corpus) if oracles.is_primary(p)]
    return max(hives, key=lambda p: p.stat().st_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hives", nargs="*", type=Path)
    parser.add_argument("--corpus", type=Path, default=os.environ.get("REGF_CORPUS"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--objects", action="store_true", help="also GetDataAsObject()")
    args = parser.parse_args(argv)
    hives = args.hives
    if not hives:
        if not args.corpus:
            parser.error("give HIVE paths or --corpus / REGF_CORPUS")
        hives = [largest_hive(Path(args.corpus))]
    import regf

    what = "data + GetDataAsObject" if args.objects else "data"
    print(f"dfwinreg RecurseKeys, every value's {what}; regf backend {regf.BACKEND}")
    print(f"best of {args.runs} runs; the machine may be shared: compare the ratio")
    ok = True
    for path in hives:
        size = path.stat().st_size / 2**20
        print(f"\n{path.name} ({size:.1f} MiB)")
        results = {}
        for name, fn in backends(args.objects).items():
            seconds, counts = best(fn, path, args.runs)
            results[name] = seconds
            keys, values, nbytes = counts
            print(
                f"  {name:7s} {seconds:8.3f} s   {keys} keys, {values} values, {nbytes} data bytes"
            )
        ratio = results["pyregf"] / results["regf"]
        print(f"  regf is {ratio:.2f}x as fast as pyregf (target >= 2x)")
        ok = ok and ratio >= 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
