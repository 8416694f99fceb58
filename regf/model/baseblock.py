"""The base block of a primary hive as the model reads it (fmt §1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from .._accel import checksum
from ..errors import TruncatedError
from ..format import codec
from ..format.fast import BASE_L, U64
from ..format.structs import BaseBlockHead
from .keys import filetime


@dataclass(frozen=True)
class BaseBlockInfo:
    """The base block's fields (fmt §1), plus derived checks."""

    seq1: int
    seq2: int
    last_written_raw: int
    major: int
    minor: int
    file_type: int
    file_format: int
    root_cell: int
    hbins_size: int
    clustering: int
    file_name: str
    flags: int
    last_reorganized_raw: int
    checksum: int
    checksum_valid: bool
    offreg: bool
    serialization_time_raw: int | None

    @property
    def last_written(self) -> datetime | None:
        """Last written time, or None when zero."""
        return filetime(self.last_written_raw) if self.last_written_raw else None

    @property
    def last_reorganized(self) -> datetime | None:
        """Reorganization time; None unless the low 2 bits say it is one (fmt §1.3)."""
        bits = self.last_reorganized_raw & 3
        if bits in (0, 3) or (self.offreg and self.last_reorganized_raw == 0x6752664F):
            return None
        return filetime(self.last_reorganized_raw & ~3)

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor)."""
        return (self.major, self.minor)

    @property
    def dirty(self) -> bool:
        """Seq1 != Seq2 (data recovery needed) or a bad checksum (header recovery)."""
        return self.seq1 != self.seq2 or not self.checksum_valid


_OFRG = (BASE_L.offset("reserved1"), BASE_L.offset("last_reorganized"))
_SIGNATURE = BaseBlockHead.subcons[0].subcon.value  # b"regf", from the declaration


def parse_base_block(buf: Any) -> BaseBlockInfo:
    """Parse and sanity-check the base block at the start of ``buf``."""
    if len(buf) < BASE_L.size:
        raise TruncatedError(f"file of {len(buf)} bytes is too short for a base block", 0)
    head = bytes(buf[: BASE_L.size])
    if head[:4] != _SIGNATURE:
        codec.parse(BaseBlockHead, head, 0, "base block")  # raises the typed error
    # The signature is the head's only check: the struct reader generated from the same
    # declaration reads the rest (a Construct parse costs ~0.1 ms per open).
    c = SimpleNamespace(**BASE_L.as_dict(head))
    # offreg writes "OfRg" + flags at 0xB0 (6.2+) or at 0xA8 (6.1), fmt §1.4: the
    # reserved area, or the last_reorganized field.
    offreg = any(head[at : at + 4] == b"OfRg" for at in _OFRG)
    ser = None
    # ... and its serialization FILETIME right after the 512-byte head.
    if offreg and len(buf) >= BASE_L.size + U64.size:
        (ser,) = U64.unpack_from(bytes(buf[BASE_L.size : BASE_L.size + U64.size]))
    name = c.file_name.decode("utf-16-le", "replace").split("\0", 1)[0]
    return BaseBlockInfo(
        seq1=c.seq1,
        seq2=c.seq2,
        last_written_raw=c.last_written,
        major=c.major,
        minor=c.minor,
        file_type=c.file_type,
        file_format=c.file_format,
        root_cell=c.root_cell,
        hbins_size=c.hbins_size,
        clustering=c.clustering,
        file_name=name,
        flags=c.flags,
        last_reorganized_raw=c.last_reorganized,
        checksum=c.checksum,
        checksum_valid=checksum(head) == c.checksum,
        offreg=offreg,
        serialization_time_raw=ser,
    )


__all__ = ["BaseBlockInfo", "parse_base_block"]
