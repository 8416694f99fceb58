"""Write benchmark: build N keys x M values and save, regf next to hivex, one run.

hivex has no "create hive", so both start from an empty hive (regf writes one with
``regf.create`` first, hivex then opens that same empty file for writing) and add the keys
under the root: hivex with node_add_child + node_set_values + commit (run under
/usr/bin/python3, where Debian's python3-hivex lives), regf with create_key + set_value +
save. Prints seconds, the ratio and output sizes.

Usage: python benchmarks/bench_write.py [--keys 20000] [--values 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import regf

HIVEX = r"""
import sys, time, hivex
path, out, nkeys, nvals = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = time.perf_counter()
h = hivex.Hivex(path, write=True)
root = h.root()
for i in range(nkeys):
    node = h.node_add_child(root, "key%06d" % i)
    vals = [{"key": "value%02d" % j, "t": 4, "value": (i * nvals + j).to_bytes(4, "little")}
            for j in range(nvals)]
    h.node_set_values(node, vals)
h.commit(out)
print(time.perf_counter() - t0)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=20000)
    ap.add_argument("--values", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        empty = Path(d) / "empty.hiv"
        with regf.create(empty):
            pass
        out = Path(d) / "regf.hiv"
        t0 = time.perf_counter()
        with regf.create(out) as hive:
            root = hive.root
            for i in range(args.keys):
                k = root.create_key(f"key{i:06d}")
                for j in range(args.values):
                    k.set_value(f"value{j:02d}", (i * args.values + j).to_bytes(4, "little"),
                                regf.REG_DWORD)
        t_regf = time.perf_counter() - t0
        print(f"regf ({regf.BACKEND}): {t_regf:.3f} s, {out.stat().st_size} bytes")
        hx_out = Path(d) / "hivex.hiv"
        r = subprocess.run(
            ["/usr/bin/python3", "-c", HIVEX, str(empty), str(hx_out), str(args.keys),
             str(args.values)],
            capture_output=True, text=True, check=False,
        )
        if r.returncode != 0:
            print("hivex: unavailable:", r.stderr.strip().splitlines()[-1:] or r.returncode)
            return
        t_hx = float(r.stdout.strip())
        print(f"hivex: {t_hx:.3f} s, {hx_out.stat().st_size} bytes")
        print(f"ratio regf/hivex: {t_regf / t_hx:.2f}x (target <= 1.0)")
        # Both outputs must hold the same data.
        with regf.open(out) as a, regf.open(hx_out) as b:
            na = sum(len(k.values()) for k in a.walk())
            nb = sum(len(k.values()) for k in b.walk())
        print(f"values read back: regf file {na}, hivex file {nb}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
