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
from types import TracebackType
from typing import Any

from .._accel import upcase
from ..errors import (
    HiveStateError,
    InvalidArgumentError,
    RegfError,
)
from ..format.constants import ValueType
from ..model.edithive import EditHive
from . import constants as C
from . import hives, notify, notifycalls, opencreate, store
from ._state import _Handle
from .access import Token
from .callbacks import (
    REG_KEY_HANDLE_CLOSE_INFORMATION,
    REG_POST_OPERATION_INFORMATION,
    CallbackTable,
    RegistryCallback,
)
from .constants import REG_NOTIFY_CLASS as N
from .flusher import LazyFlusher
from .namespace import HiveMount, Kcb, KeyObject, Namespace
from .status import NT_SUCCESS, NTSTATUS, NtStatusError
from .verifier import Verifier, Violation
from .zwcalls import ZwCalls

S = NTSTATUS
#: Symbolic links followed while resolving one name before giving up (the object
#: manager's reparse limit).
MAX_REPARSE = 32
#: Handle values are multiples of 4, like Windows handles, and are never reused.
HANDLE_STEP = 4


def _fail(status: NTSTATUS, message: str = "") -> NtStatusError:
    return NtStatusError(status, message)


class Registry(ZwCalls):
    """A configuration manager: hives loaded into ``\\REGISTRY``, handles, Zw* calls,
    filter callbacks, a lazy flusher and an optional handle verifier. The Zw* calls
    that only delegate are inherited from :class:`~regf.nt.zwcalls.ZwCalls`.

    Args:
        lazy_flush: seconds between background flushes of dirty hives (Windows flushes
            "every few seconds"), or None for no background flushing.
        verify: True to check the ZwRegistryCreate/ZwRegistryOpen rules and record
            violations in :attr:`violations`; ``"strict"`` to raise
            :class:`~regf.nt.verifier.VerifierError` as well.
    """

    def __init__(
        self,
        *,
        lazy_flush: float | None = 5.0,
        verify: bool | str = False,
        token: Token | None = None,
    ) -> None:
        if verify not in (False, True, "strict"):
            raise InvalidArgumentError("verify must be False, True or 'strict'")
        if lazy_flush is not None and not lazy_flush > 0:
            raise InvalidArgumentError("lazy_flush must be a positive number of seconds")
        if token is not None and not isinstance(token, Token):
            raise InvalidArgumentError("token must be a regf.nt.Token")
        self._lock = threading.RLock()
        self._token = token
        self._tls = threading.local()
        self._ns = Namespace()
        self._handles: dict[int, _Handle] = {}
        self._notify_blocks: dict[int, notify.NotifyBlock] = {}
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
        flags: int = 0,
        desired_access: int = 0,
    ) -> None:
        """NtLoadKey / NtLoadKeyEx: mount a hive; see :func:`regf.nt.hives.load_hive`."""
        hives.load_hive(
            self,
            object_path,
            source,
            create_new=create_new,
            flags=flags,
            desired_access=desired_access,
        )

    def hive_flags(self, object_path: str) -> dict[str, bool]:
        """How the hive at ``object_path`` is loaded: ``read_only``, ``no_lazy_flush``,
        ``dirty`` (changes not yet flushed)."""
        with self._lock:
            mount = self._mount_at(object_path)
            return {
                "read_only": mount.read_only,
                "no_lazy_flush": mount.no_lazy_flush,
                "dirty": mount.dirty,
            }

    def unload_hive(self, object_path: str, *, force: bool = False) -> None:
        """NtUnloadKey: flush and unmount a hive; see :func:`regf.nt.hives.unload_hive`."""
        hives.unload_hive(self, object_path, force=force)

    def _mount_at(self, object_path: str) -> HiveMount:
        return hives.mount_at(self, object_path)

    def flush_all(self) -> None:
        """Flush every dirty hive now; see :func:`regf.nt.hives.flush_all`."""
        hives.flush_all(self)

    def _lazy_flush(self) -> None:
        hives.lazy_flush(self)

    def _flush_mount(self, mount: HiveMount) -> None:
        hives.flush_mount(self, mount)

    def close(self) -> None:
        """Flush and unload everything, stop the flusher; see :func:`regf.nt.hives.close`."""
        hives.close(self)

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

    def current_token(self) -> Token | None:
        """The token calls on this thread are checked against: the one of the innermost
        :meth:`impersonate` block, else the registry's ``token``; None means a kernel
        caller (no access check, as for Zw* calls from kernel mode)."""
        stack: list[Token | None] | None = getattr(self._tls, "tokens", None)
        return stack[-1] if stack else self._token

    @contextlib.contextmanager
    def impersonate(self, token: Token | None) -> Iterator[None]:
        """Calls made by this thread inside the block are checked against ``token``
        (None: a kernel caller, no check)."""
        if token is not None and not isinstance(token, Token):
            raise InvalidArgumentError("token must be a regf.nt.Token or None")
        stack: list[Token | None] | None = getattr(self._tls, "tokens", None)
        if stack is None:
            stack = self._tls.tokens = []
        stack.append(token)
        try:
            yield
        finally:
            stack.pop()

    @contextlib.contextmanager
    def caller(self, name: str) -> Iterator[None]:
        """Calls made by this thread inside the block are made by caller (driver)
        ``name``: the verifier tracks handles per caller, not per thread."""
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("a caller name is a non-empty str")
        verifier = self._verifier
        if verifier is None:
            yield
            return
        verifier.push_caller(name)
        try:
            yield
        finally:
            verifier.pop_caller()

    # ===================================================================================
    # Callbacks and objects
    # ===================================================================================

    def CmRegisterCallbackEx(
        self, callback: RegistryCallback, altitude: str, context: Any = None
    ) -> int:
        """Register a registry filter callback at ``altitude`` (a decimal string);
        returns the cookie for :meth:`CmUnRegisterCallback`.

        Without ``context`` the callback is called as ``callback(notify_class, info)``;
        with one, as Windows' ``RegistryCallback(CallbackContext, Argument1, Argument2)``:
        ``callback(context, notify_class, info)`` (wdm.h CmRegisterCallbackEx: "Context:
        a driver-defined value that the configuration manager will pass as the
        CallbackContext parameter to the RegistryCallback routine").
        """
        return self._callbacks.register(callback, altitude, context)

    def CmUnRegisterCallback(self, cookie: int) -> None:
        """Unregister the callback registered under ``cookie``; it is never called
        again, even by an operation in progress. Calling this from inside a callback is
        a driver bug (a deadlock in Windows): the verifier reports it."""
        if self._verifier is not None and self._callbacks.in_callback():
            self._verifier.unregister_in_callback(cookie)
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

    @staticmethod
    def _writable(kcb: Kcb) -> Kcb:
        """``kcb`` if its hive may be changed; STATUS_ACCESS_DENIED in a read-only hive."""
        if kcb.mount is not None and kcb.mount.read_only:
            raise _fail(S.STATUS_ACCESS_DENIED, f"{kcb.path}: the hive is loaded read-only")
        return kcb

    def _notify_change(self, kcb: Kcb, bits: int) -> None:
        """Report a change (REG_NOTIFY_CHANGE_* ``bits``) of ``kcb`` to ZwNotifyChangeKey
        watchers."""
        if self._notify_blocks:
            notifycalls.report(self, kcb, bits)

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
        security_descriptor: bytes | None = None,
        attributes: int = C.OBJ_CASE_INSENSITIVE | C.OBJ_KERNEL_HANDLE,
    ) -> tuple[int, int]:
        """Open or create a key; returns (handle, disposition).

        ``create_options``: REG_OPTION_VOLATILE (memory only; a stable key under a
        volatile one fails with STATUS_CHILD_MUST_BE_VOLATILE), REG_OPTION_CREATE_LINK
        (a symbolic link; set its ``SymbolicLinkValue`` REG_LINK value next),
        REG_OPTION_OPEN_LINK (open a link itself instead of its target).
        Missing parents are not created (STATUS_OBJECT_NAME_NOT_FOUND).

        ``security_descriptor`` (self-relative bytes; OBJECT_ATTRIBUTES
        .SecurityDescriptor) is a new key's own descriptor, merged with what it inherits
        from its parent. With a token in effect (:meth:`impersonate` or
        ``Registry(token=...)``) access is checked: the desired access against an existing
        key's DACL, KEY_CREATE_SUB_KEY (and KEY_CREATE_LINK for a link) against the
        parent's for a new one (see :mod:`regf.nt.access`).
        """
        return self._create_or_open(
            "ZwCreateKey",
            name,
            desired_access,
            root,
            class_name,
            create_options,
            create=True,
            security_descriptor=security_descriptor,
            attributes=attributes,
        )

    def ZwOpenKey(
        self,
        name: str | None,
        desired_access: int,
        root: int | None = None,
        open_options: int = 0,
        *,
        attributes: int = C.OBJ_CASE_INSENSITIVE | C.OBJ_KERNEL_HANDLE,
    ) -> int:
        """Open an existing key; returns the handle. ``open_options`` may hold
        REG_OPTION_OPEN_LINK (ZwOpenKeyEx) to open a symbolic link itself, and
        REG_OPTION_BACKUP_RESTORE to use the token's backup/restore privileges."""
        handle, _ = self._create_or_open(
            "ZwOpenKey",
            name,
            desired_access,
            root,
            None,
            open_options,
            create=False,
            attributes=attributes,
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
        security_descriptor: bytes | None = None,
        attributes: int = C.OBJ_CASE_INSENSITIVE | C.OBJ_KERNEL_HANDLE,
    ) -> tuple[int, int]:
        return opencreate.create_or_open(
            self,
            call,
            name,
            desired_access,
            root,
            class_name,
            options,
            create=create,
            security_descriptor=security_descriptor,
            attributes=attributes,
        )

    # ===================================================================================
    # Load, unload, close (the delegating Zw* calls are in regf/nt/zwcalls.py)
    # ===================================================================================

    def ZwLoadKey(self, target: str, source: str | os.PathLike[str]) -> None:
        """NtLoadKey: load the hive file ``source`` at object name ``target`` (with a
        token in effect, the caller needs SeRestorePrivilege)."""
        self.ZwLoadKeyEx(target, source)

    def ZwLoadKeyEx(
        self,
        target: str,
        source: str | os.PathLike[str],
        flags: int = 0,
        desired_access: int = 0,
    ) -> int | None:
        """NtLoadKeyEx: load with ``flags`` (REG_OPEN_READ_ONLY, REG_NO_LAZY_FLUSH);
        with a ``desired_access`` returns a handle to the hive's root (RootHandle)."""
        from .access import SE_RESTORE_PRIVILEGE

        token = self.current_token()
        if token is not None and not token.has(SE_RESTORE_PRIVILEGE):
            raise _fail(S.STATUS_PRIVILEGE_NOT_HELD, "ZwLoadKeyEx needs SeRestorePrivilege")
        self.load_hive(target, source, flags=flags, desired_access=desired_access)
        if not desired_access:
            return None
        return self.ZwOpenKey(target, desired_access)

    def ZwUnloadKey(self, target: str) -> None:
        """NtUnloadKey: unload the hive loaded at ``target`` (see :meth:`unload_hive`)."""
        from .access import SE_RESTORE_PRIVILEGE

        token = self.current_token()
        if token is not None and not token.has(SE_RESTORE_PRIVILEGE):
            raise _fail(S.STATUS_PRIVILEGE_NOT_HELD, "ZwUnloadKey needs SeRestorePrivilege")
        self.unload_hive(target)

    def ZwClose(self, handle: int) -> None:
        """Close a handle (works on handles to deleted keys; cannot be blocked)."""
        with self._lock:
            entry = self._entry("ZwClose", handle, 0)
            obj = entry.obj
            del self._handles[handle]
            notifycalls.handle_closed(self, handle)
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
                    reg.call(N.RegNtCallbackObjectContextCleanup, cleanup)

    def __repr__(self) -> str:
        return f"<Registry {len(self._mounts)} hive(s), {len(self._handles)} handle(s)>"


class _ContextCleanup:
    """REG_CALLBACK_CONTEXT_CLEANUP_INFORMATION."""

    __slots__ = ("Object", "ObjectContext", "Reserved")

    def __init__(self, Object: Any, ObjectContext: Any) -> None:
        self.Object = Object
        self.ObjectContext = ObjectContext
        self.Reserved = None


__all__ = ["MAX_REPARSE", "Registry"]
