"""Former home of the writer, kept for its import names.

Read-only and editable hives now share one :class:`~regf.model.keys.Key` and one
:class:`~regf.model.values.Value` class; the writer lives in
:mod:`regf.model.edithive` (cells and keys), :mod:`regf.model.lifecycle` (files,
flush, save), :mod:`regf.model.keyops` / :mod:`regf.model.valueops` (the key and value
edits), :mod:`regf.model.autoflush` and :mod:`regf.model.opening`. ``EditKey`` and
``EditValue`` are the shared classes under their old names.
"""

from __future__ import annotations

from ..errors import RegfError
from .autoflush import HIVE_EDITS, KEY_EDITS, KEY_SETTERS, SELF_LOCKED
from .edithive import EditHive
from .keyops import ChildMustBeVolatileError
from .keys import Key as EditKey
from .opening import create, open_editable
from .valueops import encode_value
from .values import Value as EditValue

__all__ = [
    "HIVE_EDITS",
    "KEY_EDITS",
    "KEY_SETTERS",
    "SELF_LOCKED",
    "ChildMustBeVolatileError",
    "EditHive",
    "EditKey",
    "EditValue",
    "RegfError",
    "create",
    "encode_value",
    "open_editable",
]
