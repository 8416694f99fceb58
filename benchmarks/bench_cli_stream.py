"""Streaming CLI output (issue 15 item 4): time to the first line, total time, peak memory.

Runs the installed ``regf`` on one hive for ``tree``, ``tree --values``, ``ls``,
``export``, ``find --value .`` and ``timeline`` with stdout on a pipe, and reports per
command the time until the first line arrived, the total wall time and the child's
peak RSS, plus the ratios the issue sets (``tree --values`` / ``export`` <= 1.5; first
line < 0.3 s; peak RSS above the interpreter's own <= 2x the file size). The baseline
RSS is ``regf --version`` (the interpreter with regf imported).

regf's bytecode is compiled first, as ``pip install`` leaves an installed package: an
editable checkout under ``PYTHONDONTWRITEBYTECODE=1`` (as on this VM) would otherwise
compile every module again in every run, ~80 ms of startup no installed copy pays.
``--no-compile`` measures without that step.

    python benchmarks/bench_cli_stream.py [HIVE] [--repeat 3] [--no-compile]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = "mkorman90__regipy/regipy_tests/data/SYSTEM_WIN_10_1709"


def run(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds to first line, seconds in all, peak RSS in KiB) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - start
    while proc.stdout.read(1 << 20):
        pass
    _pid, _status, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return first, time.perf_counter() - start, int(usage.ru_maxrss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus = os.environ.get("REGF_CORPUS", "")
    ap.add_argument("hive", nargs="?", default=os.path.join(corpus, DEFAULT))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-compile", action="store_true", help="leave regf's bytecode as is")
    args = ap.parse_args()
    exe = shutil.which("regf")
    if exe is None:
        sys.exit("the regf entry point is not installed")
    if not args.no_compile:
        pkg = subprocess.run(
            [sys.executable, "-c", "import os, regf; print(os.path.dirname(regf.__file__))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        compileall.compile_dir(pkg, quiet=1)
        print(f"bytecode compiled in {pkg} (as pip install leaves it)")
    hive = args.hive
    size_kib = Path(hive).stat().st_size // 1024
    starts = [run([exe, "--version"]) for _ in range(args.repeat)]
    base = min(r[2] for r in starts)
    startup = min(r[1] for r in starts)
    commands = {
        "tree": ["tree", hive],
        "tree --values": ["tree", "--values", hive],
        "ls": ["ls", hive],
        "export": ["export", hive],
        "export --format jsonl": ["export", "--format", "jsonl", hive],
        "find --value .": ["find", hive, "--value", "."],
        "timeline": ["timeline", hive],
    }
    results: dict[str, tuple[float, float, int]] = {}
    print(f"hive {hive} ({size_kib} KiB); interpreter baseline RSS {base} KiB")
    print(f"startup (regf --version, interpreter + imports): {startup:.3f}s")
    print(f"{'command':<22} {'first line':>10} {'total':>8} {'peak RSS':>10} {'RSS-base':>9}")
    for name, cmd in commands.items():
        runs = [run([exe, *cmd]) for _ in range(args.repeat)]
        first = min(r[0] for r in runs)
        total = min(r[1] for r in runs)
        rss = max(r[2] for r in runs)
        results[name] = (first, total, rss)
        print(
            f"{name:<22} {first:>9.3f}s {total:>7.2f}s {rss:>8} K {(rss - base) / size_kib:>8.2f}x"
        )
    ratio = results["tree --values"][1] / results["export"][1]
    print(f"tree --values / export total time: {ratio:.2f} (target <= 1.5)")
    late = max(r[0] for r in results.values() if r is not results["timeline"]) - startup
    print(f"first line after startup, worst streamed command: {late:+.3f}s (target < 0.3 s)")
    print("timeline sorts by time, so its first line follows the whole walk")


if __name__ == "__main__":
    main()
