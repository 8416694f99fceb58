"""The fast readers are derived from the Construct declarations, field by field."""

from __future__ import annotations

import os

import construct as cs
import pytest

from regf.format import fast, layout
from regf.format import structs as S


@pytest.mark.parametrize(
    ("lay", "con"),
    [
        (fast.NK_L, S.KeyNode),
        (fast.VK_L, S.KeyValue),
        (fast.SK_L, S.KeySecurity),
        (fast.HBIN_L, S.HbinHeader),
        (fast.DB_L, S.BigData),
        (fast.BASE_L, S.BaseBlockHead),
        (fast.HVLE_L, S.LogEntryHeader),
    ],
    ids=lambda x: getattr(x, "name", None),
)
def test_layout_offsets_match_construct(lay: layout.Layout, con: cs.Struct) -> None:
    # Each field's offset and value, read through the layout, equal Construct's parse
    # of the same random record (the signature is fixed so Const accepts it).
    sig = lay.field("signature").unpack_from(b"\0" * 64)  # width only
    data = bytearray(os.urandom(lay.size + 64))
    const = next(s for s in con.subcons if s.name == "signature").subcon.value
    data[: len(sig)] = const
    if "name_length" in lay.names:
        lay.field("name_length").pack_into(data, 0, 3)
    if "descriptor_length" in lay.names:
        lay.field("descriptor_length").pack_into(data, 0, 5)
    parsed = con.parse(bytes(data))
    for f in lay:
        assert f.unpack_from(data) == parsed[f.name], f.name
    assert lay.as_dict(data) == {n: parsed[n] for n in lay.names}


def test_known_offsets() -> None:
    # Spot checks against the format notes (fmt §1, §5.1, §5.2): these are facts, so a
    # declaration edited by mistake fails here.
    assert fast.NK.size == 0x4C
    assert fast.NK_L.offset("subkey_count") == 0x14
    assert fast.NK_L.offset("security") == 0x2C
    assert fast.VK.size == 0x14
    assert fast.VK_L.offset("type") == 0x0C
    assert fast.BASE_L.offset("checksum") == 0x1FC
    assert fast.BASE_L.offset("hbins_size") == 0x28
    assert fast.HVLE.size == S.HVLE_HEADER_SIZE
    assert fast.HBIN.size == S.HBIN_HEADER_SIZE


def test_variable_field_ends_the_head() -> None:
    con = cs.Struct("a" / cs.Int16ul, "n" / cs.Bytes(cs.this.a), "b" / cs.Int32ul)
    lay = layout.layout(con)
    assert lay.names == ["a"]
    with pytest.raises(KeyError, match="no fixed field 'b'"):
        lay.field("b")


def test_nested_structs_flatten() -> None:
    inner = cs.Struct("x" / cs.Int32ul, "y" / cs.Int64ul)
    con = cs.Struct("h" / inner, "z" / cs.Bytes(3))
    lay = layout.layout(con)
    assert lay.names == ["h.x", "h.y", "z"]
    assert lay.offset("z") == 12
    assert lay.struct.format == "<IQ3s"
