"""Editable hives: the writer edits the hive's cells in place, as Windows does.

An :class:`EditHive` owns a whole-file image (a ``bytearray``: the 4096-byte base block
followed by the hive bins) and a :class:`~regf.cells.alloc.CellAllocator` over it. Every
edit allocates, writes and frees cells in that image exactly the way Windows'
configuration manager does (ReactOS ``cmlib`` is the readable model), so the image is
at every moment a valid hive whose changed 4 KiB pages the allocator records
(:meth:`~regf.cells.alloc.CellAllocator.take_dirty`) for a log-based flush:

* key nodes: :mod:`regf.cells.nodes`; subkey lists (sorted, ``lh``/``lf``/``li``/``ri``
  by version, 1.5x growth, ``lf`` -> ``li`` conversion, ``ri`` splits):
  :mod:`regf.cells.sublists`; values, value lists and big data:
  :mod:`regf.cells.values`; shared ``sk`` cells, their ring and reference counts:
  :mod:`regf.cells.security`.
* A :class:`~regf.model.keys.Key` of an editable hive is a small handle to an nk cell.
  Handles are shared (one per live
  key, kept in a weak registry, so nothing per key stays in memory beyond the handles
  the caller holds), follow the node when it moves (a rename that needs a bigger cell)
  and stay valid across renames of any ancestor; after the key or an ancestor is
  deleted every operation raises :class:`~regf.errors.KeyNotFoundError`.
* Base-block fields the model owns are kept exact in the image: the root cell (0x24)
  and the hive-bins size (0x28, maintained by the allocator). Sequence numbers and the
  checksum belong to the flush (:mod:`regf.storage`).
* **Volatile keys** (``create_key(..., volatile=True)``) live in a second, memory-only
  cell space (Windows' volatile storage: its own image and allocator, never saved):
  their nodes, lists, values and ``sk`` cells are there, flagged ``KEY_VOLATILE``. The
  volatile children of a stable key are listed in memory, not in its nk. Stable keys
  cannot be created under volatile ones
  (:class:`~regf.model.keyops.ChildMustBeVolatileError`, Windows'
  ``STATUS_CHILD_MUST_BE_VOLATILE``). As in Windows, creating a volatile child still
  updates the stable parent's last written time and maxima.

Saving and opening:

* ``regf.create(path)`` starts from a fresh minimal image (base block, one bin, the root
  nk with flags 0x2C and one self-linked ``sk``); the image is written to ``path`` when
  the hive is closed (or the ``with`` block ends without an exception) and on
  :meth:`EditHive.flush`.
* ``regf.open(path, mode="r+")`` edits the file in place through a
  :class:`~regf.storage.flush.Pager`: it takes the hive's exclusive writer lock (a
  second writer, in this process or another, gets :class:`~regf.errors.LockedError`),
  recovers a dirty hive from its logs and writes the recovered state back, and edits the
  pager's image. :meth:`EditHive.flush` hands the image and the allocator's dirty pages
  to the pager: one HvLE entry in ``.LOG1``/``.LOG2``, then the primary is reconciled
  (``flush(reconcile=False)`` stops after the log: the hive on disk is then dirty and
  every log-aware reader recovers the new content). :meth:`EditHive.close` flushes
  (fully). ``autoflush=N`` flushes from a background thread every N seconds; edits and
  flushes are serialised by the hive's lock, so a flush never sees half an edit. After
  an I/O error in a flush every later operation raises HiveStateError until
  :meth:`EditHive.close`; the files hold the state before or after that flush.
  Leaving a ``with`` block through an exception drops the changes made since the last
  flush (explicit or automatic) and keeps every committed flush, as Windows keeps what
  was flushed when the system dies; so does a hive dropped without :meth:`EditHive.close`
  (its lock is released when it is collected). Volatile keys are never written. Bytes and file
  object sources, and ``open_editable(path, in_place=False)``, give a detached copy in
  memory that never writes to its source (save it with :meth:`EditHive.save_as`).
* :meth:`EditHive.save_as` writes a clean copy without volatile keys: the image as it
  stands with its free cells zeroed, or (``compact=True``, and :meth:`EditHive.to_bytes`)
  a compact one (walk -> :class:`~regf.model.spec.KeySpec` ->
  :func:`~regf.model.serialize.serialize`); it never overwrites the file the hive was
  opened from.

Names compare case-insensitively with Windows' rules (:func:`regf._accel.upcase`); a key
keeps the case it was created with. Timestamps are FILETIMEs (100 ns ticks since 1601):
creating or deleting a key sets its parent's last written time (and a new key's own),
renaming sets the key's and its parent's, setting or deleting a value sets the key's;
each of these calls takes an optional ``timestamp=`` (FILETIME ``int`` or aware
``datetime``) and otherwise uses the current time. Assigning ``class_name`` or
``security_raw`` leaves timestamps alone (use :meth:`Key.touch`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..cells import nodes, sublists
from ..cells import security as cellsec
from ..cells import values as cellvalues
from ..cells.alloc import CREATED, CellAllocator
from ..cells.alloc import CellAllocatorAPI as Alloc
from ..errors import (
    InvalidArgumentError,
    KeyNotFoundError,
    StructureError,
    ValueNotFoundError,
)
from ..format.constants import BASE, HCELL_NIL, MAX_DEPTH, VOLATILE_BIT, KeyFlags
from ..format.fast import BASE_L, CELL_HEADER, NK, SK, VK
from ..format.structs import SK_FIXED_SIZE
from ..storage.flush import Pager
from ..storage.recovery import RecoveryReport
from .autoflush import serialise_edits
from .handles import HandleTable
from .keyops import ChildMustBeVolatileError, Timestamp, check_key_name, split_path
from .keys import Key
from .lifecycle import EditableHiveBase
from .serialize import DEFAULT_SECURITY, now_filetime, serialize
from .spec import KeySpec
from .valueops import FAST_NAME
from .values import Value

#: (volatile?, cell index in that space): how the hive names a node internally.
Node = tuple[bool, int]


def fresh_image(minor: int, root_name: str, file_name: str) -> bytearray:
    """A minimal hive: base block, one bin with the root nk (flags 0x2C) and one
    self-linked sk holding :data:`DEFAULT_SECURITY` (fmt §11)."""
    ts = now_filetime()
    return bytearray(
        serialize(
            KeySpec(root_name, last_written=ts), minor=minor, timestamp=ts, file_name=file_name
        )
    )


class EditHive(EditableHiveBase):
    """An editable hive: a whole-file image edited in place (see the module docstring).

    Made by :func:`create` (a new file, written on close/flush) or by
    ``regf.open(path, mode="r+")`` (an existing hive edited in place through ``pager``,
    flushed by :meth:`flush` and :meth:`close`). ``image`` is a whole-file hive image to
    edit (default: a fresh minimal hive; with a pager, the pager's image); ``allocator``
    the allocator class (default: the live backend's
    :data:`~regf.cells.alloc.CellAllocator`; tests pass either twin).
    """

    def __init__(
        self,
        *,
        minor: int = 5,
        root_name: str = "ROOT",
        target: Path | None = None,
        source: Path | None = None,
        mode: str = "w",
        file_name: str = "",
        image: bytearray | None = None,
        allocator: Callable[[bytearray], Alloc] | None = None,
        pager: Pager | None = None,
    ) -> None:
        #: Serialises edits with flushes (an autoflush thread takes it too).
        self._mutex = threading.RLock()
        #: The pager writing the file in place (``mode="r+"`` on a path), else None.
        self._pager = pager
        if pager is not None:
            # A hive dropped without close() releases its writer lock when collected,
            # without flushing (like a process that dies: committed flushes only).
            weakref.finalize(self, pager.close)
        self._autoflusher = None
        #: What the writer's open recovered from the logs (None: the hive was clean).
        self.recovery: RecoveryReport | None = None
        if isinstance(minor, bool) or not isinstance(minor, int) or not 2 <= minor <= 6:
            raise InvalidArgumentError(f"minor version must be 2..6, not {minor!r}")
        self.minor = minor
        self.mode = mode
        #: Where :meth:`flush` / :meth:`close` write (``regf.create``), else None.
        self.target = target
        #: The file the hive was read from (``mode="r+"``), else None.
        self.path = source if source is not None else target
        self._source = source
        self.file_name = file_name
        self.warnings: list[str] = []
        self._closed = False
        self._modified = False
        if image is None:
            image = fresh_image(minor, check_key_name(root_name), file_name)
        self._image = image
        #: The allocator class for both cell spaces (default: the live backend's).
        self._alloc_cls: Callable[[bytearray], Alloc] = allocator or CellAllocator
        self._alloc: Alloc = self._alloc_cls(image)
        #: The allocator's C key calls (C only; creating needs a >= 1.5 hive, whose lists
        #: are lh), looked up once: one-call open-or-create, lookup, and creation.
        self._open_key_fast: Callable[[int, str, int, bool], int] | None = (
            getattr(self._alloc, "open_key_fast", None) if minor >= 5 else None
        )
        self._find_key_fast: Callable[[int, str], int] | None = getattr(
            self._alloc, "find_key_fast", None
        )
        self._create_key_fast: Callable[[int, str, int], int] | None = (
            getattr(self._alloc, "create_key_fast", None) if minor >= 5 else None
        )
        self._root_cell = BASE_L.field("root_cell").unpack_from(image)
        nodes.check_nk(self._alloc, self._root_cell)
        #: Volatile storage: created with the first volatile key.
        self._valloc: Alloc | None = None
        self._vanchor = HCELL_NIL  # the volatile space's permanent sk (ring anchor)
        self._sk_cache = cellsec.SkCache()
        self._vsk_cache = cellsec.SkCache()
        #: stable parent nk -> (volatile list cell, count) of its volatile children.
        self._vol_lists: dict[int, tuple[int, int]] = {}
        #: live handles: node key -> Key (weak: no per-key object outlives its user).
        self._handles = HandleTable()

    # -- cell spaces and nodes -------------------------------------------------------------

    def _space(self, vol: bool) -> Alloc:
        if not vol:
            return self._alloc
        if self._valloc is None:
            self._open_volatile()
        assert self._valloc is not None
        return self._valloc

    def _open_volatile(self) -> None:
        """Create the volatile cell space: an image of its own (a copy of the base block
        with no bins) and an allocator, plus an anchor sk that keeps a reference forever
        so the volatile sk ring always has a member."""
        vimage = bytearray(self._image[:BASE])
        BASE_L.field("hbins_size").pack_into(vimage, 0, 0)
        BASE_L.field("minor").pack_into(vimage, 0, self.minor)
        valloc = self._alloc_cls(vimage)
        sk = valloc.alloc(SK_FIXED_SIZE + len(DEFAULT_SECURITY))
        valloc.write(sk, 0, SK.pack(b"sk", 0, sk, sk, 1, len(DEFAULT_SECURITY)) + DEFAULT_SECURITY)
        self._valloc = valloc
        self._vanchor = sk

    def _handle(self, node: Node, depth: int = -1) -> Key:
        """The live handle of ``node``, made when there is none (with ``depth``, its
        levels below the root, when the caller knows it)."""
        vol, cell = node
        k = cell | VOLATILE_BIT if vol else cell
        h: Key | None = self._handles.get(k)
        if h is None:
            h = Key._handle(self, vol, cell, depth)
            self._handles.put(k, h)
        return h

    def _parent_of(self, node: Node) -> Node | None:
        vol, cell = node
        if not vol:
            if cell == self._root_cell:
                return None
            p = nodes.u32(self._image, cell, nodes.NK_PARENT)
            # A loaded hive's parent fields are untrusted (fmt §4.1): check before use.
            sublists.check_entry(self._image, p)
            return (False, p)
        p = nodes.u32(self._space(True).image, cell, nodes.NK_PARENT)
        return (bool(p & VOLATILE_BIT), p & ~VOLATILE_BIT)

    def _ancestry(self, node: Node) -> list[Node]:
        """``node`` and its ancestors up to the root (StructureError on a parent-field
        cycle or a chain deeper than the format allows)."""
        chain = [node]
        p = self._parent_of(node)
        while p is not None:
            chain.append(p)
            if len(chain) > MAX_DEPTH + 1:
                raise StructureError(
                    f"parent fields from key {node[1]:#x} do not reach the root", None
                )
            p = self._parent_of(p)
        return chain

    def _path(self, node: Node) -> str:
        chain = self._ancestry(node)[:-1]
        return "\\".join(nodes.name_of(self._space(v).image, c) for v, c in reversed(chain))

    def _depth(self, node: Node) -> int:
        return len(self._ancestry(node)) - 1

    def _lists(self, node: Node) -> tuple[tuple[bool, int, int], tuple[bool, int, int]]:
        """((False, stable list, count), (True, volatile list, count)) of a node."""
        vol, cell = node
        if vol:
            c, vc, lst, vlst = nodes.counts(self._space(True).image, cell)
            return (False, HCELL_NIL, 0), (True, vlst if vc else HCELL_NIL, vc)
        c, _vc, lst, _vlst = nodes.counts(self._image, cell)
        vlst, vc = self._vol_lists.get(cell, (HCELL_NIL, 0))
        return (False, lst if c else HCELL_NIL, c), (True, vlst, vc)

    def _set_list(self, node: Node, child_vol: bool, lst: int, count: int) -> None:
        vol, cell = node
        if not child_vol:
            nodes.set_list(self._alloc, cell, False, count, lst)
        elif vol:
            nodes.set_list(self._space(True), cell, True, count, lst)
        elif count:
            self._vol_lists[cell] = (lst, count)
        else:
            self._vol_lists.pop(cell, None)

    def _children(self, node: Node) -> list[Node]:
        out: list[Node] = []
        for vol, lst, count in self._lists(node):
            if count and lst != HCELL_NIL:
                a = self._space(vol)
                out.extend((vol, c) for c in sublists.cells(a.image, lst, a.hbins_size))
        return out

    def _has_children(self, node: Node) -> bool:
        (_s, _l, c), (_v, _vl, vc) = self._lists(node)
        return bool(c or vc)

    def _open_or_create_fast(self, key: Key, name: str, timestamp: int | None) -> Key | None:
        """create_key's C path for one name (no backslash) under ``key`` with a checked
        FILETIME (None: now): the handle of the child found or created, or None when C
        has no such call or declined (see :meth:`_c_parent`; a < 1.5 hive, a leaf to
        convert or split, a bad cell...), and nothing changed: the caller then runs
        :meth:`_find_child` / :meth:`_create_child`, whose twin this is."""
        fast = self._open_key_fast
        cell = key._cell
        if fast is None or not self._c_parent(key._vol, cell, name):
            return None
        dep = self._key_depth(key)
        ft = now_filetime() if timestamp is None else timestamp
        nk = fast(cell, name, ft, dep + 1 < MAX_DEPTH)
        if nk < 0:
            return None
        if nk >= CREATED:
            nk -= CREATED
            self._modified = True
        return self._handle((False, nk), dep + 1)

    def _c_parent(self, vol: bool, cell: int, name: str) -> bool:
        """Whether the C allocator's key calls may look up or create ``name`` under this
        parent: a stable one without volatile children (C sees one list), and a name of
        at most 255 characters (REGF_SV_MAX_UNITS; C itself declines one that encodes
        to more units)."""
        return not vol and len(name) <= FAST_NAME and cell not in self._vol_lists

    def _find_child(self, node: Node, name: str) -> Node | None:
        if self._c_parent(node[0], node[1], name):
            # The C allocator's lookup when it has one (this method's Python below is
            # the specification).
            fast = self._find_key_fast
            if fast is not None:
                c = fast(node[1], name)
                if c != -2:
                    return None if c < 0 else (False, c)
        key = sublists.name_key(name)
        for vol, lst, count in self._lists(node):
            if count and lst != HCELL_NIL:
                a = self._space(vol)
                c = sublists.find(a.image, lst, key, a.hbins_size)
                if c >= 0:
                    return (vol, c)
        return None

    # -- editing primitives ------------------------------------------------------------------

    def _create_child(
        self,
        parent: Node,
        name: str,
        *,
        volatile: bool,
        class_raw: bytes,
        security: bytes | None,
        timestamp: int,
    ) -> Node:
        """Create key ``name`` under ``parent`` (which has no such child)."""
        pvol, pcell = parent
        if pvol and not volatile:
            raise ChildMustBeVolatileError(
                f"cannot create stable key {name!r} under volatile key {self._path(parent)!r}"
            )
        if (
            not volatile
            and not class_raw
            and security is None
            and self._c_parent(pvol, pcell, name)
        ):
            # The common case in C (csrc/alloc.c regf_alloc_open_key, this method's
            # twin: new_nk, an lh leaf grown 1.5x, alone or under an ri, touch_parent); it
            # declines before any change for anything else (a leaf to convert or split,
            # lf / li lists, a bad cell) and this runs.
            fast = self._create_key_fast
            if fast is not None:
                nk = fast(pcell, name, timestamp)
                if nk >= 0:
                    self._modified = True
                    return (False, nk)
        palloc = self._space(pvol)
        a = self._space(volatile)
        cache = self._vsk_cache if volatile else self._sk_cache
        sk = HCELL_NIL
        desc = security
        if desc is None:
            if volatile == pvol:
                sk = nodes.u32(palloc.image, pcell, nodes.NK_SECURITY)
            else:  # a volatile child of a stable key: a volatile copy of its descriptor
                desc = cellsec.key_security(palloc, pcell)
        if sk != HCELL_NIL:
            cellsec.sk_addref(a, sk)
        parent_field = (pcell | VOLATILE_BIT if pvol else pcell) if volatile else pcell
        nk = nodes.new_nk(
            a,
            name,
            parent=parent_field,
            security=sk,
            flags=int(KeyFlags.VOLATILE) if volatile else 0,
            timestamp=timestamp,
            class_raw=class_raw,
        )
        if desc is not None:
            anchor = self._vanchor if volatile else self._root_sk()
            cellsec.set_key_security(a, nk, desc, anchor=anchor, cache=cache)
        stable_l, vol_l = self._lists(parent)
        _v, lst, count = vol_l if volatile else stable_l
        lst = sublists.insert(a, lst, count, name, nk, self.minor)
        if volatile:
            self._set_list(parent, volatile, lst, count + 1)
        # The parent: count and list, last written time and maxima in one write
        # (fmt §5.2, §8.1: CmpDoCreate).
        nodes.touch_parent(
            palloc,
            pcell,
            timestamp=timestamp,
            stable_list=None if volatile else (count + 1, lst),
            name_bytes=nodes.utf16_len(name),
            class_bytes=len(class_raw),
        )
        self._modified = True
        return (volatile, nk)

    def _root_sk(self) -> int:
        return nodes.u32(self._image, self._root_cell, nodes.NK_SECURITY)

    def _set_security(self, node: Node, desc: bytes) -> None:
        vol, cell = node
        a = self._space(vol)
        anchor = self._vanchor if vol else self._root_sk()
        cellsec.set_key_security(
            a, cell, desc, anchor=anchor, cache=self._vsk_cache if vol else self._sk_cache
        )
        self._modified = True

    def _delete(self, node: Node, timestamp: int) -> None:
        """Unlink ``node`` from its parent and free its whole subtree."""
        parent = self._parent_of(node)
        assert parent is not None
        vol, cell = node
        a = self._space(vol)
        name = nodes.name_of(a.image, cell)
        stable_l, vol_l = self._lists(parent)
        _v, lst, count = vol_l if vol else stable_l
        lst = sublists.remove(a, lst, name, cell)
        self._set_list(parent, vol, lst, count - 1)
        self._free_subtree(node)
        palloc = self._space(parent[0])
        nodes.set_time(palloc, parent[1], timestamp)
        if not self._has_children(parent):
            # The last subkey went away: MaxNameLen/MaxClassLen back to 0 (fmt §5.2).
            nodes.reset_maxima(palloc, parent[1])
        self._modified = True

    def _free_subtree(self, top: Node) -> None:
        """Free every cell of ``top`` and its descendants (children first)."""
        stack: list[tuple[Node, bool]] = [(top, False)]
        while stack:
            node, expanded = stack.pop()
            if not expanded:
                stack.append((node, True))
                stack.extend((c, False) for c in self._children(node))
                continue
            self._free_node(node)

    def _free_node(self, node: Node) -> None:
        """Free one node whose children are already gone: values, lists, sk, class, nk."""
        vol, cell = node
        a = self._space(vol)
        cellvalues.free_values(a, cell)
        c, vc, lst, vlst = nodes.counts(a.image, cell)
        if not vol and c:
            sublists.free_list(a, lst)
        if vol and vc:
            sublists.free_list(a, vlst)
        if not vol and cell in self._vol_lists:
            vl, _n = self._vol_lists.pop(cell)
            sublists.free_list(self._space(True), vl)
        sk = nodes.u32(a.image, cell, nodes.NK_SECURITY)
        cellsec.sk_release(a, sk, cache=self._vsk_cache if vol else self._sk_cache)
        nodes.free_nk(a, cell)
        h = self._handles.pop(cell | VOLATILE_BIT if vol else cell)
        if h is not None:
            h._cell = -1

    def _rename(self, node: Node, parent: Node, new_name: str, timestamp: int) -> None:
        vol, cell = node
        a = self._space(vol)
        old_name = nodes.name_of(a.image, cell)
        stable_l, vol_l = self._lists(parent)
        _v, lst, count = vol_l if vol else stable_l
        # Out of the parent's list under the old name, rename (the node may move), back in
        # under the new name at its sorted position.
        lst = sublists.remove(a, lst, old_name, cell)
        new = nodes.rename_nk(a, cell, new_name)
        lst = sublists.insert(a, lst, count - 1, new_name, new, self.minor)
        self._set_list(parent, vol, lst, count)
        if new != cell:
            self._moved(node, new)
        nodes.set_time(a, new, timestamp)
        palloc = self._space(parent[0])
        nodes.set_time(palloc, parent[1], timestamp)
        nodes.raise_maxima(palloc, parent[1], nodes.utf16_len(new_name), 0)
        self._modified = True

    def _moved(self, node: Node, new: int) -> None:
        """The nk of ``node`` moved to cell ``new``: repoint children and the handle."""
        vol, old = node
        field = new | VOLATILE_BIT if vol else new
        if not vol and old in self._vol_lists:  # first: _children() looks it up by cell
            self._vol_lists[new] = self._vol_lists.pop(old)
        for cvol, child in self._children((vol, new)):
            nodes.set_u32(self._space(cvol), child, nodes.NK_PARENT, field)
        k_old = old | VOLATILE_BIT if vol else old
        h = self._handles.pop(k_old)
        if h is not None:
            h._cell = new
            self._handles.put(new | VOLATILE_BIT if vol else new, h)

    # -- keys (the editable side of regf.model.keys.Key) -------------------------------

    def _live(self, k: Key) -> EditHive:
        """This hive, once it is open and ``k`` alive (else HiveStateError /
        KeyNotFoundError)."""
        if self._closed or self._pager is not None:  # else _check_open has nothing to do
            self._check_open()
        if k._cell < 0:
            raise KeyNotFoundError("key has been deleted")
        return self

    def _key_attr(self, k: Key, attr: str) -> Any:
        """A handle's name, nk head and path: read live on every access (never cached,
        so renames and moves show at once)."""
        self._live(k)
        vol, cell = k._vol, k._cell
        if attr == "_f":
            return NK.unpack_from(self._space(vol).image, BASE + cell + CELL_HEADER)
        if attr == "name":
            return nodes.name_of(self._space(vol).image, cell)
        if attr == "_path":
            return self._path((vol, cell))
        if attr == "parent_path":
            p = self._parent_of((vol, cell))
            return None if p is None else self._path(p)
        raise AttributeError(f"{type(k).__name__!r} object has no attribute {attr!r}")

    def _key_index(self, k: Key) -> int | None:
        self._live(k)
        return None if k._vol else k._cell

    def _key_depth(self, k: Key) -> int:
        """Levels below the root (cached: a key's depth never changes -- a rename keeps
        its parent, a move to a bigger cell keeps the handle, a delete kills it)."""
        if k._dep < 0:
            self._live(k)
            k._dep = self._depth((k._vol, k._cell))
        return int(k._dep)

    def _key_volatile_count(self, k: Key) -> int:
        self._live(k)
        return self._lists((k._vol, k._cell))[1][2]

    def _key_class(self, k: Key) -> str | None:
        self._live(k)
        return nodes.class_of(self._space(k._vol).image, k._cell)

    def _ancestor_cells(self, node: Node) -> set[Node]:
        return set(self._ancestry(node))

    def _cycle_error(self, k: Key, child: Node) -> StructureError:
        return StructureError(
            f"subkey list of {k.path!r} points back at its ancestor key {child[1]:#x} (cycle)",
            None if child[0] else BASE + child[1],
        )

    def _key_subkeys(self, k: Key, check: bool = True) -> list[Key]:
        self._live(k)
        node = (k._vol, k._cell)
        children = self._children(node)
        if check and children:
            anc = self._ancestor_cells(node)
            for c in children:
                if c in anc:
                    raise self._cycle_error(k, c)
        return [self._handle(n) for n in children]

    def _key_subkey(self, k: Key, name: str) -> Key:
        self._live(k)
        if not isinstance(name, str):
            raise InvalidArgumentError("key name must be str")
        node = (k._vol, k._cell)
        n = self._find_child(node, name) if name else None
        if n is None:
            raise KeyNotFoundError(f"no subkey {name!r} under {k.path!r}")
        if n in self._ancestor_cells(node):
            raise self._cycle_error(k, n)
        return self._handle(n)

    def _key_open(self, k: Key, path: str) -> Key:
        self._live(k)
        node: Node = (k._vol, k._cell)
        parts = split_path(path)
        anc = self._ancestor_cells(node) if parts else set()
        for part in parts:
            found = self._find_child(node, part)
            if found is None:
                raise KeyNotFoundError(f"no subkey {part!r} under {self._path(node)!r}")
            if found in anc:
                raise self._cycle_error(self._handle(node), found)
            anc.add(found)
            node = found
        return self._handle(node)

    def _key_parent(self, k: Key) -> Key | None:
        self._live(k)
        p = self._parent_of((k._vol, k._cell))
        return None if p is None else self._handle(p)

    def _key_values(self, k: Key) -> list[Value]:
        self._live(k)
        a = self._space(k._vol)
        buf = a.image
        return [
            Value.snapshot(
                r.name, r.type, r.raw, r.cell, VK.unpack_from(buf, BASE + r.cell + CELL_HEADER)
            )
            for r in cellvalues.iter_values(a, k._cell, self.minor)
        ]

    def _key_value(self, k: Key, name: str) -> Value:
        self._live(k)
        if not isinstance(name, str):
            raise InvalidArgumentError("value name must be str")
        a = self._space(k._vol)
        vk = cellvalues.find_value(a, k._cell, name)
        if vk is None:
            raise ValueNotFoundError(f"no value {name!r} in {k.path!r}")
        r = cellvalues.read_value(a, vk, self.minor)
        return Value.snapshot(
            r.name, r.type, r.raw, vk, VK.unpack_from(a.image, BASE + vk + CELL_HEADER)
        )

    def _key_security_raw(self, k: Key) -> bytes:
        self._live(k)
        return cellsec.key_security(self._space(k._vol), k._cell)

    def _key_security(self, k: Key) -> Any:
        from ..format.security import parse_descriptor

        return parse_descriptor(self._key_security_raw(k))

    # -- reading (mirrors the reader's Hive) --------------------------------------------

    @property
    def root(self) -> Key:
        """The root key."""
        self._check_open()
        return self._handle((False, self._root_cell))

    def open_key(self, path: str) -> Key:
        """The key at ``path`` (backslash-separated, case-insensitive, Windows rules)."""
        return self.root.open_key(path)

    def walk(self, key: Key | str | None = None, *, values: bool = True) -> Iterator[Key]:
        """Every key below (and including) ``key`` depth-first: stable subkeys in sorted
        order, then volatile ones. A key reached twice (a cycle in a loaded hive's
        lists) raises StructureError. ``values`` is accepted for the read-only hive's
        signature; an editable hive never reads values ahead."""
        start = self.root if key is None else self.open_key(key) if isinstance(key, str) else key
        seen: set[Node] = set()
        stack = [start]
        while stack:
            k = stack.pop()
            node = (k._vol, k._cell)
            if node in seen:
                raise StructureError(f"key {k.path!r} reached twice (cycle)", k.offset)
            seen.add(node)
            yield k
            stack.extend(reversed(self._key_subkeys(k, False)))

    # -- editing ------------------------------------------------------------------------

    def create_key(
        self,
        path: str,
        class_name: str | None = None,
        *,
        timestamp: Timestamp = None,
        volatile: bool = False,
        security: bytes | None = None,
    ) -> Key:
        """Open or create the key at ``path``, creating missing parents (see
        :meth:`Key.create_key`)."""
        return self.root.create_key(
            path, class_name, timestamp=timestamp, volatile=volatile, security=security
        )

    def delete_key(
        self, path: str, *, recursive: bool = False, timestamp: Timestamp = None
    ) -> None:
        """Delete the key at ``path`` and free every cell it owned.

        A key with subkeys needs ``recursive=True`` (else InvalidArgumentError); the root
        cannot be deleted. The parent's last written time becomes ``timestamp``
        (default now). Handles to deleted keys raise KeyNotFoundError afterwards.
        """
        if not split_path(path):
            raise InvalidArgumentError("the root key cannot be deleted")
        self.root.delete_key(path, recursive=recursive, timestamp=timestamp)

    def rename_key(self, path: str, new_name: str, *, timestamp: Timestamp = None) -> Key:
        """Rename the key at ``path`` to ``new_name`` (a name, not a path); returns it."""
        key = self.open_key(path)
        key.rename(new_name, timestamp=timestamp)
        return key


serialise_edits(Key, EditHive)


__all__ = ["EditHive", "Node", "fresh_image"]
