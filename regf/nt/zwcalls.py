"""The Zw* entry points of :class:`~regf.nt.registry.Registry` that only delegate.

Each method here hands its arguments, with the registry itself, to a function module
(:mod:`~regf.nt.valuecalls`, :mod:`~regf.nt.keyquery`, :mod:`~regf.nt.keyops`,
:mod:`~regf.nt.keyapi`, :mod:`~regf.nt.notifycalls`, :mod:`~regf.nt.seccalls`); the
details of each call are in that function's docstring. ``Registry`` inherits them from
:class:`ZwCalls`, and keeps the calls that work on its own state (open, create, close,
load, unload) and the handle, callback and name-resolution plumbing they share.

The methods annotate ``self`` as :class:`~regf.nt._state.RegistryState` (a protocol
used as a mixin's self type): mypy then checks that ``Registry`` provides what the
function modules use, without this module importing ``registry.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import constants as C
from . import infoclass as I
from . import keyapi, keyops, keyquery, notify, notifycalls, seccalls, valuecalls
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState


class ZwCalls:
    """Mixin of :class:`~regf.nt.registry.Registry`: the delegating Zw* calls."""

    # ---- values (regf/nt/valuecalls.py) ------------------------------------------------

    def ZwSetValueKey(
        self: RegistryState,
        handle: int,
        name: str | None,
        type: int,
        data: bytes | bytearray | memoryview | None,
        *,
        title_index: int = 0,
    ) -> None:
        """Create or replace a value; see :func:`regf.nt.valuecalls.set_value_key`."""
        valuecalls.set_value_key(self, handle, name, type, data, title_index=title_index)

    def ZwDeleteValueKey(self: RegistryState, handle: int, name: str | None) -> None:
        """Delete a value; see :func:`regf.nt.valuecalls.delete_value_key`."""
        valuecalls.delete_value_key(self, handle, name)

    def ZwQueryValueKey(
        self: RegistryState,
        handle: int,
        name: str | None,
        info_class: int,
        length: int | None = None,
    ) -> I.InfoStruct:
        """A value by name; see :func:`regf.nt.valuecalls.query_value_key`."""
        return valuecalls.query_value_key(self, handle, name, info_class, length)

    def ZwEnumerateValueKey(
        self: RegistryState,
        handle: int,
        index: int,
        info_class: int,
        length: int | None = None,
    ) -> I.InfoStruct:
        """A value by index; see :func:`regf.nt.valuecalls.enumerate_value_key`."""
        return valuecalls.enumerate_value_key(self, handle, index, info_class, length)

    # ---- keys (regf/nt/keyquery.py, regf/nt/keyops.py) ---------------------------------

    def ZwQueryKey(
        self: RegistryState, handle: int, info_class: int, length: int | None = None
    ) -> I.InfoStruct:
        """Information about the key; see :func:`regf.nt.keyquery.query_key`."""
        return keyquery.query_key(self, handle, info_class, length)

    def ZwEnumerateKey(
        self: RegistryState, handle: int, index: int, info_class: int, length: int | None = None
    ) -> I.InfoStruct:
        """A subkey by index; see :func:`regf.nt.keyquery.enumerate_key`."""
        return keyquery.enumerate_key(self, handle, index, info_class, length)

    def ZwDeleteKey(self: RegistryState, handle: int) -> None:
        """Delete the key; see :func:`regf.nt.keyops.delete_key`."""
        keyops.delete_key(self, handle)

    def ZwRenameKey(self: RegistryState, handle: int, new_name: str) -> None:
        """Rename the key; see :func:`regf.nt.keyops.rename_key`."""
        keyops.rename_key(self, handle, new_name)

    def ZwFlushKey(self: RegistryState, handle: int) -> None:
        """Write the key's hive to disk now; see :func:`regf.nt.keyops.flush_key`."""
        keyops.flush_key(self, handle)

    # ---- the rest of the key API (regf/nt/keyapi.py) -----------------------------------

    def ZwSaveKey(self: RegistryState, handle: int, file: keyapi.FileArg) -> None:
        """Save the key's subtree as a 1.3 hive; see :func:`regf.nt.keyapi.save_key`."""
        keyapi.save_key(self, handle, file, C.REG_STANDARD_FORMAT)

    def ZwSaveKeyEx(self: RegistryState, handle: int, file: keyapi.FileArg, format: int) -> None:
        """Save the key's subtree in ``format``; see :func:`regf.nt.keyapi.save_key`."""
        keyapi.save_key(self, handle, file, format)

    def ZwRestoreKey(
        self: RegistryState, handle: int, file: keyapi.FileArg, flags: int = 0
    ) -> None:
        """Replace the key's subtree by a hive; see :func:`regf.nt.keyapi.restore_key`."""
        keyapi.restore_key(self, handle, file, flags)

    def ZwReplaceKey(
        self: RegistryState,
        new_file: str | os.PathLike[str],
        handle: int,
        old_file: str | os.PathLike[str],
    ) -> None:
        """Swap a loaded hive's file; see :func:`regf.nt.keyapi.replace_key`."""
        keyapi.replace_key(self, new_file, handle, old_file)

    def ZwQueryMultipleValueKey(
        self: RegistryState, handle: int, names: list[str], length: int | None = None
    ) -> tuple[list[dict[str, int]], bytes]:
        """Several values at once; see :func:`regf.nt.keyapi.query_multiple_values`."""
        return keyapi.query_multiple_values(self, handle, names, length)

    def ZwSetInformationKey(self: RegistryState, handle: int, info_class: int, data: bytes) -> None:
        """Set key or handle information; see :func:`regf.nt.keyapi.set_information_key`."""
        keyapi.set_information_key(self, handle, info_class, data)

    def ZwQueryObject(
        self: RegistryState,
        handle: int,
        info_class: int = C.ObjectNameInformation,
        length: int | None = None,
    ) -> str:
        """The key's full name (ObjectNameInformation only); see
        :func:`regf.nt.keyapi.query_key_name`."""
        if info_class != C.ObjectNameInformation:
            raise NtStatusError(
                NTSTATUS.STATUS_INVALID_INFO_CLASS, f"class {info_class!r} is not supported"
            )
        return keyapi.query_key_name(self, handle, length)

    # ---- change notification (regf/nt/notifycalls.py) ----------------------------------

    def ZwNotifyChangeKey(
        self: RegistryState,
        handle: int,
        completion_filter: int,
        watch_tree: bool = False,
        *,
        asynchronous: bool = True,
        timeout: float | None = None,
        apc: Callable[[NTSTATUS], object] | None = None,
    ) -> notify.NotifyRequest:
        """Watch the key for changes; see :func:`regf.nt.notifycalls.notify_change_key`."""
        return notifycalls.notify_change_key(
            self,
            handle,
            completion_filter,
            watch_tree,
            asynchronous=asynchronous,
            timeout=timeout,
            apc=apc,
        )

    # ---- security (regf/nt/seccalls.py) ------------------------------------------------

    def ZwQuerySecurityObject(
        self: RegistryState, handle: int, security_information: int, length: int | None = None
    ) -> bytes:
        """The key's security descriptor; see :func:`regf.nt.seccalls.query_security`."""
        return seccalls.query_security(self, handle, security_information, length)

    def ZwSetSecurityObject(
        self: RegistryState, handle: int, security_information: int, security_descriptor: bytes
    ) -> None:
        """Change the key's descriptor; see :func:`regf.nt.seccalls.set_security`."""
        seccalls.set_security(self, handle, security_information, security_descriptor)


__all__ = ["ZwCalls"]
