"""Issue 20, "Failures to fix": one named scenario per failure of the NT layer audit,
each citing the page or WDK header the behaviour comes from."""

from __future__ import annotations

import errno
import hashlib
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import regf
import regf.nt.hives as nt_hives
from regf import nt

ROOT = r"\Registry\Machine\TEST"
KEY = ROOT + r"\Key"
N = nt.REG_NOTIFY_CLASS
SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample.hiv"


@pytest.fixture
def reg(tmp_path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None, verify=True)
    r.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
    h, _ = r.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    r.ZwClose(h)
    yield r
    if not r.closed:
        r.close()


def _status(fn: Any, *args: Any, **kwargs: Any) -> int:
    with pytest.raises(nt.NtStatusError) as err:
        fn(*args, **kwargs)
    return int(err.value.status)


# ---------------------------------------------------------------------------------------
# Symbolic links
# ---------------------------------------------------------------------------------------


def test_link_key_refuses_other_values_and_a_non_reg_link_target(reg):
    """A link key (REG_OPTION_CREATE_LINK, wdm.h ZwCreateKey CreateOptions) holds only
    its REG_LINK ``SymbolicLinkValue``: another value name, or that name with another
    type, is STATUS_ACCESS_DENIED, and the link keeps working."""
    t, _ = reg.ZwCreateKey(ROOT + r"\Target", nt.KEY_ALL_ACCESS)
    reg.ZwSetValueKey(t, "here", nt.REG_DWORD, b"\1\0\0\0")
    link, _ = reg.ZwCreateKey(
        ROOT + r"\Link", nt.KEY_ALL_ACCESS, create_options=nt.REG_OPTION_CREATE_LINK
    )
    target = (ROOT + r"\Target").encode("utf-16-le")
    assert _status(reg.ZwSetValueKey, link, "Other", nt.REG_SZ, b"x\0") == nt.STATUS_ACCESS_DENIED
    assert _status(reg.ZwSetValueKey, link, None, nt.REG_SZ, b"") == nt.STATUS_ACCESS_DENIED
    assert (
        _status(reg.ZwSetValueKey, link, nt.SYMBOLIC_LINK_VALUE_NAME, nt.REG_SZ, target)
        == nt.STATUS_ACCESS_DENIED
    )
    # The right value (in any case) is accepted, and the link resolves.
    reg.ZwSetValueKey(link, "symboliclinkvalue", nt.REG_LINK, target)
    reg.ZwClose(link)
    h = reg.ZwOpenKey(ROOT + r"\Link", nt.KEY_READ)
    assert reg.ZwQueryValueKey(h, "here", nt.KeyValuePartialInformation).Data == b"\1\0\0\0"
    lk = reg.ZwOpenKey(ROOT + r"\Link", nt.KEY_READ, open_options=nt.REG_OPTION_OPEN_LINK)
    assert reg.ZwQueryKey(lk, nt.KeyFullInformation).Values == 1
    for x in (h, lk, t):
        reg.ZwClose(x)


# ---------------------------------------------------------------------------------------
# CallContext
# ---------------------------------------------------------------------------------------


def test_call_context_reaches_the_same_callbacks_post_notification_only(reg):
    """REG_POST_OPERATION_INFORMATION.CallContext (wdm.h): "the value that the driver's
    RegistryCallback routine assigned to the CallContext member of the
    REG_XXX_KEY_INFORMATION structure" for the pre-notification. Per callback: a lower
    altitude starts from None and never sees the higher one's context."""
    seen: dict[str, list[Any]] = {"high-pre": [], "low-pre": [], "high-post": [], "low-post": []}

    def make(name: str, ctx: object) -> Any:
        def cb(cls: N, info: Any) -> int:
            if cls == N.RegNtPreSetValueKey:
                seen[f"{name}-pre"].append(info.CallContext)
                info.CallContext = ctx
            elif cls == N.RegNtPostSetValueKey:
                seen[f"{name}-post"].append(info.CallContext)
            return nt.STATUS_SUCCESS

        return cb

    hi_ctx, lo_ctx = object(), object()
    reg.CmRegisterCallbackEx(make("high", hi_ctx), "400000")
    reg.CmRegisterCallbackEx(make("low", lo_ctx), "300000")
    h = reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)
    reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"1")
    assert seen["high-pre"] == [None] and seen["low-pre"] == [None]
    assert seen["high-post"] == [hi_ctx] and seen["low-post"] == [lo_ctx]
    reg.ZwClose(h)


def test_cmregistercallbackex_passes_the_driver_context(reg):
    """CmRegisterCallbackEx's Context is passed as the RegistryCallback's CallbackContext
    (wdm.h CmRegisterCallbackEx / EX_CALLBACK_FUNCTION)."""
    got: list[tuple[Any, N]] = []
    driver = {"name": "filter"}
    reg.CmRegisterCallbackEx(lambda c, cls, info: got.append((c, cls)) or 0, "385000", driver)
    h = reg.ZwOpenKey(KEY, nt.KEY_READ)
    reg.ZwClose(h)
    assert got and all(c is driver for c, _ in got)
    assert [cls for _, cls in got][:2] == [N.RegNtPreOpenKeyEx, N.RegNtPostOpenKeyEx]


# ---------------------------------------------------------------------------------------
# Unregistering during an operation
# ---------------------------------------------------------------------------------------


def test_callback_unregistered_by_another_during_an_operation_is_not_called_again(reg):
    """A callback removed by CmUnRegisterCallback is gone at once: the lower callback the
    upper one unregisters in the pre-notification gets neither that pre nor the post;
    the call is flagged by the verifier (wdm.h CmUnRegisterCallback: "A driver must not
    call CmUnRegisterCallback from its implementation of the RegistryCallback
    routine")."""
    low_calls: list[N] = []
    cookies: dict[str, int] = {}

    def high(cls: N, info: Any) -> int:
        if cls == N.RegNtPreSetValueKey and "low" in cookies:
            reg.CmUnRegisterCallback(cookies.pop("low"))
        return nt.STATUS_SUCCESS

    cookies["high"] = reg.CmRegisterCallbackEx(high, "400000")
    cookies["low"] = reg.CmRegisterCallbackEx(lambda c, i: low_calls.append(c) or 0, "300000")
    h = reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)
    low_calls.clear()
    reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"1")
    assert low_calls == []
    reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"2")
    assert low_calls == []
    assert [v.kind for v in reg.violations] == ["unregister-in-callback"]
    assert reg.violations[0].rule == "CmUnRegisterCallback"
    reg.ZwClose(h)


def test_callback_unregistering_itself_gets_no_post_notification(reg):
    """Same rule for a callback that unregisters itself in its pre-notification."""
    calls: list[N] = []
    cookie: list[int] = []

    def cb(cls: N, info: Any) -> int:
        calls.append(cls)
        if cls == N.RegNtPreSetValueKey:
            reg.CmUnRegisterCallback(cookie[0])
        return nt.STATUS_SUCCESS

    h = reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)
    cookie.append(reg.CmRegisterCallbackEx(cb, "320000"))
    reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"1")
    assert calls == [N.RegNtPreSetValueKey]
    assert len(reg.violations) == 1
    reg.ZwClose(h)


def test_unregister_outside_a_callback_is_not_flagged(reg):
    """The CmUnRegisterCallback rule (wdm.h) is only about calls from inside a
    RegistryCallback: a driver unregistering from its own code is silent."""
    cookie = reg.CmRegisterCallbackEx(lambda c, i: 0, "320000")
    reg.CmUnRegisterCallback(cookie)
    assert reg.violations == []


def test_strict_verifier_raises_on_unregister_in_callback(tmp_path):
    """In strict mode the CmUnRegisterCallback violation (wdm.h: "That call will result
    in a deadlock") raises VerifierError, like a verifier bug check."""
    with nt.Registry(lazy_flush=None, verify="strict") as r:
        r.load_hive(ROOT, tmp_path / "s.hiv", create_new=True)
        cookie: list[int] = []

        def cb(cls: N, info: Any) -> int:
            if cls == N.RegNtPreOpenKeyEx:
                r.CmUnRegisterCallback(cookie[0])
            return 0

        cookie.append(r.CmRegisterCallbackEx(cb, "320000"))
        with pytest.raises(nt.VerifierError):
            r.ZwOpenKey(ROOT, nt.KEY_READ)


# ---------------------------------------------------------------------------------------
# Handle verifier per caller: see test_nt_verifier.py
# (test_zwregistryopen_second_open_from_another_thread_of_the_same_driver and
# test_zwregistryopen_other_callers_holding_the_key_do_not_count).
# ---------------------------------------------------------------------------------------


def test_caller_blocks_nest_and_are_per_thread(reg):
    """``reg.caller`` names the driver for the calling thread only (nt-api/001 is about
    the driver's handles): a thread started inside the block acts for the default
    caller."""
    with reg.caller("A"):
        h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
        with reg.caller("B"):
            h2 = reg.ZwOpenKey(KEY, nt.KEY_READ)  # B holds nothing yet
        assert reg.violations == []
        got: list[int] = []
        t = threading.Thread(target=lambda: got.append(reg.ZwOpenKey(KEY, nt.KEY_READ)))
        t.start()
        t.join()
    assert reg.violations == []  # the default caller held nothing
    for x in (h, h2, got[0]):
        reg.ZwClose(x)


# ---------------------------------------------------------------------------------------
# Read-only hive files and file systems
# ---------------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_of_a_read_only_file_is_a_read_only_load(tmp_path):
    """A hive file that cannot be written loads read-only (as ZwLoadKeyEx with
    REG_OPEN_READ_ONLY, winnt.h): reads work, every change is STATUS_ACCESS_DENIED, and
    the file is never written. Asking for a write right on it is STATUS_ACCESS_DENIED."""
    f = tmp_path / "soft.hiv"
    shutil.copyfile(SAMPLE, f)
    f.chmod(0o444)
    before = _digest(f)
    try:
        with nt.Registry(lazy_flush=None) as reg:
            assert (
                _status(reg.load_hive, ROOT, f, desired_access=nt.KEY_WRITE)
                == nt.STATUS_ACCESS_DENIED
            )
            reg.load_hive(ROOT, f)
            assert reg.hive_flags(ROOT)["read_only"]
            h = reg.ZwOpenKey(ROOT, nt.KEY_ALL_ACCESS)
            assert reg.ZwQueryKey(h, nt.KeyFullInformation).SubKeys > 0
            for call in (
                lambda: reg.ZwSetValueKey(h, "x", nt.REG_BINARY, b"1"),
                lambda: reg.ZwCreateKey("New", nt.KEY_ALL_ACCESS, root=h),
                lambda: reg.ZwCreateKey(
                    "Vol", nt.KEY_ALL_ACCESS, root=h, create_options=nt.REG_OPTION_VOLATILE
                ),
                lambda: reg.ZwSetSecurityObject(
                    h,
                    nt.DACL_SECURITY_INFORMATION,
                    reg.ZwQuerySecurityObject(h, nt.DACL_SECURITY_INFORMATION),
                ),
            ):
                assert _status(call) == nt.STATUS_ACCESS_DENIED
            reg.ZwFlushKey(h)
            reg.ZwClose(h)
        assert _digest(f) == before
    finally:
        f.chmod(0o644)


def test_load_on_a_read_only_file_system_is_a_read_only_load(tmp_path, monkeypatch):
    """EROFS when opening for writing was STATUS_OBJECT_NAME_NOT_FOUND; it is a read-only
    load (STATUS_ACCESS_DENIED if a write right is asked for), like a read-only file."""
    f = tmp_path / "soft.hiv"
    shutil.copyfile(SAMPLE, f)

    def erofs(path: Any, mode: str = "r") -> Any:
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(nt_hives, "open_hive", erofs)
    with nt.Registry(lazy_flush=None) as reg:
        status = _status(reg.load_hive, ROOT, f, desired_access=nt.GENERIC_WRITE)
        assert status == nt.STATUS_ACCESS_DENIED
        reg.load_hive(ROOT, f)
        assert reg.hive_flags(ROOT)["read_only"]
        h = reg.ZwOpenKey(ROOT, nt.KEY_READ)
        reg.ZwClose(h)


def test_reg_open_read_only_leaves_a_writable_file_alone(tmp_path):
    """REG_OPEN_READ_ONLY on a writable file: no writer lock, no log, no write."""
    f = tmp_path / "soft.hiv"
    shutil.copyfile(SAMPLE, f)
    before = _digest(f)
    with nt.Registry(lazy_flush=None) as reg:
        reg.load_hive(ROOT, f, flags=nt.REG_OPEN_READ_ONLY)
        h = reg.ZwOpenKey(ROOT, nt.KEY_READ)
        assert _status(reg.ZwDeleteKey, h) in (nt.STATUS_ACCESS_DENIED,)
        reg.ZwClose(h)
        # The read-only load laid out no log (a writer open creates both, like Windows).
        assert not (tmp_path / "soft.hiv.LOG1").exists()
        assert not (tmp_path / "soft.hiv.LOG2").exists()
        with regf.open(f, mode="r+"):  # another writer is not locked out
            pass
    assert _digest(f) == before


def test_missing_hive_file_is_still_name_not_found(tmp_path):
    """A missing file stays STATUS_OBJECT_NAME_NOT_FOUND (only access problems became
    read-only loads); load flags other than REG_OPEN_READ_ONLY / REG_NO_LAZY_FLUSH
    (winnt.h) are STATUS_INVALID_PARAMETER."""
    with nt.Registry(lazy_flush=None) as reg:
        assert _status(reg.load_hive, ROOT, tmp_path / "nope.hiv") == (
            nt.STATUS_OBJECT_NAME_NOT_FOUND
        )
        assert _status(reg.load_hive, ROOT, tmp_path, flags=0x40000) == (
            nt.STATUS_INVALID_PARAMETER
        )


# ---------------------------------------------------------------------------------------
# Item 4: REG_CREATE_KEY_INFORMATION_V1 members
# ---------------------------------------------------------------------------------------


def test_create_key_information_v1_members_are_filled(reg):
    """REG_CREATE_KEY_INFORMATION_V1 (wdm.h): Version 1; RootObject/RemainingName (the
    name below the root object, \\REGISTRY for an absolute name); Options; the
    SecurityDescriptor given; DesiredAccess and Wow64Flags (its KEY_WOW64_* bits);
    Attributes (OBJECT_ATTRIBUTES); CheckAccessMode; and at the post-notification
    GrantedAccess and Disposition."""
    from regf.format.security import from_sddl

    seen: list[tuple[N, Any]] = []

    def cb(cls: N, info: Any) -> int:
        if cls in (N.RegNtPreCreateKeyEx, N.RegNtPostCreateKeyEx):
            pre = info if cls == N.RegNtPreCreateKeyEx else info.PreInformation
            seen.append(
                (
                    cls,
                    (
                        pre.Version,
                        pre.RootObject.name,
                        pre.RemainingName,
                        pre.Options,
                        pre.CreateOptions,
                        pre.SecurityDescriptor,
                        pre.DesiredAccess,
                        pre.Wow64Flags,
                        pre.Attributes,
                        pre.CheckAccessMode,
                        pre.GrantedAccess,
                        pre.Disposition,
                    ),
                )
            )
        return nt.STATUS_SUCCESS

    reg.CmRegisterCallbackEx(cb, "320000")
    sd = from_sddl("D:(A;;KA;;;WD)").to_bytes()
    parent = reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)
    want = nt.KEY_READ | nt.KEY_WOW64_32KEY
    h, disp = reg.ZwCreateKey(
        r"A",
        want,
        root=parent,
        create_options=nt.REG_OPTION_VOLATILE,
        security_descriptor=sd,
        attributes=nt.OBJ_CASE_INSENSITIVE,
    )
    assert disp == nt.REG_CREATED_NEW_KEY
    pre, post = seen[0][1], seen[1][1]
    assert pre[:10] == (
        1,
        r"\REGISTRY\MACHINE\TEST\Key",
        "A",
        nt.REG_OPTION_VOLATILE,
        nt.REG_OPTION_VOLATILE,
        sd,
        want,
        nt.KEY_WOW64_32KEY,
        nt.OBJ_CASE_INSENSITIVE,
        nt.KernelMode,
    )
    assert pre[10:] == (0, None)  # outputs not yet known at the pre-notification
    assert post[10:] == (want, nt.REG_CREATED_NEW_KEY)
    seen.clear()
    h2, _ = reg.ZwCreateKey(KEY + r"\A", nt.KEY_READ)
    assert seen[0][1][1:3] == (r"\REGISTRY", r"Machine\TEST\Key\A")
    assert seen[1][1][11] == nt.REG_OPENED_EXISTING_KEY
    for x in (h2, h, parent):
        reg.ZwClose(x)
    assert _status(reg.ZwOpenKey, KEY, nt.KEY_READ, attributes=0x80000) == (
        nt.STATUS_INVALID_PARAMETER
    )
