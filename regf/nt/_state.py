"""What the function modules of :class:`~regf.nt.registry.Registry` see of it.

``registry.py`` (and :mod:`~regf.nt.zwcalls`, its mixin of delegating Zw* calls)
delegates its calls to function modules (:mod:`~regf.nt.hives`,
:mod:`~regf.nt.keyapi`, :mod:`~regf.nt.keyops`, :mod:`~regf.nt.keyquery`,
:mod:`~regf.nt.notifycalls`, :mod:`~regf.nt.opencreate`, :mod:`~regf.nt.seccalls`,
:mod:`~regf.nt.valuecalls`), passing itself. They annotate that argument with
:class:`RegistryState`, a protocol of exactly the state and helpers they use, instead of
importing ``Registry``: ``registry.py`` imports them, so that would be an import cycle
(tests/test_layering.py). Passing a ``Registry`` where a ``RegistryState`` is expected
makes mypy check that the two agree. This module imports none of the function modules
nor ``registry.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import RegfError
from .access import Token
from .constants import REG_NOTIFY_CLASS
from .flusher import LazyFlusher
from .namespace import HiveMount, Kcb, KeyObject, Namespace
from .notify import NotifyBlock
from .status import NTSTATUS
from .verifier import Verifier


class _Handle:
    """One open handle: the key object, the access granted, the call that opened it."""

    __slots__ = ("granted", "handle", "how", "obj", "tags")

    def __init__(self, handle: int, obj: KeyObject, granted: int, how: str) -> None:
        self.handle = handle
        self.obj = obj
        self.granted = granted
        self.how = how
        #: KeySetHandleTagsInformation: tags of this handle (not of the key).
        self.tags = 0


class RegistryState(Protocol):
    """The part of :class:`~regf.nt.registry.Registry` its function modules use (same
    names and types; see there for what each does)."""

    _lock: threading.RLock
    _ns: Namespace
    _handles: dict[int, _Handle]
    _notify_blocks: dict[int, NotifyBlock]
    _verifier: Verifier | None
    _mounts: dict[str, HiveMount]
    _closed: bool
    flush_errors: dict[str, RegfError]
    _flusher: LazyFlusher | None

    def current_token(self) -> Token | None: ...

    def _check_open(self) -> None: ...

    def _mount_at(self, object_path: str) -> HiveMount: ...

    def _flush_mount(self, mount: HiveMount) -> None: ...

    def _entry(self, call: str, handle: object, need: int) -> _Handle: ...

    @staticmethod
    def _alive(kcb: Kcb) -> Kcb: ...

    @staticmethod
    def _writable(kcb: Kcb) -> Kcb: ...

    def _notify_change(self, kcb: Kcb, bits: int) -> None: ...

    def _dirty(self, kcb: Kcb) -> None: ...

    def _with_callbacks(
        self,
        pre: REG_NOTIFY_CLASS,
        post: REG_NOTIFY_CLASS,
        info: Any,
        op: Callable[[], NTSTATUS],
    ) -> NTSTATUS: ...

    @staticmethod
    def _raise_unless_success(status: NTSTATUS, info: Any = None, out: str = "") -> None: ...

    def _split(self, name: object, root: Kcb | None) -> tuple[Kcb, list[str]]: ...

    def _root_kcb(self, call: str, root: object) -> Kcb | None: ...

    def _walk(
        self,
        start: Kcb,
        parts: list[str],
        *,
        open_link: bool,
        create: Callable[[Kcb, str], Kcb] | None = None,
        create_link: bool = False,
    ) -> tuple[Kcb, int]: ...

    def _resolve_existing(self, name: str, root: Kcb | None, *, open_link: bool) -> Kcb: ...

    def _new_handle(self, call: str, obj: KeyObject, granted: int) -> int: ...


__all__ = ["RegistryState"]
