"""Pure-Python twin of the C tree walker (``regf_walk`` in ``csrc/walk.c``).

Split from :mod:`regf._accel.pure` (the hash, scan and leaf twins), whose rules it
shares; like that module it is the executable specification of its C counterpart, and
``tests/test_walk.py`` checks the two give the same chunks for every input.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable
from typing import Any, NamedTuple

from .codes import (
    BIG_DATA_SEGMENT,
    CELL_FIXED_SIZE,
    CELL_SIZE,
    DATA_INLINE,
    DB_SEGMENT_COUNT,
    DB_SEGMENT_COUNT_BYTES,
    DB_SIG,
    FMT_I32,
    FMT_U16,
    FMT_U32,
    HCELL_NIL,
    K_CHILDREN_BAD,
    K_CYCLE,
    K_DEPTH,
    K_GROUP,
    K_LEAF,
    K_VALUES_BAD,
    KEY_COMP_NAME,
    KEY_PREDEF_HANDLE,
    LIST_COUNT,
    LIST_FIXED_SIZE,
    LIST_SIGNATURE_BYTES,
    MAX_HBINS_SIZE,
    NK_FIXED_SIZE,
    NK_FLAGS,
    NK_NAME_LENGTH,
    NK_SIG,
    NK_SUBKEY_COUNT,
    NK_SUBKEY_LIST,
    NK_VALUE_COUNT,
    NK_VALUE_LIST,
    RI_ELEM_SIZE,
    RI_SIG,
    V_SLOW,
    VALUE_COMP_NAME,
    VALUE_LIST_ELEM_SIZE,
    VK_DATA,
    VK_DATA_BYTES,
    VK_DATA_SIZE,
    VK_FIXED_SIZE,
    VK_FLAGS,
    VK_NAME_LENGTH,
    VK_SIG,
    VK_TYPE,
    VOLATILE_BIT,
    WALK_CAP_MAX,
    WALK_DATA_MAX,
    WALK_DONE,
    WALK_E_ARGS,
    WALK_E_START,
    WALK_FRAME_WORDS,
    WALK_GROUPS,
    WALK_HEAD_WORDS,
    WALK_LEVEL,
    WALK_MARK_UNIT,
    WALK_MAX_FRAMES,
    WALK_MIN_NAMES,
    WALK_RUNNING,
    WALK_START,
    WALK_STATE_WORDS,
    WALK_STRICT,
    WALK_VALUES,
)
from .pure import LIST_ELEM
from .upcase_table import UPCASE

_Buffer = bytes | bytearray | memoryview
_U16 = struct.Struct(FMT_U16)
_U32 = struct.Struct(FMT_U32)
_I32 = struct.Struct(FMT_I32)

# ---- tree walk (C twin: regf_walk; see csrc/regf_accel.h for the contract) ----------
#
# The walker emits key and value records for the reader in resumable chunks. Its state
# lives in a caller-owned buffer of WALK_STATE_WORDS u32 (native order) so both backends
# can be compared word for word. Records come as parallel lists (structure of arrays);
# names as UTF-16LE (each name plus one U+0000 unit), raw data as one byte string cut
# apart by a struct format. Every check mirrors the C code line for line.

_MAX_LIST_ENTRIES = 1 << 20
#: Every cell record's signature (nk, vk, li, ...) is this long.
_SIG_BYTES = LIST_SIGNATURE_BYTES


class WalkCaps(NamedTuple):
    """Output capacities of one walk call (C: the ``*_cap`` fields of regf_walk_out)."""

    keys: int = 4096
    vals: int = 8192
    knames: int = 1 << 18
    vnames: int = 1 << 18
    data: int = 1 << 20
    fmt: int = 6 * 8192


class WalkChunk(NamedTuple):
    """What one walk call emitted (C: regf_walk_out after the call)."""

    rc: int
    key_cell: list[int]
    key_depth: list[int]
    key_status: list[int]
    key_nvals: list[int]
    val_cell: list[int]
    val_type: list[int]
    val_status: list[int]
    #: Names (UTF-16LE, NUL after each) and raw data: bytes, or (a C binder's calls)
    #: views of its output buffers that its next call overwrites.
    knames: Any
    vnames: Any
    data: Any
    fmt: bytes
    name_nul: int


DEFAULT_CAPS = WalkCaps()


def new_walk_state() -> bytearray:
    """A zeroed walk state buffer (WALK_STATE_WORDS native u32)."""
    return bytearray(4 * WALK_STATE_WORDS)


def _name_bytes(length: int, compressed: bool) -> int:
    return 2 * length if compressed else length & ~1


class _Walker:
    """One call's output buffers and the checks shared by every step (mirrors C)."""

    def __init__(
        self,
        bins: _Buffer,
        total: int,
        cellmap: _Buffer,
        visited: bytearray,
        flags: int,
        minor: int,
        max_depth: int,
        caps: WalkCaps,
    ) -> None:
        self.bins = bins
        self.total = total
        self.cellmap = cellmap
        self.visited = visited
        self.flags = flags
        self.minor = minor
        self.max_depth = max_depth
        self.base_depth = 0
        self.list_limit = min(total // 8, _MAX_LIST_ENTRIES)
        self.caps = caps
        self.key_cell: list[int] = []
        self.key_depth: list[int] = []
        self.key_status: list[int] = []
        self.key_nvals: list[int] = []
        self.val_cell: list[int] = []
        self.val_type: list[int] = []
        self.val_status: list[int] = []
        self.knames = bytearray()
        self.vnames = bytearray()
        self.data = bytearray()
        self.fmt = bytearray()
        self.name_nul = 0

    def chunk(self, rc: int) -> WalkChunk:
        return WalkChunk(
            rc,
            self.key_cell,
            self.key_depth,
            self.key_status,
            self.key_nvals,
            self.val_cell,
            self.val_type,
            self.val_status,
            bytes(self.knames),
            bytes(self.vnames),
            bytes(self.data),
            bytes(self.fmt),
            self.name_nul,
        )

    def cell(self, c: int, need: int) -> int:
        """Data capacity of a checked cell (HiveImage.cell rules), or -1."""
        if c & (VOLATILE_BIT | 7) or c + CELL_FIXED_SIZE > self.total:
            return -1
        q = c >> 3
        if (q >> 3) >= len(self.cellmap) or not (self.cellmap[q >> 3] >> (q & 7)) & 1:
            return -1
        size = int(_I32.unpack_from(self.bins, c + CELL_SIZE)[0])
        if (
            size >= 0
            or -size < CELL_FIXED_SIZE
            or -size > self.total - c
            or -size - CELL_FIXED_SIZE < need
        ):
            return -1
        return -size - CELL_FIXED_SIZE

    def u16(self, off: int) -> int:
        return int(_U16.unpack_from(self.bins, off)[0])

    def u32(self, off: int) -> int:
        return int(_U32.unpack_from(self.bins, off)[0])

    def sig(self, off: int) -> bytes:
        return bytes(self.bins[off : off + _SIG_BYTES])

    def nk(self, c: int) -> int:
        """Data offset of a sound nk at cell ``c``, or -1."""
        cap = self.cell(c, NK_FIXED_SIZE)
        k = c + CELL_FIXED_SIZE
        if cap < 0 or self.sig(k) != NK_SIG:
            return -1
        if NK_FIXED_SIZE + self.u16(k + NK_NAME_LENGTH) > cap:
            return -1
        return k

    def put_name(self, dst: bytearray, off: int, length: int, compressed: bool) -> None:
        raw = bytes(self.bins[off : off + length])
        units = raw.decode("latin-1").encode("utf-16-le") if compressed else raw[: length & ~1]
        if any(units[i] == 0 and units[i + 1] == 0 for i in range(0, len(units), 2)):
            self.name_nul = 1
        dst += units + b"\0\0"

    def emit_value(self, vc: int) -> int:
        cap = self.cell(vc, VK_FIXED_SIZE)
        v = vc + CELL_FIXED_SIZE
        if cap < 0 or self.sig(v) != VK_SIG:
            return 0
        nl = self.u16(v + VK_NAME_LENGTH)
        if VK_FIXED_SIZE + nl > cap:
            return 0
        ds, data = self.u32(v + VK_DATA_SIZE), self.u32(v + VK_DATA)
        length = ds & ~DATA_INLINE
        src, copy, status = -1, 0, 0
        if ds & DATA_INLINE:
            # Inline: the bytes are the data field itself, at most 4 (fmt §4.3).
            src, copy = v + VK_DATA, min(length, VK_DATA_BYTES)
        elif length:
            status = V_SLOW
            if length <= WALK_DATA_MAX:
                literal = True
                if length > BIG_DATA_SEGMENT and self.minor >= 4:
                    # db records are assembled by the Python side; other cells are read
                    # literally when large enough (hivex writes such cells).
                    db_head = DB_SEGMENT_COUNT + DB_SEGMENT_COUNT_BYTES
                    literal = (
                        self.cell(data, db_head) >= 0 and self.sig(data + CELL_FIXED_SIZE) != DB_SIG
                    )
                if literal and self.cell(data, length) >= 0:
                    src, copy, status = data + CELL_FIXED_SIZE, length, 0
        compressed = bool(self.u16(v + VK_FLAGS) & VALUE_COMP_NAME)
        nb = _name_bytes(nl, compressed)
        caps = self.caps
        if (
            len(self.val_cell) >= caps.vals
            or caps.vnames - len(self.vnames) < nb + 2
            or caps.data - len(self.data) < copy
            or caps.fmt - len(self.fmt) < 6
        ):
            return -1
        self.put_name(self.vnames, v + VK_FIXED_SIZE, nl, compressed)
        if copy:
            self.data += self.bins[src : src + copy]
        self.fmt += b"%ds" % copy
        self.val_cell.append(vc)
        self.val_type.append(self.u32(v + VK_TYPE))
        self.val_status.append(status)
        return 1

    def emit_values(self, k: int) -> int:
        # A predefined-handle key's value count is not a count (fmt §4.1).
        predef = self.u16(k + NK_FLAGS) & KEY_PREDEF_HANDLE
        count = 0 if predef else self.u32(k + NK_VALUE_COUNT)
        lst = self.u32(k + NK_VALUE_LIST)
        if count == 0 or lst == HCELL_NIL:
            return 1
        cap = self.cell(lst, 0)
        if cap < 0 or VALUE_LIST_ELEM_SIZE * count > cap:
            return 0
        if count > self.caps.vals - len(self.val_cell):
            return -1
        at = lst + CELL_FIXED_SIZE
        for i in range(count):
            rc = self.emit_value(self.u32(at + VALUE_LIST_ELEM_SIZE * i))
            if rc <= 0:
                return rc
        return 1

    def name_key(self, k: int) -> list[int]:
        """Upcased code units of an nk's name (for the duplicate check)."""
        compressed = self.u16(k + NK_FLAGS) & KEY_COMP_NAME
        length = self.u16(k + NK_NAME_LENGTH)
        raw = bytes(self.bins[k + NK_FIXED_SIZE : k + NK_FIXED_SIZE + length])
        units = list(raw) if compressed else [u for (u,) in _U16.iter_unpack(raw[: length & ~1])]
        return [UPCASE.get(u, u) for u in units]

    def leaf_shape(self, off: int, cap: int) -> tuple[int, int] | None:
        """(count, element size) of a sound li/lf/lh at data offset ``off``."""
        sig = self.sig(off)
        es = LIST_ELEM.get(sig)
        if es is None or sig == RI_SIG:
            return None
        n = self.u16(off + LIST_COUNT)
        return (n, es) if LIST_FIXED_SIZE + n * es <= cap else None

    def children_ok(self, lst: int) -> int:
        """Entries of a sound subkey list (checked as C's children_ok), or -1."""
        cap = self.cell(lst, LIST_FIXED_SIZE)
        if cap < 0:
            return -1
        lo = lst + CELL_FIXED_SIZE
        is_ri = self.sig(lo) == RI_SIG
        if is_ri:
            outer = self.u16(lo + LIST_COUNT)
            if LIST_FIXED_SIZE + RI_ELEM_SIZE * outer > cap:
                return -1
        else:
            outer = 1
        total = 0
        prev: list[int] | None = None
        strict = self.flags & WALK_STRICT
        for j in range(outer):
            if is_ri:
                leaf = self.u32(lo + LIST_FIXED_SIZE + RI_ELEM_SIZE * j)
                lcap = self.cell(leaf, LIST_FIXED_SIZE)
                if lcap < 0:
                    return -1
                loff = leaf + CELL_FIXED_SIZE
            else:
                loff, lcap = lo, cap
            shape = self.leaf_shape(loff, lcap)
            if shape is None:
                return -1
            n, es = shape
            total += n
            if total > self.list_limit:
                return -1
            for i in range(n):
                k = self.nk(self.u32(loff + LIST_FIXED_SIZE + i * es))
                if k < 0:
                    return -1
                if strict:
                    cur = self.name_key(k)
                    if prev is not None and cur == prev:
                        return -1
                    prev = cur
        return total

    def visit(self, c: int, depth: int) -> tuple[int, bool]:
        """(1 emitted / 0 no room / 2 emitted and end the chunk / 3 not an nk: skip,
        push a frame?)."""
        k = self.nk(c)
        if k < 0:
            return 3, False
        comp = bool(self.u16(k + NK_FLAGS) & KEY_COMP_NAME)
        nl = self.u16(k + NK_NAME_LENGTH)
        if (
            len(self.key_cell) >= self.caps.keys
            or self.caps.knames - len(self.knames) < _name_bytes(nl, comp) + 2
        ):
            return 0, False
        save = (len(self.knames), len(self.vnames), len(self.data), len(self.fmt))
        nvals = len(self.val_cell)
        self.put_name(self.knames, k + NK_FIXED_SIZE, nl, comp)
        status = 0
        push = False
        q = c >> 3
        if (self.visited[q >> 3] >> (q & 7)) & 1:
            status = K_CYCLE
        else:
            if self.flags & WALK_VALUES and not (
                self.flags & WALK_LEVEL and depth == self.base_depth
            ):
                rc = self.emit_values(k)
                if rc < 0 and self.key_cell:
                    # No room: end the chunk; this key starts the next one.
                    self._truncate(save, nvals, keep_key_name=False)
                    return 0, False
                if rc <= 0:
                    # Bad, or more than an empty chunk holds: the caller decodes them.
                    self._truncate(save, nvals, keep_key_name=True)
                    status |= K_VALUES_BAD
            self.visited[q >> 3] |= 1 << (q & 7)
            if depth >= self.max_depth:
                status |= K_DEPTH
                if self.flags & WALK_LEVEL and (
                    self.u32(k + NK_SUBKEY_COUNT) == 0 or self.u32(k + NK_SUBKEY_LIST) == HCELL_NIL
                ):
                    status |= K_LEAF
            elif self.u32(k + NK_SUBKEY_COUNT) != 0 and self.u32(k + NK_SUBKEY_LIST) != HCELL_NIL:
                entries = self.children_ok(self.u32(k + NK_SUBKEY_LIST))
                if entries < 0:
                    status |= K_CHILDREN_BAD
                elif entries or not self.flags & WALK_GROUPS:
                    push = True
                else:
                    status |= K_LEAF  # a sound list with no entries: a group of none
            elif self.flags & WALK_GROUPS:
                status |= K_LEAF
        self.key_cell.append(c)
        self.key_depth.append(depth)
        self.key_status.append(status)
        self.key_nvals.append(len(self.val_cell) - nvals)
        return (2 if status & K_CHILDREN_BAD else 1), push

    def _truncate(self, save: tuple[int, int, int, int], nvals: int, keep_key_name: bool) -> None:
        if not keep_key_name:
            del self.knames[save[0] :]
        del self.vnames[save[1] :]
        del self.data[save[2] :]
        del self.fmt[save[3] :]
        del self.val_cell[nvals:]
        del self.val_type[nvals:]
        del self.val_status[nvals:]

    def frame_peek(self, f: list[int]) -> tuple[int, int, int] | None:
        """The next child of frame ``f`` and the frame's (outer, inner) past it, or None:
        the caller stores those once it takes the child, as in C."""
        cap = self.cell(f[0], LIST_FIXED_SIZE)
        if cap < 0:
            return None
        lo = f[0] + CELL_FIXED_SIZE
        outer, inner = f[1], f[2]
        if self.sig(lo) != RI_SIG:
            shape = self.leaf_shape(lo, cap)
            if shape is None or inner >= shape[0]:
                return None
            return self.u32(lo + LIST_FIXED_SIZE + inner * shape[1]), outer, inner + 1
        while (
            outer < self.u16(lo + LIST_COUNT)
            and LIST_FIXED_SIZE + RI_ELEM_SIZE * (outer + 1) <= cap
        ):
            leaf = self.u32(lo + LIST_FIXED_SIZE + RI_ELEM_SIZE * outer)
            lcap = self.cell(leaf, LIST_FIXED_SIZE)
            ld = leaf + CELL_FIXED_SIZE
            shape = self.leaf_shape(ld, lcap) if lcap >= 0 else None
            if shape is None:
                return None
            if inner < shape[0]:
                return self.u32(ld + LIST_FIXED_SIZE + inner * shape[1]), outer, inner + 1
            outer += 1
            inner = 0
        return None


# REGF_WALK_GROUPS: the top frame's mode (state word 2), as in C.
_GROUP_DESCEND, _GROUP_FIRST, _GROUP_MORE = 0, 1, 2


def _mark_op(visited: bytearray, c: int, op: int) -> bool:
    """Read the expansion mark of nk ``c`` (the visited bit of unit c/8 +
    WALK_MARK_UNIT, inside its own cell), then set it (op > 0) or clear it (op < 0); as
    C's mark_op."""
    u = (c >> 3) + WALK_MARK_UNIT
    bit = 1 << (u & 7)
    was = bool(visited[u >> 3] & bit)
    if op > 0:
        visited[u >> 3] |= bit
    elif op < 0:
        visited[u >> 3] &= ~bit & 0xFF
    return was


def _walk_groups(w: _Walker, words: memoryview, base_depth: int) -> WalkChunk:
    """The REGF_WALK_GROUPS order after the start record (C: walk_groups): each key's
    children as one group, then the descent into the marked ones, each emitting its own
    group first."""
    hw, fw = WALK_HEAD_WORDS, WALK_FRAME_WORDS
    while words[1] > 0:
        at = hw + fw * (words[1] - 1)
        frame = list(words[at : at + fw])
        if words[2] != _GROUP_DESCEND:
            peek = w.frame_peek(frame)
            if peek is None:
                # The group is complete: walk the same list again, descending.
                words[at + 1] = words[at + 2] = 0
                words[2] = _GROUP_DESCEND
                continue
            child = peek[0]
            rc, push = w.visit(child, base_depth + words[1])
            if rc == 0:
                return w.chunk(1)
            if rc != 3 and words[2] == _GROUP_FIRST:
                w.key_status[-1] |= K_GROUP
                words[2] = _GROUP_MORE
            if push:
                _mark_op(w.visited, child, 1)
            frame[1:3] = peek[1:]
            words[at : at + fw] = array("I", frame)
            if rc == 2:
                return w.chunk(1)
            continue
        peek = w.frame_peek(frame)
        if peek is None:
            words[1] -= 1
            continue
        child = peek[0]
        frame[1:3] = peek[1:]
        words[at : at + fw] = array("I", frame)
        # Only a marked child is expanded (a cycle or a duplicate never is), once.
        if (
            words[1] < WALK_MAX_FRAMES
            and child & 7 == 0
            and child + NK_FIXED_SIZE + CELL_FIXED_SIZE <= w.total
            and _mark_op(w.visited, child, -1)
        ):
            k = w.nk(child)
            if k < 0:
                continue
            at = hw + fw * words[1]
            words[at : at + fw] = array("I", [w.u32(k + NK_SUBKEY_LIST), 0, 0])
            words[1] += 1
            words[2] = _GROUP_FIRST
    words[0] = WALK_DONE
    return w.chunk(0)


def walk_code(
    bins: _Buffer,
    hbins_size: int,
    cellmap: _Buffer,
    visited: bytearray,
    start_cell: int,
    base_depth: int,
    max_depth: int,
    flags: int,
    minor: int,
    state: bytearray,
    caps: WalkCaps = DEFAULT_CAPS,
) -> WalkChunk:
    """One ``regf_walk`` call; ``state`` (from :func:`new_walk_state`) is updated in place.
    ``rc`` is 1 (call again), 0 (done) or a negative WALK_E_* code (nothing emitted)."""
    words = memoryview(state).cast("I")
    w = _Walker(bins, hbins_size, cellmap, visited, flags, minor, max_depth, caps)
    w.base_depth = base_depth
    if (
        hbins_size > MAX_HBINS_SIZE
        or visited is None
        or len(visited) < (hbins_size >> 6) + 1
        or base_depth > max_depth
        or max_depth - base_depth >= WALK_MAX_FRAMES
        or caps.keys < 1
        or caps.knames < WALK_MIN_NAMES
        or max(caps) > WALK_CAP_MAX
        or words[0] > WALK_DONE
        or words[1] > WALK_MAX_FRAMES
        or words[2] > _GROUP_MORE
    ):
        return w.chunk(WALK_E_ARGS)
    hw, fw = WALK_HEAD_WORDS, WALK_FRAME_WORDS
    if words[0] == WALK_DONE:
        return w.chunk(0)
    if words[0] == WALK_START:
        k = w.nk(start_cell)
        if k < 0:
            return w.chunk(WALK_E_START)
        rc, push = w.visit(start_cell, base_depth)
        if rc not in (1, 2):  # pragma: no cover - an empty chunk holds any one key
            return w.chunk(WALK_E_ARGS)
        words[0] = WALK_RUNNING
        words[1] = 0
        words[2] = _GROUP_DESCEND
        if push:
            words[hw : hw + fw] = array("I", [w.u32(k + NK_SUBKEY_LIST), 0, 0])
            words[1] = 1
            if flags & WALK_GROUPS:
                words[2] = _GROUP_FIRST  # the start key's children: the first group
        if rc == 2:
            return w.chunk(1)
    if flags & WALK_GROUPS:
        return _walk_groups(w, words, base_depth)
    while words[1] > 0:
        at = hw + fw * (words[1] - 1)
        frame = list(words[at : at + fw])
        peek = w.frame_peek(frame)
        if peek is None:
            words[1] -= 1
            continue
        child = peek[0]
        rc, push = w.visit(child, base_depth + words[1])
        if rc == 0:
            return w.chunk(1)
        frame[1:3] = peek[1:]
        words[at : at + fw] = array("I", frame)
        if push and words[1] < WALK_MAX_FRAMES:
            at = hw + fw * words[1]
            words[at : at + fw] = array("I", [w.u32(w.nk(child) + NK_SUBKEY_LIST), 0, 0])
            words[1] += 1
        if rc == 2:
            return w.chunk(1)
    words[0] = WALK_DONE
    return w.chunk(0)


def fewer_keys(caps: WalkCaps, keys: int) -> WalkCaps:
    """``caps`` with at most ``keys`` key records (0: unchanged)."""
    return caps._replace(keys=keys) if 0 < keys < caps.keys else caps


def walk_binder(
    buf: _Buffer,
    offset: int,
    hbins_size: int,
    cellmap: _Buffer,
    visited: bytearray,
    state: bytearray,
    caps: WalkCaps = DEFAULT_CAPS,
) -> Callable[..., WalkChunk]:
    """:func:`walk_code` with its buffers bound: ``f(start_cell, base_depth, max_depth,
    flags, minor, keys=0)`` is ``walk_code(bins, hbins_size, cellmap, visited,
    start_cell, base_depth, max_depth, flags, minor, state, caps)`` with ``bins =
    buf[offset : offset + hbins_size]`` (the C twin converts the buffers once, not on
    every call); ``keys`` > 0 allows at most that many key records."""
    if len(state) < 4 * WALK_STATE_WORDS:
        raise ValueError("walk state buffer too small")
    if offset < 0 or len(buf) < offset + hbins_size:
        raise ValueError("bins shorter than hbins_size")
    if min(caps) < 0:
        raise ValueError("negative capacity")

    bins = memoryview(buf)[offset : offset + hbins_size]

    def call(
        start_cell: int, base_depth: int, max_depth: int, flags: int, minor: int, keys: int = 0
    ) -> Any:
        return walk_code(
            bins, hbins_size, cellmap, visited, start_cell, base_depth, max_depth, flags,
            minor, state, fewer_keys(caps, keys),
        )  # fmt: skip

    return call


__all__ = [
    "DEFAULT_CAPS",
    "K_CHILDREN_BAD",
    "K_CYCLE",
    "K_DEPTH",
    "K_GROUP",
    "K_LEAF",
    "K_VALUES_BAD",
    "V_SLOW",
    "WALK_CAP_MAX",
    "WALK_DATA_MAX",
    "WALK_DONE",
    "WALK_E_ARGS",
    "WALK_E_START",
    "WALK_FRAME_WORDS",
    "WALK_GROUPS",
    "WALK_HEAD_WORDS",
    "WALK_LEVEL",
    "WALK_MARK_UNIT",
    "WALK_MAX_FRAMES",
    "WALK_MIN_NAMES",
    "WALK_RUNNING",
    "WALK_START",
    "WALK_STATE_WORDS",
    "WALK_STRICT",
    "WALK_VALUES",
    "WalkCaps",
    "WalkChunk",
    "new_walk_state",
    "fewer_keys",
    "walk_binder",
    "walk_code",
]
