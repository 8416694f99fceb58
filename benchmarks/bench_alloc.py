"""Cell allocator speed: the pure-Python specification next to the C twin.

Runs the same 200 000 mixed operations (alloc / free / realloc, payload sizes like a
writer's: mostly small records, some lists and data cells, a few big-data segments) on
both allocators over a fresh hive, best of ``--repeat`` runs, and checks that the final
images are identical. The op list is generated up front (seeded) so only allocator calls
and the list bookkeeping are timed.

    python benchmarks/bench_alloc.py [--ops 200000] [--repeat 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import time

from regf.cells.alloc import CCellAllocator, PyCellAllocator

Op = tuple[int, int, int]  # (kind 0 alloc / 1 free / 2 realloc, pick, payload)


def make_ops(n: int, seed: int) -> list[Op]:
    rnd = random.Random(seed)
    ops: list[Op] = []
    for _ in range(n):
        r = rnd.random()
        kind = 0 if r < 0.5 else 1 if r < 0.8 else 2
        s = rnd.random()
        if s < 0.80:
            payload = rnd.randrange(8, 200)  # nk, vk, small data, short lists
        elif s < 0.99:
            payload = rnd.randrange(200, 4000)  # lists, value data
        else:
            payload = 16344  # big-data segment (its own 16 KiB bin)
        ops.append((kind, rnd.randrange(1 << 30), payload))
    return ops


def run(cls: type[PyCellAllocator] | type[CCellAllocator], ops: list[Op]) -> tuple[float, bytes]:
    img = bytearray(4096)
    img[0:4] = b"regf"
    a = cls(img)
    live: list[int] = []
    t0 = time.perf_counter()
    for kind, pick, payload in ops:
        if kind == 0 or not live:
            live.append(a.alloc(payload))
        elif kind == 1:
            i = pick % len(live)
            a.free(live[i])
            live[i] = live[-1]
            live.pop()
        else:
            i = pick % len(live)
            live[i] = a.realloc(live[i], payload)
    elapsed = time.perf_counter() - t0
    a.take_dirty()
    return elapsed, bytes(a.image)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    ops = make_ops(args.ops, args.seed)
    results = {}
    for name, cls in (("python", PyCellAllocator), ("c", CCellAllocator)):
        best = float("inf")
        image = b""
        for _ in range(args.repeat):
            t, image = run(cls, ops)
            best = min(best, t)
        results[name] = (best, image)
        print(
            f"{name:6} {args.ops} ops in {best:.3f} s: {args.ops / best:>10,.0f} ops/s, "
            f"{best / args.ops * 1e6:.2f} us/op (hive bins {len(image) - 4096:,} bytes)"
        )
    same = results["python"][1] == results["c"][1]
    print(f"speed-up {results['python'][0] / results['c'][0]:.1f}x; images identical: {same}")
    if not same:
        raise SystemExit("C and Python images differ")


if __name__ == "__main__":
    main()
