"""Run-time checks of the ZwRegistryCreate / ZwRegistryOpen driver-verifier rules
(``nt-api/001``), for ``Registry(verify=True)`` or ``verify="strict"``:

1. ``use-after-close``: a call on a handle after ZwClose closed it, or after ZwDeleteKey
   deleted its key through it (after ZwDeleteKey only ZwClose is legal).
2. ``second-open``: ZwCreateKey/ZwOpenKey of a key the caller already holds a handle to.
3. ``handle-leak``: a handle opened inside ``with reg.dispatch():`` still open when the
   block ends (returning from a dispatch routine while holding a handle).

4. ``unregister-in-callback``: CmUnRegisterCallback called from inside a registry
   callback ("A driver must not call CmUnRegisterCallback from its implementation of the
   RegistryCallback routine. That call will result in a deadlock.", wdm.h
   CmUnRegisterCallback page); filed under rule "CmUnRegisterCallback".

The "caller" is the driver making the call, not the thread: a driver's worker threads
share its handles, so a second open from another thread of the same driver is a
violation. Callers name themselves with ``with reg.caller("name"):`` (per thread, nests);
calls outside any such block belong to the caller :data:`DEFAULT_CALLER`. The rule a
violation is filed under is
"ZwRegistryCreate" for handles from ZwCreateKey and "ZwRegistryOpen" for handles from
ZwOpenKey. Violations are appended to ``reg.violations``; in strict mode the offending
call raises :class:`VerifierError` instead (after recording it). Handle values are
never reused, so a stale handle is always recognised.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import RegfError

USE_AFTER_CLOSE = "use-after-close"
SECOND_OPEN = "second-open"
HANDLE_LEAK = "handle-leak"
UNREGISTER_IN_CALLBACK = "unregister-in-callback"
#: The caller of calls made outside any ``Registry.caller()`` block.
DEFAULT_CALLER = "driver"


@dataclass(frozen=True)
class Violation:
    """One broken rule: which, by which call, on which handle and key."""

    rule: str
    kind: str
    call: str
    handle: int | None
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}/{self.kind}: {self.message}"


class VerifierError(RegfError):
    """Raised in strict verify mode when a call breaks a rule (like a verifier bug check)."""

    def __init__(self, violation: Violation) -> None:
        self.violation = violation
        super().__init__(str(violation))


@dataclass(eq=False)
class HandleRecord:
    """What the verifier remembers about a handle."""

    handle: int
    rule: str
    path: str
    key_id: int
    owner: str
    state: str = "open"  # open | deleted (ZwDeleteKey through it) | closed
    frames: list[Any] = field(default_factory=list)


@dataclass(eq=False)
class _Frame:
    name: str
    handles: list[HandleRecord] = field(default_factory=list)


class Verifier:
    """Tracks handles and reports rule violations."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.violations: list[Violation] = []
        self._records: dict[int, HandleRecord] = {}
        self._tls = threading.local()

    # -- reporting ------------------------------------------------------------------------

    def _report(self, v: Violation) -> None:
        self.violations.append(v)
        if self.strict:
            raise VerifierError(v)

    # -- handle lifecycle -------------------------------------------------------------------

    def check_use(self, call: str, handle: object) -> None:
        """Before ``call`` on ``handle``: report use after ZwClose / ZwDeleteKey."""
        rec = self._records.get(handle) if isinstance(handle, int) else None
        if rec is None:
            return  # never issued: a bogus handle, not this rule's business
        if rec.state == "closed":
            self._report(
                Violation(
                    rec.rule,
                    USE_AFTER_CLOSE,
                    call,
                    rec.handle,
                    rec.path,
                    f"{call} on handle {rec.handle:#x} ({rec.path}) after ZwClose",
                )
            )
        elif rec.state == "deleted" and call != "ZwClose":
            self._report(
                Violation(
                    rec.rule,
                    USE_AFTER_CLOSE,
                    call,
                    rec.handle,
                    rec.path,
                    f"{call} on handle {rec.handle:#x} ({rec.path}) after ZwDeleteKey",
                )
            )

    def check_open(self, call: str, key_id: int, path: str) -> None:
        """Before handing out a new handle to key ``key_id``: report a second open."""
        me = self.current_caller()
        for rec in self._records.values():
            if rec.state != "closed" and rec.key_id == key_id and rec.owner == me:
                rule = "ZwRegistryCreate" if call == "ZwCreateKey" else "ZwRegistryOpen"
                self._report(
                    Violation(
                        rule,
                        SECOND_OPEN,
                        call,
                        rec.handle,
                        path,
                        f"{call} of {path} while handle {rec.handle:#x} to it is open",
                    )
                )
                return

    def opened(self, call: str, handle: int, key_id: int, path: str) -> None:
        """A new handle was handed out."""
        rule = "ZwRegistryCreate" if call == "ZwCreateKey" else "ZwRegistryOpen"
        rec = HandleRecord(handle, rule, path, key_id, self.current_caller())
        for frame in self._frames():
            frame.handles.append(rec)
            rec.frames.append(frame)
        self._records[handle] = rec

    def deleted(self, handle: int) -> None:
        """ZwDeleteKey succeeded through ``handle``."""
        rec = self._records.get(handle)
        if rec is not None and rec.state == "open":
            rec.state = "deleted"

    def closed(self, handle: int) -> None:
        """ZwClose closed ``handle``."""
        rec = self._records.get(handle)
        if rec is not None:
            rec.state = "closed"

    def unregister_in_callback(self, cookie: int) -> None:
        """CmUnRegisterCallback(``cookie``) ran inside a registry callback."""
        self._report(
            Violation(
                "CmUnRegisterCallback",
                UNREGISTER_IN_CALLBACK,
                "CmUnRegisterCallback",
                None,
                "",
                f"CmUnRegisterCallback({cookie:#x}) called from a RegistryCallback routine",
            )
        )

    # -- callers ---------------------------------------------------------------------------

    def current_caller(self) -> str:
        """The caller (driver) the current thread acts for."""
        callers: list[str] | None = getattr(self._tls, "callers", None)
        return callers[-1] if callers else DEFAULT_CALLER

    def push_caller(self, name: str) -> None:
        """The current thread acts for caller ``name`` until :meth:`pop_caller`."""
        callers: list[str] | None = getattr(self._tls, "callers", None)
        if callers is None:
            callers = self._tls.callers = []
        callers.append(name)

    def pop_caller(self) -> None:
        """End the innermost :meth:`push_caller`."""
        self._tls.callers.pop()

    # -- dispatch routines ---------------------------------------------------------------

    def _frames(self) -> list[_Frame]:
        frames: list[_Frame] | None = getattr(self._tls, "frames", None)
        if frames is None:
            frames = self._tls.frames = []
        return frames

    def enter(self, name: str) -> _Frame:
        """A dispatch routine starts on this thread."""
        frame = _Frame(name)
        self._frames().append(frame)
        return frame

    def leave(self, frame: _Frame, *, raising: bool = False) -> None:
        """The dispatch routine returns: report handles opened in it and still open."""
        frames = self._frames()
        if frame in frames:
            frames.remove(frame)
        leaked = [r for r in frame.handles if r.state != "closed"]
        first: Violation | None = None
        for rec in leaked:
            v = Violation(
                rec.rule,
                HANDLE_LEAK,
                frame.name,
                rec.handle,
                rec.path,
                f"{frame.name} returned holding handle {rec.handle:#x} ({rec.path})",
            )
            self.violations.append(v)
            first = first or v
        if first is not None and self.strict and not raising:
            raise VerifierError(first)


__all__ = [
    "DEFAULT_CALLER",
    "HANDLE_LEAK",
    "SECOND_OPEN",
    "UNREGISTER_IN_CALLBACK",
    "USE_AFTER_CLOSE",
    "HandleRecord",
    "Verifier",
    "VerifierError",
    "Violation",
]
