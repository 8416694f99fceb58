"""Values of regf.contrib.dfwinreg: dfwinreg's REGFWinRegistryValue on a regf.Value.

``data`` is the stored bytes; ``GetDataAsObject`` converts them the way dfwinreg on
pyregf does (checked on the whole corpus by tests/test_contrib_dfwinreg_peer.py and on
constructed values by tests/test_contrib_dfwinreg.py).
"""

from __future__ import annotations

from typing import Any, Literal

from dfwinreg import definitions
from dfwinreg import errors as dfwinreg_errors
from dfwinreg import regf as dfwinreg_regf

import regf
from regf.format.fast import CELL_HEADER

# pyregf (and so dfwinreg) reports the offset of the nk/vk record, after its cell size
# (CELL_HEADER bytes).
_STRING_TYPES = frozenset((definitions.REG_SZ, definitions.REG_EXPAND_SZ, definitions.REG_LINK))
_INTEGER_SIZES = {
    definitions.REG_DWORD: 4,
    definitions.REG_DWORD_BIG_ENDIAN: 4,
    definitions.REG_QWORD: 8,
}


def _utf16_text(raw: bytes) -> str | None:
    """REG_SZ text: UTF-16LE up to the first NUL (the terminator or junk after it).

    None for odd-length data without a NUL: not UTF-16 text (e.g. ASCII stored as
    REG_SZ), which pyregf refuses too. An odd byte after the terminator is junk.
    """
    text = raw[: len(raw) & ~1].decode("utf-16-le", "surrogatepass")
    nul = text.find("\0")
    if nul >= 0:
        return text[:nul]
    return None if len(raw) % 2 else text


def _multi_strings(raw: bytes) -> list[str]:
    """REG_MULTI_SZ as pyregf reads it: NUL-terminated strings up to the first empty one.

    An empty string is the list terminator, an unterminated tail is dropped, and an odd
    last byte is ignored: ``a\\0b\\0\\0`` and ``a\\0b`` are ``["a", "b"]`` and ``["a"]``.
    """
    out = []
    for text in raw[: len(raw) & ~1].decode("utf-16-le", "surrogatepass").split("\0")[:-1]:
        if not text:
            break
        out.append(text)
    return out


def integer_data(data_type: int, raw: bytes) -> int | None:
    """A DWORD / DWORD_BIG_ENDIAN / QWORD from its first 4 / 4 / 8 bytes (None if short).

    Signed, as dfwinreg's backends all give it (pyregf, and its fake backend's
    ``int32le``/``int64le`` maps): a stored 0xFFFFFFFF is -1. Longer data is read from
    its first bytes and shorter data refused, as pyregf does.
    """
    size = _INTEGER_SIZES.get(data_type)
    if size is None or len(raw) < size:
        return None
    order: Literal["big", "little"] = (
        "big" if data_type == definitions.REG_DWORD_BIG_ENDIAN else "little"
    )
    return int.from_bytes(raw[:size], order, signed=True)


class REGFWinRegistryValue(dfwinreg_regf.REGFWinRegistryValue):
    """A Windows Registry value read with regf (``pyregf_value`` is a :class:`regf.Value`)."""

    def __init__(self, pyregf_value: regf.Value) -> None:
        # dfwinreg.interface.WinRegistryValue has no state of its own to set up.
        self._regf_value = pyregf_value
        self._raw: bytes | None = None
        self._type: int | None = None

    @property
    def _pyregf_value(self) -> regf.Value:
        return self._regf_value

    def _Raw(self) -> bytes:
        raw = self._raw
        if raw is None:
            try:
                raw = self._raw = self._regf_value.raw
            except regf.RegfError as exc:
                raise dfwinreg_errors.WinRegistryValueError(
                    f"Unable to read data from value: {self._regf_value.name:s} with error: {exc!s}"
                ) from exc
        return raw

    @property
    def data(self) -> bytes | None:
        """The stored data bytes; None when empty (as dfwinreg with pyregf)."""
        raw = self._raw
        return (raw if raw is not None else self._Raw()) or None

    @property
    def data_type(self) -> int:
        """The REG_* type number."""
        data_type = self._type
        if data_type is None:
            # The walk's plain int when there, else the ValueType (an IntEnum call).
            value = self._regf_value
            data_type = getattr(value, "type_", None)
            self._type = data_type = int(value.type if data_type is None else data_type)
        return data_type

    @property
    def name(self) -> str | None:
        """The value's name; None for the default value (as pyregf)."""
        return self._regf_value.name or None

    @property
    def offset(self) -> int:
        """File offset of the vk record (as pyregf: after the cell size)."""
        return self._regf_value.offset + CELL_HEADER

    def GetDataAsObject(self) -> Any:
        """The data as str, int, list[str] or bytes, read as dfwinreg with pyregf does.

        Strings are the text before the first NUL, integers signed; empty data is None,
        except for integer and multi-string types, which (like odd-length strings and
        integers shorter than their type) raise WinRegistryValueError.
        """
        raw = self._Raw()
        data_type = self.data_type
        problem = None
        if data_type in _STRING_TYPES:
            if not raw:
                return None
            text = _utf16_text(raw)
            if text is not None:
                return text
            problem = f"{len(raw)} bytes without a NUL is not UTF-16 text"
        elif data_type in _INTEGER_SIZES:
            number = integer_data(data_type, raw)
            if number is not None:
                return number
            problem = f"{len(raw)} bytes of data is too short for the type"
        elif data_type == definitions.REG_MULTI_SZ:
            if raw:
                return _multi_strings(raw)
            problem = "no data"
        else:
            return raw or None
        raise dfwinreg_errors.WinRegistryValueError(
            f"Unable to read data from value: {self._regf_value.name:s} with error: {problem}"
        )


__all__ = ["CELL_HEADER", "REGFWinRegistryValue", "integer_data"]
