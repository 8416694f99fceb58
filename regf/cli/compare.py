"""Forensic views across time: ``regf diff OLD NEW`` and ``regf timeline HIVE...``."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from regf.errors import RegfError
from regf.format.constants import ValueType
from regf.model.diff import KEY_ADDED, KEY_REMOVED, TIME_CHANGED, Change, diff_hives, reg_patch

from ._common import CliError, error_line, expand_hives, format_data, open_hive, type_name
from ._output import LineWriter, each_hive, line_writer, progress, top_level_progress
from ._output import typed_data_object as _typed

_SIGN = {KEY_ADDED: "+", KEY_REMOVED: "-"}
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_UNIX_EPOCH_FT = 116444736000000000
#: Characters of context shown either side of the first difference.
_CONTEXT = 24


class _Trouble(CliError):
    """diff(1)'s "trouble" status: 1 already means "the hives differ"."""

    exit_code = 2


def iso_filetime(ft: int) -> str:
    """ISO-8601 UTC text of a FILETIME (the raw number when it is out of range)."""
    try:
        return (_EPOCH + timedelta(microseconds=ft // 10)).isoformat()
    except OverflowError:
        return f"FILETIME {ft:#x}"


def _type_label(vtype: int) -> str:
    try:
        return type_name(ValueType(vtype))
    except ValueError:
        return type_name(vtype)


def _render(v: tuple[int, bytes]) -> str:
    from regf.model.decode import decode

    vtype, raw = v
    try:
        return format_data(decode(vtype, raw))
    except (RegfError, ValueError):
        return bytes(raw).hex(" ")


def _window(text: str, at: int) -> str:
    lo = max(0, at - _CONTEXT)
    hi = at + _CONTEXT
    return ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")


def changed_pair(old: tuple[int, bytes], new: tuple[int, bytes]) -> tuple[str, str]:
    """Old and new value data rendered so that they differ visibly: long data is cut
    around the first difference (whose position is given), never into equal texts."""
    a, b = _render(old), _render(new)
    if len(a) <= 2 * _CONTEXT + 20 and len(b) <= 2 * _CONTEXT + 20:
        return a, b
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    where = f" (differs at character {at})"
    return _window(a, at), _window(b, at) + where


def _val(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, tuple):
        return f"{_type_label(v[0])} {_render(v)[:60]}"
    return str(v)


def _change_object(c: Change, old_path: str, new_path: str) -> dict[str, Any]:
    def enc(v: Any) -> Any:
        if isinstance(v, tuple):
            return _typed(v[0], bytes(v[1]))
        if c.kind == TIME_CHANGED and isinstance(v, int):
            return iso_filetime(v)
        return v

    return {
        "record": "change",
        "hive": new_path,
        "old_hive": old_path,
        "kind": c.kind,
        "path": c.path,
        "value": c.value,
        "old": enc(c.old),
        "new": enc(c.new),
    }


def _change_line(c: Change) -> str:
    sign = _SIGN.get(
        c.kind,
        "~" if c.old is not None and c.new is not None else "+" if c.new is not None else "-",
    )
    where = c.path or "(root)"
    if c.value is not None:
        where += f"  {c.value or '(default)'}"
    detail = ""
    if c.kind == TIME_CHANGED:
        detail = f"  {iso_filetime(c.old)} -> {iso_filetime(c.new)}"
    elif isinstance(c.old, tuple) and isinstance(c.new, tuple):
        a, b = changed_pair(c.old, c.new)
        ta, tb = _type_label(c.old[0]), _type_label(c.new[0])
        detail = f"  {ta} {a} -> {tb} {b}" if ta != tb else f"  {ta} {a} -> {b}"
    elif c.old is not None or c.new is not None:
        detail = (
            f"  {_val(c.old)} -> {_val(c.new)}"
            if c.old is not None and c.new is not None
            else f"  {_val(c.new if c.new is not None else c.old)}"
        )
    return f"{sign} {c.kind}: {where}{detail}"


@click.command()
@click.argument("old_path", metavar="OLD")
@click.argument("new_path", metavar="NEW")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "reg", "json"]),
    default="text",
    show_default=True,
    help="text: one line per change; reg: a .reg patch turning OLD into NEW; json: "
    "JSON Lines (same as --json).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines records (schema: README.md).")
@click.option("--timestamps", is_flag=True, help="Also report changed last-written times.")
@click.option(
    "--prefix", default=None, help="reg: root path in the patch (default: NEW's root name)."
)
@click.pass_context
def diff(
    ctx: click.Context,
    old_path: str,
    new_path: str,
    fmt: str,
    as_json: bool,
    timestamps: bool,
    prefix: str | None,
) -> None:
    """Show how hive NEW differs from hive OLD (keys, values, classes; names compared
    case-insensitively as Windows does). Times are ISO-8601 UTC; long data is shown
    around its first difference. Exit status as diff(1): 0 equal, 1 different, 2
    trouble (one-line message)."""
    try:
        with open_hive(ctx, old_path) as old, open_hive(ctx, new_path) as new:
            changes = diff_hives(old, new, timestamps=timestamps)
            root = new.root.name if prefix is None else prefix
    except (RegfError, OSError) as exc:
        raise _Trouble(error_line(exc)) from None
    if fmt == "reg":
        click.echo(reg_patch(changes, root=root, newline="\n"), nl=False)
    else:
        with line_writer() as out:
            for c in changes:
                if as_json or fmt == "json":
                    out.record(_change_object(c, old_path, new_path))
                else:
                    out.line(_change_line(c))
    ctx.exit(1 if changes else 0)


def filetime_of(text: str | None) -> int | None:
    """FILETIME of an ISO date/time (UTC when no zone is given); None stays None."""
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO date/time") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int((dt - _EPOCH).total_seconds() * 10_000_000)


def _timeline_one(
    ctx: click.Context,
    hive_path: str,
    out: LineWriter,
    fmt: str,
    lo: int | None,
    hi: int | None,
) -> None:
    # Only (time, path, count) per key is kept: the sort needs every key first, but
    # memory stays a small multiple of the key count, not of the hive.
    rows: list[tuple[int, str, int]] = []
    with open_hive(ctx, hive_path) as hive:
        root = hive.root
        label = root.name
        with progress(f"reading {os.path.basename(hive_path)}", root.subkey_count) as advance:
            on_key = top_level_progress(root, advance)
            for key in hive.walk(values=False):  # times, paths and counts only
                on_key(key)
                ft = key.last_written_raw
                if (lo is None or ft >= lo) and (hi is None or ft < hi):
                    rows.append((ft, key.path, key.value_count))
    rows.sort()
    line = out.line
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="")
        for ft, path, nvals in rows:
            full = f"{label}\\{path}" if path else label
            w.writerow([iso_filetime(ft), ft, full, nvals, hive_path])
            line(buf.getvalue())
            buf.seek(0)
            buf.truncate()
    elif fmt == "bodyfile":
        for ft, path, _n in rows:
            # mactime: MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime (seconds).
            mtime = (ft - _UNIX_EPOCH_FT) // 10_000_000
            name = f"{label}\\{path}" if path else label
            line(f"0|{name.replace('|', '_')}|0|0|0|0|0|-1|{mtime}|-1|-1")
    elif fmt == "json":
        for ft, path, nvals in rows:
            out.record(
                {
                    "record": "key",
                    "hive": hive_path,
                    "path": f"{label}\\{path}" if path else label,
                    "last_written": iso_filetime(ft),
                    "value_count": nvals,
                }
            )
    else:
        for ft, path, nvals in rows:
            full = f"{label}\\{path}" if path else label
            line(f"{iso_filetime(ft)}  {full}  ({nvals} values)")


@click.command()
@click.argument("hives", metavar="HIVE...", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "bodyfile", "json"]),
    default="text",
    show_default=True,
    help="csv: last_written,filetime,path,values,hive; bodyfile: "
    "mactime's format (key last-written time as mtime); json: JSON Lines.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--header/--no-header", default=True, show_default=True, help="csv: a header line first."
)
@click.option("--since", default=None, help="Only keys written at or after this ISO time (UTC).")
@click.option("--until", default=None, help="Only keys written before this ISO time (UTC).")
@click.pass_context
def timeline(
    ctx: click.Context,
    hives: tuple[str, ...],
    fmt: str,
    as_json: bool,
    header: bool,
    since: str | None,
    until: str | None,
) -> None:
    """Keys of HIVE... ordered by last-written time (oldest first), per hive."""
    lo, hi = filetime_of(since), filetime_of(until)
    fmt = "json" if as_json else fmt
    with line_writer() as out:
        if fmt == "csv" and header:
            out.line("last_written,filetime,path,values,hive")
        each_hive(
            ctx,
            expand_hives(hives),
            out,
            fmt in ("json", "csv", "bodyfile"),
            lambda h: _timeline_one(ctx, h, out, fmt, lo, hi),
        )
