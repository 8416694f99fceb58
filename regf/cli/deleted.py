"""``regf deleted HIVE``: list deleted keys and values still present in the file (fmt §9)."""

from __future__ import annotations

import base64
import json
from typing import Any

import click

from regf.format.constants import ValueType
from regf.model.deleted import DeletedValue, scan_deleted

from ._common import format_data, open_hive, type_name


def _type(v: DeletedValue) -> str:
    try:
        return type_name(ValueType(v.type))
    except ValueError:
        return type_name(v.type)


def _value_doc(v: DeletedValue) -> dict[str, Any]:
    return {
        "offset": v.offset,
        "name": v.name,
        "type": _type(v),
        "data": None if v.raw is None else base64.b64encode(v.raw).decode("ascii"),
        "data_reliable": v.data_reliable,
        "owner": v.owner,
        "source": v.source,
    }


def _value_line(v: DeletedValue) -> str:
    data = "(data gone)" if v.raw is None else format_data(v.data, 80)
    note = "" if v.data_reliable or v.raw is None else "  [may be overwritten]"
    return f"{v.offset:#010x}  {v.name or '(default)'}  {_type(v)}  {data}{note}"


@click.command()
@click.argument("hive_path", metavar="HIVE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format (json: data base64-encoded).",
)
@click.pass_context
def deleted(ctx: click.Context, hive_path: str, fmt: str) -> None:
    """List deleted keys and values that HIVE still holds (free cells, unreferenced
    cells, slack, bytes past the bins). Read-only: HIVE is never changed.

    Paths are rebuilt through parent keys; a path marked "partial" starts at the
    top-most key still known. Data of a value is reliable only when it is inline
    (4 bytes or less); other data may have been overwritten since the deletion.
    """
    # Forensic reading whatever the global flags say: a damaged live tree must not hide
    # what was deleted.
    with open_hive(ctx, hive_path, strict=False) as hive:
        found = scan_deleted(hive)
    if fmt == "json":
        doc = {
            "keys": [
                {
                    "offset": k.offset,
                    "path": k.path,
                    "path_complete": k.path_complete,
                    "last_written": k.last_written.isoformat(),
                    "source": k.source,
                    "values": [_value_doc(v) for v in k.values],
                }
                for k in found.keys
            ],
            "values": [_value_doc(v) for v in found.values],
            "unreferenced_cells": found.unreferenced_cells,
        }
        click.echo(json.dumps(doc, indent=1))
        return
    click.echo(f"{len(found.keys)} deleted keys, {len(found.values)} deleted values")
    for k in found.keys:
        partial = "" if k.path_complete else "  (partial path)"
        click.echo(f"key {k.offset:#010x}  {k.path}  {k.last_written.isoformat(sep=' ')}{partial}")
        for v in k.values:
            click.echo("    value " + _value_line(v))
    others = [v for v in found.values if all(v is not w for k in found.keys for w in k.values)]
    for v in others:
        owner = f"  (of {v.owner})" if v.owner else ""
        click.echo("value " + _value_line(v) + owner)
