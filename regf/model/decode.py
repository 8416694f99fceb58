"""Decoding value data by type. Never raises: real hives hold short DWORDs, odd-length
and unterminated strings, ASCII inside MULTI_SZ (fmt §4.3, libregf scenarios)."""

from __future__ import annotations

from ..format.constants import ValueType

_STRING_TYPES = (ValueType.REG_SZ, ValueType.REG_EXPAND_SZ, ValueType.REG_LINK)


def utf16(raw: bytes) -> str:
    """UTF-16LE text, odd trailing byte dropped, lone surrogates kept (surrogatepass)."""
    if len(raw) % 2:
        raw = raw[:-1]
    return raw.decode("utf-16-le", "surrogatepass")


def decode_sz(raw: bytes) -> str:
    """A REG_SZ: text up to the first NUL (data after it is junk Windows ignores)."""
    s = utf16(raw)
    nul = s.find("\0")
    return s if nul < 0 else s[:nul]


def decode_multi_sz(raw: bytes) -> list[str]:
    """A REG_MULTI_SZ: strings separated by NUL, list ended by an extra NUL.

    Strip the list terminator and the last string's terminator (each only if present),
    so ``a\\0bb\\0\\0`` -> ``["a", "bb"]`` and an empty trailing string survives as "".
    """
    s = utf16(raw)
    if s.endswith("\0"):
        s = s[:-1]
    if s.endswith("\0"):
        s = s[:-1]
    return s.split("\0") if s else []


def decode(vtype: int, raw: bytes) -> str | list[str] | int | bytes:
    """Decode ``raw`` by ``vtype``: str, list[str], int or bytes (unknown types)."""
    if vtype in _STRING_TYPES:
        return decode_sz(raw) if vtype != ValueType.REG_LINK else utf16(raw)
    if vtype == ValueType.REG_MULTI_SZ:
        return decode_multi_sz(raw)
    if vtype == ValueType.REG_DWORD:
        return int.from_bytes(raw[:4], "little")
    if vtype == ValueType.REG_DWORD_BIG_ENDIAN:
        # A short big-endian DWORD is left-aligned: b"\x2a" means 0x2a000000.
        return int.from_bytes(raw[:4].ljust(4, b"\0"), "big")
    if vtype == ValueType.REG_QWORD:
        return int.from_bytes(raw[:8], "little")
    return bytes(raw)
