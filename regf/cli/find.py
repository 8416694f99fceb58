"""``regf find``: RECmd-style search of keys and values, streamed (text or JSON Lines)."""

from __future__ import annotations

import os
import re
from typing import Any

import click

from regf.errors import RegfError

from ._common import expand_hives, format_data, open_hive, type_name
from ._output import (
    LineWriter,
    display_path,
    each_hive,
    key_object,
    line_writer,
    progress,
    top_level_progress,
    value_object,
)
from .compare import filetime_of


def _regex(text: str | None, what: str) -> re.Pattern[str] | None:
    if text is None:
        return None
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as exc:
        raise click.BadParameter(f"{text!r}: {exc}", param_hint=what) from None


def data_texts(value: Any) -> list[str]:
    """The texts ``--data`` is matched against: strings, numbers in decimal and hex,
    binary data as hex and, when it decodes, as UTF-16LE text."""
    try:
        data = value.data
    except RegfError:
        return []
    if isinstance(data, str):
        return [data]
    if isinstance(data, list):
        return [str(item) for item in data]
    if isinstance(data, int):
        return [str(data), f"{data:#x}"]
    raw = bytes(data)
    texts = [raw.hex()]
    if len(raw) % 2 == 0 and raw:
        texts.append(raw.decode("utf-16-le", "ignore").replace("\0", " "))
    return texts


def _find_one(
    ctx: click.Context,
    hive_path: str,
    out: LineWriter,
    as_json: bool,
    key_rx: re.Pattern[str] | None,
    value_rx: re.Pattern[str] | None,
    data_rx: re.Pattern[str] | None,
    types: set[int] | None,
    lo: int | None,
    hi: int | None,
) -> None:
    want_values = value_rx is not None or data_rx is not None or types is not None
    with open_hive(ctx, hive_path) as hive:
        root = hive.root
        label = root.name
        with progress(f"searching {os.path.basename(hive_path)}", root.subkey_count) as advance:
            on_key = top_level_progress(root, advance)
            tick = out.tick
            for key in hive.walk(values=want_values):
                on_key(key)
                tick()
                if lo is not None or hi is not None:
                    ft = key.last_written_raw
                    if (lo is not None and ft < lo) or (hi is not None and ft >= hi):
                        continue
                path = display_path(label, key)
                if key_rx is not None and not key_rx.search(path):
                    continue
                if not want_values:
                    if as_json:
                        out.record(key_object(hive_path, path, key))
                    else:
                        out.line(f"{key.last_written.isoformat(sep=' ')}  {path}")
                    continue
                for val in key.values():
                    if types is not None and int(val.type) not in types:
                        continue
                    if value_rx is not None and not value_rx.search(val.name):
                        continue
                    if data_rx is not None and not any(data_rx.search(t) for t in data_texts(val)):
                        continue
                    if as_json:
                        obj = {"record": "value", "hive": hive_path, "path": path}
                        obj.update(value_object(val))
                        out.record(obj)
                        continue
                    try:
                        shown = format_data(val.data, 200)
                    except RegfError as exc:
                        shown = f"<error: {exc}>"
                    out.line(f"{path}  {val.name or '@'}  {type_name(val.type)}  {shown}")


@click.command()
@click.argument("hives", metavar="HIVE...", nargs=-1, required=True)
@click.option("--key", "key_text", default=None, help="Regex searched in key paths.")
@click.option("--value", "value_text", default=None, help="Regex searched in value names.")
@click.option("--data", "data_text", default=None, help="Regex searched in value data.")
@click.option(
    "--type", "type_texts", multiple=True,
    help="Value type (REG_SZ, SZ, DWORD, 0x.. number); repeatable.",
)  # fmt: skip
@click.option("--since", default=None, help="Only keys written at or after this ISO time (UTC).")
@click.option("--until", default=None, help="Only keys written before this ISO time (UTC).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines records (schema: README.md).")
@click.pass_context
def find(
    ctx: click.Context,
    hives: tuple[str, ...],
    key_text: str | None,
    value_text: str | None,
    data_text: str | None,
    type_texts: tuple[str, ...],
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Search hives (files or directories of them) for keys and values, RECmd-style.

    Regexes are case-insensitive and match anywhere (anchor with ^ and $). Key paths
    start with the root key's name, as export prints them. Without --value, --data or
    --type the matching keys are listed (time and path); with any of them, the matching
    values (key path, name, type, data). Results stream as the hive is read.
    """
    from .edit import parse_type

    key_rx = _regex(key_text, "--key")
    value_rx = _regex(value_text, "--value")
    data_rx = _regex(data_text, "--data")
    types = {parse_type(t) for t in type_texts} if type_texts else None
    lo, hi = filetime_of(since), filetime_of(until)
    with line_writer() as out:
        each_hive(
            ctx,
            expand_hives(hives),
            out,
            as_json,
            lambda h: _find_one(ctx, h, out, as_json, key_rx, value_rx, data_rx, types, lo, hi),
        )
