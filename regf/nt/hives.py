"""Hives in the namespace: NtLoadKey / NtUnloadKey, flushing (explicit, lazy, at close)
and closing the registry. Functions of :class:`~regf.nt.registry.Registry`, which
delegates to them.

A hive file is loaded in place (writer lock, flushes through its logs); a read-only file
or file system, or REG_OPEN_READ_ONLY, gives a read-only load: a copy that is never
written, on which every change is STATUS_ACCESS_DENIED (winnt.h REG_OPEN_READ_ONLY;
asking for a write right in ZwLoadKeyEx's DesiredAccess on such a file is
STATUS_ACCESS_DENIED). REG_NO_LAZY_FLUSH hives are passed by the lazy flusher and
:meth:`Registry.flush_all`; ZwFlushKey, unload and close still write them.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LockedError, RegfError, SignatureError
from ..model.edit import EditHive, create, open_editable
from ..model.opening import open_hive
from . import constants as C
from . import notifycalls, store
from .callbacks import REG_LOAD_KEY_INFORMATION, REG_UNLOAD_KEY_INFORMATION
from .constants import REG_NOTIFY_CLASS as N
from .namespace import HiveMount, Kcb, KeyObject
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState

S = NTSTATUS


def _fail(status: NTSTATUS, message: str = "") -> NtStatusError:
    return NtStatusError(status, message)


#: Rights that change a key: asking for one on a read-only hive is refused.
_WRITE_RIGHTS = (
    C.KEY_SET_VALUE
    | C.KEY_CREATE_SUB_KEY
    | C.KEY_CREATE_LINK
    | C.DELETE
    | C.WRITE_DAC
    | C.WRITE_OWNER
)
_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def _open_hive_file(path: Path, *, in_place: bool) -> EditHive:
    """Open a hive file for a load: in place (read-write) or as a copy (read-only)."""
    try:
        if in_place:
            hive: Any = open_hive(path, mode="r+")
        else:
            hive = open_editable(path, in_place=False)
    except SignatureError as exc:
        raise _fail(S.STATUS_NOT_REGISTRY_FILE, str(exc)) from exc
    except LockedError as exc:  # another writer has the file open
        raise _fail(S.STATUS_SHARING_VIOLATION, str(exc)) from exc
    except RegfError as exc:
        raise _fail(S.STATUS_REGISTRY_CORRUPT, str(exc)) from exc
    except FileNotFoundError as exc:
        raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, str(exc)) from exc
    except OSError as exc:
        # A read-only file or file system (EACCES/EPERM/EROFS) is an access problem, not
        # a missing file.
        if isinstance(exc, PermissionError) or exc.errno in _READ_ONLY_ERRNOS:
            raise _fail(S.STATUS_ACCESS_DENIED, str(exc)) from exc
        raise _fail(S.STATUS_REGISTRY_IO_FAILED, str(exc)) from exc
    result: EditHive = hive
    return result


def load_hive(
    reg: RegistryState,
    object_path: str,
    source: str | os.PathLike[str] | EditHive,
    *,
    create_new: bool = False,
    flags: int = 0,
    desired_access: int = 0,
) -> None:
    """NtLoadKey / NtLoadKeyEx: make the hive ``source`` appear at ``object_path``.

    ``source`` is a hive file (opened with ``regf.open(path, mode="r+")``: its writer
    lock is held while it is loaded, a dirty hive is recovered first, and flushes go
    through its ``.LOG1``/``.LOG2``; a missing file is created empty when
    ``create_new`` and written whole on each flush) or an already open ``EditHive`` (left
    open on unload; do not edit it directly while it is loaded: the registry caches
    its keys). ``object_path`` must name a free key below a key of the master hive,
    e.g. ``\\Registry\\Machine\\SOFTWARE``.

    ``flags``: REG_OPEN_READ_ONLY loads a copy that is never written (changes get
    STATUS_ACCESS_DENIED); REG_NO_LAZY_FLUSH leaves the hive to explicit ZwFlushKey
    calls. A file that cannot be written (permissions, read-only file system) is
    loaded read-only, unless ``desired_access`` asks for a write right: then
    STATUS_ACCESS_DENIED.
    """
    with reg._lock:
        reg._check_open()
        if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~C.REG_LEGAL_LOAD_FLAGS:
            raise _fail(S.STATUS_INVALID_PARAMETER, f"bad load flags {flags!r}")
        parent, name = _mount_target(reg, object_path)
        label = str(source) if not isinstance(source, EditHive) else repr(source)
        info = REG_LOAD_KEY_INFORMATION(
            KeyName=object_path, SourceFile=label, Flags=flags, DesiredAccess=desired_access
        )
        wants_write = bool(C.map_generic_access(desired_access) & _WRITE_RIGHTS)

        def op() -> NTSTATUS:
            read_only = bool(flags & C.REG_OPEN_READ_ONLY)
            hive, file, owned, read_only = _open_source(source, create_new, read_only, wants_write)
            mount = HiveMount(
                object_path,
                hive,
                file,
                root=None,  # type: ignore[arg-type]
                owned=owned,
                read_only=read_only,
                no_lazy_flush=bool(flags & C.REG_NO_LAZY_FLUSH),
            )
            reg._ns.mount(parent, name, mount)
            reg._mounts[object_path] = mount
            info.Object = KeyObject(mount.root)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreLoadKey, N.RegNtPostLoadKey, info, op)
        reg._raise_unless_success(status)


def _mount_target(reg: RegistryState, object_path: str) -> tuple[Kcb, str]:
    start, parts = reg._split(object_path, None)
    if not parts:
        raise _fail(S.STATUS_INVALID_PARAMETER, "cannot load a hive over \\REGISTRY")
    parent = start
    for part in parts[:-1]:
        nxt = reg._ns.child(parent, part)
        if nxt is None:
            raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"{object_path}: parent missing")
        parent = nxt
    if parent.mount is not None or not isinstance(parent.key, store.MemKey):
        raise _fail(S.STATUS_INVALID_PARAMETER, "hives load only below master-hive keys")
    if reg._ns.child(parent, parts[-1]) is not None:
        raise _fail(S.STATUS_OBJECT_NAME_COLLISION, f"{object_path} exists")
    if not store.check_key_name(parts[-1]):
        raise _fail(S.STATUS_INVALID_PARAMETER, f"bad key name {parts[-1]!r}")
    return parent, parts[-1]


def _open_source(
    source: str | os.PathLike[str] | EditHive,
    create_new: bool,
    read_only: bool,
    wants_write: bool,
) -> tuple[EditHive, Path | None, bool, bool]:
    """(hive, file, owned, read_only) for a load."""
    if isinstance(source, EditHive):
        if source.closed:
            raise _fail(S.STATUS_INVALID_PARAMETER, "the hive is closed")
        return source, source.path, False, read_only
    if not isinstance(source, str | os.PathLike):
        raise _fail(S.STATUS_INVALID_PARAMETER, "source must be a path or an EditHive")
    path = Path(source)
    if not path.exists():
        if not create_new or read_only:
            raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"no hive file {path}")
        return create(path), path, True, False
    if not read_only:
        try:
            return _open_hive_file(path, in_place=True), path, True, False
        except NtStatusError as exc:
            if exc.status != S.STATUS_ACCESS_DENIED or wants_write:
                raise
        # Read-only file or file system and no write right asked for: a read-only
        # load, as Windows loads a hive from read-only media.
    return _open_hive_file(path, in_place=False), path, True, True


def unload_hive(reg: RegistryState, object_path: str, *, force: bool = False) -> None:
    """NtUnloadKey: flush the hive at ``object_path`` and take it out of the namespace.

    Open handles to its keys make this fail with STATUS_CANNOT_DELETE unless
    ``force`` (then those handles get STATUS_KEY_DELETED from now on).
    """
    with reg._lock:
        reg._check_open()
        mount = reg._mount_at(object_path)
        info = REG_UNLOAD_KEY_INFORMATION(Object=KeyObject(mount.root))

        def op() -> NTSTATUS:
            busy = [h for h in reg._handles.values() if h.obj.kcb.mount is mount]
            if busy and not force:
                raise _fail(S.STATUS_CANNOT_DELETE, f"{len(busy)} open handle(s) in the hive")
            reg._flush_mount(mount)
            for kcb in reg._ns.unmount(mount.root):
                notifycalls.key_deleted(reg, kcb)  # pending change requests in it complete
            del reg._mounts[mount.object_path]
            reg.flush_errors.pop(mount.object_path, None)
            if mount.owned:
                if mount.replaced:
                    mount.hive.discard()  # its file now holds the replacement
                else:
                    mount.hive.close()
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreUnLoadKey, N.RegNtPostUnLoadKey, info, op)
        reg._raise_unless_success(status)


def mount_at(reg: RegistryState, object_path: str) -> HiveMount:
    kcb = reg._resolve_existing(object_path, None, open_link=True)
    mount = kcb.mount
    if mount is None or mount.root is not kcb:
        raise _fail(S.STATUS_INVALID_PARAMETER, f"{object_path} is not a hive root")
    return mount


def flush_all(reg: RegistryState) -> None:
    """Flush every dirty hive now (what the lazy flusher does: hives loaded with
    REG_NO_LAZY_FLUSH are left to ZwFlushKey)."""
    with reg._lock:
        reg._check_open()
        for mount in list(reg._mounts.values()):
            if not mount.no_lazy_flush:
                reg._flush_mount(mount)


def lazy_flush(reg: RegistryState) -> None:
    with reg._lock:
        if reg._closed:
            return
        for mount in list(reg._mounts.values()):
            if mount.no_lazy_flush:
                # HIVE_NOLAZYFLUSH: the lazy flusher passes it by; only an explicit
                # flush (ZwFlushKey, unload, close) writes it.
                continue
            try:
                reg._flush_mount(mount)
            except NtStatusError as exc:
                reg.flush_errors[mount.object_path] = exc
            else:
                reg.flush_errors.pop(mount.object_path, None)


def flush_mount(reg: RegistryState, mount: HiveMount) -> None:
    if not mount.dirty or mount.read_only or mount.replaced:
        return
    try:
        mount.hive.flush()
    except (RegfError, OSError) as exc:
        raise _fail(S.STATUS_REGISTRY_IO_FAILED, f"{mount.object_path}: {exc}") from exc
    mount.dirty = False


def close(reg: RegistryState) -> None:
    """Stop the lazy flusher, flush every dirty hive and unload everything.

    Raises the first flush failure (NtStatusError) after closing everything else.
    """
    if reg._flusher is not None:
        reg._flusher.stop()
    with reg._lock:
        if reg._closed:
            return
        first: NtStatusError | None = None
        for mount in list(reg._mounts.values()):
            try:
                reg._flush_mount(mount)
            except NtStatusError as exc:
                first = first or exc
            if mount.owned:
                with contextlib.suppress(RegfError, OSError):
                    if mount.dirty or mount.replaced:
                        mount.hive.discard()
                    else:
                        mount.hive.close()
            reg._ns.unmount(mount.root)
        reg._mounts.clear()
        reg._handles.clear()
        reg._closed = True
        if first is not None:
            raise first


__all__ = [
    "close",
    "flush_all",
    "flush_mount",
    "lazy_flush",
    "load_hive",
    "mount_at",
    "unload_hive",
]
