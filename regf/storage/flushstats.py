"""What one flush of the pager (:mod:`.flush`) wrote: counts for callers and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class FlushStats:
    """What one :meth:`~regf.storage.flush.Pager.flush` (or ``reconcile``) wrote."""

    #: Sequence number of the entry written, None when nothing was logged.
    sequence: int | None = None
    #: 4 KiB pages in the entry, and page references (runs of contiguous pages).
    pages: int = 0
    references: int = 0
    #: Log file written and the entry's offset and size in it.
    log: Path | None = None
    log_offset: int | None = None
    entry_size: int = 0
    #: True when this flush started a new run (wrote the log's base-block copy).
    started_log: bool = False
    #: True when the primary was reconciled (it is clean on disk afterwards).
    reconciled: bool = False
    log_bytes: int = 0
    primary_bytes: int = 0
    writes: int = 0
    fsyncs: int = 0

    @property
    def bytes_written(self) -> int:
        """Total bytes handed to pwrite, logs and primary together."""
        return self.log_bytes + self.primary_bytes


__all__ = ["FlushStats"]
