"""Structural tiling check: every hive bin and every cell laid out exactly (fmt §2, §3).

Independent of the key tree: it scans the image from file offset 4096 to
4096 + hive-bins size and verifies that bins follow each other with correct headers and
that cells tile every bin with no gap or overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..format.constants import BASE
from ..format.fast import BASE_L, HBIN_L, I32

HBIN_HEADER_SIZE = HBIN_L.size
_I32 = I32
_HBIN_OFFSET = HBIN_L.field("offset")
_HBIN_SIZE = HBIN_L.field("size")


@dataclass(frozen=True)
class Problem:
    """One structural problem; ``offset`` is an absolute file offset (or None)."""

    offset: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.offset:#010x}" if self.offset is not None else "-"
        return f"{where}: {self.message}"


@dataclass
class TilingStats:
    """Counts gathered while scanning bins."""

    bins: int = 0
    cells: int = 0
    allocated: int = 0
    free: int = 0
    free_bytes: int = 0
    problems: list[Problem] = field(default_factory=list)


def scan_bins(buf: Any, hbins_size: int) -> TilingStats:
    """Scan hive bins in ``buf`` (a whole file image) and check how they tile.

    Args:
        buf: bytes-like file image starting with the base block.
        hbins_size: the hive-bins data size declared in the base block.

    Returns:
        Counts plus every problem found. Checks: each bin starts with ``hbin``, its offset
        field equals its position relative to 4096, its size is a non-zero multiple of
        4096 and stays inside the declared area; each cell size is non-zero, a multiple of
        8 and does not cross its bin's end; the bins end exactly at 4096 + hbins_size.
    """
    stats = TilingStats()
    problems = stats.problems
    length = len(buf)
    if hbins_size % 4096 or hbins_size <= 0:
        problems.append(
            Problem(
                BASE_L.offset("hbins_size"),
                f"hive bins size {hbins_size:#x} is not a multiple of 4096",
            )
        )
    end = BASE + hbins_size
    if end > length:
        problems.append(
            Problem(length, f"file ends at {length:#x}, before the hive bins end at {end:#x}")
        )
        end = BASE + ((length - BASE) // 4096) * 4096 if length > BASE else BASE
    pos = BASE
    while pos < end:
        if pos + HBIN_HEADER_SIZE > length:
            problems.append(Problem(pos, "hive bin header runs past the end of the file"))
            return stats
        if bytes(buf[pos : pos + 4]) != b"hbin":
            problems.append(Problem(pos, f"bad hive bin signature {bytes(buf[pos : pos + 4])!r}"))
            pos += 4096  # try to resynchronise on the next page
            continue
        stats.bins += 1
        rel = _HBIN_OFFSET.unpack_from(buf, pos)
        if rel != pos - BASE:
            problems.append(
                Problem(
                    pos + _HBIN_OFFSET.offset,
                    f"hive bin offset field {rel:#x}, expected {pos - BASE:#x}",
                )
            )
        size = _HBIN_SIZE.unpack_from(buf, pos)
        if size == 0 or size % 4096:
            problems.append(
                Problem(
                    pos + _HBIN_SIZE.offset, f"hive bin size {size:#x} is not a multiple of 4096"
                )
            )
            size = 4096
        if pos + size > end:
            problems.append(
                Problem(
                    pos + _HBIN_SIZE.offset,
                    f"hive bin of size {size:#x} runs past the hive bins end {end:#x}",
                )
            )
            size = end - pos
        _scan_cells(buf, pos, size, stats)
        pos += size
    if pos != end:
        problems.append(Problem(pos, f"hive bins end at {pos:#x}, expected {end:#x}"))
    return stats


def _scan_cells(buf: Any, bin_start: int, bin_size: int, stats: TilingStats) -> None:
    bin_end = bin_start + bin_size
    cell = bin_start + HBIN_HEADER_SIZE
    while cell < bin_end:
        if cell + 4 > bin_end:
            stats.problems.append(Problem(cell, "cell size field crosses the hive bin end"))
            return
        raw = _I32.unpack_from(buf, cell)[0]
        size = abs(raw)
        if size == 0:
            stats.problems.append(Problem(cell, "cell size 0"))
            return
        if size % 8:
            stats.problems.append(Problem(cell, f"cell size {size:#x} is not a multiple of 8"))
            return
        if cell + size > bin_end:
            stats.problems.append(
                Problem(cell, f"cell of size {size:#x} crosses the hive bin end {bin_end:#x}")
            )
            return
        stats.cells += 1
        if raw < 0:
            stats.allocated += 1
        else:
            stats.free += 1
            stats.free_bytes += size
        cell += size


def check_hive(hive: Any) -> list[Problem]:
    """Check the cell tiling of an open hive's image (``hive.image.buf``).

    Uses the base block's declared hive-bins size when available (the image may clamp
    its own copy to the file length).
    """
    return check_hive_stats(hive).problems


def check_hive_stats(hive: Any) -> TilingStats:
    """Like :func:`check_hive` but also returns the bin and cell counts."""
    image = hive.image
    base_block = getattr(hive, "base_block", None)
    declared = getattr(base_block, "hbins_size", None)
    if declared is None:
        declared = image.hbins_size
    return scan_bins(image.buf, int(declared))


__all__ = ["Problem", "TilingStats", "check_hive", "check_hive_stats", "scan_bins"]
