"""Whole-hive checks: the cell tiling (fmt §2, §3), the key tree and every value.

* :func:`scan_bins` / :func:`check_hive` are independent of the key tree: they scan the
  image from file offset 4096 to 4096 + hive-bins size and verify that bins follow each
  other with correct headers and that cells tile every bin with no gap or overlap.
* :func:`walk_problems` reads every key, class, security descriptor and value reachable
  from the root, and :func:`value_problems` checks each vk's data fields beyond what a
  read needs (fmt §4.3).
* :func:`full_check` is all of them plus the dirty state: what ``regf check`` reports,
  what ``regf recover`` checks its result with and what ``mode="r+"`` refuses to edit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from .. import _accel
from ..errors import DamagedHiveError, RegfError
from ..format.constants import BASE, DATA_INLINE, HCELL_NIL, PAGE
from ..format.fast import BASE_L, CELL_HEADER, HBIN_L, I32, U32
from ..storage.files import HiveSource, read_source
from .hive import Hive

HBIN_HEADER_SIZE = HBIN_L.size
_U32 = U32
_HBIN_OFFSET, _HBIN_SIZE = HBIN_L.offset("offset"), HBIN_L.offset("size")
_I32 = I32


@dataclass(frozen=True)
class Problem:
    """One structural problem; ``offset`` is an absolute file offset (or None)."""

    offset: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.offset:#010x}" if self.offset is not None else "-"
        return f"{where}: {self.message}"


@dataclass
class TilingStats:
    """Counts gathered while scanning bins."""

    bins: int = 0
    cells: int = 0
    allocated: int = 0
    free: int = 0
    free_bytes: int = 0
    problems: list[Problem] = field(default_factory=list)


def scan_bins(buf: Any, hbins_size: int) -> TilingStats:
    """Scan hive bins in ``buf`` (a whole file image) and check how they tile.

    Args:
        buf: bytes-like file image starting with the base block.
        hbins_size: the hive-bins data size declared in the base block.

    Returns:
        Counts plus every problem found. Checks: each bin starts with ``hbin``, its offset
        field equals its position relative to 4096, its size is a non-zero multiple of
        4096 and stays inside the declared area; each cell size is non-zero, a multiple of
        8 and does not cross its bin's end; the bins end exactly at 4096 + hbins_size.
    """
    stats = TilingStats()
    problems = stats.problems
    length = len(buf)
    if hbins_size % 4096 or hbins_size <= 0:
        problems.append(
            Problem(
                BASE_L.offset("hbins_size"),
                f"hive bins size {hbins_size:#x} is not a multiple of 4096",
            )
        )
    end = BASE + hbins_size
    if end > length:
        problems.append(
            Problem(length, f"file ends at {length:#x}, before the hive bins end at {end:#x}")
        )
        end = BASE + ((length - BASE) // 4096) * 4096 if length > BASE else BASE
    pos = BASE
    while pos < end:
        if pos + HBIN_HEADER_SIZE > length:
            problems.append(Problem(pos, "hive bin header runs past the end of the file"))
            return stats
        if bytes(buf[pos : pos + 4]) != b"hbin":
            problems.append(Problem(pos, f"bad hive bin signature {bytes(buf[pos : pos + 4])!r}"))
            pos += PAGE  # try to resynchronise on the next page
            continue
        stats.bins += 1
        rel = HBIN_L.field("offset").unpack_from(buf, pos)
        if rel != pos - BASE:
            problems.append(
                Problem(
                    pos + _HBIN_OFFSET, f"hive bin offset field {rel:#x}, expected {pos - BASE:#x}"
                )
            )
        size = HBIN_L.field("size").unpack_from(buf, pos)
        if size == 0 or size % 4096:
            problems.append(
                Problem(pos + _HBIN_SIZE, f"hive bin size {size:#x} is not a multiple of 4096")
            )
            size = PAGE
        if pos + size > end:
            problems.append(
                Problem(
                    pos + _HBIN_SIZE,
                    f"hive bin of size {size:#x} runs past the hive bins end {end:#x}",
                )
            )
            size = end - pos
        _scan_cells(buf, pos, size, stats)
        pos += size
    if pos != end:
        problems.append(Problem(pos, f"hive bins end at {pos:#x}, expected {end:#x}"))
    return stats


def _scan_cells(buf: Any, bin_start: int, bin_size: int, stats: TilingStats) -> None:
    bin_end = bin_start + bin_size
    cell = bin_start + HBIN_HEADER_SIZE
    while cell < bin_end:
        if cell + CELL_HEADER > bin_end:
            stats.problems.append(Problem(cell, "cell size field crosses the hive bin end"))
            return
        raw = _I32.unpack_from(buf, cell)[0]
        size = abs(raw)
        if size == 0:
            stats.problems.append(Problem(cell, "cell size 0"))
            return
        if size % 8:
            stats.problems.append(Problem(cell, f"cell size {size:#x} is not a multiple of 8"))
            return
        if cell + size > bin_end:
            stats.problems.append(
                Problem(cell, f"cell of size {size:#x} crosses the hive bin end {bin_end:#x}")
            )
            return
        stats.cells += 1
        if raw < 0:
            stats.allocated += 1
        else:
            stats.free += 1
            stats.free_bytes += size
        cell += size


def check_hive(hive: Any) -> list[Problem]:
    """Check the cell tiling of an open hive's image (``hive.image.buf``).

    Uses the base block's declared hive-bins size when available (the image may clamp
    its own copy to the file length).
    """
    return check_hive_stats(hive).problems


def check_hive_stats(hive: Any) -> TilingStats:
    """Like :func:`check_hive` but also returns the bin and cell counts."""
    image = hive.image
    base_block = getattr(hive, "base_block", None)
    declared = getattr(base_block, "hbins_size", None)
    if declared is None:
        declared = image.hbins_size
    return scan_bins(image.buf, int(declared))


# ---------------------------------------------------------------------------------------
# The key tree and the values
# ---------------------------------------------------------------------------------------

#: Deepest key path the tree check follows (a deeper tree is reported, not recursed).
MAX_DEPTH = 512
#: Most data bytes a vk can keep in its data field (fmt §4.3).
INLINE_MAX = 4


def _problem(exc: RegfError, context: str) -> Problem:
    return Problem(exc.offset, f"{context}: {exc.message}")


def value_problems(hive: Any, value: Any, where: str) -> list[Problem]:
    """Damage in a vk's data fields that reading its data does not trip over.

    * An inline value (bit 31 of the size) declares at most 4 bytes; the reader returns the
      4 bytes there are, so a larger size is only visible here.
    * A zero-length value has no data, but its data field must still be NIL or a real cell:
      anything else is a dangling index. NIL is accepted (hivex rejects it) because
      Windows itself writes it: the tombstone values of a Windows 10 differencing hive
      (the corpus's yarp ``System_Delta``) are zero-length with a NIL data field.
    """
    size = getattr(value, "data_size", None)
    if size is None:  # not a reader value (an editor's copy has no vk fields)
        return []
    name = f"{where}: value {value.name!r}"
    if size & DATA_INLINE:
        if size & ~DATA_INLINE > INLINE_MAX:
            return [
                Problem(
                    value.offset,
                    f"{name}: inline data size {size & ~DATA_INLINE} exceeds {INLINE_MAX}",
                )
            ]
        return []
    if size == 0 and value.data_cell != HCELL_NIL:
        try:
            hive.image.cell(value.data_cell, "zero-length value data")
        except RegfError:
            return [
                Problem(
                    value.offset,
                    f"{name}: zero-length value with a bogus data offset {value.data_cell:#x}",
                )
            ]
    return []


def walk_problems(hive: Any) -> tuple[list[Problem], int, int]:
    """Walk every key, value, class and security descriptor; collect errors per item.

    Returns:
        (problems, keys visited, values read).
    """
    problems: list[Problem] = []
    keys = values = 0
    seen: set[int] = set()
    security_seen: set[int | None] = set()
    try:
        root = hive.root
    except RegfError as exc:
        return [_problem(exc, "root key")], 0, 0
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        key, depth = stack.pop()
        where = key.path or "(root)"
        if key.index in seen:
            problems.append(Problem(key.offset, f"{where}: key reached twice (cycle)"))
            continue
        seen.add(key.index)
        keys += 1
        try:
            _ = key.last_written, key.class_name
        except RegfError as exc:
            problems.append(_problem(exc, f"{where}: class/time"))
        sec_index = getattr(key, "security_index", None)
        if sec_index not in security_seen:
            security_seen.add(sec_index)
            try:
                _ = key.security
            except RegfError as exc:
                problems.append(_problem(exc, f"{where}: security"))
        try:
            for val in key.values():
                values += 1
                try:
                    _ = val.raw, val.data
                except RegfError as exc:
                    problems.append(_problem(exc, f"{where}: value {val.name!r}"))
                problems.extend(value_problems(hive, val, where))
        except RegfError as exc:
            problems.append(_problem(exc, f"{where}: value list"))
        if depth >= MAX_DEPTH:
            problems.append(Problem(key.offset, f"{where}: tree deeper than {MAX_DEPTH}"))
            continue
        try:
            subs = key.subkeys()
        except RegfError as exc:
            problems.append(_problem(exc, f"{where}: subkey list"))
            continue
        stack.extend((sub, depth + 1) for sub in reversed(subs))
    return problems, keys, values


@dataclass
class CheckReport:
    """What :func:`full_check` found: every problem, and what it looked at."""

    problems: list[Problem]
    keys: int
    values: int
    stats: TilingStats

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def summary(self) -> str:
        """One line of counts (keys, values, bins, cells)."""
        s = self.stats
        return (
            f"{self.keys} keys, {self.values} values, {s.bins} bins, {s.cells} cells "
            f"({s.free} free, {s.free_bytes} bytes)"
        )


def full_check(hive: Any, *, dirty: bool = True) -> CheckReport:
    """Everything ``regf check`` checks, on an open (reader) hive.

    The key tree with every class, security descriptor and value (:func:`walk_problems`),
    what a forensic reader skipped on the way, the cell tiling (:func:`check_hive_stats`)
    and, with ``dirty``, that the hive is not
    dirty (logs not applied). Problems come in that order; the tiling ones are sorted by
    offset.
    """
    problems, keys, values = walk_problems(hive)
    # A forensic (strict=False) reader skips damage instead of raising: report what it
    # skipped, so the check of a forensic hive is no laxer than a strict one.
    for err in getattr(hive, "problems", None) or []:
        problems.append(Problem(err.offset, f"skipped: {err.message}"))
    stats = check_hive_stats(hive)
    problems.extend(stats.problems)
    if dirty and getattr(hive, "dirty", False):
        problems.append(Problem(4, "hive is dirty (sequence numbers differ, logs not applied)"))
    return CheckReport(problems, keys, values, stats)


def quick_sound(hive: Any) -> bool:
    """True when :func:`full_check` (``dirty=False``) would find nothing, decided faster.

    It reads the same things (every key's class and time, each distinct security
    descriptor, every value's data and vk fields, the cell tiling) through the C-backed
    tree walk, and stops at the first problem instead of collecting them all. The tree
    walk raises on cycles, keys reached twice and trees deeper than 512, as
    :func:`walk_problems` reports them. tests/test_hardening.py checks on mutants that
    both verdicts agree.
    """
    if getattr(hive, "problems", None):
        return False
    try:
        seen_sk: set[int] = set()
        for key in hive.walk():
            # The raw time: reading it is what can fail (the datetime only clamps).
            _ = key.last_written_raw, key.class_name
            sk = key.security_index
            if sk not in seen_sk:
                seen_sk.add(sk)
                _ = key.security
            for val in key.values():
                _ = val.raw
                # value_problems' two rules, inline: it formats a message per value.
                size = val.data_size
                if size & DATA_INLINE:
                    if size & ~DATA_INLINE > INLINE_MAX:
                        return False
                elif size == 0 and val.data_cell != HCELL_NIL and value_problems(hive, val, ""):
                    return False
    except RegfError:
        return False
    return _tiling_sound(hive)


def _tiling_sound(hive: Any) -> bool:
    """True when :func:`check_hive_stats` would find no problem. The C scan makes the
    same checks (bin signature, offset field, size a non-zero multiple of 4096 inside the
    area; cell sizes non-zero, multiples of 8, inside their bin) and stops at the first
    failure; the Python scan runs when C is absent or the sizes differ."""
    image = hive.image
    declared: int = getattr(getattr(hive, "base_block", None), "hbins_size", -1)
    fast = _accel.BACKEND == "c" and declared == image.hbins_size
    if fast and declared > 0 and declared % PAGE == 0 and len(image.buf) >= BASE + declared:
        try:
            _accel.scan_cells(image.bins_view(), declared)
        except RegfError:
            return False
        return True
    return not check_hive_stats(hive).problems


def refuse_damaged(hive: Any, what: str = "hive") -> None:
    """Raise :class:`~regf.errors.DamagedHiveError` (first problem, its offset, and every
    problem in ``.problems``) when ``hive`` fails :func:`full_check`. A dirty hive whose
    logs were not applied is not judged here: the writer recovers or refuses it itself."""
    if quick_sound(hive):
        return
    report = full_check(hive, dirty=False)
    if report.ok:
        return
    first = report.problems[0]
    raise DamagedHiveError(
        f"{what} fails the check ({len(report.problems)} problem(s)), first: {first.message}; "
        "not opened for writing (repair=True / --repair opens it anyway)",
        first.offset,
        list(report.problems),
    )


def refuse_damaged_file(path: Any, *, recover: bool = True) -> None:
    """:func:`refuse_damaged` for a hive file, read (and recovered) in memory only. A file
    that cannot even be opened strictly is refused with the reader's error.

    ``mode="r+"`` checks the writer's own image (:func:`refuse_damaged_image`); it calls
    this only after the writer refused a file before the check could run, because the
    reader names some faults more precisely (the version before the dirty state).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a dirty hive's warning: the writer decides
        src = read_source(path)
        try:
            reader = Hive(src, strict=True, recover=recover, logs=None)
        except RegfError:
            src.close()
            raise
    try:
        if not reader.dirty:
            refuse_damaged(reader)
    finally:
        reader.close()
        reader._source.close()  # release the mapping now


def refuse_damaged_image(image: bytes | bytearray) -> None:
    """:func:`refuse_damaged` for a whole-file image a writer has read (and recovered) in
    memory: the ``validate`` hook of :meth:`regf.storage.flush.Pager.open`, run before
    the pager writes anything, so the file and its logs are read once. A base block or
    root the strict reader refuses raises the reader's own typed error (with its offset).
    """
    # A private copy for the reader: the pager's bytearray grows as the hive is edited,
    # and a buffer export the reader (or the C walker) kept would make that fail.
    src = HiveSource(bytes(image), None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dirty marks: the pager has already recovered
        reader = Hive(src, strict=True, recover=False)
    try:
        refuse_damaged(reader)
    finally:
        reader.close()


__all__ = [
    "MAX_DEPTH",
    "CheckReport",
    "Problem",
    "TilingStats",
    "check_hive",
    "check_hive_stats",
    "full_check",
    "quick_sound",
    "refuse_damaged",
    "refuse_damaged_file",
    "refuse_damaged_image",
    "scan_bins",
    "value_problems",
    "walk_problems",
]
