"""ZwQueryKey and ZwEnumerateKey: the KEY_*_INFORMATION classes 0-9 (layouts and buffer
protocol in :mod:`regf.nt.infoclass`; wdm.h KEY_INFORMATION_CLASS, ZwQueryKey,
ZwEnumerateKey; nt-api/003 for KEY_FULL_INFORMATION). Functions of
:class:`~regf.nt.registry.Registry`, which delegates to them.

Class 10 (MaxKeyInfoClass) and up are STATUS_INVALID_PARAMETER; ZwEnumerateKey takes
only Basic, Node and Full. KeyNameInformation and KeyHandleTagsInformation (the handle's
own tags) need no access; the others KEY_QUERY_VALUE (ZwEnumerateKey
KEY_ENUMERATE_SUB_KEYS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import constants as C
from . import infoclass as I
from . import store
from .callbacks import REG_ENUMERATE_KEY_INFORMATION, REG_QUERY_KEY_INFORMATION
from .constants import REG_NOTIFY_CLASS as N
from .namespace import Kcb
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState, _Handle

S = NTSTATUS


def _fail(status: NTSTATUS, message: str = "") -> NtStatusError:
    return NtStatusError(status, message)


def query_key(
    reg: RegistryState, handle: int, info_class: int, length: int | None = None
) -> I.InfoStruct:
    """Information about the key as a KEY_*_INFORMATION structure (Basic, Node, Full,
    Name, Cached); ``length`` follows the buffer protocol (see ZwQueryValueKey)."""
    with reg._lock:
        cls = key_class(info_class, enumerate_=False)
        length = I.check_length(length)
        # KeyNameInformation and the handle's own tags need no access on the key.
        need = 0 if cls in (C.KeyNameInformation, C.KeyHandleTagsInformation) else C.KEY_QUERY_VALUE
        entry = reg._entry("ZwQueryKey", handle, need)
        obj = entry.obj
        info = REG_QUERY_KEY_INFORMATION(Object=obj, KeyInformationClass=cls, Length=length)

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            full = key_info(cls, kcb, kcb.key, kcb.name, entry)
            status, out = I.fit(full, length)
            info.KeyInformation, info.ResultLength = out, full.result_length
            return status

        status = reg._with_callbacks(N.RegNtPreQueryKey, N.RegNtPostQueryKey, info, op)
        reg._raise_unless_success(status, info, "KeyInformation")
        result: I.InfoStruct = info.KeyInformation
        return result


def enumerate_key(
    reg: RegistryState, handle: int, index: int, info_class: int, length: int | None = None
) -> I.InfoStruct:
    """The ``index``-th subkey (stable ones in Windows order, then volatile ones) as
    KEY_BASIC/NODE/FULL_INFORMATION; STATUS_NO_MORE_ENTRIES past the end."""
    with reg._lock:
        cls = key_class(info_class, enumerate_=True)
        length = I.check_length(length)
        entry = reg._entry("ZwEnumerateKey", handle, C.KEY_ENUMERATE_SUB_KEYS)
        obj = entry.obj
        info = REG_ENUMERATE_KEY_INFORMATION(
            Object=obj, Index=index, KeyInformationClass=cls, Length=length
        )

        def op() -> NTSTATUS:
            kcb = reg._alive(obj.kcb)
            if isinstance(index, bool) or not isinstance(index, int) or index < 0:
                raise _fail(S.STATUS_INVALID_PARAMETER, f"bad index {index!r}")
            subs = reg._ns.subkeys(kcb)
            if index >= len(subs):
                raise _fail(S.STATUS_NO_MORE_ENTRIES, f"index {index} of {len(subs)}")
            raw = subs[index]
            child = reg._ns.kcb_for(kcb, raw)
            key = child.key if child is not None else raw
            full = key_info(cls, child, key, store.key_name(raw))
            status, out = I.fit(full, length)
            info.KeyInformation, info.ResultLength = out, full.result_length
            return status

        status = reg._with_callbacks(N.RegNtPreEnumerateKey, N.RegNtPostEnumerateKey, info, op)
        reg._raise_unless_success(status, info, "KeyInformation")
        result: I.InfoStruct = info.KeyInformation
        return result


def key_class(info_class: int, *, enumerate_: bool) -> C.KEY_INFORMATION_CLASS:
    try:
        cls = C.KEY_INFORMATION_CLASS(info_class)
    except ValueError:
        raise _fail(
            S.STATUS_INVALID_PARAMETER, f"bad key information class {info_class!r}"
        ) from None
    if cls == C.KEY_INFORMATION_CLASS.MaxKeyInfoClass:
        raise _fail(S.STATUS_INVALID_PARAMETER, f"bad key information class {info_class!r}")
    if enumerate_ and cls not in I.ENUMERATE_KEY_CLASSES:
        raise _fail(S.STATUS_INVALID_PARAMETER, f"ZwEnumerateKey does not take {cls.name}")
    if cls not in _KEY_CLASSES:
        raise _fail(S.STATUS_NOT_IMPLEMENTED, f"{cls.name} is not implemented")
    return cls


def key_info(
    cls: C.KEY_INFORMATION_CLASS,
    kcb: Kcb | None,
    key: Any,
    name: str,
    entry: _Handle | None = None,
) -> I.InfoStruct:
    small = _small_key_info(cls, key, entry)
    if small is not None:
        return small
    lw = store.last_written(key)
    if cls == C.KeyBasicInformation:
        return I.KEY_BASIC_INFORMATION.make(lw, name)
    if cls == C.KeyNodeInformation:
        return I.KEY_NODE_INFORMATION.make(lw, name, store.class_name(key))
    if cls == C.KeyNameInformation:
        assert kcb is not None
        return I.KEY_NAME_INFORMATION.make(kcb.path)
    m = store.maxima(key)
    subkeys = store.child_count(key)
    values = store.value_count(key)
    if cls == C.KeyFullInformation:
        return I.KEY_FULL_INFORMATION.make(
            lw,
            store.class_name(key),
            subkeys=subkeys,
            max_name_len=m.name,
            max_class_len=m.class_,
            values=values,
            max_value_name_len=m.value_name,
            max_value_data_len=m.value_data,
        )
    return I.KEY_CACHED_INFORMATION.make(
        lw,
        subkeys=subkeys,
        max_name_len=m.name,
        values=values,
        max_value_name_len=m.value_name,
        max_value_data_len=m.value_data,
        name_length=store.wide_len(name),
    )


_KEY_CLASSES = frozenset(
    {
        C.KeyBasicInformation,
        C.KeyNodeInformation,
        C.KeyFullInformation,
        C.KeyNameInformation,
        C.KeyCachedInformation,
        C.KeyFlagsInformation,
        C.KeyVirtualizationInformation,
        C.KeyHandleTagsInformation,
        C.KeyTrustInformation,
        C.KeyLayerInformation,
    }
)


def _small_key_info(
    cls: C.KEY_INFORMATION_CLASS, key: Any, entry: _Handle | None
) -> I.InfoStruct | None:
    """ZwQueryKey classes 5-9 (fixed-size), or None for the others."""
    if cls == C.KeyFlagsInformation:
        user, virt, _ = store.packed(key)
        key_flags = (C.REG_FLAG_VOLATILE if store.is_volatile(key) else 0) | (
            C.REG_FLAG_LINK if store.is_link(key) else 0
        )
        return I.KEY_FLAGS_INFORMATION.make(Wow64Flags=user, KeyFlags=key_flags, ControlFlags=virt)
    if cls == C.KeyVirtualizationInformation:
        target, store_, source = store.virtualization(key)
        # Candidate/Enabled depend on the (absent) virtualization policy of the caller:
        # regf has no UAC virtualization, so they are 0.
        return I.KEY_VIRTUALIZATION_INFORMATION.make(
            VirtualTarget=int(target), VirtualStore=int(store_), VirtualSource=int(source)
        )
    if cls == C.KeyHandleTagsInformation:
        return I.KEY_HANDLE_TAGS_INFORMATION.make(HandleTags=entry.tags if entry else 0)
    if cls == C.KeyTrustInformation:
        return I.KEY_TRUST_INFORMATION.make(TrustedKey=0)
    if cls == C.KeyLayerInformation:
        return I.KEY_LAYER_INFORMATION.make()
    return None


__all__ = ["enumerate_key", "key_class", "key_info", "query_key"]
