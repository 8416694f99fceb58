"""Browsing commands: ``info``, ``ls``, ``tree`` and ``get``."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from regf.errors import RecoveryError, RegfError

from ._common import format_data, get_options, open_hive, open_key, type_name


def _console() -> Console:
    # Created per command so CliRunner's swapped stdout is honoured.
    return Console(highlight=False, soft_wrap=False)


def _fmt_time(when: Any) -> str:
    return when.isoformat(sep=" ") if when is not None else "-"


def _log_lines(hive_path: str) -> list[str]:
    """One line per transaction log beside the hive: format, entries, sequences, validity."""
    from regf.storage.discover import find_logs
    from regf.storage.files import read_file
    from regf.storage.logs import parse_log

    lines = []
    for path in find_logs(hive_path):
        log = parse_log(str(path), read_file(path))
        fmt = {"new": "new (HvLE)", "old": "old (DIRT)"}.get(log.format or "", "unknown")
        if log.format == "new":
            rng = log.seq_range
            what = f"{len(log.entries)} entries" + (f", seq {rng[0]}..{rng[1]}" if rng else "")
        else:
            what = f"{len(log.sectors)} dirty sectors"
        state = "valid" if log.valid else f"invalid: {log.problem}"
        lines.append(f"{path.name}: {fmt}, base seq {log.seq}, {what}, {state}")
    return lines


def _recovery_lines(report: Any) -> list[str]:
    lines: list[str] = []
    if report is None:
        return lines
    dirty = getattr(report, "dirty", None)
    if dirty is not None:
        lines.append(f"dirty reason: {getattr(dirty, 'name', dirty)}")
    lines.append(f"logs applied: {'yes' if getattr(report, 'applied', False) else 'no'}")
    reason = getattr(report, "reason", None)
    if reason:
        lines.append(f"reason: {reason}")
    entries = getattr(report, "applied_entries", None)
    if entries:
        pages = getattr(report, "pages_applied", None)
        lines.append(f"entries applied: {len(entries)}, pages: {pages}")
    for log_name, seq, why in getattr(report, "rejected", None) or []:
        lines.append(f"rejected {log_name} #{seq}: {why}")
    final = getattr(report, "final_sequence", None)
    if final is not None:
        lines.append(f"final sequence: {final}")
    lines.extend(f"note: {note}" for note in getattr(report, "notes", None) or [])
    return lines


@click.command()
@click.argument("hive_path", metavar="HIVE")
@click.pass_context
def info(ctx: click.Context, hive_path: str) -> None:
    """Show base block fields, version, dirty state, counts and recovery summary."""
    refused = None
    try:
        hive = open_hive(ctx, hive_path)
    except RecoveryError as exc:
        # info describes the hive even when its logs cannot be applied: show the stale
        # primary and why the logs were refused.
        refused = str(exc)
        hive = open_hive(ctx, hive_path, recover=False)
    with hive:
        if refused:
            hive.warnings.append(f"logs not applied: {refused}")
        bb = hive.base_block
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        rows: list[tuple[str, str]] = [
            ("file", hive_path),
            ("version", f"{bb.major}.{bb.minor}"),
            ("file type", str(bb.file_type)),
            ("sequence", f"{bb.seq1} / {bb.seq2}"),
            ("dirty on disk", "yes" if getattr(hive, "was_dirty", hive.dirty) else "no"),
            ("dirty now", "yes" if hive.dirty else "no"),
            ("last written", _fmt_time(bb.last_written)),
            ("embedded name", bb.file_name or "-"),
            ("root cell", f"{bb.root_cell:#x}"),
            ("hive bins size", f"{bb.hbins_size:#x} ({bb.hbins_size} bytes)"),
            ("flags", f"{bb.flags:#x}"),
            ("checksum", f"{bb.checksum:#010x} ({'ok' if bb.checksum_valid else 'BAD'})"),
            ("offreg", "yes" if bb.offreg else "no"),
        ]
        try:
            root = hive.root
            rows.append(("root key", root.name))
            keys = values = 0
            for key in hive.walk():
                keys += 1
                values += key.value_count
            rows.append(("keys", str(keys)))
            rows.append(("values", str(values)))
        except RegfError as exc:
            rows.append(("walk", f"failed: {exc}"))
        for field, value in rows:
            table.add_row(field, escape(value))
        for line in _recovery_lines(hive.recovery):
            table.add_row("recovery", escape(line))
        for line in _log_lines(hive_path):
            table.add_row("log", escape(line))
        for warning in hive.warnings:
            table.add_row("warning", escape(warning))
        if not get_options(ctx).strict:
            for problem in getattr(hive, "problems", []):
                table.add_row("problem", escape(str(problem)))
        _console().print(table)


@click.command()
@click.argument("hive_path", metavar="HIVE")
@click.argument("key", required=False, default="")
@click.pass_context
def ls(ctx: click.Context, hive_path: str, key: str) -> None:
    """List the subkeys and values of KEY (default: the root key)."""
    with open_hive(ctx, hive_path) as hive:
        node = open_key(hive, key)
        console = _console()
        subkeys = Table(title=escape(f"Subkeys of {node.path or node.name}"), title_justify="left")
        subkeys.add_column("Name", overflow="fold")
        subkeys.add_column("Subkeys", justify="right")
        subkeys.add_column("Values", justify="right")
        subkeys.add_column("Last written")
        for sub in node.subkeys():
            subkeys.add_row(
                escape(sub.name), str(sub.subkey_count), str(sub.value_count),
                _fmt_time(sub.last_written),
            )  # fmt: skip
        console.print(subkeys)
        values = Table(title="Values", title_justify="left")
        values.add_column("Name", overflow="fold")
        values.add_column("Type")
        values.add_column("Size", justify="right")
        values.add_column("Data", overflow="fold")
        for val in node.values():
            try:
                data = format_data(val.data, limit=200)
            except RegfError as exc:
                data = f"<error: {exc}>"
            values.add_row(
                escape(val.name or "(default)"), type_name(val.type), str(len(val.raw)),
                escape(data),
            )  # fmt: skip
        console.print(values)


@click.command()
@click.argument("hive_path", metavar="HIVE")
@click.argument("key", required=False, default="")
@click.option("--depth", "-d", type=click.IntRange(min=0), default=None, help="Levels to show.")
@click.option("--values/--no-values", "show_values", default=False, help="Show values too.")
@click.pass_context
def tree(
    ctx: click.Context, hive_path: str, key: str, depth: int | None, show_values: bool
) -> None:
    """Show the key tree under KEY as a tree."""
    with open_hive(ctx, hive_path) as hive:
        node = open_key(hive, key)
        top = Tree(escape(node.name), guide_style="dim")
        stack: list[tuple[Any, Tree, int]] = [(node, top, 0)]
        seen: set[int] = set()
        while stack:
            current, branch, level = stack.pop()
            index = getattr(current, "index", id(current))
            if index in seen:  # cycle in a damaged hive
                continue
            seen.add(index)
            if show_values:
                for val in current.values():
                    branch.add(f"[dim]{escape(val.name or '@')} ({type_name(val.type)})[/dim]")
            if depth is not None and level >= depth:
                if current.subkey_count:
                    branch.add(f"[dim]… {current.subkey_count} subkeys[/dim]")
                continue
            children = [(sub, branch.add(escape(sub.name))) for sub in current.subkeys()]
            stack.extend((sub, child, level + 1) for sub, child in reversed(children))
        _console().print(top)


@click.command()
@click.argument("hive_path", metavar="HIVE")
@click.argument("key")
@click.argument("value", required=False, default="")
@click.option("--raw", is_flag=True, help="Print the raw data bytes as hex.")
@click.pass_context
def get(ctx: click.Context, hive_path: str, key: str, value: str, raw: bool) -> None:
    """Print the data of VALUE under KEY (default: the key's default value)."""
    with open_hive(ctx, hive_path) as hive:
        val = open_key(hive, key).value(value)
        if raw:
            click.echo(bytes(val.raw).hex())
            return
        data = val.data
        if isinstance(data, list):
            for item in data:
                click.echo(item)
        elif isinstance(data, bytes | bytearray | memoryview):
            click.echo(bytes(data).hex())
        else:
            click.echo(data)
