"""DDI constants: value types, access masks, create options, dispositions, information
classes and registry-callback notify classes, with the values of ``wdm.h``/``winnt.h``."""

from __future__ import annotations

import enum

from ..format.constants import ValueType

# ---------------------------------------------------------------------------------------
# Value types (winnt.h). The same numbers regf uses everywhere (``regf.ValueType``).
# ---------------------------------------------------------------------------------------

REG_NONE = ValueType.REG_NONE
REG_SZ = ValueType.REG_SZ
REG_EXPAND_SZ = ValueType.REG_EXPAND_SZ
REG_BINARY = ValueType.REG_BINARY
REG_DWORD = ValueType.REG_DWORD
REG_DWORD_LITTLE_ENDIAN = ValueType.REG_DWORD
REG_DWORD_BIG_ENDIAN = ValueType.REG_DWORD_BIG_ENDIAN
REG_LINK = ValueType.REG_LINK
REG_MULTI_SZ = ValueType.REG_MULTI_SZ
REG_RESOURCE_LIST = ValueType.REG_RESOURCE_LIST
REG_FULL_RESOURCE_DESCRIPTOR = ValueType.REG_FULL_RESOURCE_DESCRIPTOR
REG_RESOURCE_REQUIREMENTS_LIST = ValueType.REG_RESOURCE_REQUIREMENTS_LIST
REG_QWORD = ValueType.REG_QWORD
REG_QWORD_LITTLE_ENDIAN = ValueType.REG_QWORD

# ---------------------------------------------------------------------------------------
# Access masks (winnt.h). Keys map generic rights with KEY_READ/KEY_WRITE/KEY_EXECUTE/
# KEY_ALL_ACCESS (the key object type's GENERIC_MAPPING).
# ---------------------------------------------------------------------------------------

DELETE = 0x00010000
READ_CONTROL = 0x00020000
WRITE_DAC = 0x00040000
WRITE_OWNER = 0x00080000
SYNCHRONIZE = 0x00100000
STANDARD_RIGHTS_REQUIRED = 0x000F0000
STANDARD_RIGHTS_READ = READ_CONTROL
STANDARD_RIGHTS_WRITE = READ_CONTROL
STANDARD_RIGHTS_EXECUTE = READ_CONTROL
STANDARD_RIGHTS_ALL = 0x001F0000
ACCESS_SYSTEM_SECURITY = 0x01000000
MAXIMUM_ALLOWED = 0x02000000
GENERIC_ALL = 0x10000000
GENERIC_EXECUTE = 0x20000000
GENERIC_WRITE = 0x40000000
GENERIC_READ = 0x80000000

KEY_QUERY_VALUE = 0x0001
KEY_SET_VALUE = 0x0002
KEY_CREATE_SUB_KEY = 0x0004
KEY_ENUMERATE_SUB_KEYS = 0x0008
KEY_NOTIFY = 0x0010
KEY_CREATE_LINK = 0x0020
KEY_WOW64_64KEY = 0x0100
KEY_WOW64_32KEY = 0x0200
KEY_WOW64_RES = 0x0300

KEY_READ = (
    STANDARD_RIGHTS_READ | KEY_QUERY_VALUE | KEY_ENUMERATE_SUB_KEYS | KEY_NOTIFY
) & ~SYNCHRONIZE  # 0x20019
KEY_WRITE = (STANDARD_RIGHTS_WRITE | KEY_SET_VALUE | KEY_CREATE_SUB_KEY) & ~SYNCHRONIZE  # 0x20006
KEY_EXECUTE = KEY_READ & ~SYNCHRONIZE  # 0x20019
KEY_ALL_ACCESS = (
    STANDARD_RIGHTS_ALL
    | KEY_QUERY_VALUE
    | KEY_SET_VALUE
    | KEY_CREATE_SUB_KEY
    | KEY_ENUMERATE_SUB_KEYS
    | KEY_NOTIFY
    | KEY_CREATE_LINK
) & ~SYNCHRONIZE  # 0xF003F

#: The key object type's generic mapping (GENERIC_READ -> KEY_READ, ...).
KEY_GENERIC_MAPPING = {
    GENERIC_READ: KEY_READ,
    GENERIC_WRITE: KEY_WRITE,
    GENERIC_EXECUTE: KEY_EXECUTE,
    GENERIC_ALL: KEY_ALL_ACCESS,
}


def map_generic_access(desired: int) -> int:
    """``desired`` with generic bits mapped through :data:`KEY_GENERIC_MAPPING`.

    MAXIMUM_ALLOWED grants KEY_ALL_ACCESS: regf.nt evaluates no token against
    security descriptors, so the maximum a caller can get is everything.
    """
    granted = desired & ~(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL)
    for bit, mapped in KEY_GENERIC_MAPPING.items():
        if desired & bit:
            granted |= mapped
    if granted & MAXIMUM_ALLOWED:
        granted = (granted & ~MAXIMUM_ALLOWED) | KEY_ALL_ACCESS
    return granted


# SECURITY_INFORMATION bits (ZwQuerySecurityObject / ZwSetSecurityObject).
OWNER_SECURITY_INFORMATION = 0x00000001
GROUP_SECURITY_INFORMATION = 0x00000002
DACL_SECURITY_INFORMATION = 0x00000004
SACL_SECURITY_INFORMATION = 0x00000008
LABEL_SECURITY_INFORMATION = 0x00000010
UNPROTECTED_SACL_SECURITY_INFORMATION = 0x10000000
UNPROTECTED_DACL_SECURITY_INFORMATION = 0x20000000
PROTECTED_SACL_SECURITY_INFORMATION = 0x40000000
PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000

# ---------------------------------------------------------------------------------------
# Create/open options and dispositions (wdm.h).
# ---------------------------------------------------------------------------------------

REG_OPTION_RESERVED = 0x00000000
REG_OPTION_NON_VOLATILE = 0x00000000
REG_OPTION_VOLATILE = 0x00000001
REG_OPTION_CREATE_LINK = 0x00000002
REG_OPTION_BACKUP_RESTORE = 0x00000004
REG_OPTION_OPEN_LINK = 0x00000008
REG_OPTION_DONT_VIRTUALIZE = 0x00000010
REG_LEGAL_OPTION = (
    REG_OPTION_RESERVED
    | REG_OPTION_NON_VOLATILE
    | REG_OPTION_VOLATILE
    | REG_OPTION_CREATE_LINK
    | REG_OPTION_BACKUP_RESTORE
    | REG_OPTION_OPEN_LINK
    | REG_OPTION_DONT_VIRTUALIZE
)

REG_CREATED_NEW_KEY = 0x00000001
REG_OPENED_EXISTING_KEY = 0x00000002

# ZwLoadKeyEx / ZwRestoreKey flags (winnt.h REG_* "Key restore & hive load flags").
REG_WHOLE_HIVE_VOLATILE = 0x00000001
REG_REFRESH_HIVE = 0x00000002
REG_NO_LAZY_FLUSH = 0x00000004
REG_FORCE_RESTORE = 0x00000008
REG_APP_HIVE = 0x00000010
REG_OPEN_READ_ONLY = 0x00002000
REG_APP_HIVE_OPEN_READ_ONLY = REG_OPEN_READ_ONLY
#: The load flags regf implements (others give STATUS_INVALID_PARAMETER).
REG_LEGAL_LOAD_FLAGS = REG_NO_LAZY_FLUSH | REG_OPEN_READ_ONLY

# ZwSaveKeyEx formats (winnt.h).
REG_STANDARD_FORMAT = 1
REG_LATEST_FORMAT = 2
REG_NO_COMPRESSION = 4

# ZwNotifyChangeKey filters (winnt.h REG_NOTIFY_CHANGE_*).
REG_NOTIFY_CHANGE_NAME = 0x00000001
REG_NOTIFY_CHANGE_ATTRIBUTES = 0x00000002
REG_NOTIFY_CHANGE_LAST_SET = 0x00000004
REG_NOTIFY_CHANGE_SECURITY = 0x00000008
REG_NOTIFY_THREAD_AGNOSTIC = 0x10000000
REG_LEGAL_CHANGE_FILTER = (
    REG_NOTIFY_CHANGE_NAME
    | REG_NOTIFY_CHANGE_ATTRIBUTES
    | REG_NOTIFY_CHANGE_LAST_SET
    | REG_NOTIFY_CHANGE_SECURITY
    | REG_NOTIFY_THREAD_AGNOSTIC
)

# OBJECT_ATTRIBUTES.Attributes (ntdef.h) and KPROCESSOR_MODE.
OBJ_INHERIT = 0x00000002
OBJ_CASE_INSENSITIVE = 0x00000040
OBJ_OPENLINK = 0x00000100
OBJ_KERNEL_HANDLE = 0x00000200
OBJ_FORCE_ACCESS_CHECK = 0x00000400
OBJ_VALID_ATTRIBUTES = 0x00001FF2
KernelMode = 0
UserMode = 1


# KEY_SET_INFORMATION_CLASS (wdm.h ZwSetInformationKey).
class KEY_SET_INFORMATION_CLASS(enum.IntEnum):
    """ZwSetInformationKey information classes."""

    KeyWriteTimeInformation = 0
    KeyWow64FlagsInformation = 1
    KeyControlFlagsInformation = 2
    KeySetVirtualizationInformation = 3
    KeySetDebugInformation = 4
    KeySetHandleTagsInformation = 5
    KeySetLayerInformation = 6
    MaxKeySetInfoClass = 7


KeyWriteTimeInformation = KEY_SET_INFORMATION_CLASS.KeyWriteTimeInformation
KeyWow64FlagsInformation = KEY_SET_INFORMATION_CLASS.KeyWow64FlagsInformation
KeyControlFlagsInformation = KEY_SET_INFORMATION_CLASS.KeyControlFlagsInformation
KeySetVirtualizationInformation = KEY_SET_INFORMATION_CLASS.KeySetVirtualizationInformation
KeySetDebugInformation = KEY_SET_INFORMATION_CLASS.KeySetDebugInformation
KeySetHandleTagsInformation = KEY_SET_INFORMATION_CLASS.KeySetHandleTagsInformation
KeySetLayerInformation = KEY_SET_INFORMATION_CLASS.KeySetLayerInformation

# KEY_FLAGS_INFORMATION.KeyFlags and .ControlFlags bits.
REG_FLAG_VOLATILE = 0x0001
REG_FLAG_LINK = 0x0002
REG_KEY_DONT_VIRTUALIZE = 0x0002
REG_KEY_DONT_SILENT_FAIL = 0x0004
REG_KEY_RECURSE_FLAG = 0x0008

#: ObjectNameInformation (OBJECT_INFORMATION_CLASS, for ZwQueryObject).
ObjectNameInformation = 1

#: Name of the value holding a symbolic link's target (a REG_LINK object path).
SYMBOLIC_LINK_VALUE_NAME = "SymbolicLinkValue"

# ---------------------------------------------------------------------------------------
# Information classes (wdm.h).
# ---------------------------------------------------------------------------------------


class KEY_INFORMATION_CLASS(enum.IntEnum):
    """ZwQueryKey / ZwEnumerateKey information classes."""

    KeyBasicInformation = 0
    KeyNodeInformation = 1
    KeyFullInformation = 2
    KeyNameInformation = 3
    KeyCachedInformation = 4
    KeyFlagsInformation = 5
    KeyVirtualizationInformation = 6
    KeyHandleTagsInformation = 7
    KeyTrustInformation = 8
    KeyLayerInformation = 9
    MaxKeyInfoClass = 10


class KEY_VALUE_INFORMATION_CLASS(enum.IntEnum):
    """ZwQueryValueKey / ZwEnumerateValueKey information classes."""

    KeyValueBasicInformation = 0
    KeyValueFullInformation = 1
    KeyValuePartialInformation = 2
    KeyValueFullInformationAlign64 = 3
    KeyValuePartialInformationAlign64 = 4
    KeyValueLayerInformation = 5
    MaxKeyValueInfoClass = 6


KeyBasicInformation = KEY_INFORMATION_CLASS.KeyBasicInformation
KeyNodeInformation = KEY_INFORMATION_CLASS.KeyNodeInformation
KeyFullInformation = KEY_INFORMATION_CLASS.KeyFullInformation
KeyNameInformation = KEY_INFORMATION_CLASS.KeyNameInformation
KeyCachedInformation = KEY_INFORMATION_CLASS.KeyCachedInformation
KeyFlagsInformation = KEY_INFORMATION_CLASS.KeyFlagsInformation
KeyVirtualizationInformation = KEY_INFORMATION_CLASS.KeyVirtualizationInformation
KeyHandleTagsInformation = KEY_INFORMATION_CLASS.KeyHandleTagsInformation
KeyTrustInformation = KEY_INFORMATION_CLASS.KeyTrustInformation
KeyLayerInformation = KEY_INFORMATION_CLASS.KeyLayerInformation
KeyValueBasicInformation = KEY_VALUE_INFORMATION_CLASS.KeyValueBasicInformation
KeyValueFullInformation = KEY_VALUE_INFORMATION_CLASS.KeyValueFullInformation
KeyValuePartialInformation = KEY_VALUE_INFORMATION_CLASS.KeyValuePartialInformation
KeyValueFullInformationAlign64 = KEY_VALUE_INFORMATION_CLASS.KeyValueFullInformationAlign64
KeyValuePartialInformationAlign64 = KEY_VALUE_INFORMATION_CLASS.KeyValuePartialInformationAlign64
KeyValueLayerInformation = KEY_VALUE_INFORMATION_CLASS.KeyValueLayerInformation

# ---------------------------------------------------------------------------------------
# Registry callback notify classes (REG_NOTIFY_CLASS, wdm.h).
# ---------------------------------------------------------------------------------------


class REG_NOTIFY_CLASS(enum.IntEnum):
    """What a RegistryCallback is told about. Pre classes share the values of the
    pre-Vista names (RegNtDeleteKey == RegNtPreDeleteKey == 0, ...)."""

    RegNtPreDeleteKey = 0
    RegNtPreSetValueKey = 1
    RegNtPreDeleteValueKey = 2
    RegNtPreSetInformationKey = 3
    RegNtPreRenameKey = 4
    RegNtPreEnumerateKey = 5
    RegNtPreEnumerateValueKey = 6
    RegNtPreQueryKey = 7
    RegNtPreQueryValueKey = 8
    RegNtPreQueryMultipleValueKey = 9
    RegNtPreCreateKey = 10
    RegNtPostCreateKey = 11
    RegNtPreOpenKey = 12
    RegNtPostOpenKey = 13
    RegNtPreKeyHandleClose = 14
    RegNtPostDeleteKey = 15
    RegNtPostSetValueKey = 16
    RegNtPostDeleteValueKey = 17
    RegNtPostSetInformationKey = 18
    RegNtPostRenameKey = 19
    RegNtPostEnumerateKey = 20
    RegNtPostEnumerateValueKey = 21
    RegNtPostQueryKey = 22
    RegNtPostQueryValueKey = 23
    RegNtPostQueryMultipleValueKey = 24
    RegNtPostKeyHandleClose = 25
    RegNtPreCreateKeyEx = 26
    RegNtPostCreateKeyEx = 27
    RegNtPreOpenKeyEx = 28
    RegNtPostOpenKeyEx = 29
    RegNtPreFlushKey = 30
    RegNtPostFlushKey = 31
    RegNtPreLoadKey = 32
    RegNtPostLoadKey = 33
    RegNtPreUnLoadKey = 34
    RegNtPostUnLoadKey = 35
    RegNtPreQueryKeySecurity = 36
    RegNtPostQueryKeySecurity = 37
    RegNtPreSetKeySecurity = 38
    RegNtPostSetKeySecurity = 39
    RegNtCallbackObjectContextCleanup = 40
    RegNtPreRestoreKey = 41
    RegNtPostRestoreKey = 42
    RegNtPreSaveKey = 43
    RegNtPostSaveKey = 44
    RegNtPreReplaceKey = 45
    RegNtPostReplaceKey = 46
    RegNtPreQueryKeyName = 47
    RegNtPostQueryKeyName = 48
    RegNtPreSaveMergedKey = 49
    RegNtPostSaveMergedKey = 50
    MaxRegNtNotifyClass = 51


# The old (XP) names are aliases of the pre classes.
RegNtDeleteKey = REG_NOTIFY_CLASS.RegNtPreDeleteKey
RegNtSetValueKey = REG_NOTIFY_CLASS.RegNtPreSetValueKey
RegNtDeleteValueKey = REG_NOTIFY_CLASS.RegNtPreDeleteValueKey
RegNtSetInformationKey = REG_NOTIFY_CLASS.RegNtPreSetInformationKey
RegNtRenameKey = REG_NOTIFY_CLASS.RegNtPreRenameKey
RegNtEnumerateKey = REG_NOTIFY_CLASS.RegNtPreEnumerateKey
RegNtEnumerateValueKey = REG_NOTIFY_CLASS.RegNtPreEnumerateValueKey
RegNtQueryKey = REG_NOTIFY_CLASS.RegNtPreQueryKey
RegNtQueryValueKey = REG_NOTIFY_CLASS.RegNtPreQueryValueKey
RegNtQueryMultipleValueKey = REG_NOTIFY_CLASS.RegNtPreQueryMultipleValueKey
RegNtKeyHandleClose = REG_NOTIFY_CLASS.RegNtPreKeyHandleClose

RegNtPreDeleteKey = REG_NOTIFY_CLASS.RegNtPreDeleteKey
RegNtPreSetValueKey = REG_NOTIFY_CLASS.RegNtPreSetValueKey
RegNtPreDeleteValueKey = REG_NOTIFY_CLASS.RegNtPreDeleteValueKey
RegNtPreSetInformationKey = REG_NOTIFY_CLASS.RegNtPreSetInformationKey
RegNtPreRenameKey = REG_NOTIFY_CLASS.RegNtPreRenameKey
RegNtPreEnumerateKey = REG_NOTIFY_CLASS.RegNtPreEnumerateKey
RegNtPreEnumerateValueKey = REG_NOTIFY_CLASS.RegNtPreEnumerateValueKey
RegNtPreQueryKey = REG_NOTIFY_CLASS.RegNtPreQueryKey
RegNtPreQueryValueKey = REG_NOTIFY_CLASS.RegNtPreQueryValueKey
RegNtPreQueryMultipleValueKey = REG_NOTIFY_CLASS.RegNtPreQueryMultipleValueKey
RegNtPreCreateKey = REG_NOTIFY_CLASS.RegNtPreCreateKey
RegNtPostCreateKey = REG_NOTIFY_CLASS.RegNtPostCreateKey
RegNtPreOpenKey = REG_NOTIFY_CLASS.RegNtPreOpenKey
RegNtPostOpenKey = REG_NOTIFY_CLASS.RegNtPostOpenKey
RegNtPreKeyHandleClose = REG_NOTIFY_CLASS.RegNtPreKeyHandleClose
RegNtPostDeleteKey = REG_NOTIFY_CLASS.RegNtPostDeleteKey
RegNtPostSetValueKey = REG_NOTIFY_CLASS.RegNtPostSetValueKey
RegNtPostDeleteValueKey = REG_NOTIFY_CLASS.RegNtPostDeleteValueKey
RegNtPostSetInformationKey = REG_NOTIFY_CLASS.RegNtPostSetInformationKey
RegNtPostRenameKey = REG_NOTIFY_CLASS.RegNtPostRenameKey
RegNtPostEnumerateKey = REG_NOTIFY_CLASS.RegNtPostEnumerateKey
RegNtPostEnumerateValueKey = REG_NOTIFY_CLASS.RegNtPostEnumerateValueKey
RegNtPostQueryKey = REG_NOTIFY_CLASS.RegNtPostQueryKey
RegNtPostQueryValueKey = REG_NOTIFY_CLASS.RegNtPostQueryValueKey
RegNtPostQueryMultipleValueKey = REG_NOTIFY_CLASS.RegNtPostQueryMultipleValueKey
RegNtPostKeyHandleClose = REG_NOTIFY_CLASS.RegNtPostKeyHandleClose
RegNtPreCreateKeyEx = REG_NOTIFY_CLASS.RegNtPreCreateKeyEx
RegNtPostCreateKeyEx = REG_NOTIFY_CLASS.RegNtPostCreateKeyEx
RegNtPreOpenKeyEx = REG_NOTIFY_CLASS.RegNtPreOpenKeyEx
RegNtPostOpenKeyEx = REG_NOTIFY_CLASS.RegNtPostOpenKeyEx
RegNtPreFlushKey = REG_NOTIFY_CLASS.RegNtPreFlushKey
RegNtPostFlushKey = REG_NOTIFY_CLASS.RegNtPostFlushKey
RegNtPreLoadKey = REG_NOTIFY_CLASS.RegNtPreLoadKey
RegNtPostLoadKey = REG_NOTIFY_CLASS.RegNtPostLoadKey
RegNtPreUnLoadKey = REG_NOTIFY_CLASS.RegNtPreUnLoadKey
RegNtPostUnLoadKey = REG_NOTIFY_CLASS.RegNtPostUnLoadKey
RegNtPreQueryKeySecurity = REG_NOTIFY_CLASS.RegNtPreQueryKeySecurity
RegNtPostQueryKeySecurity = REG_NOTIFY_CLASS.RegNtPostQueryKeySecurity
RegNtPreSetKeySecurity = REG_NOTIFY_CLASS.RegNtPreSetKeySecurity
RegNtPostSetKeySecurity = REG_NOTIFY_CLASS.RegNtPostSetKeySecurity
RegNtCallbackObjectContextCleanup = REG_NOTIFY_CLASS.RegNtCallbackObjectContextCleanup
RegNtPreQueryKeyName = REG_NOTIFY_CLASS.RegNtPreQueryKeyName
RegNtPostQueryKeyName = REG_NOTIFY_CLASS.RegNtPostQueryKeyName
