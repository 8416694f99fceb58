"""Layout.pick / Layout.span and fast.u32_array: multi-field readers derived from the
Construct declarations (used by regf/cells and regf/model instead of format strings)."""

from __future__ import annotations

import struct

import pytest

from regf.format import structs as S
from regf.format.fast import NK_L, VK_L, u32_array


def test_pick_reads_scattered_fields_from_the_record_start() -> None:
    rec = S.KeyValue.build(
        {"name_length": 3, "data_size": 9, "data": 7, "type": 4, "flags": 1, "spare": 0,
         "name": b"abc"}
    )  # fmt: skip
    st = VK_L.pick("flags", "name_length")  # order given does not matter
    assert st.unpack_from(rec, 0) == (3, 1)
    assert st.size == VK_L.offset("flags") + 2
    assert VK_L.pick("name_length", "flags") is st  # cached


def test_span_reads_and_writes_a_run_of_fields() -> None:
    rec = bytearray(S.KeyValue.build(
        {"name_length": 0, "data_size": 9, "data": 7, "type": 4, "flags": 0, "spare": 0,
         "name": b""}
    ))  # fmt: skip
    st = VK_L.span("data_size", "type")
    at = VK_L.offset("data_size")
    assert st.unpack_from(rec, at) == (9, 7, 4)
    st.pack_into(rec, at, 1, 2, 3)
    parsed = S.KeyValue.parse(bytes(rec))
    assert (parsed.data_size, parsed.data, parsed.type) == (1, 2, 3)
    with pytest.raises(ValueError):
        NK_L.span("value_list", "value_count")


def test_pick_of_the_nk_counts_matches_the_declaration() -> None:
    st = NK_L.pick("subkey_count", "volatile_subkey_count", "subkey_list", "volatile_subkey_list")
    values = {"subkey_count": 5, "volatile_subkey_count": 6, "subkey_list": 0x20,
              "volatile_subkey_list": 0x28}  # fmt: skip
    buf = bytearray(NK_L.size)
    for name, v in values.items():
        NK_L.field(name).pack_into(buf, 0, v)
    assert st.unpack_from(buf, 0) == tuple(values.values())


def test_u32_array() -> None:
    data = struct.pack("<3I", 1, 2, 0xFFFFFFFF)
    assert u32_array(3).unpack_from(data, 0) == (1, 2, 0xFFFFFFFF)
    assert u32_array(3) is u32_array(3)
    assert u32_array(0).size == 0
