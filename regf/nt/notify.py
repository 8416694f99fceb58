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

This module holds the notify state (:class:`NotifyRequest`, :class:`NotifyBlock`); the
calls are in :mod:`regf.nt.notifycalls`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .namespace import Kcb
from .status import NTSTATUS

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


__all__ = ["NotifyBlock", "NotifyRequest"]
