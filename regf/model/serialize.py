"""Write a complete, clean, compact hive file from a :class:`~regf.model.spec.KeySpec` tree.

The output is what offreg's ``ORSaveHive`` produces minus its ``OfRg`` marker: one base
block (fmt §1, §11) followed by bins that hold every cell exactly once, packed in order,
with no free space except the tail of each bin (one free cell, positive size).

Layout decisions (all readers accept any layout; these are the compact choices):

* Cells are appended in depth-first pre-order: a key's nk, its class cell, its sk (on
  first use of that descriptor), its value list, each vk followed by its data (or its db
  cell, segment list and segments, like offreg), then its subkey list (``ri`` first, then leaves),
  then the subkeys recursively in sorted order.
* Bins are 4096 bytes; a cell that does not fit the tail of a recent bin starts a new bin
  of ``roundup(cell + 32, 4096)`` bytes (fmt §2). The few most recent bins with room are
  tried first (see :class:`_Bins`), so small cells following a big-data segment's own
  16 KiB bin still fill the 4 KiB bin before it.
* Cells are ``round8(4 + payload)`` bytes (fmt §3); slack bytes are zero.
* Subkey lists (fmt §4.2), sorted with Windows' collation: minor >= 5 uses ``lh``;
  minor 3-4 uses ``lf`` up to 507 entries and a single ``li`` from 508 to 1013 (Windows
  converts a full ``lf`` into an ``li``); minor 2 uses ``li``. Every leaf is kept within
  one 4 KiB bin: at most 507 entries for ``lh`` (``4 + 4 + 507 * 8 = 4064``) and 1013
  for ``li``. More subkeys than that get an ``ri`` over leaves filled greedily in sorted
  order (all full but the last), which is exactly what offreg's ``ORSaveHive`` wrote for
  the 512-subkey key of nt-hive's testhive (``ri`` -> ``lh`` 507 + ``lh`` 5). Leaves under
  an ``ri`` are ``lh`` in >= 1.5 hives and ``li`` otherwise, like Windows.
* Value data (fmt §4.3): ``len <= 4`` is stored inline (``0x80000000 | len``, including
  length 0); ``len > 16344`` in minor >= 4 hives becomes ``db`` big data: segments of
  16344 bytes, each in a 16352-byte cell (which fills a 16 KiB bin exactly), then the
  segment list and a 16-byte ``db`` cell; everything else is one data cell.
* Identical security descriptors share one ``sk`` whose reference count is the number of
  keys using it; all ``sk`` cells form one circular doubly-linked ring in first-use order.
* nk maxima (fmt §5) are exact: computed from the children actually written.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from typing import Any

from .._accel import checksum, name_hash, sort_key
from ..cells.sublists import lf_hint  # re-exported: the lf hint has one definition
from ..errors import InvalidArgumentError
from ..format import structs as S
from ..format.codec import build
from ..format.constants import (
    DATA_INLINE,
    HCELL_NIL,
    MAX_DEPTH,
    MAX_KEY_NAME,
    MAX_LEAF_LF,
    MAX_LEAF_LH,
    MAX_VALUE_NAME,
    KeyFlags,
    ValueFlags,
)
from ..format.fast import BASE_L, CELL_HEADER, CELL_L, DB, HBIN, LIST_HEAD, NK, SK, VK
from ..format.layout import layout
from ..format.pack import hint_array, pair_array, u32_array
from ..format.security import SdControl, SecurityDescriptorHeader, default_descriptor
from .spec import KeySpec, ValueSpec
from .timestamps import now_filetime

PAGE = 4096
_CELL = CELL_L.struct
_SD_CONTROL = layout(SecurityDescriptorHeader, "security descriptor").field("control")
#: The whole base block (head and tail), for the sizes of its reserved fields.
_BB = layout(S.BaseBlock, "base block")
_VALUE_COMP_NAME = int(ValueFlags.COMP_NAME)
HBIN_HEADER = S.HBIN_HEADER_SIZE
BIG = S.BIG_DATA_SEGMENT  # 16344
#: Flags the writer owns or that must never appear on disk.
_COMPUTED_FLAGS = KeyFlags.COMP_NAME | KeyFlags.HIVE_ENTRY
_FORBIDDEN_FLAGS = KeyFlags.VOLATILE | KeyFlags.HIVE_EXIT | KeyFlags.PREDEF_HANDLE
ROOT_FLAGS = KeyFlags.HIVE_ENTRY | KeyFlags.NO_DELETE | KeyFlags.COMP_NAME  # 0x2C


def _round8(n: int) -> int:
    return (n + 7) & ~7


# ---------------------------------------------------------------------------------------
# Default security descriptor
# ---------------------------------------------------------------------------------------


def default_security() -> bytes:
    """The self-relative descriptor new keys get (fmt §4.5), from its SDDL.

    :data:`regf.format.security.DEFAULT_SDDL`: owner Administrators, group SYSTEM, a DACL
    inherited by subkeys granting Administrators and SYSTEM full control, CREATOR OWNER
    full control on subkeys only, Users read. Declared once there, as SDDL.
    """
    return default_descriptor().to_bytes()


DEFAULT_SECURITY = default_security()


# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le", "surrogatepass")


def encode_name(name: str) -> tuple[bytes, bool]:
    """Stored bytes of a name and whether they are compressed (fmt §4.9).

    Compressed (Latin-1, one byte per code unit) when every code unit is <= 0xFF, else
    UTF-16LE. Surrogates are > 0xFF, so astral and unpaired-surrogate names are UTF-16.
    """
    try:  # Latin-1 encodes exactly the code units <= 0xFF (surrogates are not)
        return name.encode("latin-1"), True
    except UnicodeEncodeError:
        return _utf16(name), False


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def _code_units(name: str) -> int:
    return _utf16_len(name) // 2


def _utf16_len(name: str) -> int:
    """Bytes of ``name`` in UTF-16LE (astral characters take two units)."""
    if name.isascii():
        return 2 * len(name)
    return len(_utf16(name))


def _check_name_str(name: object, what: str) -> str:
    # Any str encodes (surrogatepass takes lone surrogates), so the type is the check.
    if not isinstance(name, str):
        raise InvalidArgumentError(f"{what} must be str, not {type(name).__name__}")
    return name


def _validate(key: KeySpec, path: str, depth: int, minor: int, is_root: bool) -> None:
    if depth >= MAX_DEPTH:  # regf's reader (and edit.py) stop at depth MAX_DEPTH
        raise InvalidArgumentError(
            f"keys may be at most {MAX_DEPTH - 1} levels below the root: {path!r}"
        )
    name = _check_name_str(key.name, "key name")
    n = _code_units(name)
    if not 1 <= n <= MAX_KEY_NAME:
        raise InvalidArgumentError(f"key name must be 1..{MAX_KEY_NAME} characters: {path!r}")
    if "\\" in name:
        raise InvalidArgumentError(f"key name contains a backslash: {path!r}")
    if key.class_name is not None:
        _check_name_str(key.class_name, "class name")
        if len(_utf16(key.class_name)) > 0xFFFF:
            raise InvalidArgumentError(f"class name longer than 65535 bytes: {path!r}")
    if not isinstance(key.last_written, int) or not 0 <= key.last_written < 1 << 64:
        raise InvalidArgumentError(f"last_written must be a u64 FILETIME: {path!r}")
    if not isinstance(key.flags, int) or not 0 <= key.flags <= 0xFFFF:
        raise InvalidArgumentError(f"flags must be a u16: {path!r}")
    if key.flags & _FORBIDDEN_FLAGS:
        raise InvalidArgumentError(
            f"flags {key.flags & _FORBIDDEN_FLAGS:#x} (volatile/hive exit/predefined "
            f"handle) cannot be written to a hive file: {path!r}"
        )
    for attr, limit in (("user_flags", 0xF), ("virt_flags", 0xF), ("debug", 0xFF)):
        v = getattr(key, attr)
        if not isinstance(v, int) or not 0 <= v <= limit:
            raise InvalidArgumentError(f"{attr} must be 0..{limit:#x}: {path!r}")
    if key.security is not None:
        sd = key.security
        if not isinstance(sd, bytes | bytearray) or len(sd) < 20 or sd[0] != 1:
            raise InvalidArgumentError(
                f"security must be a self-relative descriptor (revision 1, >= 20 bytes): {path!r}"
            )
        if not _SD_CONTROL.unpack_from(sd) & SdControl.SELF_RELATIVE:
            raise InvalidArgumentError(f"security descriptor is not self-relative: {path!r}")
    seen: set[bytes] = set()
    for v in key.values:
        if not isinstance(v, ValueSpec):
            raise InvalidArgumentError(f"values must be ValueSpec instances: {path!r}")
        vname = _check_name_str(v.name, "value name")
        if _code_units(vname) > MAX_VALUE_NAME:
            raise InvalidArgumentError(
                f"value name longer than {MAX_VALUE_NAME} characters in {path!r}"
            )
        k = sort_key(vname)
        if k in seen:
            raise InvalidArgumentError(f"duplicate value name {vname!r} in {path!r}")
        seen.add(k)
        if not isinstance(v.type, int) or not 0 <= v.type <= 0xFFFFFFFF:
            raise InvalidArgumentError(f"value type must be a u32: {vname!r} in {path!r}")
        if not isinstance(v.raw, bytes | bytearray | memoryview):
            raise InvalidArgumentError(f"value data must be bytes: {vname!r} in {path!r}")
        size = len(v.raw)
        if size > 0x7FFFFFFF or (minor >= 4 and -(-size // BIG) > 0xFFFF):
            raise InvalidArgumentError(f"value data too large: {vname!r} in {path!r}")
    seen = set()
    for sub in key.subkeys:
        if not isinstance(sub, KeySpec):
            raise InvalidArgumentError(f"subkeys must be KeySpec instances: {path!r}")
        _check_name_str(sub.name, "key name")
        k = sort_key(sub.name)
        if k in seen:
            raise InvalidArgumentError(f"duplicate subkey name {sub.name!r} in {path!r}")
        seen.add(k)
    if len(key.subkeys) > 0xFFFF * MAX_LEAF_LH:  # pragma: no cover - absurd
        raise InvalidArgumentError(f"too many subkeys in {path!r}")
    for sub in key.subkeys:
        _validate(sub, f"{path}\\{sub.name}", depth + 1, minor, False)


# ---------------------------------------------------------------------------------------
# Cell allocator: append-only bins
# ---------------------------------------------------------------------------------------


class _Bins:
    """Cell allocator filling bins at their tails; contents may be supplied later.

    Each bin is filled from its start, so its used part is one run of cells and its
    remainder one free cell. A cell goes into the first of the last few bins (the
    ``OPEN_BINS`` most recently created ones that still have room) whose tail fits it,
    else into a new bin of ``roundup(cell + 32, 4096)`` bytes. The small window lets the
    cells that follow a dedicated big bin (a 16 KiB big-data segment, a large data cell)
    go back into the partly filled 4 KiB bin before it, like offreg, while keeping
    allocation O(1).

    Cells are written into the output buffer as soon as their bytes are known (at
    :meth:`alloc` or :meth:`set`): building each cell once, with ``struct``, is what
    keeps serialization linear and cheap.
    """

    OPEN_BINS = 4

    def __init__(self) -> None:
        self.bins: list[list[int]] = []  # [offset, size, tail (next free byte)]
        self.open: list[int] = []  # indexes into self.bins that still have room
        self.out = bytearray()  # every bin, cells written in place
        self.sizes: dict[int, int] = {}  # cell index -> cell size (for the overflow guard)
        self.pending: set[int] = set()  # cells allocated but not yet filled

    def alloc(self, payload: int, data: bytes | None = None) -> int:
        """Reserve a cell for ``payload`` bytes and return its cell index."""
        size = (CELL_HEADER + payload + 7) & ~7  # fmt §3: cells are 8-aligned, size included
        for i in self.open:
            b = self.bins[i]
            if b[2] + size <= b[0] + b[1]:
                break
        else:
            i = self._new_bin(size)
            b = self.bins[i]
        idx = b[2]
        b[2] += size
        if b[2] == b[0] + b[1]:
            self.open.remove(i)
        _CELL.pack_into(self.out, idx, -size)  # negative size: allocated
        self.sizes[idx] = size
        if data is None:
            self.pending.add(idx)
        else:
            self.out[idx + CELL_HEADER : idx + CELL_HEADER + len(data)] = data
        return idx

    def _new_bin(self, cell_size: int) -> int:
        start = self.total
        bin_size = -(-(cell_size + HBIN_HEADER) // PAGE) * PAGE
        self.out += bytes(bin_size)
        self.bins.append([start, bin_size, start + HBIN_HEADER])
        self.open.append(len(self.bins) - 1)
        if len(self.open) > self.OPEN_BINS:
            del self.open[0]
        return len(self.bins) - 1

    def set(self, idx: int, data: bytes) -> None:
        """Supply the payload of a previously allocated cell."""
        if CELL_HEADER + len(data) > self.sizes[idx]:  # pragma: no cover - internal bug guard
            raise AssertionError(f"payload of {len(data)} bytes overflows cell {idx:#x}")
        self.pending.discard(idx)
        self.out[idx + CELL_HEADER : idx + CELL_HEADER + len(data)] = data

    @property
    def total(self) -> int:
        """Hive bins data size."""
        return self.bins[-1][0] + self.bins[-1][1] if self.bins else 0

    def render(self, timestamp: int) -> bytes:
        """All bins: headers, the cells written so far, bin tails as one free cell each."""
        if self.pending:  # pragma: no cover - internal bug guard
            raise AssertionError(f"cell {min(self.pending):#x} never filled")
        out = self.out
        for i, (off, size, tail) in enumerate(self.bins):
            # The first bin's timestamp mirrors the base block's (fmt §2); others are 0.
            HBIN.pack_into(out, off, b"hbin", off, size, bytes(8), timestamp if i == 0 else 0, 0)
            if tail < off + size:  # each bin's remainder is one free cell (positive size)
                _CELL.pack_into(out, tail, off + size - tail)
        return bytes(out)


# ---------------------------------------------------------------------------------------
# Serializer
# ---------------------------------------------------------------------------------------


class _Writer:
    def __init__(self, minor: int) -> None:
        self.minor = minor
        self.bins = _Bins()
        self.sk_index: dict[bytes, int] = {}  # descriptor -> sk cell index
        self.sk_refs: dict[bytes, int] = {}
        self.sk_order: list[bytes] = []

    # -- security ------------------------------------------------------------------------

    def security(self, sd: bytes) -> int:
        idx = self.sk_index.get(sd)
        if idx is None:
            idx = self.bins.alloc(SK.size + len(sd))
            self.sk_index[sd] = idx
            self.sk_refs[sd] = 0
            self.sk_order.append(sd)
        self.sk_refs[sd] += 1
        return idx

    def finish_security(self) -> None:
        n = len(self.sk_order)
        for i, sd in enumerate(self.sk_order):
            flink = self.sk_index[self.sk_order[(i + 1) % n]]
            blink = self.sk_index[self.sk_order[(i - 1) % n]]
            head = SK.pack(b"sk", 0, flink, blink, self.sk_refs[sd], len(sd))
            self.bins.set(self.sk_index[sd], head + sd)

    # -- values --------------------------------------------------------------------------

    def value(self, v: ValueSpec) -> int:
        name, compressed = encode_name(v.name)
        raw = bytes(v.raw)
        bins = self.bins
        vk = bins.alloc(VK.size + len(name))
        n = len(raw)
        if n <= 4:  # inline (fmt §4.3): the data field holds the bytes, high bit set
            size, data = DATA_INLINE | n, int.from_bytes(raw.ljust(4, b"\0"), "little")
        elif n > BIG and self.minor >= 4:
            size, data = n, self.big_data(raw)
        else:
            size, data = n, bins.alloc(n, raw)
        flags = _VALUE_COMP_NAME if compressed and name else 0
        bins.set(vk, VK.pack(b"vk", len(name), size, data, v.type, flags, 0) + name)
        return vk

    def big_data(self, raw: bytes) -> int:
        """Store ``raw`` as big data; returns the db cell (allocated first, like offreg)."""
        segments = [raw[i : i + BIG].ljust(BIG, b"\0") for i in range(0, len(raw), BIG)]
        # The db cell is 16 bytes like Windows' (8 declared + 4 spare, rounded): fmt §4.6.
        db = self.bins.alloc(DB.size + 4)
        seg_list = self.bins.alloc(4 * len(segments))
        cells = [self.bins.alloc(BIG, seg) for seg in segments]
        self.bins.set(seg_list, u32_array(cells))
        self.bins.set(db, DB.pack(b"db", len(cells), seg_list) + bytes(4))
        return db

    # -- subkey lists ----------------------------------------------------------------------

    def leaf_capacity(self) -> int:
        """Most entries per leaf: what fits one 4 KiB bin (507 for lh, 1013 for li)."""
        return MAX_LEAF_LF if self.minor >= 5 else MAX_LEAF_LH

    def leaf_kind(self, count: int, under_root: bool) -> bytes:
        if self.minor >= 5:
            return b"lh"
        if self.minor >= 3 and not under_root and count <= MAX_LEAF_LF:
            return b"lf"
        return b"li"

    def alloc_leaf(self, kind: bytes, count: int) -> int:
        return self.bins.alloc(4 + (4 if kind == b"li" else 8) * count)

    def leaf_bytes(self, kind: bytes, names: list[str], cells: list[int]) -> bytes:
        head = LIST_HEAD.pack(kind, len(cells))
        if kind == b"li":
            return head + u32_array(cells)
        if kind == b"lf":
            return head + hint_array(cells, [lf_hint(n) for n in names])
        return head + pair_array(cells, [name_hash(n) for n in names])

    # -- keys ----------------------------------------------------------------------------

    def key(self, key: KeySpec, parent: int, is_root: bool) -> int:
        name, compressed = encode_name(key.name)
        bins = self.bins
        nk = bins.alloc(NK.size + len(name))
        cls = _utf16(key.class_name) if key.class_name else b""
        class_cell = bins.alloc(len(cls), cls) if cls else HCELL_NIL
        sd = bytes(key.security) if key.security is not None else DEFAULT_SECURITY
        sk = self.security(sd)

        values = key.values
        vlist = bins.alloc(4 * len(values)) if values else HCELL_NIL
        vks = [self.value(v) for v in values]
        if values:
            bins.set(vlist, u32_array(vks))

        subs = sorted(key.subkeys, key=lambda k: sort_key(k.name))
        n = len(subs)
        groups: list[list[KeySpec]] = []
        root_cell: int | None = None
        leaves: list[tuple[int, bytes]] = []
        cap = self.leaf_capacity()
        if n > cap:
            groups = [subs[i : i + cap] for i in range(0, n, cap)]
            root_cell = bins.alloc(4 + 4 * len(groups))
        elif n:
            groups = [subs]
        for g in groups:
            kind = self.leaf_kind(len(g), root_cell is not None)
            leaves.append((self.alloc_leaf(kind, len(g)), kind))
        children: list[int] = []
        for s in subs:  # a plain loop: one Python frame per tree level
            children.append(self.key(s, nk, False))

        pos = 0
        for (leaf, kind), g in zip(leaves, groups, strict=True):
            cells = children[pos : pos + len(g)]
            pos += len(g)
            bins.set(leaf, self.leaf_bytes(kind, [s.name for s in g], cells))
        if root_cell is not None:
            cells = [leaf for leaf, _ in leaves]
            bins.set(root_cell, LIST_HEAD.pack(b"ri", len(cells)) + u32_array(cells))
            subkey_list = root_cell
        else:
            subkey_list = leaves[0][0] if leaves else HCELL_NIL

        flags = (key.flags & ~_COMPUTED_FLAGS) | (KeyFlags.COMP_NAME if compressed else 0)
        if is_root:
            flags |= KeyFlags.HIVE_ENTRY | KeyFlags.NO_DELETE
        # nk maxima are exact (fmt §5): byte lengths of the children actually written.
        max_name = max((_utf16_len(s.name) for s in subs), default=0)
        max_class = max((_utf16_len(s.class_name) for s in subs if s.class_name), default=0)
        max_vname = max((_utf16_len(v.name) for v in values), default=0)
        max_vdata = max((len(v.raw) for v in values), default=0)
        head = NK.pack(
            b"nk",
            int(flags),
            key.last_written,
            0,  # access_bits
            0,  # layered_bits
            0,  # spare
            parent,
            n,
            0,  # volatile subkeys: never on disk
            subkey_list,
            HCELL_NIL,
            len(values),
            vlist,
            sk,
            class_cell,
            max_name,
            key.user_flags | (key.virt_flags << 4),
            key.debug,
            max_class,
            max_vname,
            max_vdata,
            0,  # work_var
            len(name),
            len(cls),
        )
        bins.set(nk, head + name)
        return nk


def _file_name_field(file_name: str) -> bytes:
    units = _utf16(file_name)[-62:]
    return units.ljust(64, b"\0")


def base_block(
    *, root: int, hbins_size: int, minor: int, timestamp: int, file_name: str = ""
) -> bytes:
    """A clean primary base block (fmt §1, §11) with its checksum."""
    head: dict[str, Any] = dict(
        seq1=1,
        seq2=1,
        last_written=timestamp,
        major=1,
        minor=minor,
        file_type=0,
        file_format=1,
        root_cell=root,
        hbins_size=hbins_size,
        clustering=1,
        file_name=_file_name_field(file_name),
        rm_id=bytes(16),
        log_id=bytes(16),
        flags=0,
        tm_id=bytes(16),
        guid_signature=b"rmtm",
        last_reorganized=0,
        reserved1=bytes(_BB.field("head.reserved1").size),
        checksum=0,
    )
    block = bytearray(
        build(
            S.BaseBlock,
            dict(
                head=head,
                reserved2=bytes(_BB.field("reserved2").size),
                thaw_tm_id=bytes(16),
                thaw_rm_id=bytes(16),
                thaw_log_id=bytes(16),
                boot_type=0,
                boot_recover=0,
            ),
        )
    )
    BASE_L.field("checksum").pack_into(block, 0, checksum(block))
    return bytes(block)


def serialize(
    tree: KeySpec, *, minor: int = 5, timestamp: int | None = None, file_name: str = ""
) -> bytes:
    """Write ``tree`` (the root key) as a complete, clean hive file and return its bytes.

    ``minor`` is the format minor version (2..6; 5 = ``REG_LATEST_FORMAT``, 3 =
    ``REG_STANDARD_FORMAT``); it selects the subkey leaf type and whether big data is
    used. ``timestamp`` (FILETIME) goes into the base block and the first bin; ``None``
    means now. ``file_name`` is recorded (last 31 characters) for debugging only.

    Raises :class:`~regf.errors.InvalidArgumentError` for an unrepresentable tree:
    bad or duplicate (case-insensitively, Windows' rules) names, bad flags, oversized
    data, too-deep trees.
    """
    if not isinstance(tree, KeySpec):
        raise InvalidArgumentError("tree must be a KeySpec")
    if not isinstance(minor, int) or not 2 <= minor <= 6:
        raise InvalidArgumentError(f"minor version must be 2..6, not {minor!r}")
    if timestamp is None:
        timestamp = now_filetime()
    if not isinstance(timestamp, int) or not 0 <= timestamp < 1 << 64:
        raise InvalidArgumentError("timestamp must be a u64 FILETIME")
    if not isinstance(file_name, str):
        raise InvalidArgumentError("file_name must be str")
    # One frame per level (validation, then writing); allow the full MAX_DEPTH tree.
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 2 * MAX_DEPTH + 200 + len(inspect.stack(0))))
    try:
        _validate(tree, tree.name if isinstance(tree.name, str) else "?", 0, minor, True)
        w = _Writer(minor)
        root = w.key(tree, HCELL_NIL, True)
    finally:
        sys.setrecursionlimit(old_limit)
    w.finish_security()
    bins = w.bins.render(timestamp)
    head = base_block(
        root=root, hbins_size=len(bins), minor=minor, timestamp=timestamp, file_name=file_name
    )
    return head + bins


def iter_keys(tree: KeySpec, path: str = "") -> Iterator[tuple[str, KeySpec]]:
    """Yield ``(path, key)`` for ``tree`` and every descendant (root path is ``""``)."""
    yield path, tree
    for sub in tree.subkeys:
        yield from iter_keys(sub, f"{path}\\{sub.name}" if path else sub.name)


__all__ = [
    "DEFAULT_SECURITY",
    "ROOT_FLAGS",
    "base_block",
    "default_security",
    "encode_name",
    "iter_keys",
    "lf_hint",
    "now_filetime",
    "serialize",
]
