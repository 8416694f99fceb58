"""Streamed output for people and pipes, the JSON record schema, and progress bars.

Text goes straight to stdout in batches, never through a wrapping renderer: piped output
is plain, one record per line, however long. Progress bars (rich) go to stderr, only
when stderr is a terminal and stdout is not (a terminal showing the output streaming is
its own progress display).

JSON schema (``--json`` of ls, info, tree, get, find, deleted, timeline, diff; the key
objects of ``export --format json|jsonl``): JSON Lines, one object per line, UTF-8.
Every object has ``"record"`` (its kind) and ``"hive"`` (the hive file as given on the
command line). Paths (``"path"``) start with the hive's root key name, as ``.reg``
export prints them, and are accepted back by every command. Times are ISO-8601 UTC
(``2019-03-04T10:11:12.123456+00:00``); byte strings are lowercase hex without
separators, everywhere.

* ``key``: ``path``, ``name``, ``last_written``, ``class`` (string or null),
  ``subkey_count``, ``value_count``, and ``values`` (a list of value objects) when the
  command shows values (export, ``tree --values``, ls). timeline writes ``path``,
  ``last_written`` and ``value_count`` only.
* value object: ``name`` ("" is the default value), ``type`` (``REG_SZ``... or
  ``REG_UNKNOWN_0x..``), ``type_id`` (number), ``size``, ``data`` (string, list of
  strings, number, hex string for binary types, or null when it cannot be decoded) and
  ``raw`` (hex of the stored bytes).
* ``value`` (get, find): a value object plus ``path`` of its key.
* ``info``: ``fields`` (object of base block fields), ``logs``, ``recovery``,
  ``warnings``, ``problems`` (lists of text).
* ``change`` (diff): ``kind``, ``path``, ``value`` (name or null), ``old``, ``new`` (a
  value object without name, an ISO time, a class string, or null), ``old_hive``.
* ``deleted_key`` / ``deleted_value`` (deleted): offsets, names, ``raw`` hex, etc.
* ``error``: ``message``; a hive that could not be read, when several were given.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from regf.errors import RegfError

from ._common import type_name

_BATCH = 512
#: ...or this many characters: a JSON line carries a key's every value (a key of a real
#: SYSTEM hive holds 440 KB of data), and a batch is copied twice on its way out.
_BATCH_CHARS = 1 << 16
#: Seconds without output after which a new line is written at once.
_QUIET = 0.2


class LineWriter:
    """Lines to a binary stream (stdout by default): batched, the first ones at once."""

    def __init__(
        self,
        out: IO[bytes] | None = None,
        newline: str = "\n",
        codec: str = "utf-8",
        errors: str = "backslashreplace",
    ) -> None:
        self.out = out if out is not None else sys.stdout.buffer
        self.newline = newline
        self.codec = codec
        self.errors = errors
        self.pending: list[str] = []
        self.pending_chars = 0
        self.written = 0
        self.tty = out is None and sys.stdout.isatty()
        self.last_flush = time.monotonic()

    def line(self, text: str) -> None:
        """Queue one line (no line end).

        Lines go out in batches, but the first ones, every line on a terminal, and a
        line coming after a quiet spell (a sparse search) go out at once.
        """
        pending = self.pending
        pending.append(text)
        self.pending_chars += len(text)
        if len(pending) >= _BATCH or self.pending_chars >= _BATCH_CHARS:
            self.flush(self.tty)
        elif self.written < 64 or self.tty or time.monotonic() - self.last_flush > _QUIET:
            self.flush(True)

    def tick(self) -> None:
        """Called as work goes on: lines queued for a while go out (sparse output)."""
        if self.pending and time.monotonic() - self.last_flush > _QUIET:
            self.flush(True)

    def flush(self, force: bool = True) -> None:
        """Write the queued lines (and flush the stream when ``force``)."""
        if self.pending:
            nl = self.newline
            data = nl.join(self.pending) + nl
            self.out.write(data.encode(self.codec, self.errors))
            self.written += len(self.pending)
            self.pending.clear()
            self.pending_chars = 0
        if force:
            self.out.flush()
        self.last_flush = time.monotonic()

    def record(self, obj: dict[str, Any]) -> None:
        """Queue one JSON Lines record."""
        self.line(json.dumps(obj, ensure_ascii=False))

    def close(self) -> None:
        """Write everything still queued."""
        self.flush(True)


@contextmanager
def line_writer(out: IO[bytes] | None = None, newline: str = "\n") -> Iterator[LineWriter]:
    """A :class:`LineWriter` flushed at the end of the block (also on errors)."""
    w = LineWriter(out, newline)
    try:
        yield w
    finally:
        w.flush(True)


# -- JSON records ------------------------------------------------------------------------


def iso(when: Any) -> str | None:
    """ISO-8601 text of a datetime (None stays None)."""
    return when.isoformat() if when is not None else None


def json_data(data: Any) -> Any:
    """Decoded value data as JSON: str, list of str and int stay; bytes become hex."""
    if isinstance(data, bool):
        return int(data)
    if isinstance(data, str | int):
        return data
    if isinstance(data, list | tuple):
        return [json_data(item) for item in data]
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data).hex()
    return str(data)


def value_object(value: Any) -> dict[str, Any]:
    """The JSON object of one value (see the module docstring)."""
    try:
        raw = bytes(value.raw)
    except RegfError:
        raw = None
    try:
        data = json_data(value.data) if raw is not None else None
    except (RegfError, ValueError):
        data = None
    return {
        "name": value.name,
        "type": type_name(value.type),
        "type_id": int(value.type),
        "size": len(raw) if raw is not None else None,
        "data": data,
        "raw": raw.hex() if raw is not None else None,
    }


def typed_data_object(vtype: int, raw: bytes) -> dict[str, Any]:
    """A value object without a name, for a (type, raw bytes) pair (diff)."""
    from regf.format.constants import ValueType
    from regf.model.decode import decode

    try:
        tname = type_name(ValueType(vtype))
    except ValueError:
        tname = type_name(vtype)
    try:
        data = json_data(decode(vtype, raw))
    except (RegfError, ValueError):
        data = None
    return {"type": tname, "type_id": vtype, "size": len(raw), "data": data, "raw": raw.hex()}


def display_path(root_label: str, key: Any) -> str:
    """A key's path as export prints it: the root label, then the root-relative path."""
    p = key.path
    return f"{root_label}\\{p}" if p else root_label


def key_object(hive_label: str, path: str, key: Any, *, values: bool = False) -> dict[str, Any]:
    """The JSON ``key`` record of one key (see the module docstring)."""
    try:
        class_name = key.class_name
    except RegfError:
        class_name = None
    obj: dict[str, Any] = {
        "record": "key",
        "hive": hive_label,
        "path": path,
        "name": key.name,
        "last_written": iso(key.last_written),
        "class": class_name,
        "subkey_count": key.subkey_count,
        "value_count": key.value_count,
    }
    if values:
        obj["values"] = [value_object(v) for v in key.values()]
    return obj


# -- progress ----------------------------------------------------------------------------


@contextmanager
def progress(
    what: str, total: int | None = None, *, enabled: bool | None = None
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``.

    Shown only when stderr is a terminal and stdout is not (``enabled`` overrides).
    """
    if enabled is None:
        enabled = sys.stderr.isatty() and not sys.stdout.isatty()
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=total)

        def advance(n: int) -> None:
            bar.advance(task, n)

        yield advance


def top_level_progress(start: Any, advance: Callable[[int], None]) -> Callable[[Any], None]:
    """A per-key callback advancing one step per subkey of ``start`` reached by a walk."""
    start_path = start.path

    def on_key(key: Any) -> None:
        if key.parent_path == start_path:
            advance(1)

    return on_key


# -- several hives -----------------------------------------------------------------------


def each_hive(
    ctx: Any,
    hives: list[str],
    out: LineWriter,
    json_mode: bool,
    body: Callable[[str], None],
) -> None:
    """Run ``body(hive_path)`` for every hive; with several, name each one in the stream.

    Text output gets a ``==> HIVE <==`` line before each hive's part (as ``head`` does);
    JSON records carry ``"hive"`` anyway. With several hives a hive that fails is
    reported (stderr, and an ``error`` record in JSON) and the others still run; the
    exit status is then 1.
    """
    from ._common import error_line, set_current_file

    many = len(hives) > 1
    failed = 0
    for n, hive_path in enumerate(hives):
        if many and not json_mode:
            if n:
                out.line("")
            out.line(f"==> {hive_path} <==")
        if not many:
            body(hive_path)
            continue
        try:
            body(hive_path)
        except (RegfError, OSError) as exc:
            from ._common import describe_error

            failed += 1
            out.flush(True)
            set_current_file(hive_path)
            sys.stderr.write(f"regf: error: {error_line(exc, hive_path)}\n")
            if json_mode:
                out.record({"record": "error", "hive": hive_path, "message": describe_error(exc)})
    out.flush(True)
    if failed:
        ctx.exit(1)
