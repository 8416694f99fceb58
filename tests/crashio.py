"""A :class:`regf.storage.fileio.FileOps` double that simulates crashes (test helper).

Every mutating operation (pwrite, fsync, directory fsync, truncate, unlink, rename) gets a
number, 0, 1, 2, ... across all files. With ``crash_at=k`` operation ``k`` does not happen
(or, for a pwrite with ``tear``, happens partly) and raises :class:`SimulatedCrash`; every
later operation raises too, as if the process were dead. Without ``crash_at`` the double
only counts, which is how a test learns how many positions to try.

``tear`` decides what a crashing pwrite leaves behind: ``"prefix"`` (the first half, cut at
a 512-byte boundary when the write is longer than a sector, so both "sector-atomic" and
"byte-torn" tears occur), ``"zeros"`` (the whole range reads as zeros: space allocated,
data never written) or ``"prefix-zeros"`` (first half written, rest zeros).

``lose_unsynced`` models a power cut: at the crash, writes made to a file since its last
fsync are each kept or dropped at random (``rng``), so a device that reorders writes is
covered. This keeps an in-memory copy of every file as of its last fsync: use it on small
hives only.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from regf.storage.fileio import FileHandle, OSFileOps


class SimulatedCrash(OSError):
    """The simulated process died at this operation."""


class _State:
    def __init__(
        self,
        crash_at: int | None,
        tear: str | None,
        lose_unsynced: bool,
        rng: random.Random | None,
    ) -> None:
        self.crash_at = crash_at
        self.tear = tear
        self.lose_unsynced = lose_unsynced
        self.rng = rng or random.Random(0)
        self.count = 0
        self.crashed = False
        self.log: list[tuple[str, str, int]] = []  # (op, file name, bytes)
        #: path -> (content at last fsync, unsynced ops since then)
        self.synced: dict[Path, bytes] = {}
        self.unsynced: dict[Path, list[tuple[str, int, bytes]]] = {}

    def step(self, op: str, path: Path, nbytes: int = 0) -> bool:
        """Count an operation; True when it is the one that crashes."""
        if self.crashed:
            raise SimulatedCrash(f"process already crashed (before {op} on {path.name})")
        k = self.count
        self.count += 1
        self.log.append((op, path.name, nbytes))
        return self.crash_at is not None and k == self.crash_at

    def die(self, op: str, path: Path) -> SimulatedCrash:
        self.crashed = True
        if self.lose_unsynced:
            self._power_cut()
        return SimulatedCrash(f"simulated crash at operation {self.crash_at} ({op} {path.name})")

    def _power_cut(self) -> None:
        """Rebuild each file from its last synced content plus a random subset of writes."""
        for path, ops in self.unsynced.items():
            if not ops:
                continue
            data = bytearray(self.synced.get(path, b""))
            for kind, off, payload in ops:
                if self.rng.random() < 0.5:
                    continue  # this write never reached the medium
                if kind == "write":
                    if len(data) < off:
                        data.extend(bytes(off - len(data)))
                    data[off : off + len(payload)] = payload
                else:  # truncate
                    del data[off:]
                    if len(data) < off:
                        data.extend(bytes(off - len(data)))
            with open(path, "wb") as fh:
                fh.write(data)


class CrashFile:
    """A FileHandle that forwards to a real one through the crash state."""

    def __init__(self, inner: FileHandle, state: _State) -> None:
        self._inner = inner
        self._st = state
        self.path = inner.path
        if state.lose_unsynced and self._key() not in state.synced:
            state.synced[self._key()] = inner.pread(inner.size(), 0)
            state.unsynced[self._key()] = []

    def _key(self) -> Path:
        return Path(os.path.realpath(self._inner.path))

    def pread(self, size: int, offset: int) -> bytes:
        return self._inner.pread(size, offset)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        data = bytes(data)
        st = self._st
        if st.step("pwrite", self.path, len(data)):
            if st.tear is not None:
                half = len(data) // 2
                if len(data) > 512:
                    half = half // 512 * 512 or 512
                if st.tear == "prefix":
                    torn = data[:half]
                elif st.tear == "zeros":
                    torn = bytes(len(data))
                else:  # prefix-zeros
                    torn = data[:half] + bytes(len(data) - half)
                self._inner.pwrite(torn, offset)
                self._record("write", offset, torn)
            raise st.die("pwrite", self.path)
        self._inner.pwrite(data, offset)
        self._record("write", offset, data)

    def _record(self, kind: str, off: int, payload: bytes) -> None:
        if self._st.lose_unsynced:
            self._st.unsynced[self._key()].append((kind, off, payload))

    def fsync(self) -> None:
        st = self._st
        if st.step("fsync", self.path):
            raise st.die("fsync", self.path)
        self._inner.fsync()
        if st.lose_unsynced:
            key = self._key()
            st.synced[key] = self._inner.pread(self._inner.size(), 0)
            st.unsynced[key] = []

    def truncate(self, size: int) -> None:
        st = self._st
        if st.step("truncate", self.path):
            raise st.die("truncate", self.path)
        self._inner.truncate(size)
        self._record("truncate", size, b"")

    def size(self) -> int:
        return self._inner.size()

    def fileno(self) -> int | None:
        return self._inner.fileno()

    def close(self) -> None:
        self._inner.close()


class CrashOps:
    """The FileOps double (see the module docstring)."""

    def __init__(
        self,
        crash_at: int | None = None,
        *,
        tear: str | None = None,
        lose_unsynced: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self._os = OSFileOps()
        self.state = _State(crash_at, tear, lose_unsynced, rng)

    @property
    def count(self) -> int:
        """Mutating operations seen so far (including the crashing one)."""
        return self.state.count

    @property
    def crashed(self) -> bool:
        return self.state.crashed

    @property
    def log(self) -> list[tuple[str, str, int]]:
        return self.state.log

    def open(self, path: Path, *, create: bool = False) -> FileHandle:
        if self.state.crashed:
            raise SimulatedCrash("process already crashed (open)")
        return CrashFile(self._os.open(path, create=create), self.state)

    def exists(self, path: Path) -> bool:
        return self._os.exists(path)

    def fsync_dir(self, path: Path) -> None:
        if self.state.step("fsync_dir", Path(path)):
            raise self.state.die("fsync_dir", Path(path))
        self._os.fsync_dir(path)

    def unlink(self, path: Path) -> None:
        if self.state.step("unlink", Path(path)):
            raise self.state.die("unlink", Path(path))
        self._os.unlink(path)

    def replace(self, src: Path, dst: Path) -> None:
        if self.state.step("replace", Path(dst)):
            raise self.state.die("replace", Path(dst))
        self._os.replace(src, dst)


class FailingOps(CrashOps):
    """Like CrashOps, but the process survives: operation ``k`` fails with ``error`` and
    later operations work again (an I/O error such as ENOSPC or EIO, not a crash)."""

    def __init__(self, fail_at: int, error: OSError) -> None:
        super().__init__(fail_at)
        self.error = error
        st = self.state
        orig_die = st.die

        def die(op: str, path: Path) -> SimulatedCrash:
            orig_die(op, path)
            st.crashed = False  # the process lives on
            raise error

        st.die = die  # type: ignore[method-assign]


def mutate(image: bytearray, rng: random.Random, ours: list[int], n: int | None = None) -> set[int]:
    """Apply a random batch of cell edits to ``image``; return the dirty pages.

    Allocates cells (mostly small, sometimes big enough to need a new bin) and fills
    them with random bytes, overwrites parts of cells allocated earlier, frees some of
    them. ``ours`` lists the cells this workload owns (updated in place); the hive's own
    cells are never touched, so the hive stays valid. Deterministic for a given image,
    rng state and ``ours``.
    """
    from regf.cells.alloc import CellAllocator

    a = CellAllocator(image)
    for _ in range(n if n is not None else rng.randint(1, 6)):
        r = rng.random()
        if ours and r < 0.25:
            a.free(ours.pop(rng.randrange(len(ours))))
        elif ours and r < 0.45:
            idx = rng.choice(ours)
            cap = a.capacity(idx)
            off = rng.randrange(cap)
            a.write(idx, off, rng.randbytes(min(cap - off, rng.randint(1, 200))))
        else:
            size = (
                rng.randint(5000, 40000)
                if rng.random() < 0.1
                else rng.choice((1, 8, 24, 100, 500, 3000))
            )
            idx = a.alloc(size)
            a.write(idx, 0, rng.randbytes(size))
            ours.append(idx)
    return a.take_dirty()
