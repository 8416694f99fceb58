"""``regf check``: strict structural check of hives (tree walk plus cell tiling)."""

from __future__ import annotations

import click

from regf.errors import RegfError
from regf.model.check import MAX_DEPTH, Problem, full_check, walk_problems

from ._common import expand_hives, open_hive
from ._output import LineWriter, line_writer
from .browse import json_option


def _problem(exc: RegfError, context: str) -> Problem:
    return Problem(exc.offset, f"{context}: {exc.message}")


def _check_one(ctx: click.Context, hive_path: str, out: LineWriter, as_json: bool) -> bool:
    """Check one hive, print its report; True when it is sound."""
    problems: list[Problem]
    try:
        hive = open_hive(ctx, hive_path, strict=True)
    except RegfError as exc:
        problems, summary = [_problem(exc, "open")], "cannot be opened strictly"
    else:
        with hive:
            report = full_check(hive)
        problems, summary = list(report.problems), report.summary()
    if as_json:
        out.record(
            {
                "record": "check",
                "hive": hive_path,
                "ok": not problems,
                "summary": summary,
                "problems": [{"offset": p.offset, "message": p.message} for p in problems],
            }
        )
    elif not problems:
        out.line(f"{hive_path}: OK: {summary}")
    else:
        out.line(f"{hive_path}: {len(problems)} problem(s): {summary}")
        for problem in problems:
            out.line(f"  {problem}")
    return not problems


@click.command()
@click.argument("hives", metavar="HIVE...", nargs=-1, required=True)
@json_option
@click.pass_context
def check(ctx: click.Context, hives: tuple[str, ...], as_json: bool) -> None:
    """Check each HIVE strictly: every key and value, and that cells tile every bin.

    A directory is searched for hive files (by signature). Exit status 0 when every
    hive is sound, 1 when any has problems (all are checked and reported).
    """
    paths = expand_hives(hives)
    if not paths:
        raise click.UsageError("no hive files found in the given directories")
    bad = 0
    with line_writer() as out:
        for hive_path in paths:
            if not _check_one(ctx, hive_path, out, as_json):
                bad += 1
    if bad:
        ctx.exit(1)


# walk_problems moved to regf.model.check (recover and mode="r+" use it too).
__all__ = ["MAX_DEPTH", "check", "walk_problems"]
