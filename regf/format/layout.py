"""Fixed-size views of the Construct declarations: ``struct.Struct`` plus field offsets.

The Construct records in :mod:`regf.format.structs` are the only place a layout is
spelled. Hot paths cannot afford Construct per cell, so this module derives, at import
time, what they need from those declarations:

* :func:`layout` turns the fixed-size head of a Construct ``Struct`` (every field up to
  the first one whose size depends on the data) into a :class:`Layout`: one
  ``struct.Struct`` for the whole head, the field names in order, each field's offset,
  and a one-field ``struct.Struct`` per scalar field for reads and writes in place.
* Code outside ``regf/format/`` asks a layout for ``offset("subkey_count")`` or
  ``field("subkey_count").unpack_from(buf, cell)`` instead of writing ``0x14`` or
  ``"<I"`` itself.

Only little-endian integers, fixed ``Bytes``, ``Const`` byte strings and nested fixed
``Struct``s are fixed-size here; anything else ends the head. That is the whole set the
regf format uses for its fixed parts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import construct as cs

# Construct's integer singletons and the struct codes they stand for (all little-endian).
_INT_CODES: dict[int, str] = {
    id(cs.Int8ul): "B",
    id(cs.Int16ul): "H",
    id(cs.Int32ul): "I",
    id(cs.Int64ul): "Q",
    id(cs.Int8sl): "b",
    id(cs.Int16sl): "h",
    id(cs.Int32sl): "i",
    id(cs.Int64sl): "q",
}


@dataclass(frozen=True)
class FieldView:
    """One field of a layout: its name, offset in the record and a one-field reader."""

    name: str
    offset: int
    size: int
    code: str
    #: A ``struct.Struct`` for this field alone (``"<I"``, ``"<16s"``, ...).
    struct: struct.Struct

    def unpack_from(self, buf: Any, base: int = 0) -> Any:
        """The field's value in the record that starts at ``base`` of ``buf``."""
        return self.struct.unpack_from(buf, base + self.offset)[0]

    def pack_into(self, buf: Any, base: int, value: Any) -> None:
        """Write the field's value into the record that starts at ``base`` of ``buf``."""
        self.struct.pack_into(buf, base + self.offset, value)


#: ``struct.Struct`` under a name the ``struct`` field of :class:`Layout` cannot shadow.
_Struct = struct.Struct


@dataclass(frozen=True)
class Layout:
    """The fixed-size head of a Construct record, as ``struct`` can read it."""

    name: str
    #: The whole head: ``struct.unpack_from(buf, start)`` gives every field in order.
    struct: struct.Struct
    fields: tuple[FieldView, ...]
    _by_name: dict[str, FieldView] = field(repr=False, compare=False)
    _picks: dict[tuple[str, ...], _Struct] = field(default_factory=dict, repr=False, compare=False)

    @property
    def size(self) -> int:
        """Bytes in the fixed head (where variable-length data, if any, starts)."""
        return self.struct.size

    @property
    def names(self) -> list[str]:
        """Field names in declaration order (the order ``struct`` returns them in)."""
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldView:
        """The named field (KeyError names the layout and the field)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.name} has no fixed field {name!r}") from None

    def offset(self, name: str) -> int:
        """The named field's offset from the start of the record."""
        return self.field(name).offset

    def pick(self, *names: str) -> _Struct:
        """A ``struct.Struct`` reading only the named fields (in offset order), from the
        start of the record: the bytes before and between them are skipped (``x``), so
        ``pick("name_length", "flags").unpack_from(buf, record)`` reads two fields in one
        call. Cached per name tuple."""
        key = tuple(sorted(names, key=self.offset))
        st = self._picks.get(key)
        if st is None:
            parts: list[str] = []
            at = 0
            for n in key:
                f = self.field(n)
                if f.offset < at:
                    raise ValueError(f"{self.name}: field {n!r} overlaps the one before")
                if f.offset > at:
                    parts.append(f"{f.offset - at}x")
                parts.append(f.code)
                at = f.offset + f.size
            st = self._picks[key] = _Struct("<" + "".join(parts))
        return st

    def span(self, first: str, last: str) -> _Struct:
        """A ``struct.Struct`` of the consecutive fields ``first`` .. ``last``, to use at
        ``base + offset(first)``: reads and writes a run of fields in one call."""
        lo, hi = self.fields.index(self.field(first)), self.fields.index(self.field(last))
        if hi < lo:
            raise ValueError(f"{self.name}: {last!r} comes before {first!r}")
        return _Struct("<" + "".join(f.code for f in self.fields[lo : hi + 1]))

    def unpack_from(self, buf: Any, base: int = 0) -> tuple[Any, ...]:
        """Every field of the head at ``base`` of ``buf``, in declaration order."""
        return self.struct.unpack_from(buf, base)

    def as_dict(self, buf: Any, base: int = 0) -> dict[str, Any]:
        """The head at ``base`` as a name -> value dict (for reports, not hot paths)."""
        return dict(zip(self.names, self.struct.unpack_from(buf, base), strict=True))

    def __iter__(self) -> Iterator[FieldView]:
        return iter(self.fields)


def _code_of(sub: Any) -> str | None:
    """The struct code of a fixed-size Construct field, or None when its size varies."""
    code = _INT_CODES.get(id(sub))
    if code is not None:
        return code
    if isinstance(sub, cs.Const):
        value = sub.value
        if isinstance(value, bytes):
            return f"{len(value)}s"
        return _code_of(sub.subcon)
    if isinstance(sub, cs.Bytes):
        length = sub.length
        return f"{length}s" if isinstance(length, int) else None
    if isinstance(sub, cs.Renamed):
        return _code_of(sub.subcon)
    return None


def _flatten(con: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """(name, subcon) pairs of a Struct, nested fixed Structs flattened as ``outer.inner``."""
    for sub in con.subcons:
        name = sub.name
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        if isinstance(inner, cs.Computed):
            continue  # no bytes on disk
        if isinstance(inner, cs.Struct):
            yield from _flatten(inner, f"{prefix}{name}.")
            continue
        yield f"{prefix}{name}", inner


def layout(con: Any, name: str | None = None) -> Layout:
    """Derive the :class:`Layout` of the fixed-size head of Construct ``Struct`` ``con``."""
    codes: list[str] = []
    views: list[FieldView] = []
    offset = 0
    for fname, sub in _flatten(con, ""):
        code = _code_of(sub)
        if code is None:
            break  # first data-dependent field: the fixed head ends here
        one = struct.Struct("<" + code)
        views.append(FieldView(fname, offset, one.size, code, one))
        codes.append(code)
        offset += one.size
    whole = struct.Struct("<" + "".join(codes))
    label = name or getattr(con, "name", None) or "record"
    return Layout(label, whole, tuple(views), {v.name: v for v in views})


__all__ = ["FieldView", "Layout", "layout"]
