"""SDDL, the Security Descriptor Definition Language, as text (no records, no bytes).

What :mod:`regf.format.security` needs to print its records as SDDL and to read SDDL
back, the way ``ConvertSecurityDescriptorToStringSecurityDescriptor`` and its inverse do:

* the tables (SID aliases, ACE type and flag names, rights aliases), in the order Windows
  emits them;
* the spelling of each atom both ways: SIDs (:func:`parse_sid`, :func:`sid_sddl`), GUIDs,
  rights masks, ACE flags, ACL control flags, one ACE (:func:`ace_sddl`);
* the grammar of a whole string (:func:`parse_sddl`), which checks everything and returns
  plain :class:`SddlParts`; :func:`regf.format.security.from_sddl` turns them into
  records. Every error is an :class:`~regf.errors.InvalidArgumentError`.

The records import this module, never the other way round, so there is no import circle.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from ..errors import InvalidArgumentError
from .secbits import (
    ACL_REVISION,
    ACL_REVISION_DS,
    OBJECT_ACE_TYPES,
    SID_ACE_TYPES,
    AceType,
    SdControl,
)

# ---------------------------------------------------------------------------------------
# Tables (the order of the tables is the order Windows emits).
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

# (flag text, DACL bit, SACL bit) in output order.
ACL_CONTROL_FLAGS: tuple[tuple[str, int, int], ...] = (
    ("P", SdControl.DACL_PROTECTED, SdControl.SACL_PROTECTED),
    ("AR", SdControl.DACL_AUTO_INHERIT_REQ, SdControl.SACL_AUTO_INHERIT_REQ),
    ("AI", SdControl.DACL_AUTO_INHERITED, SdControl.SACL_AUTO_INHERITED),
)

#: The descriptor :func:`regf.format.security.default_descriptor` builds.
DEFAULT_SDDL = "O:BAG:SYD:(A;CI;KA;;;BA)(A;CI;KA;;;SY)(A;CIIO;KA;;;CO)(A;CI;KR;;;BU)"

# ---------------------------------------------------------------------------------------
# Atoms.
# ---------------------------------------------------------------------------------------

_SID_RE = re.compile(r"S-1-(0[xX][0-9A-Fa-f]+|[0-9]+)((?:-[0-9]+)*)\Z", re.IGNORECASE)


def parse_sid(text: str) -> tuple[int, tuple[int, ...]]:
    """``S-1-...`` (or a well-known alias such as ``SY``) as (authority, sub-authorities).

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
    return auth, subs


def sid_sddl(text: str) -> str:
    """The SDDL alias of the SID string ``text`` when there is one, else ``text``."""
    return _SID_TO_ALIAS.get(text, text)


def guid_str(raw: bytes | None) -> str | None:
    """A 16-byte little-endian GUID as its canonical string (None stays None)."""
    return None if raw is None else str(uuid.UUID(bytes_le=bytes(raw)))


def guid_bytes(text: str | None) -> bytes | None:
    """A GUID string as its 16 little-endian bytes (None stays None)."""
    if text is None:
        return None
    try:
        return uuid.UUID(text).bytes_le
    except ValueError:
        raise InvalidArgumentError(f"not a GUID: {text!r}") from None


def rights_sddl(mask: int, ace_type: int) -> str:
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


def ace_sddl(
    ace_type: int,
    flags: int,
    mask: int,
    object_type: str | None,
    inherited_object_type: str | None,
    sid: str,
) -> str:
    """``(type;flags;rights;object_guid;inherit_object_guid;sid)``; ``sid`` is already
    spelled (:func:`sid_sddl`, or empty for an ACE without one)."""
    kind = ACE_TYPE_NAMES.get(ace_type, f"0x{ace_type:x}")
    flag_text = "".join(name for name, bit in ACE_FLAG_NAMES if flags & bit)
    rights = rights_sddl(mask, ace_type)
    return f"({kind};{flag_text};{rights};{object_type or ''};{inherited_object_type or ''};{sid})"


def acl_flags_sddl(control: int, *, dacl: bool) -> str:
    """The ACL flags (``P``, ``AR``, ``AI``) set in ``control`` for the DACL or SACL."""
    return "".join(
        text for text, dbit, sbit in ACL_CONTROL_FLAGS if control & (dbit if dacl else sbit)
    )


def acl_revision(ace_types: list[int]) -> int:
    """The ACL revision Windows gives an ACL holding ACEs of ``ace_types``."""
    return ACL_REVISION_DS if any(t in OBJECT_ACE_TYPES for t in ace_types) else ACL_REVISION


# ---------------------------------------------------------------------------------------
# Parsing SDDL.
# ---------------------------------------------------------------------------------------

_SDDL_SID_RE = re.compile(r"S-1-(?:0[xX][0-9A-Fa-f]{12}|[0-9]+)(?:-[0-9]+)*|[A-Z]{2}")
_SDDL_ACE_RE = re.compile(r"\(([^()]*)\)")

#: A checked SID: (authority, sub-authorities); the revision is always 1.
SidParts = tuple[int, tuple[int, ...]]


@dataclass(frozen=True)
class SddlAce:
    """One ACE of an SDDL string, every field checked and converted."""

    type: int
    flags: int
    mask: int
    sid: SidParts
    object_type: str | None
    inherited_object_type: str | None


@dataclass
class SddlParts:
    """What an SDDL string says: owner, group, control bits and the ACLs present.

    ``acls`` maps ``"D:"``/``"S:"`` to the ACEs in order, or None for
    ``NO_ACCESS_CONTROL`` (a NULL ACL); an absent key is an absent ACL.
    """

    owner: SidParts | None
    group: SidParts | None
    control: int
    acls: dict[str, list[SddlAce] | None]


def _bad(text: str, pos: int, why: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"bad SDDL at character {pos} ({why}): {text!r}")


def parse_rights(text: str) -> int:
    """An SDDL rights field: aliases, hex, octal or decimal (C ``strtoul`` base 0)."""
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


def parse_ace_flags(text: str) -> int:
    """An SDDL ACE flags field (two-letter aliases, concatenated)."""
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


def parse_ace(text: str) -> SddlAce:
    """The inside of one ``(...)`` ACE string."""
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
    guids = [guid_str(guid_bytes(g)) if g else None for g in (obj, inh)]
    return SddlAce(
        ace_type,
        parse_ace_flags(flags),
        parse_rights(rights),
        parse_sid(sid),
        guids[0],
        guids[1],
    )


def parse_sddl(text: str) -> SddlParts:
    """Check and split an SDDL string (see :func:`regf.format.security.from_sddl`)."""
    s = text.strip()
    pos = 0
    owner: SidParts | None = None
    group: SidParts | None = None
    acls: dict[str, list[SddlAce] | None] = {}
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
            sid = parse_sid(m.group(0))
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
            for flag, dbit, sbit in ACL_CONTROL_FLAGS:
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
        aces: list[SddlAce] = []
        while pos < len(s) and s[pos] == "(":
            m = _SDDL_ACE_RE.match(s, pos)
            if m is None:
                raise _bad(text, pos, "unterminated or nested ACE")
            aces.append(parse_ace(m.group(1)))
            pos = m.end()
        acls[tag] = aces
    return SddlParts(owner, group, control, acls)


__all__ = [
    "ACE_FLAG_NAMES",
    "ACE_TYPE_NAMES",
    "ACL_CONTROL_FLAGS",
    "DEFAULT_SDDL",
    "RIGHTS_ALIASES",
    "SID_ALIASES",
    "SddlAce",
    "SddlParts",
    "SidParts",
    "ace_sddl",
    "acl_flags_sddl",
    "acl_revision",
    "guid_bytes",
    "guid_str",
    "parse_ace",
    "parse_ace_flags",
    "parse_rights",
    "parse_sddl",
    "parse_sid",
    "rights_sddl",
    "sid_sddl",
]
