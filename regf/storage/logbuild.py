"""Build dirty hive + transaction log sets from two clean images (for tests and fuzzing).

:func:`dirty_set` takes the hive as it is on disk (``before``) and the hive it must
become (``after``), both complete clean images, and returns a dirty primary plus the log
files a writer would have left if it crashed right after writing its logs: every page
(new format, HvLE, fmt §6.3) or 512-byte sector (old format, DIRT, fmt §6.2) where the
two hive-bins areas differ. Recovery of that set must give ``after``'s hive bins
exactly. Pure bytes in, bytes out: nothing here touches a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._accel import checksum, marvin32
from ..errors import InvalidArgumentError
from ..format.constants import FILE_TYPE_LOG_NEW, FILE_TYPE_LOG_OLD
from ..format.fast import BASE_L, HVLE_L, PAGE_REF_L
from ..format.structs import HVLE_HEADER_SIZE, LOG_BASE_BLOCK_SIZE

BASE = 4096
PAGE = 4096
SECTOR = 512
_M32 = 0xFFFFFFFF

LogFormat = Literal["new", "old"]


@dataclass
class DirtySet:
    """A dirty primary and its logs (``{"LOG1": bytes, "LOG2": bytes}``).

    ``expected_bins`` is what recovery must produce after the 4096-byte base block;
    ``dirty`` lists the hive-bins offsets the logs carry (pages or sectors).
    """

    primary: bytes
    logs: dict[str, bytes]
    expected_bins: bytes
    format: LogFormat
    dirty: list[int] = field(default_factory=list)


def _u32(buf: bytes | bytearray, name: str) -> int:
    return int(BASE_L.field(name).unpack_from(buf, 0))


def _set(buf: bytearray, name: str, value: int) -> None:
    BASE_L.field(name).pack_into(buf, 0, value & _M32)


def _seal(head: bytearray) -> bytes:
    """The 512-byte base block ``head`` with its checksum recomputed."""
    _set(head, "checksum", checksum(bytes(head[:SECTOR])))
    return bytes(head)


def _log_head(after: bytes, seq: int, file_type: int) -> bytearray:
    head = bytearray(after[:LOG_BASE_BLOCK_SIZE])
    _set(head, "seq1", seq)
    _set(head, "seq2", seq)
    _set(head, "file_type", file_type)
    return head


def _diff(before: bytes, after: bytes, unit: int) -> list[int]:
    """Hive-bins offsets of the ``unit``-sized blocks where ``after`` differs."""
    n = len(after) - BASE
    out = []
    for off in range(0, n, unit):
        a = after[BASE + off : BASE + off + unit]
        b = before[BASE + off : BASE + off + unit]
        if a != b.ljust(len(a), b"\0"):
            out.append(off)
    return out


def hvle_entry(after: bytes, pages: list[int], sequence: int) -> bytes:
    """One HvLE entry carrying ``after``'s pages at hive-bins offsets ``pages``."""
    hbins = len(after) - BASE
    refs = bytearray(PAGE_REF_L.size * len(pages))
    for i, off in enumerate(pages):
        PAGE_REF_L.field("offset").pack_into(refs, i * PAGE_REF_L.size, off)
        PAGE_REF_L.field("size").pack_into(refs, i * PAGE_REF_L.size, PAGE)
    body = bytes(refs) + b"".join(after[BASE + p : BASE + p + PAGE] for p in pages)
    size = HVLE_HEADER_SIZE + len(body)
    pad = -size % SECTOR
    body += bytes(pad)
    size += pad
    head = bytearray(HVLE_HEADER_SIZE)
    hv = HVLE_L
    hv.field("signature").pack_into(head, 0, b"HvLE")
    hv.field("size").pack_into(head, 0, size)
    hv.field("flags").pack_into(head, 0, _u32(after, "flags") & 1)
    hv.field("sequence").pack_into(head, 0, sequence & _M32)
    hv.field("hbins_size").pack_into(head, 0, hbins)
    hv.field("page_count").pack_into(head, 0, len(pages))
    # Hash-1 covers everything after the header; hash-2 the first 32 bytes, hash-1 included.
    hv.field("hash1").pack_into(head, 0, marvin32(body))
    hv.field("hash2").pack_into(head, 0, marvin32(bytes(head[: hv.offset("hash2")])))
    return bytes(head) + body


def _dirt_log(after: bytes, sectors: list[int], seq: int) -> bytes:
    hbins = len(after) - BASE
    head = _log_head(after, seq, FILE_TYPE_LOG_OLD)
    bitmap = bytearray(hbins // PAGE)  # one bit per 512-byte sector, LSB first
    for off in sectors:
        i = off // SECTOR
        bitmap[i >> 3] |= 1 << (i & 7)
    vector = b"DIRT" + bytes(bitmap)
    vector += bytes(-(SECTOR + len(vector)) % SECTOR)
    data = b"".join(after[BASE + s : BASE + s + SECTOR] for s in sectors)
    return _seal(head) + vector + data


def dirty_set(
    before: bytes, after: bytes, fmt: LogFormat = "new", *, split: bool = False
) -> DirtySet:
    """A dirty primary (``before``'s bins) with logs that recover ``after``'s bins.

    ``fmt`` "new" writes HvLE entries (with ``split``, the dirty pages go in two entries,
    the second one in LOG2 continuing LOG1's sequence); "old" writes a DIRT log to LOG1
    and leaves LOG2 empty. The primary's base block is ``after``'s with Seq1 one ahead
    of Seq2 (the crash point of a flush) and ``before``'s hive-bins size.
    """
    if fmt not in ("new", "old"):
        raise InvalidArgumentError(f"log format {fmt!r} is not 'new' or 'old'")
    for name, img in (("before", before), ("after", after)):
        if len(img) < BASE + PAGE or (len(img) - BASE) % PAGE:
            raise InvalidArgumentError(f"{name} is not a whole hive image ({len(img)} bytes)")
    seq = _u32(before, "seq2")
    primary = bytearray(after[:BASE])
    _set(primary, "seq1", seq + 1)
    _set(primary, "seq2", seq)
    _set(primary, "hbins_size", len(before) - BASE)
    _set(primary, "file_type", 0)
    primary[:SECTOR] = _seal(primary[:SECTOR])
    primary += before[BASE:]
    if fmt == "old":
        sectors = _diff(before, after, SECTOR)
        if not sectors:
            raise InvalidArgumentError("before and after have the same hive bins")
        # The log must not be older than the primary (its timestamp is compared).
        return DirtySet(
            bytes(primary),
            {"LOG1": _dirt_log(after, sectors, seq + 1), "LOG2": b""},
            after[BASE:],
            "old",
            sectors,
        )
    pages = _diff(before, after, PAGE)
    if not pages:
        raise InvalidArgumentError("before and after have the same hive bins")
    parts = [pages[: len(pages) // 2], pages[len(pages) // 2 :]] if split else [pages]
    parts = [p for p in parts if p]
    logs = {"LOG1": b"", "LOG2": b""}
    for i, part in enumerate(parts):
        head = _log_head(after, seq + i, FILE_TYPE_LOG_NEW)
        logs[f"LOG{i + 1}"] = _seal(head) + hvle_entry(after, part, seq + i)
    return DirtySet(bytes(primary), logs, after[BASE:], "new", pages)


__all__ = ["DirtySet", "LogFormat", "dirty_set", "hvle_entry"]
