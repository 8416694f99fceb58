"""``regf export``: a key tree as a regedit ``.reg`` file or JSON."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from regf.model.regexport import export_json, export_reg
from regf.storage.files import atomic_output

from ._common import open_hive, open_key

_BATCH = 256


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
            on_key()
        path = key.path
        yield (f"{root_display}\\{path}" if path else root_display), key


def _write_lines(out: IO[bytes], lines: Iterator[str], newline: str, encoding: str) -> None:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= _BATCH:
            out.write((newline.join(batch) + newline).encode(encoding, "surrogatepass"))
            batch.clear()
    if batch:
        out.write((newline.join(batch) + newline).encode(encoding, "surrogatepass"))


@click.command()
@click.argument("hive_path", metavar="HIVE")
@click.argument("key", required=False, default="")
@click.option(
    "--format", "fmt", type=click.Choice(["reg", "json", "jsonl"]), default="reg",
    show_default=True, help="reg: regedit 5.00; json: array, one key per line; jsonl.",
)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Output file.")
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
    hive_path: str,
    key: str,
    fmt: str,
    output: str | None,
    encoding: str | None,
    prefix: str | None,
) -> None:
    """Export KEY (default: the whole hive) as .reg or JSON."""
    with open_hive(ctx, hive_path) as hive, ExitStack() as stack:
        start = open_key(hive, key)
        to_file = output is not None and output != "-"
        if to_file:
            enc = encoding or ("utf-16" if fmt == "reg" else "utf-8")
            newline = "\r\n" if fmt == "reg" else "\n"
        else:
            enc = encoding or "utf-8"
            newline = "\n"
        codec = "utf-16-le" if enc == "utf-16" else "utf-8"

        on_key = None
        stdout_tty = sys.stdout.isatty()
        if sys.stderr.isatty() and (to_file or not stdout_tty):
            progress = stack.enter_context(
                Progress(
                    SpinnerColumn(),
                    TextColumn("exporting {task.completed} keys"),
                    TimeElapsedColumn(),
                    console=Console(stderr=True),
                    transient=True,
                )
            )
            task = progress.add_task("export", total=None)

            def on_key() -> None:
                progress.advance(task)

        pairs = display_pairs(hive, start, prefix, on_key)
        if fmt == "reg":
            lines = export_reg(pairs, newline=newline)
        else:
            lines = export_json(pairs, lines=fmt == "jsonl")

        if to_file:
            assert output is not None
            out: IO[bytes] = stack.enter_context(atomic_output(output))
        else:
            out = sys.stdout.buffer
        if codec == "utf-16-le":
            out.write(b"\xff\xfe")
        _write_lines(out, lines, newline, codec)
        out.flush()
