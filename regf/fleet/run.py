"""Run a collection: discover hives, one task per hive (Dask or in process), progress.

Tasks return a small summary dict, never tables: the rows go straight from the worker
to its partition files, so the client's memory does not grow with the fleet and a
worker holds one hive's tables at a time.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .discover import HiveRef, discover
from .extract import timed_extract
from .schema import ERRORS, HIVES, SCHEMAS
from .write import partition_path, sweep, write_hive, write_partition

ProgressFn = Callable[[dict[str, Any]], None]
COUNTS = ["key_count", "value_count", "deleted_count", "error_count"]


def _one_row(schema: pa.Schema, **row: Any) -> pa.Table:
    """A one-row table of ``schema``; columns not given are null."""
    return pa.Table.from_pydict({f.name: [row.get(f.name)] for f in schema}, schema)


def process_hive(ref: HiveRef, out: str) -> dict[str, Any]:
    """The task: extract one hive and write its partitions. Returns its summary, with
    the task's wall and CPU seconds and the worker process's peak RSS so far."""
    start, cpu = time.perf_counter(), time.process_time()
    tables, _ = timed_extract(ref)
    write_hive(out, ref.hive_id, tables)
    cpu = time.process_time() - cpu
    row = tables["hives"].select([*COUNTS, "status"]).to_pylist()[0]
    return {
        "hive_id": ref.hive_id,
        "host": ref.host,
        "hive_path": ref.hive_path,
        "hive_type": ref.hive_type,
        "size": ref.size,
        "status": row["status"],
        "keys": row["key_count"],
        "values": row["value_count"],
        "deleted": row["deleted_count"],
        "errors": row["error_count"],
        "seconds": round(time.perf_counter() - start, 6),
        "cpu_seconds": round(cpu, 6),
        "max_rss": _max_rss(),
        "pid": os.getpid(),
    }


def _max_rss() -> int | None:
    """Peak resident memory of this process in bytes (None where unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(kb) * (1 if sys.platform == "darwin" else 1024)


def _lost_task(ref: HiveRef, out: str, exc: BaseException) -> dict[str, Any]:
    """Record a hive whose task failed outside regf (e.g. it killed every worker that ran
    it): one ``errors`` row and a ``hives`` row with status ``failed``, and no rows
    in the other tables (an attempt may have written some before it died)."""
    for name in SCHEMAS:
        partition_path(out, name, ref.hive_id).unlink(missing_ok=True)
    origin = {
        "host": ref.host,
        "hive_id": ref.hive_id,
        "hive_path": ref.hive_path,
        "hive_type": ref.hive_type,
    }
    err = _one_row(ERRORS, **origin, stage="task", error=type(exc).__name__, message=str(exc))
    write_partition(out, "errors", ref.hive_id, err)
    hives = _one_row(HIVES, **origin, size=ref.size, error_count=1, status="failed")
    write_partition(out, "hives", ref.hive_id, hives)
    return {
        "hive_id": ref.hive_id,
        "host": ref.host,
        "hive_path": ref.hive_path,
        "hive_type": ref.hive_type,
        "size": ref.size,
        "status": "failed",
        "keys": 0,
        "values": 0,
        "deleted": 0,
        "errors": 1,
        "seconds": 0.0,
        "cpu_seconds": 0.0,
        "max_rss": None,
        "pid": None,
    }


@dataclass
class CollectResult:
    """What :func:`collect` did."""

    out: Path
    hives: list[dict[str, Any]] = field(default_factory=list)
    """One summary per hive (``status``: ok, partial or failed)."""
    seconds: float = 0.0
    workers: int = 0

    @property
    def failed(self) -> int:
        """Hives that could not be read at all."""
        return sum(1 for h in self.hives if h["status"] == "failed")

    @property
    def bytes(self) -> int:
        """Total size of the primary hive files."""
        return sum(int(h["size"]) for h in self.hives)


class _Progress:
    def __init__(self, refs: Sequence[HiveRef], fn: ProgressFn | None) -> None:
        self.fn = fn
        self.total = len(refs)
        self.total_bytes = sum(r.size for r in refs)
        self.done = self.failed = self.bytes = 0
        self.start = time.perf_counter()

    def emit(self, event: dict[str, Any]) -> None:
        if self.fn is not None:
            self.fn(event)

    def started(self, workers: int) -> None:
        self.start = time.perf_counter()  # rates exclude the cluster's start-up
        self.emit(
            {"event": "start", "hives": self.total, "bytes": self.total_bytes, "workers": workers}
        )

    def hive(self, summary: dict[str, Any]) -> None:
        self.done += 1
        self.bytes += int(summary["size"])
        self.failed += summary["status"] == "failed"
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.emit(
            {
                "event": "hive",
                "done": self.done,
                "total": self.total,
                "failed": self.failed,
                "hives_per_s": round(self.done / elapsed, 3),
                "mb_per_s": round(self.bytes / elapsed / 1e6, 3),
                **{k: summary[k] for k in ("host", "hive_path", "hive_type", "status", "errors")},
            }
        )


def _client(
    stack: ExitStack, client: Any, scheduler: str | None, workers: int | None, n: int
) -> Any:
    from distributed import Client, LocalCluster

    if client is not None:
        return client
    if scheduler is not None:
        return stack.enter_context(Client(scheduler))
    count = workers if workers is not None else max(1, min(os.cpu_count() or 1, n))
    cluster = stack.enter_context(
        LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,  # worker shutdown chatter; task errors come back as futures
        )
    )
    return stack.enter_context(Client(cluster))


def collect(
    paths: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    client: Any = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    host: str | None = None,
    progress: ProgressFn | None = None,
) -> CollectResult:
    """Collect every hive under ``paths`` into Parquet tables in ``out``.

    Where it runs: ``client`` (a ``distributed.Client``), else ``scheduler`` (address of
    a running Dask scheduler, e.g. ``tcp://host:8786``), else a local Dask cluster of
    ``workers`` processes (default: one per CPU, at most one per hive). ``workers=0``
    runs every hive in this process, without Dask. Workers must see ``paths`` and
    ``out`` at the same paths (shared storage on a real cluster).

    ``host`` overrides the host inferred from the layout; ``progress`` receives one
    dict per event (``start``, ``hive``, ``done``). Re-collecting a hive into the same
    ``out`` replaces its partitions.
    """
    refs = discover(paths, host=host)
    out_path = Path(out)
    out_path.mkdir(parents=True, exist_ok=True)
    result = CollectResult(out_path)
    prog = _Progress(refs, progress)
    start = time.perf_counter()
    if not refs:
        prog.started(0)
    elif client is None and scheduler is None and workers == 0:
        prog.started(0)
        for ref in refs:
            summary = process_hive(ref, str(out_path))
            result.hives.append(summary)
            prog.hive(summary)
    else:
        with ExitStack() as stack:
            c = _client(stack, client, scheduler, workers, len(refs))
            result.workers = len(c.scheduler_info(n_workers=-1)["workers"])
            prog.started(result.workers)
            _run_dask(c, refs, str(out_path), result, prog)
    sweep(out_path)
    result.hives.sort(key=lambda h: h["hive_id"])
    result.seconds = time.perf_counter() - start
    prog.emit(
        {
            "event": "done",
            "hives": len(result.hives),
            "failed": result.failed,
            "bytes": result.bytes,
            "seconds": round(result.seconds, 3),
            "out": str(out_path),
        }
    )
    return result


def _run_dask(
    c: Any, refs: list[HiveRef], out: str, result: CollectResult, prog: _Progress
) -> None:
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    # Largest first (Dask starts tasks about in submission order): a big hive then
    # overlaps the many small ones instead of running alone at the end of the job.
    refs = sorted(refs, key=lambda r: -r.size)
    # One task per hive, keyed by run and hive id: a worker lost mid-task makes the
    # scheduler re-run just that hive elsewhere, and its partitions are replaced whole.
    futures = c.map(
        process_hive,
        refs,
        out=out,
        key=[f"regf-hive-{run}-{r.hive_id}" for r in refs],
        pure=False,
    )
    by_key = {f.key: r for f, r in zip(futures, refs, strict=True)}
    for fut in as_completed(futures):
        try:
            summary = fut.result()
        except Exception as exc:  # KilledWorker and the like: the hive is recorded as lost
            summary = _lost_task(by_key[fut.key], out, exc)
        result.hives.append(summary)
        prog.hive(summary)
        fut.release()


__all__ = ["CollectResult", "collect", "process_hive"]
