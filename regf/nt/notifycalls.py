"""ZwNotifyChangeKey and the change reports of the other calls (the rules and the notify
state are in :mod:`regf.nt.notify`). Functions of :class:`~regf.nt.registry.Registry`,
which delegates to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import constants as C
from .namespace import Kcb
from .notify import NotifyBlock, NotifyRequest
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from ._state import RegistryState

S = NTSTATUS


def notify_change_key(
    reg: RegistryState,
    handle: int,
    completion_filter: int,
    watch_tree: bool,
    *,
    asynchronous: bool,
    timeout: float | None,
    apc: Callable[[NTSTATUS], object] | None,
) -> NotifyRequest:
    """ZwNotifyChangeKey: ask to be told of changes to the key (and its subtree with
    ``watch_tree``) matching ``completion_filter`` (REG_NOTIFY_CHANGE_* bits); needs
    KEY_NOTIFY.

    Returns a :class:`~regf.nt.notify.NotifyRequest`: pending (STATUS_PENDING) until a
    matching change completes it with STATUS_NOTIFY_ENUM_DIR; ``apc`` is called then.
    ``asynchronous=False`` waits for it (up to ``timeout`` seconds). Changes made while
    no request is pending are coalesced into the next request, which completes at once.
    See :mod:`regf.nt.notify`.
    """
    if (
        isinstance(completion_filter, bool)
        or not isinstance(completion_filter, int)
        or not completion_filter & ~C.REG_NOTIFY_THREAD_AGNOSTIC
        or completion_filter & ~C.REG_LEGAL_CHANGE_FILTER
    ):
        raise NtStatusError(S.STATUS_INVALID_PARAMETER, f"bad filter {completion_filter!r}")
    with reg._lock:
        entry = reg._entry("ZwNotifyChangeKey", handle, C.KEY_NOTIFY)
        kcb = reg._alive(entry.obj.kcb)
        block = reg._notify_blocks.get(handle)
        if block is None:
            block = NotifyBlock(kcb, completion_filter, bool(watch_tree))
            reg._notify_blocks[handle] = block
        request = NotifyRequest(apc)
        if block.pending_change:
            block.pending_change = False
            request._complete(S.STATUS_NOTIFY_ENUM_DIR)
        else:
            block.requests.append(request)
    if not asynchronous:
        # A synchronous call waits outside the registry lock, so others can change it.
        request.wait(timeout)
    return request


def report(reg: RegistryState, kcb: Kcb, bits: int) -> None:
    """A change of kind ``bits`` (REG_NOTIFY_CHANGE_*) happened to ``kcb``."""
    for block in list(reg._notify_blocks.values()):
        if block.filter & bits and block.watches(kcb):
            block.fire()


def handle_closed(reg: RegistryState, handle: int) -> None:
    """The handle was closed: its requests complete with STATUS_NOTIFY_CLEANUP."""
    block = reg._notify_blocks.pop(handle, None)
    if block is not None:
        requests, block.requests = block.requests, []
        for r in requests:
            r._complete(S.STATUS_NOTIFY_CLEANUP)


def key_deleted(reg: RegistryState, kcb: Kcb) -> None:
    """``kcb`` was deleted: requests watching exactly it complete with
    STATUS_KEY_DELETED (its parent's watchers see a name change)."""
    for block in reg._notify_blocks.values():
        if block.kcb is kcb:
            requests, block.requests = block.requests, []
            for r in requests:
                r._complete(S.STATUS_KEY_DELETED)


__all__ = [
    "handle_closed",
    "key_deleted",
    "notify_change_key",
    "report",
]
