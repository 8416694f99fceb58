"""Self-relative SECURITY_DESCRIPTORs (the payload of ``sk`` cells) and SDDL.

Pure bytes <-> records: :func:`parse_descriptor` turns the bytes at ``sk`` + 0x14 into a
:class:`SecurityDescriptor`, :meth:`SecurityDescriptor.to_bytes` builds them back, and
:attr:`SecurityDescriptor.sddl` / :func:`from_sddl` convert to and from the Security
Descriptor Definition Language the way ``ConvertSecurityDescriptorToStringSecurityDescriptor``
does. The SDDL text itself (tables, atoms, grammar) is :mod:`regf.format.sddl` and the
numeric codes :mod:`regf.format.secbits`; both are re-exported here.

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

from dataclasses import dataclass, field
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
from .fast import u32_array
from .layout import layout

# The numeric codes and the SDDL text live in their own modules; they are re-exported
# here, so ``from regf.format.security import SdControl, from_sddl, ...`` keeps working.
from .sddl import (
    ACE_FLAG_NAMES,
    ACE_TYPE_NAMES,
    DEFAULT_SDDL,
    RIGHTS_ALIASES,
    SID_ALIASES,
    ace_sddl,
    acl_flags_sddl,
    acl_revision,
    guid_bytes,
    guid_str,
    parse_sddl,
    parse_sid,
    sid_sddl,
)
from .secbits import (
    ACL_REVISION,
    ACL_REVISION_DS,
    OBJECT_ACE_TYPES,
    SID_ACE_TYPES,
    AceFlags,
    AceType,
    SdControl,
)

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
# Records.
# ---------------------------------------------------------------------------------------


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
        auth, subs = parse_sid(text)
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
        return sid_sddl(str(self))


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
                    "object_type": guid_bytes(self.object_type),
                    "inherited_object_type": guid_bytes(self.inherited_object_type),
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
        sid = self.sid.sddl if self.sid is not None else ""
        return ace_sddl(
            self.type, self.flags, self.mask, self.object_type, self.inherited_object_type, sid
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


def _acl_sddl(acl: Acl | None, control: int, *, dacl: bool) -> str:
    flags = acl_flags_sddl(control, dacl=dacl)
    if acl is None:
        return flags + "NO_ACCESS_CONTROL"
    return flags + acl.sddl


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
            guid_str(c.object_type),
            guid_str(c.inherited_object_type),
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
    sd = _descriptor_fast(raw)
    return sd if sd is not None else _parse_descriptor_spec(raw, base)


def _parse_descriptor_spec(raw: bytes, base: int) -> SecurityDescriptor:
    """:func:`parse_descriptor` through the Construct declarations: the specification
    the fast reader below must equal, and the source of every error."""
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
# The fast reader: the same layouts as struct readers, derived from the declarations.
# Construct per ACE costs ~0.2 ms a descriptor. This reads a sound descriptor ~10x faster
# and gives up (None) on anything the specification above would refuse, or that it does
# not handle itself; the specification then makes the record or raises the error.
# tests/test_security.py proves the two equal.
# ---------------------------------------------------------------------------------------

_SD_HEAD = layout(SecurityDescriptorHeader, "security descriptor").struct
_ACL_HEAD = layout(AclHeader, "ACL header").struct
_ACE_HEAD = layout(AceHeader, "ACE header").struct


def _member(record: Any, name: str) -> Any:
    """The construct declared as field ``name`` of Construct ``Struct`` ``record``."""
    return next(sc.subcon for sc in record.subcons if sc.name == name)


_SID_HEAD = layout(SidStruct, "SID").struct  # revision, sub-authority count
_SID_AUTH = _member(SidStruct, "identifier_authority").length  # big-endian
_SID_FIXED = _SID_HEAD.size + _SID_AUTH
_SUB_SIZE = _member(SidStruct, "sub_authority").subcon.sizeof()  # u32: read by u32_array
_MASK = layout(AceBody, "ACE").field("mask").struct
_OBJ_HEAD = layout(ObjectAceBody, "object ACE").struct  # mask, flags
_GUID = _member(ObjectAceBody, "object_type").thensubcon.sizeof()
_OBJ_FLAGS = ACE_OBJECT_TYPE_PRESENT | ACE_INHERITED_OBJECT_TYPE_PRESENT
_SELF_RELATIVE = int(SdControl.SELF_RELATIVE)
_SACL_PRESENT = int(SdControl.SACL_PRESENT)
_DACL_PRESENT = int(SdControl.DACL_PRESENT)


def _sid_fast(data: bytes, off: int, end: int) -> tuple[Sid, int] | None:
    """The SID at ``off`` (ending by ``end``) and its size, or None."""
    if off + _SID_FIXED > end:
        return None
    revision, count = _SID_HEAD.unpack_from(data, off)
    size = _SID_FIXED + _SUB_SIZE * count
    if off + size > end:
        return None
    authority = int.from_bytes(data[off + _SID_HEAD.size : off + _SID_FIXED], "big")
    subs = u32_array(count).unpack_from(data, off + _SID_FIXED)
    return Sid(revision, authority, subs), size


def _ace_fast(data: bytes, off: int, end: int) -> tuple[Ace, int] | None:
    """The ACE at ``off`` (ending by ``end``) and its size, or None."""
    if off + _ACE_HEAD.size > end:
        return None
    ace_type, ace_flags, size = _ACE_HEAD.unpack_from(data, off)
    if size < _ACE_HEAD.size or off + size > end:
        return None
    pos, stop = off + _ACE_HEAD.size, off + size
    if ace_type in OBJECT_ACE_TYPES:
        if pos + _OBJ_HEAD.size > stop:
            return None
        mask, flags = _OBJ_HEAD.unpack_from(data, pos)
        if flags & ~_OBJ_FLAGS:
            return None
        pos += _OBJ_HEAD.size
        guids: list[bytes | None] = []
        for bit in (ACE_OBJECT_TYPE_PRESENT, ACE_INHERITED_OBJECT_TYPE_PRESENT):
            if flags & bit:
                if pos + _GUID > stop:
                    return None
                guids.append(data[pos : pos + _GUID])
                pos += _GUID
            else:
                guids.append(None)
        got = _sid_fast(data, pos, stop)
        if got is None:
            return None
        sid, n = got
        rest = data[pos + n : stop]
        obj, inherited = guid_str(guids[0]), guid_str(guids[1])
        return Ace(ace_type, ace_flags, mask, sid, obj, inherited, rest), size
    if ace_type in SID_ACE_TYPES:
        if pos + _MASK.size > stop:
            return None
        (mask,) = _MASK.unpack_from(data, pos)
        got = _sid_fast(data, pos + _MASK.size, stop)
        if got is None:
            return None
        sid, n = got
        rest = data[pos + _MASK.size + n : stop]
        return Ace(ace_type, ace_flags, mask, sid, application_data=rest), size
    return Ace(ace_type, ace_flags, 0, None, application_data=data[pos:stop]), size


def _acl_fast(data: bytes, off: int) -> Acl | None:
    """The ACL at ``off``, or None."""
    if off + _ACL_HEAD.size > len(data):
        return None
    revision, _sbz1, acl_size, count, _sbz2 = _ACL_HEAD.unpack_from(data, off)
    end = off + acl_size
    if acl_size < _ACL_HEAD.size or end > len(data):
        return None
    aces: list[Ace] = []
    pos = off + _ACL_HEAD.size
    for _ in range(count):  # each ACE takes >= 4 bytes of the ACL: bounded
        got = _ace_fast(data, pos, end)
        if got is None:
            return None
        aces.append(got[0])
        pos += got[1]
    return Acl(revision, tuple(aces))


def _descriptor_fast(raw: bytes) -> SecurityDescriptor | None:
    """:func:`parse_descriptor` of a sound descriptor, or None (see above)."""
    if len(raw) < _SD_HEAD.size:
        return None
    revision, sbz1, control, o_owner, o_group, o_sacl, o_dacl = _SD_HEAD.unpack_from(raw, 0)
    if not control & _SELF_RELATIVE:
        return None
    sacl = dacl = None
    if control & _SACL_PRESENT and o_sacl:
        sacl = _acl_fast(raw, o_sacl)
        if sacl is None:
            return None
    if control & _DACL_PRESENT and o_dacl:
        dacl = _acl_fast(raw, o_dacl)
        if dacl is None:
            return None
    sids: list[Sid | None] = []
    for o in (o_owner, o_group):
        if not o:
            sids.append(None)
            continue
        got = _sid_fast(raw, o, len(raw))
        if got is None:
            return None
        sids.append(got[0])
    sd = SecurityDescriptor(revision, control, sids[0], sids[1], sacl, dacl, sbz1)
    object.__setattr__(sd, "_raw", raw)
    return sd


# ---------------------------------------------------------------------------------------
# From SDDL (the grammar is :func:`regf.format.sddl.parse_sddl`).
# ---------------------------------------------------------------------------------------


def from_sddl(text: str) -> SecurityDescriptor:
    """Build a :class:`SecurityDescriptor` from an SDDL string.

    Supports ``O:``, ``G:``, ``D:`` and ``S:`` in any order, ACL flags ``P``/``AI``/``AR``
    and ``NO_ACCESS_CONTROL``, ACE types A D AU AL OA OD OU OL XA XD ZA XU ML RA SP TL FL,
    the ACE flags, rights as aliases, hex, octal or decimal, and SIDs as well-known aliases
    or ``S-1-...``. Conditional expressions and resource attributes are not supported.
    Raises :class:`~regf.errors.InvalidArgumentError` on anything else.
    """
    parts = parse_sddl(text)
    acls: dict[str, Acl | None] = {}
    for tag, aces in parts.acls.items():
        if aces is None:
            acls[tag] = None
            continue
        built = tuple(
            Ace(a.type, a.flags, a.mask, Sid(1, *a.sid), a.object_type, a.inherited_object_type)
            for a in aces
        )
        acls[tag] = Acl(acl_revision([a.type for a in built]), built)
    owner = Sid(1, *parts.owner) if parts.owner is not None else None
    group = Sid(1, *parts.group) if parts.group is not None else None
    return SecurityDescriptor(1, parts.control, owner, group, acls.get("S:"), acls.get("D:"))


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
