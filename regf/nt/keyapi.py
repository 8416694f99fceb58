"""The rest of the key API: ZwSaveKey(Ex), ZwRestoreKey, ZwReplaceKey,
ZwQueryMultipleValueKey, ZwSetInformationKey and ZwQueryObject(ObjectNameInformation),
each with its RegNtPre/Post notification (wdm.h REG_*_INFORMATION).

Sources: wdm.h ZwSaveKey/ZwSaveKeyEx and REG_SAVE_KEY_INFORMATION (formats: standard =
the Windows 2000 format, 1.3; latest = 1.5; REG_NO_COMPRESSION only for a hive root,
whose bins are then written as they are, uncompacted; one format at a time),
RegSaveKeyEx ("only saves nonvolatile keys"), ZwRestoreKey / RegRestoreKey
(REG_FORCE_RESTORE, REG_WHOLE_HIVE_VOLATILE), ZwReplaceKey / RegReplaceKey
(the hive's file is replaced at the next load; the old one is kept), ZwQueryMultipleValueKey
and KEY_VALUE_ENTRY, ZwSetInformationKey and its classes. With a token in effect, save
needs SeBackupPrivilege and restore / replace SeRestorePrivilege
(STATUS_PRIVILEGE_NOT_HELD), as those pages say.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, RegfError
from ..format.constants import KeyFlags
from ..model.opening import open_hive
from ..model.serialize import now_filetime, serialize
from ..model.spec import KeySpec
from . import constants as C
from . import notifycalls, store
from .access import SE_BACKUP_PRIVILEGE, SE_RESTORE_PRIVILEGE
from .callbacks import (
    REG_QUERY_KEY_NAME,
    REG_QUERY_MULTIPLE_VALUE_KEY_INFORMATION,
    REG_REPLACE_KEY_INFORMATION,
    REG_RESTORE_KEY_INFORMATION,
    REG_SAVE_KEY_INFORMATION,
    REG_SET_INFORMATION_KEY_INFORMATION,
)
from .constants import REG_NOTIFY_CLASS as N
from .infoclass import KEY_VALUE_ENTRY, check_length
from .namespace import Kcb
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState

S = NTSTATUS
FileArg = str | os.PathLike[str] | IO[bytes]

#: Format -> hive minor version (ZwSaveKeyEx).
_FORMATS = {C.REG_STANDARD_FORMAT: 3, C.REG_LATEST_FORMAT: 5, C.REG_NO_COMPRESSION: 5}


def _fail(status: NTSTATUS, message: str) -> NtStatusError:
    return NtStatusError(status, message)


def _privilege(reg: RegistryState, name: str, call: str) -> None:
    token = reg.current_token()
    if token is not None and not token.has(name):
        raise _fail(S.STATUS_PRIVILEGE_NOT_HELD, f"{call} needs {name}")


def _label(file: object) -> str:
    return str(file) if isinstance(file, str | os.PathLike) else repr(file)


# ---------------------------------------------------------------------------------------
# ZwSaveKey / ZwSaveKeyEx
# ---------------------------------------------------------------------------------------


def save_key(reg: RegistryState, handle: int, file: FileArg, fmt: int) -> None:
    """ZwSaveKey(Ex): save the key's stable subtree as a hive to ``file`` (a new path,
    or a binary file object) in format ``fmt``: REG_STANDARD_FORMAT (1.3, ZwSaveKey's),
    REG_LATEST_FORMAT (1.5) or REG_NO_COMPRESSION (hive roots only: the hive's bins as
    they are, uncompacted)."""
    with reg._lock:
        if fmt not in _FORMATS:
            raise _fail(S.STATUS_INVALID_PARAMETER, f"bad save format {fmt!r} (one of 1, 2, 4)")
        entry = reg._entry("ZwSaveKey", handle, 0)
        _privilege(reg, SE_BACKUP_PRIVILEGE, "ZwSaveKey")
        obj = entry.obj
        info = REG_SAVE_KEY_INFORMATION(Object=obj, FileHandle=file, Format=fmt)

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            if kcb.mount is None or isinstance(kcb.key, store.MemKey):
                raise _fail(S.STATUS_ACCESS_DENIED, f"{kcb.path} is not in a loaded hive")
            if kcb.volatile:
                raise _fail(S.STATUS_INVALID_PARAMETER, f"{kcb.path} is volatile")
            if fmt == C.REG_NO_COMPRESSION and not kcb.is_hive_root:
                raise _fail(S.STATUS_INVALID_PARAMETER, "REG_NO_COMPRESSION needs a hive root")
            if fmt == C.REG_NO_COMPRESSION:
                data = _image_bytes(kcb)
            else:
                data = _hive_bytes(kcb, _FORMATS[fmt])
            _write_out(file, data)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreSaveKey, N.RegNtPostSaveKey, info, op)
        reg._raise_unless_success(status)


def _hive_bytes(kcb: Kcb, minor: int) -> bytes:
    """The key's stable subtree as a clean hive file (the key is its root)."""
    try:
        spec: KeySpec = kcb.key.to_spec()
        # Flags only a hive root may carry are the writer's; a saved link stays a link.
        spec.flags = int(spec.flags) & ~int(KeyFlags.HIVE_ENTRY | KeyFlags.HIVE_EXIT)
        return serialize(spec, minor=minor, timestamp=now_filetime(), file_name=kcb.name)
    except (RegfError, ValueError) as exc:
        raise _fail(S.STATUS_REGISTRY_IO_FAILED, f"{kcb.path}: {exc}") from exc


def _image_bytes(kcb: Kcb) -> bytes:
    """A hive root's hive as it stands, uncompacted (REG_NO_COMPRESSION): Windows writes
    the hive's bins as they are, free cells and all, behind a clean base block."""
    assert kcb.mount is not None
    try:
        return kcb.mount.hive.image_bytes()
    except RegfError as exc:
        raise _fail(S.STATUS_REGISTRY_IO_FAILED, f"{kcb.path}: {exc}") from exc


def _write_out(file: FileArg, data: bytes) -> None:
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        try:
            # "If the file already exists, the function fails" (RegSaveKeyEx).
            with path.open("xb") as f:
                f.write(data)
        except FileExistsError as exc:
            raise _fail(S.STATUS_OBJECT_NAME_COLLISION, f"{path} exists") from exc
        except OSError as exc:
            raise _fail(S.STATUS_REGISTRY_IO_FAILED, f"{path}: {exc}") from exc
        return
    write = getattr(file, "write", None)
    if write is None:
        raise _fail(S.STATUS_INVALID_PARAMETER, "file must be a path or a binary file object")
    try:
        write(data)
    except (OSError, TypeError, ValueError) as exc:
        raise _fail(S.STATUS_REGISTRY_IO_FAILED, f"write failed: {exc}") from exc


# ---------------------------------------------------------------------------------------
# ZwRestoreKey
# ---------------------------------------------------------------------------------------


def _read_in(file: FileArg) -> Any:
    """The saved hive as a read-only Hive."""
    try:
        if isinstance(file, str | os.PathLike):
            return open_hive(Path(file))
        read = getattr(file, "read", None)
        if read is None:
            raise _fail(S.STATUS_INVALID_PARAMETER, "file must be a path or a binary file")
        return open_hive(bytes(read()))
    except NtStatusError:
        raise
    except FileNotFoundError as exc:
        raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, str(exc)) from exc
    except (RegfError, OSError) as exc:
        raise _fail(S.STATUS_REGISTRY_CORRUPT, str(exc)) from exc


def restore_key(reg: RegistryState, handle: int, file: FileArg, flags: int) -> None:
    """ZwRestoreKey: replace the key's values and subtree by the hive in ``file``; open
    handles below it make this STATUS_CANNOT_DELETE unless REG_FORCE_RESTORE (they then
    get STATUS_KEY_DELETED); REG_WHOLE_HIVE_VOLATILE restores as volatile keys."""
    legal = C.REG_FORCE_RESTORE | C.REG_WHOLE_HIVE_VOLATILE
    if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~legal:
        raise _fail(S.STATUS_INVALID_PARAMETER, f"bad restore flags {flags!r}")
    with reg._lock:
        entry = reg._entry("ZwRestoreKey", handle, 0)
        _privilege(reg, SE_RESTORE_PRIVILEGE, "ZwRestoreKey")
        obj = entry.obj
        info = REG_RESTORE_KEY_INFORMATION(Object=obj, FileHandle=file, Flags=flags)

        def op() -> NTSTATUS:
            kcb = reg._writable(reg._alive(obj.kcb))
            if kcb.mount is None:
                raise _fail(S.STATUS_ACCESS_DENIED, f"{kcb.path} is not in a loaded hive")
            busy = [
                h
                for h in reg._handles.values()
                if h.handle != handle and h.obj.kcb is not kcb and _below(h.obj.kcb, kcb)
            ]
            if busy and not flags & C.REG_FORCE_RESTORE:
                raise _fail(S.STATUS_CANNOT_DELETE, f"{len(busy)} open handle(s) below the key")
            source = _read_in(file)
            try:
                volatile = bool(flags & C.REG_WHOLE_HIVE_VOLATILE) or kcb.volatile
                _clear(reg, kcb)
                _copy_into(reg, kcb, source.root, volatile)
            finally:
                source.close()
            reg._dirty(kcb)
            reg._notify_change(kcb, C.REG_NOTIFY_CHANGE_NAME | C.REG_NOTIFY_CHANGE_LAST_SET)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreRestoreKey, N.RegNtPostRestoreKey, info, op)
        reg._raise_unless_success(status)


def _below(kcb: Kcb, top: Kcb) -> bool:
    k = kcb.parent
    while k is not None:
        if k is top:
            return True
        k = k.parent
    return False


def _clear(reg: RegistryState, kcb: Kcb) -> None:
    """Delete every subkey (bottom-up, through the namespace so handles see
    STATUS_KEY_DELETED) and every value of ``kcb``."""
    ts = now_filetime()
    for raw in list(store.children(kcb.key)):
        child = reg._ns.child(kcb, store.key_name(raw))
        assert child is not None
        _clear(reg, child)
        reg._ns.delete(child, ts)
        notifycalls.key_deleted(reg, child)
    for name, _, _ in store.value_list(kcb.key):
        _delete_value(kcb.key, name, ts)


def _delete_value(key: Any, name: str, ts: int) -> None:
    if isinstance(key, store.MemKey):
        key.delete_value(name, ts)
    else:
        key.delete_value(name, timestamp=ts)


def _set_value(key: Any, name: str, vtype: int, raw: bytes, ts: int) -> None:
    if isinstance(key, store.MemKey):
        key.set_value(name, vtype, raw, ts)
    else:
        key.set_value(name, raw, vtype, timestamp=ts)


def _copy_into(reg: RegistryState, kcb: Kcb, src: Any, volatile: bool) -> None:
    """Copy ``src``'s values, security and subtree into the (empty) ``kcb``."""
    ts = now_filetime()
    for v in src.values():
        _set_value(kcb.key, str(v.name), int(v.type), bytes(v.raw), ts)
    sd = getattr(src, "security_raw", None)
    if sd:
        kcb.key.security_raw = bytes(sd)
    for sub in src.subkeys():
        try:
            child = reg._ns.create(kcb, str(sub.name), sub.class_name or None, volatile, ts)
        except InvalidArgumentError as exc:
            raise _fail(S.STATUS_INVALID_PARAMETER, str(exc)) from exc
        if store.is_link(sub):
            store.mark_link(child.key)
        _copy_into(reg, child, sub, volatile)


# ---------------------------------------------------------------------------------------
# ZwReplaceKey
# ---------------------------------------------------------------------------------------


def replace_key(
    reg: RegistryState,
    new_file: str | os.PathLike[str],
    handle: int,
    old_file: str | os.PathLike[str],
) -> None:
    """ZwReplaceKey: make ``new_file`` the hive file of the loaded hive whose root
    ``handle`` is, keeping the current file as ``old_file``; the running hive is not
    written any more and the next load of that file name gets the new hive."""
    with reg._lock:
        entry = reg._entry("ZwReplaceKey", handle, 0)
        _privilege(reg, SE_RESTORE_PRIVILEGE, "ZwReplaceKey")
        obj = entry.obj
        info = REG_REPLACE_KEY_INFORMATION(
            Object=obj, OldFileName=str(old_file), NewFileName=str(new_file)
        )

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            mount = kcb.mount
            if mount is None or not kcb.is_hive_root:
                raise _fail(S.STATUS_INVALID_PARAMETER, f"{kcb.path} is not a hive root")
            if mount.file is None or mount.read_only:
                raise _fail(S.STATUS_ACCESS_DENIED, f"{kcb.path} has no writable hive file")
            new, old = Path(new_file), Path(old_file)
            _read_in(new).close()  # a valid hive, or STATUS_REGISTRY_CORRUPT / NOT_FOUND
            if old.exists():
                raise _fail(S.STATUS_OBJECT_NAME_COLLISION, f"{old} exists")
            reg._flush_mount(mount)
            try:
                # The running hive keeps its (old) contents: it is written nowhere any more;
                # the next load of its file name gets the new hive (RegReplaceKey: "the
                # changes take effect the next time the hive is loaded").
                old.write_bytes(mount.file.read_bytes())
                os.replace(new, mount.file)
            except OSError as exc:
                raise _fail(S.STATUS_REGISTRY_IO_FAILED, str(exc)) from exc
            mount.replaced = True
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreReplaceKey, N.RegNtPostReplaceKey, info, op)
        reg._raise_unless_success(status)


# ---------------------------------------------------------------------------------------
# ZwQueryMultipleValueKey
# ---------------------------------------------------------------------------------------


def _align4(n: int) -> int:
    return (n + 3) & ~3


def query_multiple_values(
    reg: RegistryState, handle: int, names: list[str], length: int | None
) -> tuple[list[dict[str, int]], bytes]:
    """ZwQueryMultipleValueKey: the values ``names`` at once, as (KEY_VALUE_ENTRY list,
    value buffer); each entry's DataOffset points into the buffer (data ULONG-aligned).
    A ``length`` below the data size gives STATUS_BUFFER_OVERFLOW with result_length."""
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise _fail(S.STATUS_INVALID_PARAMETER, "value names must be a list of str")
    with reg._lock:
        length = check_length(length)
        entry = reg._entry("ZwQueryMultipleValueKey", handle, C.KEY_QUERY_VALUE)
        obj = entry.obj
        info = REG_QUERY_MULTIPLE_VALUE_KEY_INFORMATION(
            Object=obj, EntryCount=len(names), BufferLength=length
        )

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            entries: list[dict[str, int]] = []
            buf = bytearray()
            for name in names:
                hit = store.find_value(kcb.key, name)
                if hit is None:
                    raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"no value {name!r}")
                _, vtype, raw = hit
                # Each value's data starts ULONG-aligned in the buffer.
                offset = _align4(len(buf))
                buf += bytes(offset - len(buf)) + raw
                entries.append(
                    {"ValueName": 0, "DataLength": len(raw), "DataOffset": offset, "Type": vtype}
                )
            info.RequiredBufferLength = len(buf)
            info.ValueEntries = entries
            if length is not None and length < len(buf):
                info.ValueBuffer = None
                return S.STATUS_BUFFER_OVERFLOW
            info.ValueBuffer = bytes(buf)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(
            N.RegNtPreQueryMultipleValueKey, N.RegNtPostQueryMultipleValueKey, info, op
        )
        if status != S.STATUS_SUCCESS:
            raise NtStatusError(status, "", result_length=info.RequiredBufferLength)
        return list(info.ValueEntries or []), bytes(info.ValueBuffer or b"")


def entries_bytes(entries: list[dict[str, int]]) -> bytes:
    """The KEY_VALUE_ENTRY array as Windows lays it out (x64)."""
    return b"".join(KEY_VALUE_ENTRY.build(e) for e in entries)


# ---------------------------------------------------------------------------------------
# ZwSetInformationKey
# ---------------------------------------------------------------------------------------

#: Exact input sizes per class (anything else: STATUS_INFO_LENGTH_MISMATCH).
_SET_SIZES = {
    C.KeyWriteTimeInformation: 8,
    C.KeyWow64FlagsInformation: 4,
    C.KeyControlFlagsInformation: 4,
    C.KeySetVirtualizationInformation: 4,
    C.KeySetDebugInformation: 4,
    C.KeySetHandleTagsInformation: 4,
    C.KeySetLayerInformation: 4,
}


def set_information_key(reg: RegistryState, handle: int, info_class: int, data: bytes) -> None:
    """ZwSetInformationKey: set KeyWriteTimeInformation (a FILETIME), the Wow64 /
    control / debug flags, the virtualization bits or the handle's tags; needs
    KEY_SET_VALUE, exact sizes (STATUS_INFO_LENGTH_MISMATCH)."""
    try:
        cls = C.KEY_SET_INFORMATION_CLASS(info_class)
    except ValueError:
        raise _fail(S.STATUS_INVALID_INFO_CLASS, f"bad class {info_class!r}") from None
    if cls == C.KEY_SET_INFORMATION_CLASS.MaxKeySetInfoClass:
        raise _fail(S.STATUS_INVALID_INFO_CLASS, f"bad class {info_class!r}")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _fail(S.STATUS_INVALID_PARAMETER, "data must be bytes")
    raw = bytes(data)
    if len(raw) != _SET_SIZES[cls]:
        raise _fail(S.STATUS_INFO_LENGTH_MISMATCH, f"{cls.name} takes {_SET_SIZES[cls]} bytes")
    with reg._lock:
        entry = reg._entry("ZwSetInformationKey", handle, C.KEY_SET_VALUE)
        obj = entry.obj
        info = REG_SET_INFORMATION_KEY_INFORMATION(
            Object=obj,
            KeySetInformationClass=cls,
            KeySetInformation=raw,
            KeySetInformationLength=len(raw),
        )
        value = int.from_bytes(raw, "little")

        def op() -> NTSTATUS:
            kcb = reg._writable(reg._alive(obj.kcb))
            key = kcb.key
            bits = C.REG_NOTIFY_CHANGE_ATTRIBUTES
            try:
                if cls == C.KeyWriteTimeInformation:
                    key.last_written_raw = value
                    bits = C.REG_NOTIFY_CHANGE_LAST_SET
                elif cls == C.KeySetHandleTagsInformation:
                    entry.tags = value
                    return S.STATUS_SUCCESS
                elif cls == C.KeySetLayerInformation:
                    raise _fail(S.STATUS_INVALID_PARAMETER, "regf hives are not layered")
                elif cls == C.KeyWow64FlagsInformation:
                    key.user_flags = value
                elif cls == C.KeyControlFlagsInformation:
                    key.virt_flags = value
                elif cls == C.KeySetDebugInformation:
                    key.debug = value
                else:  # KeySetVirtualizationInformation: VirtualTarget/Store/Source bits
                    if value & ~0x7:
                        raise _fail(S.STATUS_INVALID_PARAMETER, f"bad bits {value:#x}")
                    store.set_virtualization(key, value)
            except InvalidArgumentError as exc:
                raise _fail(S.STATUS_INVALID_PARAMETER, str(exc)) from exc
            reg._dirty(kcb)
            reg._notify_change(kcb, bits)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(
            N.RegNtPreSetInformationKey, N.RegNtPostSetInformationKey, info, op
        )
        reg._raise_unless_success(status)


# ---------------------------------------------------------------------------------------
# ZwQueryObject(ObjectNameInformation)
# ---------------------------------------------------------------------------------------


def query_key_name(reg: RegistryState, handle: int, length: int | None) -> str:
    """ZwQueryObject(ObjectNameInformation) on a key handle: the key's full name. The
    object manager asks the configuration manager for it, through the
    RegNtPre/PostQueryKeyName notifications."""
    with reg._lock:
        length = check_length(length)
        entry = reg._entry("ZwQueryObject", handle, 0)
        obj = entry.obj
        info = REG_QUERY_KEY_NAME(Object=obj, Length=length)

        def op() -> NTSTATUS:
            kcb = obj.kcb
            name = kcb.path
            # OBJECT_NAME_INFORMATION: a UNICODE_STRING (16 bytes on x64) + the name + NUL.
            need = 16 + 2 * store.units(name) + 2
            info.ReturnLength = need
            if length is not None and length < need:
                return S.STATUS_INFO_LENGTH_MISMATCH
            info.ObjectNameInfo = name
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreQueryKeyName, N.RegNtPostQueryKeyName, info, op)
        if status != S.STATUS_SUCCESS:
            raise NtStatusError(status, "", result_length=info.ReturnLength)
        return str(info.ObjectNameInfo or "")


__all__ = [
    "entries_bytes",
    "query_key_name",
    "query_multiple_values",
    "replace_key",
    "restore_key",
    "save_key",
    "set_information_key",
]
