"""Every declared record round-trips (parse -> build -> same bytes, sizeof), and the
fast-path struct twins agree with the Construct declarations field by field."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regf.errors import FormatError, SignatureError, TruncatedError
from regf.format import codec, fast
from regf.format import structs as S


def _roundtrip(struct: object, data: bytes) -> None:
    obj = codec.parse(struct, data)
    assert codec.build(struct, obj) == data


FIXED = [
    (S.BaseBlock, b"regf", 4096),
    (S.BaseBlockHead, b"regf", 512),
    (S.HbinHeader, b"hbin", 32),
    (S.LogEntryHeader, b"HvLE", 40),
    (S.BigData, b"db", 8),
    (S.CellHeader, b"", 4),
]


@pytest.mark.parametrize(("struct", "sig", "size"), FIXED, ids=lambda x: getattr(x, "name", None))
def test_fixed_size_and_roundtrip(struct: object, sig: bytes, size: int) -> None:
    assert struct.sizeof() == size  # type: ignore[attr-defined]
    data = sig + os.urandom(size - len(sig))
    _roundtrip(struct, data)


@given(st.binary(min_size=0, max_size=40), st.binary(min_size=72, max_size=72))
def test_nk_roundtrip(name: bytes, fixed: bytes) -> None:
    data = b"nk" + fixed[:0x46] + len(name).to_bytes(2, "little") + fixed[0x46:0x48] + name
    assert len(data) == 0x4C + len(name)
    _roundtrip(S.KeyNode, data)


@given(st.binary(max_size=30), st.binary(min_size=16, max_size=16))
def test_vk_roundtrip(name: bytes, fixed: bytes) -> None:
    data = b"vk" + len(name).to_bytes(2, "little") + fixed + name
    _roundtrip(S.KeyValue, data)


@given(st.binary(max_size=64), st.binary(min_size=14, max_size=14))
def test_sk_roundtrip(sd: bytes, fixed: bytes) -> None:
    data = b"sk" + fixed[:14] + len(sd).to_bytes(4, "little") + sd
    _roundtrip(S.KeySecurity, data)


@given(st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_lists_roundtrip(cells: list[int]) -> None:
    body = b"".join(c.to_bytes(4, "little") for c in cells)
    n = len(cells).to_bytes(2, "little")
    _roundtrip(S.IndexLeaf, b"li" + n + body)
    _roundtrip(S.IndexRoot, b"ri" + n + body)
    pairs = b"".join(c.to_bytes(4, "little") * 2 for c in cells)
    _roundtrip(S.HashLeaf, b"lh" + n + pairs)
    _roundtrip(S.FastLeaf, b"lf" + n + pairs)
    assert S.value_list(len(cells)).sizeof() == 4 * len(cells)
    _roundtrip(S.value_list(len(cells)), body)
    _roundtrip(S.segment_list(len(cells)), body)


@given(st.integers(1, 4), st.binary(min_size=0, max_size=0))
def test_log_entry_and_dirt(pages: int, _: bytes) -> None:
    head = b"HvLE" + os.urandom(16) + pages.to_bytes(4, "little") + os.urandom(16)
    refs = os.urandom(8 * pages)
    _roundtrip(S.LogEntryHeader, head)
    for i in range(pages):
        _roundtrip(S.PageReference, refs[8 * i : 8 * i + 8])
    d = S.dirt_vector(4096 * 16)
    data = b"DIRT" + b"\xff\x00" * 8
    obj = codec.parse(d, data)
    assert obj.sectors == 128 and codec.build(d, obj) == data


def test_codec_errors_are_regf_errors_with_offset() -> None:
    with pytest.raises(SignatureError) as e:
        codec.parse(S.HbinHeader, b"xbin" + bytes(28), 0x1000)
    assert e.value.offset == 0x1000
    with pytest.raises(TruncatedError):
        codec.parse(S.KeyNode, b"nk" + bytes(10), 5)
    assert issubclass(TruncatedError, FormatError)


TWINS = [
    (fast.NK, fast.NK_FIELDS, S.KeyNode, 0x4C, b"nk"),
    (fast.VK, fast.VK_FIELDS, S.KeyValue, 0x14, b"vk"),
    (fast.SK, fast.SK_FIELDS, S.KeySecurity, 0x14, b"sk"),
    (fast.HBIN, fast.HBIN_FIELDS, S.HbinHeader, 32, b"hbin"),
    (fast.DB, fast.DB_FIELDS, S.BigData, 8, b"db"),
    (fast.BASE_HEAD, fast.BASE_FIELDS, S.BaseBlockHead, 512, b"regf"),
    (fast.HVLE, fast.HVLE_FIELDS, S.LogEntryHeader, 40, b"HvLE"),
]


@pytest.mark.parametrize("twin", TWINS, ids=lambda t: t[4].decode())
@given(data=st.data())
def test_fast_twins_match_construct(twin: tuple, data: st.DataObject) -> None:  # type: ignore[type-arg]
    st_, fields, cons, size, sig = twin
    assert st_.size == size
    raw = bytearray(sig + data.draw(st.binary(min_size=size - len(sig), max_size=size - len(sig))))
    # Variable tails (names, descriptors) are empty so the construct parse is exact.
    if sig == b"nk":
        raw[0x48:0x4A] = b"\0\0"
    elif sig == b"vk":
        raw[2:4] = b"\0\0"
    elif sig == b"sk":
        raw[0x10:0x14] = b"\0\0\0\0"
    c = codec.parse(cons, bytes(raw))
    vals = st_.unpack_from(raw)
    assert len(vals) == len(fields)
    for name, v in zip(fields, vals, strict=True):
        if name == "signature":
            continue
        assert c[name] == v, name
