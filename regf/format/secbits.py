"""Numeric codes of security descriptors (MS-DTYP §2.4): control bits, ACE types and
flags, ACL revisions, and which ACE types carry a SID.

Shared by the binary records (:mod:`regf.format.security`) and SDDL
(:mod:`regf.format.sddl`); both re-export what their callers use.
"""

from __future__ import annotations

from enum import IntFlag


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


__all__ = [
    "ACL_REVISION",
    "ACL_REVISION_DS",
    "OBJECT_ACE_TYPES",
    "SID_ACE_TYPES",
    "AceFlags",
    "AceType",
    "SdControl",
]
