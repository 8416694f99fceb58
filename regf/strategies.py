"""Hypothesis strategies for fuzzing registry hive parsers: regf's own, or yours.

Install with ``pip install 'regf[strategies]'`` (hypothesis is only needed here; ``import
regf`` never imports this module). Every strategy builds its hives with regf's writer and
knows what they hold, so a property test can compare a parser's reading with the truth::

    from hypothesis import given
    from regf.strategies import hives

    @given(hives())
    def test_my_parser_sees_every_key(h):
        assert my_parser.key_paths(h.data) == set(h.paths)

What there is:

* Valid content: :func:`key_names` (with the names where Windows' upcase table and
  Python's ``str.upper`` disagree, Latin-1 names stored compressed, non-BMP names),
  :func:`value_names`, :func:`value_types`, :func:`value_data` (sizes around the inline
  limit of 4 bytes and the big-data limit of 16344), :func:`security_descriptors`,
  :func:`values` and :func:`key_trees`.
* :func:`hives`: a complete clean hive (:class:`GeneratedHive`: bytes + the tree).
* :func:`dirty_hives`: a dirty primary plus ``LOG1``/``LOG2`` (new HvLE or old DIRT
  format) and the tree recovery must give (:class:`DirtyHive`).
* :func:`mutated_hives`: structured damage to a generated or a given (real) hive: cell
  sizes, cell indexes, list counts, name lengths, signatures, data sizes, hbin headers,
  base-block fields, truncation, bit flips; each :class:`~regf.model.fuzz.Mutation` says
  which field at which offset it damaged (:class:`Mutant`).
* :func:`damaged_log_sets`: a dirty set whose log is damaged the same way (entry headers,
  page references, DIRT bitmaps, log base block, page data), hashes resealed so the damage
  reaches recovery (:class:`DamagedLogSet`).

The fuzz seeds behind mutations are drawn integers, so hypothesis shrinks towards seed 0
and fewer mutations; the mutation itself is :func:`regf.model.fuzz.mutate_labelled`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("regf.strategies needs hypothesis: pip install 'regf[strategies]'") from exc

from ._accel import sort_key, upcase
from .format.constants import ValueType
from .format.security import Ace, Acl, SecurityDescriptor, Sid
from .format.structs import BIG_DATA_SEGMENT
from .model.fuzz import LOG_MUTATIONS, MUTATIONS, Mutation, mutate_labelled, mutate_log
from .model.serialize import serialize
from .model.spec import KeySpec, ValueSpec
from .storage.atomic import write_new_file
from .storage.logbuild import DirtySet, LogFormat, dirty_set

#: Longest key name regf's writer (and Windows) accepts, in UTF-16 code units.
MAX_KEY_NAME = 255


# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------


@functools.cache
def upcase_corner_cases() -> str:
    """Every BMP character that Windows' upcase table maps differently from Python's
    ``str.upper`` (sharp s U+00DF, dotless i U+0131, long s U+017F, micro sign, the
    titlecase digraphs, Georgian, ...): names built from
    them catch parsers that sort, hash or compare names with ``str.upper``."""
    out = []
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        if upcase(c) != c.upper():
            out.append(c)
    return "".join(out)


_LATIN1 = "".join(chr(c) for c in range(0x20, 0x100) if chr(c) != "\\" and c != 0x7F)
_NON_BMP = "\U0001f600\U0001f30e\U00010410\U00010438\U0001d11e\U00020000"


class _ShortRepr:
    """Hypothesis pretty-prints failing examples field by field; hives are kilobytes of
    bytes, so the short ``repr`` is shown instead."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def _units(name: str) -> int:
    return len(name.encode("utf-16-le", "surrogatepass")) // 2


def key_names(max_size: int = 24) -> st.SearchStrategy[str]:
    """Valid key names (1..``max_size`` characters, at most 255 UTF-16 units, no
    backslash): ASCII, Latin-1 (stored compressed), upcase corner cases, non-BMP, and any
    other Unicode. Lone surrogates are left out: two drawn next to each other would
    make a pair, and the name would read back as another string."""
    alphabets = st.one_of(
        st.just("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.{}"),
        st.just(_LATIN1),
        st.builds(upcase_corner_cases),
        st.just(_NON_BMP + "aA"),
    )

    def from_alphabet(alphabet: str) -> st.SearchStrategy[str]:
        return st.text(st.sampled_from(alphabet), min_size=1, max_size=max_size)

    anything = st.text(st.characters(exclude_characters="\\"), min_size=1, max_size=max_size)
    return st.one_of(alphabets.flatmap(from_alphabet), anything).filter(
        lambda n: "\\" not in n and _units(n) <= MAX_KEY_NAME
    )


def value_names(max_size: int = 24) -> st.SearchStrategy[str]:
    """Value names: the default value ``""`` sometimes, else names like
    :func:`key_names` (value names may contain a backslash; these do not need to)."""
    return st.one_of(st.just(""), key_names(max_size))


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------

_KNOWN_TYPES = [int(t) for t in ValueType]
#: Data sizes where storage changes: inline (<= 4), one cell, big data (> 16344, fmt §4.6).
BOUNDARY_SIZES = (0, 1, 2, 3, 4, 5, 8, BIG_DATA_SEGMENT - 1, BIG_DATA_SEGMENT, BIG_DATA_SEGMENT + 1)


def value_types() -> st.SearchStrategy[int]:
    """Every ``REG_*`` type, and now and then any u32 (unknown types are legal)."""
    return st.one_of(st.sampled_from(_KNOWN_TYPES), st.integers(0, 0xFFFFFFFF))


def _sz(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le", "surrogatepass")


def value_data(vtype: int, *, big: bool = True) -> st.SearchStrategy[bytes]:
    """Raw data for a value of type ``vtype``: well-formed for its type most of the time
    (a NUL-terminated UTF-16 string, a 4- or 8-byte number, a MULTI_SZ list), any bytes
    otherwise, with sizes at the storage boundaries. ``big`` allows sizes past 16344
    (big data, up to three segments)."""
    sizes = [s for s in BOUNDARY_SIZES if big or s <= 16]
    if big:
        sizes += [2 * BIG_DATA_SEGMENT + 1, 3 * BIG_DATA_SEGMENT - 7]
    raw = st.one_of(
        st.binary(max_size=64),
        st.sampled_from(sizes).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    )
    text = st.text(st.characters(), max_size=40)
    if vtype in (ValueType.REG_SZ, ValueType.REG_EXPAND_SZ, ValueType.REG_LINK):
        return st.one_of(text.map(_sz), raw)
    if vtype == ValueType.REG_MULTI_SZ:
        parts = st.lists(st.text(st.characters(exclude_characters="\0"), min_size=1))
        return st.one_of(parts.map(lambda p: b"".join(map(_sz, p)) + b"\0\0"), raw)
    if vtype in (ValueType.REG_DWORD, ValueType.REG_DWORD_BIG_ENDIAN):
        return st.one_of(st.binary(min_size=4, max_size=4), raw)
    if vtype == ValueType.REG_QWORD:
        return st.one_of(st.binary(min_size=8, max_size=8), raw)
    return raw


@st.composite
def values(draw: st.DrawFn, *, big: bool = True) -> ValueSpec:
    """One value: a name, a type and raw data (:class:`~regf.model.spec.ValueSpec`)."""
    vtype = draw(value_types())
    return ValueSpec(draw(value_names()), vtype, draw(value_data(vtype, big=big)))


# ---------------------------------------------------------------------------------------
# Security descriptors
# ---------------------------------------------------------------------------------------

sids: st.SearchStrategy[Sid] = st.builds(
    Sid,
    st.just(1),
    st.integers(0, (1 << 48) - 1),
    st.lists(st.integers(0, (1 << 32) - 1), max_size=15).map(tuple),
)
_guids = st.none() | st.uuids().map(str)
_sid_aces = st.builds(
    Ace,
    st.sampled_from([0, 1, 2, 3, 0x11]),
    st.integers(0, 255),
    st.integers(0, (1 << 32) - 1),
    sids,
)
_object_aces = st.builds(
    Ace,
    st.sampled_from([5, 6, 7, 8]),
    st.integers(0, 255),
    st.integers(0, (1 << 32) - 1),
    sids,
    _guids,
    _guids,
)


@st.composite
def acls(draw: st.DrawFn) -> Acl:
    """An ACL of plain and object ACEs (revision 4 when it holds object ACEs)."""
    aces = draw(st.lists(_sid_aces | _object_aces, max_size=6))
    revision = 4 if any(a.type in (5, 6, 7, 8) for a in aces) else 2
    return Acl(revision, tuple(aces))


#: Self-relative descriptors with the control bits SDDL can express (present bits
#: implied by the ACLs).
descriptors: st.SearchStrategy[SecurityDescriptor] = st.builds(
    lambda owner, group, sacl, dacl, flags: SecurityDescriptor(
        1,
        0x8000 | flags | (0x4 if dacl else 0) | (0x10 if sacl else 0),
        owner,
        group,
        sacl,
        dacl,
    ),
    st.none() | sids,
    st.none() | sids,
    st.none() | acls(),
    st.none() | acls(),
    st.sampled_from([0, 0x1000, 0x0400, 0x0100, 0x1400, 0x2000, 0x0800, 0x0200, 0x3F00]),
).filter(
    lambda sd: (
        (sd.dacl is not None or not sd.control & 0x1500)
        and (sd.sacl is not None or not sd.control & 0x2A00)
    )
)


def security_descriptors() -> st.SearchStrategy[bytes]:
    """Self-relative ``SECURITY_DESCRIPTOR`` bytes, as a key's ``sk`` cell stores them."""
    return descriptors.map(lambda sd: sd.to_bytes())


# ---------------------------------------------------------------------------------------
# Key trees and hives
# ---------------------------------------------------------------------------------------


@st.composite
def key_trees(
    draw: st.DrawFn,
    *,
    max_depth: int = 3,
    max_subkeys: int = 4,
    max_values: int = 5,
    big: bool = True,
    wide: bool = True,
) -> KeySpec:
    """A valid key tree (the root is named ``ROOT``): names unique per parent under
    Windows' case-insensitive rules, classes, timestamps, security descriptors, every
    value type. With ``wide``, now and then a key with hundreds of subkeys (so index
    roots and long leaves appear)."""

    def key(name: str, depth: int) -> KeySpec:
        vals = draw(
            st.lists(
                values(big=big),
                max_size=max_values,
                unique_by=lambda v: sort_key(v.name),
            )
        )
        spec = KeySpec(
            name,
            class_name=draw(st.none() | st.text(st.characters(), max_size=16)),
            last_written=draw(st.integers(0, (1 << 63) - 1)),
            security=draw(st.none() | security_descriptors()),
            values=vals,
        )
        if depth >= max_depth:
            return spec
        if wide and draw(st.integers(0, 40)) == 0:
            n = draw(st.integers(200, 600))
            spec.subkeys = [KeySpec(f"k{i:04}{name[:4]}") for i in range(n)]
            return spec
        names = draw(st.lists(key_names(), max_size=max_subkeys, unique_by=sort_key))
        spec.subkeys = [key(n, depth + 1) for n in names]
        return spec

    return key("ROOT", 0)


def walk_tree(tree: KeySpec) -> Iterator[tuple[str, KeySpec]]:
    """``(path, key)`` for every key of ``tree``, root first (path ``""``), depth first,
    paths joined with backslashes the way :attr:`regf.Key.path` gives them."""
    stack: list[tuple[str | None, KeySpec]] = [(None, tree)]
    while stack:
        parent, k = stack.pop()
        path = "" if parent is None else (k.name if parent == "" else f"{parent}\\{k.name}")
        yield path, k
        stack.extend((path, s) for s in reversed(k.subkeys))


@dataclass(frozen=True)
class GeneratedHive(_ShortRepr):
    """A clean hive written by regf (``data``) and the tree it holds."""

    data: bytes = field(repr=False)
    tree: KeySpec = field(repr=False)
    minor: int = 5

    def __repr__(self) -> str:
        return f"<GeneratedHive 1.{self.minor}, {len(self.data)} bytes, {len(self.paths)} keys>"

    @property
    def paths(self) -> list[str]:
        """Every key path, root (``""``) first, depth first in the tree's order (a parser
        may list subkeys in another order: Windows sorts them by upcased name)."""
        return [p for p, _k in walk_tree(self.tree)]

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the hive to a new file ``path`` (for parsers that want a file)."""
        write_new_file(path, self.data)
        return Path(path)


@st.composite
def hives(
    draw: st.DrawFn,
    trees: st.SearchStrategy[KeySpec] | None = None,
    minor: int | None = None,
) -> GeneratedHive:
    """A complete clean hive (format 1.3 to 1.6 unless ``minor``) and its tree."""
    tree = draw(trees if trees is not None else key_trees())
    version = minor if minor is not None else draw(st.sampled_from([3, 4, 5, 6]))
    ts = draw(st.integers(0, (1 << 63) - 1))
    return GeneratedHive(serialize(tree, minor=version, timestamp=ts), tree, version)


@dataclass(frozen=True)
class DirtyHive(_ShortRepr):
    """A dirty primary, its logs and the tree (and hive bins) recovery must give.

    ``logs`` maps ``"LOG1"``/``"LOG2"`` to bytes (an empty log is ``b""``). ``before`` is
    the stale tree the primary's own bins hold.
    """

    primary: bytes = field(repr=False)
    logs: dict[str, bytes] = field(repr=False)
    tree: KeySpec = field(repr=False)
    before: KeySpec = field(repr=False)
    expected_bins: bytes = field(repr=False)
    format: str = "new"
    minor: int = 5
    dirty_offsets: tuple[int, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in self.logs.items()}
        return f"<DirtyHive {self.format} 1.{self.minor}, logs {sizes}>"

    def write(self, directory: str | os.PathLike[str], name: str = "HIVE") -> Path:
        """Write ``name``, ``name.LOG1`` and ``name.LOG2`` into ``directory``; return the
        primary's path (``regf.open`` finds the logs beside it)."""
        d = Path(directory)
        write_new_file(d / name, self.primary)
        for suffix, data in self.logs.items():
            write_new_file(d / f"{name}.{suffix}", data)
        return d / name


def _small_trees() -> st.SearchStrategy[KeySpec]:
    return key_trees(max_depth=3, max_subkeys=4, max_values=4, wide=False)


@st.composite
def dirty_hives(
    draw: st.DrawFn,
    fmt: str | None = None,
    trees: st.SearchStrategy[KeySpec] | None = None,
) -> DirtyHive:
    """A crash right after a flush wrote its log: the primary holds an older tree, the
    logs the pages (HvLE, format 1.5/1.6) or sectors (DIRT, 1.3 to 1.5) of the new one,
    maybe spread over LOG1 and LOG2. Recovery must give :attr:`DirtyHive.tree`."""
    trees = trees if trees is not None else _small_trees()
    kind = fmt if fmt is not None else draw(st.sampled_from(["new", "old"]))
    minor = draw(st.sampled_from([5, 6] if kind == "new" else [3, 4, 5]))
    before_tree = draw(trees)
    after_tree = draw(trees)
    ts = draw(st.integers(1, (1 << 62)))
    before = serialize(before_tree, minor=minor, timestamp=ts)
    # A later timestamp also lands in the first bin's header (fmt §1.1), so the two
    # hive-bins areas always differ and the logs are never empty.
    after = serialize(after_tree, minor=minor, timestamp=ts + draw(st.integers(1, 10**9)))
    ds: DirtySet = dirty_set(before, after, cast(LogFormat, kind), split=draw(st.booleans()))
    return DirtyHive(
        ds.primary,
        ds.logs,
        after_tree,
        before_tree,
        ds.expected_bins,
        kind,
        minor,
        tuple(ds.dirty),
    )


# ---------------------------------------------------------------------------------------
# Damage
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant(_ShortRepr):
    """A damaged hive: ``data``, the ``base`` it came from and what was damaged."""

    data: bytes = field(repr=False)
    base: bytes = field(repr=False)
    mutations: tuple[Mutation, ...] = ()

    def __repr__(self) -> str:
        return f"<Mutant of {len(self.base)} bytes: {'; '.join(self.labels)}>"

    @property
    def labels(self) -> list[str]:
        """One line per mutation: kind, offset, field, old -> new."""
        return [str(m) for m in self.mutations]


def mutation_kinds() -> list[str]:
    """Names of the hive mutation kinds (:data:`regf.model.fuzz.MUTATIONS`)."""
    return list(MUTATIONS)


@st.composite
def mutated_hives(
    draw: st.DrawFn,
    base: bytes | st.SearchStrategy[bytes] | None = None,
    *,
    max_mutations: int = 4,
    kinds: tuple[str, ...] | None = None,
    fix_checksum: bool | None = None,
) -> Mutant:
    """Structured damage to a hive: ``base`` (bytes of a real hive, a strategy of such,
    or None for a generated one) with 1..``max_mutations`` mutations from ``kinds``
    (default: all). The base-block checksum is recomputed (so the damage gets past the
    header check) unless ``fix_checksum`` is False; None draws it."""
    if base is None:
        data = draw(hives(trees=_small_trees())).data
    elif isinstance(base, bytes | bytearray):
        data = bytes(base)
    else:
        data = draw(base)
    seed = draw(st.integers(0, 2**32 - 1))
    count = draw(st.integers(1, max_mutations))
    fix = draw(st.booleans()) if fix_checksum is None else fix_checksum
    bad, done = mutate_labelled(data, seed, count=count, kinds=kinds, fix_checksum=fix)
    return Mutant(bad, data, tuple(done))


@dataclass(frozen=True)
class DamagedLogSet(_ShortRepr):
    """A dirty set (:class:`DirtyHive`) whose ``LOG1`` was damaged (``logs`` replaces
    the set's logs). Recovery may refuse it, or apply it and give a damaged hive; it must
    never crash or hang."""

    dirty: DirtyHive
    logs: dict[str, bytes] = field(repr=False)
    mutations: tuple[Mutation, ...] = ()

    def __repr__(self) -> str:
        return f"<DamagedLogSet {self.dirty!r}: {'; '.join(str(m) for m in self.mutations)}>"

    def write(self, directory: str | os.PathLike[str], name: str = "HIVE") -> Path:
        """Write the primary and the damaged logs; return the primary's path."""
        d = Path(directory)
        write_new_file(d / name, self.dirty.primary)
        for suffix, data in self.logs.items():
            write_new_file(d / f"{name}.{suffix}", data)
        return d / name


@st.composite
def damaged_log_sets(
    draw: st.DrawFn,
    fmt: str | None = None,
    *,
    max_mutations: int = 3,
    kinds: tuple[str, ...] | None = None,
    reseal: bool | None = None,
) -> DamagedLogSet:
    """A :func:`dirty_hives` set with 1..``max_mutations`` labelled mutations in LOG1
    (kinds from :data:`regf.model.fuzz.LOG_MUTATIONS`). Hashes and checksums are resealed
    after the damage unless ``reseal`` is False; None draws it."""
    ds = draw(dirty_hives(fmt))
    seed = draw(st.integers(0, 2**32 - 1))
    count = draw(st.integers(1, max_mutations))
    seal = draw(st.booleans()) if reseal is None else reseal
    bad, done = mutate_log(ds.logs["LOG1"], seed, count=count, kinds=kinds, reseal=seal)
    return DamagedLogSet(ds, {**ds.logs, "LOG1": bad}, tuple(done))


__all__ = [
    "BOUNDARY_SIZES",
    "LOG_MUTATIONS",
    "MAX_KEY_NAME",
    "DamagedLogSet",
    "DirtyHive",
    "GeneratedHive",
    "Mutant",
    "Mutation",
    "acls",
    "damaged_log_sets",
    "descriptors",
    "dirty_hives",
    "hives",
    "key_names",
    "key_trees",
    "mutated_hives",
    "mutation_kinds",
    "security_descriptors",
    "sids",
    "upcase_corner_cases",
    "value_data",
    "value_names",
    "value_types",
    "values",
    "walk_tree",
]
