"""Exception hierarchy.

Every problem regf detects in a file is a :class:`RegfError` subclass that names the
file offset it concerns, so a forensic user can open a hex editor at the right place.
"""

from __future__ import annotations


class RegfError(Exception):
    """Root of every error regf raises on purpose.

    ``offset`` is the absolute file offset the problem was found at (``None`` when the
    problem is not tied to a place in a file, e.g. a bad argument).
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.message = message
        self.offset = offset
        where = f" at offset {offset:#x}" if offset is not None else ""
        super().__init__(f"{message}{where}")


class FormatError(RegfError):
    """A record does not match its declared layout (bad signature, size, field)."""


class SignatureError(FormatError):
    """A record's magic bytes are wrong."""


class TruncatedError(FormatError):
    """A record or file ends before its declared size."""


class CellError(FormatError):
    """A cell index is out of range, misaligned, free, or points inside another cell."""


class StructureError(FormatError):
    """The hive's structure is inconsistent: cycles, nested index roots, bad counts."""


class DamagedHiveError(StructureError):
    """The hive fails the whole-hive check, so it is not opened for writing.

    ``problems`` lists every problem found (``offset`` is the first one's); open with
    ``repair=True`` (CLI ``--repair``) to edit it anyway.
    """

    def __init__(
        self, message: str, offset: int | None = None, problems: list[object] | None = None
    ) -> None:
        super().__init__(message, offset)
        self.problems = list(problems or [])


class UnsupportedVersionError(FormatError):
    """The hive's version (or clustering factor, or file type) is not supported."""


class ChecksumError(FormatError):
    """The base block checksum does not match."""


class NotFoundError(RegfError, KeyError):
    """A key or value does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return RegfError.__str__(self)


class KeyNotFoundError(NotFoundError):
    """No key at that path."""


class ValueNotFoundError(NotFoundError):
    """No value of that name."""


class RecoveryError(RegfError):
    """Transaction logs could not be applied (corrupt, stale, or not continuing)."""


class HiveStateError(RegfError):
    """The hive is closed, read-only, or poisoned by a failed flush."""


class ReadOnlyError(HiveStateError):
    """A write was attempted on a hive opened read-only."""


class LockedError(RegfError):
    """Another writer holds the hive's lock."""


class InvalidArgumentError(RegfError, ValueError):
    """An argument is not acceptable (bad name, too long, wrong type)."""


class FileKindError(InvalidArgumentError):
    """The path names no hive file: a directory, FIFO, socket or character device (only
    a regular file, or a block device for reading, can hold a hive)."""


__all__ = [
    "CellError",
    "ChecksumError",
    "DamagedHiveError",
    "FileKindError",
    "FormatError",
    "HiveStateError",
    "InvalidArgumentError",
    "KeyNotFoundError",
    "LockedError",
    "NotFoundError",
    "ReadOnlyError",
    "RecoveryError",
    "RegfError",
    "SignatureError",
    "StructureError",
    "TruncatedError",
    "UnsupportedVersionError",
    "ValueNotFoundError",
]
