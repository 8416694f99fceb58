"""The value calls: ZwSetValueKey, ZwDeleteValueKey, ZwQueryValueKey and
ZwEnumerateValueKey (nt-api/002 for ZwSetValueKey; the buffer protocol of the query
calls is :func:`regf.nt.infoclass.fit`). Functions of
:class:`~regf.nt.registry.Registry`, which delegates to them.

A symbolic link key (REG_OPTION_CREATE_LINK) holds only its REG_LINK
``SymbolicLinkValue``: any other value, or that value with another type, is
STATUS_ACCESS_DENIED, as the kernel answers, because it would break the link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._accel import upcase
from ..errors import InvalidArgumentError
from ..model.serialize import now_filetime
from . import constants as C
from . import infoclass as I
from . import store
from .callbacks import (
    REG_DELETE_VALUE_KEY_INFORMATION,
    REG_ENUMERATE_VALUE_KEY_INFORMATION,
    REG_QUERY_VALUE_KEY_INFORMATION,
    REG_SET_VALUE_KEY_INFORMATION,
)
from .constants import REG_NOTIFY_CLASS as N
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState

S = NTSTATUS


def _fail(status: NTSTATUS, message: str = "") -> NtStatusError:
    return NtStatusError(status, message)


def set_value_key(
    reg: RegistryState,
    handle: int,
    name: str | None,
    type: int,
    data: bytes | bytearray | memoryview | None,
    *,
    title_index: int = 0,
) -> None:
    """Create or replace the value ``name`` (None or "" is the default value) with
    ``data`` stored exactly as given (for REG_*SZ types include the terminator)."""
    with reg._lock:
        entry = reg._entry("ZwSetValueKey", handle, C.KEY_SET_VALUE)
        vname = name or ""
        if not isinstance(vname, str):
            raise _fail(S.STATUS_INVALID_PARAMETER, "value name must be str or None")
        if isinstance(type, bool) or not isinstance(type, int) or not 0 <= type <= 0xFFFFFFFF:
            raise _fail(S.STATUS_INVALID_PARAMETER, f"bad value type {type!r}")
        if data is None:
            data = b""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise _fail(S.STATUS_INVALID_PARAMETER, "data must be bytes")
        raw = bytes(data)
        obj = entry.obj
        info = REG_SET_VALUE_KEY_INFORMATION(
            Object=obj,
            ValueName=vname,
            TitleIndex=title_index,
            Type=type,
            Data=raw,
            DataSize=len(raw),
        )

        def op() -> NTSTATUS:
            kcb = reg._writable(reg._alive(obj.kcb))
            if not store.check_value_name(vname):
                raise _fail(S.STATUS_INVALID_PARAMETER, "value name too long")
            if store.is_link(kcb.key) and (
                upcase(vname) != upcase(C.SYMBOLIC_LINK_VALUE_NAME) or type != C.REG_LINK
            ):
                # A link key holds exactly one REG_LINK value, SymbolicLinkValue; the
                # kernel refuses anything else that would break the link.
                raise _fail(
                    S.STATUS_ACCESS_DENIED,
                    f"a link key takes only {C.SYMBOLIC_LINK_VALUE_NAME} as REG_LINK",
                )
            ts = now_filetime()
            key = kcb.key
            try:
                if isinstance(key, store.MemKey):
                    key.set_value(vname, type, raw, ts)
                else:
                    key.set_value(vname, raw, type, timestamp=ts)
            except InvalidArgumentError as exc:
                raise _fail(S.STATUS_INVALID_PARAMETER, str(exc)) from exc
            reg._dirty(kcb)
            reg._notify_change(kcb, C.REG_NOTIFY_CHANGE_LAST_SET)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreSetValueKey, N.RegNtPostSetValueKey, info, op)
        reg._raise_unless_success(status)


def delete_value_key(reg: RegistryState, handle: int, name: str | None) -> None:
    """Delete the value ``name`` (STATUS_OBJECT_NAME_NOT_FOUND if there is none)."""
    with reg._lock:
        entry = reg._entry("ZwDeleteValueKey", handle, C.KEY_SET_VALUE)
        vname = name or ""
        if not isinstance(vname, str):
            raise _fail(S.STATUS_INVALID_PARAMETER, "value name must be str or None")
        obj = entry.obj
        info = REG_DELETE_VALUE_KEY_INFORMATION(Object=obj, ValueName=vname)

        def op() -> NTSTATUS:
            kcb = reg._writable(reg._alive(obj.kcb))
            key = kcb.key
            ts = now_filetime()
            if isinstance(key, store.MemKey):
                found = key.delete_value(vname, ts)
            else:
                found = store.find_value(key, vname) is not None
                if found:
                    key.delete_value(vname, timestamp=ts)
            if not found:
                raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"no value {vname!r}")
            reg._dirty(kcb)
            reg._notify_change(kcb, C.REG_NOTIFY_CHANGE_LAST_SET)
            return S.STATUS_SUCCESS

        status = reg._with_callbacks(N.RegNtPreDeleteValueKey, N.RegNtPostDeleteValueKey, info, op)
        reg._raise_unless_success(status)


def query_value_key(
    reg: RegistryState,
    handle: int,
    name: str | None,
    info_class: int,
    length: int | None = None,
) -> I.InfoStruct:
    """The value ``name`` as a KEY_VALUE_*_INFORMATION structure.

    With ``length`` the buffer protocol applies: STATUS_BUFFER_TOO_SMALL (no data) or
    STATUS_BUFFER_OVERFLOW (partial data in the error's ``info``), both with
    ``result_length``.
    """
    with reg._lock:
        cls = value_class(info_class)
        length = I.check_length(length)
        entry = reg._entry("ZwQueryValueKey", handle, C.KEY_QUERY_VALUE)
        vname = name or ""
        if not isinstance(vname, str):
            raise _fail(S.STATUS_INVALID_PARAMETER, "value name must be str or None")
        obj = entry.obj
        info = REG_QUERY_VALUE_KEY_INFORMATION(
            Object=obj, ValueName=vname, KeyValueInformationClass=cls, Length=length
        )

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            hit = store.find_value(kcb.key, vname)
            if hit is None:
                raise _fail(S.STATUS_OBJECT_NAME_NOT_FOUND, f"no value {vname!r}")
            full = _value_info(cls, *hit)
            status, out = I.fit(full, length)
            info.KeyValueInformation, info.ResultLength = out, full.result_length
            return status

        status = reg._with_callbacks(N.RegNtPreQueryValueKey, N.RegNtPostQueryValueKey, info, op)
        reg._raise_unless_success(status, info, "KeyValueInformation")
        result: I.InfoStruct = info.KeyValueInformation
        return result


def enumerate_value_key(
    reg: RegistryState,
    handle: int,
    index: int,
    info_class: int,
    length: int | None = None,
) -> I.InfoStruct:
    """The ``index``-th value (stored order); STATUS_NO_MORE_ENTRIES past the end."""
    with reg._lock:
        cls = value_class(info_class)
        length = I.check_length(length)
        entry = reg._entry("ZwEnumerateValueKey", handle, C.KEY_QUERY_VALUE)
        obj = entry.obj
        info = REG_ENUMERATE_VALUE_KEY_INFORMATION(
            Object=obj, Index=index, KeyValueInformationClass=cls, Length=length
        )

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            vals = store.value_list(kcb.key)
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise _fail(S.STATUS_INVALID_PARAMETER, f"bad index {index!r}")
            if index >= len(vals):
                raise _fail(S.STATUS_NO_MORE_ENTRIES, f"index {index} of {len(vals)}")
            full = _value_info(cls, *vals[index])
            status, out = I.fit(full, length)
            info.KeyValueInformation, info.ResultLength = out, full.result_length
            return status

        status = reg._with_callbacks(
            N.RegNtPreEnumerateValueKey, N.RegNtPostEnumerateValueKey, info, op
        )
        reg._raise_unless_success(status, info, "KeyValueInformation")
        result: I.InfoStruct = info.KeyValueInformation
        return result


def value_class(info_class: int) -> C.KEY_VALUE_INFORMATION_CLASS:
    try:
        cls = C.KEY_VALUE_INFORMATION_CLASS(info_class)
    except ValueError:
        raise _fail(
            S.STATUS_INVALID_PARAMETER, f"bad value information class {info_class!r}"
        ) from None
    if cls not in _VALUE_BUILDERS:
        raise _fail(S.STATUS_INVALID_PARAMETER, f"{cls.name} is not supported")
    return cls


_VALUE_BUILDERS: dict[C.KEY_VALUE_INFORMATION_CLASS, Callable[[str, int, bytes], I.InfoStruct]] = {
    C.KeyValueBasicInformation: lambda n, t, d: I.KEY_VALUE_BASIC_INFORMATION.make(t, n),
    C.KeyValueFullInformation: lambda n, t, d: I.KEY_VALUE_FULL_INFORMATION.make(t, n, d),
    C.KeyValueFullInformationAlign64: lambda n, t, d: I.KEY_VALUE_FULL_INFORMATION.make(t, n, d),
    C.KeyValuePartialInformation: lambda n, t, d: I.KEY_VALUE_PARTIAL_INFORMATION.make(t, d),
    C.KeyValuePartialInformationAlign64: (
        lambda n, t, d: I.KEY_VALUE_PARTIAL_INFORMATION_ALIGN64.make(t, d)
    ),
}


def _value_info(
    cls: C.KEY_VALUE_INFORMATION_CLASS, name: str, vtype: int, data: bytes
) -> I.InfoStruct:
    return _VALUE_BUILDERS[cls](name, vtype, data)


__all__ = [
    "delete_value_key",
    "enumerate_value_key",
    "query_value_key",
    "set_value_key",
    "value_class",
]
