"""ZwNotifyChangeKey (wdm.h ZwNotifyChangeKey; winnt.h REG_NOTIFY_CHANGE_*; the filter
meanings as documented for RegNotifyChangeKeyValue): filters, watch-tree, one-shot
completion, coalescing of changes made while no request is pending, cleanup on close."""

from __future__ import annotations

import threading
import time

import pytest

from regf import nt

ROOT = r"\Registry\Machine\TEST"
KEY = ROOT + r"\Key"
ALL = (
    nt.REG_NOTIFY_CHANGE_NAME
    | nt.REG_NOTIFY_CHANGE_ATTRIBUTES
    | nt.REG_NOTIFY_CHANGE_LAST_SET
    | nt.REG_NOTIFY_CHANGE_SECURITY
)


@pytest.fixture
def reg(tmp_path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None)
    r.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
    k, _ = r.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    s, _ = r.ZwCreateKey("Sub", nt.KEY_ALL_ACCESS, root=k)
    r.ZwClose(s)
    r.ZwClose(k)
    yield r
    if not r.closed:
        r.close()


@pytest.mark.parametrize(
    ("flt", "change", "fires"),
    [
        (nt.REG_NOTIFY_CHANGE_LAST_SET, "value", True),
        (nt.REG_NOTIFY_CHANGE_NAME, "value", False),
        (nt.REG_NOTIFY_CHANGE_NAME, "subkey", True),
        (nt.REG_NOTIFY_CHANGE_LAST_SET, "subkey", False),
        (nt.REG_NOTIFY_CHANGE_NAME, "delete-sub", True),
        (nt.REG_NOTIFY_CHANGE_NAME, "rename-sub", True),
        (nt.REG_NOTIFY_CHANGE_SECURITY, "security", True),
        (nt.REG_NOTIFY_CHANGE_LAST_SET, "security", False),
        (nt.REG_NOTIFY_CHANGE_LAST_SET, "delete-value", True),
        (nt.REG_NOTIFY_CHANGE_ATTRIBUTES, "flags", True),
        (nt.REG_NOTIFY_CHANGE_LAST_SET, "flags", False),
        (nt.REG_NOTIFY_CHANGE_LAST_SET, "write-time", True),
    ],
)
def test_filter_selects_the_changes_that_complete_a_request(reg, flt, change, fires):
    """Each REG_NOTIFY_CHANGE_* bit is completed by its kind of change only."""
    h = reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)
    reg.ZwSetValueKey(h, "pre", nt.REG_BINARY, b"0")
    req = reg.ZwNotifyChangeKey(h, flt)
    assert not req.done and req.status is None
    if change == "value":
        reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"1")
    elif change == "delete-value":
        reg.ZwDeleteValueKey(h, "pre")
    elif change == "subkey":
        reg.ZwClose(reg.ZwCreateKey("New", nt.KEY_READ, root=h)[0])
    elif change == "delete-sub":
        s = reg.ZwOpenKey("Sub", nt.DELETE, root=h)
        reg.ZwDeleteKey(s)
        reg.ZwClose(s)
    elif change == "rename-sub":
        s = reg.ZwOpenKey("Sub", nt.KEY_WRITE, root=h)
        reg.ZwRenameKey(s, "Renamed")
        reg.ZwClose(s)
    elif change == "flags":
        reg.ZwSetInformationKey(h, nt.KeyWow64FlagsInformation, (2).to_bytes(4, "little"))
    elif change == "write-time":
        reg.ZwSetInformationKey(h, nt.KeyWriteTimeInformation, (1 << 56).to_bytes(8, "little"))
    elif change == "security":
        sd = reg.ZwQuerySecurityObject(h, nt.DACL_SECURITY_INFORMATION)
        reg.ZwSetSecurityObject(h, nt.DACL_SECURITY_INFORMATION, sd)
    assert req.done is fires
    if fires:
        assert req.status == nt.STATUS_NOTIFY_ENUM_DIR
    reg.ZwClose(h)
    if not fires:
        assert req.status == nt.STATUS_NOTIFY_CLEANUP  # the close completes it


def test_watch_tree_reports_changes_below_the_key(reg):
    """Without WatchTree only the key itself counts; with it, any key below."""
    h = reg.ZwOpenKey(KEY, nt.KEY_NOTIFY)
    h2 = reg.ZwOpenKey(KEY, nt.KEY_NOTIFY)
    flat = reg.ZwNotifyChangeKey(h, nt.REG_NOTIFY_CHANGE_LAST_SET, False)
    tree = reg.ZwNotifyChangeKey(h2, nt.REG_NOTIFY_CHANGE_LAST_SET, True)
    s = reg.ZwOpenKey(KEY + r"\Sub", nt.KEY_SET_VALUE)
    reg.ZwSetValueKey(s, "deep", nt.REG_BINARY, b"1")
    assert tree.done and not flat.done
    for x in (s, h, h2):
        reg.ZwClose(x)


def test_changes_while_no_request_is_pending_are_coalesced(reg):
    """A request completes once; changes made before the next request are remembered
    as one: the next request completes at once, the one after waits again."""
    h = reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)
    first = reg.ZwNotifyChangeKey(h, nt.REG_NOTIFY_CHANGE_LAST_SET)
    for i in range(5):
        reg.ZwSetValueKey(h, f"v{i}", nt.REG_BINARY, b"1")
    assert first.status == nt.STATUS_NOTIFY_ENUM_DIR
    second = reg.ZwNotifyChangeKey(h, nt.REG_NOTIFY_CHANGE_LAST_SET)
    assert second.status == nt.STATUS_NOTIFY_ENUM_DIR  # the 4 later changes, coalesced
    third = reg.ZwNotifyChangeKey(h, nt.REG_NOTIFY_CHANGE_LAST_SET)
    assert not third.done
    reg.ZwClose(h)
    assert third.status == nt.STATUS_NOTIFY_CLEANUP


def test_synchronous_request_waits_for_a_change_from_another_thread(reg):
    """Asynchronous=FALSE: the call returns only once a change completes it."""
    h = reg.ZwOpenKey(KEY, nt.KEY_NOTIFY)
    w = reg.ZwOpenKey(KEY, nt.KEY_SET_VALUE)

    def writer() -> None:
        time.sleep(0.05)
        reg.ZwSetValueKey(w, "x", nt.REG_DWORD, b"\1\0\0\0")

    t = threading.Thread(target=writer)
    t.start()
    got: list[nt.NTSTATUS] = []
    req = reg.ZwNotifyChangeKey(
        h, nt.REG_NOTIFY_CHANGE_LAST_SET, asynchronous=False, timeout=10, apc=got.append
    )
    t.join()
    assert req.status == nt.STATUS_NOTIFY_ENUM_DIR and got == [nt.STATUS_NOTIFY_ENUM_DIR]
    reg.ZwClose(h)
    reg.ZwClose(w)


def test_notify_needs_key_notify_and_a_valid_filter(reg):
    """wdm.h ZwNotifyChangeKey: the handle needs KEY_NOTIFY; CompletionFilter must hold
    at least one REG_NOTIFY_CHANGE_* bit and nothing outside REG_LEGAL_CHANGE_FILTER."""
    h = reg.ZwOpenKey(KEY, nt.KEY_QUERY_VALUE)
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwNotifyChangeKey(h, nt.REG_NOTIFY_CHANGE_NAME)
    assert err.value.status == nt.STATUS_ACCESS_DENIED
    reg.ZwClose(h)
    h = reg.ZwOpenKey(KEY, nt.KEY_NOTIFY)
    for bad in (0, 0x100, nt.REG_NOTIFY_THREAD_AGNOSTIC):
        with pytest.raises(nt.NtStatusError) as err:
            reg.ZwNotifyChangeKey(h, bad)
        assert err.value.status == nt.STATUS_INVALID_PARAMETER
    reg.ZwClose(h)


def test_deleting_the_watched_key_completes_with_key_deleted(reg):
    """A deleted watched key can never change again: its pending requests complete
    (regf uses STATUS_KEY_DELETED, the status every later call on the handle gets)."""
    h = reg.ZwOpenKey(KEY + r"\Sub", nt.KEY_NOTIFY | nt.DELETE)
    req = reg.ZwNotifyChangeKey(h, ALL)
    reg.ZwDeleteKey(h)
    assert req.status == nt.STATUS_KEY_DELETED
    reg.ZwClose(h)


def test_forced_unload_completes_pending_requests(tmp_path):
    """Unloading the hive (forced, with handles open) completes the pending change
    requests on its keys with STATUS_KEY_DELETED, like a delete of the watched key."""
    with nt.Registry(lazy_flush=None) as reg:
        reg.load_hive(ROOT, tmp_path / "u.hiv", create_new=True)
        h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
        req = reg.ZwNotifyChangeKey(h, ALL, True)
        reg.unload_hive(ROOT, force=True)
        assert req.status == nt.STATUS_KEY_DELETED
        reg.ZwClose(h)
