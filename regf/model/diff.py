"""Differences between two hives, and a ``.reg`` patch that turns one into the other.

Keys and values are matched by path and name case-insensitively with Windows' upcase
table (as Windows itself would look them up), so a key whose name only changed case is
the same key. A value *changes* when its type or raw bytes differ; a key changes when
its class name differs. Last-written timestamps are reported only on request: every
edit moves them, so by default they would drown the interesting changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._accel import upcase
from .regexport import escape_reg_string, reg_value_line

KEY_ADDED = "key added"
KEY_REMOVED = "key removed"
CLASS_CHANGED = "class changed"
TIME_CHANGED = "timestamp changed"
VALUE_ADDED = "value added"
VALUE_REMOVED = "value removed"
VALUE_CHANGED = "value changed"


@dataclass(frozen=True)
class Change:
    """One difference; ``old``/``new`` are ``(type, raw)`` for values, the class name
    for CLASS_CHANGED, the FILETIME for TIME_CHANGED, None otherwise."""

    kind: str
    path: str
    value: str | None = None
    old: Any = None
    new: Any = None


@dataclass
class _KeyView:
    path: str
    class_name: str | None
    last_written: int
    values: dict[str, tuple[str, int, bytes]]


def _views(hive: Any) -> Iterator[tuple[str, _KeyView]]:
    """(upcased path, view) of every key, in walk order."""
    for key in hive.walk():
        values = {upcase(v.name): (v.name, int(v.type_), bytes(v.raw)) for v in key.values()}
        path = key.path
        yield upcase(path), _KeyView(path, key.class_name, key.last_written_raw, values)


def diff_hives(old: Any, new: Any, *, timestamps: bool = False) -> list[Change]:
    """Every difference from hive ``old`` to hive ``new`` (both open :class:`~regf.Hive`
    objects), in ``new``'s walk order with removals after the key they were under."""
    # Only ``old`` is held in memory; ``new`` is compared as it is walked (an index of a
    # 15 MB hive takes ~50 MB). A path met twice in ``new`` (a damaged hive's duplicate
    # subkeys) counts once, the first time.
    a = dict(_views(old))
    seen: set[str] = set()
    changes: list[Change] = []
    for k, kb in _views(new):
        if k in seen:
            continue
        seen.add(k)
        ka = a.get(k)
        if ka is None:
            changes.append(Change(KEY_ADDED, kb.path))
            changes.extend(
                Change(VALUE_ADDED, kb.path, n, None, (t, r)) for n, t, r in kb.values.values()
            )
            continue
        if (ka.class_name or None) != (kb.class_name or None):
            changes.append(Change(CLASS_CHANGED, kb.path, None, ka.class_name, kb.class_name))
        if timestamps and ka.last_written != kb.last_written:
            changes.append(Change(TIME_CHANGED, kb.path, None, ka.last_written, kb.last_written))
        for vn, (name, t, r) in kb.values.items():
            before = ka.values.get(vn)
            if before is None:
                changes.append(Change(VALUE_ADDED, kb.path, name, None, (t, r)))
            elif before[1:] != (t, r):
                changes.append(Change(VALUE_CHANGED, kb.path, name, before[1:], (t, r)))
        for vn, (name, t, r) in ka.values.items():
            if vn not in kb.values:
                changes.append(Change(VALUE_REMOVED, kb.path, name, (t, r), None))
    for k, ka in a.items():
        if k not in seen:
            changes.append(Change(KEY_REMOVED, ka.path))
    return changes


def reg_patch(changes: list[Change], *, root: str = "", newline: str = "\r\n") -> str:
    """A regedit 5.00 ``.reg`` text that applies ``changes`` (``root`` is prefixed to
    every path, e.g. ``HKEY_LOCAL_MACHINE\\SOFTWARE``). Removed keys become ``[-key]``
    (only the top-most of a removed subtree), removed values ``"name"=-``; class and
    timestamp changes cannot be expressed in a .reg file and are left out."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    removed = sorted(
        (c.path for c in changes if c.kind == KEY_REMOVED), key=lambda p: (p.count("\\"), p)
    )
    top: list[str] = []
    for p in removed:
        if not any(upcase(p).startswith(upcase(t) + "\\") for t in top):
            top.append(p)
    for p in top:
        lines += [f"[-{_full(root, p)}]", ""]
    for path, group in _by_key(changes):
        body = []
        for c in group:
            if c.kind in (VALUE_ADDED, VALUE_CHANGED):
                t, raw = c.new
                body.append(reg_value_line(c.value or "", t, raw, newline))
            elif c.kind == VALUE_REMOVED:
                name = "@" if not c.value else f'"{escape_reg_string(c.value)}"'
                body.append(f"{name}=-")
        if body or any(c.kind == KEY_ADDED for c in group):
            lines += [f"[{_full(root, path)}]", *body, ""]
    return newline.join(lines) + newline


def _full(root: str, path: str) -> str:
    return "\\".join(p for p in (root, path) if p)


def _by_key(changes: list[Change]) -> Iterator[tuple[str, list[Change]]]:
    order: dict[str, list[Change]] = {}
    for c in changes:
        if c.kind != KEY_REMOVED:
            order.setdefault(c.path, []).append(c)
    yield from order.items()


__all__ = [
    "CLASS_CHANGED",
    "KEY_ADDED",
    "KEY_REMOVED",
    "TIME_CHANGED",
    "VALUE_ADDED",
    "VALUE_CHANGED",
    "VALUE_REMOVED",
    "Change",
    "diff_hives",
    "reg_patch",
]
