"""Write the atheris seed corpora from regf.strategies (deterministic; nothing committed).

    python -P fuzz/make_seeds.py [OUT] [--count N]

OUT (default fuzz/seeds/) gets one directory per harness: ``open_walk`` (generated and
mutated hives), ``recovery`` (dirty primary + LOG1 + LOG2, clean and with damaged logs),
``reg_import`` (.reg exports of generated trees, UTF-16 and UTF-8) and ``nt_api``
(random call sequences: any bytes drive the decoder). The strategies are drawn with a
fixed seed, so the same command writes the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
from _parts import join_parts

from regf import strategies as rs
from regf.model.regexport import export_reg


def draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` examples of ``strategy``, the same ones on every run."""
    out: list[Any] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(x: Any) -> None:
        out.append(x)

    collect()
    return out[:n]


def write(folder: Path, items: list[bytes]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for data in items:
        (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
    return len(items)


def reg_text(h: rs.GeneratedHive) -> list[bytes]:
    from regf import open as regf_open

    with regf_open(h.data) as hive:
        lines = export_reg(hive.root, "HKEY_LOCAL_MACHINE\\FUZZ")
    text = "\r\n".join(lines) + "\r\n"
    return [
        b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass"),
        # Names may hold lone surrogates (valid in a hive's UTF-16): surrogatepass keeps
        # them as 3-byte sequences, which is exactly the kind of input the importer must
        # reject cleanly (surrogateescape only covers U+DC80..U+DCFF and raised here).
        text.encode("utf-8", "surrogatepass"),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=os.path.join(os.path.dirname(__file__), "seeds"))
    ap.add_argument("--count", type=int, default=30, help="examples per strategy")
    args = ap.parse_args()
    if args.count < 1:
        ap.error("--count must be at least 1")
    out = Path(args.out)
    small = rs.key_trees(max_depth=2, max_subkeys=4, max_values=4, big=False, wide=False)
    n = args.count
    jobs: dict[str, Callable[[], list[bytes]]] = {
        "open_walk": lambda: (
            [h.data for h in draw(rs.hives(trees=small), n)]
            + [m.data for m in draw(rs.mutated_hives(), n)]
        ),
        "recovery": lambda: (
            [
                join_parts([d.primary, d.logs["LOG1"], d.logs["LOG2"]])
                for d in draw(rs.dirty_hives(), n)
            ]
            + [
                join_parts([d.dirty.primary, d.logs["LOG1"], d.logs["LOG2"]])
                for d in draw(rs.damaged_log_sets(), n)
            ]
        ),
        "reg_import": lambda: [b for h in draw(rs.hives(trees=small), n) for b in reg_text(h)],
        "nt_api": lambda: draw(st.binary(min_size=8, max_size=400), n),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, job in jobs.items():
            count = write(out / name, job())
            print(f"{name}: {count} seeds in {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
