"""Plain, in-memory descriptions of a hive tree, used to build a hive from scratch.

A :class:`KeySpec` tree is what :func:`regf.model.serialize.serialize` turns into a
complete hive file. Specs are deliberately dumb data: names are Python ``str`` (unpaired
surrogates allowed, they are written with ``surrogatepass``), value data is the raw bytes
exactly as stored on disk, and nothing here knows about cells or offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..format.constants import ValueType


@dataclass
class ValueSpec:
    """One value: its name (``""`` is the default value), REG_* type and raw data bytes."""

    name: str
    type: int = ValueType.REG_BINARY
    raw: bytes = b""


@dataclass
class KeySpec:
    """One key and, recursively, its subtree.

    ``flags`` holds *extra* nk flags (e.g. ``KEY_SYM_LINK``, the Vista+ virtualization
    bits or the old user-flag nibble 0xF000); the writer computes ``KEY_COMP_NAME`` and the
    root's ``KEY_HIVE_ENTRY | KEY_NO_DELETE`` itself. ``user_flags`` / ``virt_flags`` /
    ``debug`` fill the packed dword at nk +0x34 (fmt §5.1). ``security`` is a self-relative
    SECURITY_DESCRIPTOR; ``None`` means the writer's default descriptor. ``class_name``
    ``None`` and ``""`` both mean "no class".
    """

    name: str
    class_name: str | None = None
    last_written: int = 0
    flags: int = 0
    security: bytes | None = None
    values: list[ValueSpec] = field(default_factory=list)
    subkeys: list[KeySpec] = field(default_factory=list)
    user_flags: int = 0
    virt_flags: int = 0
    debug: int = 0


__all__ = ["KeySpec", "ValueSpec"]
