"""ZwDeleteKey, ZwRenameKey and ZwFlushKey (nt-api/000 for ZwFlushKey: the key's whole
hive is written before the call returns; on a key above the hives, such as
``\\Registry\\Machine``, every loaded hive). Functions of
:class:`~regf.nt.registry.Registry`, which delegates to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..format.constants import KeyFlags
from ..model.serialize import now_filetime
from . import constants as C
from . import notifycalls, store
from .callbacks import (
    REG_DELETE_KEY_INFORMATION,
    REG_FLUSH_KEY_INFORMATION,
    REG_RENAME_KEY_INFORMATION,
)
from .constants import REG_NOTIFY_CLASS as N
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState

S = NTSTATUS


def _fail(status: NTSTATUS, message: str = "") -> NtStatusError:
    return NtStatusError(status, message)


def delete_key(reg: RegistryState, handle: int) -> None:
    """Delete the key (STATUS_CANNOT_DELETE while it has subkeys or is a hive root).
    The handle stays open (close it); other calls on it get STATUS_KEY_DELETED."""
    with reg._lock:
        entry = reg._entry("ZwDeleteKey", handle, C.DELETE)
        obj = entry.obj
        info = REG_DELETE_KEY_INFORMATION(Object=obj)

        def op() -> NTSTATUS:
            kcb = reg._writable(reg._alive(obj.kcb))
            if kcb.is_hive_root or store.flags(kcb.holder) & KeyFlags.NO_DELETE:
                raise _fail(S.STATUS_CANNOT_DELETE, f"{kcb.path} cannot be deleted")
            if store.child_count(kcb.key):
                raise _fail(S.STATUS_CANNOT_DELETE, f"{kcb.path} has subkeys")
            assert kcb.parent is not None
            reg._ns.delete(kcb, now_filetime())
            reg._dirty(kcb.parent)
            if reg._notify_blocks:
                notifycalls.key_deleted(reg, kcb)
                reg._notify_change(kcb.parent, C.REG_NOTIFY_CHANGE_NAME)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreDeleteKey, N.RegNtPostDeleteKey, info, op)
        reg._raise_unless_success(status)
        if reg._verifier is not None:
            reg._verifier.deleted(handle)


def rename_key(reg: RegistryState, handle: int, new_name: str) -> None:
    """Rename the key to ``new_name`` (a name, not a path). STATUS_CANNOT_DELETE if a
    sibling already has that name (including the key itself in other case),
    STATUS_ACCESS_DENIED for hive roots and master-hive keys."""
    with reg._lock:
        entry = reg._entry("ZwRenameKey", handle, C.KEY_WRITE)
        obj = entry.obj
        if not isinstance(new_name, str) or not store.check_key_name(new_name):
            raise _fail(S.STATUS_INVALID_PARAMETER, f"bad key name {new_name!r}")
        info = REG_RENAME_KEY_INFORMATION(Object=obj, NewName=new_name)

        def op() -> NTSTATUS:
            kcb = reg._writable(reg._alive(obj.kcb))
            parent = kcb.parent
            if kcb.is_hive_root or kcb.mount is None or parent is None:
                raise _fail(S.STATUS_ACCESS_DENIED, f"{kcb.path} cannot be renamed")
            if reg._ns.child(parent, new_name) is not None:
                raise _fail(S.STATUS_CANNOT_DELETE, f"{new_name!r} exists under {parent.path}")
            reg._ns.rename(kcb, new_name, now_filetime())
            reg._dirty(parent)
            reg._dirty(kcb)
            reg._notify_change(parent, C.REG_NOTIFY_CHANGE_NAME)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreRenameKey, N.RegNtPostRenameKey, info, op)
        reg._raise_unless_success(status)


def flush_key(reg: RegistryState, handle: int) -> None:
    """Write the key's whole hive to disk now (returns when it is written).

    A hive file loaded from disk is flushed in place as Windows does: its dirty pages
    become one log entry in ``.LOG1``/``.LOG2``, then the primary is reconciled.

    A key of the master hive (``\\Registry``, ``\\Registry\\Machine``, ...) flushes
    every loaded hive: the whole registry. A hive that cannot be flushed gives
    STATUS_REGISTRY_IO_FAILED.
    """
    with reg._lock:
        entry = reg._entry("ZwFlushKey", handle, 0)
        obj = entry.obj
        info = REG_FLUSH_KEY_INFORMATION(Object=obj)

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            if kcb.mount is not None:
                reg._flush_mount(kcb.mount)
                return S.STATUS_SUCCESS
            # A key above the loaded hives (\REGISTRY, \REGISTRY\MACHINE, ...):
            # "flush the whole registry" (nt-api/000): every loaded hive, the first
            # failure reported after trying them all.
            first: NtStatusError | None = None
            for mount in list(reg._mounts.values()):
                try:
                    reg._flush_mount(mount)
                except NtStatusError as exc:
                    first = first or exc
            if first is not None:
                raise first
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreFlushKey, N.RegNtPostFlushKey, info, op)
        reg._raise_unless_success(status)


__all__ = ["delete_key", "flush_key", "rename_key"]
