"""The rest of the key API (issue 20, item 2): ZwLoadKey(Ex) / ZwUnloadKey, ZwSaveKey(Ex)
checked with regf and hivex, ZwRestoreKey, ZwReplaceKey, ZwQueryMultipleValueKey,
ZwSetInformationKey, ZwQueryKey classes 5-9, ZwQueryObject, and the callback
notification classes each call sends (wdm.h REG_NOTIFY_CLASS and the REG_*_INFORMATION
pages; per-call pages cited on each scenario)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import oracles
import pytest

import regf
from regf import nt
from regf.nt import infoclass as I
from regf.nt.keyapi import entries_bytes

ROOT = r"\Registry\Machine\TEST"
KEY = ROOT + r"\Key"
N = nt.REG_NOTIFY_CLASS
SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample.hiv"


def _status(fn: Any, *args: Any, **kwargs: Any) -> int:
    with pytest.raises(nt.NtStatusError) as err:
        fn(*args, **kwargs)
    return int(err.value.status)


@pytest.fixture
def reg(tmp_path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None)
    r.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
    h, _ = r.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS, class_name="Cls")
    r.ZwSetValueKey(h, "A", nt.REG_SZ, "alpha\0".encode("utf-16-le"))
    r.ZwSetValueKey(h, "B", nt.REG_DWORD, (7).to_bytes(4, "little"))
    r.ZwSetValueKey(h, "C", nt.REG_BINARY, b"\1\2\3")
    s, _ = r.ZwCreateKey("Sub", nt.KEY_ALL_ACCESS, root=h)
    r.ZwSetValueKey(s, "deep", nt.REG_BINARY, b"d" * 5000)  # big enough for a db on 1.5
    v, _ = r.ZwCreateKey("Vol", nt.KEY_ALL_ACCESS, root=h, create_options=nt.REG_OPTION_VOLATILE)
    for x in (v, s, h):
        r.ZwClose(x)
    yield r
    if not r.closed:
        r.close()


class Recorder:
    def __init__(self) -> None:
        self.classes: list[N] = []
        self.infos: list[Any] = []

    def __call__(self, cls: N, info: Any) -> int:
        self.classes.append(cls)
        self.infos.append(info)
        return 0


# ---------------------------------------------------------------------------------------
# ZwSaveKey / ZwSaveKeyEx
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "minor"), [(nt.REG_STANDARD_FORMAT, 3), (nt.REG_LATEST_FORMAT, 5)])
def test_savekeyex_writes_the_stable_subtree_as_a_hive_regf_and_hivex_open(
    reg, tmp_path, fmt, minor
):
    """ZwSaveKeyEx (wdm.h; REG_SAVE_KEY_INFORMATION formats: standard = the Windows 2000
    format, latest = XP+): the key becomes the root of a clean hive; volatile keys are
    not saved (RegSaveKeyEx: "only saves nonvolatile keys")."""
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "320000")
    h = reg.ZwOpenKey(KEY, nt.KEY_READ)
    out = tmp_path / f"saved{fmt}.hiv"
    reg.ZwSaveKeyEx(h, out, fmt)
    reg.ZwClose(h)
    assert [c for c in rec.classes if c in (N.RegNtPreSaveKey, N.RegNtPostSaveKey)] == [
        N.RegNtPreSaveKey,
        N.RegNtPostSaveKey,
    ]
    pre = rec.infos[rec.classes.index(N.RegNtPreSaveKey)]
    assert pre.Format == fmt and pre.FileHandle == out
    with regf.open(out) as hive:
        assert hive.base_block.minor == minor
        assert hive.root.class_name == "Cls"
        assert {v.name for v in hive.root.values()} == {"A", "B", "C"}
        assert [k.name for k in hive.root.subkeys()] == ["Sub"]  # no "Vol"
        assert hive.open_key("Sub").value("deep").raw == b"d" * 5000
    if not oracles.hivex_available():
        pytest.skip("hivex (python3-hivex under /usr/bin/python3) is not installed")
    assert oracles.without_classes(oracles.walk_regf(out)) == oracles.walk_hivex(out)


def test_savekey_to_a_file_object_and_refusals(reg, tmp_path):
    """ZwSaveKey writes into an open file (its FileHandle); a path that exists is
    refused (RegSaveKeyEx: "If the file already exists, the function fails");
    REG_NO_COMPRESSION needs a hive root; formats cannot be combined; master-hive and
    volatile keys cannot be saved."""
    h = reg.ZwOpenKey(KEY, nt.KEY_READ)
    buf = io.BytesIO()
    reg.ZwSaveKey(h, buf)
    with regf.open(buf.getvalue()) as hive:
        assert hive.base_block.minor == 3
        assert hive.root.value("B").raw == b"\7\0\0\0"
    (tmp_path / "exists.hiv").write_bytes(b"x")
    assert _status(reg.ZwSaveKey, h, tmp_path / "exists.hiv") == nt.STATUS_OBJECT_NAME_COLLISION
    assert _status(reg.ZwSaveKeyEx, h, tmp_path / "n.hiv", nt.REG_NO_COMPRESSION) == (
        nt.STATUS_INVALID_PARAMETER
    )
    both = nt.REG_STANDARD_FORMAT | nt.REG_LATEST_FORMAT
    assert _status(reg.ZwSaveKeyEx, h, tmp_path / "b.hiv", both) == nt.STATUS_INVALID_PARAMETER
    reg.ZwClose(h)
    r = reg.ZwOpenKey(ROOT, nt.KEY_READ)
    reg.ZwSaveKeyEx(r, tmp_path / "root.hiv", nt.REG_NO_COMPRESSION)
    with regf.open(tmp_path / "root.hiv") as hive:
        assert hive.open_key(r"Key\Sub").value("deep").raw == b"d" * 5000
    reg.ZwClose(r)
    m = reg.ZwOpenKey(r"\Registry\Machine", nt.KEY_READ)
    assert _status(reg.ZwSaveKey, m, tmp_path / "m.hiv") == nt.STATUS_ACCESS_DENIED
    reg.ZwClose(m)
    v = reg.ZwOpenKey(KEY + r"\Vol", nt.KEY_READ)
    assert _status(reg.ZwSaveKey, v, tmp_path / "v.hiv") == nt.STATUS_INVALID_PARAMETER
    reg.ZwClose(v)


def test_savekey_needs_sebackupprivilege_with_a_token(reg, tmp_path):
    """With a caller token, ZwSaveKey needs SeBackupPrivilege (wdm.h ZwSaveKey:
    STATUS_PRIVILEGE_NOT_HELD)."""
    h = reg.ZwOpenKey(KEY, nt.KEY_READ)
    with reg.impersonate(nt.Token.of("S-1-5-21-1-2-3-1001", ["BU"])):
        assert _status(reg.ZwSaveKey, h, tmp_path / "p.hiv") == nt.STATUS_PRIVILEGE_NOT_HELD
    with reg.impersonate(nt.Token.of("S-1-5-21-1-2-3-1001", ["BA"], ["SeBackupPrivilege"])):
        reg.ZwSaveKey(h, tmp_path / "p.hiv")
    reg.ZwClose(h)


# ---------------------------------------------------------------------------------------
# ZwRestoreKey
# ---------------------------------------------------------------------------------------


def test_restorekey_replaces_the_subtree_with_the_saved_hive(reg, tmp_path):
    """ZwRestoreKey (wdm.h / RegRestoreKey): the key's values and subkeys become those of
    the hive file; handles below it block the restore (STATUS_CANNOT_DELETE) unless
    REG_FORCE_RESTORE, after which they see STATUS_KEY_DELETED."""
    h = reg.ZwOpenKey(KEY, nt.KEY_READ)
    saved = tmp_path / "saved.hiv"
    reg.ZwSaveKey(h, saved)
    reg.ZwClose(h)
    t, _ = reg.ZwCreateKey(ROOT + r"\Target", nt.KEY_ALL_ACCESS)
    reg.ZwSetValueKey(t, "gone", nt.REG_BINARY, b"x")
    old, _ = reg.ZwCreateKey("Old", nt.KEY_ALL_ACCESS, root=t)
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "320000")
    assert _status(reg.ZwRestoreKey, t, saved) == nt.STATUS_CANNOT_DELETE
    reg.ZwRestoreKey(t, saved, nt.REG_FORCE_RESTORE)
    assert N.RegNtPreRestoreKey in rec.classes and N.RegNtPostRestoreKey in rec.classes
    assert _status(reg.ZwQueryKey, old, nt.KeyBasicInformation) == nt.STATUS_KEY_DELETED
    full = reg.ZwQueryKey(t, nt.KeyFullInformation)
    assert (full.SubKeys, full.Values) == (1, 3)
    sub = reg.ZwOpenKey("Sub", nt.KEY_READ, root=t)
    assert reg.ZwQueryValueKey(sub, "deep", nt.KeyValuePartialInformation).Data == b"d" * 5000
    assert _status(reg.ZwQueryValueKey, t, "gone", nt.KeyValuePartialInformation) == (
        nt.STATUS_OBJECT_NAME_NOT_FOUND
    )
    for x in (sub, old, t):
        reg.ZwClose(x)
    reg.close()
    with regf.open(tmp_path / "t.hiv") as hive:  # and it was flushed to the hive file
        assert hive.open_key(r"Target\Sub").value("deep").raw == b"d" * 5000


def test_restorekey_whole_hive_volatile_and_bad_files(reg, tmp_path):
    """REG_WHOLE_HIVE_VOLATILE restores as volatile keys (not written to the file); a
    file that is not a hive is STATUS_REGISTRY_CORRUPT, a missing one NAME_NOT_FOUND."""
    h = reg.ZwOpenKey(KEY, nt.KEY_READ)
    saved = io.BytesIO()
    reg.ZwSaveKeyEx(h, saved, nt.REG_LATEST_FORMAT)
    reg.ZwClose(h)
    saved.seek(0)
    t, _ = reg.ZwCreateKey(ROOT + r"\VolTarget", nt.KEY_ALL_ACCESS)
    reg.ZwRestoreKey(t, saved, nt.REG_WHOLE_HIVE_VOLATILE)
    info = reg.ZwQueryKey(t, nt.KeyFullInformation)
    assert info.SubKeys == 1
    sub = reg.ZwEnumerateKey(t, 0, nt.KeyBasicInformation).Name
    s = reg.ZwOpenKey(sub, nt.KEY_READ, root=t)
    assert reg.ZwQueryKey(s, nt.KeyFlagsInformation).KeyFlags & nt.REG_FLAG_VOLATILE
    reg.ZwClose(s)
    bad = tmp_path / "bad.hiv"
    bad.write_bytes(b"not a hive" * 100)
    assert _status(reg.ZwRestoreKey, t, bad) == nt.STATUS_REGISTRY_CORRUPT
    assert _status(reg.ZwRestoreKey, t, tmp_path / "none") == nt.STATUS_OBJECT_NAME_NOT_FOUND
    reg.ZwClose(t)


# ---------------------------------------------------------------------------------------
# ZwReplaceKey, ZwLoadKeyEx, ZwUnloadKey
# ---------------------------------------------------------------------------------------


def test_replacekey_takes_effect_at_the_next_load(tmp_path):
    """ZwReplaceKey / RegReplaceKey: the loaded hive's file is replaced by the new one
    (kept as the old file name), the running hive keeps its contents until unloaded,
    and the next load sees the replacement."""
    live = tmp_path / "live.hiv"
    shutil.copyfile(SAMPLE, live)
    with nt.Registry(lazy_flush=None) as reg:
        reg.load_hive(ROOT, tmp_path / "new.hiv", create_new=True)
        h, _ = reg.ZwCreateKey(ROOT + r"\OnlyInNew", nt.KEY_ALL_ACCESS)
        reg.ZwClose(h)
        reg.unload_hive(ROOT)
        reg.ZwLoadKey(ROOT, live)
        root = reg.ZwOpenKey(ROOT, nt.KEY_ALL_ACCESS)
        before = reg.ZwQueryKey(root, nt.KeyFullInformation)
        rec = Recorder()
        reg.CmRegisterCallbackEx(rec, "320000")
        reg.ZwReplaceKey(tmp_path / "new.hiv", root, tmp_path / "old.hiv")
        assert rec.classes[:2] == [N.RegNtPreReplaceKey, N.RegNtPostReplaceKey]
        assert reg.ZwQueryKey(root, nt.KeyFullInformation).SubKeys == before.SubKeys
        assert _status(reg.ZwReplaceKey, tmp_path / "x", root, tmp_path / "old.hiv") in (
            nt.STATUS_OBJECT_NAME_NOT_FOUND,
        )
        reg.ZwClose(root)
        reg.ZwUnloadKey(ROOT)
        assert N.RegNtPreUnLoadKey in rec.classes
        reg.ZwLoadKey(ROOT, live)
        h = reg.ZwOpenKey(ROOT + r"\OnlyInNew", nt.KEY_READ)
        reg.ZwClose(h)
    assert (tmp_path / "old.hiv").read_bytes()[:4] == b"regf"
    with regf.open(tmp_path / "old.hiv") as old:
        assert len(old.root.subkeys()) == before.SubKeys


def test_loadkeyex_flags_root_handle_and_privilege(tmp_path):
    """ZwLoadKeyEx (wdm.h): REG_OPEN_READ_ONLY / REG_NO_LAZY_FLUSH flags, a RootHandle
    when an access is asked, other flags STATUS_INVALID_PARAMETER; with a token the
    caller needs SeRestorePrivilege; RegNtPreLoadKey carries the flags."""
    f = tmp_path / "h.hiv"
    shutil.copyfile(SAMPLE, f)
    with nt.Registry(lazy_flush=None) as reg:
        rec = Recorder()
        reg.CmRegisterCallbackEx(rec, "320000")
        with reg.impersonate(nt.Token.of("S-1-5-21-1-2-3-1001", ["BA"])):
            assert _status(reg.ZwLoadKeyEx, ROOT, f) == nt.STATUS_PRIVILEGE_NOT_HELD
        assert _status(reg.ZwLoadKeyEx, ROOT, f, nt.REG_APP_HIVE) == nt.STATUS_INVALID_PARAMETER
        h = reg.ZwLoadKeyEx(ROOT, f, nt.REG_OPEN_READ_ONLY, nt.KEY_READ)
        assert h is not None
        pre = rec.infos[rec.classes.index(N.RegNtPreLoadKey)]
        assert pre.Flags == nt.REG_OPEN_READ_ONLY and pre.DesiredAccess == nt.KEY_READ
        assert reg.ZwQueryKey(h, nt.KeyFullInformation).SubKeys > 0
        reg.ZwClose(h)
        reg.ZwUnloadKey(ROOT)
        assert reg.ZwLoadKeyEx(ROOT, f, nt.REG_NO_LAZY_FLUSH) is None
        assert reg.hive_flags(ROOT)["no_lazy_flush"]


# ---------------------------------------------------------------------------------------
# ZwQueryMultipleValueKey
# ---------------------------------------------------------------------------------------


def test_querymultiplevaluekey_entries_and_buffer(reg):
    """ZwQueryMultipleValueKey (wdm.h; KEY_VALUE_ENTRY): one entry per name with type,
    length and offset into the value buffer (ULONG-aligned); a short buffer gives
    STATUS_BUFFER_OVERFLOW with the required length; a missing name NAME_NOT_FOUND."""
    h = reg.ZwOpenKey(KEY, nt.KEY_QUERY_VALUE)
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "320000")
    entries, buf = reg.ZwQueryMultipleValueKey(h, ["c", "A", "B"])
    assert [e["Type"] for e in entries] == [nt.REG_BINARY, nt.REG_SZ, nt.REG_DWORD]
    assert [e["DataOffset"] for e in entries] == [0, 4, 4 + 12]
    for e, want in zip(
        entries, (b"\1\2\3", "alpha\0".encode("utf-16-le"), b"\7\0\0\0"), strict=True
    ):
        assert buf[e["DataOffset"] : e["DataOffset"] + e["DataLength"]] == want
    assert len(entries_bytes(entries)) == 3 * I.KEY_VALUE_ENTRY.sizeof() == 72
    assert rec.classes == [N.RegNtPreQueryMultipleValueKey, N.RegNtPostQueryMultipleValueKey]
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryMultipleValueKey(h, ["A", "B"], length=10)
    assert err.value.status == nt.STATUS_BUFFER_OVERFLOW and err.value.result_length == 16
    assert _status(reg.ZwQueryMultipleValueKey, h, ["A", "nope"]) == (
        nt.STATUS_OBJECT_NAME_NOT_FOUND
    )
    reg.ZwClose(h)
    w = reg.ZwOpenKey(KEY, nt.KEY_SET_VALUE)
    assert _status(reg.ZwQueryMultipleValueKey, w, ["A"]) == nt.STATUS_ACCESS_DENIED
    reg.ZwClose(w)


# ---------------------------------------------------------------------------------------
# ZwSetInformationKey and ZwQueryKey classes 5-9
# ---------------------------------------------------------------------------------------


def test_setinformationkey_classes_and_querykey_5_to_9(reg):
    """ZwSetInformationKey (wdm.h; KEY_SET_INFORMATION_CLASS) and what ZwQueryKey
    returns for KeyFlags/Virtualization/HandleTags/Trust/LayerInformation (12 and 4 byte
    structures); class 10 and up is STATUS_INVALID_PARAMETER."""
    h = reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "320000")
    ft = 0x01D9_0000_1234_5678
    reg.ZwSetInformationKey(h, nt.KeyWriteTimeInformation, ft.to_bytes(8, "little"))
    assert reg.ZwQueryKey(h, nt.KeyBasicInformation).LastWriteTime == ft
    reg.ZwSetInformationKey(h, nt.KeyWow64FlagsInformation, (1).to_bytes(4, "little"))
    reg.ZwSetInformationKey(
        h, nt.KeyControlFlagsInformation, nt.REG_KEY_DONT_VIRTUALIZE.to_bytes(4, "little")
    )
    flags = reg.ZwQueryKey(h, nt.KeyFlagsInformation)
    assert (flags.Wow64Flags, flags.KeyFlags, flags.ControlFlags) == (
        1,
        0,
        nt.REG_KEY_DONT_VIRTUALIZE,
    )
    assert flags.to_bytes() == bytes.fromhex("010000000000000002000000")
    reg.ZwSetInformationKey(h, nt.KeySetVirtualizationInformation, (0b110).to_bytes(4, "little"))
    virt = reg.ZwQueryKey(h, nt.KeyVirtualizationInformation)
    assert (virt.VirtualTarget, virt.VirtualStore, virt.VirtualSource) == (0, 1, 1)
    assert virt.to_bytes() == (0b11000).to_bytes(4, "little")
    reg.ZwSetInformationKey(h, nt.KeySetHandleTagsInformation, (0xAB).to_bytes(4, "little"))
    assert reg.ZwQueryKey(h, nt.KeyHandleTagsInformation).HandleTags == 0xAB
    other = reg.ZwOpenKey(KEY, nt.KEY_READ)  # tags belong to the handle
    assert reg.ZwQueryKey(other, nt.KeyHandleTagsInformation).HandleTags == 0
    reg.ZwClose(other)
    assert reg.ZwQueryKey(h, nt.KeyTrustInformation).to_bytes() == bytes(4)
    assert reg.ZwQueryKey(h, nt.KeyLayerInformation).to_bytes() == bytes(4)
    assert N.RegNtPreSetInformationKey in rec.classes
    pre = rec.infos[rec.classes.index(N.RegNtPreSetInformationKey)]
    assert pre.KeySetInformationClass == nt.KeyWriteTimeInformation
    assert pre.KeySetInformationLength == 8
    # Buffer protocol of fixed structures: all or STATUS_BUFFER_TOO_SMALL.
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryKey(h, nt.KeyFlagsInformation, length=11)
    assert err.value.status == nt.STATUS_BUFFER_TOO_SMALL and err.value.result_length == 12
    for bad in (10, 11, 255):
        assert _status(reg.ZwQueryKey, h, bad) == nt.STATUS_INVALID_PARAMETER
    assert _status(reg.ZwSetInformationKey, h, nt.KeyWriteTimeInformation, b"\0" * 4) == (
        nt.STATUS_INFO_LENGTH_MISMATCH
    )
    assert _status(reg.ZwSetInformationKey, h, 7, b"\0" * 4) == nt.STATUS_INVALID_INFO_CLASS
    assert (
        _status(
            reg.ZwSetInformationKey, h, nt.KeyWow64FlagsInformation, (0x10).to_bytes(4, "little")
        )
        == nt.STATUS_INVALID_PARAMETER
    )
    reg.ZwClose(h)
    r = reg.ZwOpenKey(KEY, nt.KEY_READ)
    assert _status(reg.ZwSetInformationKey, r, nt.KeySetDebugInformation, bytes(4)) == (
        nt.STATUS_ACCESS_DENIED
    )
    reg.ZwClose(r)


def test_flags_information_of_links_and_volatile_keys(reg):
    """KEY_FLAGS_INFORMATION.KeyFlags: REG_FLAG_VOLATILE, REG_FLAG_LINK."""
    v = reg.ZwOpenKey(KEY + r"\Vol", nt.KEY_READ)
    assert reg.ZwQueryKey(v, nt.KeyFlagsInformation).KeyFlags == nt.REG_FLAG_VOLATILE
    reg.ZwClose(v)
    lk, _ = reg.ZwCreateKey(
        ROOT + r"\Lnk", nt.KEY_ALL_ACCESS, create_options=nt.REG_OPTION_CREATE_LINK
    )
    assert reg.ZwQueryKey(lk, nt.KeyFlagsInformation).KeyFlags == nt.REG_FLAG_LINK
    reg.ZwClose(lk)


def test_zwqueryobject_name_sends_query_key_name(reg):
    """ZwQueryObject(ObjectNameInformation) on a key: RegNtPre/PostQueryKeyName
    (REG_QUERY_KEY_NAME) around the name; a short buffer is INFO_LENGTH_MISMATCH."""
    h = reg.ZwOpenKey(KEY, 0)
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "320000")
    assert reg.ZwQueryObject(h) == r"\REGISTRY\MACHINE\TEST\Key"
    assert rec.classes == [N.RegNtPreQueryKeyName, N.RegNtPostQueryKeyName]
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryObject(h, length=8)
    assert err.value.status == nt.STATUS_INFO_LENGTH_MISMATCH
    assert err.value.result_length == 16 + 2 * len(r"\REGISTRY\MACHINE\TEST\Key") + 2
    reg.ZwClose(h)
