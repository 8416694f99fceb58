"""``regf export``: keys as a regedit ``.reg`` file, JSON or JSON Lines, streamed."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, Any

import click

from regf.model.regexport import REGEDIT5_HEADER, reg_value_line
from regf.storage.atomic import atomic_output

from ._common import (
    check_output,
    expand_hives,
    force_option,
    open_hive,
    select_keys,
    split_hives_and_args,
)
from ._output import LineWriter, key_object, progress, top_level_progress


def display_pairs(
    hive: Any, start: Any, prefix: str | None, on_key: Any = None
) -> Iterator[tuple[str, Any]]:
    """``(display path, key)`` for every key under ``start`` via the hive's checked walk.

    The root key is shown as ``prefix`` (default: its own name); other keys as
    ``prefix\\<path from the root>``.
    """
    root_display = prefix if prefix is not None else hive.root.name
    for key in hive.walk(start):
        if on_key is not None:
            on_key(key)
        path = key.path
        yield (f"{root_display}\\{path}" if path else root_display), key


def _export_hive(
    ctx: click.Context,
    hive_path: str,
    key: str,
    fmt: str,
    prefix: str | None,
    out: LineWriter,
    newline: str,
    state: dict[str, Any],
) -> None:
    ascii_only = state["ascii_only"]
    with open_hive(ctx, hive_path) as hive:
        starts = list(select_keys(hive, key))
        if fmt == "reg" and state["hives"] > 1:
            out.line(f"; hive: {hive_path}")
            out.line("")
        for start in starts:
            with progress(
                f"exporting {os.path.basename(hive_path)}", start.subkey_count
            ) as advance:
                on_key = top_level_progress(start, advance)
                for path, k in display_pairs(hive, start, prefix, on_key):
                    if fmt == "reg":
                        out.line(f"[{path}]")
                        for value in k.values():
                            out.line(reg_value_line(value.name, int(value.type),
                                     bytes(value.raw), newline, ascii_only=ascii_only))  # fmt: skip
                        out.line("")
                        continue
                    record = key_object(hive_path, path, k, values=True)
                    if fmt == "jsonl":
                        out.record(record)
                        continue
                    # json: an array, one key object per line.
                    import json

                    text = json.dumps(record, ensure_ascii=False)
                    out.line(("[" if state["first"] else ",") + text)
                    state["first"] = False


@click.command()
@click.argument("args", metavar="HIVE... [KEY]", nargs=-1, required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["reg", "json", "jsonl"]), default="reg",
    show_default=True,
    help="reg: regedit 5.00; json: an array, one key object per line; jsonl: JSON Lines.",
)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Output file.")
@force_option
@click.option(
    "--encoding", type=click.Choice(["utf-16", "utf-8"]), default=None,
    help="File encoding (default: utf-16 LE with BOM for .reg files, utf-8 otherwise).",
)  # fmt: skip
@click.option(
    "--prefix", default=None,
    help="Path shown for the hive root, e.g. 'HKEY_LOCAL_MACHINE\\SOFTWARE' (default: its name).",
)  # fmt: skip
@click.pass_context
def export(
    ctx: click.Context,
    args: tuple[str, ...],
    fmt: str,
    output: str | None,
    force: bool,
    encoding: str | None,
    prefix: str | None,
) -> None:
    """Export KEY (default: the whole hive; a glob exports every match) as .reg or JSON.

    REG_SZ strings with line breaks (and, unless the file is UTF-16, with non-ASCII
    characters) are written as hex(1), which every importer reads exactly. Several
    hives (or directories of hives) make one stream: JSON records name their
    hive, a .reg file gets a '; hive: PATH' comment before each hive's keys. OUT is
    written atomically; an existing OUT needs --force, and an input hive or its logs
    are never overwritten.
    """
    hive_args, rest = split_hives_and_args(args, 1)
    key = rest[0] if rest else ""
    hives = expand_hives(hive_args)
    to_file = output is not None and output != "-"
    if to_file:
        assert output is not None
        check_output(output, hives, force)
        enc = encoding or ("utf-16" if fmt == "reg" else "utf-8")
        newline = "\r\n" if fmt == "reg" else "\n"
    else:
        enc = encoding or "utf-8"
        newline = "\n"
    codec = "utf-16-le" if enc == "utf-16" else "utf-8"
    # Only a UTF-16 file carries quoted non-ASCII strings exactly to regedit; in UTF-8
    # they are written as hex(1) (see reg_value_line).
    state: dict[str, Any] = {"first": True, "hives": len(hives), "ascii_only": codec != "utf-16-le"}
    with ExitStack() as stack:
        if to_file:
            assert output is not None
            raw: IO[bytes] = stack.enter_context(atomic_output(output))
        else:
            raw = sys.stdout.buffer
        # surrogatepass: a name with a lone surrogate goes out as it is stored, so
        # `regf import` reads back the same name.
        out = LineWriter(raw, newline, codec, "surrogatepass")
        if codec == "utf-16-le":
            raw.write(b"\xff\xfe")
        if fmt == "reg":
            out.line(REGEDIT5_HEADER)
            out.line("")
        for hive_path in hives:
            _export_hive(ctx, hive_path, key, fmt, prefix, out, newline, state)
        if fmt == "json":
            out.line("[]" if state["first"] else "]")
        out.flush(True)
