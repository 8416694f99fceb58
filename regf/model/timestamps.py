"""FILETIME values the model stamps on keys: the Unix epoch and "now".

Apart from :mod:`.serialize` (which re-exports them) so that editing a key does not
import the whole hive writer.
"""

from __future__ import annotations

import time

#: FILETIME of the Unix epoch (100 ns ticks since 1601-01-01).
EPOCH_FILETIME = 116444736000000000


def now_filetime() -> int:
    """The current time as a FILETIME."""
    return EPOCH_FILETIME + time.time_ns() // 100


__all__ = ["EPOCH_FILETIME", "now_filetime"]
