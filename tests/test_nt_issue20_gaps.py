"""Issue 20, the last gaps: security inheritance for kernel callers and ZwSaveKeyEx with
REG_NO_COMPRESSION (sources cited on each scenario)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import oracles
import pytest

import regf
from regf import nt
from regf.format.constants import BASE
from regf.format.fast import BASE_L, SK_L
from regf.format.security import AceFlags, Sid, from_sddl, parse_descriptor
from regf.model.check import full_check

ROOT = r"\Registry\Machine\GAPS"
SY = Sid.parse("SY")
BA = Sid.parse("BA")
CO = Sid.parse("CO")

#: A parent whose DACL has every kind of ACE the inheritance rules treat differently.
PARENT_SDDL = (
    "O:BAG:BAD:P"
    "(A;CI;KA;;;SY)"  # container-inherit: copied, still CI
    "(A;CIIO;KR;;;BU)"  # inherit-only on the parent: the copy loses INHERIT_ONLY
    "(A;CINP;KR;;;AU)"  # no-propagate: an effective ACE on the child only
    "(A;CI;KA;;;CO)"  # CREATOR OWNER: the creator's owner plus an inherit-only copy
    "(A;;KR;;;WD)"  # not inheritable
)


def _aces(sd_bytes: bytes) -> list[tuple[str, int, int]]:
    sd = parse_descriptor(sd_bytes)
    assert sd.dacl is not None
    return [(str(a.sid), int(a.flags), int(a.mask)) for a in sd.dacl.aces]


@pytest.fixture
def reg(tmp_path: Path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None)
    r.load_hive(ROOT, tmp_path / "gaps.hiv", create_new=True)
    yield r
    r.close()


def _sk_reference_counts(path: Path) -> tuple[Counter[int], dict[int, int]]:
    """(keys per sk cell, each sk cell's stored reference_count) of a saved hive."""
    users: Counter[int] = Counter()
    with regf.open(path) as hive:
        todo = [hive.root]
        while todo:
            key = todo.pop()
            users[key.security_index] += 1
            todo.extend(key.subkeys())
    data = path.read_bytes()
    # A cell's payload follows its 4-byte size, at BASE + index.
    stored = {sk: SK_L.field("reference_count").unpack_from(data, BASE + sk + 4) for sk in users}
    return users, stored


def test_kernel_created_key_inherits_from_the_parent_as_seassignsecurity_does(reg, tmp_path):
    """A key a kernel-mode caller creates without a descriptor gets the one
    SeAssignSecurity computes (wdm.h SeAssignSecurity: owner, primary group and default
    DACL come from the SubjectContext, for a kernel caller the System process's: SYSTEM;
    MS-DTYP 2.5.3.4.1 CreateSecurityDescriptor / 2.5.3.4.2 ComputeACL and "ACE
    Inheritance Rules"): CONTAINER_INHERIT ACEs are copied marked INHERITED, the copy of an
    INHERIT_ONLY ACE loses INHERIT_ONLY, a NO_PROPAGATE_INHERIT ACE applies to the child
    only, CREATOR OWNER becomes SYSTEM plus an inherit-only copy. Equal descriptors share
    one sk cell whose reference count is right in the flushed hive."""
    h = reg.ZwOpenKey(ROOT, nt.KEY_ALL_ACCESS)
    reg.ZwSetSecurityObject(h, 0x7, from_sddl(PARENT_SDDL).to_bytes())
    a, _ = reg.ZwCreateKey(ROOT + r"\A", nt.KEY_ALL_ACCESS)
    b, _ = reg.ZwCreateKey(ROOT + r"\B", nt.KEY_ALL_ACCESS)
    c, _ = reg.ZwCreateKey(ROOT + r"\A\C", nt.KEY_ALL_ACCESS)
    sd_a = reg.ZwQuerySecurityObject(a, 0x7)
    parsed = parse_descriptor(sd_a)
    assert (parsed.owner, parsed.group) == (SY, SY)
    inh = int(AceFlags.INHERITED)
    ci = int(AceFlags.CONTAINER_INHERIT)
    io = int(AceFlags.INHERIT_ONLY)
    ka, kr = nt.KEY_ALL_ACCESS, nt.KEY_READ
    assert _aces(sd_a) == [
        (str(SY), ci | inh, ka),
        (str(Sid.parse("BU")), ci | inh, kr),
        (str(Sid.parse("AU")), inh, kr),
        (str(SY), inh, ka),  # CREATOR OWNER -> the kernel subject's owner
        (str(CO), ci | io | inh, ka),
    ]
    assert reg.ZwQuerySecurityObject(b, 0x7) == sd_a
    # One level further: the no-propagate ACE is gone, CREATOR OWNER applies again.
    assert _aces(reg.ZwQuerySecurityObject(c, 0x7)) == [
        (str(SY), ci | inh, ka),
        (str(Sid.parse("BU")), ci | inh, kr),
        (str(SY), inh, ka),
        (str(CO), ci | io | inh, ka),
    ]
    for x in (c, b, a):
        reg.ZwClose(x)
    reg.ZwFlushKey(h)
    reg.ZwClose(h)
    reg.unload_hive(ROOT)
    path = tmp_path / "gaps.hiv"
    users, stored = _sk_reference_counts(path)
    with regf.open(path) as hive:
        assert hive.open_key("A").security_index == hive.open_key("B").security_index
        assert hive.open_key("A").security_index != hive.open_key("A\\C").security_index
        assert full_check(hive).ok
    assert dict(users) == stored


def test_kernel_created_key_without_inheritable_aces_gets_the_system_default_dacl(reg):
    """Nothing inheritable on the parent: the new key gets the subject's default DACL
    (MS-DTYP 2.5.3.4.1: "the default DACL from the token"), for a kernel caller the
    System token's (SYSTEM full control, Administrators read), owner and group SYSTEM."""
    h = reg.ZwOpenKey(ROOT, nt.KEY_ALL_ACCESS)
    reg.ZwSetSecurityObject(h, 0x7, from_sddl("O:BAG:BAD:P(A;;KA;;;BA)").to_bytes())
    k, _ = reg.ZwCreateKey(ROOT + r"\Plain", nt.KEY_ALL_ACCESS)
    sd = parse_descriptor(reg.ZwQuerySecurityObject(k, 0x7))
    assert (sd.owner, sd.group) == (SY, SY)
    assert _aces(reg.ZwQuerySecurityObject(k, 0x7)) == [
        (str(SY), 0, nt.KEY_ALL_ACCESS),
        (str(BA), 0, nt.KEY_READ),
    ]
    reg.ZwClose(k)
    reg.ZwClose(h)


# ---------------------------------------------------------------------------------------
# ZwSaveKeyEx(REG_NO_COMPRESSION)
# ---------------------------------------------------------------------------------------


def _churned(reg: nt.Registry) -> None:
    """Keys and values made then mostly deleted, so the hive has many free cells."""
    h = reg.ZwOpenKey(ROOT, nt.KEY_ALL_ACCESS)
    made = []
    for i in range(120):
        k, _ = reg.ZwCreateKey(f"K{i:03}", nt.KEY_ALL_ACCESS, root=h, class_name="C")
        reg.ZwSetValueKey(k, "v", nt.REG_BINARY, bytes([i]) * 900)
        made.append(k)
    for i, k in enumerate(made):
        if i % 10:
            reg.ZwDeleteKey(k)
        reg.ZwClose(k)
    v, _ = reg.ZwCreateKey("Vol", nt.KEY_ALL_ACCESS, root=h, create_options=nt.REG_OPTION_VOLATILE)
    reg.ZwClose(v)
    reg.ZwClose(h)


def test_savekeyex_no_compression_writes_the_hive_bins_as_they_are(reg, tmp_path):
    """ZwSaveKeyEx(REG_NO_COMPRESSION) on a hive root (RegSaveKeyEx / winreg.h:
    "The hive is saved with no compression, for faster save operations. The hKey
    parameter must specify the root of a hive"; wdm.h ZwSaveKeyEx,
    REG_SAVE_KEY_INFORMATION.Format): the file is the hive's image, its bins byte for
    byte with their free cells (nothing compacted), behind a clean base block (Seq1 =
    Seq2, valid checksum). regf opens and checks it, and hivex reads the same tree."""
    _churned(reg)
    h = reg.ZwOpenKey(ROOT, nt.KEY_READ)
    reg.ZwFlushKey(h)
    primary = (tmp_path / "gaps.hiv").read_bytes()
    raw = tmp_path / "raw.hiv"
    packed = tmp_path / "packed.hiv"
    reg.ZwSaveKeyEx(h, raw, nt.REG_NO_COMPRESSION)
    reg.ZwSaveKeyEx(h, packed, nt.REG_LATEST_FORMAT)
    data = raw.read_bytes()
    assert data[BASE:] == primary[BASE:]  # the bins as they are
    assert len(data) > len(packed.read_bytes())  # the compacted save drops the free space
    assert BASE_L.field("seq1").unpack_from(data) == BASE_L.field("seq2").unpack_from(data)
    end = BASE_L.offset("checksum")
    assert BASE_L.field("checksum").unpack_from(data) == oracles.base_block_checksum(data[:end])
    with regf.open(raw) as hive:
        assert not hive.dirty
        report = full_check(hive)
        assert report.ok, report.problems
        assert report.stats.free > 0
        names = [k.name for k in hive.root.subkeys()]
        assert names == [f"K{i:03}" for i in range(0, 120, 10)]  # no "Vol"
        assert hive.open_key("K010").value("v").raw == bytes([10]) * 900
    # Changes not yet flushed are in the image, hence in the saved file.
    k, _ = reg.ZwCreateKey(ROOT + r"\Late", nt.KEY_ALL_ACCESS)
    reg.ZwClose(k)
    late = tmp_path / "late.hiv"
    reg.ZwSaveKeyEx(h, late, nt.REG_NO_COMPRESSION)
    with regf.open(late) as hive:
        assert hive.open_key("Late").name == "Late"
        assert full_check(hive).ok
    reg.ZwClose(h)
    # Below a hive root the format is refused (RegSaveKeyEx: ERROR_INVALID_PARAMETER).
    s = reg.ZwOpenKey(ROOT + r"\K000", nt.KEY_READ)
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwSaveKeyEx(s, tmp_path / "sub.hiv", nt.REG_NO_COMPRESSION)
    assert err.value.status == nt.STATUS_INVALID_PARAMETER
    reg.ZwClose(s)
    if not oracles.hivex_available():
        pytest.skip("hivex (python3-hivex under /usr/bin/python3) is not installed")
    assert oracles.without_classes(oracles.walk_regf(raw)) == oracles.walk_hivex(raw)
    assert oracles.walk_hivex(raw) == oracles.walk_hivex(packed)
