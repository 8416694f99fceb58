"""Registry filter callbacks ("Handling Notifications", nt-api/004): monitor, block,
modify (outputs and return status), bypass, for pre and post notifications; altitude
order; exceptions never leave the hive half-changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from regf import nt

ROOT = r"\Registry\Machine\TEST"
KEY = ROOT + r"\Key"
N = nt.REG_NOTIFY_CLASS


@pytest.fixture
def reg(tmp_path) -> nt.Registry:
    r = nt.Registry(lazy_flush=None)
    r.load_hive(ROOT, tmp_path / "t.hiv", create_new=True)
    h, _ = r.ZwCreateKey(KEY, nt.KEY_ALL_ACCESS)
    r.ZwSetValueKey(h, "Existing", nt.REG_BINARY, b"old")
    sub, _ = r.ZwCreateKey("Sub", nt.KEY_ALL_ACCESS, root=h)
    r.ZwClose(sub)
    r.ZwClose(h)
    yield r
    if not r.closed:
        r.close()


@pytest.fixture
def key(reg) -> int:
    return reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)


class Recorder:
    """A callback that records notifications and answers from a table."""

    def __init__(self, answers: dict[N, int] | None = None, name: str = "") -> None:
        self.calls: list[tuple[N, Any]] = []
        self.answers = answers or {}
        self.name = name
        self.hook: Callable[[N, Any], int | None] | None = None

    def __call__(self, cls: N, info: Any) -> int:
        self.calls.append((cls, info))
        if self.hook is not None:
            answer = self.hook(cls, info)
            if answer is not None:
                return answer
        return self.answers.get(cls, nt.STATUS_SUCCESS)

    @property
    def classes(self) -> list[N]:
        return [c for c, _ in self.calls]


def _value(reg: nt.Registry, h: int, name: str) -> bytes | None:
    try:
        return bytes(reg.ZwQueryValueKey(h, name, nt.KeyValuePartialInformation).Data)
    except nt.NtStatusError as err:
        assert err.status == nt.STATUS_OBJECT_NAME_NOT_FOUND
        return None


#: (pre class, post class, the call on handle ``h`` of KEY, a check that it did not happen)
OPERATIONS: dict[str, tuple[N, N, Callable[[nt.Registry, int], object]]] = {
    "SetValueKey": (
        N.RegNtPreSetValueKey,
        N.RegNtPostSetValueKey,
        lambda r, h: r.ZwSetValueKey(h, "New", nt.REG_BINARY, b"x"),
    ),
    "DeleteValueKey": (
        N.RegNtPreDeleteValueKey,
        N.RegNtPostDeleteValueKey,
        lambda r, h: r.ZwDeleteValueKey(h, "Existing"),
    ),
    "QueryValueKey": (
        N.RegNtPreQueryValueKey,
        N.RegNtPostQueryValueKey,
        lambda r, h: r.ZwQueryValueKey(h, "Existing", nt.KeyValuePartialInformation),
    ),
    "EnumerateValueKey": (
        N.RegNtPreEnumerateValueKey,
        N.RegNtPostEnumerateValueKey,
        lambda r, h: r.ZwEnumerateValueKey(h, 0, nt.KeyValueBasicInformation),
    ),
    "QueryKey": (
        N.RegNtPreQueryKey,
        N.RegNtPostQueryKey,
        lambda r, h: r.ZwQueryKey(h, nt.KeyFullInformation),
    ),
    "EnumerateKey": (
        N.RegNtPreEnumerateKey,
        N.RegNtPostEnumerateKey,
        lambda r, h: r.ZwEnumerateKey(h, 0, nt.KeyBasicInformation),
    ),
    "CreateKeyEx": (
        N.RegNtPreCreateKeyEx,
        N.RegNtPostCreateKeyEx,
        lambda r, h: r.ZwCreateKey("NewSub", nt.KEY_ALL_ACCESS, root=h),
    ),
    "OpenKeyEx": (
        N.RegNtPreOpenKeyEx,
        N.RegNtPostOpenKeyEx,
        lambda r, h: r.ZwOpenKey("Sub", nt.KEY_READ, root=h),
    ),
    "DeleteKey": (
        N.RegNtPreDeleteKey,
        N.RegNtPostDeleteKey,
        lambda r, h: r.ZwDeleteKey(r.ZwOpenKey("Sub", nt.DELETE, root=h)),
    ),
    "RenameKey": (
        N.RegNtPreRenameKey,
        N.RegNtPostRenameKey,
        lambda r, h: r.ZwRenameKey(r.ZwOpenKey("Sub", nt.KEY_WRITE, root=h), "Renamed"),
    ),
    "FlushKey": (N.RegNtPreFlushKey, N.RegNtPostFlushKey, lambda r, h: r.ZwFlushKey(h)),
    "QueryKeySecurity": (
        N.RegNtPreQueryKeySecurity,
        N.RegNtPostQueryKeySecurity,
        lambda r, h: r.ZwQuerySecurityObject(h, nt.OWNER_SECURITY_INFORMATION),
    ),
    "SetKeySecurity": (
        N.RegNtPreSetKeySecurity,
        N.RegNtPostSetKeySecurity,
        lambda r, h: r.ZwSetSecurityObject(
            h,
            nt.DACL_SECURITY_INFORMATION,
            r.ZwQuerySecurityObject(h, nt.DACL_SECURITY_INFORMATION),
        ),
    ),
}


def _state(reg: nt.Registry) -> tuple[Any, ...]:
    """Everything an operation above could change."""
    h = reg.ZwOpenKey(KEY, nt.KEY_ALL_ACCESS)
    subs = []
    i = 0
    while True:
        try:
            subs.append(reg.ZwEnumerateKey(h, i, nt.KeyBasicInformation).Name)
        except nt.NtStatusError:
            break
        i += 1
    vals = []
    i = 0
    while True:
        try:
            v = reg.ZwEnumerateValueKey(h, i, nt.KeyValueFullInformation)
        except nt.NtStatusError:
            break
        vals.append((v.Name, v.Type, v.Data))
        i += 1
    sd = reg.ZwQuerySecurityObject(h, 0xF & ~nt.SACL_SECURITY_INFORMATION)
    reg.ZwClose(h)
    return tuple(subs), tuple(vals), sd


# ---------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------


def test_notifications_monitoring_callback_sees_pre_and_post_and_the_operation_runs(reg, key):
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "320000")
    reg.ZwSetValueKey(key, "Mon", nt.REG_DWORD, b"\1\0\0\0")
    assert rec.classes == [N.RegNtPreSetValueKey, N.RegNtPostSetValueKey]
    pre = rec.calls[0][1]
    assert isinstance(pre, nt.REG_SET_VALUE_KEY_INFORMATION)
    assert (pre.ValueName, pre.Type, pre.Data, pre.DataSize) == ("Mon", 4, b"\1\0\0\0", 4)
    assert pre.Object.name == r"\REGISTRY\MACHINE\TEST\Key"
    post = rec.calls[1][1]
    assert isinstance(post, nt.REG_POST_OPERATION_INFORMATION)
    assert post.Status == nt.STATUS_SUCCESS and post.PreInformation is pre
    assert post.Object is pre.Object
    assert _value(reg, key, "Mon") == b"\1\0\0\0"


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_notifications_every_operation_has_pre_and_post_notifications(reg, key, op):
    pre, post, call = OPERATIONS[op]
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "1000")
    call(reg, key)
    assert pre in rec.classes and post in rec.classes
    assert rec.classes.index(pre) < rec.classes.index(post)


def test_notifications_create_key_information_members(reg, key):
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "1000")
    h, disp = reg.ZwCreateKey(
        "Made", nt.KEY_READ, root=key, class_name="Cls", create_options=nt.REG_OPTION_VOLATILE
    )
    pre = rec.calls[0][1]
    assert isinstance(pre, nt.REG_CREATE_KEY_INFORMATION)
    assert (pre.CompleteName, pre.Class, pre.CreateOptions, pre.DesiredAccess) == (
        "Made",
        "Cls",
        nt.REG_OPTION_VOLATILE,
        nt.KEY_READ,
    )
    assert pre.RootObject.name == r"\REGISTRY\MACHINE\TEST\Key"
    post = rec.calls[1][1]
    assert post.PreInformation.Disposition == disp == nt.REG_CREATED_NEW_KEY
    assert post.Object is pre.ResultObject and post.Object.name.endswith(r"\Key\Made")
    reg.ZwClose(h)


# ---------------------------------------------------------------------------------------
# Blocking
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_notifications_failure_status_in_pre_blocks_with_that_status_and_no_post(reg, key, op):
    pre, post, call = OPERATIONS[op]
    before = _state(reg)
    rec = Recorder({pre: nt.STATUS_ACCESS_DENIED})
    cookie = reg.CmRegisterCallbackEx(rec, "1000")
    handles = reg.open_handles()
    with pytest.raises(nt.NtStatusError) as err:
        call(reg, key)
    assert err.value.status == nt.STATUS_ACCESS_DENIED
    assert post not in rec.classes
    reg.CmUnRegisterCallback(cookie)
    assert _state(reg) == before
    if op not in ("DeleteKey", "RenameKey"):  # those open a helper handle first
        assert reg.open_handles() == handles


def test_notifications_driver_specific_failure_status_reaches_the_caller(reg, key):
    reg.CmRegisterCallbackEx(Recorder({N.RegNtPreSetValueKey: 0xE0001234}), "1000")
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwSetValueKey(key, "X", nt.REG_BINARY, b"1")
    assert int(err.value.status) == 0xE0001234
    # a warning (NT_SUCCESS false) blocks too
    reg2 = Recorder({N.RegNtPreDeleteValueKey: nt.STATUS_BUFFER_OVERFLOW})
    reg.CmRegisterCallbackEx(reg2, "2000")
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwDeleteValueKey(key, "Existing")
    assert err.value.status == nt.STATUS_BUFFER_OVERFLOW
    assert _value(reg, key, "Existing") == b"old"


def test_notifications_informational_status_in_pre_does_not_block(reg, key):
    reg.CmRegisterCallbackEx(Recorder({N.RegNtPreSetValueKey: nt.STATUS_REPARSE}), "1000")
    reg.ZwSetValueKey(key, "Info", nt.REG_BINARY, b"1")
    assert _value(reg, key, "Info") == b"1"


# ---------------------------------------------------------------------------------------
# Bypass in pre
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op", ["SetValueKey", "DeleteValueKey", "DeleteKey", "RenameKey", "SetKeySecurity"]
)
def test_notifications_bypass_in_pre_returns_success_without_processing_or_post(reg, key, op):
    pre, post, call = OPERATIONS[op]
    before = _state(reg)
    rec = Recorder({pre: nt.STATUS_CALLBACK_BYPASS})
    cookie = reg.CmRegisterCallbackEx(rec, "1000")
    call(reg, key)  # no exception: the caller gets STATUS_SUCCESS
    assert post not in rec.classes
    reg.CmUnRegisterCallback(cookie)
    assert _state(reg) == before


def test_notifications_bypass_in_pre_returns_the_callbacks_output_values(reg, key):
    fake = nt.KEY_VALUE_PARTIAL_INFORMATION.make(nt.REG_SZ, "fake\0".encode("utf-16-le"))

    def handle_it(cls: N, info: Any) -> int | None:
        if cls == N.RegNtPreQueryValueKey:
            info.KeyValueInformation = fake
            info.ResultLength = fake.result_length
            return nt.STATUS_CALLBACK_BYPASS
        return None

    rec = Recorder()
    rec.hook = handle_it
    reg.CmRegisterCallbackEx(rec, "1000")
    # Even a value that does not exist: the callback handled the call completely.
    got = reg.ZwQueryValueKey(key, "NoSuchValue", nt.KeyValuePartialInformation)
    assert got is fake
    assert rec.classes == [N.RegNtPreQueryValueKey]


def test_notifications_bypass_of_create_can_redirect_to_another_key(reg, key):
    def redirect(cls: N, info: Any) -> int | None:
        if cls == N.RegNtPreOpenKeyEx and info.CompleteName == "Wanted":
            h = reg.ZwOpenKey(KEY + r"\Sub", 0)  # re-entrant call from the callback
            info.ResultObject = reg.ObReferenceObjectByHandle(h)
            info.Disposition = nt.REG_OPENED_EXISTING_KEY
            reg.ZwClose(h)
            return nt.STATUS_CALLBACK_BYPASS
        return None

    rec = Recorder()
    rec.hook = redirect
    reg.CmRegisterCallbackEx(rec, "1000")
    h = reg.ZwOpenKey("Wanted", nt.KEY_READ, root=key)
    assert reg.ZwQueryKey(h, nt.KeyNameInformation).Name == r"\REGISTRY\MACHINE\TEST\Key\Sub"
    posts = [i.PreInformation.CompleteName for c, i in rec.calls if c == N.RegNtPostOpenKeyEx]
    assert posts == [KEY + r"\Sub"]  # only the callback's own open; none for "Wanted"
    reg.ZwClose(h)


def test_notifications_bypass_of_create_without_a_result_object_is_refused(reg, key):
    reg.CmRegisterCallbackEx(Recorder({N.RegNtPreCreateKeyEx: nt.STATUS_CALLBACK_BYPASS}), "1")
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwCreateKey("X", nt.KEY_READ, root=key)
    assert err.value.status == nt.STATUS_INVALID_PARAMETER


# ---------------------------------------------------------------------------------------
# Modifying in post
# ---------------------------------------------------------------------------------------


def test_notifications_post_may_modify_output_parameters(reg, key):
    def modify(cls: N, info: Any) -> int | None:
        if cls == N.RegNtPostQueryValueKey:
            pre = info.PreInformation
            pre.KeyValueInformation = nt.KEY_VALUE_PARTIAL_INFORMATION.make(
                nt.REG_BINARY, b"censored"
            )
        if cls == N.RegNtPostEnumerateKey:
            pre = info.PreInformation
            pre.KeyInformation = nt.KEY_BASIC_INFORMATION.make(0, "Hidden")
        return None

    rec = Recorder()
    rec.hook = modify
    reg.CmRegisterCallbackEx(rec, "1000")
    assert reg.ZwQueryValueKey(key, "Existing", nt.KeyValuePartialInformation).Data == b"censored"
    assert reg.ZwEnumerateKey(key, 0, nt.KeyBasicInformation).Name == "Hidden"


def test_notifications_post_may_change_success_into_failure_with_bypass(reg, key):
    def deny(cls: N, info: Any) -> int | None:
        if cls == N.RegNtPostSetValueKey:
            info.ReturnStatus = nt.STATUS_ACCESS_DENIED
            return nt.STATUS_CALLBACK_BYPASS
        return None

    rec = Recorder()
    rec.hook = deny
    reg.CmRegisterCallbackEx(rec, "1000")
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwSetValueKey(key, "Late", nt.REG_BINARY, b"1")
    assert err.value.status == nt.STATUS_ACCESS_DENIED
    # The operation itself completed before the post notification (never half done).
    assert _value(reg, key, "Late") == b"1"


def test_notifications_post_changing_create_to_failure_leaks_no_handle(reg, key):
    def deny(cls: N, info: Any) -> int | None:
        if cls == N.RegNtPostCreateKeyEx:
            info.ReturnStatus = nt.STATUS_ACCESS_DENIED
            return nt.STATUS_CALLBACK_BYPASS
        return None

    rec = Recorder()
    rec.hook = deny
    reg.CmRegisterCallbackEx(rec, "1000")
    before = reg.open_handles()
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwCreateKey("Denied", nt.KEY_ALL_ACCESS, root=key)
    assert err.value.status == nt.STATUS_ACCESS_DENIED
    assert reg.open_handles() == before


def test_notifications_post_may_change_failure_into_success_with_outputs(reg, key):
    def rescue(cls: N, info: Any) -> int | None:
        if cls == N.RegNtPostQueryValueKey and info.Status == nt.STATUS_OBJECT_NAME_NOT_FOUND:
            info.PreInformation.KeyValueInformation = nt.KEY_VALUE_PARTIAL_INFORMATION.make(
                nt.REG_DWORD, b"\0\0\0\0"
            )
            info.ReturnStatus = nt.STATUS_SUCCESS
            return nt.STATUS_CALLBACK_BYPASS
        return None

    rec = Recorder()
    rec.hook = rescue
    reg.CmRegisterCallbackEx(rec, "1000")
    got = reg.ZwQueryValueKey(key, "Missing", nt.KeyValuePartialInformation)
    assert (got.Type, got.Data) == (nt.REG_DWORD, b"\0\0\0\0")


def test_notifications_post_sees_the_failure_status_of_the_operation(reg, key):
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "1000")
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryValueKey(key, "Missing", nt.KeyValuePartialInformation)
    assert err.value.status == nt.STATUS_OBJECT_NAME_NOT_FOUND
    post = rec.calls[-1][1]
    assert post.Status == nt.STATUS_OBJECT_NAME_NOT_FOUND


def test_notifications_post_return_value_other_than_bypass_is_ignored(reg, key):
    reg.CmRegisterCallbackEx(Recorder({N.RegNtPostSetValueKey: nt.STATUS_ACCESS_DENIED}), "1")
    reg.ZwSetValueKey(key, "Kept", nt.REG_BINARY, b"1")
    assert _value(reg, key, "Kept") == b"1"


def test_notifications_post_buffer_overflow_carries_partial_output(reg, key):
    rec = Recorder()
    reg.CmRegisterCallbackEx(rec, "1000")
    with pytest.raises(nt.NtStatusError) as err:
        reg.ZwQueryValueKey(key, "Existing", nt.KeyValuePartialInformation, length=13)
    post = rec.calls[-1][1]
    assert post.Status == err.value.status == nt.STATUS_BUFFER_OVERFLOW
    assert post.PreInformation.ResultLength == 15
    assert post.PreInformation.KeyValueInformation.Data == b"o"


# ---------------------------------------------------------------------------------------
# Altitudes, registration
# ---------------------------------------------------------------------------------------


def test_notifications_callbacks_run_in_altitude_order(reg, key):
    order: list[str] = []

    def make(name: str) -> Callable[[N, Any], int]:
        def cb(cls: N, info: Any) -> int:
            if cls in (N.RegNtPreSetValueKey, N.RegNtPostSetValueKey):
                order.append(f"{name}:{'pre' if cls == N.RegNtPreSetValueKey else 'post'}")
            return nt.STATUS_SUCCESS

        return cb

    reg.CmRegisterCallbackEx(make("mid"), "320000")
    reg.CmRegisterCallbackEx(make("low"), "50.5")
    reg.CmRegisterCallbackEx(make("high"), "385200")
    reg.ZwSetValueKey(key, "Order", nt.REG_BINARY, b"1")
    # Highest altitude is nearest the caller: first to see pre, last to see post.
    assert order == ["high:pre", "mid:pre", "low:pre", "low:post", "mid:post", "high:post"]


def test_notifications_block_at_a_high_altitude_hides_the_call_from_lower_ones(reg, key):
    low, high = Recorder(), Recorder({N.RegNtPreSetValueKey: nt.STATUS_ACCESS_DENIED})
    reg.CmRegisterCallbackEx(low, "100")
    reg.CmRegisterCallbackEx(high, "200")
    with pytest.raises(nt.NtStatusError):
        reg.ZwSetValueKey(key, "X", nt.REG_BINARY, b"1")
    assert low.calls == [] and high.classes == [N.RegNtPreSetValueKey]


def test_notifications_post_override_is_seen_by_higher_callbacks(reg, key):
    high = Recorder()

    def deny(cls: N, info: Any) -> int | None:
        if cls == N.RegNtPostSetValueKey:
            info.ReturnStatus = nt.STATUS_ACCESS_DENIED
            return nt.STATUS_CALLBACK_BYPASS
        return None

    low = Recorder()
    low.hook = deny
    reg.CmRegisterCallbackEx(low, "100")
    reg.CmRegisterCallbackEx(high, "200")
    with pytest.raises(nt.NtStatusError):
        reg.ZwSetValueKey(key, "X", nt.REG_BINARY, b"1")
    assert high.calls[-1][1].Status == nt.STATUS_ACCESS_DENIED


def test_cmregistercallbackex_altitudes_are_decimal_strings_and_unique(reg):
    reg.CmRegisterCallbackEx(Recorder(), "320000")
    with pytest.raises(nt.NtStatusError) as err:
        reg.CmRegisterCallbackEx(Recorder(), "320000.0")  # the same altitude
    assert err.value.status == nt.STATUS_FLT_INSTANCE_ALTITUDE_COLLISION
    for bad in (320000, "", "abc", "-5", "1.2.3", " 7", "1e5"):
        with pytest.raises(nt.NtStatusError) as err:
            reg.CmRegisterCallbackEx(Recorder(), bad)  # type: ignore[arg-type]
        assert err.value.status == nt.STATUS_INVALID_PARAMETER


def test_cmunregistercallback_stops_notifications(reg, key):
    rec = Recorder()
    cookie = reg.CmRegisterCallbackEx(rec, "1000")
    reg.CmUnRegisterCallback(cookie)
    reg.ZwSetValueKey(key, "X", nt.REG_BINARY, b"1")
    assert rec.calls == []
    with pytest.raises(nt.NtStatusError) as err:
        reg.CmUnRegisterCallback(cookie)
    assert err.value.status == nt.STATUS_INVALID_PARAMETER


def test_notifications_handle_close_cannot_be_blocked(reg, key):
    rec = Recorder({N.RegNtPreKeyHandleClose: nt.STATUS_ACCESS_DENIED})
    reg.CmRegisterCallbackEx(rec, "1000")
    reg.ZwClose(key)
    assert key not in reg.open_handles()
    assert rec.classes == [N.RegNtPreKeyHandleClose, N.RegNtPostKeyHandleClose]


def test_notifications_object_context_is_passed_and_cleaned_up(reg, key):
    rec = Recorder()
    cookie = reg.CmRegisterCallbackEx(rec, "1000")
    obj = reg.ObReferenceObjectByHandle(key)
    assert reg.CmSetCallbackObjectContext(obj, cookie, "ctx") is None
    reg.ZwSetValueKey(key, "X", nt.REG_BINARY, b"1")
    assert rec.calls[0][1].ObjectContext == "ctx"
    assert reg.CmCallbackGetKeyObjectID(cookie, obj)[1] == r"\REGISTRY\MACHINE\TEST\Key"
    reg.ZwClose(key)
    assert rec.classes[-1] == N.RegNtCallbackObjectContextCleanup
    assert rec.calls[-1][1].ObjectContext == "ctx"


# ---------------------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_callback_exception_in_pre_leaves_the_hive_unchanged(reg, key, op):
    pre, _, call = OPERATIONS[op]
    before = _state(reg)

    def explode(cls: N, info: Any) -> int | None:
        if cls == pre:
            raise Boom(op)
        return None

    rec = Recorder()
    rec.hook = explode
    cookie = reg.CmRegisterCallbackEx(rec, "1000")
    with pytest.raises(Boom):
        call(reg, key)
    reg.CmUnRegisterCallback(cookie)
    assert _state(reg) == before


@pytest.mark.parametrize("op", ["SetValueKey", "DeleteValueKey", "CreateKeyEx", "RenameKey"])
def test_callback_exception_in_post_leaves_the_operation_complete(reg, key, op):
    _, post, call = OPERATIONS[op]
    before = _state(reg)
    handles = set(reg.open_handles())

    def explode(cls: N, info: Any) -> int | None:
        if cls == post:
            raise Boom(op)
        return None

    rec = Recorder()
    rec.hook = explode
    cookie = reg.CmRegisterCallbackEx(rec, "1000")
    with pytest.raises(Boom):
        call(reg, key)
    reg.CmUnRegisterCallback(cookie)
    after = _state(reg)
    assert after != before  # the change is whole...
    subs, vals, _ = after
    if op == "SetValueKey":
        assert ("New", nt.REG_BINARY, b"x") in vals
    elif op == "DeleteValueKey":
        assert vals == ()
    elif op == "CreateKeyEx":
        assert "NewSub" in subs
        assert set(reg.open_handles()) == handles  # ...and no handle was half handed out
    else:
        assert "Renamed" in subs and "Sub" not in subs
