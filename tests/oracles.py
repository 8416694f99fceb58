"""Canonical hive walks from regf and from independent peer readers.

A *walk* is a list of ``(key_path, class_name_or_None, values)`` tuples, one per key,
where ``key_path`` is backslash-joined *relative to the root key* (the root itself is
``""``; the root's own name is not part of any path), and ``values`` is a sorted list of
``(value_name, type_int, raw_bytes)``.  Keys are ordered by case-folded path so walks
from readers that enumerate subkeys in different orders compare equal.

Peers:

* **hivex** (libguestfs, C) -- only importable by the Debian system interpreter
  ``/usr/bin/python3``, so it runs as a subprocess that prints JSON (bytes hex-encoded).
  hivex exposes no class names: :func:`walk_hivex` reports ``None`` for every class and
  comparisons against it use :func:`without_classes`.
* **pyregf** (libyal libregf, C) -- in-process.

Nothing here knows about pytest, so benchmarks and ad-hoc scripts can use it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ValueTuple = tuple[str, int, bytes]
KeyTuple = tuple[str, str | None, list[ValueTuple]]
Walk = list[KeyTuple]

SYSTEM_PYTHON = "/usr/bin/python3"


class PeerUnavailable(Exception):
    """The peer tool is not installed / importable."""


class PeerOpenError(Exception):
    """The peer could not open (or fully walk) the hive."""


# --------------------------------------------------------------------------- corpus


def base_block_checksum(block: bytes) -> int:
    """XOR-32 of the first 127 little-endian dwords, with Windows' 0 / ~0 remapping."""
    x = 0
    for (dword,) in struct.iter_unpack("<I", block[:508]):
        x ^= dword
    if x == 0:
        return 1
    if x == 0xFFFFFFFF:
        return 0xFFFFFFFE
    return x


def is_clean_primary(path: Path) -> bool:
    """A primary hive file (type 0), not dirty (seq1 == seq2), with a good checksum."""
    try:
        if path.stat().st_size < 4096:
            return False
        with open(path, "rb") as f:
            block = f.read(4096)
    except OSError:
        return False
    if len(block) < 4096 or block[:4] != b"regf":
        return False
    seq1, seq2 = struct.unpack_from("<II", block, 4)
    (file_type,) = struct.unpack_from("<I", block, 28)
    (stored,) = struct.unpack_from("<I", block, 508)
    return seq1 == seq2 and file_type == 0 and base_block_checksum(block) == stored


def is_primary(path: Path) -> bool:
    """Any regf file of type 0 (dirty or not, checksum not checked)."""
    try:
        with open(path, "rb") as f:
            block = f.read(512)
    except OSError:
        return False
    return len(block) == 512 and block[:4] == b"regf" and block[28:32] == b"\0\0\0\0"


def corpus_files(corpus: Path) -> list[Path]:
    """Every regular file of the corpus except the catalogue, sorted."""
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "CATALOG.md")


def clean_primary_hives(corpus: Path) -> list[Path]:
    return [p for p in corpus_files(corpus) if is_clean_primary(p)]


# --------------------------------------------------------------------------- helpers


def canonical_str(s: str) -> str:
    """A canonical copy of ``s``.

    C extensions can build str objects wider than their content needs (e.g. a lone
    surrogate stored as UCS-4); CPython compares such strings unequal to the same code
    points stored narrowly. Re-joining the characters rebuilds the narrowest form.
    """
    return "".join(list(s))


def _finish(keys: Iterable[KeyTuple]) -> Walk:
    out = [(path, cls, sorted(values)) for path, cls, values in keys]
    out.sort(key=lambda k: (k[0].casefold(), k[0]))
    return out


def without_classes(walk: Walk) -> Walk:
    return [(path, None, values) for path, _cls, values in walk]


def diff_walks(a: Walk, b: Walk, a_name: str = "a", b_name: str = "b", limit: int = 20) -> str:
    """Human-readable summary of how two walks differ ('' if equal)."""
    if a == b:
        return ""
    lines: list[str] = []
    ak = {k[0]: k for k in a}
    bk = {k[0]: k for k in b}
    only_a = sorted(set(ak) - set(bk))
    only_b = sorted(set(bk) - set(ak))
    if only_a:
        lines.append(f"{len(only_a)} keys only in {a_name}: {only_a[:5]!r}")
    if only_b:
        lines.append(f"{len(only_b)} keys only in {b_name}: {only_b[:5]!r}")
    if len(a) != len(set(ak)) or len(b) != len(set(bk)):
        lines.append(f"duplicate paths: {a_name} {len(a) - len(ak)}, {b_name} {len(b) - len(bk)}")
    for path in sorted(set(ak) & set(bk)):
        ka, kb = ak[path], bk[path]
        if ka == kb:
            continue
        if ka[1] != kb[1]:
            lines.append(f"{path!r}: class {a_name}={ka[1]!r} {b_name}={kb[1]!r}")
        va = {(v[0], v[1], v[2]) for v in ka[2]}
        vb = {(v[0], v[1], v[2]) for v in kb[2]}
        for v in sorted(va - vb):
            other = [w for w in vb - va if w[0] == v[0]]
            lines.append(
                f"{path!r} value {v[0]!r}: {a_name}=(type {v[1]}, {_short(v[2])})"
                + (
                    f" {b_name}=(type {other[0][1]}, {_short(other[0][2])})"
                    if other
                    else f" missing in {b_name}"
                )
            )
        for v in sorted(vb - va):
            if not any(w[0] == v[0] for w in va - vb):
                lines.append(f"{path!r} value {v[0]!r}: only in {b_name}")
        if len(lines) > limit:
            break
    return "\n".join(lines[:limit]) + ("\n..." if len(lines) > limit else "")


def _short(data: bytes) -> str:
    h = data[:24].hex()
    return f"{len(data)}B {h}{'...' if len(data) > 24 else ''}"


# --------------------------------------------------------------------------- regf


def walk_regf(source: Any, **open_kwargs: Any) -> Walk:
    import regf

    keys: list[KeyTuple] = []
    with regf.open(source, **open_kwargs) as hive:
        for key in hive.walk():
            values = [(v.name, int(v.type), bytes(v.raw)) for v in key.values()]
            keys.append((key.path, key.class_name, values))
    return _finish(keys)


# --------------------------------------------------------------------------- pyregf


def walk_pyregf(path: Path | str) -> Walk:
    try:
        import pyregf
    except ImportError as exc:  # pragma: no cover - environment dependent
        raise PeerUnavailable(f"pyregf not importable: {exc}") from exc

    f = pyregf.file()
    try:
        f.open(str(path))
    except Exception as exc:
        raise PeerOpenError(f"pyregf cannot open: {exc}") from exc
    keys: list[KeyTuple] = []
    try:
        root = f.get_root_key()
        if root is None:
            raise PeerOpenError("pyregf: no root key")
        stack: list[tuple[str, Any]] = [("", root)]
        while stack:
            path_s, key = stack.pop()
            values: list[ValueTuple] = []
            for v in key.values:
                data = v.data
                name = canonical_str(v.name or "")
                values.append((name, int(v.type), bytes(data) if data else b""))
            cls = key.class_name
            keys.append((path_s, canonical_str(cls) if cls is not None else None, values))
            for sub in key.sub_keys:
                name = canonical_str(sub.name or "")
                stack.append((f"{path_s}\\{name}" if path_s else name, sub))
    except PeerOpenError:
        raise
    except Exception as exc:
        raise PeerOpenError(f"pyregf walk failed: {type(exc).__name__}: {exc}") from exc
    finally:
        f.close()
    return _finish(keys)


# --------------------------------------------------------------------------- hivex

# Runs under /usr/bin/python3 (the only interpreter with the Debian hivex binding).
# argv[1] = hive path, argv[2] = "walk" (print JSON) or "time" (walk, print seconds).
HIVEX_SCRIPT = r"""
import json, sys, time
import hivex
path, mode = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
try:
    h = hivex.Hivex(path)
    root = h.root()
except Exception as exc:
    print(json.dumps({"open_error": "%s: %s" % (type(exc).__name__, exc)}))
    sys.exit(0)
t_open = time.perf_counter()
out = []
nbytes = 0
stack = [("", root)]
try:
    while stack:
        p, node = stack.pop()
        vals = []
        for v in h.node_values(node):
            name = h.value_key(v)
            t, data = h.value_value(v)
            nbytes += len(data)
            if mode == "walk":
                vals.append([name, t, data.hex()])
        if mode == "walk":
            out.append([p, vals])
        for c in h.node_children(node):
            n = h.node_name(c)
            stack.append((p + "\\" + n if p else n, c))
except Exception as exc:
    print(json.dumps({"walk_error": "%s: %s" % (type(exc).__name__, exc)}))
    sys.exit(0)
t_end = time.perf_counter()
if mode == "walk":
    print(json.dumps({"keys": out}))
else:
    print(json.dumps({"open_s": t_open - t0, "walk_s": t_end - t_open, "bytes": nbytes}))
"""


def hivex_available() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    r = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import hivex"], capture_output=True, timeout=60, check=False
    )
    return r.returncode == 0


def _run_hivex(path: Path | str, mode: str, timeout: float) -> dict[str, Any]:
    if not os.path.exists(SYSTEM_PYTHON):
        raise PeerUnavailable(f"{SYSTEM_PYTHON} not found")
    r = subprocess.run(
        [SYSTEM_PYTHON, "-c", HIVEX_SCRIPT, str(path), mode],
        capture_output=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:surrogatepass"},
    )
    if r.returncode != 0:
        if b"No module named 'hivex'" in r.stderr or b"No module named hivex" in r.stderr:
            raise PeerUnavailable("python3-hivex not installed for /usr/bin/python3")
        raise PeerOpenError(
            f"hivex subprocess died (rc {r.returncode}): {r.stderr.decode(errors='replace')[-500:]}"
        )
    result: dict[str, Any] = json.loads(r.stdout)
    if "open_error" in result:
        raise PeerOpenError(f"hivex cannot open: {result['open_error']}")
    if "walk_error" in result:
        raise PeerOpenError(f"hivex walk failed: {result['walk_error']}")
    return result


def walk_hivex(path: Path | str, timeout: float = 600) -> Walk:
    result = _run_hivex(path, "walk", timeout)
    return _finish(
        (p, None, [(n, int(t), bytes.fromhex(d)) for n, t, d in vals]) for p, vals in result["keys"]
    )


def time_hivex(path: Path | str, timeout: float = 600) -> dict[str, float]:
    """Seconds hivex takes to open and to walk everything (timed inside the subprocess)."""
    return _run_hivex(path, "time", timeout)


if __name__ == "__main__":  # ad-hoc: python tests/oracles.py HIVE [regf|hivex|pyregf]
    which = sys.argv[2] if len(sys.argv) > 2 else "hivex"
    fn = {"regf": walk_regf, "hivex": walk_hivex, "pyregf": walk_pyregf}[which]
    w = fn(sys.argv[1])
    print(f"{len(w)} keys, {sum(len(k[2]) for k in w)} values")


# --------------------------------------------------------------------------- known peer bugs
#
# Each rule below is demonstrated on real bytes by a ``test_peer_bug_*`` test in
# tests/test_corpus_walk.py; the equality tests forgive exactly these differences.


def pyregf_name(name: str) -> str:
    """How pyregf (libregf) spells a key/value name that regf spells ``name``.

    libregf cuts names at the first NUL (names are counted, not terminated) and
    decodes compressed names with Windows-1252 instead of Latin-1, so U+0080..U+009F
    come out as the Windows-1252 glyphs.
    """
    name = name.split("\0", 1)[0]
    out = []
    for ch in name:
        if 0x80 <= ord(ch) <= 0x9F:
            with contextlib.suppress(UnicodeDecodeError):
                ch = bytes([ord(ch)]).decode("cp1252")
        out.append(ch)
    return "".join(out)


def pyregf_small_inline_bug(good: bytes, bad: bytes) -> bool:
    """libregf mangles resident (inline) data of 1..3 bytes (zeros or shifted bytes)."""
    return len(good) == len(bad) and 1 <= len(good) <= 3 and good != bad


def pyregf_string_truncation_bug(type_: int, good: bytes, bad: bytes) -> bool:
    """libregf cuts REG_SZ / REG_EXPAND_SZ data after the first UTF-16 NUL.

    The vk's data size counts every stored byte (e.g. padding NULs after the
    terminator, or a second string); a raw reader must return them all.
    """
    if type_ not in (1, 2) or good == bad:
        return False
    for i in range(0, len(good) - 1, 2):
        if good[i : i + 2] == b"\0\0":
            return bad == good[: i + 2] and len(bad) < len(good)
    return False


def reconcile_pyregf(ref: Walk, peer: Walk) -> tuple[Walk, dict[str, int]]:
    """``peer`` (a pyregf walk) with exactly the known pyregf bugs undone against ``ref``.

    Returns the corrected walk and a count of each forgiven difference. Anything
    else (missing keys, other data differences) is left for the equality check.
    Duplicate paths (corrupt hives list one name twice) are matched one to one.
    """
    counts: dict[str, int] = {}

    def bump(what: str) -> None:
        counts[what] = counts.get(what, 0) + 1

    def alt_path(path: str) -> str:
        return "\\".join(pyregf_name(c) for c in path.split("\\"))

    peer_by_path: dict[str, list[KeyTuple]] = {}
    for k in peer:
        peer_by_path.setdefault(k[0], []).append(k)
    matched: list[tuple[KeyTuple, KeyTuple | None]] = []
    for rk in ref:  # exact names first, so a real "\u0178" key keeps its own match
        lst = peer_by_path.get(rk[0])
        matched.append((rk, lst.pop(0) if lst else None))
    for i, (rk, pk) in enumerate(matched):
        if pk is None:
            lst = peer_by_path.get(alt_path(rk[0]))
            if lst and alt_path(rk[0]) != rk[0]:
                pk = lst.pop(0)
                matched[i] = (rk, (rk[0], pk[1], pk[2]))
                bump("key name (NUL cut / cp1252)")

    out: list[KeyTuple] = []
    for (path, _cls, vals), pk in matched:
        if pk is None:
            continue
        pvals: dict[str, list[ValueTuple]] = {}
        for pv in pk[2]:
            pvals.setdefault(pv[0], []).append(pv)
        pairs: list[tuple[ValueTuple, ValueTuple | None]] = []
        for v in vals:
            lst = pvals.get(v[0])
            pairs.append((v, lst.pop(0) if lst else None))
        fixed: list[ValueTuple] = []
        for v, pv in pairs:
            if pv is None:
                lst = pvals.get(pyregf_name(v[0]))
                if lst and pyregf_name(v[0]) != v[0]:
                    pv = lst.pop(0)
                    pv = (v[0], pv[1], pv[2])
                    bump("value name (NUL cut / cp1252)")
            if pv is None:
                continue
            if pv != v and pv[1] == v[1]:
                if pyregf_small_inline_bug(v[2], pv[2]):
                    bump("inline data of 1..3 bytes")
                    pv = v
                elif pyregf_string_truncation_bug(v[1], v[2], pv[2]):
                    bump("string data cut at first NUL")
                    pv = v
            fixed.append(pv)
        for lst in pvals.values():
            fixed.extend(lst)
        out.append((path, pk[1], fixed))
    for lst in peer_by_path.values():
        out.extend(lst)
    return _finish(out), counts
