"""Access checks from the keys' security descriptors: tokens, the DACL walk, generic
mapping, owner rights, privileges and the inheritance of ACEs to new subkeys.

The rules are Windows' (SeAccessCheck and SeAssignSecurityEx with auto-inheritance, as
documented on the "How DACLs Control Access to an Object", "Order of ACEs in a DACL",
"ACE Inheritance Rules" and "SID Strings / Owner Rights" pages and winnt.h):

* Generic rights in the desired access and in ACE masks are mapped with the key type's
  GENERIC_MAPPING (KEY_READ / KEY_WRITE / KEY_EXECUTE / KEY_ALL_ACCESS).
* No DACL, or a NULL DACL: everything is granted. An empty DACL grants nothing.
* ACEs are read in order; INHERIT_ONLY ACEs are skipped; an ACE applies when its SID is
  the token's user or one of its groups (``OWNER RIGHTS`` S-1-3-4 applies to the owner).
  A denied ACE naming a still-wanted right denies the request; allowed ACEs grant rights
  until every wanted right is granted. MAXIMUM_ALLOWED collects every right granted and
  not denied before it.
* The owner is granted READ_CONTROL and WRITE_DAC implicitly, unless the DACL has an
  ``OWNER RIGHTS`` ACE (then those ACEs say what the owner gets).
* Privileges: SeSecurityPrivilege is needed for ACCESS_SYSTEM_SECURITY;
  SeTakeOwnershipPrivilege grants WRITE_OWNER; with REG_OPTION_BACKUP_RESTORE,
  SeBackupPrivilege grants every read right and SeRestorePrivilege every write right.

Inheritance (:func:`inherit`): a new key gets the parent's CONTAINER_INHERIT ACEs (and
OBJECT_INHERIT-only ACEs as inherit-only), marked INHERITED; NO_PROPAGATE_INHERIT ACEs
lose their inheritance flags; CREATOR OWNER / CREATOR GROUP ACEs become an effective ACE
for the new owner / group plus an inherit-only copy. An explicit descriptor's ACEs come
first; a DACL_PROTECTED one inherits nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..format.security import (
    Ace,
    AceFlags,
    AceType,
    Acl,
    SdControl,
    SecurityDescriptor,
    Sid,
    from_sddl,
)
from . import constants as C
from .status import NTSTATUS, NtStatusError

SID_EVERYONE = Sid.parse("S-1-1-0")
SID_CREATOR_OWNER = Sid.parse("S-1-3-0")
SID_CREATOR_GROUP = Sid.parse("S-1-3-1")
SID_OWNER_RIGHTS = Sid.parse("S-1-3-4")
SID_SYSTEM = Sid.parse("S-1-5-18")
SID_ADMINISTRATORS = Sid.parse("S-1-5-32-544")
SID_USERS = Sid.parse("S-1-5-32-545")
SID_AUTHENTICATED_USERS = Sid.parse("S-1-5-11")
SID_INTERACTIVE = Sid.parse("S-1-5-4")

SE_SECURITY_PRIVILEGE = "SeSecurityPrivilege"
SE_TAKE_OWNERSHIP_PRIVILEGE = "SeTakeOwnershipPrivilege"
SE_BACKUP_PRIVILEGE = "SeBackupPrivilege"
SE_RESTORE_PRIVILEGE = "SeRestorePrivilege"

#: Every right a key can be granted (no generic bits).
KEY_VALID_ACCESS = C.KEY_ALL_ACCESS | C.ACCESS_SYSTEM_SECURITY | C.SYNCHRONIZE
#: What SeBackupPrivilege grants under REG_OPTION_BACKUP_RESTORE.
BACKUP_RIGHTS = C.KEY_READ | C.ACCESS_SYSTEM_SECURITY
#: What SeRestorePrivilege grants under REG_OPTION_BACKUP_RESTORE.
RESTORE_RIGHTS = (
    C.KEY_WRITE
    | C.KEY_CREATE_LINK
    | C.DELETE
    | C.WRITE_DAC
    | C.WRITE_OWNER
    | C.ACCESS_SYSTEM_SECURITY
)

_ALLOW_TYPES = frozenset({AceType.ACCESS_ALLOWED, AceType.ACCESS_ALLOWED_OBJECT})
_DENY_TYPES = frozenset({AceType.ACCESS_DENIED, AceType.ACCESS_DENIED_OBJECT})
_INHERIT_BITS = (
    AceFlags.OBJECT_INHERIT
    | AceFlags.CONTAINER_INHERIT
    | AceFlags.NO_PROPAGATE_INHERIT
    | AceFlags.INHERIT_ONLY
)


def _sid(value: Sid | str) -> Sid:
    return value if isinstance(value, Sid) else Sid.parse(value)


@dataclass(frozen=True)
class Token:
    """A caller's access token: user SID, group SIDs, privileges (by name, e.g.
    ``"SeBackupPrivilege"``; all enabled), owner and primary group for new keys and
    the default DACL used when a new key inherits nothing.

    SIDs may be given as ``S-1-...`` strings or SDDL aliases (``"BA"``, ``"SY"``).
    Everyone (S-1-1-0) is always among the groups, as in every Windows token.
    """

    user: Sid
    groups: tuple[Sid, ...] = ()
    privileges: frozenset[str] = frozenset()
    owner: Sid | None = None
    primary_group: Sid | None = None
    default_dacl: Acl | None = None
    _sids: frozenset[Sid] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "user", _sid(self.user))
        groups = tuple(_sid(g) for g in self.groups)
        if SID_EVERYONE not in groups:
            groups += (SID_EVERYONE,)
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "privileges", frozenset(self.privileges))
        if self.owner is not None:
            object.__setattr__(self, "owner", _sid(self.owner))
        if self.primary_group is not None:
            object.__setattr__(self, "primary_group", _sid(self.primary_group))
        object.__setattr__(self, "_sids", frozenset((self.user, *groups)))

    @classmethod
    def of(
        cls,
        user: Sid | str,
        groups: Iterable[Sid | str] = (),
        privileges: Iterable[str] = (),
        **kwargs: object,
    ) -> Token:
        """Build a token from SID strings/aliases."""
        return cls(_sid(user), tuple(_sid(g) for g in groups), frozenset(privileges), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def system(cls) -> Token:
        """LocalSystem: SYSTEM, Administrators, the backup/restore/security/ownership
        privileges."""
        return cls(
            SID_SYSTEM,
            (SID_ADMINISTRATORS, SID_AUTHENTICATED_USERS),
            frozenset(
                {
                    SE_SECURITY_PRIVILEGE,
                    SE_TAKE_OWNERSHIP_PRIVILEGE,
                    SE_BACKUP_PRIVILEGE,
                    SE_RESTORE_PRIVILEGE,
                }
            ),
        )

    @property
    def sids(self) -> frozenset[Sid]:
        """User and group SIDs."""
        return self._sids

    @property
    def new_owner(self) -> Sid:
        """The owner given to keys this token creates."""
        return self.owner or self.user

    @property
    def new_group(self) -> Sid:
        """The group given to keys this token creates."""
        return self.primary_group or self.user

    def has(self, privilege: str) -> bool:
        """Whether the token holds ``privilege``."""
        return privilege in self.privileges


def map_mask(mask: int) -> int:
    """``mask`` with generic rights mapped by the key type's GENERIC_MAPPING
    (MAXIMUM_ALLOWED is kept as is)."""
    out = mask & ~(C.GENERIC_READ | C.GENERIC_WRITE | C.GENERIC_EXECUTE | C.GENERIC_ALL)
    for bit, mapped in C.KEY_GENERIC_MAPPING.items():
        if mask & bit:
            out |= mapped
    return out


def _applies(ace: Ace, token: Token, is_owner: bool) -> bool:
    sid = ace.sid
    if sid is None:
        return False
    if sid == SID_OWNER_RIGHTS:
        return is_owner
    return sid in token.sids


def _is_owner(sd: SecurityDescriptor, token: Token) -> bool:
    return sd.owner is not None and sd.owner in token.sids


def _dacl_grants(sd: SecurityDescriptor, token: Token, wanted: int, maximum: bool) -> int:
    """Rights the DACL (plus implicit owner rights) grants out of ``wanted`` (every valid
    right for MAXIMUM_ALLOWED); stops early at a deny of a wanted right."""
    if sd.dacl is None:  # no DACL or a NULL DACL: no protection at all
        return KEY_VALID_ACCESS & ~C.ACCESS_SYSTEM_SECURITY
    is_owner = _is_owner(sd, token)
    granted = 0
    denied = 0
    owner_rights_ace = any(a.sid == SID_OWNER_RIGHTS for a in sd.dacl.aces)
    if is_owner and not owner_rights_ace:
        granted |= C.READ_CONTROL | C.WRITE_DAC
    for ace in sd.dacl.aces:
        if ace.flags & AceFlags.INHERIT_ONLY or not _applies(ace, token, is_owner):
            continue
        # ACCESS_SYSTEM_SECURITY is never granted by a DACL (only by the privilege).
        mask = map_mask(ace.mask) & ~C.ACCESS_SYSTEM_SECURITY
        if ace.type in _DENY_TYPES:
            if not maximum and mask & wanted & ~granted:
                return granted  # a wanted right not yet granted is denied: stop here
            denied |= mask & ~granted
        elif ace.type in _ALLOW_TYPES:
            granted |= mask & ~denied
            if not maximum and not wanted & ~granted:
                break
    return granted


def access_check(
    sd: SecurityDescriptor,
    token: Token,
    desired: int,
    *,
    backup_restore: bool = False,
) -> int:
    """The rights ``token`` gets on an object protected by ``sd`` when asking for
    ``desired``; STATUS_ACCESS_DENIED (NtStatusError) when one is not granted."""
    desired = map_mask(desired)
    maximum = bool(desired & C.MAXIMUM_ALLOWED)
    wanted = desired & ~C.MAXIMUM_ALLOWED
    privileged = 0
    if wanted & C.ACCESS_SYSTEM_SECURITY or maximum:
        if token.has(SE_SECURITY_PRIVILEGE):
            privileged |= C.ACCESS_SYSTEM_SECURITY
        elif wanted & C.ACCESS_SYSTEM_SECURITY:
            raise NtStatusError(
                NTSTATUS.STATUS_ACCESS_DENIED, "ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege"
            )
    if token.has(SE_TAKE_OWNERSHIP_PRIVILEGE):
        privileged |= C.WRITE_OWNER
    if backup_restore:
        if token.has(SE_BACKUP_PRIVILEGE):
            privileged |= BACKUP_RIGHTS if token.has(SE_SECURITY_PRIVILEGE) else C.KEY_READ
        if token.has(SE_RESTORE_PRIVILEGE):
            privileged |= RESTORE_RIGHTS & ~C.ACCESS_SYSTEM_SECURITY
    if maximum:
        granted = (_dacl_grants(sd, token, 0, True) | privileged) & KEY_VALID_ACCESS
        if not granted or wanted & ~granted:
            raise NtStatusError(
                NTSTATUS.STATUS_ACCESS_DENIED,
                f"access {wanted & ~granted:#x} is not granted by the DACL",
            )
        return granted
    rest = wanted & ~privileged
    if rest:
        missing = rest & ~_dacl_grants(sd, token, rest, False)
        if missing:
            raise NtStatusError(
                NTSTATUS.STATUS_ACCESS_DENIED, f"access {missing:#x} is not granted by the DACL"
            )
    return wanted


# ---------------------------------------------------------------------------------------
# Inheritance
# ---------------------------------------------------------------------------------------


def _inherited_aces(acl: Acl | None, owner: Sid, group: Sid, *, dacl: bool) -> list[Ace]:
    """The ACEs a new subkey (a container) inherits from its parent's ``acl``."""
    out: list[Ace] = []
    if acl is None:
        return out
    for ace in acl.aces:
        flags = int(ace.flags)
        ci = flags & AceFlags.CONTAINER_INHERIT
        oi = flags & AceFlags.OBJECT_INHERIT
        no_prop = flags & AceFlags.NO_PROPAGATE_INHERIT
        if not (ci or oi):
            continue
        audit = flags & (AceFlags.SUCCESSFUL_ACCESS | AceFlags.FAILED_ACCESS)
        if not ci:
            # OBJECT_INHERIT only: a container passes it on to its objects, inherit-only.
            if not no_prop:
                out.append(
                    Ace(
                        ace.type,
                        AceFlags.OBJECT_INHERIT
                        | AceFlags.INHERIT_ONLY
                        | AceFlags.INHERITED
                        | audit,
                        ace.mask,
                        ace.sid,
                    )
                )
            continue
        creator = ace.sid in (SID_CREATOR_OWNER, SID_CREATOR_GROUP)
        if creator or no_prop:
            # The effective ACE for this key: generic rights mapped, creator SIDs
            # replaced, no inheritance flags.
            sid = owner if ace.sid == SID_CREATOR_OWNER else group if creator else ace.sid
            out.append(Ace(ace.type, AceFlags.INHERITED | audit, map_mask(ace.mask), sid))
            if not no_prop:
                # ...and the original, inherit-only, for the subkeys below.
                keep = flags & (AceFlags.OBJECT_INHERIT | AceFlags.CONTAINER_INHERIT)
                out.append(
                    Ace(
                        ace.type,
                        keep | AceFlags.INHERIT_ONLY | AceFlags.INHERITED | audit,
                        ace.mask,
                        ace.sid,
                    )
                )
            continue
        keep = flags & (AceFlags.OBJECT_INHERIT | AceFlags.CONTAINER_INHERIT)
        out.append(Ace(ace.type, keep | AceFlags.INHERITED | audit, ace.mask, ace.sid))
    del dacl
    return out


def _explicit(acl: Acl | None) -> list[Ace]:
    return [a for a in acl.aces if not a.flags & AceFlags.INHERITED] if acl else []


def inherit(
    parent: SecurityDescriptor, explicit: SecurityDescriptor | None, token: Token
) -> SecurityDescriptor:
    """The descriptor of a new subkey of a key protected by ``parent``, created by
    ``token`` with the optional ``explicit`` descriptor (ZwCreateKey's
    ObjectAttributes.SecurityDescriptor)."""
    owner = explicit.owner if explicit is not None and explicit.owner else token.new_owner
    group = explicit.group if explicit is not None and explicit.group else token.new_group
    control = int(SdControl.SELF_RELATIVE)
    acls: dict[str, Acl | None] = {}
    for which, parent_acl, explicit_present, protected_bit, present_bit, auto_bit in (
        (
            "dacl",
            parent.dacl,
            explicit is not None and explicit.dacl_present,
            SdControl.DACL_PROTECTED,
            SdControl.DACL_PRESENT,
            SdControl.DACL_AUTO_INHERITED,
        ),
        (
            "sacl",
            parent.sacl,
            explicit is not None and explicit.sacl_present,
            SdControl.SACL_PROTECTED,
            SdControl.SACL_PRESENT,
            SdControl.SACL_AUTO_INHERITED,
        ),
    ):
        mine = getattr(explicit, which) if explicit is not None else None
        protected = explicit is not None and bool(int(explicit.control) & protected_bit)
        aces = _explicit(mine)
        inherited = (
            [] if protected else _inherited_aces(parent_acl, owner, group, dacl=which == "dacl")
        )
        if explicit_present and mine is None and not inherited:
            # An explicit NULL DACL/SACL stays NULL.
            control |= present_bit | (protected_bit if protected else 0)
            acls[which] = None
            continue
        if not aces and not inherited:
            if which == "dacl":
                default = token.default_dacl or _DEFAULT_DACL(owner)
                acls[which] = default
                control |= present_bit
            else:
                acls[which] = None
            continue
        acls[which] = Acl(2, tuple(aces + inherited))
        control |= present_bit | auto_bit | (protected_bit if protected else 0)
    return SecurityDescriptor(1, control, owner, group, acls["sacl"], acls["dacl"])


def kernel_subject() -> Token:
    """The subject a kernel-mode caller (no token in effect) creates keys as.

    ZwCreateKey from kernel mode runs in the System process's security context, and
    SeAssignSecurity (wdm.h) takes "the default owner, primary group, and discretionary
    access control" of a new object from that SubjectContext; MS-DTYP 2.5.3.4.1
    CreateSecurityDescriptor spells the same rule (owner and group from the creator
    descriptor, else the token's defaults; the token's default DACL when nothing is
    inherited). The System token's defaults are SYSTEM (owner and primary group) and
    the DACL SYSTEM: GENERIC_ALL, Administrators: GENERIC_READ | GENERIC_EXECUTE |
    READ_CONTROL, here mapped with the key GENERIC_MAPPING (KA and KR).
    """
    dacl = from_sddl("D:(A;;KA;;;SY)(A;;KR;;;BA)").dacl
    base = Token.system()
    return Token(
        base.user,
        base.groups,
        base.privileges,
        owner=SID_SYSTEM,
        primary_group=SID_SYSTEM,
        default_dacl=dacl,
    )


def _DEFAULT_DACL(owner: Sid) -> Acl:
    """A token's usual default DACL: the owner and SYSTEM get full control."""
    sd = from_sddl(f"D:(A;;KA;;;{owner})(A;;KA;;;SY)")
    assert sd.dacl is not None
    return sd.dacl


__all__ = [
    "KEY_VALID_ACCESS",
    "SE_BACKUP_PRIVILEGE",
    "SE_RESTORE_PRIVILEGE",
    "SE_SECURITY_PRIVILEGE",
    "SE_TAKE_OWNERSHIP_PRIVILEGE",
    "SID_ADMINISTRATORS",
    "SID_AUTHENTICATED_USERS",
    "SID_CREATOR_GROUP",
    "SID_CREATOR_OWNER",
    "SID_EVERYONE",
    "SID_INTERACTIVE",
    "SID_OWNER_RIGHTS",
    "SID_SYSTEM",
    "SID_USERS",
    "Token",
    "access_check",
    "inherit",
    "kernel_subject",
    "map_mask",
]
