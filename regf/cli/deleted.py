"""``regf deleted HIVE``: list deleted keys and values still present in the file (fmt §9)."""

from __future__ import annotations

from typing import Any

import click

from regf.format.constants import ValueType
from regf.model.deleted import DeletedValue, scan_deleted

from ._common import expand_hives, format_data, open_hive, type_name
from ._output import LineWriter, each_hive, iso, line_writer


def _type(v: DeletedValue) -> str:
    try:
        return type_name(ValueType(v.type))
    except ValueError:
        return type_name(v.type)


def _value_doc(v: DeletedValue, hive_path: str) -> dict[str, Any]:
    return {
        "record": "deleted_value",
        "hive": hive_path,
        "offset": v.offset,
        "name": v.name,
        "type": _type(v),
        "type_id": int(v.type),
        "raw": None if v.raw is None else bytes(v.raw).hex(),
        "data_reliable": v.data_reliable,
        "owner": v.owner,
        "source": v.source,
    }


def _value_line(v: DeletedValue) -> str:
    data = "(data gone)" if v.raw is None else format_data(v.data, 80)
    note = "" if v.data_reliable or v.raw is None else "  [may be overwritten]"
    return f"{v.offset:#010x}  {v.name or '(default)'}  {_type(v)}  {data}{note}"


def _deleted_one(ctx: click.Context, hive_path: str, out: LineWriter, as_json: bool) -> None:
    # Forensic reading whatever the global flags say: a damaged live tree must not hide
    # what was deleted.
    with open_hive(ctx, hive_path, strict=False) as hive:
        found = scan_deleted(hive)
    if as_json:
        for k in found.keys:
            out.record(
                {
                    "record": "deleted_key",
                    "hive": hive_path,
                    "offset": k.offset,
                    "path": k.path,
                    "path_complete": k.path_complete,
                    "last_written": iso(k.last_written),
                    "source": k.source,
                    "values": [_value_doc(v, hive_path) for v in k.values],
                }
            )
        owned = {id(v) for k in found.keys for v in k.values}
        for v in found.values:
            if id(v) not in owned:
                out.record(_value_doc(v, hive_path))
        return
    out.line(f"{len(found.keys)} deleted keys, {len(found.values)} deleted values")
    for k in found.keys:
        partial = "" if k.path_complete else "  (partial path)"
        out.line(f"key {k.offset:#010x}  {k.path}  {k.last_written.isoformat(sep=' ')}{partial}")
        for v in k.values:
            out.line("    value " + _value_line(v))
    owned = {id(v) for k in found.keys for v in k.values}
    for v in found.values:
        if id(v) not in owned:
            owner = f"  (of {v.owner})" if v.owner else ""
            out.line("value " + _value_line(v) + owner)


@click.command()
@click.argument("hives", metavar="HIVE...", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format (json: JSON Lines, as --json).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines records (schema: README.md).")
@click.pass_context
def deleted(ctx: click.Context, hives: tuple[str, ...], fmt: str, as_json: bool) -> None:
    """List deleted keys and values that HIVE... still hold (free cells, unreferenced
    cells, slack, bytes past the bins). Read-only: no hive is ever changed.

    Paths are rebuilt through parent keys; a path marked "partial" starts at the
    top-most key still known. Data of a value is reliable only when it is inline
    (4 bytes or less); other data may have been overwritten since the deletion.
    JSON records carry data as hex ("raw"), like every regf JSON.
    """
    as_json = as_json or fmt == "json"
    with line_writer() as out:
        each_hive(
            ctx, expand_hives(hives), out, as_json, lambda h: _deleted_one(ctx, h, out, as_json)
        )
