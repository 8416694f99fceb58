"""Atomic, idempotent partition writes: ``OUT/<table>/<hive_id>.parquet``.

Each partition is written by pyarrow to a hidden temp name in its table folder and moved
into place by :func:`regf.storage.atomic.replace_atomically` (a rename, not fsynced: see
:func:`write_partition`), so a reader (or a worker killed mid-write) never leaves or sees
a torn file, and a task that runs twice (Dask re-runs the tasks of a lost worker) replaces its own
files instead of adding rows. Temp names are unique per write (two threads of one worker
may write the same partition) and never end in ``.parquet``, so globs over the dataset
do not see them; :func:`sweep` removes those a dead worker left.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from regf.storage.atomic import replace_atomically

from .schema import SCHEMAS

TMP_SUFFIX = ".tmp"


def partition_path(out: str | os.PathLike[str], table: str, hive_id: str) -> Path:
    """Final path of one hive's partition of ``table``."""
    return Path(out) / table / f"{hive_id}.parquet"


def write_partition(out: str | os.PathLike[str], table: str, hive_id: str, data: pa.Table) -> Path:
    """Write one partition atomically (temp file in the same folder, then rename)."""
    final = partition_path(out, table, hive_id)

    def write(tmp: Path) -> None:
        pq.write_table(data, tmp, compression="zstd")

    # Not fsynced (durable=False): partitions are derived data that a rerun recreates,
    # and two fsyncs per partition (~6 ms each here, six partitions per hive) would
    # cost more than reading a typical hive. The rename still means a reader or a killed
    # worker never sees a torn partition; a power cut is answered by running again.
    return replace_atomically(
        final,
        write,
        temp_name=f".{hive_id}.{uuid.uuid4().hex}{TMP_SUFFIX}",
        parents=True,
        durable=False,
    )


def write_hive(out: str | os.PathLike[str], hive_id: str, tables: dict[str, pa.Table]) -> None:
    """Write every table's partition of one hive, ``hives`` last (it marks completion)."""
    for name in SCHEMAS:
        write_partition(out, name, hive_id, tables[name])


def sweep(out: str | os.PathLike[str]) -> int:
    """Remove temp files that killed writers left in ``out``; returns how many."""
    removed = 0
    for name in SCHEMAS:
        folder = Path(out) / name
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX):
                p.unlink(missing_ok=True)
                removed += 1
    return removed


__all__ = ["partition_path", "sweep", "write_hive", "write_partition"]
