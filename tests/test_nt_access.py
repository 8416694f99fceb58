"""Access checks from the keys' security descriptors (issue 20, item 1), with scenarios
built from the descriptors of real corpus hives (SAM, SECURITY; the corpus has no
SOFTWARE hive: its catalog lists it as not obtainable).

Sources: "How DACLs Control Access to an Object" and "Order of ACEs in a DACL"
(SeAccessCheck's walk), "ACE Inheritance Rules" / "Automatic Propagation of Inheritable
ACEs" (inheritance), winnt.h (GENERIC_MAPPING, privileges, SE_DACL_PROTECTED), wdm.h
ZwCreateKey ("KEY_CREATE_SUB_KEY ... create a subkey"), ZwQuerySecurityObject /
ZwSetSecurityObject (buffer protocol: STATUS_BUFFER_TOO_SMALL and LengthNeeded).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import regf
from regf import nt
from regf.format.security import AceFlags, Sid, from_sddl, parse_descriptor

SAM_ROOT = r"\Registry\Machine\SAM"
SEC_ROOT = r"\Registry\Machine\SECURITY"
HIVES = Path("EricZimmerman__Registry/Registry.Test/Hives")
USER_SID = "S-1-5-21-1004336348-1177238915-682003330-1001"

ADMIN = nt.Token.of(USER_SID, ["BA", "BU", "AU"], owner="BA")
USER = nt.Token.of(USER_SID, ["BU", "AU"])
SYSTEM = nt.Token.system()


def _status(fn: Any, *args: Any, **kwargs: Any) -> int:
    with pytest.raises(nt.NtStatusError) as err:
        fn(*args, **kwargs)
    return int(err.value.status)


@pytest.fixture
def sam(corpus, tmp_path) -> nt.Registry:
    f = tmp_path / "SAM"
    shutil.copyfile(corpus / HIVES / "SAM", f)
    f.chmod(0o644)
    r = nt.Registry(lazy_flush=None)
    r.load_hive(SAM_ROOT, f)
    yield r
    r.close()


@pytest.fixture
def security(corpus, tmp_path) -> nt.Registry:
    # The corpus SECURITY is dirty and has no logs: a clean copy of it is loaded.
    f = tmp_path / "SECURITY"
    with pytest.warns(regf.DirtyHiveWarning):
        copy = regf.open((corpus / HIVES / "SECURITY").read_bytes(), mode="r+")
    with pytest.raises(regf.HiveStateError):
        copy.flush()  # a copy in memory: nothing can be written back to the corpus
    copy.save_as(f)
    copy.discard()
    r = nt.Registry(lazy_flush=None)
    r.load_hive(SEC_ROOT, f)
    yield r
    r.close()


def test_sam_inner_key_grants_administrators_only_read_control_and_write_dac(sam):
    """SAM\\SAM is D:(A;CI;KA;;;SY)(A;CI;RCWD;;;BA): SYSTEM gets everything, an
    administrator only READ_CONTROL|WRITE_DAC (so KEY_READ is denied), a plain user
    nothing; MAXIMUM_ALLOWED grants exactly what the DACL allows."""
    key = SAM_ROOT + r"\SAM"
    with sam.impersonate(SYSTEM):
        h = sam.ZwOpenKey(key, nt.KEY_ALL_ACCESS)
        sam.ZwClose(h)
    with sam.impersonate(ADMIN):
        assert _status(sam.ZwOpenKey, key, nt.KEY_READ) == nt.STATUS_ACCESS_DENIED
        assert _status(sam.ZwOpenKey, key, nt.GENERIC_READ) == nt.STATUS_ACCESS_DENIED
        h = sam.ZwOpenKey(key, nt.READ_CONTROL | nt.WRITE_DAC)
        sam.ZwClose(h)
        h = sam.ZwOpenKey(key, nt.MAXIMUM_ALLOWED)
        # Handle has RC|WD only: a value query needs KEY_QUERY_VALUE.
        assert _status(sam.ZwQueryKey, h, nt.KeyFullInformation) == nt.STATUS_ACCESS_DENIED
        sd = sam.ZwQuerySecurityObject(h, nt.DACL_SECURITY_INFORMATION)
        assert parse_descriptor(sd).dacl is not None
        sam.ZwClose(h)
    with sam.impersonate(USER):
        assert _status(sam.ZwOpenKey, key, nt.READ_CONTROL) == nt.STATUS_ACCESS_DENIED
        assert _status(sam.ZwOpenKey, key, nt.MAXIMUM_ALLOWED) == nt.STATUS_ACCESS_DENIED


def test_sam_root_protected_dacl_lets_users_read_but_not_write(sam):
    """The SAM root's protected DACL grants BUILTIN\\Users KEY_READ (A;CI;KR;;;BU):
    a user opens it for reading, not for KEY_SET_VALUE nor KEY_CREATE_SUB_KEY."""
    with sam.impersonate(USER):
        h = sam.ZwOpenKey(SAM_ROOT, nt.KEY_READ)
        assert sam.ZwQueryKey(h, nt.KeyFullInformation).SubKeys >= 1
        sam.ZwClose(h)
        assert _status(sam.ZwOpenKey, SAM_ROOT, nt.KEY_SET_VALUE) == nt.STATUS_ACCESS_DENIED
        assert _status(sam.ZwCreateKey, SAM_ROOT + r"\Mine", nt.KEY_READ) == nt.STATUS_ACCESS_DENIED


def test_privileges_take_ownership_and_backup_restore(sam):
    """SeTakeOwnershipPrivilege grants WRITE_OWNER whatever the DACL says;
    SeBackupPrivilege grants read access only with REG_OPTION_BACKUP_RESTORE (winnt.h
    SE_BACKUP_NAME; wdm.h ZwOpenKeyEx OpenOptions)."""
    key = SAM_ROOT + r"\SAM"
    taker = nt.Token.of(USER_SID, ["BA"], ["SeTakeOwnershipPrivilege"])
    backup = nt.Token.of(USER_SID, ["BA"], ["SeBackupPrivilege"])
    with sam.impersonate(taker):
        sam.ZwClose(sam.ZwOpenKey(key, nt.WRITE_OWNER))
    with sam.impersonate(backup):
        assert _status(sam.ZwOpenKey, key, nt.KEY_READ) == nt.STATUS_ACCESS_DENIED
        h = sam.ZwOpenKey(key, nt.KEY_READ, open_options=nt.REG_OPTION_BACKUP_RESTORE)
        assert sam.ZwQueryKey(h, nt.KeyFullInformation).SubKeys >= 1
        sam.ZwClose(h)
        # ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege.
        assert _status(sam.ZwOpenKey, key, nt.ACCESS_SYSTEM_SECURITY) == nt.STATUS_ACCESS_DENIED


def test_new_subkey_inherits_the_sam_root_aces(sam):
    """A key an administrator creates under the SAM root inherits its CONTAINER_INHERIT
    ACEs, marked INHERITED, with the owner from the token; the CREATOR OWNER ACE
    (A;CI;KA;;;CO) becomes an ACE for the new owner plus an inherit-only copy
    ("ACE Inheritance Rules")."""
    with sam.impersonate(ADMIN):
        h, d = sam.ZwCreateKey(SAM_ROOT + r"\Made", nt.KEY_ALL_ACCESS)
        assert d == nt.REG_CREATED_NEW_KEY
        sd = parse_descriptor(sam.ZwQuerySecurityObject(h, 0x7))
    assert sd.owner == Sid.parse("BA")
    aces = sd.dacl.aces
    assert all(a.flags & AceFlags.INHERITED for a in aces)
    sids = [(str(a.sid), int(a.flags) & ~AceFlags.INHERITED) for a in aces]
    assert (str(Sid.parse("BU")), AceFlags.CONTAINER_INHERIT) in sids
    assert (str(Sid.parse("BA")), 0) in sids  # CREATOR OWNER -> the owner (BA)
    assert (str(Sid.parse("CO")), AceFlags.CONTAINER_INHERIT | AceFlags.INHERIT_ONLY) in sids
    # The user may read the new key through the inherited Users ACE, not write it.
    sam.ZwClose(h)
    with sam.impersonate(USER):
        sam.ZwClose(sam.ZwOpenKey(SAM_ROOT + r"\Made", nt.KEY_READ))
        assert _status(sam.ZwOpenKey, SAM_ROOT + r"\Made", nt.KEY_WRITE) == nt.STATUS_ACCESS_DENIED


def test_explicit_descriptor_and_protected_dacl_on_create(sam):
    """An explicit descriptor's ACEs come first; with SE_DACL_PROTECTED (SDDL ``P``) the
    new key inherits nothing. The creator gets the access it asked for."""
    with sam.impersonate(ADMIN):
        sd = from_sddl(f"D:(D;;0x2;;;{USER_SID})(A;;KR;;;WD)").to_bytes()
        h, _ = sam.ZwCreateKey(SAM_ROOT + r"\Expl", nt.KEY_ALL_ACCESS, security_descriptor=sd)
        got = parse_descriptor(sam.ZwQuerySecurityObject(h, nt.DACL_SECURITY_INFORMATION))
        assert [bool(a.flags & AceFlags.INHERITED) for a in got.dacl.aces][:2] == [False, False]
        assert any(a.flags & AceFlags.INHERITED for a in got.dacl.aces)
        sam.ZwClose(h)
        psd = from_sddl("D:P(A;;KR;;;WD)").to_bytes()
        h, _ = sam.ZwCreateKey(SAM_ROOT + r"\Prot", nt.KEY_ALL_ACCESS, security_descriptor=psd)
        got = parse_descriptor(sam.ZwQuerySecurityObject(h, nt.DACL_SECURITY_INFORMATION))
        assert len(got.dacl.aces) == 1 and got.control & 0x1000
        sam.ZwClose(h)
    with sam.impersonate(USER):
        # The explicit deny of KEY_SET_VALUE for this user comes before every allow.
        assert (
            _status(sam.ZwOpenKey, SAM_ROOT + r"\Expl", nt.KEY_SET_VALUE) == nt.STATUS_ACCESS_DENIED
        )
        sam.ZwClose(sam.ZwOpenKey(SAM_ROOT + r"\Expl", nt.KEY_READ))


def test_security_hive_administrator_takes_over_a_key_with_write_dac(security):
    """SECURITY\\Cache (D:(A;CI;KA;;;SY)(A;CI;RCWD;;;BA)) denies an administrator
    KEY_READ, but WRITE_DAC lets it rewrite the DACL (ZwSetSecurityObject), after which
    KEY_READ is granted: the classic take-over."""
    key = SEC_ROOT + r"\Cache"
    with security.impersonate(ADMIN):
        assert _status(security.ZwOpenKey, key, nt.KEY_READ) == nt.STATUS_ACCESS_DENIED
        h = security.ZwOpenKey(key, nt.WRITE_DAC | nt.READ_CONTROL)
        cur = parse_descriptor(security.ZwQuerySecurityObject(h, nt.DACL_SECURITY_INFORMATION))
        new = from_sddl(cur.sddl.replace("RCWD;;;BA", "KA;;;BA"))
        security.ZwSetSecurityObject(h, nt.DACL_SECURITY_INFORMATION, new.to_bytes())
        security.ZwClose(h)
        h = security.ZwOpenKey(key, nt.KEY_READ)
        security.ZwClose(h)


def test_owner_rights_ace_replaces_the_implicit_owner_rights(sam):
    """The owner implicitly gets READ_CONTROL|WRITE_DAC, unless the DACL has an OWNER
    RIGHTS (S-1-3-4) ACE: then that ACE says what the owner gets ("SID Strings":
    OW)."""
    me = nt.Token.of(USER_SID, ["BU"])
    plain = from_sddl(f"O:{USER_SID}D:P(A;;KR;;;SY)").to_bytes()
    owner_rights = from_sddl(f"O:{USER_SID}D:P(A;;0x1;;;OW)").to_bytes()
    with sam.impersonate(SYSTEM):
        for name, sd in (("Plain", plain), ("OwnerRights", owner_rights)):
            h, _ = sam.ZwCreateKey(SAM_ROOT + "\\" + name, nt.KEY_READ, security_descriptor=sd)
            sam.ZwClose(h)
    with sam.impersonate(me):
        sam.ZwClose(sam.ZwOpenKey(SAM_ROOT + r"\Plain", nt.WRITE_DAC | nt.READ_CONTROL))
        assert _status(sam.ZwOpenKey, SAM_ROOT + r"\Plain", nt.KEY_QUERY_VALUE) == (
            nt.STATUS_ACCESS_DENIED
        )
        assert _status(sam.ZwOpenKey, SAM_ROOT + r"\OwnerRights", nt.WRITE_DAC) == (
            nt.STATUS_ACCESS_DENIED
        )
        sam.ZwClose(sam.ZwOpenKey(SAM_ROOT + r"\OwnerRights", nt.KEY_QUERY_VALUE))


def test_create_link_needs_key_create_link_on_the_parent(sam):
    """REG_OPTION_CREATE_LINK needs KEY_CREATE_LINK besides KEY_CREATE_SUB_KEY on the
    parent (winnt.h KEY_CREATE_LINK)."""
    parent_sd = from_sddl(f"D:(A;CI;KR;;;WD)(A;;0x4;;;{USER_SID})").to_bytes()
    with sam.impersonate(SYSTEM):
        sam.ZwClose(
            sam.ZwCreateKey(SAM_ROOT + r"\P", nt.KEY_READ, security_descriptor=parent_sd)[0]
        )
    me = nt.Token.of(USER_SID)
    with sam.impersonate(me):
        h, _ = sam.ZwCreateKey(SAM_ROOT + r"\P\Child", nt.KEY_READ)
        sam.ZwClose(h)
        assert (
            _status(
                sam.ZwCreateKey,
                SAM_ROOT + r"\P\Link",
                nt.KEY_ALL_ACCESS,
                create_options=nt.REG_OPTION_CREATE_LINK,
            )
            == nt.STATUS_ACCESS_DENIED
        )


def test_kernel_callers_are_not_checked_and_callbacks_see_the_mode(sam):
    """Zw* calls from kernel mode skip the access check (CheckAccessMode KernelMode,
    REG_CREATE_KEY_INFORMATION_V1); with a token the callback sees UserMode and the
    GrantedAccess the check gave."""
    seen: list[Any] = []

    def cb(cls: Any, info: Any) -> int:
        if cls == nt.REG_NOTIFY_CLASS.RegNtPostOpenKeyEx:
            pre = info.PreInformation
            seen.append((pre.CheckAccessMode, pre.GrantedAccess, pre.RemainingName))
        return 0

    sam.CmRegisterCallbackEx(cb, "320000")
    sam.ZwClose(sam.ZwOpenKey(SAM_ROOT + r"\SAM", nt.KEY_READ))
    with sam.impersonate(ADMIN):
        sam.ZwClose(sam.ZwOpenKey(SAM_ROOT + r"\SAM", nt.MAXIMUM_ALLOWED))
    assert seen[0] == (nt.KernelMode, nt.KEY_READ, r"Machine\SAM\SAM")
    assert seen[1] == (nt.UserMode, nt.READ_CONTROL | nt.WRITE_DAC, r"Machine\SAM\SAM")


# ---------------------------------------------------------------------------------------
# ZwQuerySecurityObject / ZwSetSecurityObject classes and buffer protocol
# ---------------------------------------------------------------------------------------


def test_query_security_classes_and_buffer_protocol_on_sam(sam):
    """ZwQuerySecurityObject (wdm.h): each SECURITY_INFORMATION bit returns its part;
    a buffer shorter than the descriptor gives STATUS_BUFFER_TOO_SMALL with the
    LengthNeeded; SACL needs ACCESS_SYSTEM_SECURITY; LABEL_SECURITY_INFORMATION returns
    only mandatory-label ACEs; unknown bits are STATUS_INVALID_PARAMETER."""
    h = sam.ZwOpenKey(SAM_ROOT + r"\SAM", nt.READ_CONTROL)
    owner = parse_descriptor(sam.ZwQuerySecurityObject(h, nt.OWNER_SECURITY_INFORMATION))
    assert owner.owner == Sid.parse("BA") and owner.group is None and owner.dacl is None
    group = parse_descriptor(sam.ZwQuerySecurityObject(h, nt.GROUP_SECURITY_INFORMATION))
    assert group.group == Sid.parse("SY") and group.owner is None
    full = sam.ZwQuerySecurityObject(h, 0x7)
    assert parse_descriptor(full).sddl == "O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;RCWD;;;BA)"
    for short in (0, 20, len(full) - 1):
        with pytest.raises(nt.NtStatusError) as err:
            sam.ZwQuerySecurityObject(h, 0x7, length=short)
        assert err.value.status == nt.STATUS_BUFFER_TOO_SMALL
        assert err.value.result_length == len(full)
    assert sam.ZwQuerySecurityObject(h, 0x7, length=len(full)) == full
    assert _status(sam.ZwQuerySecurityObject, h, nt.SACL_SECURITY_INFORMATION) == (
        nt.STATUS_ACCESS_DENIED
    )
    assert _status(sam.ZwQuerySecurityObject, h, 0x100) == nt.STATUS_INVALID_PARAMETER
    label = parse_descriptor(sam.ZwQuerySecurityObject(h, nt.LABEL_SECURITY_INFORMATION))
    assert label.sacl is None  # the SAM key has no mandatory label
    sam.ZwClose(h)


def test_set_security_protect_flags_label_and_owner_check(sam):
    """ZwSetSecurityObject (wdm.h; winnt.h PROTECTED_/UNPROTECTED_DACL_SECURITY_
    INFORMATION): the protection bit follows the flags; a mandatory label set with
    LABEL_SECURITY_INFORMATION reads back alone; with a token, an owner outside it is
    STATUS_INVALID_OWNER unless SeRestorePrivilege."""
    h, _ = sam.ZwCreateKey(SAM_ROOT + r"\Sec", nt.KEY_ALL_ACCESS | nt.ACCESS_SYSTEM_SECURITY)
    cur = sam.ZwQuerySecurityObject(h, nt.DACL_SECURITY_INFORMATION)
    sam.ZwSetSecurityObject(
        h, nt.DACL_SECURITY_INFORMATION | nt.PROTECTED_DACL_SECURITY_INFORMATION, cur
    )
    assert parse_descriptor(sam.ZwQuerySecurityObject(h, 4)).control & 0x1000
    sam.ZwSetSecurityObject(
        h, nt.DACL_SECURITY_INFORMATION | nt.UNPROTECTED_DACL_SECURITY_INFORMATION, cur
    )
    assert not parse_descriptor(sam.ZwQuerySecurityObject(h, 4)).control & 0x1000
    sacl = from_sddl("S:(AU;SA;KA;;;WD)(ML;;NW;;;LW)").to_bytes()
    sam.ZwSetSecurityObject(h, nt.SACL_SECURITY_INFORMATION, sacl)
    label = parse_descriptor(sam.ZwQuerySecurityObject(h, nt.LABEL_SECURITY_INFORMATION))
    assert label.sacl is not None and [a.type for a in label.sacl.aces] == [0x11]
    both = parse_descriptor(sam.ZwQuerySecurityObject(h, nt.SACL_SECURITY_INFORMATION))
    assert both.sacl is not None and len(both.sacl.aces) == 2
    other = from_sddl("O:S-1-5-21-9-9-9-500").to_bytes()
    with sam.impersonate(ADMIN):
        assert _status(sam.ZwSetSecurityObject, h, nt.OWNER_SECURITY_INFORMATION, other) == (
            nt.STATUS_INVALID_OWNER
        )
        sam.ZwSetSecurityObject(h, nt.OWNER_SECURITY_INFORMATION, from_sddl("O:BA").to_bytes())
    with sam.impersonate(SYSTEM):  # SeRestorePrivilege: any owner
        sam.ZwSetSecurityObject(h, nt.OWNER_SECURITY_INFORMATION, other)
    assert parse_descriptor(sam.ZwQuerySecurityObject(h, 1)).owner == Sid.parse(
        "S-1-5-21-9-9-9-500"
    )
    sam.ZwClose(h)
