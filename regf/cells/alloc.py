"""Cell allocator over a mutable hive image (fmt §2, §3, §8.1).

Two implementations with one API and identical decisions (same cell indexes, image bytes,
dirty pages, statistics and errors; ``tests/test_alloc_parity.py`` checks this):
:class:`PyCellAllocator` (in :mod:`regf.cells.pyalloc`), the pure-Python executable
specification described below, and
:class:`CCellAllocator`, its twin over the C core in ``csrc/alloc.c``. :data:`CellAllocator`
is the one for the live backend (``regf._accel.BACKEND``).

The allocator owns the hive-bins part of a whole-file image (a ``bytearray`` that
starts with the 4096-byte base block) and hands out, frees and resizes cells the way the
Windows configuration manager does (ReactOS ``cmlib/hivecell.c`` is the readable model):

* Cells are 8-byte granular: a request for ``n`` payload bytes takes a cell of
  ``round8(4 + n)`` bytes (at least 8). ReactOS rounds to 16; Windows hives are 8-aligned.
* Free cells are filed in 24 size classes: exact classes for sizes 8..128 (``size/8 - 1``,
  classes 0..15), then power-of-two buckets (16..23, the last one unbounded). Within a class
  cells are kept in address order. A request is served first-fit from its own class upward:
  in an exact class, or in any class above the request's, every cell fits, so the lowest
  address of the lowest non-empty class is taken; in the request's own bucket the cells are
  tried in address order. Preferring low addresses keeps hives compact, as Windows does with
  its per-page free displays.
* The chosen free cell is split when something is left over. Because everything is a
  multiple of 8 any remainder is at least 8 bytes, and Windows keeps such 8-byte free cells
  (ReactOS only splits above 16 bytes); the remainder stays free and is re-filed.
* When nothing fits, a new bin of ``roundup(total + 32, 4096)`` bytes is appended at the
  end of the hive bins (bin offset = old hive-bins size, header 'hbin'/offset/size with zero
  reserved, timestamp and spare), the rest of it is one free cell, and the base block's
  hive-bins size (offset 0x28) is updated. A bin never merges with its neighbours, so a big
  cell gets a bin of its own, sized for it.
* Freeing makes the size positive and coalesces with the following free cell and with the
  preceding free cell, never across a bin boundary (a cell never crosses a bin, fmt §2).
* Reallocating keeps the cell when the new size fits its current capacity (Windows never
  shrinks a cell); otherwise it allocates a new cell, copies the old data and frees the old
  cell (allocate first, so the new cell is never the old one).
* **Allocated cell data is zeroed** on allocation (whole capacity, slack included), as
  ReactOS does. Windows does not always zero slack, but zeroing makes writes deterministic
  and keeps deleted-record remnants from leaking into live cells.
* Every write is recorded per 4 KiB page (page number = file offset // 4096; the base block
  is page 0): size fields of cells that change, zeroed data, new bin pages and the base
  block when the hive grows. :meth:`take_dirty` hands the set to the flush code.

The allocator does *not* update the base block checksum or sequence numbers; that is the
flush's job. On construction the free lists are rebuilt by scanning every bin (free cells
are those with a positive size; no on-disk free-list links exist in XP+ hives, fmt §3).
Adjacent free cells found in an existing image (e.g. one written by hivex, which never
coalesces) are kept as they are: opening does not write.

No operation scans the hive: free neighbours are found through a map of free-cell starts
and a map of free-cell ends (so the preceding free cell is found without walking the bin,
unlike ReactOS), the class to take from through a bit mask of non-empty classes, and each
class is a sorted list (bisect; insertion/removal is a memmove). Only a request in a
power-of-two bucket walks that one bucket for a fit. ~14 us per op on 200k mixed ops; the
C twin (treaps per class, augmented with subtree maximum sizes, so the bucket walk is a
logarithmic descent) takes about 1 us per op, most of it the Python call.

:class:`CCellAllocator` also carries C twins of the writer's two hottest operations,
used by :mod:`regf.model` when they apply and declining (changing nothing) otherwise:
:meth:`~CCellAllocator.set_value_fast` (``cellvalues.set_value``) and
:meth:`~CCellAllocator.find_key_fast` / :meth:`~CCellAllocator.create_key_fast`
(``EditHive._find_child`` / ``_create_child``). The Python functions stay the
specification; tests/test_cellvalues.py and tests/test_writer.py check that both give
the same image bytes and dirty pages.

Cell indexes given to :meth:`~PyCellAllocator.free`, :meth:`~PyCellAllocator.realloc` and
:meth:`~PyCellAllocator.write` are checked for range, alignment, bin headers, a negative
(allocated) size and bin bounds, but not for pointing *inside* another allocated cell:
callers pass indexes they got from :meth:`~PyCellAllocator.alloc` or from a checked read.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any, Protocol

from .._accel import BACKEND

# Codes of csrc/alloc.h (generated into regf._accel.codes). CREATED is added to the cell
# index that CCellAllocator.open_key_fast / set_value_fast answer when the call created
# the key or value: one int tells both.
from .._accel.codes import ALLOC_E_BAD_SIZE as _E_BAD_SIZE
from .._accel.codes import ALLOC_E_BIN_HEADER as _E_BIN_HEADER
from .._accel.codes import ALLOC_E_BIN_OFFSET as _E_BIN_OFFSET
from .._accel.codes import ALLOC_E_FREE as _E_FREE
from .._accel.codes import ALLOC_E_HBINS_SIZE as _E_HBINS_SIZE
from .._accel.codes import ALLOC_E_HEADER as _E_HEADER
from .._accel.codes import ALLOC_E_HIVE_FULL as _E_HIVE_FULL
from .._accel.codes import ALLOC_E_IMAGE as _E_IMAGE
from .._accel.codes import ALLOC_E_NEG_LEN as _E_NEG_LEN
from .._accel.codes import ALLOC_E_NOMEM as _E_NOMEM
from .._accel.codes import ALLOC_E_OVERFLOW as _E_OVERFLOW
from .._accel.codes import ALLOC_E_RANGE as _E_RANGE
from .._accel.codes import ALLOC_E_SHORT_BASE as _E_SHORT_BASE
from .._accel.codes import ALLOC_E_TILING as _E_TILING
from .._accel.codes import ALLOC_E_TOO_LARGE as _E_TOO_LARGE
from .._accel.codes import ALLOC_NEED_GROW as _NEED_GROW
from .._accel.codes import CREATED as CREATED
from .._accel.codes import SV_FALLBACK as _SV_FALLBACK
from ..errors import CellError, FormatError, InvalidArgumentError
from ..format.constants import BASE
from ..format.fast import CELL_HEADER, HBIN, I32, U32

# The specification and what both twins share (re-exported: callers import them here).
from .pyalloc import (
    EXACT_LIMIT,
    HBIN_HEADER,
    HBINS_SIZE_OFFSET,
    MAX_HBINS,
    MIN_CELL,
    NUM_CLASSES,
    AllocStats,
    PyCellAllocator,
    cell_total,
    size_class,
)

# -- C twin ------------------------------------------------------------------------------


#: A u32 of the bulk set_values' meta arrays.
_U32 = U32
#: str.encode("utf-16-le", ...) without its codec lookup by name (~0.15 us of a 0.2 us
#: call, twice per key of a bulk write); the same codec function, so the same bytes.
_utf16 = codecs.utf_16_le_encode

# The cffi module, imported on first use so that the pure backend never loads it.
_ffi: Any = None
_lib: Any = None
_fb: Any = None  # ffi.from_buffer; called positionally (keywords cost ~0.2 us a call)
_U8: Any = None  # the uint8_t[] ctype, resolved once


def _load_c() -> None:
    """Import the C extension (ImportError when it was not built)."""
    global _ffi, _lib, _fb, _U8
    if _lib is None:
        from .._accel._regf_c import ffi, lib

        _ffi, _lib, _fb, _U8 = ffi, lib, ffi.from_buffer, ffi.typeof("uint8_t[]")


def _c64(x: int) -> int:
    """Clamp an int that does not fit a C int64 to an equivalent one (same error)."""
    return -1 if x < 0 else 1 << 62


class CCellAllocator:
    """:class:`PyCellAllocator` over the C core (``csrc/alloc.c``): same API, same results.

    The C side keeps the free lists, bins and dirty pages; the image stays this Python
    ``bytearray`` and is handed to C on every call (it moves when it grows). When a new
    bin needs a longer image, C changes nothing and asks for the length; the image is
    extended with zero bytes here and the call repeated. Raises ImportError when the C
    extension is not built.
    """

    __slots__ = ("_a", "_aux", "_ck", "_out3", "_sv", "_svs", "_vbuf", "_vfor", "image")

    def __init__(self, image: bytearray, hbins_size: int | None = None) -> None:
        _load_c()
        raw = _lib.regf_alloc_new()
        if raw == _ffi.NULL:
            raise MemoryError("cannot allocate the cell allocator")
        self._a: Any = _ffi.gc(raw, _lib.regf_alloc_delete)
        self._aux: Any = _ffi.new("int64_t *")
        self._out3: Any = _ffi.new("uint64_t[3]")
        self._sv: Any = _ffi.new("int64_t[2]")
        self._svs: Any = _ffi.new("int64_t[5]")
        self._ck: Any = _ffi.new("int64_t[3]")
        self._vbuf: Any = None  # see _view
        self._vfor: bytearray | None = None
        self.image = image
        if hbins_size is None:
            arg = -1
        elif 0 <= hbins_size <= 0xFFFFFFFF:
            arg = hbins_size
        else:
            arg = 0xFFFFFFFF  # rejected as PyCellAllocator rejects the real value
        code = _lib.regf_alloc_load(self._a, _fb(_U8, image), len(image), arg, self._aux)
        if code:
            raise self._load_error(code, hbins_size)

    def _load_error(self, code: int, hbins_size: int | None) -> Exception:
        at = int(self._aux[0])
        buf = self.image
        if code == _E_SHORT_BASE:
            return FormatError("image shorter than the 4096-byte base block", 0)
        if code == _E_HBINS_SIZE:
            if hbins_size is None:
                hbins_size = I32.unpack_from(buf, HBINS_SIZE_OFFSET)[0] & 0xFFFFFFFF
            return FormatError(f"bad hive bins size {hbins_size:#x}", HBINS_SIZE_OFFSET)
        if code in (_E_BIN_HEADER, _E_BIN_OFFSET):
            sig, bin_off, size, _res, _ts, _spare = HBIN.unpack_from(buf, at)
            if code == _E_BIN_HEADER:
                return FormatError(f"bad hbin header (sig={sig!r}, size={size:#x})", at)
            return FormatError(f"hbin offset field {bin_off:#x} != {at - BASE:#x}", at)
        if code == _E_TILING:
            (csize,) = I32.unpack_from(buf, at)
            return FormatError(f"cell size {csize:#x} breaks the tiling of its bin", at)
        return self._error(code, 0)

    def _error(
        self, code: int, index: int, payload_len: int = 0, write: tuple[int, int] = (0, 0)
    ) -> Exception:
        """The exception PyCellAllocator raises for C error ``code`` (same text, offset)."""
        if code == _E_RANGE:
            return CellError(f"cell index {index:#x} out of range or misaligned", None)
        if code == _E_HEADER:
            return CellError(f"index {index:#x} is a bin header", BASE + index)
        if code in (_E_FREE, _E_BAD_SIZE):
            (size,) = I32.unpack_from(self.image, BASE + index)
            if code == _E_FREE:
                return CellError(f"cell {index:#x} is free (size {size})", BASE + index)
            return CellError(f"cell {index:#x} has bad size {-size:#x}", BASE + index)
        if code == _E_NEG_LEN:
            return InvalidArgumentError(f"negative cell payload length {payload_len}")
        if code == _E_TOO_LARGE:
            return InvalidArgumentError(f"cell of {cell_total(payload_len)} bytes is too large")
        if code == _E_HIVE_FULL:
            end = int(self._aux[0])
            return InvalidArgumentError(f"hive bins would exceed 2 GiB ({end:#x} bytes)")
        if code == _E_OVERFLOW:
            offset_in_data, length = write
            size = self._check_live(index)
            return InvalidArgumentError(
                f"write of {length} bytes at {offset_in_data} overflows cell {index:#x} "
                f"({size - CELL_HEADER} data bytes)"
            )
        if code == _E_NOMEM:
            return MemoryError("cell allocator out of memory")
        if code == _E_IMAGE:
            return FormatError(
                f"image ({len(self.image):#x} bytes) shorter than its hive bins "
                f"({BASE + self.hbins_size:#x})",
                len(self.image),
            )
        return RuntimeError(f"unexpected cell allocator code {code}")  # pragma: no cover

    def _view(self) -> Any:
        """The cdata over the image that C calls get, kept between calls: a new
        ``ffi.from_buffer`` per call cost ~0.2 us, two calls per key of a bulk write.
        The kept one pins the bytearray's size, so it is released before the image grows
        (:meth:`_extend`, the only place that resizes it) and replaced when ``image`` is
        another object."""
        image = self.image
        if self._vfor is not image:
            self._drop_view()
            self._vbuf = _fb(_U8, image, True)
            self._vfor = image
        return self._vbuf

    def _drop_view(self) -> None:
        if self._vbuf is not None:
            _ffi.release(self._vbuf)
            self._vbuf = self._vfor = None

    def _extend(self) -> None:
        """Grow the image to the length the C side asked for (zero bytes, as _grow)."""
        need = int(self._aux[0])
        self._drop_view()
        self.image.extend(bytes(need - len(self.image)))

    def _grow_call(self, fn: Any, *args: Any) -> int:
        """``fn(allocator, image, image length, *args, aux)`` for a C call that may need
        a longer image: repeated after :meth:`_extend` while it answers need-grow (its
        state arguments keep what it already did); any other result is returned. An
        OverflowError (an argument beyond its C type) reaches the caller."""
        while True:
            image = self.image
            r: int = fn(self._a, self._view(), len(image), *args, self._aux)
            if r != _NEED_GROW:
                return r
            self._extend()

    # -- public operations (see PyCellAllocator) -------------------------------------------

    @property
    def hbins_size(self) -> int:
        """Size of the hive bins (the base block's field at 0x28 is kept equal)."""
        return int(_lib.regf_alloc_hbins_size(self._a))

    def alloc(self, payload_len: int) -> int:
        """Allocate a cell with room for ``payload_len`` bytes; return its cell index."""
        try:
            r = self._grow_call(_lib.regf_alloc_alloc, payload_len)
        except OverflowError:
            r = self._grow_call(_lib.regf_alloc_alloc, _c64(payload_len))
        if r < 0:
            raise self._error(r, 0, payload_len)
        return r

    # set_value_fast, set_values_fast and open_key_fast each spell out the same two steps
    # (the first call with fresh = True on the kept view, then, on need-grow, _extend and
    # _grow_call with fresh = False) on purpose: a shared helper taking packed arguments
    # cost 0.15 us more per call (0.56 -> 0.71 us for an open_key that finds the key),
    # and these run once per key or value of a bulk write.

    def set_value_fast(self, nk: int, name: str, vtype: int, raw: bytes, timestamp: int) -> int:
        """The C twin of :func:`regf.cells.values.set_value` for the common case.

        Returns the vk cell index of the value replaced, or that of a new value +
        :data:`CREATED`, or -1 when C declined before changing anything (a long name, big
        data, a cell failing a check...): the caller then runs the Python function, the
        specification, which decides. ``vtype`` (u32), ``raw`` (at most 16344 bytes) and
        ``timestamp`` (u64) must already be checked.
        """
        name16 = _utf16(name, "surrogatepass")[0]
        image = self.image
        view = self._vbuf if self._vfor is image else self._view()  # _view() inline
        try:
            r: int = _lib.regf_alloc_set_value(
                self._a, view, len(image), nk, name16, len(name16) >> 1, vtype, raw,
                len(raw), timestamp, True, self._sv, self._aux,
            )  # fmt: skip
            if r == _NEED_GROW:
                self._extend()
                r = self._grow_call(
                    _lib.regf_alloc_set_value, nk, name16, len(name16) >> 1, vtype, raw,
                    len(raw), timestamp, False, self._sv,
                )  # fmt: skip
        except OverflowError:
            return -1
        if r >= 0:
            return r
        if r == _SV_FALLBACK:
            return -1
        raise self._error(r, 0, len(raw))

    def set_values_fast(
        self, nk: int, names16: bytes, data: bytes, meta: bytes, timestamp: int, fresh: bool
    ) -> int:
        """:meth:`set_value_fast` for each of a packed batch of values in order, in one C
        call (``regf_alloc_set_values``): byte for byte that many set_value calls.

        ``names16`` holds the UTF-16LE names, each but the last followed by a NUL unit
        (so no name may hold one), ``data`` the data back to back, ``meta`` two u32 LE
        arrays of one entry per value: the types and the data sizes (csrc/alloc.h). Every
        item must already be checked. Returns the number of values when all are set, or
        the position ``k`` of a value C declined (see :meth:`set_value_fast`; nothing of
        it changed): the caller sets that one itself and calls again with ``fresh``
        False to go on after it. ``fresh`` is True on a batch's first call; -1 then
        means C cannot take the arguments (an nk or timestamp beyond its C type) and
        set nothing.
        """
        count = len(meta) >> 3
        image = self.image
        # _view() inline: this runs once per key of a bulk write
        view = self._vbuf if self._vfor is image else self._view()
        try:
            r: int = _lib.regf_alloc_set_values(
                self._a, view, len(image), nk, names16, len(names16), data, meta, count,
                timestamp, fresh, self._svs, self._aux,
            )  # fmt: skip
        except OverflowError:  # before C ran; a later call has the same arguments
            return -1
        if r == _NEED_GROW:
            self._extend()
            r = self._grow_call(
                _lib.regf_alloc_set_values, nk, names16, len(names16), data, meta, count,
                timestamp, False, self._svs,
            )  # fmt: skip
        if 0 <= r <= count:
            return r
        raise self._error(r, 0, _U32.unpack_from(meta, 4 * (count + int(self._svs[2])))[0])

    def open_key_fast(self, parent: int, name: str, timestamp: int, create: bool) -> int:
        """The C twin of the writer's subkey lookup (``EditHive._find_child``), then of
        ``EditHive._create_child`` when there is no such child and ``create`` (the
        caller's depth check passed), in one C call (``regf_alloc_open_key``), for a
        stable key without class or own security under a stable parent with no volatile
        children and a list that is empty, one ``lh`` leaf below the ri limit, or an
        ``ri`` of ``lh`` leaves whose selected leaf is not full (fmt §4.2). The caller
        has checked the name.

        Returns the child's nk when it exists, its nk + :data:`CREATED` when this
        call created it, -1 when there is none and not ``create``, or -2 when C declined
        before changing anything (run the Python functions, the specification).
        """
        name16 = _utf16(name, "surrogatepass")[0]
        image = self.image
        view = self._vbuf if self._vfor is image else self._view()  # _view() inline
        try:
            r: int = _lib.regf_alloc_open_key(
                self._a, view, len(image), parent, name16, len(name16) >> 1, timestamp,
                create, True, self._ck, self._aux,
            )  # fmt: skip
            if r == _NEED_GROW:
                self._extend()
                r = self._grow_call(
                    _lib.regf_alloc_open_key, parent, name16, len(name16) >> 1, timestamp,
                    create, False, self._ck,
                )  # fmt: skip
        except OverflowError:
            return -2
        if r >= -1:
            return r
        if r == _SV_FALLBACK:
            return -2
        raise self._error(r, parent)

    def find_key_fast(self, parent: int, name: str) -> int:
        """:meth:`open_key_fast` without creating: the child's nk, -1 when there is
        none, or -2 when C declined (run the Python lookup)."""
        return self.open_key_fast(parent, name, 0, False)

    def create_key_fast(self, parent: int, name: str, timestamp: int) -> int:
        """:meth:`open_key_fast` for a name the caller found absent: the new nk, or -1
        when C declined (or found the child) before changing anything."""
        r = self.open_key_fast(parent, name, timestamp, True)
        return r - CREATED if r >= CREATED else -1

    def _check_live(self, index: int) -> int:
        """Validate an allocated cell index; return its (positive) size."""
        image = self.image
        try:
            r: int = _lib.regf_alloc_check(self._a, self._view(), len(image), index)
        except OverflowError:
            r = _E_RANGE
        if r < 0:
            raise self._error(r, index)
        return r

    def free(self, index: int) -> None:
        """Free the allocated cell ``index``, coalescing with free neighbours in its bin."""
        image = self.image
        try:
            r: int = _lib.regf_alloc_free(
                self._a,
                self._view(),
                len(image),
                index,
            )
        except OverflowError:
            r = _E_RANGE
        if r:
            raise self._error(r, index)

    def realloc(self, index: int, payload_len: int) -> int:
        """Resize cell ``index`` to hold ``payload_len`` bytes; return the (new) index."""
        try:
            r = self._grow_call(_lib.regf_alloc_realloc, index, payload_len)
        except OverflowError:
            r = self._grow_call(
                _lib.regf_alloc_realloc,
                index if -(1 << 63) <= index < 1 << 63 else -1,
                payload_len if -(1 << 63) <= payload_len < 1 << 63 else _c64(payload_len),
            )
        if r < 0:
            raise self._error(r, index, payload_len)
        return r

    def write(self, index: int, offset_in_data: int, data: bytes | bytearray) -> None:
        """Write ``data`` into cell ``index`` at ``offset_in_data``; mark the pages dirty."""
        image = self.image
        src: Any = data if type(data) is bytes else _fb(_U8, data)
        try:
            r: int = _lib.regf_alloc_write(
                self._a,
                self._view(),
                len(image),
                index,
                offset_in_data,
                src,
                len(src),
            )
        except OverflowError:
            r = _lib.regf_alloc_write(
                self._a,
                self._view(),
                len(image),
                index if -(1 << 63) <= index < 1 << 63 else -1,
                offset_in_data if -(1 << 63) <= offset_in_data < 1 << 63 else -1,
                src,
                len(src),
            )
        if r:
            raise self._error(r, index, 0, (offset_in_data, len(data)))

    def read(self, index: int) -> bytes:
        """The data of allocated cell ``index`` (its whole capacity)."""
        size = self._check_live(index)
        return bytes(self.image[BASE + index + CELL_HEADER : BASE + index + size])

    def capacity(self, index: int) -> int:
        """Data bytes the allocated cell ``index`` can hold (its size minus 4)."""
        return self._check_live(index) - CELL_HEADER

    def _pages(self, clear: int) -> set[int]:
        n = _lib.regf_alloc_ndirty(self._a)
        out = _ffi.new("uint32_t[]", n)
        got = _lib.regf_alloc_dirty(self._a, out, n, clear)
        assert got == n
        return set(_ffi.unpack(out, n))

    def dirty_pages(self) -> set[int]:
        """Page numbers (file offset // 4096) written since the last :meth:`take_dirty`."""
        return self._pages(0)

    def take_dirty(self) -> set[int]:
        """Return the dirty pages and start a new, empty set."""
        return self._pages(1)

    def stats(self) -> AllocStats:
        """Allocated bytes, free bytes and free-cell count (maintained incrementally)."""
        out = self._out3
        _lib.regf_alloc_stats(self._a, out)
        return AllocStats(int(out[0]), int(out[1]), int(out[2]))

    def scrub_window(self, window: bytearray, lo: int) -> None:
        """Zero, in ``window`` (a copy of hive-bins bytes from ``lo`` on), the data of
        every free cell it overlaps (size fields stay); one C pass over the free map."""
        _lib.regf_alloc_scrub(self._a, _fb(_U8, window), lo, len(window))

    def free_cells(self) -> dict[int, int]:
        """A copy of the free-cell map: cell index -> size (in address order)."""
        n = _lib.regf_alloc_nfree(self._a)
        starts = _ffi.new("uint32_t[]", n)
        sizes = _ffi.new("uint32_t[]", n)
        _lib.regf_alloc_free_cells(self._a, starts, sizes, n)
        return dict(sorted(zip(_ffi.unpack(starts, n), _ffi.unpack(sizes, n), strict=True)))

    def bins(self) -> list[tuple[int, int]]:
        """(start, end) of every bin, hive-bins relative."""
        n = _lib.regf_alloc_nbins(self._a)
        starts = _ffi.new("uint32_t[]", n)
        ends = _ffi.new("uint32_t[]", n)
        _lib.regf_alloc_bins(self._a, starts, ends, n)
        return list(zip(_ffi.unpack(starts, n), _ffi.unpack(ends, n), strict=True))


class CellAllocatorAPI(Protocol):
    """What both allocators offer; code that takes either may annotate with this."""

    image: bytearray

    @property
    def hbins_size(self) -> int: ...
    def alloc(self, payload_len: int) -> int: ...
    def free(self, index: int) -> None: ...
    def realloc(self, index: int, payload_len: int) -> int: ...
    def write(self, index: int, offset_in_data: int, data: bytes | bytearray) -> None: ...
    def read(self, index: int) -> bytes: ...
    def capacity(self, index: int) -> int: ...
    def dirty_pages(self) -> set[int]: ...
    def take_dirty(self) -> set[int]: ...
    def stats(self) -> AllocStats: ...
    def free_cells(self) -> dict[int, int]: ...
    def scrub_window(self, window: bytearray, lo: int) -> None: ...
    def bins(self) -> list[tuple[int, int]]: ...


if TYPE_CHECKING:
    # mypy sees the specification; both classes must satisfy the same protocol.
    CellAllocator = PyCellAllocator
    _SPEC: type[CellAllocatorAPI] = PyCellAllocator
    _TWIN: type[CellAllocatorAPI] = CCellAllocator
elif BACKEND == "c":
    CellAllocator = CCellAllocator
else:
    CellAllocator = PyCellAllocator


__all__ = [
    "CREATED",
    "EXACT_LIMIT",
    "HBINS_SIZE_OFFSET",
    "HBIN_HEADER",
    "MAX_HBINS",
    "MIN_CELL",
    "NUM_CLASSES",
    "AllocStats",
    "CCellAllocator",
    "CellAllocator",
    "CellAllocatorAPI",
    "PyCellAllocator",
    "cell_total",
    "size_class",
]
