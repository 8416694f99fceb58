"""The ZwRegistryCreate / ZwRegistryOpen rules (nt-api/001) checked by
``Registry(verify=...)``: each rule is caught, and correct code stays silent."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import pytest

from regf import nt

ROOT = r"\Registry\Machine\TEST"
KEY = ROOT + r"\Key"


@pytest.fixture
def reg(tmp_path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None, verify=True)
    r.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
    yield r
    r.close()


@pytest.fixture
def strict(tmp_path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None, verify="strict")
    r.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
    yield r
    r.close()


#: The calls the rule allows while the handle is open (besides ZwClose / ZwDeleteKey).
LEGAL_CALLS: dict[str, Callable[[nt.Registry, int], object]] = {
    "ZwEnumerateKey": lambda r, h: r.ZwEnumerateKey(h, 0, nt.KeyBasicInformation),
    "ZwEnumerateValueKey": lambda r, h: r.ZwEnumerateValueKey(h, 0, nt.KeyValueBasicInformation),
    "ZwFlushKey": lambda r, h: r.ZwFlushKey(h),
    "ZwQueryKey": lambda r, h: r.ZwQueryKey(h, nt.KeyBasicInformation),
    "ZwQueryValueKey": lambda r, h: r.ZwQueryValueKey(h, "v", nt.KeyValuePartialInformation),
    "ZwSetValueKey": lambda r, h: r.ZwSetValueKey(h, "v", nt.REG_BINARY, b"1"),
}


def _populated(reg: nt.Registry) -> int:
    h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    sub, _ = reg.ZwCreateKey("Sub", nt.KEY_ALL_ACCESS, root=h)
    reg.ZwClose(sub)
    reg.ZwSetValueKey(h, "v", nt.REG_BINARY, b"0")
    return h


def _call_quietly(fn: Callable[[], object]) -> None:
    with contextlib.suppress(nt.NtStatusError):
        fn()


def test_zwregistrycreate_legal_calls_while_the_handle_is_open_are_silent(reg):
    with reg.dispatch("IRP_MJ_CREATE"):
        h = _populated(reg)
        for call in LEGAL_CALLS.values():
            call(reg, h)
        sub = reg.ZwOpenKey("Sub", nt.KEY_ALL_ACCESS, root=h)
        reg.ZwDeleteKey(sub)
        reg.ZwClose(sub)  # ZwClose after ZwDeleteKey is required, not a violation
        reg.ZwClose(h)
    assert reg.violations == []


@pytest.mark.parametrize("call", [*sorted(LEGAL_CALLS), "ZwDeleteKey", "ZwClose"])
def test_zwregistrycreate_call_after_zwclose_is_a_violation(reg, call):
    h = _populated(reg)
    reg.ZwClose(h)
    fn = (
        LEGAL_CALLS.get(call)
        or {
            "ZwDeleteKey": lambda r, x: r.ZwDeleteKey(x),
            "ZwClose": lambda r, x: r.ZwClose(x),
        }[call]
    )
    with pytest.raises(nt.NtStatusError) as err:
        fn(reg, h)
    assert err.value.status == nt.STATUS_INVALID_HANDLE
    [v] = reg.violations
    assert (v.rule, v.kind, v.call, v.handle) == ("ZwRegistryCreate", "use-after-close", call, h)
    assert v.path == r"\REGISTRY\MACHINE\TEST\Key"


@pytest.mark.parametrize("call", [*sorted(LEGAL_CALLS), "ZwDeleteKey"])
def test_zwregistrycreate_call_after_zwdeletekey_is_a_violation(reg, call):
    h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    reg.ZwDeleteKey(h)
    fn = LEGAL_CALLS.get(call) or (lambda r, x: r.ZwDeleteKey(x))
    with pytest.raises(nt.NtStatusError) as err:
        fn(reg, h)
    assert err.value.status == nt.STATUS_KEY_DELETED  # the handle is still open
    [v] = reg.violations
    assert (v.kind, v.call) == ("use-after-close", call)
    reg.ZwClose(h)
    assert len(reg.violations) == 1


def test_zwregistrycreate_second_zwcreatekey_of_a_held_key_is_a_violation(reg):
    h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    h2, disp = reg.ZwCreateKey(KEY, nt.KEY_READ)
    assert disp == nt.REG_OPENED_EXISTING_KEY
    [v] = reg.violations
    assert (v.rule, v.kind, v.call, v.handle) == (
        "ZwRegistryCreate",
        "second-open",
        "ZwCreateKey",
        h,
    )
    reg.ZwClose(h2)
    reg.ZwClose(h)


def test_zwregistryopen_second_zwopenkey_of_a_held_key_is_a_violation(reg):
    h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    reg.ZwClose(h)
    a = reg.ZwOpenKey(KEY, nt.KEY_READ)
    # the same key reached through another name (relative to a root) still counts
    root = reg.ZwOpenKey(ROOT, nt.KEY_READ)
    b = reg.ZwOpenKey("KEY", nt.KEY_READ, root=root)
    [v] = reg.violations
    assert (v.rule, v.kind, v.call, v.handle) == ("ZwRegistryOpen", "second-open", "ZwOpenKey", a)
    for x in (a, b, root):
        reg.ZwClose(x)


def test_zwregistryopen_reopening_after_close_is_silent(reg):
    h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    reg.ZwClose(h)
    for _ in range(3):
        h = reg.ZwOpenKey(KEY, nt.KEY_READ)
        reg.ZwClose(h)
    assert reg.violations == []


def test_zwregistryopen_second_open_from_another_thread_of_the_same_driver(reg):
    """The rule is about the driver, not the thread (nt-api/001: "the driver" must not
    open a key it already holds): a worker thread of the same caller is flagged."""
    h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    got: list[int] = []
    t = threading.Thread(target=lambda: got.append(reg.ZwOpenKey(KEY, nt.KEY_READ)))
    t.start()
    t.join()
    assert [v.kind for v in reg.violations] == ["second-open"]
    assert reg.violations[0].rule == "ZwRegistryOpen"
    reg.ZwClose(got[0])
    reg.ZwClose(h)


def test_zwregistryopen_other_callers_holding_the_key_do_not_count(reg):
    """Handles are tracked per caller (``with reg.caller(name)``, per thread): another
    driver holding the key does not make this driver's open a second open (nt-api/001)."""
    with reg.caller("DriverA"):
        h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    got: list[int] = []

    def driver_b() -> None:
        with reg.caller("DriverB"):
            got.append(reg.ZwOpenKey(KEY, nt.KEY_READ))

    t = threading.Thread(target=driver_b)
    t.start()
    t.join()
    assert reg.violations == []
    with reg.caller("DriverA"):  # but DriverA again, from any thread, is flagged
        h2 = reg.ZwOpenKey(KEY, nt.KEY_READ)
    assert [v.kind for v in reg.violations] == ["second-open"]
    for x in (got[0], h, h2):
        reg.ZwClose(x)


def test_zwregistrycreate_returning_from_dispatch_while_holding_a_handle_is_a_violation(reg):
    with reg.dispatch("IRP_MJ_DEVICE_CONTROL"):
        h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    [v] = reg.violations
    assert (v.kind, v.call, v.handle) == ("handle-leak", "IRP_MJ_DEVICE_CONTROL", h)
    reg.ZwClose(h)


def test_zwregistrycreate_handles_opened_before_the_dispatch_routine_are_not_leaks(reg):
    outer, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)  # e.g. opened in DriverEntry
    with reg.dispatch():
        inner, _ = reg.ZwCreateKey("Inner", nt.KEY_ALL_ACCESS, root=outer)
        reg.ZwClose(inner)
    assert reg.violations == []
    reg.ZwClose(outer)


def test_zwregistrycreate_rule_does_not_check_that_a_closed_handle_was_opened(reg):
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwClose(0x7FF0)
    assert err.value.status == nt.STATUS_INVALID_HANDLE
    assert reg.violations == []


def test_verifier_strict_mode_raises_on_each_rule(strict):
    h, _ = strict.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    with pytest.raises(nt.VerifierError) as err:
        strict.ZwOpenKey(KEY, nt.KEY_READ)
    assert err.value.violation.kind == "second-open"
    assert strict.open_handles() == [h]  # no handle handed out
    strict.ZwClose(h)
    with pytest.raises(nt.VerifierError) as err:
        strict.ZwQueryKey(h, nt.KeyBasicInformation)
    assert err.value.violation.kind == "use-after-close"
    with pytest.raises(nt.VerifierError) as err, strict.dispatch("Dispatch"):
        h2, _ = strict.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    assert err.value.violation.kind == "handle-leak"
    assert [v.kind for v in strict.violations] == ["second-open", "use-after-close", "handle-leak"]
    strict.ZwClose(h2)


def test_verifier_off_records_nothing(tmp_path):
    with nt.Registry(lazy_flush=None) as reg:
        reg.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
        with reg.dispatch():
            h, _ = reg.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
            reg.ZwOpenKey(KEY, 0)
            reg.ZwClose(h)
            _call_quietly(lambda: reg.ZwClose(h))
        assert reg.violations == []
