"""Backend selection for the hot primitives (C via cffi, or the pure-Python twin).

``REGF_BACKEND`` chooses: ``python`` forces the twin, ``c`` demands the C build (import
fails loudly if it is missing, which is how CI proves the build did not silently fall
back), unset or ``auto`` prefers C and falls back to Python. The choice is made once,
here, and is visible as :data:`BACKEND`.
"""

from __future__ import annotations

import os
from types import ModuleType

from . import pure, purewalk
from .pure import REGISTRY_SEED

_choice = os.environ.get("REGF_BACKEND", "auto").strip().lower() or "auto"
if _choice not in ("auto", "c", "python"):
    raise ImportError(f"REGF_BACKEND must be 'c', 'python' or 'auto', not {_choice!r}")

_impl: ModuleType | None = None
if _choice != "python":
    try:
        from . import cbackend as _impl
    except ImportError:
        if _choice == "c":
            raise
        _impl = None

if _impl is None:
    BACKEND = "python"
    from .pure import (
        bin_chain_end,
        checksum,
        copy_runs,
        leaf_cells,
        marvin32,
        marvin32_spans,
        name_hash,
        scan_cells,
        sort_key,
        upcase,
    )
    from .purewalk import walk_binder, walk_code
else:
    BACKEND = "c"
    checksum = _impl.checksum
    marvin32 = _impl.marvin32
    marvin32_spans = _impl.marvin32_spans
    copy_runs = _impl.copy_runs
    name_hash = _impl.name_hash
    sort_key = _impl.sort_key
    upcase = _impl.upcase
    scan_cells = _impl.scan_cells
    leaf_cells = _impl.leaf_cells
    bin_chain_end = _impl.bin_chain_end
    walk_code = _impl.walk_code
    walk_binder = _impl.walk_binder

__all__ = [
    "BACKEND",
    "REGISTRY_SEED",
    "bin_chain_end",
    "checksum",
    "copy_runs",
    "leaf_cells",
    "marvin32",
    "marvin32_spans",
    "name_hash",
    "pure",
    "purewalk",
    "scan_cells",
    "sort_key",
    "upcase",
    "walk_binder",
    "walk_code",
]
