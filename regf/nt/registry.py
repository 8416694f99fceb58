"""``Registry``: a configuration manager over hive files with the kernel's Zw* calls.

Object names are ``\\Registry\\Machine\\...``-style paths (case-insensitive) or names
relative to a root handle. Every call checks its handle (STATUS_INVALID_HANDLE for
closed or unknown ones) and the access granted when it was opened (STATUS_ACCESS_DENIED),
then runs the registered filter callbacks around the operation (see
:mod:`regf.nt.callbacks`), then the operation (STATUS_KEY_DELETED on a deleted key).
Failures raise :class:`~regf.nt.status.NtStatusError`.

Access needed per call, as in Windows: ZwQueryKey KEY_QUERY_VALUE (none for
KeyNameInformation), ZwEnumerateKey KEY_ENUMERATE_SUB_KEYS, ZwQueryValueKey and
ZwEnumerateValueKey KEY_QUERY_VALUE, ZwSetValueKey and ZwDeleteValueKey KEY_SET_VALUE,
ZwDeleteKey DELETE, ZwRenameKey KEY_WRITE, ZwQuerySecurityObject READ_CONTROL
(+ACCESS_SYSTEM_SECURITY for the SACL), ZwSetSecurityObject WRITE_OWNER / WRITE_DAC /
ACCESS_SYSTEM_SECURITY by part, ZwFlushKey and ZwClose nothing. Security descriptors are
stored and returned but not evaluated: any desired access is granted at open time.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from .._accel import upcase
from ..errors import (
    HiveStateError,
    InvalidArgumentError,
    LockedError,
    RegfError,
    SignatureError,
)
from ..format.constants import KeyFlags, ValueType
from ..format.security import SdControl, parse_descriptor
from ..model.edithive import EditHive
from ..model.opening import create, open_hive
from ..model.serialize import now_filetime
from . import constants as C
from . import infoclass as I
from . import store
from .callbacks import (
    REG_CREATE_KEY_INFORMATION,
    REG_DELETE_KEY_INFORMATION,
    REG_DELETE_VALUE_KEY_INFORMATION,
    REG_ENUMERATE_KEY_INFORMATION,
    REG_ENUMERATE_VALUE_KEY_INFORMATION,
    REG_FLUSH_KEY_INFORMATION,
    REG_KEY_HANDLE_CLOSE_INFORMATION,
    REG_LOAD_KEY_INFORMATION,
    REG_POST_OPERATION_INFORMATION,
    REG_QUERY_KEY_INFORMATION,
    REG_QUERY_KEY_SECURITY_INFORMATION,
    REG_QUERY_VALUE_KEY_INFORMATION,
    REG_RENAME_KEY_INFORMATION,
    REG_SET_KEY_SECURITY_INFORMATION,
    REG_SET_VALUE_KEY_INFORMATION,
    REG_UNLOAD_KEY_INFORMATION,
    CallbackTable,
    RegistryCallback,
)
from .constants import REG_NOTIFY_CLASS as N
from .flusher import LazyFlusher
from .namespace import HiveMount, Kcb, KeyObject, Namespace
from .status import NT_SUCCESS, NTSTATUS, NtStatusError
from .verifier import Verifier, Violation

S = NTSTATUS
#: Symbolic links followed while resolving one name before giving up (the object
#: manager's reparse limit).
MAX_REPARSE = 32
#: Handle values are multiples of 4, like Windows handles, and are never reused.
HANDLE_STEP = 4


class _Handle:
    __slots__ = ("granted", "handle", "how", "obj")

    def __init__(self, handle: int, obj: KeyObject, granted: int, how: str) -> None:
        self.handle = handle
        self.obj = obj
        self.granted = granted
        self.how = how


def _fail(status: NTSTATUS, message: str = "") -> NtStatusError:
    return NtStatusError(status, message)


def _check_length(length: object) -> int | None:
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= 0xFFFFFFFF:
        raise _fail(S.STATUS_INVALID_PARAMETER, f"length must be a ULONG, not {length!r}")
    return length


class Registry:
    """A configuration manager: hives loaded into ``\\REGISTRY``, handles, Zw* calls,
    filter callbacks, a lazy flusher and an optional handle verifier.

    Args:
        lazy_flush: seconds between background flushes of dirty hives (Windows flushes
            "every few seconds"), or None for no background flushing.
        verify: True to check the ZwRegistryCreate/ZwRegistryOpen rules and record
            violations in :attr:`violations`; ``"strict"`` to raise
            :class:`~regf.nt.verifier.VerifierError` as well.
    """

    def __init__(self, *, lazy_flush: float | None = 5.0, verify: bool | str = False) -> None:
        if verify not in (False, True, "strict"):
            raise InvalidArgumentError("verify must be False, True or 'strict'")
        if lazy_flush is not None and not lazy_flush > 0:
            raise InvalidArgumentError("lazy_flush must be a positive number of seconds")
        self._lock = threading.RLock()
        self._ns = Namespace()
        self._handles: dict[int, _Handle] = {}
        self._next_handle = HANDLE_STEP
        self._callbacks = CallbackTable()
        self._verifier = Verifier(strict=verify == "strict") if verify else None
        self._mounts: dict[str, HiveMount] = {}
        self._closed = False
        #: Last background-flush failure per hive object path (cleared on success).
        self.flush_errors: dict[str, RegfError] = {}
        self._flusher = LazyFlusher(self._lazy_flush, lazy_flush) if lazy_flush else None

    # ===================================================================================
    # Registry-level management
    # ===================================================================================

    @property
    def violations(self) -> list[Violation]:
        """Verifier rule violations so far (always empty without ``verify``)."""
        return self._verifier.violations if self._verifier is not None else []

    @property
    def hives(self) -> dict[str, EditHive]:
        """Loaded hives by object path (as given to :meth:`load_hive`)."""
        with self._lock:
            return {p: m.hive for p, m in self._mounts.items()}

    def open_handles(self) -> list[int]:
        """Handles currently open."""
        with self._lock:
            return sorted(self._handles)

    def load_hive(
        self,
        object_path: str,
        source: str | os.PathLike[str] | EditHive,
        *,
        create_new: bool = False,
    ) -> None:
        """NtLoadKey: make the hive ``source`` appear at ``object_path``.

        ``source`` is a hive file (opened with ``regf.open(path, mode="r+")``: its writer
        lock is held while it is loaded, a dirty hive is recovered first, and flushes go
        through its ``.LOG1``/``.LOG2``; a missing file is created empty when
        ``create_new`` and written whole on each flush) or an already open ``EditHive`` (left
        open on unload; do not edit it directly while it is loaded: the registry caches
        its keys). ``object_path`` must name a free key below a key of the master hive,
        e.g. ``\\Registry\\Machine\\SOFTWARE``.
        """
        with self._lock:
            self._check_open()
            parent, name = self._mount_target(object_path)
            label = str(source) if not isinstance(source, EditHive) else repr(source)
            info = REG_LOAD_KEY_INFORMATION(KeyName=object_path, SourceFile=label)

            def op() -> NTSTATUS:
                hive, file, owned = self._open_source(source, create_new)
                mount = HiveMount(object_path, hive, file, root=None, owned=owned)  # type: ignore[arg-type]
                self._ns.mount(parent, name, mount)
                self._mounts[object_path] = mount
                info.Object = KeyObject(mount.root)
                return S.STATUS_SUCCESS

            status = self._with_callbacks(N.RegNtPreLoadKey, N.RegNtPostLoadKey, info, op)
            self._raise_unless_success(status)

    def _mount_target(self, object_path: str) -> tuple[Kcb, str]:
        start, parts = self._split(object_path, None)
        if not parts:
            raise _fail(S.STATUS_INVALID_PARAMETER, "cannot load a hive over \\REGISTRY")
        parent = start
        for part in parts[:-1]:
            nxt = self._ns.child(parent, part)
            if nxt is None:
                raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"{object_path}: parent missing")
            parent = nxt
        if parent.mount is not None or not isinstance(parent.key, store.MemKey):
            raise _fail(S.STATUS_INVALID_PARAMETER, "hives load only below master-hive keys")
        if self._ns.child(parent, parts[-1]) is not None:
            raise _fail(S.STATUS_OBJECT_NAME_COLLISION, f"{object_path} exists")
        if not store.check_key_name(parts[-1]):
            raise _fail(S.STATUS_INVALID_PARAMETER, f"bad key name {parts[-1]!r}")
        return parent, parts[-1]

    @staticmethod
    def _open_source(
        source: str | os.PathLike[str] | EditHive, create_new: bool
    ) -> tuple[EditHive, Path | None, bool]:
        if isinstance(source, EditHive):
            if source.closed:
                raise _fail(S.STATUS_INVALID_PARAMETER, "the hive is closed")
            return source, source.path, False
        if not isinstance(source, str | os.PathLike):
            raise _fail(S.STATUS_INVALID_PARAMETER, "source must be a path or an EditHive")
        path = Path(source)
        if not path.exists():
            if not create_new:
                raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"no hive file {path}")
            return create(path), path, True
        try:
            hive: Any = open_hive(path, mode="r+")
        except SignatureError as exc:
            raise _fail(S.STATUS_NOT_REGISTRY_FILE, str(exc)) from exc
        except LockedError as exc:  # another writer has the file open
            raise _fail(S.STATUS_SHARING_VIOLATION, str(exc)) from exc
        except PermissionError as exc:  # e.g. a read-only hive file
            raise _fail(S.STATUS_ACCESS_DENIED, str(exc)) from exc
        except RegfError as exc:
            raise _fail(S.STATUS_REGISTRY_CORRUPT, str(exc)) from exc
        except OSError as exc:
            raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, str(exc)) from exc
        return hive, path, True

    def unload_hive(self, object_path: str, *, force: bool = False) -> None:
        """NtUnloadKey: flush the hive at ``object_path`` and take it out of the namespace.

        Open handles to its keys make this fail with STATUS_CANNOT_DELETE unless
        ``force`` (then those handles get STATUS_KEY_DELETED from now on).
        """
        with self._lock:
            self._check_open()
            mount = self._mount_at(object_path)
            info = REG_UNLOAD_KEY_INFORMATION(Object=KeyObject(mount.root))

            def op() -> NTSTATUS:
                busy = [h for h in self._handles.values() if h.obj.kcb.mount is mount]
                if busy and not force:
                    raise _fail(S.STATUS_CANNOT_DELETE, f"{len(busy)} open handle(s) in the hive")
                self._flush_mount(mount)
                self._ns.unmount(mount.root)
                del self._mounts[mount.object_path]
                self.flush_errors.pop(mount.object_path, None)
                if mount.owned:
                    mount.hive.close()
                return S.STATUS_SUCCESS

            status = self._with_callbacks(N.RegNtPreUnLoadKey, N.RegNtPostUnLoadKey, info, op)
            self._raise_unless_success(status)

    def _mount_at(self, object_path: str) -> HiveMount:
        kcb = self._resolve_existing(object_path, None, open_link=True)
        mount = kcb.mount
        if mount is None or mount.root is not kcb:
            raise _fail(S.STATUS_INVALID_PARAMETER, f"{object_path} is not a hive root")
        return mount

    def flush_all(self) -> None:
        """Flush every dirty hive now (what the lazy flusher does)."""
        with self._lock:
            self._check_open()
            for mount in list(self._mounts.values()):
                self._flush_mount(mount)

    def _lazy_flush(self) -> None:
        with self._lock:
            if self._closed:
                return
            for mount in list(self._mounts.values()):
                try:
                    self._flush_mount(mount)
                except NtStatusError as exc:
                    self.flush_errors[mount.object_path] = exc
                else:
                    self.flush_errors.pop(mount.object_path, None)

    def _flush_mount(self, mount: HiveMount) -> None:
        if not mount.dirty:
            return
        try:
            mount.hive.flush()
        except (RegfError, OSError) as exc:
            raise _fail(S.STATUS_REGISTRY_IO_FAILED, f"{mount.object_path}: {exc}") from exc
        mount.dirty = False

    def close(self) -> None:
        """Stop the lazy flusher, flush every dirty hive and unload everything.

        Raises the first flush failure (NtStatusError) after closing everything else.
        """
        if self._flusher is not None:
            self._flusher.stop()
        with self._lock:
            if self._closed:
                return
            first: NtStatusError | None = None
            for mount in list(self._mounts.values()):
                try:
                    self._flush_mount(mount)
                except NtStatusError as exc:
                    first = first or exc
                if mount.owned:
                    with contextlib.suppress(RegfError, OSError):
                        if mount.dirty:
                            mount.hive.discard()
                        else:
                            mount.hive.close()
                self._ns.unmount(mount.root)
            self._mounts.clear()
            self._handles.clear()
            self._closed = True
            if first is not None:
                raise first

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise HiveStateError("the registry is closed")

    @contextlib.contextmanager
    def dispatch(self, name: str = "DispatchRoutine") -> Iterator[None]:
        """A driver dispatch routine: with ``verify``, handles opened inside the block and
        still open when it ends are reported (ZwRegistryCreate/Open rule)."""
        verifier = self._verifier
        if verifier is None:
            yield
            return
        frame = verifier.enter(name)
        try:
            yield
        except BaseException:
            verifier.leave(frame, raising=True)
            raise
        verifier.leave(frame)

    # ===================================================================================
    # Callbacks and objects
    # ===================================================================================

    def CmRegisterCallbackEx(self, callback: RegistryCallback, altitude: str) -> int:
        """Register a registry filter callback at ``altitude`` (a decimal string);
        returns the cookie for :meth:`CmUnRegisterCallback`."""
        return self._callbacks.register(callback, altitude)

    def CmUnRegisterCallback(self, cookie: int) -> None:
        """Unregister the callback registered under ``cookie``."""
        self._callbacks.unregister(cookie)

    def CmSetCallbackObjectContext(self, obj: KeyObject, cookie: int, context: Any) -> Any:
        """Attach ``context`` to key object ``obj`` for callback ``cookie`` (seen as
        ``ObjectContext`` in later notifications); returns the previous context."""
        if not isinstance(obj, KeyObject):
            raise _fail(S.STATUS_INVALID_PARAMETER, "not a key object")
        return self._callbacks.set_object_context(cookie, obj, context)

    def CmCallbackGetKeyObjectID(self, cookie: int, obj: KeyObject) -> tuple[int, str]:
        """(an ID unique to the key, its full object name) for a key object."""
        if not isinstance(obj, KeyObject):
            raise _fail(S.STATUS_INVALID_PARAMETER, "not a key object")
        return id(obj.kcb), obj.name

    def ObReferenceObjectByHandle(self, handle: int, desired_access: int = 0) -> KeyObject:
        """The key object ``handle`` refers to (checking ``desired_access``)."""
        with self._lock:
            return self._entry("ObReferenceObjectByHandle", handle, desired_access).obj

    # ===================================================================================
    # Internals shared by the calls
    # ===================================================================================

    def _entry(self, call: str, handle: object, need: int) -> _Handle:
        self._check_open()
        if self._verifier is not None:
            self._verifier.check_use(call, handle)
        entry = self._handles.get(handle) if isinstance(handle, int) else None
        if entry is None:
            raise _fail(S.STATUS_INVALID_HANDLE, f"{call}: handle {handle!r} is not open")
        if need & ~entry.granted:
            raise _fail(
                S.STATUS_ACCESS_DENIED,
                f"{call} needs access {need:#x}; handle {handle:#x} has {entry.granted:#x}",
            )
        return entry

    @staticmethod
    def _alive(kcb: Kcb) -> Kcb:
        if kcb.deleted:
            raise _fail(S.STATUS_KEY_DELETED, f"{kcb.name} has been deleted")
        return kcb

    def _dirty(self, kcb: Kcb) -> None:
        """``kcb``'s stable storage changed: its hive needs a flush."""
        if kcb.mount is not None and not kcb.volatile:
            kcb.mount.dirty = True

    def _with_callbacks(self, pre: N, post: N, info: Any, op: Callable[[], NTSTATUS]) -> NTSTATUS:
        """Pre-callbacks, ``op`` (which fills ``info``'s outputs), post-callbacks.

        Returns the status the caller gets. If ``op`` raised NtStatusError and the
        callbacks did not change the outcome, that exception propagates unchanged.
        """
        if not len(self._callbacks):
            return op()
        status, seen = self._callbacks.pre(pre, info)
        if status == S.STATUS_CALLBACK_BYPASS:
            return S.STATUS_SUCCESS
        if not NT_SUCCESS(status):
            raise _fail(status, f"blocked by a registry callback ({pre.name})")
        error: NtStatusError | None = None
        try:
            status = op()
        except NtStatusError as exc:
            error, status = exc, exc.status
        obj = getattr(info, "Object", None)
        if obj is None and NT_SUCCESS(status):
            obj = getattr(info, "ResultObject", None)
        post_info = REG_POST_OPERATION_INFORMATION(
            Object=obj, Status=status, PreInformation=info, ReturnStatus=status
        )
        final = self._callbacks.post(post, post_info, seen)
        if error is not None and final == error.status:
            raise error
        return final

    @staticmethod
    def _raise_unless_success(status: NTSTATUS, info: Any = None, out: str = "") -> None:
        if status == S.STATUS_SUCCESS:
            return
        if NT_SUCCESS(status):  # informational codes from a callback: still success
            return
        result_length = getattr(info, "ResultLength", None) if info is not None else None
        partial = getattr(info, out, None) if (info is not None and out) else None
        raise NtStatusError(
            status,
            "",
            result_length=result_length,
            info=partial if status == S.STATUS_BUFFER_OVERFLOW else None,
        )

    def _split(self, name: object, root: Kcb | None) -> tuple[Kcb, list[str]]:
        """(starting KCB, name components) for an object name."""
        if name is None:
            name = ""
        if not isinstance(name, str):
            raise _fail(S.STATUS_OBJECT_NAME_INVALID, f"name must be str, not {type(name)}")
        if root is not None:
            if name.startswith("\\"):
                raise _fail(S.STATUS_OBJECT_PATH_SYNTAX_BAD, "relative name starts with '\\'")
            return root, [p for p in name.split("\\") if p]
        if not name.startswith("\\"):
            raise _fail(S.STATUS_OBJECT_PATH_SYNTAX_BAD, f"{name!r} is not an absolute name")
        parts = [p for p in name.split("\\") if p]
        if not parts:
            raise _fail(S.STATUS_OBJECT_TYPE_MISMATCH, "the object root is not a key")
        if upcase(parts[0]) != "REGISTRY":
            status = (
                S.STATUS_OBJECT_PATH_NOT_FOUND if len(parts) > 1 else S.STATUS_OBJECT_NAME_NOT_FOUND
            )
            raise _fail(status, f"{name!r} is outside \\REGISTRY")
        return self._ns.root, parts[1:]

    def _root_kcb(self, call: str, root: object) -> Kcb | None:
        if root is None:
            return None
        # Opening relative to a root handle needs no access on it (the object manager
        # references RootDirectory with access 0); a deleted root cannot be parsed.
        return self._alive(self._entry(call, root, 0).obj.kcb)

    def _link_target(self, kcb: Kcb) -> str:
        hit = store.find_value(kcb.key, C.SYMBOLIC_LINK_VALUE_NAME)
        if hit is None or hit[1] != ValueType.REG_LINK:
            raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"link {kcb.path} has no target")
        raw = hit[2]
        return raw[: len(raw) & ~1].decode("utf-16-le", "surrogatepass")

    def _walk(
        self,
        start: Kcb,
        parts: list[str],
        *,
        open_link: bool,
        create: Callable[[Kcb, str], Kcb] | None = None,
        create_link: bool = False,
    ) -> tuple[Kcb, int]:
        """Resolve ``parts`` below ``start`` following symbolic links; creates the last
        component with ``create`` when it is missing. Returns (kcb, disposition)."""
        kcb = self._alive(start)
        i = 0
        reparses = 0
        while i < len(parts):
            part = parts[i]
            last = i == len(parts) - 1
            child = self._ns.child(kcb, part)
            if child is None:
                if last and create is not None:
                    return create(kcb, part), C.REG_CREATED_NEW_KEY
                raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"no key {part!r} under {kcb.path}")
            if last and create_link:
                raise _fail(S.STATUS_OBJECT_NAME_COLLISION, f"{child.path} exists")
            if store.is_link(child.key) and not (last and open_link):
                reparses += 1
                if reparses > MAX_REPARSE:
                    raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, "too many symbolic links")
                target = self._link_target(child)
                try:
                    kcb, new_parts = self._split(target, None)
                except NtStatusError as exc:
                    raise _fail(
                        S.STATUS_OBJECT_NAME_NOT_FOUND, f"bad link target {target!r}"
                    ) from exc
                parts = new_parts + parts[i + 1 :]
                i = 0
                continue
            kcb = child
            i += 1
        return kcb, C.REG_OPENED_EXISTING_KEY

    def _resolve_existing(self, name: str, root: Kcb | None, *, open_link: bool) -> Kcb:
        start, parts = self._split(name, root)
        return self._walk(start, parts, open_link=open_link)[0]

    def _new_handle(self, call: str, obj: KeyObject, granted: int) -> int:
        handle = self._next_handle
        self._next_handle += HANDLE_STEP
        self._handles[handle] = _Handle(handle, obj, granted, call)
        if self._verifier is not None:
            self._verifier.opened(call, handle, id(obj.kcb), obj.kcb.path)
        return handle

    # ===================================================================================
    # ZwCreateKey / ZwOpenKey
    # ===================================================================================

    def ZwCreateKey(
        self,
        name: str | None,
        desired_access: int,
        root: int | None = None,
        class_name: str | None = None,
        create_options: int = 0,
        *,
        title_index: int = 0,
    ) -> tuple[int, int]:
        """Open or create a key; returns (handle, disposition).

        ``create_options``: REG_OPTION_VOLATILE (memory only; a stable key under a
        volatile one fails with STATUS_CHILD_MUST_BE_VOLATILE), REG_OPTION_CREATE_LINK
        (a symbolic link; set its ``SymbolicLinkValue`` REG_LINK value next),
        REG_OPTION_OPEN_LINK (open a link itself instead of its target).
        Missing parents are not created (STATUS_OBJECT_NAME_NOT_FOUND).
        """
        return self._create_or_open(
            "ZwCreateKey", name, desired_access, root, class_name, create_options, create=True
        )

    def ZwOpenKey(
        self,
        name: str | None,
        desired_access: int,
        root: int | None = None,
        open_options: int = 0,
    ) -> int:
        """Open an existing key; returns the handle. ``open_options`` may hold
        REG_OPTION_OPEN_LINK (ZwOpenKeyEx) to open a symbolic link itself."""
        handle, _ = self._create_or_open(
            "ZwOpenKey", name, desired_access, root, None, open_options, create=False
        )
        return handle

    def _create_or_open(
        self,
        call: str,
        name: str | None,
        desired_access: int,
        root: int | None,
        class_name: str | None,
        options: int,
        *,
        create: bool,
    ) -> tuple[int, int]:
        with self._lock:
            self._check_open()
            if (
                isinstance(options, bool)
                or not isinstance(options, int)
                or options & ~C.REG_LEGAL_OPTION
            ):
                raise _fail(S.STATUS_INVALID_PARAMETER, f"bad options {options!r}")
            if (
                isinstance(desired_access, bool)
                or not isinstance(desired_access, int)
                or not (0 <= desired_access <= 0xFFFFFFFF)
            ):
                raise _fail(S.STATUS_INVALID_PARAMETER, "desired_access must be an ACCESS_MASK")
            if class_name is not None and not isinstance(class_name, str):
                raise _fail(S.STATUS_INVALID_PARAMETER, "class_name must be str")
            root_kcb = self._root_kcb(call, root)
            info = REG_CREATE_KEY_INFORMATION(
                CompleteName=name or "",
                RootObject=self._handles[root].obj if root is not None else None,
                CreateOptions=options,
                Class=class_name,
                DesiredAccess=desired_access,
            )
            granted = C.map_generic_access(desired_access)

            def op() -> NTSTATUS:
                start, parts = self._split(name, root_kcb)
                volatile = bool(options & C.REG_OPTION_VOLATILE)
                link = bool(options & C.REG_OPTION_CREATE_LINK) and create

                def make(parent: Kcb, part: str) -> Kcb:
                    return self._create_child(parent, part, class_name or None, volatile, link)

                kcb, disposition = self._walk(
                    start,
                    parts,
                    open_link=bool(options & C.REG_OPTION_OPEN_LINK),
                    create=make if create else None,
                    create_link=link,
                )
                info.ResultObject = KeyObject(kcb)
                info.Disposition = disposition
                info.GrantedAccess = granted
                return S.STATUS_SUCCESS

            pre, post = (
                (N.RegNtPreCreateKeyEx, N.RegNtPostCreateKeyEx)
                if create
                else (N.RegNtPreOpenKeyEx, N.RegNtPostOpenKeyEx)
            )
            status = self._with_callbacks(pre, post, info, op)
            self._raise_unless_success(status)
            obj = info.ResultObject
            if not isinstance(obj, KeyObject) or obj.deleted:
                raise _fail(S.STATUS_INVALID_PARAMETER, f"{call}: no valid ResultObject")
            disposition = info.Disposition or C.REG_OPENED_EXISTING_KEY
            if self._verifier is not None:
                self._verifier.check_open(call, id(obj.kcb), obj.kcb.path)
            return self._new_handle(call, obj, granted), disposition

    def _create_child(
        self, parent: Kcb, name: str, class_name: str | None, volatile: bool, link: bool
    ) -> Kcb:
        if not store.check_key_name(name):
            raise _fail(S.STATUS_INVALID_PARAMETER, f"bad key name {name!r}")
        if class_name is not None and 2 * store.units(class_name) > 0xFFFF:
            raise _fail(S.STATUS_INVALID_PARAMETER, "class name too long")
        if not volatile and parent.volatile:
            raise _fail(
                S.STATUS_CHILD_MUST_BE_VOLATILE,
                f"cannot create a stable key under volatile {parent.path}",
            )
        try:
            kcb = self._ns.create(parent, name, class_name, volatile, now_filetime())
        except InvalidArgumentError as exc:  # depth limit, ...
            raise _fail(S.STATUS_INVALID_PARAMETER, str(exc)) from exc
        if link:
            store.mark_link(kcb.key)
        self._dirty(parent)
        self._dirty(kcb)
        return kcb

    # ===================================================================================
    # Values
    # ===================================================================================

    def ZwSetValueKey(
        self,
        handle: int,
        name: str | None,
        type: int,
        data: bytes | bytearray | memoryview | None,
        *,
        title_index: int = 0,
    ) -> None:
        """Create or replace the value ``name`` (None or "" is the default value) with
        ``data`` stored exactly as given (for REG_*SZ types include the terminator)."""
        with self._lock:
            entry = self._entry("ZwSetValueKey", handle, C.KEY_SET_VALUE)
            vname = name or ""
            if not isinstance(vname, str):
                raise _fail(S.STATUS_INVALID_PARAMETER, "value name must be str or None")
            if isinstance(type, bool) or not isinstance(type, int) or not 0 <= type <= 0xFFFFFFFF:
                raise _fail(S.STATUS_INVALID_PARAMETER, f"bad value type {type!r}")
            if data is None:
                data = b""
            if not isinstance(data, bytes | bytearray | memoryview):
                raise _fail(S.STATUS_INVALID_PARAMETER, "data must be bytes")
            raw = bytes(data)
            obj = entry.obj
            info = REG_SET_VALUE_KEY_INFORMATION(
                Object=obj,
                ValueName=vname,
                TitleIndex=title_index,
                Type=type,
                Data=raw,
                DataSize=len(raw),
            )

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                if not store.check_value_name(vname):
                    raise _fail(S.STATUS_INVALID_PARAMETER, "value name too long")
                ts = now_filetime()
                key = kcb.key
                try:
                    if isinstance(key, store.MemKey):
                        key.set_value(vname, type, raw, ts)
                    else:
                        key.set_value(vname, raw, type, timestamp=ts)
                except InvalidArgumentError as exc:
                    raise _fail(S.STATUS_INVALID_PARAMETER, str(exc)) from exc
                self._dirty(kcb)
                return S.STATUS_SUCCESS

            status = self._with_callbacks(N.RegNtPreSetValueKey, N.RegNtPostSetValueKey, info, op)
            self._raise_unless_success(status)

    def ZwDeleteValueKey(self, handle: int, name: str | None) -> None:
        """Delete the value ``name`` (STATUS_OBJECT_NAME_NOT_FOUND if there is none)."""
        with self._lock:
            entry = self._entry("ZwDeleteValueKey", handle, C.KEY_SET_VALUE)
            vname = name or ""
            if not isinstance(vname, str):
                raise _fail(S.STATUS_INVALID_PARAMETER, "value name must be str or None")
            obj = entry.obj
            info = REG_DELETE_VALUE_KEY_INFORMATION(Object=obj, ValueName=vname)

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                key = kcb.key
                ts = now_filetime()
                if isinstance(key, store.MemKey):
                    found = key.delete_value(vname, ts)
                else:
                    found = store.find_value(key, vname) is not None
                    if found:
                        key.delete_value(vname, timestamp=ts)
                if not found:
                    raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"no value {vname!r}")
                self._dirty(kcb)
                return S.STATUS_SUCCESS

            status = self._with_callbacks(
                N.RegNtPreDeleteValueKey, N.RegNtPostDeleteValueKey, info, op
            )
            self._raise_unless_success(status)

    def ZwQueryValueKey(
        self,
        handle: int,
        name: str | None,
        info_class: int,
        length: int | None = None,
    ) -> I.InfoStruct:
        """The value ``name`` as a KEY_VALUE_*_INFORMATION structure.

        With ``length`` the buffer protocol applies: STATUS_BUFFER_TOO_SMALL (no data) or
        STATUS_BUFFER_OVERFLOW (partial data in the error's ``info``), both with
        ``result_length``.
        """
        with self._lock:
            cls = self._value_class(info_class)
            length = _check_length(length)
            entry = self._entry("ZwQueryValueKey", handle, C.KEY_QUERY_VALUE)
            vname = name or ""
            if not isinstance(vname, str):
                raise _fail(S.STATUS_INVALID_PARAMETER, "value name must be str or None")
            obj = entry.obj
            info = REG_QUERY_VALUE_KEY_INFORMATION(
                Object=obj, ValueName=vname, KeyValueInformationClass=cls, Length=length
            )

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                hit = store.find_value(kcb.key, vname)
                if hit is None:
                    raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"no value {vname!r}")
                full = _value_info(cls, *hit)
                status, out = I.fit(full, length)
                info.KeyValueInformation, info.ResultLength = out, full.result_length
                return status

            status = self._with_callbacks(
                N.RegNtPreQueryValueKey, N.RegNtPostQueryValueKey, info, op
            )
            self._raise_unless_success(status, info, "KeyValueInformation")
            result: I.InfoStruct = info.KeyValueInformation
            return result

    def ZwEnumerateValueKey(
        self,
        handle: int,
        index: int,
        info_class: int,
        length: int | None = None,
    ) -> I.InfoStruct:
        """The ``index``-th value (stored order); STATUS_NO_MORE_ENTRIES past the end."""
        with self._lock:
            cls = self._value_class(info_class)
            length = _check_length(length)
            entry = self._entry("ZwEnumerateValueKey", handle, C.KEY_QUERY_VALUE)
            obj = entry.obj
            info = REG_ENUMERATE_VALUE_KEY_INFORMATION(
                Object=obj, Index=index, KeyValueInformationClass=cls, Length=length
            )

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                vals = store.value_list(kcb.key)
                if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                    raise _fail(S.STATUS_INVALID_PARAMETER, f"bad index {index!r}")
                if index >= len(vals):
                    raise _fail(S.STATUS_NO_MORE_ENTRIES, f"index {index} of {len(vals)}")
                full = _value_info(cls, *vals[index])
                status, out = I.fit(full, length)
                info.KeyValueInformation, info.ResultLength = out, full.result_length
                return status

            status = self._with_callbacks(
                N.RegNtPreEnumerateValueKey, N.RegNtPostEnumerateValueKey, info, op
            )
            self._raise_unless_success(status, info, "KeyValueInformation")
            result: I.InfoStruct = info.KeyValueInformation
            return result

    @staticmethod
    def _value_class(info_class: int) -> C.KEY_VALUE_INFORMATION_CLASS:
        try:
            cls = C.KEY_VALUE_INFORMATION_CLASS(info_class)
        except ValueError:
            raise _fail(
                S.STATUS_INVALID_PARAMETER, f"bad value information class {info_class!r}"
            ) from None
        if cls not in _VALUE_BUILDERS:
            raise _fail(S.STATUS_INVALID_PARAMETER, f"{cls.name} is not supported")
        return cls

    # ===================================================================================
    # Keys: query, enumerate, delete, rename, flush, close
    # ===================================================================================

    def ZwQueryKey(self, handle: int, info_class: int, length: int | None = None) -> I.InfoStruct:
        """Information about the key as a KEY_*_INFORMATION structure (Basic, Node, Full,
        Name, Cached); ``length`` follows the buffer protocol (see ZwQueryValueKey)."""
        with self._lock:
            cls = self._key_class(info_class, enumerate_=False)
            length = _check_length(length)
            need = 0 if cls == C.KeyNameInformation else C.KEY_QUERY_VALUE
            entry = self._entry("ZwQueryKey", handle, need)
            obj = entry.obj
            info = REG_QUERY_KEY_INFORMATION(Object=obj, KeyInformationClass=cls, Length=length)

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                full = self._key_info(cls, kcb, kcb.key, kcb.name)
                status, out = I.fit(full, length)
                info.KeyInformation, info.ResultLength = out, full.result_length
                return status

            status = self._with_callbacks(N.RegNtPreQueryKey, N.RegNtPostQueryKey, info, op)
            self._raise_unless_success(status, info, "KeyInformation")
            result: I.InfoStruct = info.KeyInformation
            return result

    def ZwEnumerateKey(
        self, handle: int, index: int, info_class: int, length: int | None = None
    ) -> I.InfoStruct:
        """The ``index``-th subkey (stable ones in Windows order, then volatile ones) as
        KEY_BASIC/NODE/FULL_INFORMATION; STATUS_NO_MORE_ENTRIES past the end."""
        with self._lock:
            cls = self._key_class(info_class, enumerate_=True)
            length = _check_length(length)
            entry = self._entry("ZwEnumerateKey", handle, C.KEY_ENUMERATE_SUB_KEYS)
            obj = entry.obj
            info = REG_ENUMERATE_KEY_INFORMATION(
                Object=obj, Index=index, KeyInformationClass=cls, Length=length
            )

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                    raise _fail(S.STATUS_INVALID_PARAMETER, f"bad index {index!r}")
                subs = self._ns.subkeys(kcb)
                if index >= len(subs):
                    raise _fail(S.STATUS_NO_MORE_ENTRIES, f"index {index} of {len(subs)}")
                raw = subs[index]
                child = self._ns.kcb_for(kcb, raw)
                key = child.key if child is not None else raw
                full = self._key_info(cls, child, key, store.key_name(raw))
                status, out = I.fit(full, length)
                info.KeyInformation, info.ResultLength = out, full.result_length
                return status

            status = self._with_callbacks(N.RegNtPreEnumerateKey, N.RegNtPostEnumerateKey, info, op)
            self._raise_unless_success(status, info, "KeyInformation")
            result: I.InfoStruct = info.KeyInformation
            return result

    @staticmethod
    def _key_class(info_class: int, *, enumerate_: bool) -> C.KEY_INFORMATION_CLASS:
        try:
            cls = C.KEY_INFORMATION_CLASS(info_class)
        except ValueError:
            raise _fail(
                S.STATUS_INVALID_PARAMETER, f"bad key information class {info_class!r}"
            ) from None
        if enumerate_ and cls not in I.ENUMERATE_KEY_CLASSES:
            raise _fail(S.STATUS_INVALID_PARAMETER, f"ZwEnumerateKey does not take {cls.name}")
        if cls not in _KEY_CLASSES:
            raise _fail(S.STATUS_NOT_IMPLEMENTED, f"{cls.name} is not implemented")
        return cls

    def _key_info(
        self, cls: C.KEY_INFORMATION_CLASS, kcb: Kcb | None, key: Any, name: str
    ) -> I.InfoStruct:
        lw = store.last_written(key)
        if cls == C.KeyBasicInformation:
            return I.KEY_BASIC_INFORMATION.make(lw, name)
        if cls == C.KeyNodeInformation:
            return I.KEY_NODE_INFORMATION.make(lw, name, store.class_name(key))
        if cls == C.KeyNameInformation:
            assert kcb is not None
            return I.KEY_NAME_INFORMATION.make(kcb.path)
        m = store.maxima(key)
        subkeys = store.child_count(key)
        values = store.value_count(key)
        if cls == C.KeyFullInformation:
            return I.KEY_FULL_INFORMATION.make(
                lw,
                store.class_name(key),
                subkeys=subkeys,
                max_name_len=m.name,
                max_class_len=m.class_,
                values=values,
                max_value_name_len=m.value_name,
                max_value_data_len=m.value_data,
            )
        return I.KEY_CACHED_INFORMATION.make(
            lw,
            subkeys=subkeys,
            max_name_len=m.name,
            values=values,
            max_value_name_len=m.value_name,
            max_value_data_len=m.value_data,
            name_length=store.wide_len(name),
        )

    def ZwDeleteKey(self, handle: int) -> None:
        """Delete the key (STATUS_CANNOT_DELETE while it has subkeys or is a hive root).
        The handle stays open (close it); other calls on it get STATUS_KEY_DELETED."""
        with self._lock:
            entry = self._entry("ZwDeleteKey", handle, C.DELETE)
            obj = entry.obj
            info = REG_DELETE_KEY_INFORMATION(Object=obj)

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                if kcb.is_hive_root or store.flags(kcb.holder) & KeyFlags.NO_DELETE:
                    raise _fail(S.STATUS_CANNOT_DELETE, f"{kcb.path} cannot be deleted")
                if store.child_count(kcb.key):
                    raise _fail(S.STATUS_CANNOT_DELETE, f"{kcb.path} has subkeys")
                assert kcb.parent is not None
                self._ns.delete(kcb, now_filetime())
                self._dirty(kcb.parent)
                return S.STATUS_SUCCESS

            status = self._with_callbacks(N.RegNtPreDeleteKey, N.RegNtPostDeleteKey, info, op)
            self._raise_unless_success(status)
            if self._verifier is not None:
                self._verifier.deleted(handle)

    def ZwRenameKey(self, handle: int, new_name: str) -> None:
        """Rename the key to ``new_name`` (a name, not a path). STATUS_CANNOT_DELETE if a
        sibling already has that name (including the key itself in other case),
        STATUS_ACCESS_DENIED for hive roots and master-hive keys."""
        with self._lock:
            entry = self._entry("ZwRenameKey", handle, C.KEY_WRITE)
            obj = entry.obj
            if not isinstance(new_name, str) or not store.check_key_name(new_name):
                raise _fail(S.STATUS_INVALID_PARAMETER, f"bad key name {new_name!r}")
            info = REG_RENAME_KEY_INFORMATION(Object=obj, NewName=new_name)

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                parent = kcb.parent
                if kcb.is_hive_root or kcb.mount is None or parent is None:
                    raise _fail(S.STATUS_ACCESS_DENIED, f"{kcb.path} cannot be renamed")
                if self._ns.child(parent, new_name) is not None:
                    raise _fail(S.STATUS_CANNOT_DELETE, f"{new_name!r} exists under {parent.path}")
                self._ns.rename(kcb, new_name, now_filetime())
                self._dirty(parent)
                self._dirty(kcb)
                return S.STATUS_SUCCESS

            status = self._with_callbacks(N.RegNtPreRenameKey, N.RegNtPostRenameKey, info, op)
            self._raise_unless_success(status)

    def ZwFlushKey(self, handle: int) -> None:
        """Write the key's whole hive to disk now (returns when it is written).

        A hive file loaded from disk is flushed in place as Windows does: its dirty pages
        become one log entry in ``.LOG1``/``.LOG2``, then the primary is reconciled.

        Keys in the master hive or volatile keys need nothing written. A hive that cannot
        be flushed gives STATUS_REGISTRY_IO_FAILED.
        """
        with self._lock:
            entry = self._entry("ZwFlushKey", handle, 0)
            obj = entry.obj
            info = REG_FLUSH_KEY_INFORMATION(Object=obj)

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                if kcb.mount is not None:
                    self._flush_mount(kcb.mount)
                return S.STATUS_SUCCESS

            status = self._with_callbacks(N.RegNtPreFlushKey, N.RegNtPostFlushKey, info, op)
            self._raise_unless_success(status)

    def ZwClose(self, handle: int) -> None:
        """Close a handle (works on handles to deleted keys; cannot be blocked)."""
        with self._lock:
            entry = self._entry("ZwClose", handle, 0)
            obj = entry.obj
            del self._handles[handle]
            if self._verifier is not None:
                self._verifier.closed(handle)
            if len(self._callbacks):
                info = REG_KEY_HANDLE_CLOSE_INFORMATION(Object=obj)
                # Windows ignores what close callbacks return: the handle is gone anyway.
                _, seen = self._callbacks.pre(N.RegNtPreKeyHandleClose, info, blockable=False)
                post = REG_POST_OPERATION_INFORMATION(
                    Object=obj, Status=S.STATUS_SUCCESS, PreInformation=info
                )
                self._callbacks.post(N.RegNtPostKeyHandleClose, post, seen)
                for reg, context in self._callbacks.drop_object(obj):
                    cleanup = _ContextCleanup(Object=obj, ObjectContext=context)
                    reg.callback(N.RegNtCallbackObjectContextCleanup, cleanup)

    # ===================================================================================
    # Security
    # ===================================================================================

    def ZwQuerySecurityObject(
        self, handle: int, security_information: int, length: int | None = None
    ) -> bytes:
        """The key's security descriptor (self-relative) with the parts selected by
        ``security_information`` (OWNER/GROUP/DACL/SACL_SECURITY_INFORMATION).
        A ``length`` below the size gives STATUS_BUFFER_TOO_SMALL with result_length."""
        with self._lock:
            need = 0
            if security_information & (
                C.OWNER_SECURITY_INFORMATION
                | C.GROUP_SECURITY_INFORMATION
                | C.DACL_SECURITY_INFORMATION
            ):
                need |= C.READ_CONTROL
            if security_information & C.SACL_SECURITY_INFORMATION:
                need |= C.ACCESS_SYSTEM_SECURITY
            length = _check_length(length)
            entry = self._entry("ZwQuerySecurityObject", handle, need)
            obj = entry.obj
            info = REG_QUERY_KEY_SECURITY_INFORMATION(
                Object=obj, SecurityInformation=security_information, Length=length
            )

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                sd = _select_security(bytes(kcb.key.security_raw), security_information)
                info.SecurityDescriptor = sd
                if length is not None and length < len(sd):
                    raise NtStatusError(
                        S.STATUS_BUFFER_TOO_SMALL, "security descriptor", result_length=len(sd)
                    )
                return S.STATUS_SUCCESS

            status = self._with_callbacks(
                N.RegNtPreQueryKeySecurity, N.RegNtPostQueryKeySecurity, info, op
            )
            self._raise_unless_success(status)
            return bytes(info.SecurityDescriptor or b"")

    def ZwSetSecurityObject(
        self, handle: int, security_information: int, security_descriptor: bytes
    ) -> None:
        """Replace the parts of the key's descriptor selected by ``security_information``
        with those of ``security_descriptor`` (self-relative bytes)."""
        with self._lock:
            need = 0
            if security_information & (C.OWNER_SECURITY_INFORMATION | C.GROUP_SECURITY_INFORMATION):
                need |= C.WRITE_OWNER
            if security_information & C.DACL_SECURITY_INFORMATION:
                need |= C.WRITE_DAC
            if security_information & C.SACL_SECURITY_INFORMATION:
                need |= C.ACCESS_SYSTEM_SECURITY
            entry = self._entry("ZwSetSecurityObject", handle, need)
            obj = entry.obj
            try:
                new = parse_descriptor(bytes(security_descriptor))
            except (RegfError, TypeError, ValueError) as exc:
                raise _fail(S.STATUS_INVALID_SECURITY_DESCR, str(exc)) from exc
            info = REG_SET_KEY_SECURITY_INFORMATION(
                Object=obj,
                SecurityInformation=security_information,
                SecurityDescriptor=bytes(security_descriptor),
            )

            def op() -> NTSTATUS:
                kcb = self._alive(obj.kcb)
                merged = _merge_security(bytes(kcb.key.security_raw), new, security_information)
                try:
                    kcb.key.security_raw = merged
                except InvalidArgumentError as exc:
                    raise _fail(S.STATUS_INVALID_SECURITY_DESCR, str(exc)) from exc
                self._dirty(kcb)
                return S.STATUS_SUCCESS

            status = self._with_callbacks(
                N.RegNtPreSetKeySecurity, N.RegNtPostSetKeySecurity, info, op
            )
            self._raise_unless_success(status)

    def __repr__(self) -> str:
        return f"<Registry {len(self._mounts)} hive(s), {len(self._handles)} handle(s)>"


class _ContextCleanup:
    """REG_CALLBACK_CONTEXT_CLEANUP_INFORMATION."""

    __slots__ = ("Object", "ObjectContext", "Reserved")

    def __init__(self, Object: Any, ObjectContext: Any) -> None:
        self.Object = Object
        self.ObjectContext = ObjectContext
        self.Reserved = None


_KEY_CLASSES = frozenset(
    {
        C.KeyBasicInformation,
        C.KeyNodeInformation,
        C.KeyFullInformation,
        C.KeyNameInformation,
        C.KeyCachedInformation,
    }
)

_VALUE_BUILDERS: dict[C.KEY_VALUE_INFORMATION_CLASS, Callable[[str, int, bytes], I.InfoStruct]] = {
    C.KeyValueBasicInformation: lambda n, t, d: I.KEY_VALUE_BASIC_INFORMATION.make(t, n),
    C.KeyValueFullInformation: lambda n, t, d: I.KEY_VALUE_FULL_INFORMATION.make(t, n, d),
    C.KeyValueFullInformationAlign64: lambda n, t, d: I.KEY_VALUE_FULL_INFORMATION.make(t, n, d),
    C.KeyValuePartialInformation: lambda n, t, d: I.KEY_VALUE_PARTIAL_INFORMATION.make(t, d),
    C.KeyValuePartialInformationAlign64: (
        lambda n, t, d: I.KEY_VALUE_PARTIAL_INFORMATION_ALIGN64.make(t, d)
    ),
}


def _value_info(
    cls: C.KEY_VALUE_INFORMATION_CLASS, name: str, vtype: int, data: bytes
) -> I.InfoStruct:
    return _VALUE_BUILDERS[cls](name, vtype, data)


def _select_security(raw: bytes, which: int) -> bytes:
    sd = parse_descriptor(raw)
    keep = replace(
        sd,
        owner=sd.owner if which & C.OWNER_SECURITY_INFORMATION else None,
        group=sd.group if which & C.GROUP_SECURITY_INFORMATION else None,
        dacl=sd.dacl if which & C.DACL_SECURITY_INFORMATION else None,
        sacl=sd.sacl if which & C.SACL_SECURITY_INFORMATION else None,
        control=_control(sd.control, which),
    )
    return keep.to_bytes()


def _control(control: int, which: int) -> int:
    c = int(control)
    if not which & C.DACL_SECURITY_INFORMATION:
        c &= ~int(
            SdControl.DACL_PRESENT
            | SdControl.DACL_DEFAULTED
            | SdControl.DACL_PROTECTED
            | SdControl.DACL_AUTO_INHERITED
            | SdControl.DACL_AUTO_INHERIT_REQ
        )
    if not which & C.SACL_SECURITY_INFORMATION:
        c &= ~int(
            SdControl.SACL_PRESENT
            | SdControl.SACL_DEFAULTED
            | SdControl.SACL_PROTECTED
            | SdControl.SACL_AUTO_INHERITED
            | SdControl.SACL_AUTO_INHERIT_REQ
        )
    if not which & C.OWNER_SECURITY_INFORMATION:
        c &= ~int(SdControl.OWNER_DEFAULTED)
    if not which & C.GROUP_SECURITY_INFORMATION:
        c &= ~int(SdControl.GROUP_DEFAULTED)
    return c


def _merge_security(current: bytes, new: Any, which: int) -> bytes:
    cur = parse_descriptor(current)
    dacl_bits = int(
        SdControl.DACL_PRESENT
        | SdControl.DACL_DEFAULTED
        | SdControl.DACL_PROTECTED
        | SdControl.DACL_AUTO_INHERITED
        | SdControl.DACL_AUTO_INHERIT_REQ
    )
    sacl_bits = int(
        SdControl.SACL_PRESENT
        | SdControl.SACL_DEFAULTED
        | SdControl.SACL_PROTECTED
        | SdControl.SACL_AUTO_INHERITED
        | SdControl.SACL_AUTO_INHERIT_REQ
    )
    control = int(cur.control)
    owner, group, dacl, sacl = cur.owner, cur.group, cur.dacl, cur.sacl
    if which & C.OWNER_SECURITY_INFORMATION:
        owner = new.owner
    if which & C.GROUP_SECURITY_INFORMATION:
        group = new.group
    if which & C.DACL_SECURITY_INFORMATION:
        dacl = new.dacl
        control = (control & ~dacl_bits) | (int(new.control) & dacl_bits)
    if which & C.SACL_SECURITY_INFORMATION:
        sacl = new.sacl
        control = (control & ~sacl_bits) | (int(new.control) & sacl_bits)
    merged = type(cur)(
        revision=cur.revision, control=control, owner=owner, group=group, sacl=sacl, dacl=dacl
    )
    out: bytes = merged.to_bytes()
    return out


__all__ = ["MAX_REPARSE", "Registry"]
