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
from ..model.edit import EditHive
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


class Kcb:
    """Key control block: one per key that has been looked up."""

    __slots__ = (
        "children",
        "deleted",
        "holder",
        "key",
        "mount",
        "overlay",
        "overlay_max",
        "parent",
    )

    def __init__(self, key: Any, parent: Kcb | None, mount: HiveMount | None) -> None:
        #: The storage key: EditKey (stable) or MemKey (volatile / master hive).
        self.key = key
        #: The key that carries the name in the parent (differs for hive roots, whose
        #: name in the namespace is the load name).
        self.holder = key
        self.parent = parent
        #: The hive the key belongs to (None in the master hive).
        self.mount = mount
        self.children: dict[str, Kcb] = {}
        #: Volatile children of a stable key kept by this layer (model without volatile).
        self.overlay: dict[str, MemKey] = {}
        self.overlay_max = [0, 0]
        self.deleted = False

    @property
    def name(self) -> str:
        """The key's name in the namespace."""
        return store.key_name(self.holder)

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
        self.root = Kcb(top, None, None)

    def child(self, parent: Kcb, name: str) -> Kcb | None:
        """The KCB of ``parent``'s subkey ``name`` (made on first use), or None."""
        up = upcase(name)
        kcb = parent.children.get(up)
        if kcb is not None:
            return kcb
        raw = store.find_child(parent.key, name, parent.overlay)
        if raw is None:
            return None
        kcb = Kcb(raw, parent, parent.mount)
        parent.children[up] = kcb
        return kcb

    def kcb_for(self, parent: Kcb, raw: Any) -> Kcb | None:
        """The existing KCB of ``parent``'s storage child ``raw``, if any."""
        return parent.children.get(upcase(store.key_name(raw)))

    def subkeys(self, parent: Kcb) -> list[Any]:
        """``parent``'s storage children in enumeration order."""
        return store.children(parent.key, parent.overlay)

    def create(
        self, parent: Kcb, name: str, class_name: str | None, volatile: bool, ts: int
    ) -> Kcb:
        """Create subkey ``name`` (the caller checked it does not exist)."""
        key = parent.key
        if isinstance(key, MemKey):
            raw: Any = key.create_child(name, class_name, ts)
        elif volatile and store.EDITKEY_HAS_VOLATILE:
            raw = key.create_key(name, class_name, timestamp=ts, volatile=True)
        elif volatile:
            # The model keeps no volatile keys: keep it here, beside the stable parent.
            raw = MemKey(name, None, class_name=class_name, security=key.security_raw, timestamp=ts)
            parent.overlay[upcase(name)] = raw
            parent.overlay_max[0] = max(parent.overlay_max[0], store.wide_len(name))
            parent.overlay_max[1] = max(parent.overlay_max[1], store.wide_len(class_name))
            key.touch(ts)
        else:
            raw = key.create_key(name, class_name, timestamp=ts)
        kcb = Kcb(raw, parent, parent.mount)
        parent.children[upcase(name)] = kcb
        return kcb

    def delete(self, kcb: Kcb, ts: int) -> None:
        """Delete ``kcb``'s key (the caller checked it has no subkeys)."""
        parent = kcb.parent
        assert parent is not None
        raw, pkey = kcb.key, parent.key
        up = upcase(kcb.name)
        if isinstance(raw, MemKey) and raw.parent is not None:
            raw.parent.remove_child(raw, ts)
        elif isinstance(raw, MemKey):
            del parent.overlay[up]
            raw.deleted = True
            if not parent.overlay:
                parent.overlay_max = [0, 0]
            pkey.touch(ts)
        else:
            pkey.delete_key(store.key_name(raw), timestamp=ts)
        parent.children.pop(up, None)
        kcb.deleted = True

    def rename(self, kcb: Kcb, new_name: str, ts: int) -> None:
        """Rename ``kcb``'s key (the caller checked the new name is free)."""
        parent = kcb.parent
        assert parent is not None
        raw = kcb.key
        old_up = upcase(kcb.name)
        if isinstance(raw, MemKey) and raw.parent is not None:
            raw.rename(new_name, ts)
        elif isinstance(raw, MemKey):
            del parent.overlay[old_up]
            parent.overlay[upcase(new_name)] = raw
            raw.name = new_name
            raw.last_written_raw = ts
            parent.overlay_max[0] = max(parent.overlay_max[0], store.wide_len(new_name))
            parent.key.touch(ts)
        else:
            raw.rename(new_name, timestamp=ts)
        parent.children.pop(old_up, None)
        parent.children[upcase(new_name)] = kcb

    def mount(self, parent: Kcb, name: str, mount: HiveMount) -> Kcb:
        """Link ``mount``'s hive root into the master hive as ``parent``\\``name``."""
        holder = parent.key.create_child(name, None, store.last_written(mount.hive.root))
        holder.flags |= KeyFlags.HIVE_EXIT
        kcb = Kcb(mount.hive.root, parent, mount)
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
        parent.children.pop(upcase(holder.name), None)
        gone: list[Kcb] = []
        stack = [kcb]
        while stack:
            k = stack.pop()
            k.deleted = True
            gone.append(k)
            stack.extend(k.children.values())
        return gone


__all__ = ["HiveMount", "KeyObject", "Kcb", "Namespace"]
