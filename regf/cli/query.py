"""``regf query OUT "SQL"``: SQL over the tables ``regf collect`` wrote (DuckDB)."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime
from typing import Any

import click

from ._common import CliError, format_data


def _plain(v: Any) -> Any:
    if isinstance(v, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, int | float | str):
        return str(v)
    return format_data(v, 120)


@click.command()
@click.argument("out", metavar="OUT", type=click.Path(exists=True, file_okay=False))
@click.argument("sql", required=False)
@click.option("--named", default=None, help="Run a named query (--list shows them) instead of SQL.")
@click.option("--list", "list_", is_flag=True, help="List the named queries.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "jsonl"]),
    default="text",
    show_default=True,
    help="text: tab-separated with a header; jsonl: one object per row (bytes base64).",
)
def query(out: str, sql: str | None, named: str | None, list_: bool, fmt: str) -> None:
    """Run SQL over the tables of OUT (views keys, "values", deleted, timeline, errors,
    hives; quote "values", an SQL keyword)."""
    try:
        from regf.fleet import query as q
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise CliError(f"regf query needs: pip install 'regf[fleet,query]' ({exc})") from None
    if list_:
        for name, text in q.NAMED.items():
            click.echo(f"-- {name}{text}")
        return
    if named is not None:
        if named not in q.NAMED:
            raise click.BadParameter(f"no query {named!r} (have: {', '.join(q.NAMED)})")
        sql = q.NAMED[named]
    if not sql:
        raise click.UsageError("give SQL or --named NAME")
    try:
        import duckdb
    except ImportError as exc:
        raise CliError(f"regf query needs DuckDB: pip install 'regf[query]' ({exc})") from None
    try:
        columns, rows = q.query(out, sql)
    except duckdb.Error as exc:
        raise CliError(" ".join(str(exc).split())) from None
    if fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)}))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows([[_plain(v) for v in row] for row in rows])
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo("\t".join(columns))
        for row in rows:
            click.echo("\t".join(_text(v) for v in row))
