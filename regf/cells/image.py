"""The hive image: the bytes of a hive file and checked access to its cells.

A cell index ``c`` names the cell whose 4-byte size field is at file offset
``4096 + c`` (fmt §3). Every index read from the file is untrusted: :meth:`HiveImage.cell`
checks range, alignment, allocation and bin boundaries before anything is read, and
raises :class:`~regf.errors.CellError` with the file offset otherwise.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from typing import TYPE_CHECKING, Protocol

from ..errors import CellError, FormatError
from ..format.constants import BASE, HCELL_NIL, VOLATILE_BIT
from ..format.fast import CELL_HEADER, HBIN, HBIN_L, I32

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as _StdBuffer
elif TYPE_CHECKING:
    # The same protocol for 3.11 (typing_extensions comes with mypy; only type checking
    # needs it, so it is not a run-time dependency).
    from typing_extensions import Buffer as _StdBuffer

if TYPE_CHECKING:

    class Buffer(_StdBuffer, Protocol):
        """What an image needs from its storage: bytes, bytearray or mmap.

        A buffer (PEP 688: ``struct``, ``memoryview`` and the C accelerator read it
        without a copy) that can also be measured and sliced into bytes.
        """

        def __len__(self) -> int: ...
        def __getitem__(self, key: slice, /) -> bytes: ...

else:
    # Protocols may only extend protocols, and collections.abc.Buffer is an ABC at run
    # time: annotations are never evaluated (``from __future__ import annotations``),
    # so the run-time name only has to exist.
    class Buffer(Protocol):
        """What an image needs from its storage (see the type-checking definition)."""

        def __len__(self) -> int: ...
        def __getitem__(self, key: slice, /) -> bytes: ...


def _scan(image: HiveImage) -> bytes | bytearray:
    """Build the cell-start bitmap, in C when the accelerator offers it."""
    from .. import _accel

    fast = getattr(_accel, "scan_cells", None)
    if fast is not None and _accel.BACKEND == "c":
        try:
            return fast(image.bins_view(), image.hbins_size)  # type: ignore[no-any-return]
        except FormatError:
            pass  # damaged bins: the Python scan resynchronises and records problems
    return image._scan_cells()


class HiveImage:
    """Read access to cells of one hive image (``buf`` starts with the base block)."""

    __slots__ = (
        "_bin_ends",
        "_bin_starts",
        "_bitmap",
        "_view",
        "buf",
        "hbins_size",
        "minor",
        "problems",
        "strict",
    )

    def __init__(self, buf: Buffer, hbins_size: int, minor: int, strict: bool = True) -> None:
        self.buf = buf
        # Never trust the file size: bound everything by the declared hive-bins size, and
        # by the file when it is truncated (fmt §1.1 / §10).
        self.hbins_size = max(0, min(hbins_size, len(buf) - BASE))
        self.minor = minor
        self.strict = strict
        self.problems: list[FormatError] = []
        self._bin_starts: list[int] | None = None
        self._bin_ends: list[int] = []
        self._bitmap: bytes | bytearray | None = None
        self._view: memoryview | None = None

    # -- bins --------------------------------------------------------------------------

    def _scan_bins(self) -> None:
        starts: list[int] = []
        ends: list[int] = []
        off = 0
        buf = self.buf
        limit = self.hbins_size
        while off + HBIN_L.size <= limit:
            sig, bin_off, size, _r, _ts, _sp = HBIN.unpack_from(buf, BASE + off)
            if sig != b"hbin" or size < 4096 or size % 4096 or off + size > limit:
                # A damaged bin header: Windows' self-heal treats it as one 4096-byte
                # bin. We record the problem and resynchronise on the next 4 KiB page.
                err = FormatError(f"bad hbin header (sig={sig!r}, size={size:#x})", BASE + off)
                self.problems.append(err)
                off += 4096
                continue
            if bin_off != off:
                self.problems.append(
                    FormatError(f"hbin offset field {bin_off:#x} != position {off:#x}", BASE + off)
                )
            starts.append(off)
            ends.append(off + size)
            off += size
        self._bin_starts = starts
        self._bin_ends = ends

    def bins(self) -> list[tuple[int, int]]:
        """(start, end) of every valid bin, relative to the hive-bins start."""
        if self._bin_starts is None:
            self._scan_bins()
        assert self._bin_starts is not None
        return list(zip(self._bin_starts, self._bin_ends, strict=True))

    def bin_end(self, index: int) -> int:
        """End (hive-bins relative) of the bin holding ``index``; -1 if none does."""
        if self._bin_starts is None:
            self._scan_bins()
        assert self._bin_starts is not None
        i = bisect_right(self._bin_starts, index) - 1
        if i < 0 or index >= self._bin_ends[i] or index < self._bin_starts[i] + HBIN_L.size:
            return -1
        return self._bin_ends[i]

    def bins_view(self) -> memoryview:
        """Zero-copy view of the hive bins (for the C accelerator)."""
        if self._view is None:
            self._view = memoryview(self.buf)[BASE : BASE + self.hbins_size]
        return self._view

    # -- cells -------------------------------------------------------------------------

    def _scan_cells(self) -> bytearray:
        """Bitmap with one bit per 8-byte unit: set where a sound allocated cell starts.

        Built once by walking every cell of every valid bin; a bin whose cells do not
        tile it is recorded as a problem and only its cells before the damage count.
        """
        bm = bytearray((self.hbins_size >> 6) + 1)
        buf = self.buf
        unpack = I32.unpack_from
        for start, end in self.bins():
            off = start + HBIN_L.size
            while off < end:
                (size,) = unpack(buf, BASE + off)
                n = -size if size < 0 else size
                if n < 8 or n & 7 or off + n > end:
                    self.problems.append(
                        FormatError(f"cell size {size:#x} breaks the tiling of its bin", BASE + off)
                    )
                    break
                if size < 0:
                    q = off >> 3
                    bm[q >> 3] |= 1 << (q & 7)
                off += n
        return bm

    def bitmap(self) -> bytes | bytearray:
        """The cell-start bitmap (bit ``index // 8``), built on first use.

        Hot loops test it inline, exactly as :meth:`cell` does, and call :meth:`cell` only
        when the test fails (to raise the precise error).
        """
        bm = self._bitmap
        if bm is None:
            bm = self._bitmap = _scan(self)
        return bm

    def cell(self, index: int, what: str = "cell", min_size: int = 0) -> tuple[int, int]:
        """Check cell ``index`` and return ``(file offset of its data, data capacity)``.

        Raises CellError for NIL, volatile, out-of-range, misaligned, free cells, cells
        crossing their bin, indexes inside another cell, or cells smaller than
        ``min_size`` data bytes.
        """
        bm = self._bitmap
        if bm is None:
            bm = self._bitmap = _scan(self)
        q = index >> 3
        # Fast path: the bitmap says "a sound allocated cell starts here"; the mask
        # rejects NIL, volatile (bit 31) and misaligned indexes in one test.
        if not index & 0x80000007 and index < self.hbins_size and (bm[q >> 3] >> (q & 7)) & 1:
            (size,) = I32.unpack_from(self.buf, BASE + index)
            cap = -size - CELL_HEADER
            if cap >= min_size:
                return BASE + index + CELL_HEADER, cap
        return self._cell_slow(index, what, min_size)

    def _cell_slow(self, index: int, what: str, min_size: int) -> tuple[int, int]:
        """Explain why ``index`` is not a usable cell (always raises CellError)."""
        off = BASE + index
        if index == HCELL_NIL or index & VOLATILE_BIT:
            raise CellError(f"{what}: no stored cell (index {index:#x})", None)
        if index % 8 or index + CELL_HEADER > self.hbins_size:
            raise CellError(f"{what}: cell index {index:#x} out of range or misaligned", off)
        (size,) = I32.unpack_from(self.buf, off)
        if size >= 0:
            raise CellError(f"{what}: cell {index:#x} is free (size {size})", off)
        size = -size
        end = self.bin_end(index)
        if end < 0:
            raise CellError(f"{what}: cell {index:#x} is not inside a valid bin", off)
        if size < 8 or size % 8 or index + size > end:
            raise CellError(f"{what}: cell {index:#x} has bad size {size:#x}", off)
        if size - CELL_HEADER < min_size:
            raise CellError(
                f"{what}: cell {index:#x} too small ({size - CELL_HEADER} < {min_size} bytes)", off
            )
        raise CellError(f"{what}: index {index:#x} is not the start of a cell", off)

    def data(self, index: int, what: str = "cell", min_size: int = 0) -> bytes:
        """The bytes of cell ``index``'s data (its whole capacity)."""
        start, cap = self.cell(index, what, min_size)
        return bytes(self.buf[start : start + cap])
