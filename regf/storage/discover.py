"""Find a hive's transaction log files next to it (fmt §6.1)."""

from __future__ import annotations

import os
from pathlib import Path

#: Log suffixes in the order Windows uses them: single-log scheme, then dual-log.
LOG_SUFFIXES = (".log", ".log1", ".log2")


def find_logs(hive_path: str | os.PathLike[str]) -> list[Path]:
    """Return the non-empty sibling logs of ``hive_path`` (``.LOG``, ``.LOG1``, ``.LOG2``).

    Matching is case-insensitive on the directory listing, covering both the extension
    and the hive's own name (``NTUSER.DAT`` with ``ntuser.dat.LOG1``): on a case-sensitive
    file system copied from Windows the case of either part may differ. Zero-length files
    (a stale ``.LOG`` from the install image) are skipped. Order: ``.LOG``, ``.LOG1``,
    ``.LOG2``, then by name.
    """
    hive = Path(hive_path)
    base = hive.name.casefold()
    wanted = {base + suffix: rank for rank, suffix in enumerate(LOG_SUFFIXES)}
    found: list[tuple[int, str, Path]] = []
    try:
        names = os.listdir(hive.parent)
    except OSError:
        return []
    for name in names:
        rank = wanted.get(name.casefold())
        if rank is None:
            continue
        path = hive.parent / name
        try:
            if not path.is_file() or path.stat().st_size == 0:
                continue
        except OSError:
            continue
        found.append((rank, name, path))
    return [path for _, _, path in sorted(found)]


__all__ = ["LOG_SUFFIXES", "find_logs"]
