"""ZwQuerySecurityObject / ZwSetSecurityObject on key handles: the SECURITY_INFORMATION
classes (winnt.h), the buffer protocol of ZwQuerySecurityObject (STATUS_BUFFER_TOO_SMALL
with LengthNeeded, wdm.h ZwQuerySecurityObject) and the access each part needs
(READ_CONTROL, ACCESS_SYSTEM_SECURITY, WRITE_OWNER, WRITE_DAC)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, RegfError
from ..format.security import AceType, Acl, SdControl, parse_descriptor
from . import constants as C
from .access import SE_RESTORE_PRIVILEGE
from .callbacks import REG_QUERY_KEY_SECURITY_INFORMATION, REG_SET_KEY_SECURITY_INFORMATION
from .constants import REG_NOTIFY_CLASS as N
from .infoclass import check_length
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState

S = NTSTATUS

_DACL_BITS = int(
    SdControl.DACL_PRESENT
    | SdControl.DACL_DEFAULTED
    | SdControl.DACL_PROTECTED
    | SdControl.DACL_AUTO_INHERITED
    | SdControl.DACL_AUTO_INHERIT_REQ
)
_SACL_BITS = int(
    SdControl.SACL_PRESENT
    | SdControl.SACL_DEFAULTED
    | SdControl.SACL_PROTECTED
    | SdControl.SACL_AUTO_INHERITED
    | SdControl.SACL_AUTO_INHERIT_REQ
)
#: Every SECURITY_INFORMATION bit ZwQuerySecurityObject / ZwSetSecurityObject accept.
VALID_QUERY = (
    C.OWNER_SECURITY_INFORMATION
    | C.GROUP_SECURITY_INFORMATION
    | C.DACL_SECURITY_INFORMATION
    | C.SACL_SECURITY_INFORMATION
    | C.LABEL_SECURITY_INFORMATION
)
VALID_SET = (
    VALID_QUERY
    | C.PROTECTED_DACL_SECURITY_INFORMATION
    | C.PROTECTED_SACL_SECURITY_INFORMATION
    | C.UNPROTECTED_DACL_SECURITY_INFORMATION
    | C.UNPROTECTED_SACL_SECURITY_INFORMATION
)


def _check_info(which: object, valid: int) -> int:
    if isinstance(which, bool) or not isinstance(which, int) or not 0 <= which <= 0xFFFFFFFF:
        raise NtStatusError(S.STATUS_INVALID_PARAMETER, f"bad SECURITY_INFORMATION {which!r}")
    if which & ~valid:
        raise NtStatusError(
            S.STATUS_INVALID_PARAMETER, f"SECURITY_INFORMATION bits {which & ~valid:#x}"
        )
    return which


def query_security(reg: RegistryState, handle: int, which: int, length: int | None) -> bytes:
    """ZwQuerySecurityObject: the key's security descriptor (self-relative) with the
    parts selected by ``which`` (OWNER/GROUP/DACL/SACL/LABEL_SECURITY_INFORMATION). A
    ``length`` below the size gives STATUS_BUFFER_TOO_SMALL with result_length (the
    LengthNeeded of ZwQuerySecurityObject)."""
    with reg._lock:
        which = _check_info(which, VALID_QUERY)
        need = 0
        if which & (
            C.OWNER_SECURITY_INFORMATION
            | C.GROUP_SECURITY_INFORMATION
            | C.DACL_SECURITY_INFORMATION
            | C.LABEL_SECURITY_INFORMATION
        ):
            need |= C.READ_CONTROL
        if which & C.SACL_SECURITY_INFORMATION:
            need |= C.ACCESS_SYSTEM_SECURITY
        length = check_length(length)
        entry = reg._entry("ZwQuerySecurityObject", handle, need)
        obj = entry.obj
        info = REG_QUERY_KEY_SECURITY_INFORMATION(
            Object=obj, SecurityInformation=which, Length=length
        )

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            sd = select_security(bytes(kcb.key.security_raw), which)
            info.SecurityDescriptor = sd
            if length is not None and length < len(sd):
                raise NtStatusError(
                    S.STATUS_BUFFER_TOO_SMALL, "security descriptor", result_length=len(sd)
                )
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(
            N.RegNtPreQueryKeySecurity, N.RegNtPostQueryKeySecurity, info, op
        )
        reg._raise_unless_success(status)
        return bytes(info.SecurityDescriptor or b"")


def set_security(reg: RegistryState, handle: int, which: int, security_descriptor: bytes) -> None:
    """ZwSetSecurityObject: replace the parts of the key's descriptor selected by
    ``which`` with those of ``security_descriptor`` (self-relative bytes);
    PROTECTED_/UNPROTECTED_DACL/SACL_SECURITY_INFORMATION set or clear
    SE_DACL/SACL_PROTECTED. With a token, a new owner must be one of its SIDs
    (STATUS_INVALID_OWNER) unless it holds SeRestorePrivilege."""
    with reg._lock:
        which = _check_info(which, VALID_SET)
        need = 0
        if which & (C.OWNER_SECURITY_INFORMATION | C.GROUP_SECURITY_INFORMATION):
            need |= C.WRITE_OWNER
        if which & (
            C.DACL_SECURITY_INFORMATION
            | C.PROTECTED_DACL_SECURITY_INFORMATION
            | C.UNPROTECTED_DACL_SECURITY_INFORMATION
        ):
            need |= C.WRITE_DAC
        if which & (
            C.SACL_SECURITY_INFORMATION
            | C.PROTECTED_SACL_SECURITY_INFORMATION
            | C.UNPROTECTED_SACL_SECURITY_INFORMATION
        ):
            need |= C.ACCESS_SYSTEM_SECURITY
        entry = reg._entry("ZwSetSecurityObject", handle, need)
        obj = entry.obj
        try:
            new = parse_descriptor(bytes(security_descriptor))
        except (RegfError, TypeError, ValueError) as exc:
            raise NtStatusError(S.STATUS_INVALID_SECURITY_DESCR, str(exc)) from exc
        token = reg.current_token()
        if (
            token is not None
            and which & C.OWNER_SECURITY_INFORMATION
            and new.owner is not None
            and new.owner not in token.sids
            and not token.has(SE_RESTORE_PRIVILEGE)
        ):
            raise NtStatusError(S.STATUS_INVALID_OWNER, f"{new.owner} is not in the token")
        info = REG_SET_KEY_SECURITY_INFORMATION(
            Object=obj,
            SecurityInformation=which,
            SecurityDescriptor=bytes(security_descriptor),
        )

        def op() -> NTSTATUS:
            kcb = reg._writable(reg._alive(obj.kcb))
            merged = merge_security(bytes(kcb.key.security_raw), new, which)
            try:
                kcb.key.security_raw = merged
            except InvalidArgumentError as exc:
                raise NtStatusError(S.STATUS_INVALID_SECURITY_DESCR, str(exc)) from exc
            reg._dirty(kcb)
            reg._notify_change(kcb, C.REG_NOTIFY_CHANGE_SECURITY)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreSetKeySecurity, N.RegNtPostSetKeySecurity, info, op)
        reg._raise_unless_success(status)


def select_security(raw: bytes, which: int) -> bytes:
    """The parts of descriptor ``raw`` selected by ``which``. LABEL_SECURITY_INFORMATION
    alone (without SACL_SECURITY_INFORMATION) returns a SACL holding only the mandatory
    label ACEs (winnt.h SYSTEM_MANDATORY_LABEL_ACE_TYPE), readable with READ_CONTROL."""
    sd = parse_descriptor(raw)
    sacl = sd.sacl if which & C.SACL_SECURITY_INFORMATION else None
    control = _control(sd.control, which)
    if which & C.LABEL_SECURITY_INFORMATION and not which & C.SACL_SECURITY_INFORMATION:
        labels = tuple(a for a in sd.sacl.aces if a.type == _LABEL_ACE) if sd.sacl else ()
        if labels:
            assert sd.sacl is not None
            sacl = Acl(sd.sacl.revision, labels)
            control |= SdControl.SACL_PRESENT
    keep = replace(
        sd,
        owner=sd.owner if which & C.OWNER_SECURITY_INFORMATION else None,
        group=sd.group if which & C.GROUP_SECURITY_INFORMATION else None,
        dacl=sd.dacl if which & C.DACL_SECURITY_INFORMATION else None,
        sacl=sacl,
        control=control,
    )
    return keep.to_bytes()


_LABEL_ACE = AceType.SYSTEM_MANDATORY_LABEL


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


def merge_security(current: bytes, new: Any, which: int) -> bytes:
    cur = parse_descriptor(current)
    dacl_bits, sacl_bits = _DACL_BITS, _SACL_BITS
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
    # PROTECTED_/UNPROTECTED_ bits (winnt.h): set or clear SE_DACL/SACL_PROTECTED.
    if which & C.PROTECTED_DACL_SECURITY_INFORMATION:
        control |= SdControl.DACL_PROTECTED
    elif which & C.UNPROTECTED_DACL_SECURITY_INFORMATION:
        control &= ~SdControl.DACL_PROTECTED
    if which & C.PROTECTED_SACL_SECURITY_INFORMATION:
        control |= SdControl.SACL_PROTECTED
    elif which & C.UNPROTECTED_SACL_SECURITY_INFORMATION:
        control &= ~SdControl.SACL_PROTECTED
    merged = type(cur)(
        revision=cur.revision, control=control, owner=owner, group=group, sacl=sacl, dacl=dacl
    )
    out: bytes = merged.to_bytes()
    return out


__all__ = [
    "VALID_QUERY",
    "VALID_SET",
    "merge_security",
    "query_security",
    "select_security",
    "set_security",
]
