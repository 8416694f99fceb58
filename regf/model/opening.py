"""Opening and creating hives: ``regf.open`` (read-only or ``mode="r+"``) and
``regf.create``.

The writer (the editable hive, the pager, the whole-hive check) is imported by the calls
that need it, not at import: a read-only open, such as every reading CLI command's,
then loads about a third less code at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from ..errors import (
    FormatError,
    HiveStateError,
    InvalidArgumentError,
    RecoveryError,
    RegfError,
    StructureError,
)
from ..format.constants import BASE
from ..storage.files import Source, read_source
from .baseblock import parse_base_block
from .hive import Hive

if TYPE_CHECKING:
    from ..cells.alloc import CellAllocatorAPI as Alloc
    from ..storage.fileio import FileOps
    from ..storage.flush import LogPolicy
    from .edithive import EditHive


@overload
def open_hive(
    source: Source,
    *,
    mode: Literal["r"] = "r",
    strict: bool = True,
    recover: bool = True,
    logs: Sequence[Any] | None = None,
    autoflush: float | None = None,
    repair: bool = False,
) -> Hive: ...


@overload
def open_hive(
    source: Source,
    *,
    mode: Literal["r+"],
    strict: bool = True,
    recover: bool = True,
    logs: Sequence[Any] | None = None,
    autoflush: float | None = None,
    repair: bool = False,
) -> EditHive: ...


@overload
def open_hive(
    source: Source,
    *,
    mode: str,
    strict: bool = True,
    recover: bool = True,
    logs: Sequence[Any] | None = None,
    autoflush: float | None = None,
    repair: bool = False,
) -> Hive | EditHive: ...


def open_hive(
    source: Source,
    *,
    mode: str = "r",
    strict: bool = True,
    recover: bool = True,
    logs: Sequence[Any] | None = None,
    autoflush: float | None = None,
    repair: bool = False,
) -> Hive | EditHive:
    """Open a hive from a path, bytes, or a binary file object (read-only by default).

    A dirty hive is recovered in memory from its transaction logs (found beside the file,
    or given as ``logs``) unless ``recover=False``; nothing is ever written, truncated or
    created in mode "r". ``strict=False`` (forensic mode) skips and records damaged
    records in ``hive.problems`` instead of raising.

    ``mode="r+"`` returns an :class:`~regf.model.edithive.EditHive`. On a path it edits the
    file in place: exclusive writer lock (:class:`~regf.errors.LockedError` for a second
    writer), a dirty hive recovered and written back first, ``flush()`` / ``close()``
    writing through ``.LOG1``/``.LOG2``, and ``autoflush`` (seconds) flushing from a
    background thread. Bytes and file objects give an editable copy in memory (saved
    with ``save_as``). A hive that fails the whole-hive check is refused
    (:class:`~regf.errors.DamagedHiveError`) unless ``repair=True``. See
    :mod:`regf.model.edithive`. Both kinds give the same :class:`~regf.model.keys.Key`
    and :class:`~regf.model.values.Value` classes.
    """
    if mode == "r+":
        return open_editable(
            source, strict=strict, recover=recover, logs=logs, autoflush=autoflush, repair=repair
        )
    if mode != "r":
        raise HiveStateError(f"mode {mode!r} is not supported (only 'r' and 'r+')")
    if autoflush is not None:
        raise InvalidArgumentError("autoflush applies to mode 'r+' only")
    if repair:
        raise InvalidArgumentError("repair applies to mode 'r+' only")
    src = read_source(source)
    try:
        return Hive(src, strict=strict, recover=recover, logs=logs)
    except RegfError:
        src.close()
        raise


def create(path: str | os.PathLike[str], *, minor: int = 5, root_name: str = "ROOT") -> EditHive:
    """A new, empty editable hive written to ``path`` on close or :meth:`EditHive.flush`.

    ``minor`` is the format version (default 5, i.e. 1.5). Nothing is written until
    then; an existing file at ``path`` is replaced (atomically) at that point. Leaving a
    ``with`` block through an exception writes nothing.
    """
    if not isinstance(path, str | os.PathLike):
        raise InvalidArgumentError("path must be a str or os.PathLike")
    from .edithive import EditHive

    target = Path(path)
    return EditHive(
        minor=minor, root_name=root_name, target=target, mode="w", file_name=target.name
    )


def open_editable(
    source: Source,
    *,
    strict: bool = True,
    recover: bool = True,
    logs: Sequence[Any] | None = None,
    allocator: Callable[[bytearray], Alloc] | None = None,
    in_place: bool | None = None,
    autoflush: float | None = None,
    io: FileOps | None = None,
    log_policy: LogPolicy | None = None,
    repair: bool = False,
) -> EditHive:
    """Open a hive for editing (``regf.open(..., mode="r+")``).

    The whole hive gets ``regf check``'s check first (:func:`~regf.model.check.full_check`,
    after any log recovery, in memory; in place, on the pager's one read of the file,
    under its lock): a hive that fails it raises :class:`~regf.errors.DamagedHiveError`
    naming the first problem and its offset, and nothing is written (the lock is
    released). ``repair=True`` skips that check, to edit (fix) a
    damaged hive on purpose.

    ``in_place`` (default: True when ``source`` is a path) edits the file itself through
    a :class:`~regf.storage.flush.Pager` (see the module docstring): writer lock, a dirty
    hive recovered and written back first (``recover=False`` refuses a dirty hive
    instead), flushes through ``.LOG1``/``.LOG2``; ``autoflush`` seconds starts the
    background flusher; ``io`` and ``log_policy`` go to the pager (tests pass a crash
    double). In-place editing is always strict and finds the logs itself (``strict=False``
    and ``logs`` are refused), and a file without write permission raises
    PermissionError. ``in_place=False`` (or a bytes / file object source) loads a copy
    with the reader (a dirty hive recovered in memory) that never writes to ``source``.
    """
    from .check import refuse_damaged, refuse_damaged_file, refuse_damaged_image
    from .edithive import EditHive

    path_source = isinstance(source, str | os.PathLike)
    if in_place is None:
        in_place = path_source
    if in_place:
        if not path_source:
            raise InvalidArgumentError("in-place editing needs a file path")
        if logs is not None:
            raise InvalidArgumentError("logs= cannot be given for in-place editing")
        if not strict:
            raise InvalidArgumentError("in-place editing is always strict (strict=False)")
        path = Path(cast("str | os.PathLike[str]", source))
        checked: list[bool] = []

        def validate(image: bytearray) -> None:
            checked.append(True)
            refuse_damaged_image(image)

        try:
            return _open_in_place(
                path,
                recover=recover,
                validate=None if repair else validate,
                allocator=allocator,
                autoflush=autoflush,
                io=io,
                log_policy=log_policy,
            )
        except (FormatError, RecoveryError):
            if not repair and not checked:
                # The writer refused the file before the check ran. Raise what the
                # reader says about it, as before the check moved into the writer's
                # read: it names e.g. a bad version rather than the checksum it breaks.
                # A second read, but only of a file that is refused anyway.
                refuse_damaged_file(path, recover=recover)
            raise
    if autoflush is not None:
        raise InvalidArgumentError("autoflush needs in-place editing (a copy has no file)")
    reader = open_hive(source, mode="r", strict=strict, recover=recover, logs=logs)
    try:
        if not repair:
            refuse_damaged(reader)
        bb = reader.base_block
        src = reader.path
        end = BASE + bb.hbins_size
        with memoryview(reader.buf) as whole, whole[:end] as view:
            image = bytearray(view)
        if len(image) < end:
            raise StructureError("hive bins run past the end of the file", len(image))
        hive = EditHive(
            minor=bb.minor if 2 <= bb.minor <= 6 else 3,
            source=Path(src) if src is not None else None,
            mode="r+",
            file_name=bb.file_name,
            image=image,
            allocator=allocator,
        )
        hive.warnings.extend(reader.warnings)
        return hive
    finally:
        reader.close()
        reader._source.close()


def _open_in_place(
    path: Path,
    *,
    recover: bool,
    validate: Callable[[bytearray], None] | None,
    allocator: Callable[[bytearray], Alloc] | None,
    autoflush: float | None,
    io: FileOps | None,
    log_policy: LogPolicy | None,
) -> EditHive:
    # The check runs inside Pager.open on the pager's own read (and recovery) of the
    # file, under the lock and before the first write: one read, and a refused dirty
    # hive keeps its logs and its unrecovered primary.
    from ..storage.flush import Pager
    from .edithive import EditHive

    pager, image, report = Pager.open(
        path, io=io, log_policy=log_policy, recover=recover, validate=validate
    )
    try:
        bb = parse_base_block(image)
        hive = EditHive(
            minor=bb.minor,  # the pager accepts 1.3 .. 1.6 only
            source=path,
            mode="r+",
            file_name=bb.file_name,
            image=image,
            allocator=allocator,
            pager=pager,
        )
        hive.recovery = report
        if report is not None:
            hive.warnings.append(
                f"hive was dirty ({report.dirty}); recovered from its logs and written back"
            )
        if autoflush is not None:
            hive.start_autoflush(autoflush)
    except BaseException:
        pager.close()
        raise
    return hive


# ---------------------------------------------------------------------------------------


__all__ = ["create", "open_editable", "open_hive"]
