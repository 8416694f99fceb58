"""``regf recover``: write a clean primary recovered from the transaction logs."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

import regf
from regf.storage.files import write_new_file

from ._common import CliError


@click.command()
@click.argument("hive_path", metavar="HIVE", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output file.")
@click.option(
    "--log",
    "logs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Transaction log to use (repeatable); default: .LOG/.LOG1/.LOG2 beside HIVE.",
)
def recover(hive_path: str, output: str, logs: tuple[str, ...]) -> None:
    """Apply HIVE's transaction logs and write a clean hive to OUTPUT (inputs untouched)."""
    if Path(output).resolve() == Path(hive_path).resolve():
        raise CliError("refusing to overwrite the input hive; choose another -o")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hive = regf.open(hive_path, recover=True, logs=list(logs) or None)
    with hive:
        if not hive.was_dirty:
            raise CliError(f"{hive_path}: hive is clean; there is nothing to recover")
        report = hive.recovery
        if report is None or hive.dirty:
            why = "; ".join(hive.warnings) or "no transaction log could be applied"
            raise CliError(f"{hive_path}: {why}")
        # Walk the result before writing: a recovered image that does not read back is
        # refused rather than written.
        for key in hive.walk():
            key.values()
        write_new_file(output, bytes(hive.buf))
    pages = getattr(report, "pages_applied", "?")
    entries = len(getattr(report, "applied_entries", []) or [])
    click.echo(f"recovered {hive_path} -> {output}: {entries} log entries, {pages} pages applied")
