"""An editable hive's life: its files, flushing, autoflush, saving and closing.

:class:`EditableHiveBase` is the half of :class:`~regf.model.edithive.EditHive` that
deals with where the hive lives: the target file of ``regf.create``, the
:class:`~regf.storage.flush.Pager` of an in-place ``mode="r+"`` hive, the hive's mutex,
the autoflush thread, ``flush``/``close``/``discard`` and ``save_as``/``to_bytes``
(walk -> :class:`~regf.model.spec.KeySpec` -> :func:`~regf.model.serialize.serialize`).
The cell structure and the key operations are in :mod:`regf.model.edithive`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from .._accel import checksum
from ..cells import nodes, sublists
from ..cells import security as cellsec
from ..cells import values as cellvalues
from ..cells.alloc import CellAllocatorAPI as Alloc
from ..errors import HiveStateError, InvalidArgumentError
from ..format.constants import BASE, HCELL_NIL
from ..format.fast import BASE_L, CELL_HEADER, HBIN_L, NK
from ..storage.atomic import Chunk, write_new_file
from ..storage.flush import FlushStats, Pager
from ..storage.recovery import RecoveryReport
from .autoflush import AutoFlusher
from .handles import HandleTable
from .keyops import DROP_FLAGS, Timestamp, to_filetime
from .serialize import now_filetime, serialize
from .spec import KeySpec, ValueSpec

#: Bytes copied per step when saving the image (the save's whole extra memory).
_WINDOW = 1 << 20


class EditableHiveBase:
    """Files, flushes and saving of an editable hive (see the module docstring)."""

    #: True: keys are live handles and may be edited.
    writable: bool = True

    _mutex: threading.RLock
    _pager: Pager | None
    _autoflusher: AutoFlusher | None
    recovery: RecoveryReport | None
    minor: int
    mode: str
    target: Path | None
    path: Path | None
    _source: Path | None
    file_name: str
    warnings: list[str]
    _closed: bool
    _modified: bool
    _image: bytearray
    _alloc: Alloc
    _root_cell: int
    _handles: HandleTable[Any]

    # -- state ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise HiveStateError("hive is closed")
        pager = self._pager
        if pager is not None and pager.failed:
            raise HiveStateError(
                f"{self.path}: an earlier flush failed ({pager.failure!r}); close the hive "
                "and reopen it (reopening recovers the last committed state)"
            )

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def failed(self) -> bool:
        """True once an I/O error in a flush put the hive into its error state."""
        return self._pager is not None and self._pager.failed

    @property
    def pager(self) -> Pager | None:
        """The :class:`~regf.storage.flush.Pager` writing the file in place, or None."""
        return self._pager

    @property
    def modified(self) -> bool:
        """True when the hive changed since it was created, loaded or last written."""
        # Under the mutex: a flush (the autoflush thread's too) writes the files first
        # and clears the flag after, so a file seen clean may still read as modified
        # without it.
        with self._mutex:
            return self._modified

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor) version of the hive (and of what saving writes)."""
        return (1, self.minor)

    @property
    def image(self) -> bytearray:
        """The whole-file image (base block + hive bins) the edits are made in.

        Read-only property; the bytes are live (do not keep a ``memoryview`` of it across
        edits: the allocator extends it when the hive grows).
        """
        self._check_open()
        return self._image

    @property
    def allocator(self) -> Alloc:
        """The :class:`~regf.cells.alloc.CellAllocator` over :attr:`image` (its
        ``take_dirty()`` gives the 4 KiB pages changed since the last call)."""
        self._check_open()
        return self._alloc

    @property
    def root_cell(self) -> int:
        """Cell index of the root nk (the base block's field at 0x24)."""
        return self._root_cell

    # -- saving --------------------------------------------------------------------------

    def _spec(self, top: int) -> KeySpec:
        """The stable subtree of nk ``top`` as KeySpecs (descriptors shared per sk)."""
        a = self._alloc
        buf = self._image
        minor = self.minor
        sds: dict[int, bytes] = {}

        def node(cell: int) -> KeySpec:
            f = NK.unpack_from(buf, BASE + cell + CELL_HEADER)
            sk = f[13]
            sd = sds.get(sk)
            if sd is None:
                sd = sds[sk] = cellsec.read_sk(a, sk).descriptor
            return KeySpec(
                nodes.name_of(buf, cell),
                class_name=nodes.class_of(buf, cell),
                last_written=f[2],
                flags=f[1] & ~DROP_FLAGS,
                security=sd,
                values=[
                    ValueSpec(r.name, r.type, r.raw) for r in cellvalues.iter_values(a, cell, minor)
                ],
                user_flags=f[16] & 0xF,
                virt_flags=f[16] >> 4,
                debug=f[17],
            )

        spec = node(top)
        stack = [(top, spec)]
        while stack:
            cell, s = stack.pop()
            c, _vc, lst, _vl = nodes.counts(buf, cell)
            if not c or lst == HCELL_NIL:
                continue
            for child in sublists.cells(buf, lst, a.hbins_size):
                cs = node(child)
                s.subkeys.append(cs)
                stack.append((child, cs))
        return spec

    def to_spec(self) -> KeySpec:
        """The stable tree as a :class:`KeySpec` (volatile keys are never saved)."""
        self._check_open()
        return self._spec(self._root_cell)

    def to_bytes(self, *, timestamp: Timestamp = None) -> bytes:
        """A compact, clean hive file holding this hive's stable keys."""
        self._check_open()
        ts = to_filetime(timestamp)
        return serialize(self.to_spec(), minor=self.minor, timestamp=ts, file_name=self.file_name)

    def save_as(self, path: str | os.PathLike[str], *, compact: bool = False) -> None:
        """Write a clean copy of the hive to ``path`` (atomically).

        By default the copy is the hive as it stands (what hivex's commit and Windows'
        ``REG_NO_COMPRESSION`` save write): the bins byte for byte behind a clean base
        block, with every free cell zeroed so nothing deleted survives in the copy (slack
        inside live cells is kept). It costs one copy of the image. ``compact=True``
        re-packs the stable tree instead (:meth:`to_bytes`: no free space, names and
        lists rewritten; several seconds on a 10 MB hive).

        Refuses (HiveStateError) to overwrite the file the hive was opened from: writing
        back in place is the flush's job.
        """
        self._check_open()
        dest = Path(path)
        if self._source is not None and same_file(dest, self._source):
            how = "use flush()" if self._pager is not None else "it was opened as a copy"
            raise HiveStateError(
                f"save_as({str(dest)!r}) would overwrite the file this hive was opened from ({how})"
            )
        if compact:
            write_new_file(dest, self.to_bytes())
        else:
            # Written window by window under the mutex: no copy of the whole image, so
            # the save costs one pass over the bytes and 1 MiB of memory.
            with self._mutex:
                write_new_file(dest, self._image_chunks(now_filetime(), True))
        if self.target is not None and same_file(dest, self.target):
            self._modified = False

    def image_bytes(self, *, timestamp: Timestamp = None, scrub: bool = False) -> bytes:
        """The hive file as it stands, uncompacted: the image's bins byte for byte (free
        cells and all) behind a clean base block (Seq1 = Seq2, the bins' size, the
        checksum). What ZwSaveKeyEx(REG_NO_COMPRESSION) writes for a hive root. The
        image itself is not changed. ``scrub=True`` zeroes every free cell's contents
        (its size field stays: the bins still parse), so no deleted key or value can be
        recovered from the copy."""
        with self._mutex:
            self._check_open()
            # each chunk is copied: the generator reuses its window buffer
            return b"".join([bytes(c) for c in self._image_chunks(to_filetime(timestamp), scrub)])

    def _image_chunks(self, timestamp: int, scrub: bool) -> Iterator[Chunk]:
        """:meth:`image_bytes` in pieces: a patched copy of the base block, then the bins
        through one reused window buffer (free cells' contents zeroed there when
        ``scrub``), so saving needs no copy of the whole image. The caller holds the
        mutex until the generator is done; no view of the image outlives a step."""
        end = BASE + self._alloc.hbins_size
        img = self._image
        head = bytearray(img[:BASE])
        # Seq2 may lag Seq1 in memory between a flush's two writes: a clean copy has the
        # newer number in both (fmt §1).
        BASE_L.field("seq2").pack_into(head, 0, BASE_L.field("seq1").unpack_from(head))
        BASE_L.field("hbins_size").pack_into(head, 0, end - BASE)
        BASE_L.field("last_written").pack_into(head, 0, timestamp)
        BASE_L.field("checksum").pack_into(head, 0, checksum(head[: BASE_L.offset("checksum")]))
        yield head
        # Volatile keys live in their own space, so the stable image's free cells (and
        # slack inside live cells, kept) are where deleted data can hide.
        alloc = self._alloc
        window = bytearray(_WINDOW)
        for lo in range(BASE, end, _WINDOW):
            hi = min(lo + _WINDOW, end)
            with memoryview(img) as whole:
                if hi - lo == _WINDOW:
                    window[:] = whole[lo:hi]
                else:
                    window = bytearray(whole[lo:hi])  # the last window: the bytes left
            if scrub:
                alloc.scrub_window(window, lo - BASE)
            yield window

    def _write_image(self, dest: Path) -> None:
        """Write the image itself as a clean primary: Seq1 = Seq2 = previous + 1, base
        block and first-bin timestamps now, checksum (fmt §1, §11)."""
        img = self._image
        ts = now_filetime()
        seq = (BASE_L.field("seq1").unpack_from(img) + 1) & 0xFFFFFFFF
        BASE_L.field("seq1").pack_into(img, 0, seq)
        BASE_L.field("seq2").pack_into(img, 0, seq)
        BASE_L.field("last_written").pack_into(img, 0, ts)
        # the first bin's timestamp mirrors the base block's (fmt §1.1)
        HBIN_L.field("timestamp").pack_into(img, BASE, ts)
        BASE_L.field("checksum").pack_into(img, 0, checksum(img[: BASE_L.offset("checksum")]))
        end = BASE + self._alloc.hbins_size
        with memoryview(img) as whole, whole[:end] as view:
            write_new_file(dest, cast(bytes, view))
        self._alloc.take_dirty()  # the file now equals the image

    def flush(self, *, reconcile: bool = True) -> FlushStats | None:
        """Make the hive's changes durable; returns what the pager wrote (None for a
        :func:`create`-d hive, whose whole image is written atomically to its file).

        In place (``mode="r+"``): the dirty pages become one log entry, then the primary
        is reconciled, unless ``reconcile=False`` (the entry stays in the log and the
        primary is marked dirty; a later flush or :meth:`close` reconciles). Returns only
        once the flush is committed. An I/O error is raised as is and puts the hive into
        its error state (see the module docstring). A detached copy (bytes source or
        ``in_place=False``) has no file: HiveStateError.
        """
        with self._mutex:
            self._check_open()
            pager = self._pager
            if pager is not None:
                # Peek, do not take: if the pager refuses before any I/O, the pages stay
                # dirty. Edits hold the mutex, so nothing changes until take_dirty.
                dirty = self._alloc.dirty_pages()
                stats = pager.flush(self._image, dirty, reconcile=reconcile)
                self._alloc.take_dirty()
                self._modified = False
                return stats
            if self.target is None:
                raise HiveStateError(
                    "this hive is a copy in memory (bytes source or in_place=False): "
                    "it has no file to flush to; use save_as"
                )
            self._write_image(self.target)
            self._modified = False
            return None

    def _autoflush(self) -> None:
        """One pass of the autoflush thread: flush if there is anything to write."""
        with self._mutex:
            if self._closed or self.failed:
                return
            if self._pager is not None or self._modified:
                self.flush()  # in place: a no-op when no page is dirty and nothing pends

    def start_autoflush(self, interval: float) -> None:
        """Flush from a background thread every ``interval`` seconds until closed.

        The thread holds the hive's lock while it flushes, and every edit holds it too,
        so a background flush never sees half an operation. A failed background flush
        leaves the hive in its error state: the next operation raises HiveStateError.
        """
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise InvalidArgumentError("autoflush must be a number of seconds")
        if not interval > 0:
            raise InvalidArgumentError("autoflush must be a positive number of seconds")
        with self._mutex:
            self._check_open()
            if self._pager is None and self.target is None:
                raise InvalidArgumentError("autoflush needs a hive with a file to flush to")
            if self._autoflusher is not None:
                self._autoflusher.stop()
            self._autoflusher = AutoFlusher(self, float(interval))

    def close(self) -> None:
        """Flush and close: a hive edited in place is fully flushed (reconciled) and its
        writer lock released; a :func:`create`-d hive is written. After a failed flush
        nothing is written (the files hold the last committed state)."""
        if self._closed:
            return
        self._stop_autoflush()
        with self._mutex:
            if self._closed:
                return
            try:
                if self.target is not None or (self._pager is not None and not self.failed):
                    self.flush()
            finally:
                self._release()

    def discard(self) -> None:
        """Close without writing anything more: changes since the last flush are lost
        (in place, the files keep the last committed flush)."""
        self._stop_autoflush()
        with self._mutex:
            self._release()

    def _stop_autoflush(self) -> None:
        # Not under the mutex: the thread may be waiting for it to flush.
        flusher, self._autoflusher = self._autoflusher, None
        if flusher is not None:
            flusher.stop()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        for h in self._handles.live():
            h._cell = -1
        self._handles.clear()
        if self._pager is not None:
            self._pager.close()  # releases the writer lock; writes nothing (may fsync)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is not None:
            # Keep committed flushes only (what Windows keeps when the system dies): a
            # half-done batch of edits is not written.
            self.discard()
        else:
            self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "<memory>"
        return f"<EditHive {where} v1.{self.minor} mode={self.mode!r}>"


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


# ---------------------------------------------------------------------------------------


__all__ = ["EditableHiveBase", "same_file"]
