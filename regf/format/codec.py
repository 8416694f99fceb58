"""The one place where Construct errors become regf errors.

Everything in regf that parses or builds a declared record goes through :func:`parse`
or :func:`build`, so a malformed record always surfaces as a :class:`~regf.errors.RegfError`
subclass carrying the absolute file offset, never as a ``construct`` exception.
"""

from __future__ import annotations

from typing import Any

from construct import ConstError, ConstructError, Container, StreamError

from ..errors import FormatError, SignatureError, TruncatedError


def parse(
    struct: Any, data: bytes | bytearray | memoryview, offset: int | None = None, what: str = ""
) -> Container:
    """Parse ``data`` with ``struct``; ``offset`` is the file offset of ``data[0]``."""
    label = what or getattr(struct, "name", None) or "record"
    try:
        return struct.parse(bytes(data))
    except ConstError as exc:
        raise SignatureError(f"bad {label} signature ({exc.path})", offset) from None
    except StreamError as exc:
        raise TruncatedError(f"{label} truncated ({exc.path})", offset) from None
    except ConstructError as exc:
        raise FormatError(f"malformed {label}: {exc}", offset) from None


def build(struct: Any, obj: Any, what: str = "") -> bytes:
    """Build bytes from ``obj``; errors mean a regf bug or bad caller input."""
    label = what or getattr(struct, "name", None) or "record"
    try:
        return bytes(struct.build(obj))
    except ConstructError as exc:
        raise FormatError(f"cannot build {label}: {exc}") from None


__all__ = ["build", "parse"]
