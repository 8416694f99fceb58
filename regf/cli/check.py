"""``regf check``: strict structural check of a hive (tree walk plus cell tiling)."""

from __future__ import annotations

import click

from regf.errors import RegfError
from regf.model.check import MAX_DEPTH, Problem, full_check, walk_problems

from ._common import open_hive


def _problem(exc: RegfError, context: str) -> Problem:
    return Problem(exc.offset, f"{context}: {exc.message}")


@click.command()
@click.argument("hive_path", metavar="HIVE")
@click.pass_context
def check(ctx: click.Context, hive_path: str) -> None:
    """Check HIVE strictly: every key and value, and that cells tile every bin.

    Exit status 0 when the hive is sound, 1 with a list of problems otherwise.
    """
    try:
        hive = open_hive(ctx, hive_path, strict=True)
    except RegfError as exc:
        click.echo(f"{hive_path}: cannot be opened strictly")
        click.echo(f"  {_problem(exc, 'open')}")
        ctx.exit(1)
    with hive:
        report = full_check(hive)
        if report.ok:
            click.echo(f"{hive_path}: OK: {report.summary()}")
            return
        click.echo(f"{hive_path}: {len(report.problems)} problem(s): {report.summary()}")
        for problem in report.problems:
            click.echo(f"  {problem}")
        ctx.exit(1)


# walk_problems moved to regf.model.check (recover and mode="r+" use it too).
__all__ = ["MAX_DEPTH", "check", "walk_problems"]
