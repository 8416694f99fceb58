"""C backend: thin cffi wrappers over ``csrc/regf_accel.h`` with the signatures of
pure.py and purewalk.py.

Importing this module raises ImportError when the extension was not built; the backend
selector in ``regf._accel`` decides whether that is fatal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from sys import byteorder
from typing import Any

from . import pure, purewalk
from ._regf_c import ffi, lib
from .codes import BASE_CHECKSUM, PAGE
from .pure import (
    MAX_HBINS_SIZE,
    REGISTRY_SEED,
    check_hbins_args,
    check_list_cell,
    leaf_error,
    scan_error,
)

__all__ = [
    "REGISTRY_SEED",
    "checksum",
    "copy_runs",
    "leaf_cells",
    "marvin32",
    "marvin32_spans",
    "name_hash",
    "scan_cells",
    "sort_key",
    "upcase",
]

lib.regf_init()

# Output buffers need no zeroing: the C side writes every word and byte it reports.
_raw_new = ffi.new_allocator(should_clear_after_alloc=False)

_Buffer = bytes | bytearray | memoryview
_M64 = 0xFFFFFFFFFFFFFFFF
# Code units in host order, as the C side reads uint16_t.
_UNITS = "utf-16-le" if byteorder == "little" else "utf-16-be"
# First guess for leaf_cells' output buffer; larger lists take a second call.
_LEAF_GUESS = 512


def checksum(base_block: _Buffer) -> int:
    """XOR-32 of the first 508 bytes of a base block, with Windows' 0 / -1 rules."""
    if len(base_block) < BASE_CHECKSUM:
        raise ValueError(f"base block shorter than {BASE_CHECKSUM} bytes")
    return int(lib.regf_checksum(ffi.from_buffer("uint8_t[]", base_block)))


def marvin32(data: _Buffer, seed: int = REGISTRY_SEED) -> int:
    """Marvin32 (SymCrypt) of ``data`` with a 64-bit ``seed``; returns the u64 result."""
    buf = ffi.from_buffer("uint8_t[]", data)
    return int(lib.regf_marvin32(buf, len(buf), seed & _M64))


def marvin32_spans(
    data: _Buffer, spans: Sequence[tuple[int, int]], seed: int = REGISTRY_SEED
) -> list[int]:
    """Marvin32 of ``data[off : off + length]`` for each ``(off, length)`` (see pure.py)."""
    n = len(spans)
    flat = _raw_new("uint64_t[]", 2 * n)
    for i, (off, length) in enumerate(spans):
        if off < 0 or length < 0:
            raise ValueError(f"span {i} ({off}, {length}) is negative")
        flat[2 * i], flat[2 * i + 1] = off, length
    out = _raw_new("uint64_t[]", max(n, 1))
    buf = ffi.from_buffer("uint8_t[]", data)
    rc = lib.regf_marvin32_spans(buf, len(buf), flat, n, seed & _M64, out)
    if rc < 0:
        i = -rc - 1
        raise ValueError(f"span {i} {tuple(spans[i])} lies outside the {len(buf)}-byte buffer")
    return list(out[0:n])


def copy_runs(dst: Any, src: Any, runs: Sequence[tuple[int, int, int]]) -> None:
    """Copy ``src[s : s + n]`` to ``dst[d : d + n]`` for each ``(d, s, n)`` (see pure.py)."""
    count = len(runs)
    flat = _raw_new("uint64_t[]", 3 * count)
    for i, (d, s, n) in enumerate(runs):
        if d < 0 or s < 0 or n < 0:
            raise ValueError(f"run {i} ({d}, {s}, {n}) is negative")
        flat[3 * i], flat[3 * i + 1], flat[3 * i + 2] = d, s, n
    out = ffi.from_buffer("uint8_t[]", dst, require_writable=True)
    inp = ffi.from_buffer("uint8_t[]", src)
    rc = lib.regf_copy_runs(out, len(out), inp, len(inp), flat, count)
    if rc < 0:
        i = -rc - 1
        raise ValueError(f"run {i} {tuple(runs[i])} lies outside its buffers")


def _units(name: str) -> bytes:
    return name.encode(_UNITS, "surrogatepass")


def name_hash(name: str) -> int:
    """The ``lh`` leaf hash: ``h = h*37 + upcase(unit)`` over UTF-16 code units, mod 2^32."""
    raw = _units(name)
    return int(lib.regf_name_hash(ffi.from_buffer("uint16_t[]", raw), len(raw) // 2))


def upcase(name: str) -> str:
    """Upper-case ``name`` per UTF-16 code unit with Windows' table (not ``str.upper``)."""
    raw = _units(name)
    n = len(raw) // 2
    out = bytearray(len(raw))
    lib.regf_upcase_units(ffi.from_buffer("uint16_t[]", raw), ffi.from_buffer("uint16_t[]", out), n)
    result = out.decode(_UNITS, "surrogatepass")
    if len(result) != len(name):
        # A lone high + lone low surrogate pair re-joined into one astral character on
        # decode; the table never touches surrogates, so only that case differs.
        return pure.upcase(name)
    return result


def sort_key(name: str) -> bytes:
    """Upper-cased UTF-16-BE bytes: orders names as Windows orders subkeys."""
    raw = _units(name)
    out = bytearray(len(raw))
    lib.regf_sort_key(ffi.from_buffer("uint16_t[]", raw), ffi.from_buffer(out), len(raw) // 2)
    return bytes(out)


def scan_cells(bins: _Buffer, hbins_size: int) -> bytearray:
    """Bitmap of allocated cell starts: bit ``i // 8`` (LSB-first) for cell index ``i``."""
    check_hbins_args(bins, hbins_size)
    bitmap = bytearray((min(hbins_size, MAX_HBINS_SIZE) + 63) // 64)
    code = int(
        lib.regf_scan_cells(
            ffi.from_buffer("uint8_t[]", bins),
            hbins_size,
            ffi.from_buffer("uint8_t[]", bitmap, require_writable=True),
        )
    )
    if code < 0:
        raise scan_error(code)
    return bitmap


def leaf_cells(bins: _Buffer, hbins_size: int, list_cell: int) -> list[int]:
    """The nk cell indexes listed by the subkey list at ``list_cell`` (li/lf/lh, or ri)."""
    check_hbins_args(bins, hbins_size)
    check_list_cell(list_cell)
    # Released before anything is raised: a traceback keeping this frame (and so an
    # export of the caller's memoryview) alive puts the memoryview into a reference
    # cycle, and CPython's GC then clears it while exported and crashes on its dealloc.
    with ffi.from_buffer("uint8_t[]", bins) as src:
        cap = _LEAF_GUESS
        out = ffi.new("uint32_t[]", cap)
        n = int(lib.regf_leaf_cells(src, hbins_size, list_cell, out, cap))
        if n > cap:
            cap = n
            out = ffi.new("uint32_t[]", cap)
            n = int(lib.regf_leaf_cells(src, hbins_size, list_cell, out, cap))
    if n < 0:
        raise leaf_error(n, list_cell)
    return list(ffi.unpack(out, n))


def bin_chain_end(bins: _Buffer, hbins_size: int, start: int = 0) -> int:
    """Offset of the first insane hbin header in the chain from ``start`` (see pure.py)."""
    check_hbins_args(bins, hbins_size)
    if start < 0 or start % PAGE:
        raise ValueError(f"start must be a non-negative multiple of {PAGE}")
    return int(lib.regf_bin_chain_end(ffi.from_buffer("uint8_t[]", bins), hbins_size, start))


# ---- tree walk (regf_walk; twin: purewalk.walk_code) ------------------------------

# One set of output buffers per thread and capacities, reused call after call (cffi
# releases the GIL during the call, so threads must not share them). Results are copied
# out before returning, so nested walks in one thread can share them.
_tls = threading.local()


def _walk_out(caps: purewalk.WalkCaps) -> Any:
    cached = getattr(_tls, "walk_out", None)
    if cached is not None and cached[0] == caps:
        # A binder's call lowers the key cap for its stream's chunk: every fetch starts
        # from the caps' own.
        cached[1].key_cap = caps.keys
        return cached[1]
    out = ffi.new("regf_walk_out *")
    keep = [out]
    for field, n, ctype in (
        ("key_cell", caps.keys, "uint32_t[]"),
        ("key_depth", caps.keys, "uint32_t[]"),
        ("key_status", caps.keys, "uint32_t[]"),
        ("key_nvals", caps.keys, "uint32_t[]"),
        ("val_cell", caps.vals, "uint32_t[]"),
        ("val_type", caps.vals, "uint32_t[]"),
        ("val_status", caps.vals, "uint32_t[]"),
        ("knames", caps.knames, "uint8_t[]"),
        ("vnames", caps.vnames, "uint8_t[]"),
        ("data", caps.data, "uint8_t[]"),
        ("fmt", caps.fmt, "char[]"),
    ):
        # Capacities above the C limit are refused by the call; allocate no more.
        arr = _raw_new(ctype, max(1, min(n, purewalk.WALK_CAP_MAX + 1)))
        keep.append(arr)
        setattr(out, field, arr)
    out.key_cap, out.val_cap = caps.keys, caps.vals
    out.knames_cap, out.vnames_cap = caps.knames, caps.vnames
    out.data_cap, out.fmt_cap = caps.data, caps.fmt
    # The struct only points at the arrays: keep them alive with it.
    _tls.walk_out = (caps, out, keep)
    return out


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
    caps: purewalk.WalkCaps = purewalk.DEFAULT_CAPS,
) -> purewalk.WalkChunk:
    """One ``regf_walk`` call; same contract and results as :func:`purewalk.walk_code`."""
    if len(state) < 4 * purewalk.WALK_STATE_WORDS:
        raise ValueError("walk state buffer too small")
    if len(bins) < hbins_size:
        raise ValueError("bins shorter than hbins_size")
    if min(caps) < 0:
        raise ValueError("negative capacity")
    out = _walk_out(caps)
    rc = int(
        lib.regf_walk(
            ffi.from_buffer("uint8_t[]", bins),
            hbins_size,
            ffi.from_buffer("uint8_t[]", cellmap),
            len(cellmap),
            ffi.NULL if visited is None else ffi.from_buffer("uint8_t[]", visited),
            0 if visited is None else len(visited),
            start_cell,
            base_depth,
            max_depth,
            flags,
            minor,
            ffi.from_buffer("uint32_t[]", state, require_writable=True),
            out,
        )
    )
    nk, nv = out.nkeys, out.nvals
    unpack = ffi.unpack
    return purewalk.WalkChunk(
        rc,
        unpack(out.key_cell, nk),
        unpack(out.key_depth, nk),
        unpack(out.key_status, nk),
        unpack(out.key_nvals, nk),
        unpack(out.val_cell, nv),
        unpack(out.val_type, nv),
        unpack(out.val_status, nv),
        ffi.buffer(out.knames, out.knames_len)[:],
        ffi.buffer(out.vnames, out.vnames_len)[:],
        ffi.buffer(out.data, out.data_len)[:],
        ffi.buffer(out.fmt, out.fmt_len)[:],
        int(out.name_nul),
    )


def walk_binder(
    buf: _Buffer,
    offset: int,
    hbins_size: int,
    cellmap: _Buffer,
    visited: bytearray,
    state: bytearray,
    caps: purewalk.WalkCaps = purewalk.DEFAULT_CAPS,
) -> Callable[..., purewalk.WalkChunk]:
    """:func:`walk_code` with its buffers bound once (the bins are ``buf[offset :
    offset + hbins_size]``): ``f(start_cell, base_depth, max_depth, flags, minor,
    keys=0)`` makes the same call (``keys`` > 0: at most that many key records; same
    results as :func:`purewalk.walk_binder`) without converting the buffers again --
    Key.subkeys() streams call it once per chunk. Its ``knames``, ``vnames`` and
    ``data`` are views of this thread's output buffers, valid until the thread's next
    walker call: decode them before that. The buffers must keep their sizes
    while ``f`` lives; one thread at a time (the state is shared).

    A memoryview argument is converted on every call instead: a memoryview that the
    cyclic GC clears while a cffi buffer still exports it crashes the interpreter
    (its ``tp_clear`` drops the managed buffer regardless of exports)."""
    if len(state) < 4 * purewalk.WALK_STATE_WORDS:
        raise ValueError("walk state buffer too small")
    if offset < 0 or len(buf) < offset + hbins_size:
        raise ValueError("bins shorter than hbins_size")
    if min(caps) < 0:
        raise ValueError("negative capacity")
    if any(isinstance(b, memoryview) for b in (buf, cellmap, visited, state)):

        def slow(
            start_cell: int, base_depth: int, max_depth: int, flags: int, minor: int,
            keys: int = 0,
        ) -> Any:  # fmt: skip
            with memoryview(buf) as mv, mv[offset : offset + hbins_size] as bins:
                return walk_code(
                    bins, hbins_size, cellmap, visited, start_cell, base_depth, max_depth,
                    flags, minor, state, purewalk.fewer_keys(caps, keys),
                )  # fmt: skip

        return slow
    c_buf = ffi.from_buffer("uint8_t[]", buf)
    c_bins = c_buf + offset  # a plain pointer: c_buf (below) keeps the buffer exported
    c_map = ffi.from_buffer("uint8_t[]", cellmap)
    n_map = len(cellmap)
    c_vis = ffi.from_buffer("uint8_t[]", visited)
    n_vis = len(visited)
    c_state = ffi.from_buffer("uint32_t[]", state, require_writable=True)
    walk = lib.regf_walk
    unpack = ffi.unpack
    buffer = ffi.buffer
    chunk = purewalk.WalkChunk

    def call(
        start_cell: int, base_depth: int, max_depth: int, flags: int, minor: int,
        keys: int = 0, _keep: Any = c_buf,
    ) -> Any:  # fmt: skip
        out = _walk_out(caps)
        # The buffers are sized for caps.keys; a call may ask for fewer records.
        out.key_cap = purewalk.fewer_keys(caps, keys).keys
        rc = walk(
            c_bins, hbins_size, c_map, n_map, c_vis, n_vis, start_cell, base_depth,
            max_depth, flags, minor, c_state, out,
        )  # fmt: skip
        nk, nv = out.nkeys, out.nvals
        return chunk(
            rc,
            unpack(out.key_cell, nk),
            unpack(out.key_depth, nk),
            unpack(out.key_status, nk),
            unpack(out.key_nvals, nk),
            unpack(out.val_cell, nv),
            unpack(out.val_type, nv),
            unpack(out.val_status, nv),
            # Views, not copies: a stream decodes them at once (copying 9 MB of names
            # and data per walk of a 15 MB hive cost a tenth of its cache misses).
            buffer(out.knames, out.knames_len),
            buffer(out.vnames, out.vnames_len),
            buffer(out.data, out.data_len),
            buffer(out.fmt, out.fmt_len)[:],
            int(out.name_nul),
        )

    return call  # its closure and default keep the converted buffers and sources alive
