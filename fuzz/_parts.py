"""Several byte strings in one fuzz input (no atheris needed: the seed writer uses it)."""

from __future__ import annotations


def split_parts(data: bytes, n: int) -> list[bytes]:
    """Split one fuzz input into ``n`` byte strings: each but the last is prefixed by its
    length (u32 little-endian), the last takes the rest. :func:`join_parts` is the
    inverse the seed writer uses."""
    parts = []
    pos = 0
    for _ in range(n - 1):
        size = int.from_bytes(data[pos : pos + 4], "little")
        pos += 4
        parts.append(data[pos : pos + size])
        pos += size
    parts.append(data[pos:])
    return parts


def join_parts(parts: list[bytes]) -> bytes:
    """The fuzz input that :func:`split_parts` splits back into ``parts``."""
    out = b"".join(len(p).to_bytes(4, "little") + p for p in parts[:-1])
    return out + parts[-1]
