"""The registry namespace: key control blocks, key objects and hive mount points.

``\\REGISTRY`` with ``MACHINE`` and ``USER`` below it is the master hive: in memory only,
so only volatile keys can be created in it. Loading a hive links its root into the
master hive under the load name (NtLoadKey). A :class:`Kcb` (key control block) is the
one in-memory object per key that every handle to the key shares: it carries the key's
place in the namespace and its deleted state, so handles survive renames and see
STATUS_KEY_DELETED after a delete, whatever the storage below does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._accel import upcase
from ..format.constants import KeyFlags
from ..model.edithive import EditHive
from ..model.serialize import DEFAULT_SECURITY
from . import store
from .store import MemKey


@dataclass(eq=False)
class HiveMount:
    """A hive loaded into the namespace."""

    object_path: str
    hive: EditHive
    file: Path | None
    root: Kcb
    #: Stable data changed since the last flush.
    dirty: bool = False
    #: Whether the NT layer opened the hive (and so closes it on unload).
    owned: bool = True
    #: Loaded read-only (REG_OPEN_READ_ONLY, or a read-only file / file system): every
    #: change is refused with STATUS_ACCESS_DENIED and nothing is ever written.
    read_only: bool = False
    #: REG_NO_LAZY_FLUSH: written only by an explicit ZwFlushKey (never by the lazy
    #: flusher, unload or close).
    no_lazy_flush: bool = False
    #: ZwReplaceKey replaced the file: the running hive is never written again.
    replaced: bool = False


class Kcb:
    """Key control block: one per key that has been looked up."""

    __slots__ = ("children", "deleted", "holder", "key", "mount", "name", "parent")

    def __init__(self, key: Any, parent: Kcb | None, mount: HiveMount | None, name: str) -> None:
        #: The storage key: EditKey (loaded hives) or MemKey (master hive).
        self.key = key
        #: The key that carries the name in the parent: for a hive root, the master-hive
        #: link key (its name in the namespace is the load name, not the root nk's).
        self.holder = key
        self.parent = parent
        #: The hive the key belongs to (None in the master hive).
        self.mount = mount
        #: The key's name in the namespace (kept here: a deleted key's storage is gone).
        self.name = name
        self.children: dict[str, Kcb] = {}
        self.deleted = False

    @property
    def path(self) -> str:
        """The full object name, e.g. ``\\REGISTRY\\MACHINE\\SOFTWARE\\Example``."""
        parts: list[str] = []
        k: Kcb | None = self
        while k is not None:
            parts.append(k.name)
            k = k.parent
        return "\\" + "\\".join(reversed(parts))

    @property
    def is_hive_root(self) -> bool:
        """The root of a loaded hive (or of the master hive)."""
        return self.parent is None or (self.mount is not None and self.mount.root is self)

    @property
    def volatile(self) -> bool:
        """In memory only (master hive keys and volatile keys)."""
        return store.is_volatile(self.key)

    def __repr__(self) -> str:
        return f"<Kcb {self.path}{' (deleted)' if self.deleted else ''}>"


class KeyObject:
    """A key object (CM key body): what a handle refers to and what callbacks get as
    ``Object``. Each successful ZwCreateKey/ZwOpenKey makes a new one."""

    __slots__ = ("__weakref__", "_kcb")

    def __init__(self, kcb: Kcb) -> None:
        self._kcb = kcb

    @property
    def kcb(self) -> Kcb:
        """The key's control block."""
        return self._kcb

    @property
    def name(self) -> str:
        """The key's full object name (as CmCallbackGetKeyObjectID reports it)."""
        return self._kcb.path

    @property
    def deleted(self) -> bool:
        """True once the key was deleted (or its hive unloaded)."""
        return self._kcb.deleted

    def __repr__(self) -> str:
        return f"<KeyObject {self._kcb.path}>"


@dataclass
class Namespace:
    """The KCB tree rooted at ``\\REGISTRY``."""

    root: Kcb = field(init=False)

    def __post_init__(self) -> None:
        top = MemKey("REGISTRY", security=DEFAULT_SECURITY)
        top.flags |= KeyFlags.HIVE_ENTRY | KeyFlags.NO_DELETE
        for name in ("MACHINE", "USER"):
            top.create_child(name, None, top.last_written_raw).flags |= KeyFlags.NO_DELETE
        self.root = Kcb(top, None, None, top.name)

    def child(self, parent: Kcb, name: str) -> Kcb | None:
        """The KCB of ``parent``'s subkey ``name`` (made on first use), or None."""
        up = upcase(name)
        kcb = parent.children.get(up)
        if kcb is not None:
            return kcb
        raw = store.find_child(parent.key, name)
        if raw is None:
            return None
        kcb = Kcb(raw, parent, parent.mount, store.key_name(raw))
        parent.children[up] = kcb
        return kcb

    def kcb_for(self, parent: Kcb, raw: Any) -> Kcb | None:
        """The existing KCB of ``parent``'s storage child ``raw``, if any."""
        return parent.children.get(upcase(store.key_name(raw)))

    def subkeys(self, parent: Kcb) -> list[Any]:
        """``parent``'s storage children in enumeration order."""
        return store.children(parent.key)

    def create(
        self, parent: Kcb, name: str, class_name: str | None, volatile: bool, ts: int
    ) -> Kcb:
        """Create subkey ``name`` (the caller checked it does not exist and that a stable
        key is not asked for under a volatile one)."""
        key = parent.key
        if isinstance(key, MemKey):
            raw: Any = key.create_child(name, class_name, ts)
        else:
            raw = key.create_key(name, class_name, timestamp=ts, volatile=volatile)
        kcb = Kcb(raw, parent, parent.mount, name)
        parent.children[upcase(name)] = kcb
        return kcb

    def delete(self, kcb: Kcb, ts: int) -> None:
        """Delete ``kcb``'s key (the caller checked it has no subkeys)."""
        parent = kcb.parent
        assert parent is not None
        raw = kcb.key
        if isinstance(raw, MemKey):
            assert raw.parent is not None
            raw.parent.remove_child(raw, ts)
        else:
            parent.key.delete_key(kcb.name, timestamp=ts)
        parent.children.pop(upcase(kcb.name), None)
        kcb.deleted = True

    def rename(self, kcb: Kcb, new_name: str, ts: int) -> None:
        """Rename ``kcb``'s key (the caller checked the new name is free)."""
        parent = kcb.parent
        assert parent is not None
        raw = kcb.key
        if isinstance(raw, MemKey):
            raw.rename(new_name, ts)
        else:
            raw.rename(new_name, timestamp=ts)
        parent.children.pop(upcase(kcb.name), None)
        parent.children[upcase(new_name)] = kcb
        kcb.name = new_name

    def mount(self, parent: Kcb, name: str, mount: HiveMount) -> Kcb:
        """Link ``mount``'s hive root into the master hive as ``parent``\\``name``."""
        holder = parent.key.create_child(name, None, store.last_written(mount.hive.root))
        holder.flags |= KeyFlags.HIVE_EXIT
        kcb = Kcb(mount.hive.root, parent, mount, name)
        kcb.holder = holder
        parent.children[upcase(name)] = kcb
        mount.root = kcb
        return kcb

    def unmount(self, kcb: Kcb) -> list[Kcb]:
        """Unlink a hive root; returns every KCB of the hive (now marked deleted)."""
        parent = kcb.parent
        assert parent is not None and isinstance(parent.key, MemKey)
        holder = kcb.holder
        assert isinstance(holder, MemKey)
        parent.key.remove_child(holder, parent.key.last_written_raw)
        parent.children.pop(upcase(kcb.name), None)
        gone: list[Kcb] = []
        stack = [kcb]
        while stack:
            k = stack.pop()
            k.deleted = True
            gone.append(k)
            stack.extend(k.children.values())
        return gone


__all__ = ["HiveMount", "KeyObject", "Kcb", "Namespace"]
