"""Keys (nk records): one class for read-only and editable hives.

A :class:`Key` is a light object (``__slots__``) naming one nk cell of a hive. What
differs between a read-only hive and an editable one is where the cells are and whether
they may change, so a key asks its hive for anything structural (``hive._key_*``
methods: :class:`~regf.model.hive.Hive` decodes the untrusted file with every check,
:class:`~regf.model.edithive.EditHive` reads its live image) and hands every change to
:mod:`regf.model.keyops` / :mod:`regf.model.valueops`, which raise
:class:`~regf.errors.ReadOnlyError` on a read-only hive.

Keys of a read-only hive are snapshots: the name, the unpacked nk head (``_f``) and the
path are filled once (eagerly when cheap, else on first use), and a tree walk fills them
from the C walker's records. Keys of an editable hive are handles: one per live key,
they follow the node when it moves and read the name, the head and the path from the
image on every access (their private slots stay unset, and the properties ask the
hive), so a rename anywhere above them shows at once.

No ``__getattr__``: with one, CPython cannot specialise attribute reads, and every
``key.subkeys`` / ``self._subs`` of a walk would take the slow generic lookup (8 % of a
natural walk's instructions). The fields that differ by kind are properties over
private slots instead (``_nm`` name, ``_pp`` parent path, ``_pc`` path, ``_fc`` nk head,
``_ac`` ancestors).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ..cells.nodes import decode_key_name as decode_name
from ..errors import CellError, KeyNotFoundError, RegfError, SignatureError
from ..format.constants import BASE, KeyFlags
from ..format.fast import CELL_HEADER, NK_L
from . import keyops, valueops
from .keyops import DROP_FLAGS, Timestamp
from .spec import KeySpec
from .values import Value, ValueRecords

_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
# Plain ints and the bare struct: an IntFlag operation or a property read per key costs
# more than the rest of making the key.
_COMP_NAME = int(KeyFlags.COMP_NAME)
_PREDEF_HANDLE = int(KeyFlags.PREDEF_HANDLE)
_NK = NK_L.struct
_NK_SIZE = NK_L.size


# Memoised: the keys of a hive share few distinct times (43,211 keys of a Windows 10
# SYSTEM hive have 2,758), and a hit (~70 ns) is a sixth of building the datetime. The
# results are immutable, so sharing them is safe; the cache holds at most 8,192.
@functools.lru_cache(maxsize=8192)
def filetime(ft: int) -> datetime:
    """FILETIME (100 ns since 1601) as an aware UTC datetime; clamps absurd values."""
    try:
        # Positional (days, seconds, microseconds): a third cheaper than the keyword
        # form, and this is every key's last_written in a walk.
        return _EPOCH + timedelta(0, 0, ft // 10)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def resolve_links(k: Key) -> tuple[str | None, tuple[int, ...]]:
    """Fill ``_pp`` (the parent's path) and ``_ac`` (the ancestors' cells) of ``k`` and
    of each ancestor still linked to its parent Key, top down and without recursion (a
    chain may be as deep as MAX_DEPTH). A subkey stream links each key to its parent
    instead of building both per group: a natural walk asks for neither. Returns
    ``k``'s parent path and ancestors."""
    chain: list[Key] = []
    while isinstance(k._pp, Key):
        chain.append(k)
        k = k._pp
    for c in reversed(chain):
        p = c._pp
        assert isinstance(p, Key)
        # p is resolved by now (it is the unlinked top or was filled just before).
        c._ac = (*p._anc, p._cell)
        c._pp = p.path
    top = chain[0] if chain else k
    assert top._ac is not None and not isinstance(top._pp, Key)
    return top._pp, top._ac


class KeyStore(Protocol):
    """What a key asks its hive (:class:`~regf.model.hive.Hive` or
    :class:`~regf.model.edithive.EditHive`): the ``_key_*`` side of each operation."""

    writable: bool

    @property
    def image(self) -> Any: ...
    def _key_attr(self, k: Key, attr: str) -> Any: ...
    def _key_index(self, k: Key) -> int | None: ...
    def _key_volatile_count(self, k: Key) -> int: ...
    def _key_class(self, k: Key) -> str | None: ...
    def _key_subkeys(self, k: Key, check: bool = True) -> list[Key]: ...
    def _key_subkey(self, k: Key, name: str) -> Key: ...
    def _key_open(self, k: Key, path: str) -> Key: ...
    def _key_parent(self, k: Key) -> Key | None: ...
    def _key_values(self, k: Key) -> list[Value]: ...
    def _key_value(self, k: Key, name: str) -> Value: ...
    def _key_security_raw(self, k: Key) -> bytes: ...
    def _key_security(self, k: Key) -> Any: ...


class Key:
    """One key of an open hive (read-only snapshot or editable handle; see the module).

    Slots: ``_hive``; ``_cell`` (nk cell index in its cell space, -1 once deleted);
    ``_vol`` (a volatile key of an editable hive); ``_vals`` (value records prefilled by
    the walk or by ``subkeys()``: a chunk's records and this key's slice; ``()``: none)
    and ``_subs`` (likewise the subkeys);
    read-only keys also fill ``_nm``, ``_pp``, ``_pc``, ``_fc`` and ``_ac`` (behind
    ``name``, ``parent_path``, ``path``, ``_f`` and ``_anc``; ``_pc`` and ``_fc`` are
    None until first asked, and stay None on editable keys), editable ones ``_dep``
    (depth below the root, -1 until known).
    """

    __slots__ = (
        "__weakref__",
        "_ac",
        "_cell",
        "_dep",
        "_fc",
        "_hive",
        "_nm",
        "_pc",
        "_pp",
        "_subs",
        "_vals",
        "_vol",
        "_wk",
    )

    _nm: str
    #: The parent's path, or (a key a subkey stream made) the parent Key itself, with
    #: ``_ac`` None until :func:`resolve_links` fills both.
    _pp: str | Key | None
    _pc: str | None
    _fc: tuple[Any, ...] | None
    _ac: tuple[int, ...] | None
    _vals: tuple[ValueRecords, int, int] | tuple[()] | None
    _subs: list[Key] | tuple[()] | None
    _dep: int
    _hive: KeyStore
    #: The walker records of the chunk ``hive.walk()`` made this key from (unset on
    #: other keys): they answer its ``subkeys()`` (regf.model.walk.WalkedKeys).
    _wk: Any

    def __init__(
        self,
        hive: KeyStore,
        index: int,
        parent_path: str | None,
        anc: tuple[int, ...] | None = None,
    ) -> None:
        """The key at nk ``index`` of the read-only ``hive`` (checked: cell, signature,
        name inside the cell). ``anc``: the ancestors' cells, root first (None: looked
        up from ``parent_path`` when first needed)."""
        self._hive = hive
        self._cell = index
        self._vol = False
        if anc is not None:
            self._ac = anc
        self._pp = parent_path
        self._vals = None
        self._subs = None
        # The checks of HiveImage.cell and of the nk itself, inline: this runs once per
        # key of every natural walk.
        image = hive.image
        start, cap = image.cell(index, "key", _NK_SIZE)
        f = _NK.unpack_from(image.buf, start)
        if f[0] != b"nk":
            raise SignatureError(f"key cell {index:#x}: signature {f[0]!r} is not 'nk'", start)
        name_len = f[22]
        if _NK_SIZE + name_len > cap:
            raise CellError(f"key cell {index:#x}: name runs past the cell", start)
        raw = bytes(image.buf[start + _NK_SIZE : start + _NK_SIZE + name_len])
        self._fc = f
        self._pc = None
        self._nm = decode_name(raw, bool(f[1] & _COMP_NAME))

    @classmethod
    def _handle(cls, hive: KeyStore, vol: bool, cell: int, depth: int) -> Key:
        """A handle of an editable hive (name, head and path stay unset: read live)."""
        k = cls.__new__(cls)
        k._hive = hive
        k._vol = vol
        k._cell = cell
        k._dep = depth
        k._subs = None  # never prefilled
        k._vals = None
        k._pc = k._fc = None  # read live
        return k

    # -- identity (read-only: private slots; editable: read live from the hive) --------

    @property
    def name(self) -> str:
        """The key's name as stored."""
        try:
            return self._nm
        except AttributeError:
            return str(self._hive._key_attr(self, "name"))

    @property
    def parent_path(self) -> str | None:
        """The parent's path (None for the root)."""
        try:
            pp = self._pp
        except AttributeError:
            live: str | None = self._hive._key_attr(self, "parent_path")
            return live
        if isinstance(pp, Key):
            return resolve_links(self)[0]
        return pp

    # path and _f are asked of most keys: their slots start as None, not unset, so the
    # first read costs a test, not a caught AttributeError (~1.5 us each).

    @property
    def path(self) -> str:
        """Backslash-separated path from the root (the root itself is "")."""
        p = self._pc
        if p is None:
            hive = self._hive
            if hive.writable:
                return str(hive._key_attr(self, "_path"))
            pp = self._pp
            if isinstance(pp, Key):
                pp = resolve_links(self)[0]
            p = self._pc = "" if pp is None else self._nm if pp == "" else pp + "\\" + self._nm
        return p

    @property
    def _f(self) -> tuple[Any, ...]:
        """The unpacked nk head (read-only: cached; editable: read live)."""
        f = self._fc
        if f is None:
            hive = self._hive
            if hive.writable:
                live: tuple[Any, ...] = hive._key_attr(self, "_f")
                return live
            # The walker checked this nk (cell, signature, name inside the cell).
            f = self._fc = _NK.unpack_from(hive.image.buf, BASE + self._cell + CELL_HEADER)
        return f

    @property
    def _anc(self) -> tuple[int, ...]:
        """The ancestors' cells, root first (a read-only key made without them looks
        them up once)."""
        try:
            anc = self._ac
        except AttributeError:
            looked_up: tuple[int, ...] = self._hive._key_attr(self, "_anc")
            return looked_up
        if anc is None:
            return resolve_links(self)[1]
        return anc

    @property
    def index(self) -> int | None:
        """Cell index of the nk (None for a volatile key: it is not in the file)."""
        return self._hive._key_index(self)

    @property
    def offset(self) -> int | None:
        """File offset of the nk cell (None for a volatile key)."""
        i = self._hive._key_index(self)
        return None if i is None else BASE + i

    @property
    def deleted(self) -> bool:
        """True once the key or an ancestor was deleted (editable hives)."""
        return self._cell < 0

    @property
    def volatile(self) -> bool:
        """True for a volatile (memory-only) key of an editable hive."""
        return self._vol

    @property
    def writable(self) -> bool:
        """True when the key's hive is open for editing."""
        return bool(self._hive.writable)

    # -- nk fields ---------------------------------------------------------------------

    @property
    def flags(self) -> KeyFlags:
        """nk flags as stored (``KEY_COMP_NAME``, the root's and volatile bits included)."""
        return KeyFlags(self._f[1])

    @property
    def extra_flags(self) -> int:
        """The nk flags the model does not compute (``KEY_SYM_LINK``, ``KEY_NO_DELETE``,
        virtualization bits, ...). Assignable on an editable hive."""
        return int(self._f[1]) & ~DROP_FLAGS

    @extra_flags.setter
    def extra_flags(self, value: int) -> None:
        keyops.set_extra_flags(self, value)

    @property
    def last_written_raw(self) -> int:
        """Last written FILETIME as stored. Assignable (like :meth:`touch`)."""
        return int(self._f[2])

    @last_written_raw.setter
    def last_written_raw(self, value: int) -> None:
        keyops.touch(self, value)

    @property
    def last_written(self) -> datetime:
        """Last written time (UTC)."""
        return filetime(self._f[2])

    @property
    def user_flags(self) -> int:
        """Wow64 user flags: the low nibble of nk byte +0x36 (fmt §5.1). Assignable."""
        return int(self._f[16] & 0xF)

    @user_flags.setter
    def user_flags(self, value: int) -> None:
        keyops.set_nibble(self, 0, value)

    @property
    def virt_flags(self) -> int:
        """Virtualization control flags: the high nibble of nk byte +0x36. Assignable."""
        return int(self._f[16] >> 4)

    @virt_flags.setter
    def virt_flags(self, value: int) -> None:
        keyops.set_nibble(self, 1, value)

    @property
    def virt_control_flags(self) -> int:
        """Virtualization control flags (same as ``virt_flags``)."""
        return int(self._f[16] >> 4)

    @property
    def debug(self) -> int:
        """The debug byte (nk +0x37). Assignable."""
        return int(self._f[17])

    @debug.setter
    def debug(self, value: int) -> None:
        keyops.set_nibble(self, 2, value)

    access_bits = property(lambda self: int(self._f[3]), doc="Win8+ access history bits.")
    layered_bits = property(lambda self: int(self._f[4]), doc="RS1+ layered-key bits.")
    parent_index = property(lambda self: int(self._f[6]), doc="Cell index of the parent nk.")
    max_name_len = property(
        lambda self: int(self._f[15]), doc="Largest subkey name, UTF-16 bytes (high-water)."
    )
    max_class_len = property(
        lambda self: int(self._f[18]), doc="Largest subkey class, bytes (high-water)."
    )
    max_value_name_len = property(
        lambda self: int(self._f[19]), doc="Largest value name, bytes (high-water)."
    )
    max_value_data_len = property(
        lambda self: int(self._f[20]), doc="Largest value data, bytes (high-water)."
    )
    work_var = property(lambda self: int(self._f[21]), doc="Opaque run-time cache field.")

    @property
    def security_index(self) -> int | None:
        """Cell index of the key's sk (None for a volatile key)."""
        f = self._f
        return None if self._vol else int(f[13])

    @property
    def subkey_count(self) -> int:
        """Number of stable subkeys (the nk's count; 0 for a volatile key)."""
        f = self._f
        return 0 if self._vol else int(f[7])

    @property
    def volatile_subkey_count(self) -> int:
        """Volatile subkeys (an editable hive's, in memory; as stored, stale, on disk)."""
        return int(self._hive._key_volatile_count(self))

    @property
    def value_count(self) -> int:
        """Number of values (0 for predefined-handle keys, whose field holds a handle)."""
        f = self._f
        return 0 if f[1] & _PREDEF_HANDLE else int(f[11])

    @property
    def class_name(self) -> str | None:
        """The key's class string, or None. Assignable (raises the parent's MaxClassLen)."""
        return self._hive._key_class(self)

    @class_name.setter
    def class_name(self, value: str | None) -> None:
        keyops.set_class(self, value)

    def touch(self, timestamp: Timestamp = None) -> None:
        """Set the last written time to ``timestamp`` (default now)."""
        keyops.touch(self, timestamp)

    # -- children ----------------------------------------------------------------------

    def subkeys(self) -> list[Key]:
        """Subkeys in stored (Windows-sorted) order; an editable hive's volatile subkeys
        follow (sorted), as Windows enumerates them. A list entry pointing back at an
        ancestor raises StructureError (forensic mode: skipped and recorded)."""
        subs = self._subs
        if subs is not None:
            # Prefilled (an empty list: the batch that made this key saw it has no
            # subkeys): handed out once, like values().
            self._subs = None
            return subs or []  # () marks a key known to have none
        return self._hive._key_subkeys(self)

    def iter_subkeys(self) -> Iterator[Key]:
        """Iterate subkeys (same as :meth:`subkeys`)."""
        return iter(self.subkeys())

    def subkey(self, name: str) -> Key:
        """The subkey called ``name`` (case-insensitive, Windows rules)."""
        return self._hive._key_subkey(self, name)

    def open_key(self, path: str) -> Key:
        """A descendant by backslash-separated relative path ("" is this key)."""
        return self._hive._key_open(self, path)

    @property
    def parent(self) -> Key | None:
        """The parent key, or None for the root."""
        return self._hive._key_parent(self)

    def create_key(
        self,
        path: str,
        class_name: str | None = None,
        *,
        timestamp: Timestamp = None,
        volatile: bool = False,
        security: bytes | None = None,
    ) -> Key:
        """Open or create the key at relative ``path``, creating missing parents.

        Existing keys are returned unchanged (``class_name``, ``volatile`` and
        ``security`` only apply to keys this call creates). A new key shares its parent's
        sk (reference count + 1) unless ``security`` (a self-relative descriptor) is
        given; its last written time and its parent's become ``timestamp`` (default
        now). ``volatile=True`` creates memory-only keys; a stable key under a volatile
        one raises :class:`~regf.model.keyops.ChildMustBeVolatileError`.
        """
        key: Key = keyops.create_key(self, path, class_name, timestamp, volatile, security)
        return key

    def delete_key(
        self, path: str, *, recursive: bool = False, timestamp: Timestamp = None
    ) -> None:
        """Delete the descendant at relative ``path`` (see ``EditHive.delete_key``)."""
        keyops.delete_key(self, path, recursive, timestamp)

    def rename(self, new_name: str, *, timestamp: Timestamp = None) -> None:
        """Rename this key within its parent (a case-only change is allowed).

        A sibling with the same name (case-insensitively) raises InvalidArgumentError.
        The key's and its parent's last written times become ``timestamp`` (default now).
        """
        keyops.rename(self, new_name, timestamp)

    # -- values ------------------------------------------------------------------------

    def values(self) -> list[Value]:
        """Values in stored (insertion) order."""
        vals = self._vals
        if vals is not None:
            # Prefilled by the walk (its records lo:hi): made here, handed out once
            # (the caller owns the list); a later call reads them again. Inline, not
            # a helper: this runs once per key of a walk.
            self._vals = None
            if not vals:
                return []  # () marks a key known to have none
            recs, i, hi = vals
            cells, names, types, statuses, raws, image = recs
            out: list[Value] = []
            append = out.append
            while i < hi:
                v = Value()
                if not statuses[i]:
                    v._raw = raws[i]  # else left to the checked path (read on access)
                v._image = image
                v.index = cells[i]
                v.name = names[i]
                v.type = types[i]
                append(v)
                i += 1
            return out
        return self._hive._key_values(self)

    def value(self, name: str = "") -> Value:
        """The value called ``name`` ("" is the default value), case-insensitive."""
        return self._hive._key_value(self, name)

    # The function itself, not a wrapper: this is the per-value call of a build, and a
    # second Python frame was a tenth of its cost. Its docstring is the method's.
    set_value = valueops.set_value

    def set_values(
        self,
        values: Mapping[str, object] | Iterable[tuple[Any, ...]],
        *,
        timestamp: Timestamp = None,
    ) -> None:
        """Create or replace several values at once, in order (hivex's node_set_values,
        but it keeps the values not named); every item is checked before anything is
        written (see :func:`~regf.model.valueops.set_values`)."""
        valueops.set_values(self, values, timestamp)

    def delete_value(self, name: str = "", *, timestamp: Timestamp = None) -> None:
        """Delete the value ``name``; ValueNotFoundError if there is none."""
        valueops.delete_value(self, name, timestamp)

    # -- security ----------------------------------------------------------------------

    @property
    def security_raw(self) -> bytes:
        """Self-relative SECURITY_DESCRIPTOR bytes of the key's sk cell (new keys inherit
        their parent's). Assignable on an editable hive: identical descriptors share
        one sk."""
        return self._hive._key_security_raw(self)

    @security_raw.setter
    def security_raw(self, value: bytes) -> None:
        keyops.set_security(self, value)

    @property
    def security(self) -> Any:
        """Parsed security descriptor (owner, group, dacl, sacl, ``.sddl``)."""
        return self._hive._key_security(self)

    # -- conversion --------------------------------------------------------------------

    def to_spec(self) -> KeySpec:
        """This key and its stable subtree as a :class:`KeySpec` tree (editable hives;
        volatile keys are never saved)."""
        return keyops.to_spec(self)

    def __repr__(self) -> str:
        try:
            what = repr(self.path or "(root)")
        except RegfError:
            what = "(deleted)" if self._cell < 0 else "(hive closed)"
        return f"<Key {what}{' volatile' if self._vol else ''}>"

    def __eq__(self, other: object) -> bool:
        if self._hive.writable:
            return self is other  # one handle per live key
        return isinstance(other, Key) and other._hive is self._hive and other._cell == self._cell

    def __hash__(self) -> int:
        if self._hive.writable:
            return id(self)
        return hash((id(self._hive), self._cell))


__all__ = ["DROP_FLAGS", "Key", "KeyStore", "KeyNotFoundError", "RegfError", "filetime"]
