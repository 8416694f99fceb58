"""Key paths as people and other tools write them: prefixes, normalisation and globs.

A path names a key relative to a hive's root. What other tools (and regf's own
export, JSON and bodyfile output) print is accepted too, so output can be pasted back:

* a leading or trailing ``\\`` and doubled ``\\\\`` are ignored;
* ``ROOT\\...`` or the hive's root key name (e.g. ``CMI-CreateHive{...}\\...``) as the
  first component;
* a root-key prefix: ``HKLM\\<hive>\\`` / ``HKEY_LOCAL_MACHINE\\<hive>\\`` and
  ``HKU\\<sid>\\`` / ``HKEY_USERS\\<sid>\\`` (two components), ``HKCU\\`` /
  ``HKEY_CURRENT_USER\\``, ``HKCR\\`` / ``HKEY_CLASSES_ROOT\\`` and
  ``HKCC\\`` / ``HKEY_CURRENT_CONFIG\\`` (one component).

When the first component is both a root name and the name of a subkey of the root, the
subkey wins (the path is tried as written first).

Globs: ``*`` matches any run of characters within one key name, ``?`` one character and
a component ``**`` any number of levels (zero included). Matching is case-insensitive
with Windows' upcase table, as key lookups are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .._accel import upcase
from ..errors import KeyNotFoundError

#: Root-key prefixes and how many leading components each one covers.
_HKEY_PREFIXES: dict[str, int] = {
    "HKLM": 2,
    "HKEY_LOCAL_MACHINE": 2,
    "HKU": 2,
    "HKEY_USERS": 2,
    "HKCU": 1,
    "HKEY_CURRENT_USER": 1,
    "HKCR": 1,
    "HKEY_CLASSES_ROOT": 1,
    "HKCC": 1,
    "HKEY_CURRENT_CONFIG": 1,
}

_MAGIC = re.compile(r"[*?]")


def split_path(path: str) -> list[str]:
    """The non-empty components of a backslash-separated path (``/`` is a name character)."""
    return [part for part in path.split("\\") if part]


def is_glob(path: str) -> bool:
    """True when ``path`` contains a glob character (``*`` or ``?``)."""
    return _MAGIC.search(path) is not None


def candidates(path: str, root_name: str | None = None) -> list[list[str]]:
    """The component lists ``path`` may mean, most literal first.

    Args:
        path: a key path as typed (see the module docstring for accepted prefixes).
        root_name: the hive's root key name, also accepted as a first component.

    Returns:
        One or two component lists relative to the root: the path as written, then
        (when it starts with a recognised prefix) the path with the prefix removed.
    """
    parts = split_path(path)
    out = [parts]
    if not parts:
        return out
    head = upcase(parts[0])
    skip = _HKEY_PREFIXES.get(head)
    if skip is None and (head == "ROOT" or (root_name and head == upcase(root_name))):
        skip = 1
    if skip is not None:
        out.append(parts[min(skip, len(parts)) :])
    return out


def display(path: str) -> str:
    """``path`` for messages: as typed, without quoting or doubled backslashes."""
    return path if path else "\\"


def resolve(root: Any, path: str) -> Any:
    """The key at ``path`` under ``root`` (any key object with ``subkey(name)``).

    Raises:
        KeyNotFoundError: no key matches; the message shows ``path`` as typed.
    """
    for parts in candidates(path, getattr(root, "name", None)):
        key = root
        try:
            for part in parts:
                key = key.subkey(part)
        except KeyNotFoundError:
            continue
        return key
    raise KeyNotFoundError(f"no key {display(path)}")


def _component_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in upcase(pattern):
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def glob(root: Any, pattern: str, walk: Any = None) -> Iterator[Any]:
    """Keys under ``root`` whose path matches ``pattern``, in stored order, no duplicates.

    Args:
        root: the root key (or any key the pattern is relative to).
        pattern: a path with ``*``/``?`` inside components and ``**`` components; the
            prefixes of :func:`candidates` are accepted.
        walk: for ``**``, a function ``walk(key)`` yielding ``key`` and its descendants
            (default: a plain depth-first walk; a hive passes its checked walk).
    """
    options = candidates(pattern, getattr(root, "name", None))
    # A literal first component that exists wins over a prefix reading, as in resolve().
    parts = options[0]
    if len(options) > 1 and parts and not is_glob(parts[0]):
        try:
            root.subkey(parts[0])
        except KeyNotFoundError:
            parts = options[1]
    seen: set[Any] = set()
    for key in _glob(root, parts, walk or _plain_walk):
        ident = getattr(key, "index", None)
        marker = ident if ident is not None else id(key)
        if marker in seen:
            continue
        seen.add(marker)
        yield key


def _plain_walk(key: Any) -> Iterator[Any]:
    stack = [key]
    while stack:
        k = stack.pop()
        yield k
        stack.extend(reversed(k.subkeys()))


def _glob(key: Any, parts: list[str], walk: Any) -> Iterator[Any]:
    if not parts:
        yield key
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        for sub in walk(key):
            yield from _glob(sub, rest, walk)
        return
    if not is_glob(head):
        try:
            sub = key.subkey(head)
        except KeyNotFoundError:
            return
        yield from _glob(sub, rest, walk)
        return
    rx = _component_regex(head)
    for sub in key.subkeys():
        if rx.fullmatch(upcase(sub.name)):
            yield from _glob(sub, rest, walk)


def match(pattern: str, name: str) -> bool:
    """True when key or value ``name`` matches one glob component (case-insensitive)."""
    return _component_regex(pattern).fullmatch(upcase(name)) is not None


__all__ = ["candidates", "display", "glob", "is_glob", "match", "resolve", "split_path"]
