"""Full-walk benchmark: regf vs the installed peer readers.

A full walk visits every key and reads every value's raw data ("regf README loop" also
reads each key's path, class name, last written time and subkeys, as README's example).
For each hive (default: the corpus's 3 largest primary hives, which include regipy's
SYSTEM_WIN_10_1709) it prints one run's seconds per reader and the ratio to hivex, then
regf's peak RSS during a walk (measured in a fresh subprocess) against the file size,
and the time to open the hive and look up its deepest key.

    python benchmarks/bench_walk.py [--corpus DIR] [--runs 3] [--slow-peers] [HIVE ...]

hivex and regf's two rows take the best of ``--runs`` runs, alternating (this VM's
times vary by 30 % or more from one run to the next); the slower peers run once.

hivex runs under /usr/bin/python3 (Debian's python3-hivex); only its walk is timed,
inside that process. regipy takes minutes per big hive, so it only runs with
``--slow-peers``. Dirty hives are read without applying logs (``recover=False``) so all
readers see the same bytes.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import oracles  # noqa: E402

# --------------------------------------------------------------------------- walkers
# Each returns (keys, values, data bytes) so readers can be sanity-checked.


def walk_regf(path: Path) -> tuple[int, int, int]:
    import regf

    keys = values = nbytes = 0
    with regf.open(path, recover=False, strict=False) as hive:
        for key in hive.walk():
            keys += 1
            for v in key.values():
                values += 1
                nbytes += len(v.raw)
    return keys, values, nbytes


def walk_regf_readme(path: Path) -> tuple[int, int, int]:
    """README's loop: every key's path, class name, last written time and number of
    subkeys, as README's example prints them, on top of the values' raw data. More work
    than the other readers do: the row shows that what users read per key stays cheap."""
    import regf
    from regf.format.constants import MAX_DEPTH

    keys = values = nbytes = 0
    with regf.open(path, recover=False, strict=False) as hive:
        # README's example passes max_depth (2 there): a limit past the deepest key
        # walks the whole tree through that same path.
        for key in hive.walk(max_depth=MAX_DEPTH):
            keys += 1
            _ = (key.path, key.class_name, key.last_written, len(key.subkeys()))
            for v in key.values():
                values += 1
                nbytes += len(v.raw)
    return keys, values, nbytes


def walk_pyregf(path: Path) -> tuple[int, int, int]:
    import pyregf

    keys = values = nbytes = 0
    f = pyregf.file()
    f.open(str(path))
    try:
        stack = [f.get_root_key()]
        while stack:
            key = stack.pop()
            keys += 1
            for v in key.values:
                values += 1
                nbytes += len(v.data or b"")
            stack.extend(key.sub_keys)
    finally:
        f.close()
    return keys, values, nbytes


def walk_dissect(path: Path) -> tuple[int, int, int]:
    from dissect.regf import RegistryHive

    keys = values = nbytes = 0
    with open(path, "rb") as fh:
        hive = RegistryHive(fh)
        stack = [hive.root()]
        while stack:
            key = stack.pop()
            keys += 1
            for v in key.values():
                values += 1
                nbytes += len(v.data or b"")
            stack.extend(key.subkeys())
    return keys, values, nbytes


def walk_python_registry(path: Path) -> tuple[int, int, int]:
    from Registry import Registry

    keys = values = nbytes = 0
    reg = Registry.Registry(str(path))
    stack = [reg.root()]
    while stack:
        key = stack.pop()
        keys += 1
        for v in key.values():
            values += 1
            nbytes += len(v.raw_data() or b"")
        stack.extend(key.subkeys())
    return keys, values, nbytes


def walk_regipy(path: Path) -> tuple[int, int, int]:
    from regipy.registry import RegistryHive

    keys = values = nbytes = 0
    hive = RegistryHive(str(path))
    for entry in hive.recurse_subkeys(as_json=False):
        keys += 1
        for v in entry.values or []:
            values += 1
            nbytes += len(v.value) if isinstance(v.value, bytes | str) else 0
    return keys, values, nbytes


PEERS: list[tuple[str, Callable[[Path], tuple[int, int, int]], bool]] = [
    ("regf", walk_regf, False),
    ("regf README loop", walk_regf_readme, False),
    ("pyregf", walk_pyregf, False),
    ("dissect.regf", walk_dissect, False),
    ("python-registry", walk_python_registry, False),
    ("regipy", walk_regipy, True),
]

# --------------------------------------------------------------------------- extras

# VmHWM (per address space, reset by exec) rather than ru_maxrss, which a child
# inherits from a big parent across fork+exec.
RSS_CHILD = r"""
import resource, sys
sys.path[:0] = [sys.argv[2]]
def hwm():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import regf
base = hwm()
with regf.open(sys.argv[1], recover=False, strict=False) as hive:
    for key in hive.walk():
        for v in key.values():
            v.raw
print(base, hwm())
"""


def regf_rss_kib(path: Path) -> tuple[int, int]:
    """(RSS after import, peak RSS after a full walk) of a fresh process, in KiB."""
    out = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(path), str(HERE.parent)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def deepest_key(path: Path) -> str:
    import regf

    best = ""
    with regf.open(path, recover=False, strict=False) as hive:
        for key in hive.walk():
            if key.path.count("\\") > best.count("\\"):
                best = key.path
    return best


def open_deep_ms(path: Path, key: str) -> dict[str, float]:
    import regf

    out: dict[str, float] = {}
    t = time.perf_counter()
    with regf.open(path, recover=False, strict=False) as hive:
        hive.open_key(key).values()
    out["regf"] = (time.perf_counter() - t) * 1000
    try:
        import pyregf

        t = time.perf_counter()
        f = pyregf.file()
        f.open(str(path))
        k = f.get_key_by_path(key)
        _ = list(k.values) if k is not None else None
        f.close()
        out["pyregf"] = (time.perf_counter() - t) * 1000
    except Exception:
        pass
    return out


# --------------------------------------------------------------------------- main


Rows = dict[str, tuple[float | None, str]]


def timed(rows: Rows, name: str, fn: Callable[[Path], tuple[int, int, int]], path: Path) -> None:
    """Run one reader once; keep its best time in ``rows``."""
    # Each reader starts from a collected heap: the garbage an earlier reader left
    # (dissect.regf's and python-registry's object graphs) otherwise makes the next
    # reader's collections scan it -- measured here, up to 2x on regf's walk of the
    # third hive.
    gc.collect()
    t = time.perf_counter()
    try:
        k, v, b = fn(path)
    except Exception as exc:
        rows[name] = (None, f"error: {type(exc).__name__}: {str(exc)[:60]}")
        return
    keep_best(rows, name, time.perf_counter() - t, f"{k} keys, {v} values, {b} B")


def keep_best(rows: Rows, name: str, secs: float, note: str) -> None:
    """Record ``secs`` for ``name`` unless an earlier run was faster."""
    best = rows.get(name, (None, ""))[0]
    if best is None or secs < best:
        rows[name] = (secs, note)


def default_hives(corpus: Path) -> list[Path]:
    prim = [p for p in oracles.corpus_files(corpus) if oracles.is_primary(p)]
    prim.sort(key=lambda p: p.stat().st_size, reverse=True)
    return prim[:3]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hives", nargs="*", type=Path)
    ap.add_argument("--corpus", type=Path, default=os.environ.get("REGF_CORPUS"))
    ap.add_argument("--slow-peers", action="store_true", help="also run regipy (minutes)")
    ap.add_argument("--runs", type=int, default=3, help="best of N for hivex and regf")
    args = ap.parse_args(argv)

    hives: list[Path] = args.hives
    if not hives:
        if not args.corpus:
            ap.error("give HIVE paths, or --corpus / REGF_CORPUS")
        hives = default_hives(Path(args.corpus))

    import regf

    print(f"regf backend: {regf.BACKEND}   python {sys.version.split()[0]}")
    for path in hives:
        size = path.stat().st_size
        label = (
            path.relative_to(args.corpus)
            if args.corpus and path.is_relative_to(Path(args.corpus))
            else path
        )
        print(f"\n## {label}  ({size / 2**20:.1f} MiB)")
        rows: Rows = {}
        for run in range(max(1, args.runs)):
            try:
                hx = oracles.time_hivex(path)
                keep_best(rows, "hivex", float(hx["walk_s"]), f"{hx['bytes']} data bytes")
            except Exception as exc:
                rows["hivex"] = (None, f"error: {str(exc)[:60]}")
            for name, fn, slow in PEERS:
                if not name.startswith("regf") and run:
                    continue  # the slower peers: one run
                if slow and not args.slow_peers:
                    rows[name] = (None, "skipped (use --slow-peers)")
                    continue
                timed(rows, name, fn, path)
        hivex_s = rows["hivex"][0]
        print(f"| {'reader':<16} | {'seconds':>8} | {'x hivex':>8} | notes")
        print(f"|{'-' * 18}|{'-' * 10}|{'-' * 10}|------")
        for name, (secs, note) in rows.items():
            s = f"{secs:8.3f}" if secs is not None else "       -"
            r = f"{secs / hivex_s:8.2f}" if secs is not None and hivex_s else "       -"
            print(f"| {name:<16} | {s} | {r} | {note}")
        base, peak = regf_rss_kib(path)
        print(
            f"regf peak RSS during walk: {peak / 1024:.1f} MiB "
            f"(+{(peak - base) / 1024:.1f} MiB over import; file {size / 2**20:.1f} MiB, "
            f"ratio {(peak - base) * 1024 / size:.2f}x file)"
        )
        deep = deepest_key(path)
        ms = open_deep_ms(path, deep)
        depth = deep.count("\\") + 1 if deep else 0
        timings = ", ".join(f"{k} {v:.1f} ms" for k, v in ms.items())
        print(f"open + deepest key (depth {depth}): {timings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
