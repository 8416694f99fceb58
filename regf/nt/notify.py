"""ZwNotifyChangeKey: change notifications on a key (or its whole subtree).

The rules (wdm.h ZwNotifyChangeKey / winnt.h REG_NOTIFY_CHANGE_*; the filter meanings
are RegNotifyChangeKeyValue's):

* REG_NOTIFY_CHANGE_NAME: a subkey is added, deleted or renamed;
  REG_NOTIFY_CHANGE_ATTRIBUTES: the key's attributes change (ZwSetInformationKey flag
  classes); REG_NOTIFY_CHANGE_LAST_SET: a value is set or deleted, or the last write
  time is set; REG_NOTIFY_CHANGE_SECURITY: the security descriptor changes.
* ``watch_tree``: changes anywhere below the key count too, not only the key itself.
* A request completes once (status STATUS_NOTIFY_ENUM_DIR: the registry reports no
  details), then the caller asks again. Changes that happen while no request is pending
  are remembered and coalesced: the next request on the handle completes at once, however
  many changes there were.
* regf's own choices where the pages say nothing: the first call on a handle fixes the
  handle's filter and watch-tree (later calls queue on it); closing the handle completes
  its pending requests with STATUS_NOTIFY_CLEANUP; deleting the watched key (or
  unloading its hive, or a restore removing it) completes them with STATUS_KEY_DELETED.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import constants as C
from .namespace import Kcb
from .status import NTSTATUS, NtStatusError

if TYPE_CHECKING:
    from .registry import Registry

S = NTSTATUS


class NotifyRequest:
    """One ZwNotifyChangeKey call: pending until a matching change (or the handle's
    close) completes it. ``apc`` (the ApcRoutine) is called with the final status."""

    def __init__(self, apc: Callable[[NTSTATUS], object] | None = None) -> None:
        self._event = threading.Event()
        self._apc = apc
        #: Final status (None while pending).
        self.status: NTSTATUS | None = None

    @property
    def done(self) -> bool:
        """Whether the request has completed."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> NTSTATUS | None:
        """Wait for completion; the status, or None on timeout."""
        self._event.wait(timeout)
        return self.status

    def _complete(self, status: NTSTATUS) -> None:
        if self._event.is_set():
            return
        self.status = status
        self._event.set()
        if self._apc is not None:
            self._apc(status)

    def __repr__(self) -> str:
        return f"<NotifyRequest {self.status.name if self.status is not None else 'pending'}>"


@dataclass(eq=False)
class NotifyBlock:
    """The notify state of one handle."""

    kcb: Kcb
    filter: int
    watch_tree: bool
    requests: list[NotifyRequest] = field(default_factory=list)
    #: A change happened while no request was pending.
    pending_change: bool = False

    def watches(self, kcb: Kcb) -> bool:
        """Whether a change of ``kcb`` concerns this block."""
        if kcb is self.kcb:
            return True
        if not self.watch_tree:
            return False
        k = kcb.parent
        while k is not None:
            if k is self.kcb:
                return True
            k = k.parent
        return False

    def fire(self, status: NTSTATUS = S.STATUS_NOTIFY_ENUM_DIR) -> None:
        """Complete the pending requests, or remember the change for the next one."""
        if not self.requests:
            self.pending_change = True
            return
        requests, self.requests = self.requests, []
        for r in requests:
            r._complete(status)


def notify_change_key(
    reg: Registry,
    handle: int,
    completion_filter: int,
    watch_tree: bool,
    *,
    asynchronous: bool,
    timeout: float | None,
    apc: Callable[[NTSTATUS], object] | None,
) -> NotifyRequest:
    """ZwNotifyChangeKey (see :meth:`Registry.ZwNotifyChangeKey`)."""
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


def report(reg: Registry, kcb: Kcb, bits: int) -> None:
    """A change of kind ``bits`` (REG_NOTIFY_CHANGE_*) happened to ``kcb``."""
    for block in list(reg._notify_blocks.values()):
        if block.filter & bits and block.watches(kcb):
            block.fire()


def handle_closed(reg: Registry, handle: int) -> None:
    """The handle was closed: its requests complete with STATUS_NOTIFY_CLEANUP."""
    block = reg._notify_blocks.pop(handle, None)
    if block is not None:
        requests, block.requests = block.requests, []
        for r in requests:
            r._complete(S.STATUS_NOTIFY_CLEANUP)


def key_deleted(reg: Registry, kcb: Kcb) -> None:
    """``kcb`` was deleted: requests watching exactly it complete with
    STATUS_KEY_DELETED (its parent's watchers see a name change)."""
    for block in reg._notify_blocks.values():
        if block.kcb is kcb:
            requests, block.requests = block.requests, []
            for r in requests:
                r._complete(S.STATUS_KEY_DELETED)


__all__ = [
    "NotifyBlock",
    "NotifyRequest",
    "handle_closed",
    "key_deleted",
    "notify_change_key",
    "report",
]
