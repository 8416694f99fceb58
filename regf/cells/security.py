"""Security (``sk``) cells edited in place in a hive image, through a :class:`CellAllocator`.

Pure functions over ``(alloc, cell index)``; ``alloc`` owns the whole-file image (cell
index ``i`` at file offset ``4096 + i``) and every write goes through ``alloc.write`` so
dirty pages are tracked.

API contract (for the writer, :mod:`regf.model.edithive`)
=====================================================

``validate_descriptor(descriptor) -> bytes``
    The descriptor as ``bytes`` after a full parse (:func:`regf.format.security.
    parse_descriptor`: self-relative, revision 1, ACLs and SIDs in bounds); raises
    :class:`~regf.errors.InvalidArgumentError` otherwise.
``find_or_create_sk(alloc, anchor, descriptor, *, cache=None) -> int``
    The sk holding exactly ``descriptor`` (identical descriptors share one sk), searched in
    the ring that contains ``anchor`` (any sk of the hive). When there is none a new sk is
    allocated and linked into the ring **just before** ``anchor`` (so with the root's sk as
    anchor new cells join the ring's tail, the serializer's first-use order). A new sk
    starts with reference count 0: the caller then calls :func:`sk_addref` once per nk
    that points at it.
``sk_addref(alloc, sk, n=1)``, ``sk_release(alloc, sk, *, cache=None) -> bool``
    Raise / lower the reference count (fmt §4.5). At 0 the sk is unlinked
    (``flink.blink = blink``, ``blink.flink = flink``) and freed, and ``True`` returned --
    except the hive's last sk (a ring of one), which is kept. Releasing at 0 raises
    :class:`~regf.errors.StructureError`.
``set_key_security(alloc, nk, descriptor, *, anchor=None, cache=None) -> int``
    Point key ``nk`` at the sk for ``descriptor``: find or create it (anchor: the key's
    current sk, or ``anchor`` when the key has none yet), add a reference, release the
    old sk, store the index in the nk (+0x2C). Timestamps are not touched.
``key_security(alloc, nk) -> bytes``, ``read_sk(alloc, sk) -> SkRecord``, ``sk_ring(alloc, sk)``
    Reading helpers.
``check_security(buf, root, hbins_size=None) -> list[tuple[int | None, str]]``
    Walks the key tree of a whole-file image from the root nk and the sk ring from the
    root's sk: every sk reached by a key must be in the ring, the ring must be a closed
    doubly-linked circle (``next.blink == this``) of valid sk cells, and every sk's
    reference count must equal the number of nk cells pointing at it. Returns
    ``(file offset or None, message)`` problems; empty when sound.

``cache``: an optional :class:`SkCache` (descriptor -> sk index). It is filled from the
ring on first use and kept current by the functions above; pass the same cache to every
call that may create or free an sk of that hive, or none at all. Hits are re-verified
against the image, so a stale hit costs a ring walk, never a wrong answer.
"""

from __future__ import annotations

from typing import NamedTuple

from .._accel import leaf_cells
from ..errors import CellError, FormatError, InvalidArgumentError, SignatureError, StructureError
from ..format.constants import BASE, HCELL_NIL
from ..format.fast import BASE_L, CELL_HEADER, I32, NK, NK_L, SK, SK_L, U32, cell_sig
from ..format.security import parse_descriptor
from ..format.structs import NK_FIXED_SIZE, SK_FIXED_SIZE
from .values import CellAllocator

SK_FLINK = SK_L.offset("flink")
SK_BLINK = SK_L.offset("blink")
SK_REFCOUNT = SK_L.offset("reference_count")
SK_DESC_LEN = SK_L.offset("descriptor_length")
NK_SECURITY = NK_L.offset("security")

_U32 = U32
_I32 = I32
#: Longest descriptor accepted: an ACL is at most 64 KiB, a descriptor holds two ACLs and
#: two SIDs; anything longer is not a real descriptor.
MAX_DESCRIPTOR = 0x30000


class SkRecord(NamedTuple):
    """The fields of one sk cell."""

    flink: int
    blink: int
    reference_count: int
    descriptor: bytes


class SkCache:
    """descriptor bytes -> sk cell index for one hive (see the module docstring)."""

    __slots__ = ("built", "by_desc")

    def __init__(self) -> None:
        self.by_desc: dict[bytes, int] = {}
        self.built = False

    def build(self, alloc: CellAllocator, anchor: int) -> None:
        """(Re)fill from the ring containing ``anchor``."""
        self.by_desc = {}
        for sk in sk_ring(alloc, anchor):
            # First sk of a duplicated descriptor wins (other writers may duplicate).
            self.by_desc.setdefault(read_sk(alloc, sk).descriptor, sk)
        self.built = True


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def _sk_start(alloc: CellAllocator, sk: int) -> int:
    """File offset of the data of sk cell ``sk`` (checked: live, big enough, signature)."""
    cap = alloc.capacity(sk)
    start = BASE + sk + CELL_HEADER
    if cap < SK_FIXED_SIZE:
        raise CellError(f"security cell {sk:#x} is too small", start - CELL_HEADER)
    if alloc.image[start : start + 2] != b"sk":
        raise SignatureError(f"cell {sk:#x} is not an sk", start)
    (length,) = _U32.unpack_from(alloc.image, start + SK_DESC_LEN)
    if SK_FIXED_SIZE + length > cap:
        raise CellError(f"descriptor of sk {sk:#x} runs past its cell", start)
    return start


def read_sk(alloc: CellAllocator, sk: int) -> SkRecord:
    """Flink, blink, reference count and descriptor bytes of sk cell ``sk``."""
    start = _sk_start(alloc, sk)
    _sig, _res, flink, blink, refs, length = SK.unpack_from(alloc.image, start)
    desc = bytes(alloc.image[start + SK_FIXED_SIZE : start + SK_FIXED_SIZE + length])
    return SkRecord(flink, blink, refs, desc)


def sk_ring(alloc: CellAllocator, sk: int) -> list[int]:
    """The sk cells of the ring containing ``sk``, following flink, starting at ``sk``.

    Raises :class:`~regf.errors.StructureError` when a link is not returned
    (``next.blink != this``) or the walk does not come back to ``sk``.
    """
    ring = [sk]
    seen = {sk}
    cur = sk
    while True:
        start = _sk_start(alloc, cur)
        (nxt,) = _U32.unpack_from(alloc.image, start + SK_FLINK)
        nstart = _sk_start(alloc, nxt)
        (back,) = _U32.unpack_from(alloc.image, nstart + SK_BLINK)
        if back != cur:
            raise StructureError(
                f"sk ring broken: {cur:#x}.flink = {nxt:#x} but its blink = {back:#x}", start
            )
        if nxt == sk:
            return ring
        if nxt in seen:
            raise StructureError(f"sk ring from {sk:#x} loops without returning", start)
        seen.add(nxt)
        ring.append(nxt)
        cur = nxt


def key_security(alloc: CellAllocator, nk: int) -> bytes:
    """The descriptor bytes of key ``nk``'s sk."""
    return read_sk(alloc, _nk_sk(alloc, nk)).descriptor


def _nk_sk(alloc: CellAllocator, nk: int) -> int:
    if alloc.capacity(nk) < NK_FIXED_SIZE:
        raise CellError(f"key cell {nk:#x} is too small for a key node", BASE + nk)
    start = BASE + nk + CELL_HEADER
    if alloc.image[start : start + 2] != b"nk":
        raise SignatureError(f"cell {nk:#x} is not an nk", start)
    return int(_U32.unpack_from(alloc.image, start + NK_SECURITY)[0])


# ---------------------------------------------------------------------------------------
# Editing
# ---------------------------------------------------------------------------------------


def validate_descriptor(descriptor: bytes | bytearray | memoryview) -> bytes:
    """``descriptor`` as bytes if it parses as a self-relative SECURITY_DESCRIPTOR."""
    if not isinstance(descriptor, bytes | bytearray | memoryview):
        raise InvalidArgumentError(
            f"security descriptor must be bytes, not {type(descriptor).__name__}"
        )
    raw = bytes(descriptor)
    if len(raw) > MAX_DESCRIPTOR:
        raise InvalidArgumentError(f"security descriptor of {len(raw)} bytes is too long")
    try:
        sd = parse_descriptor(raw)
    except FormatError as exc:
        raise InvalidArgumentError(f"bad security descriptor: {exc}") from None
    if sd.revision != 1:
        raise InvalidArgumentError(f"security descriptor revision {sd.revision}, expected 1")
    return raw


def _write_u32(alloc: CellAllocator, cell: int, off: int, value: int) -> None:
    alloc.write(cell, off, _U32.pack(value))


def find_sk(
    alloc: CellAllocator, anchor: int, descriptor: bytes, *, cache: SkCache | None = None
) -> int | None:
    """The sk holding exactly ``descriptor`` in ``anchor``'s ring, or None."""
    if cache is not None:
        if not cache.built:
            cache.build(alloc, anchor)
        hit = cache.by_desc.get(descriptor)
        if hit is None:
            return None
        try:
            if read_sk(alloc, hit).descriptor == descriptor:
                return hit
        except FormatError:
            pass
        cache.build(alloc, anchor)  # stale: rebuild once, then trust it
        return cache.by_desc.get(descriptor)
    for sk in sk_ring(alloc, anchor):
        if read_sk(alloc, sk).descriptor == descriptor:
            return sk
    return None


def find_or_create_sk(
    alloc: CellAllocator,
    anchor: int,
    descriptor: bytes | bytearray | memoryview,
    *,
    cache: SkCache | None = None,
) -> int:
    """The sk for ``descriptor``, created before ``anchor`` in the ring if missing.

    A created sk has reference count 0 (see the module docstring).
    """
    desc = validate_descriptor(descriptor)
    found = find_sk(alloc, anchor, desc, cache=cache)
    if found is not None:
        return found
    start = _sk_start(alloc, anchor)
    (prev,) = _U32.unpack_from(alloc.image, start + SK_BLINK)
    _sk_start(alloc, prev)  # validated before anything is allocated
    sk = alloc.alloc(SK_FIXED_SIZE + len(desc))  # round8(4 + 0x14 + len), fmt §4.5
    alloc.write(sk, 0, SK.pack(b"sk", 0, anchor, prev, 0, len(desc)) + desc)
    # prev <-> sk <-> anchor (prev == anchor for a ring of one: both links go to sk).
    _write_u32(alloc, prev, SK_FLINK, sk)
    _write_u32(alloc, anchor, SK_BLINK, sk)
    if cache is not None:
        cache.by_desc[desc] = sk
    return sk


def sk_addref(alloc: CellAllocator, sk: int, n: int = 1) -> int:
    """Add ``n`` references to ``sk``; return the new count."""
    start = _sk_start(alloc, sk)
    refs: int = _U32.unpack_from(alloc.image, start + SK_REFCOUNT)[0] + n
    if not 0 <= refs <= 0xFFFFFFFF:
        raise StructureError(f"sk {sk:#x} reference count out of range ({refs})", start)
    _write_u32(alloc, sk, SK_REFCOUNT, refs)
    return refs


def sk_release(alloc: CellAllocator, sk: int, *, cache: SkCache | None = None) -> bool:
    """Drop one reference to ``sk``; unlink and free it at 0 (not the last sk).

    Returns True when the cell was freed.
    """
    start = _sk_start(alloc, sk)
    _sig, _res, flink, blink, refs, length = SK.unpack_from(alloc.image, start)
    if refs == 0:
        raise StructureError(f"sk {sk:#x} released with reference count 0", start)
    refs -= 1
    if refs or flink == sk:  # still used, or the hive's only sk: keep it
        _write_u32(alloc, sk, SK_REFCOUNT, refs)
        return False
    _sk_start(alloc, flink)
    _sk_start(alloc, blink)
    if cache is not None:
        desc = bytes(alloc.image[start + SK_FIXED_SIZE : start + SK_FIXED_SIZE + length])
        if cache.by_desc.get(desc) == sk:
            del cache.by_desc[desc]
    _write_u32(alloc, flink, SK_BLINK, blink)
    _write_u32(alloc, blink, SK_FLINK, flink)
    alloc.free(sk)
    return True


def set_key_security(
    alloc: CellAllocator,
    nk: int,
    descriptor: bytes | bytearray | memoryview,
    *,
    anchor: int | None = None,
    cache: SkCache | None = None,
) -> int:
    """Give key ``nk`` the descriptor ``descriptor``; return its sk index.

    The new sk gets a reference before the old one is released, so setting the same
    descriptor again changes nothing. A key whose security field is NIL (a node being
    built) needs ``anchor`` (any sk of the hive, normally the parent's).
    """
    desc = validate_descriptor(descriptor)
    old = _nk_sk(alloc, nk)
    if old == HCELL_NIL:
        if anchor is None:
            raise InvalidArgumentError(f"key {nk:#x} has no sk: pass anchor=")
        ring_anchor = anchor
    else:
        ring_anchor = old if anchor is None else anchor
    new = find_or_create_sk(alloc, ring_anchor, desc, cache=cache)
    if new == old:
        return new
    sk_addref(alloc, new)
    _write_u32(alloc, nk, NK_SECURITY, new)
    if old != HCELL_NIL:
        sk_release(alloc, old, cache=cache)
    return new


# ---------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------

Problem = tuple[int | None, str]


def iter_key_cells(
    buf: bytes | bytearray, hbins_size: int, root: int
) -> tuple[list[int], list[Problem]]:
    """Every nk cell reachable from ``root`` (depth first) and the problems met.

    Uses the accelerated subkey-list decoder (:func:`regf._accel.leaf_cells`); a bad list
    is reported and its subtree skipped.
    """
    keys: list[int] = []
    problems: list[Problem] = []
    stack = [root]
    seen: set[int] = set()
    with memoryview(buf) as whole, whole[BASE : BASE + hbins_size] as bins:
        while stack:
            nk = stack.pop()
            if nk in seen:
                problems.append((BASE + nk, f"key {nk:#x} reached twice"))
                continue
            seen.add(nk)
            if (
                nk & 7
                or nk + CELL_HEADER + NK_FIXED_SIZE > hbins_size
                or cell_sig(buf, nk) != b"nk"
            ):
                problems.append((None, f"key cell {nk:#x} is not an nk"))
                continue
            keys.append(nk)
            f = NK.unpack_from(buf, BASE + nk + CELL_HEADER)
            count, lst = f[7], f[9]
            if count == 0 or lst == HCELL_NIL:
                continue
            try:
                children = leaf_cells(bins, hbins_size, lst)
            except FormatError as exc:
                problems.append((exc.offset, f"subkey list of {nk:#x}: {exc}"))
                continue
            stack.extend(reversed(children))
    return keys, problems


def check_security(
    buf: bytes | bytearray, root: int, hbins_size: int | None = None
) -> list[Problem]:
    """Check the sk ring and every reference count against the key tree (fmt §4.5).

    ``buf`` is a whole-file image; ``hbins_size`` defaults to the base block's field.
    """
    if hbins_size is None:
        hbins_size = BASE_L.field("hbins_size").unpack_from(buf)
    problems: list[Problem] = []
    keys, walk_problems = iter_key_cells(buf, hbins_size, root)
    problems.extend(walk_problems)
    refs: dict[int, int] = {}
    for nk in keys:
        (sk,) = _U32.unpack_from(buf, BASE + nk + CELL_HEADER + NK_SECURITY)
        refs[sk] = refs.get(sk, 0) + 1

    def sk_fields(sk: int) -> tuple[int, int, int] | None:
        if sk & 7 or sk + CELL_HEADER + SK_FIXED_SIZE > hbins_size:
            return None
        (size,) = _I32.unpack_from(buf, BASE + sk)
        start = BASE + sk + CELL_HEADER
        if size > -(CELL_HEADER + SK_FIXED_SIZE) or buf[start : start + 2] != b"sk":
            return None
        _sig, _r, flink, blink, count, length = SK.unpack_from(buf, start)
        if SK_FIXED_SIZE + length > -size - CELL_HEADER:
            return None
        return flink, blink, count

    for sk, n in refs.items():
        if sk_fields(sk) is None:
            problems.append((None, f"{n} key(s) point at {sk:#x}, which is not a valid sk"))
    if root not in keys:
        return problems
    (start_sk,) = _U32.unpack_from(buf, BASE + root + CELL_HEADER + NK_SECURITY)
    if sk_fields(start_sk) is None:
        return problems
    ring: list[int] = []
    seen: set[int] = set()
    cur = start_sk
    limit = hbins_size // 8
    while len(ring) <= limit:
        fields = sk_fields(cur)
        if fields is None:
            problems.append((None, f"sk ring reaches {cur:#x}, which is not a valid sk"))
            break
        flink, _blink, count = fields
        ring.append(cur)
        seen.add(cur)
        if count == 0 and not refs.get(cur, 0):
            problems.append((BASE + cur, f"sk {cur:#x} is in the ring but unreferenced"))
        elif count != refs.get(cur, 0):
            problems.append(
                (
                    BASE + cur + CELL_HEADER + SK_REFCOUNT,
                    f"sk {cur:#x}: reference count {count}, {refs.get(cur, 0)} key(s) use it",
                )
            )
        nxt = sk_fields(flink)
        if nxt is not None and nxt[1] != cur:
            problems.append(
                (
                    BASE + flink + CELL_HEADER + SK_BLINK,
                    f"sk {flink:#x}: blink {nxt[1]:#x}, but {cur:#x} links to it",
                )
            )
        if flink == start_sk:
            break
        if flink in seen:
            problems.append((BASE + cur + CELL_HEADER + SK_FLINK, f"sk ring loops at {flink:#x}"))
            break
        cur = flink
    for sk in refs:
        if sk not in seen and sk_fields(sk) is not None:
            problems.append((BASE + sk, f"sk {sk:#x} is used by keys but not in the ring"))
    return problems


__all__ = [
    "MAX_DESCRIPTOR",
    "SkCache",
    "SkRecord",
    "check_security",
    "find_or_create_sk",
    "find_sk",
    "iter_key_cells",
    "key_security",
    "read_sk",
    "set_key_security",
    "sk_addref",
    "sk_release",
    "sk_ring",
    "validate_descriptor",
]
