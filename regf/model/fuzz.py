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

Both are deterministic functions of their seed. :data:`MUTATIONS` names the kinds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .._accel import checksum, sort_key
from ..cells.image import HiveImage
from ..errors import InvalidArgumentError
from ..format.constants import BASE, ValueType
from ..format.fast import BASE_L, DB_L, HBIN_L, I32, LIST_HEAD_L, NK_L, SK_L, U16, U32, VK_L
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


@dataclass
class _Cells:
    """Allocated cells of a hive by signature (hive-bins-relative indexes)."""

    by_sig: dict[bytes, list[int]]
    all: list[int]
    hbins_size: int


def _cells(buf: bytearray) -> _Cells:
    hb, mi = BASE_L.field("hbins_size"), BASE_L.field("minor")
    hbins = hb.unpack_from(buf) if len(buf) >= hb.offset + hb.size else 0
    minor = mi.unpack_from(buf) if len(buf) >= mi.offset + mi.size else 5
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
                by_sig.setdefault(bytes(buf[BASE + off + 4 : BASE + off + 6]), []).append(off)
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


def _m_bitflip(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    if len(buf) > BASE:
        i = rng.randrange(BASE, len(buf))
        buf[i] ^= 1 << rng.randrange(8)


def _m_cell_size(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    c = _pick(rng, cells)
    if c is not None:
        v = rng.choice((0, 1, 4, 8, -4, -8, -0x7FFFFFF8, 0x7FFFFFF8, -(cells.hbins_size + 8)))
        _I32.pack_into(buf, BASE + c, v)


# nk fields holding cell indexes (offsets from the nk data): parent, subkey list, value
# list, security, class (fmt §4.1).
_NK_INDEX_FIELDS = tuple(
    NK_L.offset(n) for n in ("parent", "subkey_list", "value_list", "security", "class_cell")
)
_NK_COUNT_FIELDS = (NK_L.offset("subkey_count"), NK_L.offset("value_count"))
#: Other cell-index fields: vk data, sk flink / blink, db segment list; list counts.
_VK_DATA = VK_L.offset("data")
_SK_LINKS = (SK_L.offset("flink"), SK_L.offset("blink"))
_DB_LIST = DB_L.offset("segment_list")
_LIST_COUNT = LIST_HEAD_L.offset("count")
_LIST_ELEMS = LIST_HEAD_L.size


def _m_cell_index(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    c = _pick(rng, cells, b"nk", b"vk", b"lh", b"lf", b"li", b"ri", b"db", b"sk")
    if c is None:
        return
    at = BASE + c + 4
    sig = bytes(buf[at : at + 2])
    if sig == b"nk":
        field = at + rng.choice(_NK_INDEX_FIELDS)
    elif sig == b"vk":
        field = at + _VK_DATA
    elif sig == b"sk":
        field = at + rng.choice(_SK_LINKS)
    elif sig == b"db":
        field = at + _DB_LIST
    else:
        (n,) = _U16.unpack_from(buf, at + _LIST_COUNT)
        step = 8 if sig in (b"lh", b"lf") else 4
        field = at + _LIST_ELEMS + step * rng.randrange(max(1, n))
    if field + 4 <= len(buf):
        _U32.pack_into(buf, field, _index_value(rng, cells, c))


def _m_count(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    c = _pick(rng, cells, b"nk", b"lh", b"lf", b"li", b"ri", b"db")
    if c is None:
        return
    at = BASE + c + 4
    if buf[at : at + 2] == b"nk":
        (old,) = _U32.unpack_from(buf, at + (f := rng.choice(_NK_COUNT_FIELDS)))
        v = rng.choice((*_INTERESTING_U32, old + 1, old * 2, max(0, old - 1)))
        _U32.pack_into(buf, at + f, v & 0xFFFFFFFF)
    else:
        (old,) = _U16.unpack_from(buf, at + _LIST_COUNT)
        v = rng.choice((*_INTERESTING_U16, (old + 1) & 0xFFFF))
        _U16.pack_into(buf, at + _LIST_COUNT, v)


def _m_name_len(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    c = _pick(rng, cells, b"nk", b"vk")
    if c is not None:
        at = BASE + c + 4
        is_nk = buf[at : at + 2] == b"nk"
        field = at + (NK_L.offset("name_length") if is_nk else VK_L.offset("name_length"))
        _U16.pack_into(buf, field, rng.choice((*_INTERESTING_U16, 0x4C, 0x1FF)))


def _m_signature(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    c = _pick(rng, cells)
    if c is not None:
        sig = rng.choice((b"nk", b"vk", b"lh", b"lf", b"li", b"ri", b"db", b"sk", b"\0\0"))
        buf[BASE + c + 4 : BASE + c + 6] = sig


def _m_data_size(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    c = _pick(rng, cells, b"vk")
    if c is not None:
        v = rng.choice((0, 5, 16344, 16345, 0x7FFFFFFF, 0x80000000, 0x80000005, 0xFFFFFFFF))
        _U32.pack_into(buf, BASE + c + 4 + VK_L.offset("data_size"), v)


def _m_hbin(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    if len(buf) <= BASE + HBIN_L.size:
        return
    off = BASE + 4096 * rng.randrange(max(1, (len(buf) - BASE) // 4096))
    field = rng.choice(_HBIN_FIELDS)
    if off + field + 4 <= len(buf):
        v = rng.choice((0, 0x1000, 0x2000, 0xFFFFF000, 0x7FFFFFFF, rng.getrandbits(32)))
        _U32.pack_into(buf, off + field, v)


#: hbin signature, offset and size fields.
_HBIN_FIELDS = tuple(HBIN_L.offset(n) for n in ("signature", "offset", "size"))
#: Base block: seq1, seq2, major, minor, file type, root cell, hive-bins size, clustering.
_BASE_FIELDS = tuple(
    BASE_L.offset(n)
    for n in (
        "seq1", "seq2", "major", "minor", "file_type", "root_cell", "hbins_size", "clustering",
    )
)  # fmt: skip


def _m_base_block(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    field = rng.choice(_BASE_FIELDS)
    if field + 4 <= len(buf):
        _U32.pack_into(buf, field, rng.choice((*_INTERESTING_U32, rng.getrandbits(32))))


def _m_truncate(rng: random.Random, buf: bytearray, cells: _Cells) -> None:
    if len(buf) > 1:
        del buf[rng.randrange(1, len(buf)) :]


MUTATIONS: dict[str, Callable[[random.Random, bytearray, _Cells], None]] = {
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
    chosen = tuple(MUTATIONS) if kinds is None else kinds
    unknown = [k for k in chosen if k not in MUTATIONS]
    if unknown or not chosen:
        raise InvalidArgumentError(f"unknown mutation kinds: {unknown or chosen!r}")
    rng = random.Random(seed)
    buf = bytearray(data)
    for _ in range(count):
        cells = _cells(buf)
        MUTATIONS[rng.choice(chosen)](rng, buf, cells)
    if fix_checksum and len(buf) >= 512:
        _U32.pack_into(buf, 0x1FC, checksum(bytes(buf[:512])))
    return bytes(buf)


__all__ = ["MUTATIONS", "generate", "mutate", "random_spec"]
