"""Registry filter callbacks: CmRegisterCallbackEx / CmUnRegisterCallback, the
REG_*_INFORMATION structures passed to them, and the pre/post dispatch rules.

A callback is ``callback(notify_class, info) -> int`` (an NTSTATUS). The rules (the
"Handling Notifications" page, ``nt-api/004``):

* **Pre-notification** (``RegNtPre*``): STATUS_SUCCESS lets the operation continue; a
  failure status blocks it and is returned to the caller, and no post-notification is
  sent; STATUS_CALLBACK_BYPASS means the callback handled the operation itself: the caller
  gets STATUS_SUCCESS plus whatever output the callback left in the information
  structure, and no post-notification is sent.
* **Post-notification** (``RegNtPost*``, with :class:`REG_POST_OPERATION_INFORMATION`):
  the callback may change the output members of ``PreInformation`` and return
  STATUS_SUCCESS (the caller gets the changed output), or set ``ReturnStatus`` and return
  STATUS_CALLBACK_BYPASS (the caller gets ``ReturnStatus``). Other return values of a
  post-notification are ignored.

Callbacks form a stack ordered by altitude (a decimal string, as in Windows): the highest
altitude sees pre-notifications first and post-notifications last. When a pre-callback
blocks or bypasses, callbacks below it are not called. Input members changed by a
pre-callback are not used by the operation (Windows captures its arguments first).
Callbacks run with the registry lock held, so they may call the ``Zw*`` methods
(re-entrantly, on the same thread); an exception in a callback propagates to the caller of
the ``Zw*`` method and the operation is either not started (pre) or already complete
(post): never half done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .constants import REG_NOTIFY_CLASS
from .status import NT_SUCCESS, NTSTATUS, NtStatusError, to_status

#: ``callback(notify_class, info) -> NTSTATUS``.
RegistryCallback = Callable[[REG_NOTIFY_CLASS, Any], int]

# ---------------------------------------------------------------------------------------
# REG_*_INFORMATION (wdm.h member names). ``Object`` is the key object (CM key body) the
# operation works on; pointer members that a callback fills (ResultObject, Disposition,
# KeyInformation, ResultLength, ...) are plain attributes here.
# ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Common:
    CallContext: Any = None
    ObjectContext: Any = None
    Reserved: Any = None


@dataclass(eq=False)
class REG_CREATE_KEY_INFORMATION(_Common):
    """RegNtPreCreateKeyEx / RegNtPreOpenKeyEx: REG_CREATE_KEY_INFORMATION_V1 (wdm.h;
    REG_OPEN_KEY_INFORMATION_V1 is the same structure).

    ``RootObject`` is the key object names are relative to: the \\REGISTRY key for an
    absolute ``CompleteName``; ``RemainingName`` is the part of the name below it.
    ``GrantedAccess`` and ``Disposition`` are outputs, filled when the post-notification
    is sent. ``CheckAccessMode`` is KernelMode (0) when no access check is made (a
    kernel caller without a token) and UserMode (1) when the caller's token is checked.
    """

    CompleteName: str = ""
    RootObject: Any = None
    ObjectType: Any = None
    #: The create/open options (V1 name ``Options``; ``CreateOptions`` is the same).
    Options: int = 0
    CreateOptions: int = 0
    Class: str | None = None
    #: The self-relative descriptor given for a new key (None: inherit from the parent).
    SecurityDescriptor: bytes | None = None
    SecurityQualityOfService: Any = None
    DesiredAccess: int = 0
    GrantedAccess: int = 0
    #: Output: REG_CREATED_NEW_KEY / REG_OPENED_EXISTING_KEY.
    Disposition: int | None = None
    #: Output: the key object opened or created (a bypassing callback must set it).
    ResultObject: Any = None
    RootObjectContext: Any = None
    Transaction: Any = None
    #: Structure version: 1 (the _V1 members below are valid).
    Version: int = 1
    RemainingName: str = ""
    #: KEY_WOW64_32KEY / KEY_WOW64_64KEY bits of the desired access.
    Wow64Flags: int = 0
    #: OBJECT_ATTRIBUTES.Attributes (OBJ_CASE_INSENSITIVE, OBJ_KERNEL_HANDLE, ...).
    Attributes: int = 0
    #: KernelMode (0) or UserMode (1): whether access is checked against a token.
    CheckAccessMode: int = 0


REG_OPEN_KEY_INFORMATION = REG_CREATE_KEY_INFORMATION


@dataclass(eq=False)
class REG_DELETE_KEY_INFORMATION(_Common):
    """RegNtPreDeleteKey."""

    Object: Any = None


@dataclass(eq=False)
class REG_SET_VALUE_KEY_INFORMATION(_Common):
    """RegNtPreSetValueKey."""

    Object: Any = None
    ValueName: str = ""
    TitleIndex: int = 0
    Type: int = 0
    Data: bytes = b""
    DataSize: int = 0


@dataclass(eq=False)
class REG_DELETE_VALUE_KEY_INFORMATION(_Common):
    """RegNtPreDeleteValueKey."""

    Object: Any = None
    ValueName: str = ""


@dataclass(eq=False)
class REG_RENAME_KEY_INFORMATION(_Common):
    """RegNtPreRenameKey."""

    Object: Any = None
    NewName: str = ""


@dataclass(eq=False)
class REG_ENUMERATE_KEY_INFORMATION(_Common):
    """RegNtPreEnumerateKey."""

    Object: Any = None
    Index: int = 0
    KeyInformationClass: int = 0
    #: Output: the information structure (an :class:`~regf.nt.infoclass.InfoStruct`).
    KeyInformation: Any = None
    Length: int | None = None
    #: Output: bytes needed.
    ResultLength: int | None = None


@dataclass(eq=False)
class REG_ENUMERATE_VALUE_KEY_INFORMATION(_Common):
    """RegNtPreEnumerateValueKey."""

    Object: Any = None
    Index: int = 0
    KeyValueInformationClass: int = 0
    KeyValueInformation: Any = None
    Length: int | None = None
    ResultLength: int | None = None


@dataclass(eq=False)
class REG_QUERY_KEY_INFORMATION(_Common):
    """RegNtPreQueryKey."""

    Object: Any = None
    KeyInformationClass: int = 0
    KeyInformation: Any = None
    Length: int | None = None
    ResultLength: int | None = None


@dataclass(eq=False)
class REG_QUERY_VALUE_KEY_INFORMATION(_Common):
    """RegNtPreQueryValueKey."""

    Object: Any = None
    ValueName: str = ""
    KeyValueInformationClass: int = 0
    KeyValueInformation: Any = None
    Length: int | None = None
    ResultLength: int | None = None


@dataclass(eq=False)
class REG_KEY_HANDLE_CLOSE_INFORMATION(_Common):
    """RegNtPreKeyHandleClose (a close cannot be blocked or bypassed)."""

    Object: Any = None


@dataclass(eq=False)
class REG_FLUSH_KEY_INFORMATION(_Common):
    """RegNtPreFlushKey."""

    Object: Any = None


@dataclass(eq=False)
class REG_LOAD_KEY_INFORMATION(_Common):
    """RegNtPreLoadKey (``Object`` is None: the key does not exist yet)."""

    Object: Any = None
    KeyName: str = ""
    SourceFile: str = ""
    Flags: int = 0
    TrustClassObject: Any = None
    UserEvent: Any = None
    DesiredAccess: int = 0
    RootHandle: Any = None


@dataclass(eq=False)
class REG_UNLOAD_KEY_INFORMATION(_Common):
    """RegNtPreUnLoadKey."""

    Object: Any = None
    UserEvent: Any = None


@dataclass(eq=False)
class REG_QUERY_KEY_SECURITY_INFORMATION(_Common):
    """RegNtPreQueryKeySecurity."""

    Object: Any = None
    SecurityInformation: int = 0
    #: Output: the self-relative descriptor bytes.
    SecurityDescriptor: bytes | None = None
    Length: int | None = None


@dataclass(eq=False)
class REG_SET_KEY_SECURITY_INFORMATION(_Common):
    """RegNtPreSetKeySecurity."""

    Object: Any = None
    SecurityInformation: int = 0
    SecurityDescriptor: bytes = b""


@dataclass(eq=False)
class REG_SAVE_KEY_INFORMATION(_Common):
    """RegNtPreSaveKey (wdm.h): the key, the target file and the format."""

    Object: Any = None
    FileHandle: Any = None
    Format: int = 0


@dataclass(eq=False)
class REG_RESTORE_KEY_INFORMATION(_Common):
    """RegNtPreRestoreKey (wdm.h)."""

    Object: Any = None
    FileHandle: Any = None
    Flags: int = 0


@dataclass(eq=False)
class REG_REPLACE_KEY_INFORMATION(_Common):
    """RegNtPreReplaceKey (wdm.h)."""

    Object: Any = None
    OldFileName: str = ""
    NewFileName: str = ""


@dataclass(eq=False)
class REG_QUERY_MULTIPLE_VALUE_KEY_INFORMATION(_Common):
    """RegNtPreQueryMultipleValueKey (wdm.h). Outputs: ``ValueEntries`` (the
    KEY_VALUE_ENTRY array, filled), ``ValueBuffer`` (the data) and
    ``RequiredBufferLength``."""

    Object: Any = None
    ValueEntries: Any = None
    EntryCount: int = 0
    ValueBuffer: bytes | None = None
    BufferLength: int | None = None
    RequiredBufferLength: int | None = None


@dataclass(eq=False)
class REG_SET_INFORMATION_KEY_INFORMATION(_Common):
    """RegNtPreSetInformationKey (wdm.h)."""

    Object: Any = None
    KeySetInformationClass: int = 0
    KeySetInformation: bytes = b""
    KeySetInformationLength: int = 0


@dataclass(eq=False)
class REG_QUERY_KEY_NAME(_Common):
    """RegNtPreQueryKeyName (wdm.h): the object manager asks for the key's name.
    Outputs: ``ObjectNameInfo`` (the full name) and ``ReturnLength``."""

    Object: Any = None
    ObjectNameInfo: str | None = None
    Length: int | None = None
    ReturnLength: int | None = None


@dataclass(eq=False)
class REG_POST_OPERATION_INFORMATION:
    """Every RegNtPost* notification of a callback registered with CmRegisterCallbackEx.

    ``Status`` is what the operation returned; set ``ReturnStatus`` and return
    STATUS_CALLBACK_BYPASS to make the caller get ``ReturnStatus`` instead.
    """

    Object: Any = None
    Status: NTSTATUS = NTSTATUS.STATUS_SUCCESS
    PreInformation: Any = None
    ReturnStatus: int = NTSTATUS.STATUS_SUCCESS
    CallContext: Any = None
    ObjectContext: Any = None
    Reserved: Any = None


# ---------------------------------------------------------------------------------------
# Registration and dispatch
# ---------------------------------------------------------------------------------------


def parse_altitude(altitude: object) -> Decimal:
    """An altitude string ("320000", "385201.5") as a Decimal; STATUS_INVALID_PARAMETER
    for anything that is not a non-negative decimal number written as a string."""
    if not isinstance(altitude, str) or not altitude or altitude.strip() != altitude:
        raise NtStatusError(NTSTATUS.STATUS_INVALID_PARAMETER, "altitude must be a decimal string")
    body = altitude.replace(".", "", 1)
    if not body.isdigit() or not body.isascii():
        raise NtStatusError(NTSTATUS.STATUS_INVALID_PARAMETER, f"bad altitude {altitude!r}")
    try:
        return Decimal(altitude)
    except InvalidOperation:  # pragma: no cover - guarded by the digit check
        raise NtStatusError(NTSTATUS.STATUS_INVALID_PARAMETER, altitude) from None


@dataclass(eq=False)
class _Registration:
    cookie: int
    altitude: Decimal
    altitude_text: str
    callback: RegistryCallback
    #: The driver context given to CmRegisterCallbackEx: when not None the callback is
    #: called as Windows' ``RegistryCallback(CallbackContext, Argument1, Argument2)``.
    context: Any = None
    contexts: dict[int, Any] = field(default_factory=dict)
    #: False once CmUnRegisterCallback removed it: never called again, even by an
    #: operation that started before.
    active: bool = True

    def call(self, notify_class: REG_NOTIFY_CLASS, info: Any) -> NTSTATUS:
        """Run the callback (with the driver context when one was registered)."""
        if self.context is None:
            return to_status(self.callback(notify_class, info))
        cb: Any = self.callback
        return to_status(cb(self.context, notify_class, info))


@dataclass(eq=False)
class Seen:
    """The callbacks that saw a pre-notification, with the CallContext each set."""

    regs: list[_Registration] = field(default_factory=list)
    call_contexts: dict[int, Any] = field(default_factory=dict)

    def __iter__(self) -> Any:
        return iter(self.regs)

    def __len__(self) -> int:
        return len(self.regs)


class CallbackTable:
    """The registered callbacks, highest altitude first."""

    def __init__(self) -> None:
        self._entries: list[_Registration] = []
        self._next_cookie = 0x1000
        self._lock = threading.Lock()
        self._tls = threading.local()

    def in_callback(self) -> bool:
        """Whether the current thread is running inside a registry callback."""
        return bool(getattr(self._tls, "depth", 0))

    def _run(self, reg: _Registration, notify_class: REG_NOTIFY_CLASS, info: Any) -> NTSTATUS:
        self._tls.depth = getattr(self._tls, "depth", 0) + 1
        try:
            return reg.call(notify_class, info)
        finally:
            self._tls.depth -= 1

    def register(self, callback: RegistryCallback, altitude: str, context: Any = None) -> int:
        """Add ``callback``; returns its cookie (the LARGE_INTEGER Windows hands back).
        A ``context`` that is not None is passed as the callback's first argument."""
        if not callable(callback):
            raise NtStatusError(NTSTATUS.STATUS_INVALID_PARAMETER, "callback is not callable")
        alt = parse_altitude(altitude)
        with self._lock:
            if any(e.altitude == alt for e in self._entries):
                raise NtStatusError(
                    NTSTATUS.STATUS_FLT_INSTANCE_ALTITUDE_COLLISION,
                    f"a callback is already registered at altitude {altitude}",
                )
            cookie = self._next_cookie
            self._next_cookie += 1
            self._entries.append(_Registration(cookie, alt, altitude, callback, context))
            self._entries.sort(key=lambda e: e.altitude, reverse=True)
        return cookie

    def unregister(self, cookie: int) -> None:
        """Remove the callback registered under ``cookie``."""
        with self._lock:
            for i, e in enumerate(self._entries):
                if e.cookie == cookie:
                    e.active = False
                    del self._entries[i]
                    return
        raise NtStatusError(NTSTATUS.STATUS_INVALID_PARAMETER, f"no callback with cookie {cookie}")

    def __len__(self) -> int:
        return len(self._entries)

    def snapshot(self) -> list[_Registration]:
        """The callbacks in altitude order (highest first) at this moment."""
        with self._lock:
            return list(self._entries)

    def pre(
        self, notify_class: REG_NOTIFY_CLASS, info: Any, *, blockable: bool = True
    ) -> tuple[NTSTATUS, Seen]:
        """Send a pre-notification; returns (status, the callbacks that saw it).

        STATUS_SUCCESS: go on. STATUS_CALLBACK_BYPASS: handled by a callback. Anything
        else: blocked with that status. ``blockable=False`` (handle close) ignores the
        callbacks' answers. Each callback starts with ``CallContext`` None; what it leaves
        there is kept for its own post-notification only (REG_POST_OPERATION_INFORMATION
        .CallContext, wdm.h), so a lower callback never sees a higher one's context. A
        callback unregistered meanwhile (by another callback) is skipped.
        """
        seen = Seen()
        for reg in self.snapshot():
            if not reg.active:
                continue
            seen.regs.append(reg)
            _set_object_context(info, reg, "ObjectContext")
            if hasattr(info, "CallContext"):
                info.CallContext = None
            status = self._run(reg, notify_class, info)
            seen.call_contexts[reg.cookie] = getattr(info, "CallContext", None)
            if not blockable or status == NTSTATUS.STATUS_SUCCESS:
                continue
            if status == NTSTATUS.STATUS_CALLBACK_BYPASS:
                return status, seen
            if not NT_SUCCESS(status):
                return status, seen
            # Informational/success codes other than STATUS_SUCCESS let it continue.
        return NTSTATUS.STATUS_SUCCESS, seen

    def post(
        self,
        notify_class: REG_NOTIFY_CLASS,
        post: REG_POST_OPERATION_INFORMATION,
        seen: Seen,
    ) -> NTSTATUS:
        """Send a post-notification to the callbacks in ``seen``, lowest altitude first;
        returns the status the caller gets (``Status`` or an override). Callbacks
        unregistered since the pre-notification get nothing."""
        for reg in reversed(seen.regs):
            if not reg.active:
                continue
            _set_object_context(post, reg, "ObjectContext")
            post.CallContext = seen.call_contexts.get(reg.cookie)
            post.ReturnStatus = post.Status
            answer = self._run(reg, notify_class, post)
            if answer == NTSTATUS.STATUS_CALLBACK_BYPASS:
                post.Status = to_status(post.ReturnStatus)
        return to_status(post.Status)

    def set_object_context(self, cookie: int, obj: Any, context: Any) -> Any:
        """CmSetCallbackObjectContext: attach ``context`` to key object ``obj`` for the
        callback ``cookie``; returns the previous context."""
        for reg in self.snapshot():
            if reg.cookie == cookie:
                old = reg.contexts.get(id(obj))
                reg.contexts[id(obj)] = context
                return old
        raise NtStatusError(NTSTATUS.STATUS_INVALID_PARAMETER, f"no callback with cookie {cookie}")

    def drop_object(self, obj: Any) -> list[tuple[_Registration, Any]]:
        """Forget every context attached to ``obj``; returns (registration, context)."""
        out = []
        for reg in self.snapshot():
            if id(obj) in reg.contexts:
                out.append((reg, reg.contexts.pop(id(obj))))
        return out


def _set_object_context(info: Any, reg: _Registration, attr: str) -> None:
    obj = getattr(info, "Object", None)
    if obj is not None and hasattr(info, attr):
        setattr(info, attr, reg.contexts.get(id(obj)))


__all__ = [
    "REG_CREATE_KEY_INFORMATION",
    "REG_DELETE_KEY_INFORMATION",
    "REG_DELETE_VALUE_KEY_INFORMATION",
    "REG_ENUMERATE_KEY_INFORMATION",
    "REG_ENUMERATE_VALUE_KEY_INFORMATION",
    "REG_FLUSH_KEY_INFORMATION",
    "REG_KEY_HANDLE_CLOSE_INFORMATION",
    "REG_LOAD_KEY_INFORMATION",
    "REG_OPEN_KEY_INFORMATION",
    "REG_POST_OPERATION_INFORMATION",
    "REG_QUERY_KEY_INFORMATION",
    "REG_QUERY_KEY_NAME",
    "REG_QUERY_KEY_SECURITY_INFORMATION",
    "REG_QUERY_MULTIPLE_VALUE_KEY_INFORMATION",
    "REG_REPLACE_KEY_INFORMATION",
    "REG_RESTORE_KEY_INFORMATION",
    "REG_SAVE_KEY_INFORMATION",
    "REG_SET_INFORMATION_KEY_INFORMATION",
    "REG_QUERY_VALUE_KEY_INFORMATION",
    "REG_RENAME_KEY_INFORMATION",
    "REG_SET_KEY_SECURITY_INFORMATION",
    "REG_SET_VALUE_KEY_INFORMATION",
    "REG_UNLOAD_KEY_INFORMATION",
    "CallbackTable",
    "RegistryCallback",
    "Seen",
    "parse_altitude",
]
