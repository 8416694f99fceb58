"""ZwCreateKey / ZwOpenKey(Ex): name resolution through the namespace (symbolic links
followed), creation of missing last components, access checks against the keys'
descriptors for a caller with a token (:mod:`regf.nt.access`), inheritance of the
parent's ACEs to a new key, and the REG_CREATE_KEY_INFORMATION_V1 members the callbacks
see (wdm.h ZwCreateKey, ZwOpenKeyEx, REG_CREATE_KEY_INFORMATION_V1). Functions of
:class:`~regf.nt.registry.Registry`, which delegates to them.

A kernel caller (no token: CheckAccessMode KernelMode) is not checked and gets the
access it asks for; a new key it creates gets the descriptor inherited from its parent
as the System process's subject (:func:`regf.nt.access.kernel_subject`), like a token
caller's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError, RegfError
from ..format.security import SecurityDescriptor, parse_descriptor
from ..model.serialize import now_filetime
from . import constants as C
from . import store
from .access import access_check, inherit, kernel_subject
from .callbacks import REG_CREATE_KEY_INFORMATION
from .constants import REG_NOTIFY_CLASS as N
from .namespace import Kcb, KeyObject
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState

S = NTSTATUS


def _fail(status: NTSTATUS, message: str = "") -> NtStatusError:
    return NtStatusError(status, message)


def _descriptor(kcb: Kcb) -> SecurityDescriptor:
    """The key's security descriptor, parsed."""
    try:
        return parse_descriptor(bytes(kcb.key.security_raw))
    except RegfError as exc:
        raise _fail(S.STATUS_INVALID_SECURITY_DESCR, f"{kcb.path}: {exc}") from exc


def create_or_open(
    reg: RegistryState,
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
    with reg._lock:
        reg._check_open()
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
        if (
            isinstance(attributes, bool)
            or not isinstance(attributes, int)
            or attributes & ~C.OBJ_VALID_ATTRIBUTES
        ):
            raise _fail(S.STATUS_INVALID_PARAMETER, f"bad object attributes {attributes!r}")
        explicit = None
        if security_descriptor is not None:
            try:
                explicit = parse_descriptor(bytes(security_descriptor))
            except (RegfError, TypeError, ValueError) as exc:
                raise _fail(S.STATUS_INVALID_SECURITY_DESCR, str(exc)) from exc
        root_kcb = reg._root_kcb(call, root)
        token = reg.current_token()
        start, parts = reg._split(name, root_kcb)
        info = REG_CREATE_KEY_INFORMATION(
            CompleteName=name or "",
            RootObject=(reg._handles[root].obj if root is not None else KeyObject(reg._ns.root)),
            Options=options,
            CreateOptions=options,
            Class=class_name,
            SecurityDescriptor=(
                bytes(security_descriptor) if security_descriptor is not None else None
            ),
            DesiredAccess=desired_access,
            RemainingName="\\".join(parts),
            Wow64Flags=desired_access & C.KEY_WOW64_RES,
            Attributes=attributes,
            CheckAccessMode=C.UserMode if token is not None else C.KernelMode,
        )
        backup_restore = bool(options & C.REG_OPTION_BACKUP_RESTORE)
        open_link = bool(options & C.REG_OPTION_OPEN_LINK) or bool(attributes & C.OBJ_OPENLINK)

        def op() -> NTSTATUS:
            volatile = bool(options & C.REG_OPTION_VOLATILE)
            link = bool(options & C.REG_OPTION_CREATE_LINK) and create

            def make(parent: Kcb, part: str) -> Kcb:
                if token is not None:
                    need = C.KEY_CREATE_SUB_KEY | (C.KEY_CREATE_LINK if link else 0)
                    access_check(_descriptor(parent), token, need, backup_restore=backup_restore)
                kcb = create_child(reg, parent, part, class_name or None, volatile, link)
                # Every new key gets the descriptor SeAssignSecurity computes from the
                # parent's inheritable ACEs; a kernel caller creates as the System
                # process (kernel_subject). Equal descriptors share one sk cell.
                creator = token or kernel_subject()
                sd = inherit(_descriptor(parent), explicit, creator)
                raw = sd.to_bytes()
                if bytes(kcb.key.security_raw) != raw:
                    kcb.key.security_raw = raw
                return kcb

            kcb, disposition = reg._walk(
                start,
                parts,
                open_link=open_link,
                create=make if create else None,
                create_link=link,
            )
            if token is not None and disposition == C.REG_OPENED_EXISTING_KEY:
                granted = access_check(
                    _descriptor(kcb), token, desired_access, backup_restore=backup_restore
                )
            else:  # kernel caller, or the creator of the key: what it asked for
                granted = C.map_generic_access(desired_access)
            info.ResultObject = KeyObject(kcb)
            info.Disposition = disposition
            info.GrantedAccess = granted
            return S.STATUS_SUCCESS

        pre, post = (
            (N.RegNtPreCreateKeyEx, N.RegNtPostCreateKeyEx)
            if create
            else (N.RegNtPreOpenKeyEx, N.RegNtPostOpenKeyEx)
        )
        status = reg._with_callbacks(pre, post, info, op)
        reg._raise_unless_success(status)
        obj = info.ResultObject
        if not isinstance(obj, KeyObject) or obj.deleted:
            raise _fail(S.STATUS_INVALID_PARAMETER, f"{call}: no valid ResultObject")
        disposition = info.Disposition or C.REG_OPENED_EXISTING_KEY
        if reg._verifier is not None:
            reg._verifier.check_open(call, id(obj.kcb), obj.kcb.path)
        granted = info.GrantedAccess or C.map_generic_access(desired_access)
        return reg._new_handle(call, obj, granted), disposition


def create_child(
    reg: RegistryState, parent: Kcb, name: str, class_name: str | None, volatile: bool, link: bool
) -> Kcb:
    reg._writable(parent)
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
        kcb = reg._ns.create(parent, name, class_name, volatile, now_filetime())
    except InvalidArgumentError as exc:  # depth limit, ...
        raise _fail(S.STATUS_INVALID_PARAMETER, str(exc)) from exc
    if link:
        store.mark_link(kcb.key)
    reg._dirty(parent)
    reg._dirty(kcb)
    reg._notify_change(parent, C.REG_NOTIFY_CHANGE_NAME)
    return kcb


__all__ = ["create_child", "create_or_open"]
