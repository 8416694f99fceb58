"""The accelerator primitives: spec vectors on both backends, and C == Python parity.

Vectors come from docs/format.md: section 1.2 (checksum), 4.2 (lh name hash, upcasing)
and 7 (Marvin32). The C backend is skipped only when ``REGF_BACKEND=python``; otherwise a
missing extension is a test failure, not a skip.
"""

from __future__ import annotations

import importlib
import os
import struct
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regf._accel import pure
from regf.errors import CellError, FormatError, SignatureError, StructureError, TruncatedError

C_SKIPPED = os.environ.get("REGF_BACKEND", "").strip().lower() == "python"
skip_c = pytest.mark.skipif(C_SKIPPED, reason="REGF_BACKEND=python")


def _cbackend() -> ModuleType:
    return importlib.import_module("regf._accel.cbackend")


@pytest.fixture(
    params=[
        pytest.param("pure", id="python"),
        pytest.param("cbackend", id="c", marks=skip_c),
    ]
)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(f"regf._accel.{request.param}")


# ---------------------------------------------------------------------------------------
# Hive-bins builder for scan_cells / leaf_cells


def _round8(n: int) -> int:
    return (n + 7) & ~7


class Bins:
    """Builds hive-bins data: cells are packed into bins, a new bin when one is full."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.bin_start = 0
        self.pos = 0
        self._open_bin(4096)

    def _open_bin(self, size: int) -> None:
        self.bin_start = len(self.data)
        self.data += b"hbin" + struct.pack("<II", self.bin_start, size) + bytes(20)
        self.data += bytes(size - 32)
        self.pos = self.bin_start + 32

    def _bin_end(self) -> int:
        return self.bin_start + struct.unpack_from("<I", self.data, self.bin_start + 8)[0]

    def _close_bin(self) -> None:
        rest = self._bin_end() - self.pos
        if rest:
            struct.pack_into("<i", self.data, self.pos, rest)  # one free filler cell
            self.pos += rest

    def add(self, payload: bytes, allocated: bool = True) -> int:
        size = max(8, _round8(len(payload) + 4))
        if self.pos + size > self._bin_end():
            self._close_bin()
            self._open_bin((size + 32 + 4095) // 4096 * 4096)
        idx = self.pos
        struct.pack_into("<i", self.data, idx, -size if allocated else size)
        self.data[idx + 4 : idx + 4 + len(payload)] = payload
        self.pos += size
        return idx

    def build(self) -> bytes:
        self._close_bin()
        return bytes(self.data)


def nk() -> bytes:
    return b"nk" + bytes(74)


def leaf(sig: str, members: list[int]) -> bytes:
    out = sig.encode() + struct.pack("<H", len(members))
    for m in members:
        out += struct.pack("<I", m) if sig in ("li", "ri") else struct.pack("<II", m, 0)
    return out


# ---------------------------------------------------------------------------------------
# Spec vectors (format.md), run on every backend


def test_checksum_vectors(impl: ModuleType) -> None:
    assert impl.checksum(b"regf" + bytes(508)) == 0x66676572
    assert impl.checksum(bytes(4096)) == 1  # 0 -> 1
    assert impl.checksum(b"\xff\xff\xff\xff" + bytes(504)) == 0xFFFFFFFE  # -1 -> -2
    block = bytearray(4096)
    block[0:4] = b"regf"
    block[508:512] = b"\xaa\xbb\xcc\xdd"  # bytes 508.. are not summed
    block[600] = 0x55
    assert impl.checksum(block) == 0x66676572
    assert impl.checksum(memoryview(bytes(block))) == 0x66676572
    with pytest.raises(ValueError):
        impl.checksum(bytes(507))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ControlSet001", 0x8F3BA9A2),
        ("Control", 0x55C16481),
        ("Lsa", 0x0001A2AC),
        ("SCHANNEL", 0xC4F5B5A4),
        ("a", 0x00000041),
        ("", 0),
    ],
)
def test_name_hash_vectors(impl: ModuleType, name: str, expected: int) -> None:
    assert impl.name_hash(name) == expected
    assert impl.name_hash(name.lower()) == expected


REGISTRY_SEED = 0x82EF4D887A4E55C5
NET_SEED = 0x004FB61A001BDBCC

MARVIN_VECTORS = [
    # SymCrypt KAT
    (0xD53CD9CECD0893B7, b"abc", 0x22C74339492769BF),
    # .NET
    (NET_SEED, b"", 0x30ED35C100CD3C7D),
    (NET_SEED, bytes.fromhex("af"), 0x48E73FC77D75DDC1),
    (NET_SEED, bytes.fromhex("e70f"), 0xB5F6E1FC485DBFF8),
    (NET_SEED, bytes.fromhex("37f495"), 0xF0B07C789B8CF7E8),
    (NET_SEED, bytes.fromhex("8642dc59"), 0x7008F2E87E9CF556),
    (NET_SEED, bytes.fromhex("153fb79826"), 0xE6C08C6DA2AFA997),
    (NET_SEED, bytes.fromhex("0932e6246c47"), 0x6F04BF1A5EA24060),
    (NET_SEED, bytes.fromhex("ab427ea8d10fc7"), 0xE11847E4F0678C41),
    (0x804FB61A801BDBCC, bytes.fromhex("FF00FF00FF00FF"), 0xFDFD187B1D3CE784),
    # Registry seed: real Windows 10 HvLE entry header (Hash-2 over its first 32 bytes)
    (
        REGISTRY_SEED,
        bytes.fromhex("48764c45005e00000000000002000000005000000100000031e40718666c8667"),
        0xCD44F3CFA7657F02,
    ),
    # Registry seed, computed
    (REGISTRY_SEED, b"", 0xB39EFCA403966E08),
    (REGISTRY_SEED, bytes(8), 0x4E4AE7B5C7F032FD),
    (REGISTRY_SEED, bytes(32), 0xDA91A06AC5359223),
    (REGISTRY_SEED, bytes(range(32)), 0xC64FEEE425C2E24C),
]


@pytest.mark.parametrize(("seed", "data", "expected"), MARVIN_VECTORS)
def test_marvin32_vectors(impl: ModuleType, seed: int, data: bytes, expected: int) -> None:
    assert impl.marvin32(data, seed) == expected
    assert impl.marvin32(bytearray(data), seed) == expected
    if seed == REGISTRY_SEED:
        assert impl.marvin32(data) == expected


def test_registry_seed_constant(impl: ModuleType) -> None:
    assert impl.REGISTRY_SEED == REGISTRY_SEED


def test_upcase_windows_table(impl: ModuleType) -> None:
    assert impl.upcase("abcxyz") == "ABCXYZ"
    assert impl.upcase("\u00ff") == "\u0178"  # ÿ -> Ÿ on Windows
    # Unchanged on Windows although Python upper-cases them:
    for ch in "\u00b5\u0131\u017f\u01c5\u03c2\u0345\u10d0\u00df":
        assert impl.upcase(ch) == ch
    assert impl.upcase("\U00010428") == "\U00010428"  # astral: per code unit, unchanged
    assert impl.upcase("a\ud800b") == "A\ud800B"  # lone surrogate kept
    assert impl.upcase("\ud801\udc28") == "\ud801\udc28"  # two separate code points stay two


def test_sort_key_orders_like_windows(impl: ModuleType) -> None:
    assert impl.sort_key("abc") == "ABC".encode("utf-16-be")
    names = ["b", "A", "ab", "\ue000", "\U00010000", "_", "a"]
    ordered = sorted(names, key=impl.sort_key)
    assert ordered == ["A", "a", "ab", "b", "_", "\U00010000", "\ue000"]


# ---------------------------------------------------------------------------------------
# scan_cells / leaf_cells behaviour, on every backend


def _bits(bitmap: bytearray) -> list[int]:
    return [i * 8 for i in range(len(bitmap) * 8) if bitmap[i >> 3] >> (i & 7) & 1]


def test_scan_cells_valid(impl: ModuleType) -> None:
    b = Bins()
    a = b.add(nk())
    f = b.add(bytes(20), allocated=False)
    c = b.add(bytes(4))
    big = b.add(bytes(6000))  # forces a second, 8192-byte bin
    data = b.build()
    assert len(data) == 4096 + 8192
    bitmap = impl.scan_cells(data, len(data))
    assert isinstance(bitmap, bytearray)
    assert len(bitmap) == len(data) // 64
    assert _bits(bitmap) == [a, c, big]
    assert f not in _bits(bitmap)
    # Extra bytes past hbins_size are ignored.
    assert impl.scan_cells(data + b"junk", len(data)) == bitmap
    assert impl.scan_cells(memoryview(data), len(data)) == bitmap
    assert impl.scan_cells(b"", 0) == bytearray()


def test_scan_cells_errors(impl: ModuleType) -> None:
    b = Bins()
    b.add(nk())
    data = bytearray(b.build())
    bad = bytearray(data)
    bad[0:4] = b"hbim"
    with pytest.raises(FormatError) as ei:
        impl.scan_cells(bad, len(bad))
    assert ei.value.offset == 4096
    bad = bytearray(data)
    struct.pack_into("<i", bad, 32, -12)  # not a multiple of 8
    with pytest.raises(CellError) as ei:
        impl.scan_cells(bad, len(bad))
    assert ei.value.offset == 4096 + 32
    bad = bytearray(data)
    struct.pack_into("<i", bad, 32, -8192)  # runs past the bin
    with pytest.raises(CellError):
        impl.scan_cells(bad, len(bad))
    bad = bytearray(data)
    struct.pack_into("<i", bad, 32, -(2**31))
    with pytest.raises(CellError):
        impl.scan_cells(bad, len(bad))
    with pytest.raises(FormatError) as ei:  # second bin header missing
        impl.scan_cells(data + bytes(4096), len(data) + 4096)
    assert ei.value.offset == 4096 + 4096
    with pytest.raises(FormatError):  # bin size says 4096, hbins_size says less
        impl.scan_cells(data, 4000)
    with pytest.raises(TruncatedError):
        impl.scan_cells(data, len(data) + 1)
    with pytest.raises(ValueError):
        impl.scan_cells(data, -1)


def _list_hive() -> tuple[bytes, dict[str, Any]]:
    b = Bins()
    nks = [b.add(nk()) for _ in range(6)]
    info: dict[str, Any] = {"nks": nks}
    info["li"] = b.add(leaf("li", nks[:2]))
    info["lf"] = b.add(leaf("lf", nks[2:4]))
    info["lh"] = b.add(leaf("lh", nks[4:]))
    info["ri"] = b.add(leaf("ri", [info["li"], info["lf"], info["lh"]]))
    info["nested"] = b.add(leaf("ri", [info["li"], info["ri"]]))
    info["ri_bad_sig"] = b.add(leaf("ri", [nks[0]]))
    info["empty"] = b.add(leaf("lh", []))
    info["free_list"] = b.add(leaf("li", nks[:1]), allocated=False)
    info["short_count"] = b.add(b"lh" + struct.pack("<H", 3) + bytes(8))
    info["bad_nk"] = b.add(leaf("li", [nks[0], 0x80000020, nks[1]]))
    info["misaligned"] = b.add(leaf("li", [nks[0] + 4]))
    return b.build(), info


def test_leaf_cells_valid(impl: ModuleType) -> None:
    data, info = _list_hive()
    nks = info["nks"]
    n = len(data)
    assert impl.leaf_cells(data, n, info["li"]) == nks[:2]
    assert impl.leaf_cells(data, n, info["lf"]) == nks[2:4]
    assert impl.leaf_cells(data, n, info["lh"]) == nks[4:]
    assert impl.leaf_cells(data, n, info["ri"]) == nks
    assert impl.leaf_cells(data, n, info["empty"]) == []


@pytest.mark.parametrize(
    ("key", "exc"),
    [
        ("nested", StructureError),
        ("ri_bad_sig", SignatureError),
        ("free_list", CellError),
        ("short_count", CellError),
        ("bad_nk", CellError),
        ("misaligned", CellError),
    ],
)
def test_leaf_cells_errors(impl: ModuleType, key: str, exc: type[Exception]) -> None:
    data, info = _list_hive()
    with pytest.raises(exc) as ei:
        impl.leaf_cells(data, len(data), info[key])
    assert isinstance(ei.value, FormatError)
    assert ei.value.offset == 4096 + info[key]


def test_leaf_cells_bad_indexes(impl: ModuleType) -> None:
    data, info = _list_hive()
    n = len(data)
    for idx in (0xFFFFFFFF, 0x80000000 | info["li"], n, n - 4, info["li"] + 8, 1, 0):
        with pytest.raises(FormatError):
            impl.leaf_cells(data, n, idx)
    with pytest.raises(SignatureError):
        impl.leaf_cells(data, n, info["nks"][0])  # an nk is not a list
    with pytest.raises(FormatError):  # list lies beyond hbins_size
        impl.leaf_cells(data, 64, info["li"])
    with pytest.raises(ValueError):
        impl.leaf_cells(data, n, -1)
    with pytest.raises(ValueError):
        impl.leaf_cells(data, n, 1 << 32)
    with pytest.raises(TruncatedError):
        impl.leaf_cells(data, n + 8, info["li"])


def test_leaf_cells_large_ri(impl: ModuleType) -> None:
    """More entries than the C wrapper's first output buffer (512)."""
    b = Bins()
    nks = [b.add(nk()) for _ in range(1500)]
    leaves = [b.add(leaf("lh", nks[i : i + 500])) for i in range(0, 1500, 500)]
    ri = b.add(leaf("ri", leaves))
    data = b.build()
    assert impl.leaf_cells(data, len(data), ri) == nks


def test_leaf_cells_duplicate_leaves_bounded(impl: ModuleType) -> None:
    """An ri repeating one big leaf cannot blow up: at most hbins_size / 8 entries."""
    b = Bins()
    one = b.add(nk())
    lf = b.add(leaf("li", [one] * 1000))
    ri = b.add(leaf("ri", [lf] * 2000))
    data = b.build()
    with pytest.raises(StructureError):
        impl.leaf_cells(data, len(data), ri)


# ---------------------------------------------------------------------------------------
# Parity: C == Python for every input (hypothesis)

parity = pytest.mark.skipif(C_SKIPPED, reason="REGF_BACKEND=python")
PARITY_SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # compare type, message and offset
        return ("err", (type(exc), str(exc), getattr(exc, "offset", None)))


@parity
@PARITY_SETTINGS
@given(st.binary(min_size=508, max_size=4096))
def test_parity_checksum(data: bytes) -> None:
    assert _cbackend().checksum(data) == pure.checksum(data)


@parity
@PARITY_SETTINGS
@given(st.binary(max_size=300), st.integers(min_value=-(2**70), max_value=2**70))
def test_parity_marvin32(data: bytes, seed: int) -> None:
    assert _cbackend().marvin32(data, seed) == pure.marvin32(data, seed)
    assert _cbackend().marvin32(data) == pure.marvin32(data)


_spans = st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), max_size=8)


@parity
@PARITY_SETTINGS
@given(st.binary(max_size=300), _spans, st.integers(0, 2**64 - 1))
def test_parity_marvin32_spans(data: bytes, spans: list[tuple[int, int]], seed: int) -> None:
    c = _outcome(_cbackend().marvin32_spans, data, spans, seed)
    p = _outcome(pure.marvin32_spans, data, spans, seed)
    assert c == p
    if p[0] == "ok":  # each span hashes as marvin32 of its slice would
        assert p[1] == [pure.marvin32(data[o : o + n], seed) for o, n in spans]
    else:  # refused exactly when some span leaves the buffer
        assert any(o + n > len(data) for o, n in spans)


@parity
@PARITY_SETTINGS
@given(
    st.binary(min_size=1, max_size=200),
    st.integers(0, 200),
    st.lists(st.tuples(st.integers(0, 220), st.integers(0, 220), st.integers(0, 60)), max_size=8),
)
def test_parity_copy_runs(src: bytes, dst_len: int, runs: list[tuple[int, int, int]]) -> None:
    dst_c, dst_p = bytearray(range(256))[:dst_len], bytearray(range(256))[:dst_len]
    before = bytes(dst_p)
    c = _outcome(_cbackend().copy_runs, dst_c, src, runs)
    p = _outcome(pure.copy_runs, dst_p, src, runs)
    assert c == p and dst_c == dst_p
    if p[0] == "err":  # nothing is copied when any run is out of bounds
        assert dst_p == before
        return
    model = bytearray(before)
    for d, s, n in runs:  # in order: a later run wins where runs overlap
        model[d : d + n] = src[s : s + n]
    assert dst_p == model


# Every code point, surrogates included (lone, or adjacent pairs as two code points).
_names = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
_bmp = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF), max_size=40)


@parity
@PARITY_SETTINGS
@given(st.one_of(_names, _bmp))
def test_parity_names(name: str) -> None:
    c = _cbackend()
    assert c.name_hash(name) == pure.name_hash(name)
    assert c.upcase(name) == pure.upcase(name)
    assert c.sort_key(name) == pure.sort_key(name)


def test_parity_upcase_every_bmp_unit() -> None:
    if C_SKIPPED:
        pytest.skip("REGF_BACKEND=python")
    c = _cbackend()
    allbmp = "".join(chr(u) for u in range(0x10000))
    assert c.upcase(allbmp) == pure.upcase(allbmp)
    assert c.sort_key(allbmp) == pure.sort_key(allbmp)
    for u in range(0, 0x10000, 97):
        assert c.name_hash(chr(u)) == pure.name_hash(chr(u))


@st.composite
def hives(draw: st.DrawFn) -> tuple[bytes, int, list[int]]:
    """A valid hive with lists, then random byte mutations and a random hbins_size."""
    b = Bins()
    nks = [b.add(nk()) for _ in range(draw(st.integers(1, 12)))]
    lists: list[int] = []
    for _ in range(draw(st.integers(0, 5))):
        sig = draw(st.sampled_from(["li", "lf", "lh"]))
        members = draw(st.lists(st.sampled_from(nks), max_size=8))
        lists.append(b.add(leaf(sig, members), allocated=draw(st.booleans())))
    if lists:
        lists.append(b.add(leaf("ri", draw(st.lists(st.sampled_from(lists), max_size=4)))))
        lists.append(b.add(leaf("ri", draw(st.lists(st.sampled_from(lists), max_size=3)))))
    for _ in range(draw(st.integers(0, 3))):
        b.add(draw(st.binary(max_size=5000)), allocated=draw(st.booleans()))
    data = bytearray(b.build())
    for pos, val in draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)))):
        data[pos] = val
    hbins_size = draw(
        st.one_of(
            st.just(len(data)),
            st.integers(0, len(data)),
            st.integers(0, len(data) // 4096).map(lambda k: k * 4096),
        )
    )
    extra = draw(st.lists(st.integers(0, 0xFFFFFFFF), max_size=3))
    near = draw(st.lists(st.integers(0, len(data) + 16), max_size=3))
    return bytes(data), hbins_size, lists + nks[:2] + extra + near


@parity
@PARITY_SETTINGS
@given(hives())
def test_parity_scan_and_leaf_cells(case: tuple[bytes, int, list[int]]) -> None:
    data, hbins_size, targets = case
    c = _cbackend()
    assert _outcome(c.scan_cells, data, hbins_size) == _outcome(pure.scan_cells, data, hbins_size)
    for t in targets:
        assert _outcome(c.leaf_cells, data, hbins_size, t) == _outcome(
            pure.leaf_cells, data, hbins_size, t
        )


@parity
@PARITY_SETTINGS
@given(st.binary(max_size=9000), st.data())
def test_parity_random_bytes(data: bytes, draw: st.DataObject) -> None:
    c = _cbackend()
    hbins_size = draw.draw(st.integers(0, len(data)))
    if len(data) >= 32 and draw.draw(st.booleans()):  # get past the first header sometimes
        head = b"hbin" + struct.pack("<II", 0, 4096)
        data = head + data[len(head) :]
    assert _outcome(c.scan_cells, data, hbins_size) == _outcome(pure.scan_cells, data, hbins_size)
    for t in draw.draw(st.lists(st.integers(0, len(data) + 8), max_size=4)):
        t &= ~7
        assert _outcome(c.leaf_cells, data, hbins_size, t) == _outcome(
            pure.leaf_cells, data, hbins_size, t
        )


@parity
@PARITY_SETTINGS
@given(hives(), st.integers(0, 8))
def test_parity_bin_chain_end(case: tuple[bytes, int, list[int]], page: int) -> None:
    data, hbins_size, _ = case
    c = _cbackend()
    start = page * 4096
    assert _outcome(c.bin_chain_end, data, hbins_size, start) == _outcome(
        pure.bin_chain_end, data, hbins_size, start
    )
