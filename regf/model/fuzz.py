"""Hive generation and mutation for fuzzing (regf's own and other parsers').

* :func:`generate` builds a random but *valid* hive from a seed: names in ASCII, Latin-1
  (stored compressed), CJK and non-BMP characters; every standard value type plus
  unknown ones; data sizes around the inline limit (0-5 bytes), the big-data limit
  (16343-16345 bytes, fmt §4.6) and beyond; classes; keys with hundreds of subkeys (so
  index roots appear); a few deep chains. The same seed gives the same bytes.
* :func:`mutate` damages a hive the way real corruption and hostile files do, aimed at the
  fields parsers trust: cell sizes, cell indexes (NIL, volatile bit, misaligned, out of
  range, pointing back up the tree), counts, name lengths, signatures, value data sizes,
  hbin headers, base-block fields, truncation and plain bit flips. The base-block checksum
  is fixed afterwards by default so the damage gets past the header check.

Both are deterministic functions of their seed. :data:`MUTATIONS` names the kinds;
:func:`mutate_labelled` also says, for each mutation, which field at which file offset
it damaged (:class:`Mutation`). :func:`mutate_log` does the same to a transaction log
(entry headers, page references, DIRT bitmaps, the log's base block, page data), by
default re-sealing hashes and checksums so the damage reaches recovery.
:mod:`regf.strategies` wraps all of this as hypothesis strategies.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .._accel import checksum, marvin32, sort_key
from ..cells.image import HiveImage
from ..errors import InvalidArgumentError
from ..format.constants import BASE, ValueType
from ..format.fast import (
    BASE_L,
    CELL_HEADER,
    DB_L,
    HBIN_L,
    HVLE_L,
    I32,
    LIST_HEAD_L,
    NK_L,
    PAGE_REF_L,
    SIG_SIZE,
    SK_L,
    U16,
    U32,
    VK_L,
    cell_sig,
)
from ..format.structs import HVLE_HEADER_SIZE
from .serialize import serialize
from .spec import KeySpec, ValueSpec

_U16 = U16
_U32 = U32
_I32 = I32

# Characters names are drawn from: plain ASCII, Latin-1 letters (compressed names),
# Greek/Cyrillic, CJK, and non-BMP (surrogate pairs on disk).
_ALPHABETS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.{}",
    "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÖÜß",
    "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔЖЗИКЛМНабвгдежз",
    "日本語キー値中文한국어漢字かなカナ",
    "\U0001f600\U0001f30e\U00010410\U00010438\U0001d11e",
)
_SMALL_SIZES = (0, 1, 2, 3, 4, 5, 8, 100, 4095)
_BIG_SIZES = (16343, 16344, 16345, 20000, 40000)  # around the db limit (fmt §4.6)
_TYPES = (
    ValueType.REG_NONE,
    ValueType.REG_SZ,
    ValueType.REG_EXPAND_SZ,
    ValueType.REG_BINARY,
    ValueType.REG_DWORD,
    ValueType.REG_DWORD_BIG_ENDIAN,
    ValueType.REG_LINK,
    ValueType.REG_MULTI_SZ,
    ValueType.REG_QWORD,
    0x10,
    0x12,
    0xFFFF0001,
)


def _name(rng: random.Random, max_len: int) -> str:
    alphabet = rng.choice(_ALPHABETS) if rng.random() < 0.5 else _ALPHABETS[0]
    n = rng.randint(1, max_len)
    return "".join(rng.choice(alphabet) for _ in range(n))


def _unique(rng: random.Random, count: int, max_len: int, taken: set[bytes]) -> list[str]:
    """``count`` names distinct under Windows' case-insensitive comparison."""
    out = []
    for _ in range(count):
        for _attempt in range(20):
            name = _name(rng, max_len)
            k = sort_key(name)
            if k not in taken:
                taken.add(k)
                out.append(name)
                break
    return out


def _data(rng: random.Random, vtype: int, size: int) -> bytes:
    if vtype in (ValueType.REG_SZ, ValueType.REG_EXPAND_SZ, ValueType.REG_LINK):
        text = _name(rng, max(1, size // 2)) if size > 1 else ""
        raw = (text + "\0").encode("utf-16-le", "surrogatepass")
        return raw[: max(size, 2)] if rng.random() < 0.2 else raw
    if vtype == ValueType.REG_MULTI_SZ:
        parts = [_name(rng, 12) for _ in range(rng.randint(0, 4))]
        return ("\0".join(parts) + "\0\0").encode("utf-16-le", "surrogatepass")
    if vtype in (ValueType.REG_DWORD, ValueType.REG_DWORD_BIG_ENDIAN) and rng.random() < 0.8:
        return rng.getrandbits(32).to_bytes(4, "little")
    if vtype == ValueType.REG_QWORD and rng.random() < 0.8:
        return rng.getrandbits(64).to_bytes(8, "little")
    return rng.randbytes(size)


def random_spec(rng: random.Random, *, max_keys: int = 60, max_values: int = 8) -> KeySpec:
    """A random valid key tree (see the module docstring for what it contains)."""
    root = KeySpec("ROOT", last_written=rng.getrandbits(63))
    budget = [max_keys]

    def fill(key: KeySpec, depth: int) -> None:
        taken: set[bytes] = set()
        for vname in _unique(rng, rng.randint(0, max_values), 20, taken) + (
            [""] if rng.random() < 0.3 else []
        ):
            vtype = rng.choice(_TYPES)
            size = rng.choice(_BIG_SIZES if rng.random() < 0.05 else _SMALL_SIZES)
            key.values.append(ValueSpec(vname, vtype, _data(rng, vtype, size)))
        if depth >= 8 or budget[0] <= 0:
            return
        wide = rng.random() < 0.03 and budget[0] > 0
        n = rng.randint(300, 700) if wide else rng.randint(0, min(5, budget[0]))
        names: set[bytes] = set()
        for kname in _unique(rng, n, 24, names):
            budget[0] -= 1
            child = KeySpec(
                kname,
                class_name=_name(rng, 16) if rng.random() < 0.2 else None,
                last_written=rng.getrandbits(63),
            )
            key.subkeys.append(child)
            if not wide:
                fill(child, depth + 1)

    fill(root, 0)
    return root


def generate(seed: int, *, minor: int | None = None, max_keys: int = 60) -> tuple[bytes, KeySpec]:
    """A random valid hive (bytes) and the tree it holds; ``minor`` defaults to a random
    version from 1.3 to 1.6 (big data only from 1.4 on, lf/lh leaves from 1.5)."""
    rng = random.Random(seed)
    version = rng.choice((3, 4, 5, 6)) if minor is None else minor
    spec = random_spec(rng, max_keys=max_keys)
    data = serialize(spec, minor=version, timestamp=rng.getrandbits(63), file_name=f"fuzz{seed}")
    return data, spec


# ---------------------------------------------------------------------------------------
# Mutation
# ---------------------------------------------------------------------------------------

_INTERESTING_U32 = (0, 1, 7, 8, 0x20, 0x7FFFFFF8, 0x80000000, 0x80000020, 0xFFFFFFF8, 0xFFFFFFFF)
_INTERESTING_U16 = (0, 1, 2, 0x7FFF, 0x8000, 0xFFFF)


@dataclass(frozen=True)
class Mutation:
    """One applied mutation: its kind, the file offset it wrote at and what it damaged.

    ``target`` names the record and field (``"nk.subkey_count"``, ``"cell.size"``,
    ``"hbin.offset"``, ``"HvLE.sequence"``, ...); ``detail`` says old -> new.
    """

    kind: str
    offset: int
    target: str
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} at {self.offset:#x}: {self.target}{extra}"


@dataclass
class _Cells:
    """Allocated cells of a hive by signature (hive-bins-relative indexes)."""

    by_sig: dict[bytes, list[int]]
    all: list[int]
    hbins_size: int


def _cells(buf: bytearray) -> _Cells:
    hbins_f, minor_f = BASE_L.field("hbins_size"), BASE_L.field("minor")
    hbins = hbins_f.unpack_from(buf) if len(buf) >= hbins_f.offset + 4 else 0
    minor = minor_f.unpack_from(buf) if len(buf) >= minor_f.offset + 4 else 5
    image = HiveImage(bytes(buf), hbins, minor, strict=False)  # bins only
    by_sig: dict[bytes, list[int]] = {}
    every: list[int] = []
    for start, end in image.bins():
        off = start + HBIN_L.size
        while off + 8 <= end:
            (size,) = _I32.unpack_from(buf, BASE + off)
            n = abs(size)
            if n < 8 or n & 7 or off + n > end:
                break
            if size < 0:
                every.append(off)
                by_sig.setdefault(cell_sig(buf, off), []).append(off)
            off += n
    return _Cells(by_sig, every, image.hbins_size)


def _pick(rng: random.Random, cells: _Cells, *sigs: bytes) -> int | None:
    pool = [c for s in sigs for c in cells.by_sig.get(s, [])] if sigs else cells.all
    return rng.choice(pool) if pool else None


def _index_value(rng: random.Random, cells: _Cells, self_cell: int) -> int:
    """A hostile cell index: an interesting constant, a real cell (maybe the wrong kind,
    maybe an ancestor: cycles), misaligned or just past the bins."""
    r = rng.random()
    if r < 0.35:
        return rng.choice(_INTERESTING_U32)
    if r < 0.7 and cells.all:
        return rng.choice(cells.all)
    if r < 0.8:
        return self_cell
    if r < 0.9:
        return (rng.choice(cells.all) if cells.all else 0x20) + rng.choice((1, 2, 4, 6))
    return cells.hbins_size + rng.choice((0, 8, 4096))


def _put(
    buf: bytearray, at: int, st: struct.Struct, value: int, kind: str, target: str
) -> Mutation:
    (old,) = st.unpack_from(buf, at)
    st.pack_into(buf, at, value)
    return Mutation(kind, at, target, f"{old:#x} -> {value:#x}")


_Mut = Mutation | None


def _m_bitflip(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    if len(buf) <= BASE:
        return None
    i = rng.randrange(BASE, len(buf))
    bit = rng.randrange(8)
    buf[i] ^= 1 << bit
    return Mutation("bitflip", i, "hive bins byte", f"bit {bit}")


def _m_cell_size(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    c = _pick(rng, cells)
    if c is None:
        return None
    v = rng.choice((0, 1, 4, 8, -4, -8, -0x7FFFFFF8, 0x7FFFFFF8, -(cells.hbins_size + 8)))
    sig = cell_sig(buf, c).decode("latin-1")
    return _put(buf, BASE + c, _I32, v, "cell_size", f"cell.size of {sig!r} cell {c:#x}")


# nk fields holding cell indexes (fmt §4.1) and counts.
_NK_INDEX_FIELDS = ("parent", "subkey_list", "value_list", "security", "class_cell")
_NK_COUNT_FIELDS = ("subkey_count", "value_count")


def _m_cell_index(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    c = _pick(rng, cells, b"nk", b"vk", b"lh", b"lf", b"li", b"ri", b"db", b"sk")
    if c is None:
        return None
    at = BASE + c + CELL_HEADER
    sig = bytes(buf[at : at + 2])
    if sig == b"nk":
        name = rng.choice(_NK_INDEX_FIELDS)
        field, target = at + NK_L.offset(name), f"nk.{name}"
    elif sig == b"vk":
        field, target = at + VK_L.offset("data"), "vk.data"
    elif sig == b"sk":
        name = rng.choice(("flink", "blink"))
        field, target = at + SK_L.offset(name), f"sk.{name}"
    elif sig == b"db":
        field, target = at + DB_L.offset("segment_list"), "db.segment_list"
    else:
        (n,) = _U16.unpack_from(buf, at + LIST_HEAD_L.offset("count"))
        step = 8 if sig in (b"lh", b"lf") else 4
        i = rng.randrange(max(1, n))
        field, target = at + LIST_HEAD_L.size + step * i, f"{sig.decode()}.element[{i}]"
    if field + 4 > len(buf):
        return None
    return _put(buf, field, _U32, _index_value(rng, cells, c), "cell_index", f"{target} of {c:#x}")


def _m_count(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    c = _pick(rng, cells, b"nk", b"lh", b"lf", b"li", b"ri", b"db")
    if c is None:
        return None
    at = BASE + c + CELL_HEADER
    if buf[at : at + 2] == b"nk":
        name = rng.choice(_NK_COUNT_FIELDS)
        f = at + NK_L.offset(name)
        (old,) = _U32.unpack_from(buf, f)
        v = rng.choice((*_INTERESTING_U32, old + 1, old * 2, max(0, old - 1)))
        return _put(buf, f, _U32, v & 0xFFFFFFFF, "count", f"nk.{name} of {c:#x}")
    sig = bytes(buf[at : at + 2]).decode("latin-1")
    f = at + LIST_HEAD_L.offset("count")  # db.segment_count sits at the same place
    (old,) = _U16.unpack_from(buf, f)
    v = rng.choice((*_INTERESTING_U16, (old + 1) & 0xFFFF))
    return _put(buf, f, _U16, v, "count", f"{sig}.count of {c:#x}")


def _m_name_len(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    c = _pick(rng, cells, b"nk", b"vk")
    if c is None:
        return None
    at = BASE + c + CELL_HEADER
    is_nk = buf[at : at + 2] == b"nk"
    f = at + (NK_L.offset("name_length") if is_nk else VK_L.offset("name_length"))
    v = rng.choice((*_INTERESTING_U16, 0x4C, 0x1FF))
    return _put(buf, f, _U16, v, "name_len", f"{'nk' if is_nk else 'vk'}.name_length of {c:#x}")


def _m_signature(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    c = _pick(rng, cells)
    if c is None:
        return None
    sig = rng.choice((b"nk", b"vk", b"lh", b"lf", b"li", b"ri", b"db", b"sk", b"\0\0"))
    old = cell_sig(buf, c)
    at = BASE + c + CELL_HEADER
    buf[at : at + SIG_SIZE] = sig
    return Mutation("signature", at, f"signature of cell {c:#x}", f"{old!r} -> {sig!r}")


def _m_data_size(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    c = _pick(rng, cells, b"vk")
    if c is None:
        return None
    v = rng.choice((0, 5, 16344, 16345, 0x7FFFFFFF, 0x80000000, 0x80000005, 0xFFFFFFFF))
    at = BASE + c + CELL_HEADER + VK_L.offset("data_size")
    return _put(buf, at, _U32, v, "data_size", f"vk.data_size of {c:#x}")


def _m_hbin(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    if len(buf) <= BASE + HBIN_L.size:
        return None
    off = BASE + 4096 * rng.randrange(max(1, (len(buf) - BASE) // 4096))
    name = rng.choice(("signature", "offset", "size"))
    field = off + HBIN_L.offset(name)
    if field + 4 > len(buf):
        return None
    v = rng.choice((0, 0x1000, 0x2000, 0xFFFFF000, 0x7FFFFFFF, rng.getrandbits(32)))
    return _put(buf, field, _U32, v, "hbin", f"hbin.{name} of the page at {off:#x}")


_BASE_FIELDS = (
    "seq1",
    "seq2",
    "major",
    "minor",
    "file_type",
    "root_cell",
    "hbins_size",
    "clustering",
)


def _m_base_block(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    name = rng.choice(_BASE_FIELDS)
    field = BASE_L.offset(name)
    if field + 4 > len(buf):
        return None
    v = rng.choice((*_INTERESTING_U32, rng.getrandbits(32)))
    return _put(buf, field, _U32, v, "base_block", f"base block {name}")


def _m_truncate(rng: random.Random, buf: bytearray, cells: _Cells) -> _Mut:
    if len(buf) <= 1:
        return None
    cut = rng.randrange(1, len(buf))
    old = len(buf)
    del buf[cut:]
    return Mutation("truncate", cut, "file end", f"{old:#x} -> {cut:#x} bytes")


MUTATIONS: dict[str, Callable[[random.Random, bytearray, _Cells], Mutation | None]] = {
    "bitflip": _m_bitflip,
    "cell_size": _m_cell_size,
    "cell_index": _m_cell_index,
    "count": _m_count,
    "name_len": _m_name_len,
    "signature": _m_signature,
    "data_size": _m_data_size,
    "hbin": _m_hbin,
    "base_block": _m_base_block,
    "truncate": _m_truncate,
}


def _kinds(kinds: tuple[str, ...] | None, table: Mapping[str, object]) -> tuple[str, ...]:
    chosen = tuple(table) if kinds is None else tuple(kinds)
    unknown = [k for k in chosen if k not in table]
    if unknown or not chosen:
        raise InvalidArgumentError(f"unknown mutation kinds: {unknown or chosen!r}")
    return chosen


def mutate_labelled(
    data: bytes,
    seed: int,
    *,
    count: int = 1,
    kinds: tuple[str, ...] | None = None,
    fix_checksum: bool = True,
) -> tuple[bytes, list[Mutation]]:
    """:func:`mutate`, also returning what each mutation damaged (a kind that found
    nothing to damage, e.g. ``data_size`` in a hive without values, is skipped)."""
    chosen = _kinds(kinds, MUTATIONS)
    rng = random.Random(seed)
    buf = bytearray(data)
    done: list[Mutation] = []
    for _ in range(count):
        cells = _cells(buf)
        m = MUTATIONS[rng.choice(chosen)](rng, buf, cells)
        if m is not None:
            done.append(m)
    if fix_checksum and len(buf) >= 512:
        BASE_L.field("checksum").pack_into(buf, 0, checksum(bytes(buf[:512])))
    return bytes(buf), done


def mutate(
    data: bytes,
    seed: int,
    *,
    count: int = 1,
    kinds: tuple[str, ...] | None = None,
    fix_checksum: bool = True,
) -> bytes:
    """``data`` with ``count`` mutations drawn (by ``seed``) from ``kinds`` (default:
    all of :data:`MUTATIONS`). With ``fix_checksum`` the base-block checksum is
    recomputed, so only the damaged structures are wrong."""
    return mutate_labelled(data, seed, count=count, kinds=kinds, fix_checksum=fix_checksum)[0]


# ---------------------------------------------------------------------------------------
# Log mutation
# ---------------------------------------------------------------------------------------

_SECTOR = 512


def _hvle_entries(buf: bytearray) -> list[tuple[int, int, int]]:
    """(offset, size, page count) of each well-formed-looking HvLE entry header."""
    out = []
    pos = _SECTOR
    while pos + HVLE_HEADER_SIZE <= len(buf) and buf[pos : pos + 4] == b"HvLE":
        size = HVLE_L.field("size").unpack_from(buf, pos)
        count = HVLE_L.field("page_count").unpack_from(buf, pos)
        if size < _SECTOR or size % _SECTOR or pos + size > len(buf):
            break
        out.append((pos, size, count))
        pos += size
    return out


def _l_entry_field(rng: random.Random, buf: bytearray) -> _Mut:
    entries = _hvle_entries(buf)
    if not entries:
        return None
    pos, _size, _count = rng.choice(entries)
    name = rng.choice(("size", "flags", "sequence", "hbins_size", "page_count"))
    old = HVLE_L.field(name).unpack_from(buf, pos)
    v = rng.choice((*_INTERESTING_U32, old + 1, max(0, old - 1), old + 4096, old * 2))
    return _put(buf, pos + HVLE_L.offset(name), _U32, v & 0xFFFFFFFF, "entry", f"HvLE.{name}")


def _l_page_ref(rng: random.Random, buf: bytearray) -> _Mut:
    entries = [e for e in _hvle_entries(buf) if e[2]]
    if not entries:
        return None
    pos, size, count = rng.choice(entries)
    i = rng.randrange(count)
    ref = pos + HVLE_HEADER_SIZE + PAGE_REF_L.size * i
    if ref + PAGE_REF_L.size > pos + size:
        return None
    name = rng.choice(("offset", "size"))
    old = PAGE_REF_L.field(name).unpack_from(buf, ref)
    v = rng.choice((0, 512, 4096, 0x7FFFF000, 0xFFFFF000, old + 4096, old + 512, old + 1))
    at = ref + PAGE_REF_L.offset(name)
    return _put(buf, at, _U32, v & 0xFFFFFFFF, "page_ref", f"page reference {i}.{name}")


def _l_dirt_bitmap(rng: random.Random, buf: bytearray) -> _Mut:
    if buf[_SECTOR : _SECTOR + 4] != b"DIRT" or len(buf) <= _SECTOR + 4:
        return None
    hbins = BASE_L.field("hbins_size").unpack_from(buf)
    nbytes = max(1, min(hbins // 4096, len(buf) - _SECTOR - 4))
    i = _SECTOR + 4 + rng.randrange(nbytes)
    bit = rng.randrange(8)
    buf[i] ^= 1 << bit
    return Mutation("dirt_bitmap", i, "DIRT bitmap", f"sector bit {8 * (i - _SECTOR - 4) + bit}")


def _l_log_head(rng: random.Random, buf: bytearray) -> _Mut:
    name = rng.choice(("seq1", "seq2", "hbins_size", "last_written", "minor", "file_type"))
    f = BASE_L.field(name)
    if f.offset + f.size > len(buf):
        return None
    old = f.unpack_from(buf)
    if f.size == 8:
        v = rng.choice((0, old + 1, max(0, old - 1), (1 << 64) - 1)) & ((1 << 64) - 1)
        f.pack_into(buf, 0, v)
        return Mutation("log_head", f.offset, f"log base block {name}", f"{old:#x} -> {v:#x}")
    v = rng.choice((*_INTERESTING_U32, old + 1, max(0, old - 1))) & 0xFFFFFFFF
    return _put(buf, f.offset, _U32, v, "log_head", f"log base block {name}")


def _l_data(rng: random.Random, buf: bytearray) -> _Mut:
    if len(buf) <= _SECTOR + 8:
        return None
    i = rng.randrange(_SECTOR + 8, len(buf))
    bit = rng.randrange(8)
    buf[i] ^= 1 << bit
    return Mutation("log_data", i, "log body byte (page or sector data)", f"bit {bit}")


def _l_truncate(rng: random.Random, buf: bytearray) -> _Mut:
    if len(buf) <= 1:
        return None
    cut = rng.randrange(1, len(buf))
    old = len(buf)
    del buf[cut:]
    return Mutation("log_truncate", cut, "log end", f"{old:#x} -> {cut:#x} bytes")


LOG_MUTATIONS: dict[str, Callable[[random.Random, bytearray], Mutation | None]] = {
    "entry": _l_entry_field,
    "page_ref": _l_page_ref,
    "dirt_bitmap": _l_dirt_bitmap,
    "log_head": _l_log_head,
    "log_data": _l_data,
    "log_truncate": _l_truncate,
}


def reseal_log(data: bytes) -> bytes:
    """``data`` with its base-block checksum and every HvLE entry's two hashes
    recomputed, so damage inside a log passes the log's own integrity checks."""
    buf = bytearray(data)
    if len(buf) >= _SECTOR:
        BASE_L.field("checksum").pack_into(buf, 0, checksum(bytes(buf[:_SECTOR])))
    for pos, size, _count in _hvle_entries(buf):
        body = bytes(buf[pos + HVLE_HEADER_SIZE : pos + size])
        HVLE_L.field("hash1").pack_into(buf, pos, marvin32(body))
        h2 = HVLE_L.offset("hash2")
        HVLE_L.field("hash2").pack_into(buf, pos, marvin32(bytes(buf[pos : pos + h2])))
    return bytes(buf)


def mutate_log(
    data: bytes,
    seed: int,
    *,
    count: int = 1,
    kinds: tuple[str, ...] | None = None,
    reseal: bool = True,
) -> tuple[bytes, list[Mutation]]:
    """A transaction log (``.LOG1``/``.LOG2`` bytes) with ``count`` labelled mutations
    from ``kinds`` (default: all of :data:`LOG_MUTATIONS`). With ``reseal`` the base-block
    checksum and the entry hashes are recomputed afterwards (:func:`reseal_log`)."""
    chosen = _kinds(kinds, LOG_MUTATIONS)
    if kinds is None:
        # Only the kinds that apply to this log's format (DIRT has no entries).
        skip = {"entry", "page_ref"} if data[_SECTOR : _SECTOR + 4] == b"DIRT" else {"dirt_bitmap"}
        chosen = tuple(k for k in chosen if k not in skip)
    rng = random.Random(seed)
    buf = bytearray(data)
    done: list[Mutation] = []
    for _ in range(count):
        m = LOG_MUTATIONS[rng.choice(chosen)](rng, buf)
        if m is not None:
            done.append(m)
    out = bytes(buf)
    return (reseal_log(out) if reseal else out), done


__all__ = [
    "LOG_MUTATIONS",
    "MUTATIONS",
    "Mutation",
    "generate",
    "mutate",
    "mutate_labelled",
    "mutate_log",
    "random_spec",
    "reseal_log",
]
