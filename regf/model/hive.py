"""An open hive read from a file: base block, recovery state, keys, values, walking.

:class:`Hive` opens a hive read-only and decodes every cell it touches with the
checks of the format (strict: typed errors with offsets; forensic: skipped and recorded
in ``problems``). The keys and values it hands out are the model's single
:class:`~regf.model.keys.Key` / :class:`~regf.model.values.Value` classes, which ask the
hive (``_key_*`` methods below) for anything structural.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from threading import get_ident
from types import TracebackType
from typing import Any

from .. import _accel
from .._accel import name_hash, upcase
from .._accel.pure import upcase as _upcase_py
from ..cells.image import HiveImage
from ..cells.sublists import read_subkey_cells
from ..errors import (
    CellError,
    FormatError,
    HiveStateError,
    KeyNotFoundError,
    ReadOnlyError,
    RegfError,
    SignatureError,
    StructureError,
    TruncatedError,
    UnsupportedVersionError,
    ValueNotFoundError,
)
from ..format.constants import BASE, FILE_TYPE_PRIMARY, HCELL_NIL, MAX_DEPTH, VOLATILE_BIT
from ..format.fast import BASE_L, CELL_HEADER, I32, SK, u32_array
from ..format.structs import SK_FIXED_SIZE, VK_FIXED_SIZE
from ..storage import discover, recovery
from ..storage.baseblock import hbins_size_ok
from ..storage.files import HiveSource
from . import paths as _paths
from .baseblock import BaseBlockInfo, parse_base_block
from .keys import Key
from .substream import SubkeyStream
from .values import Value, decode_name
from .walk import walk_chunks, walk_keys

#: Bits no cell index of the stable storage has: the volatile bit and misalignment.
_BAD_INDEX = VOLATILE_BIT | 7


class DirtyHiveWarning(UserWarning):
    """A dirty hive was opened without applying its transaction logs."""


class Hive:
    """An open hive. This class reads a hive file read-only (every cell checked, strict
    or forensic); :class:`~regf.model.edithive.EditHive` is the editable one. Both give
    the same :class:`~regf.model.keys.Key` and :class:`~regf.model.values.Value`
    objects; writing through a read-only hive raises :class:`~regf.errors.ReadOnlyError`.
    """

    #: False: keys are snapshots and every write raises ReadOnlyError.
    writable: bool = False
    #: Edits and flushes hold it on an editable hive; nothing to serialise here.
    _mutex: Any = contextlib.nullcontext()

    def __init__(
        self,
        source: HiveSource,
        *,
        strict: bool = True,
        recover: bool = True,
        logs: Sequence[Any] | None = None,
    ) -> None:
        self._source = source
        self.path = source.path
        self.strict = strict
        self.warnings: list[str] = []
        self.recovery: Any = None
        self._closed = False
        buf: Any = source.buf
        try:
            bb = parse_base_block(buf)
        except SignatureError:
            # A base block wiped by a crash (a torn write that left zeros) is rebuilt
            # from a log's copy, as Windows does (fmt §6.5 step 3); no log: still fatal.
            if not recover:
                raise
            buf, rbb = self._recover(buf, None, logs)
            if rbb is None:
                raise
            bb, self.was_dirty = rbb, True
        else:
            self.was_dirty = bb.dirty
            if bb.dirty and recover:
                buf, bb = self._recover(buf, bb, logs)
        self._check_header(bb, len(buf))
        self.base_block = bb
        self.image = HiveImage(buf, bb.hbins_size, bb.minor, strict)
        self.buf = buf
        self._root: Key | None = None
        # Key.subkeys() through a grouped walker stream (C only: the pure walker is the
        # spec, slower than the checked decoder; tests set it to compare the two).
        self._batch_binder: Any = _accel.walk_binder if _accel.BACKEND == "c" else None
        self._scratch: SubkeyStream | None = None
        #: Parsed descriptors by sk cell: keys share a few hundred sk cells, and the
        #: bytes of a read-only hive do not change (the records are frozen).
        self._sd_cache: dict[int, Any] = {}

    # -- opening -----------------------------------------------------------------------

    def _recover(self, buf: Any, bb: BaseBlockInfo | None, logs: Sequence[Any] | None) -> Any:
        paths = (
            list(logs)
            if logs is not None
            else (discover.find_logs(self.path) if self.path is not None else [])
        )
        if not paths:
            self._dirty_warning("no transaction logs found")
            return buf, bb
        try:
            # The primary mapping is passed as is and the logs are mapped, not read:
            # recover() makes the one working copy it needs.
            image, report = recovery.recover_files(buf, paths, self.path)
        except RegfError as exc:
            if self.strict:
                raise
            # Forensic mode: the stale primary is still evidence worth reading.
            self._dirty_warning(f"logs not applied: {exc}")
            return buf, bb
        self.recovery = report
        return image, parse_base_block(image)

    def _dirty_warning(self, why: str) -> None:
        msg = f"hive is dirty and was opened as it is ({why}); newest data may be missing"
        self.warnings.append(msg)
        warnings.warn(msg, DirtyHiveWarning, stacklevel=4)

    def _check_header(self, bb: BaseBlockInfo, size: int) -> None:
        if bb.major != 1:
            raise UnsupportedVersionError(
                f"major version {bb.major} is not 1", BASE_L.offset("major")
            )
        if bb.minor < 3 or bb.minor > 6:
            if self.strict or bb.minor < 1:
                raise UnsupportedVersionError(
                    f"hive version 1.{bb.minor} is not supported (1.3 to 1.6 are)",
                    BASE_L.offset("minor"),
                )
            self.warnings.append(f"version 1.{bb.minor} read as 1.3")
        if bb.file_type != FILE_TYPE_PRIMARY:
            raise UnsupportedVersionError(
                f"file type {bb.file_type} is not a primary hive (a transaction log?)",
                BASE_L.offset("file_type"),
            )
        if not hbins_size_ok(bb.hbins_size):  # the storage layer's rule (2 GiB cap)
            err = FormatError(
                f"hive bins size {bb.hbins_size:#x} is not a positive multiple of 4096 below 2 GiB",
                BASE_L.offset("hbins_size"),
            )
            if self.strict:
                raise err
            self.warnings.append(str(err))
        if BASE + bb.hbins_size > size:
            err2 = TruncatedError(
                f"file ends at {size:#x} before the hive bins end at {BASE + bb.hbins_size:#x}",
                size,
            )
            if self.strict:
                raise err2
            self.warnings.append(str(err2))

    # -- state -------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when the hive on disk is dirty and its logs were not applied."""
        return self.base_block.dirty

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor) version."""
        return self.base_block.version

    @property
    def problems(self) -> list[FormatError]:
        """Structural problems skipped in forensic (``strict=False``) mode."""
        return self.image.problems

    def _check_open(self) -> None:
        if self._closed:
            raise HiveStateError("hive is closed")

    # -- keys --------------------------------------------------------------------------

    @property
    def root(self) -> Key:
        """The root key."""
        self._check_open()
        if self._root is None:
            self._root = Key(self, self.base_block.root_cell, None, ())
        return self._root

    def open_key(self, path: str) -> Key:
        """The key at ``path`` (backslash-separated, case-insensitive, Windows rules)."""
        return self.root.open_key(path)

    def walk(
        self,
        key: Key | str | None = None,
        *,
        max_depth: int | None = None,
        filter: Callable[[Key], bool] | None = None,
        values: bool = True,
    ) -> Iterator[Key]:
        """Every key below (and including) ``key`` depth-first, in stored order.

        Args:
            key: the start key (or its path); default: the root.
            max_depth: stop this many levels below ``key`` (0: ``key`` alone).
            filter: yield only the keys for which ``filter(key)`` is true (their
                subkeys are still visited).
            values: False does not read each key's values ahead of ``values()``
                (which then reads them when called): for walks that only look at keys
                (paths, times, counts), about a third faster. Same keys, values and
                errors either way.

        Cycles (a subkey list pointing back up the tree) and depth beyond 512 raise
        StructureError in strict mode and are skipped in forensic mode.
        """
        if max_depth is not None or filter is not None:
            return self._walk_limited(key, max_depth, filter, values)
        return self._walk_from(key, values)

    def _walk_from(self, key: Key | str | None, values: bool, limit: int = -1) -> Iterator[Key]:
        """The walk from ``key`` (``limit`` >= 0: that many levels down) on this backend.
        Not a generator itself: one level of delegation less per key. The start key is
        still looked up lazily, on the first next()."""
        if _accel.BACKEND == "c":
            # The chunked walker stops at the limit too, and its keys answer subkeys()
            # from their records (README's example walks with max_depth).
            return walk_chunks(self, key, 0, None, _accel.walk_code, values, limit)
        # The pure twin of the C walker is an executable spec, slower than the
        # key-by-key walk; both give the same keys, values and errors.
        return walk_keys(self, key, 0, None, limit)

    def _walk_keys(
        self, key: Key | str | None, base: int, visited: bytearray | None, limit: int = -1
    ) -> Iterator[Key]:
        """The checked key-by-key walk (:func:`regf.model.walk.walk_keys`)."""
        return walk_keys(self, key, base, visited, limit)

    def _walk_chunks(
        self,
        key: Key | str | None,
        base: int,
        visited: bytearray | None,
        walk_code: Any,
        values: bool = True,
        limit: int = -1,
    ) -> Iterator[Key]:
        """The chunked C walk (:func:`regf.model.walk.walk_chunks`)."""
        return walk_chunks(self, key, base, visited, walk_code, values, limit)

    def _walk_limited(
        self,
        key: Key | str | None,
        max_depth: int | None,
        keep: Callable[[Key], bool] | None,
        values: bool = True,
    ) -> Iterator[Key]:
        keys = self._walk_from(key, values, -1 if max_depth is None else max_depth)
        return keys if keep is None else (k for k in keys if keep(k))

    def glob(self, pattern: str) -> Iterator[Key]:
        """Keys whose path matches ``pattern`` (``*``, ``?``, ``**``; see regf.model.paths)."""
        return _paths.glob(self.root, pattern, self.walk)

    def _start(self, key: Key | str | None) -> Key:
        return self.root if key is None else self.open_key(key) if isinstance(key, str) else key

    def _cycle(self, k: Key) -> None:
        err = StructureError(f"key {k.path!r} reached twice (cycle)", k.offset)
        if self.strict:
            raise err
        self.image.problems.append(err)

    def _too_deep(self, k: Key) -> None:
        err = StructureError(f"tree deeper than {MAX_DEPTH} at {k.path!r}", k.offset)
        if self.strict:
            raise err
        self.image.problems.append(err)

    def _back_edge(self, k: Key, child: int) -> None:
        """A subkey list entry of ``k`` names one of its ancestors (or ``k`` itself)."""
        err = StructureError(
            f"subkey list of {k.path!r} points back at its ancestor key {child:#x} (cycle)",
            BASE + int(k._f[9]),
        )
        if self.strict:
            raise err
        self.image.problems.append(err)

    # -- writing: refused ----------------------------------------------------------------

    def _read_only(self, what: str) -> ReadOnlyError:
        return ReadOnlyError(
            f"cannot {what}: the hive is open read-only (mode 'r'); open it with mode='r+'"
        )

    def create_key(self, path: str, *args: Any, **kwargs: Any) -> Key:
        """Editable hives only (ReadOnlyError here)."""
        raise self._read_only("create a key")

    def delete_key(self, path: str, *args: Any, **kwargs: Any) -> None:
        """Editable hives only (ReadOnlyError here)."""
        raise self._read_only("delete a key")

    def rename_key(self, path: str, new_name: str, *args: Any, **kwargs: Any) -> Key:
        """Editable hives only (ReadOnlyError here)."""
        raise self._read_only("rename a key")

    def flush(self, *args: Any, **kwargs: Any) -> Any:
        """Editable hives only (ReadOnlyError here)."""
        raise self._read_only("flush")

    def save_as(self, path: Any, **kwargs: Any) -> None:
        """Editable hives only (ReadOnlyError here)."""
        raise self._read_only("save")

    # -- keys (the reader's side of regf.model.keys.Key) -------------------------------

    def _key_attr(self, k: Key, attr: str) -> Any:
        """The lazily filled fields of a key (filled once: snapshots). ``path`` and
        ``_f``, the common ones, are filled by the Key properties themselves."""
        if attr == "_anc":
            # A key made with Key(hive, index, path) without its ancestors: look them up.
            pp = k.parent_path
            anc: tuple[int, ...] = ()
            if pp is not None:
                parent = self.open_key(pp)
                anc = (*parent._anc, parent._cell)
            k._ac = anc
            return anc
        raise AttributeError(f"{type(k).__name__!r} object has no attribute {attr!r}")

    def _key_index(self, k: Key) -> int:
        return k._cell

    def _key_volatile_count(self, k: Key) -> int:
        return int(k._f[8])

    def _key_class(self, k: Key) -> str | None:
        f = k._f
        cell, length = f[14], f[23]
        if length == 0 or cell in (HCELL_NIL, 0):
            return None
        image = self.image
        start, cap = image.cell(cell, "class name")
        if length > cap:
            if image.strict:
                raise CellError(f"class of {k.path!r} longer than its cell", start - CELL_HEADER)
            length = cap
        return decode_name(bytes(image.buf[start : start + length]), False)

    def _batch_scratch(self) -> SubkeyStream:
        """The first thread's stream is kept; another thread gets one per call."""
        sc = SubkeyStream(self, self._batch_binder)
        if self._scratch is None:
            self._scratch = sc
        return sc

    def _key_subkeys(self, k: Key, check: bool = True) -> list[Key]:
        """Subkeys in stored order. ``check``: an entry naming ``k`` or an ancestor of
        it is a cycle (StructureError, or skipped and recorded); the walks pass False
        (their visited bitmap catches every cycle, and must report it the same way)."""
        wk = getattr(k, "_wk", None) if check else None
        if wk is not None:
            # A key hive.walk() made: its chunk's records may hold the answer.
            made: list[Key] | None = wk.subkeys(k)
            if made is not None:
                return made
        f = k._f
        if f[7] == 0 or f[9] == HCELL_NIL:
            # A leaf: no list to read, and no walker stream to restart for it (that cost
            # ~20 us a key of a hive.walk() asking each key for its subkeys).
            return []
        if check and self._batch_binder is not None:
            # The grouped walker stream, their values included (the natural recursive
            # walk); None: the walker flagged something, decode it checked.
            sc = self._scratch
            if sc is None or sc.owner != get_ident():
                sc = self._batch_scratch()
            batch = sc.subkeys(k)
            if batch is not None:
                return batch
        image = self.image
        try:
            # Strict: the accelerator decodes the whole list (C, or its pure twin; same
            # checks). Forensic: read_subkey_cells skips a bad leaf instead of failing.
            if image.strict:
                cells = _accel.leaf_cells(image.bins_view(), image.hbins_size, f[9])
            else:
                cells = read_subkey_cells(image, f[9])
        except FormatError as exc:
            if image.strict:
                raise
            image.problems.append(exc)
            return []
        path = k.path
        # The ancestors' cells and this key's: a child among them closes a cycle (a
        # recursive walk through subkeys() would never end). A tuple of the depth's
        # length: the membership test costs less than making the child.
        chain = (*k._anc, k._cell)

        def make(c: int) -> Key:
            # A cell the walker chunk of ``k`` has a record of needs no nk decoding.
            return (wk is not None and wk.known(k, c, path, chain)) or Key(self, c, path, chain)

        out: list[Key] = []
        if not image.strict:
            for c in cells:
                if check and c in chain:
                    self._back_edge(k, c)
                    continue
                try:
                    out.append(make(c))
                except FormatError as exc:
                    image.problems.append(exc)
            return out
        if check:
            for c in cells:
                if c in chain:
                    self._back_edge(k, c)  # raises (strict)
        out = [make(c) for c in cells]
        _check_no_duplicates(out, k)
        return out

    def _key_subkey(self, k: Key, name: str) -> Key:
        f = k._f
        if f[7] == 0 or f[9] == HCELL_NIL:
            raise KeyNotFoundError(f"no subkey {name!r} under {k.path!r}")
        want = upcase(name)
        h = name_hash(name)
        chain = (*k._anc, k._cell)
        for cell, stored_hash in read_subkey_cells(self.image, f[9], hashes=True):
            # Windows compares the lh hash before the name (fmt §4.2).
            if stored_hash is not None and stored_hash != h:
                continue
            if cell in chain:
                self._back_edge(k, cell)
                continue
            sub = Key(self, cell, k.path, chain)
            if upcase(sub.name) == want:
                return sub
        raise KeyNotFoundError(f"no subkey {name!r} under {k.path!r}")

    def _key_open(self, k: Key, path: str) -> Key:
        key = k
        for part in path.split("\\"):
            if part:
                key = self._key_subkey(key, part)
        return key

    def _key_parent(self, k: Key) -> Key | None:
        if k.parent_path is None:
            return None
        return self.open_key(k.parent_path)

    def _value_cells(self, k: Key) -> list[int]:
        count = k.value_count
        lst = k._f[12]
        if count == 0 or lst == HCELL_NIL:
            return []
        image = self.image
        start, cap = image.cell(lst, "value list")
        if 4 * count > cap:
            err = StructureError(
                f"value list of {k.path!r}: count {count} exceeds its cell", start - CELL_HEADER
            )
            if image.strict:
                raise err
            image.problems.append(err)
            count = cap // 4
        return list(u32_array(count).unpack_from(image.buf, start))

    def _key_values(self, k: Key) -> list[Value]:
        # (Values prefilled by the walk are handed out by Key.values itself.)
        image = self.image
        if image.strict:
            cell = image.cell
            at = Value.at
            bm = image.bitmap()
            buf = image.buf
            limit = image.hbins_size
            unpack = I32.unpack_from
            res = []
            for c in self._value_cells(k):
                q = c >> 3
                # Inline copy of HiveImage.cell's fast path; cell() explains failures.
                if not c & _BAD_INDEX and c < limit and (bm[q >> 3] >> (q & 7)) & 1:
                    cap = -unpack(buf, BASE + c)[0] - CELL_HEADER
                    if cap >= VK_FIXED_SIZE:
                        res.append(at(image, c, BASE + c + CELL_HEADER, cap))
                        continue
                start, cap = cell(c, "value", VK_FIXED_SIZE)
                res.append(at(image, c, start, cap))
            return res
        out = []
        try:
            cells = self._value_cells(k)
        except FormatError as exc:
            image.problems.append(exc)
            return []
        for c in cells:
            try:
                out.append(Value.load(image, c))
            except FormatError as exc:
                image.problems.append(exc)
        return out

    def _key_value(self, k: Key, name: str) -> Value:
        want = upcase(name)
        for v in self._key_values(k):
            if upcase(v.name) == want:
                return v
        raise ValueNotFoundError(f"no value {name!r} in {k.path!r}")

    def _sk_descriptor(self, sk: int) -> tuple[int, bytes]:
        """(file offset, bytes) of the descriptor in sk cell ``sk``, checked."""
        image = self.image
        start, cap = image.cell(sk, "security", SK_FIXED_SIZE)
        sig, _r, _fl, _bl, _refs, length = SK.unpack_from(image.buf, start)
        if sig != b"sk":
            raise SignatureError(f"security cell: signature {sig!r} is not 'sk'", start)
        if SK_FIXED_SIZE + length > cap:
            raise CellError("security descriptor runs past its cell", start)
        at = start + SK_FIXED_SIZE
        return at, bytes(image.buf[at : at + length])

    def _key_security_raw(self, k: Key) -> bytes:
        return self._sk_descriptor(k._f[13])[1]

    def _key_security(self, k: Key) -> Any:
        from ..format.security import parse_descriptor

        sk = k._f[13]
        sd = self._sd_cache.get(sk)
        if sd is None:
            # Errors are not cached: a bad sk raises for every key that names it.
            at, raw = self._sk_descriptor(sk)
            sd = self._sd_cache[sk] = parse_descriptor(raw, base=at)
        return sd

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the hive (read-only: nothing is written)."""
        if not self._closed:
            self._closed = True
            self._root = None
            self._scratch = None

    def __enter__(self) -> Hive:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "<bytes>"
        return f"<Hive {where} v{self.base_block.major}.{self.base_block.minor}>"


def _check_no_duplicates(keys: list[Key], parent: Key) -> None:
    """Strict mode: sibling names must be unique case-insensitively (fmt §4.1).

    Lists are stored sorted, so duplicates are neighbours; comparing neighbours costs one
    ``str.translate`` per name. (An unsorted list with distant duplicates is caught by
    ``regf check``, which also verifies the order.)
    """
    prev = None
    for k in keys:
        cur = _upcase_py(k.name)
        if cur == prev:
            raise StructureError(
                f"duplicate subkey name {k.name!r} under {parent.path!r}", k.offset
            )
        prev = cur


__all__ = ["BaseBlockInfo", "DirtyHiveWarning", "Hive", "parse_base_block"]
