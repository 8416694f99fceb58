"""``regf recover``: write a clean primary recovered from the transaction logs."""

from __future__ import annotations

import warnings

import click

import regf
from regf.model.check import full_check
from regf.storage.atomic import write_new_file

from ._common import CliError, check_output, force_option, get_options, set_current_file


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
@force_option
@click.pass_context
def recover(
    ctx: click.Context, hive_path: str, output: str, logs: tuple[str, ...], force: bool
) -> None:
    """Apply HIVE's transaction logs and write a clean hive to OUTPUT (inputs untouched).

    A clean HIVE is copied to OUTPUT as it is (exit status 0, as `flush` does). The
    result gets the whole of `regf check` first: a recovered hive with problems is not
    written (exit status 1) unless --forensic is given, which writes it and lists the
    problems on stderr.
    """
    forensic = not get_options(ctx).strict
    check_output(output, [hive_path, *logs], force)
    set_current_file(hive_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hive = regf.open(hive_path, recover=True, logs=list(logs) or None, strict=not forensic)
    with hive:
        clean = not hive.was_dirty
        report = hive.recovery
        if not clean and (report is None or hive.dirty):
            why = "; ".join(hive.warnings) or "no transaction log could be applied"
            raise CliError(f"{hive_path}: {why}")
        # Check the result as `regf check` would before writing it: logs that pass their
        # own checks (a DIRT log has no hash) can still carry damage, e.g. a freed sk; and
        # a clean copy gets the same check, so recover never hands on a damaged hive
        # silently.
        result = full_check(hive)
        what = "hive" if clean else "recovered hive"
        if result.problems and not forensic:
            first = result.problems[0]
            raise CliError(
                f"{hive_path}: the {what} fails the check with "
                f"{len(result.problems)} problem(s), first {first}; nothing written "
                "(--forensic writes it anyway)"
            )
        write_new_file(output, bytes(hive.buf))
        for problem in result.problems:
            click.echo(f"regf: warning: {what}: {problem}", err=True)
        if clean:
            click.echo(f"{hive_path}: clean, nothing to recover; copied to {output}")
            return
    pages = getattr(report, "pages_applied", "?")
    entries = len(getattr(report, "applied_entries", []) or [])
    click.echo(f"recovered {hive_path} -> {output}: {entries} log entries, {pages} pages applied")
