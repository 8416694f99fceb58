"""Forensic views across time: ``regf diff OLD NEW`` and ``regf timeline HIVE``."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import click

from regf.errors import RegfError
from regf.format.constants import ValueType
from regf.model.diff import KEY_ADDED, KEY_REMOVED, TIME_CHANGED, Change, diff_hives, reg_patch

from ._common import CliError, describe_error, format_data, open_hive, type_name

_SIGN = {KEY_ADDED: "+", KEY_REMOVED: "-"}


class _Trouble(CliError):
    """diff(1)'s "trouble" status: 1 already means "the hives differ"."""

    exit_code = 2


def _val(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, tuple):
        vtype, raw = v
        try:
            name = type_name(ValueType(vtype))
        except ValueError:
            name = type_name(vtype)
        from regf.model.decode import decode

        return f"{name} {format_data(decode(vtype, raw), 60)}"
    return str(v)


def _json(c: Change) -> dict[str, Any]:
    def enc(v: Any) -> Any:
        if isinstance(v, tuple):
            return {"type": v[0], "data": base64.b64encode(v[1]).decode("ascii")}
        return v

    return {"kind": c.kind, "path": c.path, "value": c.value, "old": enc(c.old), "new": enc(c.new)}


@click.command()
@click.argument("old_path", metavar="OLD")
@click.argument("new_path", metavar="NEW")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "reg", "json"]),
    default="text",
    show_default=True,
    help="text: one line per change; reg: a .reg patch turning OLD into NEW; json.",
)
@click.option("--timestamps", is_flag=True, help="Also report changed last-written times.")
@click.option(
    "--prefix", default=None, help="reg: root path in the patch (default: NEW's root name)."
)
@click.pass_context
def diff(
    ctx: click.Context, old_path: str, new_path: str, fmt: str, timestamps: bool, prefix: str | None
) -> None:
    """Show how hive NEW differs from hive OLD (keys, values, classes; names compared
    case-insensitively as Windows does). Exit status as diff(1): 0 equal, 1 different,
    2 trouble (one-line message)."""
    try:
        with open_hive(ctx, old_path) as old, open_hive(ctx, new_path) as new:
            changes = diff_hives(old, new, timestamps=timestamps)
            root = new.root.name if prefix is None else prefix
    except (RegfError, OSError) as exc:
        raise _Trouble(describe_error(exc)) from None
    if fmt == "reg":
        click.echo(reg_patch(changes, root=root, newline="\n"), nl=False)
    elif fmt == "json":
        click.echo(json.dumps([_json(c) for c in changes], indent=1))
    else:
        for c in changes:
            sign = _SIGN.get(
                c.kind,
                "~"
                if c.old is not None and c.new is not None
                else "+"
                if c.new is not None
                else "-",
            )
            where = c.path or "(root)"
            if c.value is not None:
                where += f"  {c.value or '(default)'}"
            detail = ""
            if c.kind == TIME_CHANGED:
                detail = f"  {c.old} -> {c.new}"
            elif c.old is not None or c.new is not None:
                detail = (
                    f"  {_val(c.old)} -> {_val(c.new)}"
                    if c.old is not None and c.new is not None
                    else f"  {_val(c.new if c.new is not None else c.old)}"
                )
            click.echo(f"{sign} {c.kind}: {where}{detail}")
    ctx.exit(1 if changes else 0)


def _when(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO date/time") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int((dt - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)


@click.command()
@click.argument("hive_path", metavar="HIVE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "bodyfile"]),
    default="text",
    show_default=True,
    help="bodyfile: mactime's format (key last-written time as mtime).",
)
@click.option("--since", default=None, help="Only keys written at or after this ISO time (UTC).")
@click.option("--until", default=None, help="Only keys written before this ISO time (UTC).")
@click.pass_context
def timeline(
    ctx: click.Context, hive_path: str, fmt: str, since: str | None, until: str | None
) -> None:
    """Keys of HIVE ordered by last-written time (oldest first)."""
    lo, hi = _when(since), _when(until)
    rows = []
    with open_hive(ctx, hive_path) as hive:
        root = hive.root.name
        for key in hive.walk():
            ft = key.last_written_raw
            if (lo is None or ft >= lo) and (hi is None or ft < hi):
                rows.append((ft, key.last_written, key.path, key.value_count))
    rows.sort(key=lambda r: (r[0], r[2]))
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["last_written", "filetime", "path", "values"])
        for ft, when, path, nvals in rows:
            w.writerow([when.isoformat(), ft, path, nvals])
        click.echo(buf.getvalue(), nl=False)
    elif fmt == "bodyfile":
        for ft, _when_dt, path, _n in rows:
            # mactime: MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime (seconds).
            mtime = (ft - 116444736000000000) // 10_000_000
            name = f"{root}\\{path}" if path else root
            click.echo(f"0|{name.replace('|', '_')}|0|0|0|0|0|-1|{mtime}|-1|-1")
    else:
        for _ft, when, path, nvals in rows:
            click.echo(f"{when.isoformat(sep=' ')}  {path or '(root)'}  ({nvals} values)")
