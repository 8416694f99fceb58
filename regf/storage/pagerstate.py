"""The pager's states and the events that move it between them.

What each state guarantees, and the protocol behind them, are documented at the top of
:mod:`.flush`; this module only names them, so the table can be tested on its own.
"""

from __future__ import annotations

import enum


class PagerState(enum.Enum):
    """Where a :class:`Pager` is in its life (see the module docstring)."""

    CLEAN = "clean"
    PENDING = "pending"
    FAILED = "failed"
    CLOSED = "closed"


#: Every allowed transition: (state, event) -> new state. ``error`` and ``close`` apply
#: from every live state. Anything not listed is refused with HiveStateError.
TRANSITIONS: dict[tuple[PagerState, str], PagerState] = {
    (PagerState.CLEAN, "flush"): PagerState.CLEAN,
    (PagerState.CLEAN, "flush_log_only"): PagerState.PENDING,
    (PagerState.PENDING, "flush"): PagerState.CLEAN,
    (PagerState.PENDING, "flush_log_only"): PagerState.PENDING,
    (PagerState.CLEAN, "reconcile"): PagerState.CLEAN,
    (PagerState.PENDING, "reconcile"): PagerState.CLEAN,
    (PagerState.CLEAN, "error"): PagerState.FAILED,
    (PagerState.PENDING, "error"): PagerState.FAILED,
    (PagerState.CLEAN, "close"): PagerState.CLOSED,
    (PagerState.PENDING, "close"): PagerState.CLOSED,
    (PagerState.FAILED, "close"): PagerState.CLOSED,
    (PagerState.CLOSED, "close"): PagerState.CLOSED,
}


__all__ = ["TRANSITIONS", "PagerState"]
