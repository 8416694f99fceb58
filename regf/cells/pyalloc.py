"""The cell allocator's executable specification, :class:`PyCellAllocator`.

:mod:`regf.cells.alloc` describes the allocation rules (Windows' configuration manager,
ReactOS ``cmlib/hivecell.c`` as the readable model) and holds the C twin and the
backend choice; this module is the pure-Python allocator those rules are written for,
with the size classes and constants both twins share.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from typing import NamedTuple

from ..errors import CellError, FormatError, InvalidArgumentError
from ..format.constants import BASE, PAGE
from ..format.fast import BASE_L, CELL_HEADER, HBIN, HBIN_L, I32

#: Base-block offset of the hive-bins data size (fmt §1.1).
HBINS_SIZE_OFFSET = BASE_L.offset("hbins_size")
#: Size of a hive bin header; cells start at bin + 0x20 (fmt §2).
HBIN_HEADER = HBIN_L.size
#: Smallest cell: the 4-byte size plus room for an in-memory free-list link (fmt §8.1).
MIN_CELL = 8
#: Number of free-list size classes (ReactOS/Windows "FreeDisplay" count).
NUM_CLASSES = 24
#: Sizes below this have an exact class each (size/8 - 1, classes 0..15).
EXACT_LIMIT = 136
#: Cell indexes have bit 31 reserved for volatile storage, so stable hive bins must end
#: below 2 GiB (fmt §3).
MAX_HBINS = 0x80000000


class AllocStats(NamedTuple):
    """Space accounting of the hive bins (cell bytes only, bin headers excluded)."""

    allocated: int
    """Bytes in allocated cells (absolute sizes, size fields included)."""
    free: int
    """Bytes in free cells."""
    free_cells: int
    """Number of free cells."""


def cell_total(payload_len: int) -> int:
    """Cell size for ``payload_len`` data bytes: ``round8(4 + n)``, at least 8 (fmt §3)."""
    return max(MIN_CELL, (payload_len + CELL_HEADER + 7) & ~7)


def size_class(size: int) -> int:
    """Free-list class of a cell of ``size`` bytes (a multiple of 8, at least 8).

    Sizes below 136 have exact classes ``size/8 - 1`` (0..15); then ``size/8 - 1`` in
    [16, 32) is class 16, [32, 64) class 17, ... and everything from 2048 up (cells of
    16 392 bytes and more) is class 23.
    """
    units = (size >> 3) - 1
    if units < 16:
        return units
    return min(NUM_CLASSES - 1, 16 + units.bit_length() - 5)


class PyCellAllocator:
    """Allocate, free and resize cells in a whole-file hive image (see the module doc).

    ``image`` is modified in place and grows (``bytearray`` extension) when new bins do not
    fit in it; bytes after the hive bins (file slack) are overwritten by new bins.
    ``hbins_size`` defaults to the base block's field at 0x28. Raises
    :class:`~regf.errors.FormatError` when the bins do not tile the declared size exactly or
    a cell breaks the tiling of its bin: the allocator never writes into a damaged hive.
    """

    __slots__ = (
        "_bin_ends",
        "_bin_starts",
        "_cells_bytes",
        "_classes",
        "_dirty",
        "_free",
        "_free_bytes",
        "_free_ends",
        "_mask",
        "hbins_size",
        "image",
    )

    def __init__(self, image: bytearray, hbins_size: int | None = None) -> None:
        if len(image) < BASE:
            raise FormatError("image shorter than the 4096-byte base block", 0)
        self.image = image
        if hbins_size is None:
            (hbins_size,) = I32.unpack_from(image, HBINS_SIZE_OFFSET)
            hbins_size &= 0xFFFFFFFF
        if (
            hbins_size < 0
            or hbins_size % PAGE
            or hbins_size >= MAX_HBINS
            or BASE + hbins_size > len(image)
        ):
            raise FormatError(f"bad hive bins size {hbins_size:#x}", HBINS_SIZE_OFFSET)
        self.hbins_size = hbins_size
        self._bin_starts: list[int] = []
        self._bin_ends: list[int] = []
        #: start -> size of every free cell (hive-bins relative offsets).
        self._free: dict[int, int] = {}
        #: end -> start of every free cell: finds the preceding free cell in O(1).
        self._free_ends: dict[int, int] = {}
        #: per size class, the starts of its free cells in address order.
        self._classes: list[list[int]] = [[] for _ in range(NUM_CLASSES)]
        #: bit k set <=> class k is non-empty.
        self._mask = 0
        self._free_bytes = 0
        self._cells_bytes = 0  # sum over bins of (bin size - header)
        self._dirty: set[int] = set()
        self._load()

    # -- construction ----------------------------------------------------------------

    def _load(self) -> None:
        """Scan every bin and cell; file every free cell (fmt §8.1: rebuilt at load)."""
        buf = self.image
        unpack = I32.unpack_from
        off = 0
        while off < self.hbins_size:
            sig, bin_off, size, _res, _ts, _spare = HBIN.unpack_from(buf, BASE + off)
            if sig != b"hbin" or size < PAGE or size % PAGE or off + size > self.hbins_size:
                raise FormatError(f"bad hbin header (sig={sig!r}, size={size:#x})", BASE + off)
            if bin_off != off:
                raise FormatError(f"hbin offset field {bin_off:#x} != {off:#x}", BASE + off)
            end = off + size
            cell = off + HBIN_HEADER
            while cell < end:
                (csize,) = unpack(buf, BASE + cell)
                n = -csize if csize < 0 else csize
                if n < MIN_CELL or n % 8 or cell + n > end:
                    raise FormatError(
                        f"cell size {csize:#x} breaks the tiling of its bin", BASE + cell
                    )
                if csize > 0:
                    self._file(cell, n)
                cell += n
            self._bin_starts.append(off)
            self._bin_ends.append(end)
            self._cells_bytes += size - HBIN_HEADER
            off = end

    # -- free lists --------------------------------------------------------------------

    def _file(self, start: int, size: int) -> None:
        """Record a free cell (bookkeeping only; the caller writes its size field)."""
        self._free[start] = size
        self._free_ends[start + size] = start
        k = size_class(size)
        insort(self._classes[k], start)
        self._mask |= 1 << k
        self._free_bytes += size

    def _unfile(self, start: int) -> int:
        """Forget the free cell at ``start``; return its size."""
        size = self._free.pop(start)
        del self._free_ends[start + size]
        k = size_class(size)
        lst = self._classes[k]
        del lst[bisect_left(lst, start)]
        if not lst:
            self._mask &= ~(1 << k)
        self._free_bytes -= size
        return size

    def _find(self, total: int) -> int:
        """Start of the free cell to serve a ``total``-byte request, or -1 (module doc)."""
        k = size_class(total)
        if k >= 16 and self._mask >> k & 1:
            # Own bucket: sizes vary within it, so try its cells in address order.
            free = self._free
            for start in self._classes[k]:
                if free[start] >= total:
                    return start
            k += 1
        # Lowest non-empty class from k up: every cell in it is big enough.
        above = self._mask >> k << k
        if not above:
            return -1
        return self._classes[(above & -above).bit_length() - 1][0]

    # -- dirty tracking ----------------------------------------------------------------

    def _touch(self, file_off: int, length: int) -> None:
        """Mark the 4 KiB pages spanned by ``length`` bytes at ``file_off`` dirty."""
        if length > 0:
            self._dirty.update(range(file_off // PAGE, (file_off + length - 1) // PAGE + 1))

    def _set_size(self, index: int, size: int) -> None:
        """Write a cell's size field (negative = allocated) and mark its page dirty."""
        I32.pack_into(self.image, BASE + index, size)
        self._touch(BASE + index, 4)

    def dirty_pages(self) -> set[int]:
        """Page numbers (file offset // 4096) written since the last :meth:`take_dirty`."""
        return set(self._dirty)

    def take_dirty(self) -> set[int]:
        """Return the dirty pages and start a new, empty set."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    # -- growth ------------------------------------------------------------------------

    def _grow(self, total: int) -> None:
        """Append a bin big enough for a ``total``-byte cell; its rest is one free cell."""
        size = (total + HBIN_HEADER + PAGE - 1) // PAGE * PAGE
        start = self.hbins_size
        end = start + size
        if end >= MAX_HBINS:
            raise InvalidArgumentError(f"hive bins would exceed 2 GiB ({end:#x} bytes)")
        buf = self.image
        need = BASE + end
        if len(buf) < need:
            buf.extend(bytes(need - len(buf)))
        # Bytes after the old end may be file slack: clear the whole new bin.
        buf[BASE + start : need] = bytes(size)
        # Header: 'hbin', offset, size; reserved, timestamp and spare zero (fmt §2: only the
        # first bin's timestamp means anything).
        HBIN.pack_into(buf, BASE + start, b"hbin", start, size, bytes(8), 0, 0)
        I32.pack_into(buf, BASE + start + HBIN_HEADER, size - HBIN_HEADER)
        self._touch(BASE + start, size)
        self.hbins_size = end
        buf[HBINS_SIZE_OFFSET : HBINS_SIZE_OFFSET + 4] = end.to_bytes(4, "little")
        self._touch(HBINS_SIZE_OFFSET, 4)
        self._bin_starts.append(start)
        self._bin_ends.append(end)
        self._cells_bytes += size - HBIN_HEADER
        self._file(start + HBIN_HEADER, size - HBIN_HEADER)

    # -- public operations ---------------------------------------------------------------

    def alloc(self, payload_len: int) -> int:
        """Allocate a cell with room for ``payload_len`` bytes; return its cell index.

        The cell's data (its whole capacity) is zeroed.
        """
        if payload_len < 0:
            raise InvalidArgumentError(f"negative cell payload length {payload_len}")
        total = cell_total(payload_len)
        if total + HBIN_HEADER >= MAX_HBINS:
            raise InvalidArgumentError(f"cell of {total} bytes is too large")
        start = self._find(total)
        if start < 0:
            self._grow(total)
            start = self._find(total)
            assert start >= 0
        size = self._unfile(start)
        rest = size - total
        if rest:
            # Any remainder is >= 8 bytes (all sizes are multiples of 8) and stays free,
            # even an 8-byte one, as in Windows hives (ReactOS would not split below 16).
            self._set_size(start + total, rest)
            self._file(start + total, rest)
        else:
            total = size
        self._set_size(start, -total)
        data = BASE + start + CELL_HEADER
        self.image[data : data + total - CELL_HEADER] = bytes(total - CELL_HEADER)
        self._touch(data, total - CELL_HEADER)
        return start

    def _check_live(self, index: int) -> int:
        """Validate an allocated cell index; return its (positive) size."""
        if index < 0 or index % 8 or index + MIN_CELL > self.hbins_size:
            raise CellError(f"cell index {index:#x} out of range or misaligned", None)
        i = bisect_right(self._bin_starts, index) - 1
        if i < 0 or index < self._bin_starts[i] + HBIN_HEADER:
            raise CellError(f"index {index:#x} is a bin header", BASE + index)
        size: int = I32.unpack_from(self.image, BASE + index)[0]
        if size >= 0:
            raise CellError(f"cell {index:#x} is free (size {size})", BASE + index)
        size = -size
        if size < MIN_CELL or size % 8 or index + size > self._bin_ends[i]:
            raise CellError(f"cell {index:#x} has bad size {size:#x}", BASE + index)
        return size

    def free(self, index: int) -> None:
        """Free the allocated cell ``index``, coalescing with free neighbours in its bin.

        The following free cell (if it starts where this one ends) and the preceding free
        cell (if it ends where this one starts) are merged; neither lookup can reach into
        another bin because a bin header, not a cell, sits at every bin boundary.
        """
        size = self._check_live(index)
        # The freed cell's own size goes positive first, as in ReactOS; when it is merged
        # into a preceding cell this header survives as a remnant inside the free cell.
        self._set_size(index, size)
        orig = size
        start = index
        nxt = index + size
        if nxt in self._free:
            size += self._unfile(nxt)  # its header stays behind as a remnant
        prev = self._free_ends.get(index)
        if prev is not None:
            size += self._unfile(prev)
            start = prev
        if start != index or size != orig:  # merged: rewrite the surviving header
            self._set_size(start, size)
        self._file(start, size)

    def realloc(self, index: int, payload_len: int) -> int:
        """Resize cell ``index`` to hold ``payload_len`` bytes; return the (new) index.

        The cell is kept when ``round8(4 + payload_len)`` fits its current size (cells are
        never shrunk). Otherwise a new cell is allocated, the old cell's whole data is
        copied to its start (the rest of the new cell is zero) and the old cell is freed.
        """
        if payload_len < 0:
            raise InvalidArgumentError(f"negative cell payload length {payload_len}")
        size = self._check_live(index)
        if cell_total(payload_len) <= size:
            return index
        new = self.alloc(payload_len)
        src = BASE + index + CELL_HEADER
        self.write(new, 0, bytes(self.image[src : src + size - CELL_HEADER]))
        self.free(index)
        return new

    def write(self, index: int, offset_in_data: int, data: bytes | bytearray) -> None:
        """Write ``data`` into cell ``index`` at ``offset_in_data``; mark the pages dirty."""
        size = self._check_live(index)
        if offset_in_data < 0 or offset_in_data + len(data) > size - CELL_HEADER:
            raise InvalidArgumentError(
                f"write of {len(data)} bytes at {offset_in_data} overflows cell {index:#x} "
                f"({size - CELL_HEADER} data bytes)"
            )
        at = BASE + index + CELL_HEADER + offset_in_data
        self.image[at : at + len(data)] = data
        self._touch(at, len(data))

    def read(self, index: int) -> bytes:
        """The data of allocated cell ``index`` (its whole capacity)."""
        size = self._check_live(index)
        return bytes(self.image[BASE + index + CELL_HEADER : BASE + index + size])

    def capacity(self, index: int) -> int:
        """Data bytes the allocated cell ``index`` can hold (its size minus 4)."""
        return self._check_live(index) - CELL_HEADER

    # -- inspection --------------------------------------------------------------------

    def stats(self) -> AllocStats:
        """Allocated bytes, free bytes and free-cell count (maintained incrementally)."""
        return AllocStats(self._cells_bytes - self._free_bytes, self._free_bytes, len(self._free))

    def free_cells(self) -> dict[int, int]:
        """A copy of the free-cell map: cell index -> size."""
        return dict(self._free)

    def scrub_window(self, window: bytearray, lo: int) -> None:
        """Zero, in ``window`` (a copy of hive-bins bytes from ``lo`` on), the data of
        every free cell it overlaps; the size fields stay, so the copy's bins still
        parse (C twin: regf_alloc_scrub)."""
        hi = lo + len(window)
        for cell, size in self._free.items():
            a, b = max(cell + CELL_HEADER, lo), min(cell + size, hi)
            if a < b:
                window[a - lo : b - lo] = bytes(b - a)

    def bins(self) -> list[tuple[int, int]]:
        """(start, end) of every bin, hive-bins relative."""
        return list(zip(self._bin_starts, self._bin_ends, strict=True))


__all__ = [
    "EXACT_LIMIT",
    "HBINS_SIZE_OFFSET",
    "HBIN_HEADER",
    "MAX_HBINS",
    "MIN_CELL",
    "NUM_CLASSES",
    "AllocStats",
    "PyCellAllocator",
    "cell_total",
    "size_class",
]
