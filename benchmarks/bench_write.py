"""Write benchmark: build keys x values and save, regf next to hivex, one run per layout.

Two layouts of the same number of keys and values:

* ``flat``: every key directly under the root (one huge subkey list -- hivex re-copies
  its whole list on every insert, so it is quadratic here);
* ``nested``: ``--parents`` parents under the root, the keys spread evenly under them
  (e.g. 200 x 100), where no list is large and hivex is not quadratic.

hivex has no "create hive", so both start from an empty hive (regf writes one with
``regf.create`` first; hivex opens that same empty file for writing) and add the keys:
hivex with node_add_child + node_set_values + commit (under /usr/bin/python3, where
Debian's python3-hivex lives), regf with create_key + set_value (raw 4-byte REG_DWORD
data) and the save on close -- once with ``set_values`` (one call per key, like hivex's
node_set_values) and once with ``set_value`` (one call per value). Each side runs in its
own process and times itself from its first call to the file being written. regf's
peak memory is the growth of the process's peak RSS (VmHWM) over its RSS after
``import regf`` and is printed next to the output size (target: at most twice). Prints
the seconds, the ratio regf/hivex per layout (target <= 1.0) and checks both files hold
every value.

Usage: python benchmarks/bench_write.py [--keys 20000] [--values 10] [--parents 200]
       [--layout flat|nested|both]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HIVEX = r"""
import sys, time, hivex
path, out, nkeys, nvals, nparents = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
t0 = time.perf_counter()
h = hivex.Hivex(path, write=True)
root = h.root()
parents = [h.node_add_child(root, "parent%03d" % p) for p in range(nparents)] or [root]
per = -(-nkeys // len(parents))
n = 0
for i in range(nkeys):
    node = h.node_add_child(parents[i // per], "key%06d" % i)
    vals = [{"key": "value%02d" % j, "t": 4, "value": (n + j).to_bytes(4, "little")}
            for j in range(nvals)]
    n += nvals
    h.node_set_values(node, vals)
h.commit(out)
print(time.perf_counter() - t0)
"""


def _rss_kib(field: str) -> int:
    """A VmRSS / VmHWM line of /proc/self/status, in KiB (0 where there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child(out: str, nkeys: int, nvals: int, nparents: int, bulk: bool) -> None:
    """Build and save with regf in this process; print JSON (seconds, peak growth)."""
    import regf

    dword = regf.REG_DWORD
    base = _rss_kib("VmRSS")
    t0 = time.perf_counter()
    with regf.create(out) as hive:
        root = hive.root
        parents = [root.create_key(f"parent{p:03d}") for p in range(nparents)] or [root]
        per = -(-nkeys // len(parents))
        n = 0
        for i in range(nkeys):
            key = parents[i // per].create_key(f"key{i:06d}")
            if bulk:
                key.set_values(
                    [(f"value{j:02d}", (n + j).to_bytes(4, "little"), dword) for j in range(nvals)]
                )
            else:
                for j in range(nvals):
                    key.set_value(f"value{j:02d}", (n + j).to_bytes(4, "little"), dword)
            n += nvals
    seconds = time.perf_counter() - t0
    peak = max(0, _rss_kib("VmHWM") - base) * 1024
    print(json.dumps({"seconds": seconds, "peak": peak, "backend": regf.BACKEND}))


def run_layout(d: Path, empty: Path, layout: str, args: argparse.Namespace) -> float | None:
    nparents = args.parents if layout == "nested" else 0
    shape = f"{nparents} x {-(-args.keys // nparents)}" if nparents else f"{args.keys}"
    print(f"[{layout}] {shape} keys x {args.values} values")
    runs = {}
    for bulk, how in ((True, "set_values"), (False, "set_value")):
        out = d / f"regf-{layout}-{how}.hiv"
        r = subprocess.run(
            [sys.executable, __file__, "--child", str(out), str(args.keys), str(args.values),
             str(nparents), str(int(bulk))],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        res = runs[how] = json.loads(r.stdout)
        size = out.stat().st_size
        print(f"  regf ({res['backend']}, {how}): {res['seconds']:.3f} s, {size} bytes, peak "
              f"memory {res['peak'] / 2**20:.1f} MiB = {res['peak'] / size:.2f}x the output "
              "(target <= 2.0)")  # fmt: skip
    out = d / f"regf-{layout}-set_values.hiv"
    hx_out = d / f"hivex-{layout}.hiv"
    r = subprocess.run(
        ["/usr/bin/python3", "-c", HIVEX, str(empty), str(hx_out), str(args.keys),
         str(args.values), str(nparents)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        print("  hivex: unavailable:", r.stderr.strip().splitlines()[-1:] or r.returncode)
        return None
    t_hx = float(r.stdout.strip())
    ratio = runs["set_values"]["seconds"] / t_hx
    print(f"  hivex (node_set_values): {t_hx:.3f} s, {hx_out.stat().st_size} bytes")
    print(f"  ratio regf/hivex: {ratio:.2f}x with set_values (target <= 1.0), "
          f"{runs['set_value']['seconds'] / t_hx:.2f}x with set_value per value")  # fmt: skip
    import regf

    with regf.open(out) as a, regf.open(hx_out) as b:
        na = sum(len(k.values()) for k in a.walk())
        nb = sum(len(k.values()) for k in b.walk())
    print(f"  values read back: regf file {na}, hivex file {nb}")
    return ratio


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], *map(int, sys.argv[3:6]), bulk=sys.argv[6] == "1")
        return
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--keys", type=int, default=20000)
    ap.add_argument("--values", type=int, default=10)
    ap.add_argument("--parents", type=int, default=200, help="parents of the nested layout")
    ap.add_argument("--layout", choices=["flat", "nested", "both"], default="both")
    args = ap.parse_args()
    import regf

    layouts = ["flat", "nested"] if args.layout == "both" else [args.layout]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        empty = d / "empty.hiv"
        with regf.create(empty):
            pass
        for layout in layouts:
            run_layout(d, empty, layout, args)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
