"""Pure-Python twin of the C accelerator: the executable specification.

Every function here has a C counterpart in ``csrc/regf_accel.c`` that must return the
same result for every input (``tests/test_accel_parity.py`` checks this with hypothesis).
Keep these functions simple and obviously right; speed is the C side's job.
"""

from __future__ import annotations

import struct
from array import array
from sys import byteorder

from .upcase_table import UPCASE

#: Marvin32 seed Windows uses for HvLE log-entry hashes (format.md section 7).
REGISTRY_SEED = 0x82EF4D887A4E55C5

_M32 = 0xFFFFFFFF

# str.translate table: BMP code points only. Astral characters are two surrogate code
# units on disk, and Windows upper-cases per code unit, leaving surrogates unchanged, so
# leaving astral code points alone is exactly right.
_TRANSLATE = {src: dst for src, dst in UPCASE.items()}


def checksum(base_block: bytes | bytearray | memoryview) -> int:
    """XOR-32 of the first 508 bytes of a base block, with Windows' 0 / -1 rules.

    A stored checksum can never be 0 or 0xFFFFFFFF: Windows maps -1 to -2 and 0 to 1.
    """
    if len(base_block) < 508:
        raise ValueError("base block shorter than 508 bytes")
    c = 0
    for (w,) in struct.iter_unpack("<I", bytes(base_block[:508])):
        c ^= w
    if c == 0xFFFFFFFF:
        return 0xFFFFFFFE
    if c == 0:
        return 1
    return c


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def marvin32(data: bytes | bytearray | memoryview, seed: int = REGISTRY_SEED) -> int:
    """Marvin32 (SymCrypt) of ``data`` with a 64-bit ``seed``; returns the u64 result."""
    s0 = seed & _M32
    s1 = (seed >> 32) & _M32
    buf = bytes(data)
    n = len(buf) & ~3

    def mix(s0: int, s1: int) -> tuple[int, int]:
        s1 ^= s0
        s0 = _rotl(s0, 20)
        s0 = (s0 + s1) & _M32
        s1 = _rotl(s1, 9)
        s1 ^= s0
        s0 = _rotl(s0, 27)
        s0 = (s0 + s1) & _M32
        s1 = _rotl(s1, 19)
        return s0, s1

    for (w,) in struct.iter_unpack("<I", buf[:n]):
        s0 = (s0 + w) & _M32
        s0, s1 = mix(s0, s1)
    rest = buf[n:]
    # Tail: the remaining 0-3 bytes, then a 0x80 terminator byte, as one LE word.
    t = int.from_bytes(rest + b"\x80", "little")
    s0 = (s0 + t) & _M32
    s0, s1 = mix(s0, s1)
    s0, s1 = mix(s0, s1)
    return (s1 << 32) | s0


def upcase(name: str) -> str:
    """Upper-case ``name`` per UTF-16 code unit with Windows' table (not ``str.upper``)."""
    return name.translate(_TRANSLATE)


def _units(name: str) -> array[int]:
    a = array("H", name.encode("utf-16-le", "surrogatepass"))
    if byteorder == "big":  # pragma: no cover - no big-endian CI machine
        a.byteswap()
    return a


def name_hash(name: str) -> int:
    """The ``lh`` leaf hash: ``h = h*37 + upcase(unit)`` over UTF-16 code units, mod 2^32."""
    h = 0
    for u in _units(upcase(name)):
        h = (h * 37 + u) & _M32
    return h


def sort_key(name: str) -> bytes:
    """A bytes key that orders names as Windows orders subkeys.

    Windows compares upper-cased names per unsigned 16-bit code unit, shorter first when
    one is a prefix of the other. Big-endian UTF-16 bytes compare exactly that way
    (Python's own ``str`` order would put astral characters above U+E000..U+FFFF).
    """
    return upcase(name).encode("utf-16-be", "surrogatepass")
