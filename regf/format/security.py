"""Self-relative SECURITY_DESCRIPTORs (the payload of ``sk`` cells) and SDDL.

Pure bytes <-> records: :func:`parse_descriptor` turns the bytes at ``sk`` + 0x14 into a
:class:`SecurityDescriptor`, :meth:`SecurityDescriptor.to_bytes` builds them back, and
:attr:`SecurityDescriptor.sddl` / :func:`from_sddl` convert to and from the Security
Descriptor Definition Language the way ``ConvertSecurityDescriptorToStringSecurityDescriptor``
does.

Layouts (MS-DTYP §2.4.2 SID, §2.4.4 ACE, §2.4.5 ACL, §2.4.6 SECURITY_DESCRIPTOR) are declared
below in Construct and every parse goes through :func:`regf.format.codec.parse`, so hostile
bytes only ever raise :class:`~regf.errors.FormatError` (or a subclass) carrying the offset of
the bad record: relative to the descriptor start plus the caller's ``base``.

Byte order of the parts. Windows writes the self-relative form as the 20-byte header
followed by SACL, DACL, owner, group (every one of ~3,500 ``sk`` cells in the shared corpus
is laid out that way). :meth:`SecurityDescriptor.to_bytes` builds that order, but a parsed
descriptor remembers its original bytes and returns them unchanged, so round trips are
byte-exact even for descriptors with slack in an ACL or an unusual part order. Any edit
(``dataclasses.replace``) drops the remembered bytes and the canonical form is built.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any

from construct import (
    Array,
    Bytes,
    BytesInteger,
    GreedyBytes,
    If,
    Int8ul,
    Int16ul,
    Int32ul,
    Struct,
    this,
)

from ..errors import FormatError, InvalidArgumentError
from .codec import build, parse

# ---------------------------------------------------------------------------------------
# Construct declarations (MS-DTYP names in snake case).
# ---------------------------------------------------------------------------------------

#: SECURITY_DESCRIPTOR_RELATIVE: 20 bytes; a part offset of 0 means "absent".
SecurityDescriptorHeader = Struct(
    "revision" / Int8ul,  # 0x00 always 1
    "sbz1" / Int8ul,  # 0x01 resource-manager control bits when SE_RM_CONTROL_VALID
    "control" / Int16ul,  # 0x02 SE_* flags, SE_SELF_RELATIVE (0x8000) on disk
    "offset_owner" / Int32ul,  # 0x04
    "offset_group" / Int32ul,  # 0x08
    "offset_sacl" / Int32ul,  # 0x0C
    "offset_dacl" / Int32ul,  # 0x10
)
SD_HEADER_SIZE = 20

#: SID: 8 bytes + 4 per sub-authority; the 48-bit authority is big-endian.
SidStruct = Struct(
    "revision" / Int8ul,  # 0x00 always 1
    "sub_authority_count" / Int8ul,  # 0x01 at most 15 on Windows
    "identifier_authority" / BytesInteger(6, signed=False, swapped=False),  # 0x02
    "sub_authority" / Array(this.sub_authority_count, Int32ul),  # 0x08
)

#: ACL header; ``acl_size`` covers the header and every ACE (and any slack after them).
AclHeader = Struct(
    "acl_revision" / Int8ul,  # 0x00 2 (ACL_REVISION) or 4 (ACL_REVISION_DS, object ACEs)
    "sbz1" / Int8ul,  # 0x01
    "acl_size" / Int16ul,  # 0x02
    "ace_count" / Int16ul,  # 0x04
    "sbz2" / Int16ul,  # 0x06
)
ACL_HEADER_SIZE = 8

#: ACE_HEADER; ``ace_size`` covers the header and the body.
AceHeader = Struct(
    "ace_type" / Int8ul,  # 0x00
    "ace_flags" / Int8ul,  # 0x01
    "ace_size" / Int16ul,  # 0x02
)
ACE_HEADER_SIZE = 4

#: Body of ACCESS_ALLOWED_ACE and friends (everything after the header): mask, SID, and for
#: callback / resource-attribute ACEs the application data up to ``ace_size``.
AceBody = Struct(
    "mask" / Int32ul,  # 0x04
    "sid" / SidStruct,  # 0x08
    "application_data" / GreedyBytes,
)

ACE_OBJECT_TYPE_PRESENT = 0x1
ACE_INHERITED_OBJECT_TYPE_PRESENT = 0x2

#: Body of ACCESS_ALLOWED_OBJECT_ACE and friends: the GUIDs are there only when flagged.
ObjectAceBody = Struct(
    "mask" / Int32ul,  # 0x04
    "flags" / Int32ul,  # 0x08 ACE_OBJECT_TYPE_PRESENT | ACE_INHERITED_OBJECT_TYPE_PRESENT
    "object_type" / If(this.flags & ACE_OBJECT_TYPE_PRESENT, Bytes(16)),  # GUID, bytes_le
    "inherited_object_type" / If(this.flags & ACE_INHERITED_OBJECT_TYPE_PRESENT, Bytes(16)),
    "sid" / SidStruct,
    "application_data" / GreedyBytes,
)

# ---------------------------------------------------------------------------------------
# Constants.
# ---------------------------------------------------------------------------------------


class SdControl(IntFlag):
    """SECURITY_DESCRIPTOR_CONTROL bits."""

    OWNER_DEFAULTED = 0x0001
    GROUP_DEFAULTED = 0x0002
    DACL_PRESENT = 0x0004
    DACL_DEFAULTED = 0x0008
    SACL_PRESENT = 0x0010
    SACL_DEFAULTED = 0x0020
    DACL_AUTO_INHERIT_REQ = 0x0100
    SACL_AUTO_INHERIT_REQ = 0x0200
    DACL_AUTO_INHERITED = 0x0400
    SACL_AUTO_INHERITED = 0x0800
    DACL_PROTECTED = 0x1000
    SACL_PROTECTED = 0x2000
    RM_CONTROL_VALID = 0x4000
    SELF_RELATIVE = 0x8000


class AceType:
    """ACE type codes (ACE_HEADER.AceType)."""

    ACCESS_ALLOWED = 0x00
    ACCESS_DENIED = 0x01
    SYSTEM_AUDIT = 0x02
    SYSTEM_ALARM = 0x03
    ACCESS_ALLOWED_COMPOUND = 0x04
    ACCESS_ALLOWED_OBJECT = 0x05
    ACCESS_DENIED_OBJECT = 0x06
    SYSTEM_AUDIT_OBJECT = 0x07
    SYSTEM_ALARM_OBJECT = 0x08
    ACCESS_ALLOWED_CALLBACK = 0x09
    ACCESS_DENIED_CALLBACK = 0x0A
    ACCESS_ALLOWED_CALLBACK_OBJECT = 0x0B
    ACCESS_DENIED_CALLBACK_OBJECT = 0x0C
    SYSTEM_AUDIT_CALLBACK = 0x0D
    SYSTEM_ALARM_CALLBACK = 0x0E
    SYSTEM_AUDIT_CALLBACK_OBJECT = 0x0F
    SYSTEM_ALARM_CALLBACK_OBJECT = 0x10
    SYSTEM_MANDATORY_LABEL = 0x11
    SYSTEM_RESOURCE_ATTRIBUTE = 0x12
    SYSTEM_SCOPED_POLICY_ID = 0x13
    SYSTEM_PROCESS_TRUST_LABEL = 0x14
    SYSTEM_ACCESS_FILTER = 0x15


class AceFlags(IntFlag):
    """ACE_HEADER.AceFlags bits."""

    OBJECT_INHERIT = 0x01
    CONTAINER_INHERIT = 0x02
    NO_PROPAGATE_INHERIT = 0x04
    INHERIT_ONLY = 0x08
    INHERITED = 0x10
    CRITICAL = 0x20
    SUCCESSFUL_ACCESS = 0x40
    FAILED_ACCESS = 0x80


#: Types whose body is mask + flags + optional GUIDs + SID (+ application data).
OBJECT_ACE_TYPES = frozenset({0x05, 0x06, 0x07, 0x08, 0x0B, 0x0C, 0x0F, 0x10})
#: Types whose body is mask + SID (+ application data). Other types are kept opaque.
SID_ACE_TYPES = frozenset(
    {0x00, 0x01, 0x02, 0x03, 0x09, 0x0A, 0x0D, 0x0E, 0x11, 0x12, 0x13, 0x14, 0x15}
)

ACL_REVISION = 2
ACL_REVISION_DS = 4

# ---------------------------------------------------------------------------------------
# SDDL tables (the order of the tables is the order Windows emits).
# ---------------------------------------------------------------------------------------

#: Well-known SID aliases that are not relative to a domain.
SID_ALIASES: dict[str, str] = {
    "AA": "S-1-5-32-579",
    "AC": "S-1-15-2-1",
    "AN": "S-1-5-7",
    "AO": "S-1-5-32-548",
    "AS": "S-1-18-1",
    "AU": "S-1-5-11",
    "BA": "S-1-5-32-544",
    "BG": "S-1-5-32-546",
    "BO": "S-1-5-32-551",
    "BU": "S-1-5-32-545",
    "CG": "S-1-3-1",
    "CO": "S-1-3-0",
    "CY": "S-1-5-32-569",
    "ED": "S-1-5-9",
    "ER": "S-1-5-32-573",
    "ES": "S-1-5-32-576",
    "HA": "S-1-5-32-578",
    "HI": "S-1-16-12288",
    "IS": "S-1-5-32-568",
    "IU": "S-1-5-4",
    "LS": "S-1-5-19",
    "LU": "S-1-5-32-559",
    "LW": "S-1-16-4096",
    "ME": "S-1-16-8192",
    "MP": "S-1-16-8448",
    "MS": "S-1-5-32-577",
    "MU": "S-1-5-32-558",
    "NO": "S-1-5-32-556",
    "NS": "S-1-5-20",
    "NU": "S-1-5-2",
    "OW": "S-1-3-4",
    "PO": "S-1-5-32-550",
    "PS": "S-1-5-10",
    "PU": "S-1-5-32-547",
    "RA": "S-1-5-32-575",
    "RC": "S-1-5-12",
    "RD": "S-1-5-32-555",
    "RE": "S-1-5-32-552",
    "RM": "S-1-5-32-580",
    "RU": "S-1-5-32-554",
    "SI": "S-1-16-16384",
    "SO": "S-1-5-32-549",
    "SS": "S-1-18-2",
    "SU": "S-1-5-6",
    "SY": "S-1-5-18",
    "WD": "S-1-1-0",
    "WR": "S-1-5-33",
}
_SID_TO_ALIAS: dict[str, str] = {v: k for k, v in SID_ALIASES.items()}

ACE_TYPE_NAMES: dict[int, str] = {
    0x00: "A",
    0x01: "D",
    0x02: "AU",
    0x03: "AL",
    0x05: "OA",
    0x06: "OD",
    0x07: "OU",
    0x08: "OL",
    0x09: "XA",
    0x0A: "XD",
    0x0B: "ZA",
    0x0D: "XU",
    0x11: "ML",
    0x12: "RA",
    0x13: "SP",
    0x14: "TL",
    0x15: "FL",
}
_ACE_TYPE_CODES: dict[str, int] = {v: k for k, v in ACE_TYPE_NAMES.items()}

#: ACE flag aliases in output order.
ACE_FLAG_NAMES: tuple[tuple[str, int], ...] = (
    ("OI", 0x01),
    ("CI", 0x02),
    ("NP", 0x04),
    ("IO", 0x08),
    ("ID", 0x10),
    ("SA", 0x40),
    ("FA", 0x80),
    ("CR", 0x20),
)

#: Rights aliases matched against the whole mask, first match wins (Windows' table order).
RIGHTS_ALIASES: tuple[tuple[str, int], ...] = (
    ("GA", 0x10000000),
    ("GR", 0x80000000),
    ("GW", 0x40000000),
    ("GX", 0x20000000),
    ("RC", 0x00020000),
    ("SD", 0x00010000),
    ("WD", 0x00040000),
    ("WO", 0x00080000),
    ("RP", 0x00000010),
    ("WP", 0x00000020),
    ("CC", 0x00000001),
    ("DC", 0x00000002),
    ("LC", 0x00000004),
    ("SW", 0x00000008),
    ("LO", 0x00000080),
    ("DT", 0x00000040),
    ("CR", 0x00000100),
    ("FA", 0x001F01FF),
    ("FR", 0x00120089),
    ("FW", 0x00120116),
    ("FX", 0x001200A0),
    ("KA", 0x000F003F),
    ("KR", 0x00020019),
    ("KW", 0x00020006),
    ("KX", 0x00020019),
)
#: Single-bit aliases a mask with no whole-mask alias is spelled with (lowest bit first).
_RIGHT_BITS: dict[int, str] = {
    0x00000001: "CC",
    0x00000002: "DC",
    0x00000004: "LC",
    0x00000008: "SW",
    0x00000010: "RP",
    0x00000020: "WP",
    0x00000040: "DT",
    0x00000080: "LO",
    0x00000100: "CR",
    0x00010000: "SD",
    0x00020000: "RC",
    0x00040000: "WD",
    0x00080000: "WO",
    0x10000000: "GA",
    0x20000000: "GX",
    0x40000000: "GW",
    0x80000000: "GR",
}
#: Mandatory-label (ML) ACE rights.
_LABEL_BITS: dict[int, str] = {0x1: "NR", 0x2: "NW", 0x4: "NX"}
_RIGHTS_CODES: dict[str, int] = {
    **{k: v for k, v in RIGHTS_ALIASES},
    **{v: k for k, v in _LABEL_BITS.items()},
}

# ---------------------------------------------------------------------------------------
# Records.
# ---------------------------------------------------------------------------------------

_SID_RE = re.compile(r"S-1-(0[xX][0-9A-Fa-f]+|[0-9]+)((?:-[0-9]+)*)\Z", re.IGNORECASE)


@dataclass(frozen=True)
class Sid:
    """A security identifier: ``S-<revision>-<authority>-<sub>-<sub>...``."""

    revision: int
    authority: int
    subauthorities: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.subauthorities, tuple):  # accept lists, stay hashable
            object.__setattr__(self, "subauthorities", tuple(self.subauthorities))

    def __str__(self) -> str:
        """Windows' string form; an authority of 2**32 or more is written in hex."""
        auth = str(self.authority) if self.authority < 1 << 32 else f"0x{self.authority:012X}"
        subs = "".join(f"-{s}" for s in self.subauthorities)
        return f"S-{self.revision}-{auth}{subs}"

    @classmethod
    def parse(cls, text: str) -> Sid:
        """Parse ``S-1-...`` (or a well-known SDDL alias such as ``SY``).

        Raises :class:`~regf.errors.InvalidArgumentError` on a malformed string.
        """
        alias = SID_ALIASES.get(text)
        if alias is not None:
            text = alias
        m = _SID_RE.match(text)
        if m is None:
            raise InvalidArgumentError(f"not a SID string: {text!r}")
        if len(text) > 512:  # 255 sub-authorities of 10 digits fit; also caps int() work
            raise InvalidArgumentError(f"SID string too long: {text[:40]!r}...")
        auth_text = m.group(1)
        auth = int(auth_text[2:], 16) if auth_text[:2] in ("0x", "0X") else int(auth_text)
        subs = tuple(int(s) for s in m.group(2).split("-")[1:])
        if auth >= 1 << 48 or len(subs) > 255 or any(s >= 1 << 32 for s in subs):
            raise InvalidArgumentError(f"SID out of range: {text!r}")
        return cls(1, auth, subs)

    @property
    def size(self) -> int:
        """Length of the binary form in bytes."""
        return 8 + 4 * len(self.subauthorities)

    def to_bytes(self) -> bytes:
        """The binary SID."""
        return build(SidStruct, self._container(), "SID")

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, base: int = 0) -> Sid:
        """Parse a binary SID at the start of ``data`` (trailing bytes are ignored)."""
        return cls._from_container(parse(SidStruct, data, base, "SID"))

    def _container(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "sub_authority_count": len(self.subauthorities),
            "identifier_authority": self.authority,
            "sub_authority": list(self.subauthorities),
        }

    @classmethod
    def _from_container(cls, c: Any) -> Sid:
        return cls(c.revision, c.identifier_authority, tuple(c.sub_authority))

    @property
    def sddl(self) -> str:
        """The SDDL alias when there is one, else the ``S-1-...`` string."""
        text = str(self)
        return _SID_TO_ALIAS.get(text, text)


def _guid_str(raw: bytes | None) -> str | None:
    return None if raw is None else str(uuid.UUID(bytes_le=bytes(raw)))


def _guid_bytes(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return uuid.UUID(text).bytes_le
    except ValueError:
        raise InvalidArgumentError(f"not a GUID: {text!r}") from None


@dataclass(frozen=True)
class Ace:
    """One access control entry.

    ``sid`` is ``None`` only for ACE types whose body regf does not decode (e.g. compound
    ACEs); their whole body is then kept in ``application_data``. For decoded types
    ``application_data`` holds whatever follows the SID up to the ACE size (callback
    conditions, resource attributes, or padding).
    """

    type: int
    flags: int
    mask: int
    sid: Sid | None
    object_type: str | None = None
    inherited_object_type: str | None = None
    application_data: bytes = b""

    def to_bytes(self) -> bytes:
        """The binary ACE (header + body)."""
        if self.type in OBJECT_ACE_TYPES:
            if self.sid is None:
                raise InvalidArgumentError("object ACE needs a SID")
            obj_flags = (ACE_OBJECT_TYPE_PRESENT if self.object_type is not None else 0) | (
                ACE_INHERITED_OBJECT_TYPE_PRESENT if self.inherited_object_type is not None else 0
            )
            body = build(
                ObjectAceBody,
                {
                    "mask": self.mask,
                    "flags": obj_flags,
                    "object_type": _guid_bytes(self.object_type),
                    "inherited_object_type": _guid_bytes(self.inherited_object_type),
                    "sid": self.sid._container(),
                    "application_data": self.application_data,
                },
                "object ACE",
            )
        elif self.sid is not None:
            body = build(
                AceBody,
                {
                    "mask": self.mask,
                    "sid": self.sid._container(),
                    "application_data": self.application_data,
                },
                "ACE",
            )
        else:
            body = self.application_data
        header = {"ace_type": self.type, "ace_flags": self.flags, "ace_size": 4 + len(body)}
        return build(AceHeader, header, "ACE header") + body

    @property
    def sddl(self) -> str:
        """``(type;flags;rights;object_guid;inherit_object_guid;sid)``."""
        kind = ACE_TYPE_NAMES.get(self.type, f"0x{self.type:x}")
        flags = "".join(name for name, bit in ACE_FLAG_NAMES if self.flags & bit)
        rights = _rights_sddl(self.mask, self.type)
        sid = self.sid.sddl if self.sid is not None else ""
        return (
            f"({kind};{flags};{rights};{self.object_type or ''};"
            f"{self.inherited_object_type or ''};{sid})"
        )


@dataclass(frozen=True)
class Acl:
    """An access control list: revision and ACEs in order."""

    revision: int
    aces: tuple[Ace, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.aces, tuple):  # accept lists, keep the record immutable
            object.__setattr__(self, "aces", tuple(self.aces))

    def to_bytes(self) -> bytes:
        """The binary ACL (header + ACEs, ``AclSize`` exactly their length)."""
        body = b"".join(ace.to_bytes() for ace in self.aces)
        header = {
            "acl_revision": self.revision,
            "sbz1": 0,
            "acl_size": ACL_HEADER_SIZE + len(body),
            "ace_count": len(self.aces),
            "sbz2": 0,
        }
        return build(AclHeader, header, "ACL header") + body

    @property
    def sddl(self) -> str:
        """The ACE strings concatenated."""
        return "".join(ace.sddl for ace in self.aces)


@dataclass(frozen=True)
class SecurityDescriptor:
    """A security descriptor.

    ``dacl``/``sacl`` are ``None`` when absent; a NULL DACL (everyone has access) is
    ``dacl=None`` with ``SdControl.DACL_PRESENT`` in ``control``.
    """

    revision: int = 1
    control: int = SdControl.SELF_RELATIVE
    owner: Sid | None = None
    group: Sid | None = None
    sacl: Acl | None = None
    dacl: Acl | None = None
    sbz1: int = 0
    _raw: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def dacl_present(self) -> bool:
        """Whether the descriptor has a DACL (possibly a NULL one)."""
        return self.dacl is not None or bool(self.control & SdControl.DACL_PRESENT)

    @property
    def sacl_present(self) -> bool:
        """Whether the descriptor has a SACL (possibly a NULL one)."""
        return self.sacl is not None or bool(self.control & SdControl.SACL_PRESENT)

    def to_bytes(self) -> bytes:
        """The self-relative form.

        A descriptor from :func:`parse_descriptor` returns the bytes it was parsed from.
        Otherwise the 20-byte header is followed by SACL, DACL, owner, group (Windows'
        order) and ``SE_SELF_RELATIVE`` plus the present bits for the ACLs are set.
        """
        if self._raw is not None:
            return self._raw
        control = self.control | SdControl.SELF_RELATIVE
        if self.dacl is not None:
            control |= SdControl.DACL_PRESENT
        if self.sacl is not None:
            control |= SdControl.SACL_PRESENT
        parts: list[bytes] = []
        offsets: dict[str, int] = {}
        pos = SD_HEADER_SIZE
        for name, part in (
            ("sacl", self.sacl),
            ("dacl", self.dacl),
            ("owner", self.owner),
            ("group", self.group),
        ):
            if part is None:
                offsets[name] = 0
                continue
            data = part.to_bytes()
            offsets[name] = pos
            parts.append(data)
            pos += len(data)
        header = build(
            SecurityDescriptorHeader,
            {
                "revision": self.revision,
                "sbz1": self.sbz1,
                "control": int(control),
                "offset_owner": offsets["owner"],
                "offset_group": offsets["group"],
                "offset_sacl": offsets["sacl"],
                "offset_dacl": offsets["dacl"],
            },
            "security descriptor header",
        )
        return header + b"".join(parts)

    @property
    def sddl(self) -> str:
        """The SDDL string, e.g. ``O:BAG:SYD:PAI(A;CI;KA;;;SY)``."""
        out: list[str] = []
        if self.owner is not None:
            out.append("O:" + self.owner.sddl)
        if self.group is not None:
            out.append("G:" + self.group.sddl)
        if self.dacl_present:
            out.append("D:" + _acl_sddl(self.dacl, self.control, dacl=True))
        if self.sacl_present:
            out.append("S:" + _acl_sddl(self.sacl, self.control, dacl=False))
        return "".join(out)


# (flag text, DACL bit, SACL bit) in output order.
_ACL_CONTROL_FLAGS: tuple[tuple[str, int, int], ...] = (
    ("P", SdControl.DACL_PROTECTED, SdControl.SACL_PROTECTED),
    ("AR", SdControl.DACL_AUTO_INHERIT_REQ, SdControl.SACL_AUTO_INHERIT_REQ),
    ("AI", SdControl.DACL_AUTO_INHERITED, SdControl.SACL_AUTO_INHERITED),
)


def _acl_sddl(acl: Acl | None, control: int, *, dacl: bool) -> str:
    flags = "".join(
        text for text, dbit, sbit in _ACL_CONTROL_FLAGS if control & (dbit if dacl else sbit)
    )
    if acl is None:
        return flags + "NO_ACCESS_CONTROL"
    return flags + acl.sddl


def _rights_sddl(mask: int, ace_type: int) -> str:
    """Spell ``mask`` as Windows does: whole-mask alias, else bit aliases, else hex."""
    if mask == 0:
        return ""
    bits = _LABEL_BITS if ace_type == AceType.SYSTEM_MANDATORY_LABEL else None
    if bits is None:
        for name, value in RIGHTS_ALIASES:
            if mask == value:
                return name
        bits = _RIGHT_BITS
    names = [bits.get(1 << i) for i in range(32) if mask & (1 << i)]
    if all(n is not None for n in names):
        return "".join(n for n in names if n is not None)
    return f"0x{mask:x}"


# ---------------------------------------------------------------------------------------
# Parsing bytes.
# ---------------------------------------------------------------------------------------


def _parse_ace(data: bytes, off: int, end: int, base: int) -> tuple[Ace, int]:
    """Parse the ACE at ``off`` (which must end by ``end``); return it and its size."""
    if off + ACE_HEADER_SIZE > end:
        raise FormatError("ACE header runs past the end of its ACL", base + off)
    head = parse(AceHeader, data[off : off + ACE_HEADER_SIZE], base + off, "ACE header")
    size = head.ace_size
    if size < ACE_HEADER_SIZE:
        raise FormatError(f"ACE size {size} is smaller than its header", base + off)
    if off + size > end:
        raise FormatError(f"ACE size {size} runs past the end of its ACL", base + off)
    body = data[off + ACE_HEADER_SIZE : off + size]
    where = base + off + ACE_HEADER_SIZE
    ace_type = head.ace_type
    if ace_type in OBJECT_ACE_TYPES:
        c = parse(ObjectAceBody, body, where, "object ACE")
        if c.flags & ~(ACE_OBJECT_TYPE_PRESENT | ACE_INHERITED_OBJECT_TYPE_PRESENT):
            # Unknown object flags cannot be rebuilt from the record; refuse rather than
            # silently drop them (the descriptor's raw bytes would still round-trip, but a
            # record that does not describe its bytes is worse than an error).
            raise FormatError(f"unknown object ACE flags {c.flags:#x}", where)
        ace = Ace(
            ace_type,
            head.ace_flags,
            c.mask,
            Sid._from_container(c.sid),
            _guid_str(c.object_type),
            _guid_str(c.inherited_object_type),
            bytes(c.application_data),
        )
    elif ace_type in SID_ACE_TYPES:
        c = parse(AceBody, body, where, "ACE")
        ace = Ace(
            ace_type,
            head.ace_flags,
            c.mask,
            Sid._from_container(c.sid),
            application_data=bytes(c.application_data),
        )
    else:
        ace = Ace(ace_type, head.ace_flags, 0, None, application_data=bytes(body))
    return ace, size


def _parse_acl(data: bytes, off: int, base: int, what: str) -> Acl:
    if off + ACL_HEADER_SIZE > len(data):
        raise FormatError(f"{what} header runs past the end of the descriptor", base + off)
    head = parse(AclHeader, data[off : off + ACL_HEADER_SIZE], base + off, f"{what} header")
    if head.acl_size < ACL_HEADER_SIZE:
        raise FormatError(f"{what} size {head.acl_size} is smaller than its header", base + off)
    end = off + head.acl_size
    if end > len(data):
        raise FormatError(f"{what} size {head.acl_size} runs past the descriptor", base + off)
    aces: list[Ace] = []
    pos = off + ACL_HEADER_SIZE
    # Every ACE takes at least 4 bytes of the (at most 64 KiB) ACL, so this loop is bounded
    # by the buffer whatever ace_count claims.
    for _ in range(head.ace_count):
        ace, size = _parse_ace(data, pos, end, base)
        aces.append(ace)
        pos += size
    return Acl(head.acl_revision, tuple(aces))


def _parse_sid_at(data: bytes, off: int, base: int, what: str) -> Sid:
    if off >= len(data):
        raise FormatError(f"{what} SID offset {off:#x} is past the descriptor", base + off)
    return Sid._from_container(parse(SidStruct, data[off:], base + off, f"{what} SID"))


def parse_descriptor(data: bytes | bytearray | memoryview, base: int = 0) -> SecurityDescriptor:
    """Parse a self-relative SECURITY_DESCRIPTOR occupying exactly ``data``.

    ``base`` is added to every offset in the errors raised (pass the file offset of
    ``data[0]``). An ACL whose present bit is clear in ``control`` is ignored, as Windows
    does; its bytes are still kept for :meth:`SecurityDescriptor.to_bytes`.
    """
    raw = bytes(data)
    if len(raw) < SD_HEADER_SIZE:
        raise FormatError(f"security descriptor of {len(raw)} bytes is shorter than 20", base)
    head = parse(SecurityDescriptorHeader, raw[:SD_HEADER_SIZE], base, "security descriptor")
    if not head.control & SdControl.SELF_RELATIVE:
        raise FormatError("security descriptor is not self-relative", base + 2)
    # In on-disk order (SACL, DACL, owner, group) so the first error is the first bad byte.
    sacl = dacl = None
    if head.control & SdControl.SACL_PRESENT and head.offset_sacl:
        sacl = _parse_acl(raw, head.offset_sacl, base, "SACL")
    if head.control & SdControl.DACL_PRESENT and head.offset_dacl:
        dacl = _parse_acl(raw, head.offset_dacl, base, "DACL")
    owner = _parse_sid_at(raw, head.offset_owner, base, "owner") if head.offset_owner else None
    group = _parse_sid_at(raw, head.offset_group, base, "group") if head.offset_group else None
    sd = SecurityDescriptor(head.revision, head.control, owner, group, sacl, dacl, head.sbz1)
    object.__setattr__(sd, "_raw", raw)
    return sd


# ---------------------------------------------------------------------------------------
# Parsing SDDL.
# ---------------------------------------------------------------------------------------

_SDDL_SID_RE = re.compile(r"S-1-(?:0[xX][0-9A-Fa-f]{12}|[0-9]+)(?:-[0-9]+)*|[A-Z]{2}")
_SDDL_ACE_RE = re.compile(r"\(([^()]*)\)")


def _bad(text: str, pos: int, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"bad SDDL at character {pos} ({why}): {text!r}")


def _parse_rights(text: str) -> int:
    if not text:
        return 0
    if text[:2].lower() == "0x":
        value = int(text[2:], 16) if re.fullmatch(r"[0-9A-Fa-f]+", text[2:]) else -1
    elif re.fullmatch(r"[0-9]+", text):  # C strtoul base 0: leading 0 means octal
        if len(text) > 12:  # longer than any 32-bit number (caps the int() work)
            value = -1
        elif text.startswith("0") and len(text) > 1:
            value = int(text, 8) if re.fullmatch(r"[0-7]+", text) else -1
        else:
            value = int(text)
    elif len(text) % 2 == 0 and all(
        text[i : i + 2] in _RIGHTS_CODES for i in range(0, len(text), 2)
    ):
        value = 0
        for i in range(0, len(text), 2):
            value |= _RIGHTS_CODES[text[i : i + 2]]
    else:
        value = -1
    if not 0 <= value < 1 << 32:
        raise InvalidArgumentError(f"bad SDDL rights {text!r}")
    return value


def _parse_ace_flags(text: str) -> int:
    codes = {name: bit for name, bit in ACE_FLAG_NAMES}
    if len(text) % 2:
        raise InvalidArgumentError(f"bad SDDL ACE flags {text!r}")
    value = 0
    for i in range(0, len(text), 2):
        bit = codes.get(text[i : i + 2])
        if bit is None:
            raise InvalidArgumentError(f"bad SDDL ACE flags {text!r}")
        value |= bit
    return value


def _parse_ace_sddl(text: str) -> Ace:
    fields = text.split(";")
    if len(fields) != 6:
        raise InvalidArgumentError(f"SDDL ACE needs 6 fields: ({text})")
    kind, flags, rights, obj, inh, sid = fields
    if kind in _ACE_TYPE_CODES:
        ace_type = _ACE_TYPE_CODES[kind]
    elif re.fullmatch(r"0[xX][0-9A-Fa-f]{1,2}", kind):
        ace_type = int(kind, 16)
    else:
        raise InvalidArgumentError(f"unknown SDDL ACE type {kind!r}")
    if ace_type not in OBJECT_ACE_TYPES and ace_type not in SID_ACE_TYPES:
        raise InvalidArgumentError(f"SDDL cannot express ACE type {kind!r}")
    if (obj or inh) and ace_type not in OBJECT_ACE_TYPES:
        raise InvalidArgumentError(f"GUIDs on a non-object ACE: ({text})")
    guids = [_guid_str(_guid_bytes(g)) if g else None for g in (obj, inh)]
    return Ace(
        ace_type,
        _parse_ace_flags(flags),
        _parse_rights(rights),
        Sid.parse(sid),
        guids[0],
        guids[1],
    )


def _acl_revision(aces: Iterable[Ace]) -> int:
    return ACL_REVISION_DS if any(a.type in OBJECT_ACE_TYPES for a in aces) else ACL_REVISION


def from_sddl(text: str) -> SecurityDescriptor:
    """Build a :class:`SecurityDescriptor` from an SDDL string.

    Supports ``O:``, ``G:``, ``D:`` and ``S:`` in any order, ACL flags ``P``/``AI``/``AR``
    and ``NO_ACCESS_CONTROL``, ACE types A D AU AL OA OD OU OL XA XD ZA XU ML RA SP TL FL,
    the ACE flags, rights as aliases, hex, octal or decimal, and SIDs as well-known aliases
    or ``S-1-...``. Conditional expressions and resource attributes are not supported.
    Raises :class:`~regf.errors.InvalidArgumentError` on anything else.
    """
    s = text.strip()
    pos = 0
    owner = group = None
    acls: dict[str, Acl | None] = {}
    control = int(SdControl.SELF_RELATIVE)
    seen: set[str] = set()
    while pos < len(s):
        tag = s[pos : pos + 2]
        if tag not in ("O:", "G:", "D:", "S:") or tag in seen:
            raise _bad(text, pos, "expected O:, G:, D: or S:")
        seen.add(tag)
        pos += 2
        if tag in ("O:", "G:"):
            m = _SDDL_SID_RE.match(s, pos)
            if m is None:
                raise _bad(text, pos, "expected a SID")
            sid = Sid.parse(m.group(0))
            pos = m.end()
            if tag == "O:":
                owner = sid
            else:
                group = sid
            continue
        dacl = tag == "D:"
        present = SdControl.DACL_PRESENT if dacl else SdControl.SACL_PRESENT
        control |= present
        while True:
            for flag, dbit, sbit in _ACL_CONTROL_FLAGS:
                if s.startswith(flag, pos):
                    control |= dbit if dacl else sbit
                    pos += len(flag)
                    break
            else:
                break
        if s.startswith("NO_ACCESS_CONTROL", pos):
            pos += len("NO_ACCESS_CONTROL")
            acls[tag] = None
            continue
        aces: list[Ace] = []
        while pos < len(s) and s[pos] == "(":
            m = _SDDL_ACE_RE.match(s, pos)
            if m is None:
                raise _bad(text, pos, "unterminated or nested ACE")
            aces.append(_parse_ace_sddl(m.group(1)))
            pos = m.end()
        acls[tag] = Acl(_acl_revision(aces), tuple(aces))
    return SecurityDescriptor(1, control, owner, group, acls.get("S:"), acls.get("D:"))


DEFAULT_SDDL = "O:BAG:SYD:(A;CI;KA;;;BA)(A;CI;KA;;;SY)(A;CIIO;KA;;;CO)(A;CI;KR;;;BU)"


def default_descriptor() -> SecurityDescriptor:
    """A sensible descriptor for a new hive's root key.

    Owner Administrators, group SYSTEM; DACL inherited by subkeys (CI): Administrators and
    SYSTEM full control, CREATOR OWNER full control on subkeys only (CI IO), Users read.
    """
    return from_sddl(DEFAULT_SDDL)


__all__ = [
    "ACE_FLAG_NAMES",
    "ACE_TYPE_NAMES",
    "ACL_REVISION",
    "ACL_REVISION_DS",
    "DEFAULT_SDDL",
    "OBJECT_ACE_TYPES",
    "RIGHTS_ALIASES",
    "SID_ACE_TYPES",
    "SID_ALIASES",
    "Ace",
    "AceBody",
    "AceFlags",
    "AceHeader",
    "AceType",
    "Acl",
    "AclHeader",
    "ObjectAceBody",
    "SdControl",
    "SecurityDescriptor",
    "SecurityDescriptorHeader",
    "Sid",
    "SidStruct",
    "default_descriptor",
    "from_sddl",
    "parse_descriptor",
]
