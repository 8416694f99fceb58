"""``regf check``: strict structural check of a hive (tree walk plus cell tiling)."""

from __future__ import annotations

from typing import Any

import click

from regf.errors import RegfError
from regf.model.check import Problem, check_hive_stats

from ._common import open_hive

MAX_DEPTH = 512


def _problem(exc: RegfError, context: str) -> Problem:
    return Problem(exc.offset, f"{context}: {exc.message}")


def walk_problems(hive: Any) -> tuple[list[Problem], int, int]:
    """Walk every key, value, class and security descriptor; collect errors per item.

    Returns:
        (problems, keys visited, values read).
    """
    problems: list[Problem] = []
    keys = values = 0
    seen: set[int] = set()
    security_seen: set[int | None] = set()
    try:
        root = hive.root
    except RegfError as exc:
        return [_problem(exc, "root key")], 0, 0
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        key, depth = stack.pop()
        where = key.path or "(root)"
        if key.index in seen:
            problems.append(Problem(key.offset, f"{where}: key reached twice (cycle)"))
            continue
        seen.add(key.index)
        keys += 1
        try:
            _ = key.last_written, key.class_name
        except RegfError as exc:
            problems.append(_problem(exc, f"{where}: class/time"))
        sec_index = getattr(key, "security_index", None)
        if sec_index not in security_seen:
            security_seen.add(sec_index)
            try:
                _ = key.security
            except RegfError as exc:
                problems.append(_problem(exc, f"{where}: security"))
        try:
            for val in key.values():
                values += 1
                try:
                    _ = val.raw, val.data
                except RegfError as exc:
                    problems.append(_problem(exc, f"{where}: value {val.name!r}"))
        except RegfError as exc:
            problems.append(_problem(exc, f"{where}: value list"))
        if depth >= MAX_DEPTH:
            problems.append(Problem(key.offset, f"{where}: tree deeper than {MAX_DEPTH}"))
            continue
        try:
            subs = key.subkeys()
        except RegfError as exc:
            problems.append(_problem(exc, f"{where}: subkey list"))
            continue
        stack.extend((sub, depth + 1) for sub in reversed(subs))
    return problems, keys, values


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
        problems, keys, values = walk_problems(hive)
        stats = check_hive_stats(hive)
        problems.extend(stats.problems)
        if hive.dirty:
            problems.append(Problem(4, "hive is dirty (sequence numbers differ, logs not applied)"))
        summary = (
            f"{keys} keys, {values} values, {stats.bins} bins, {stats.cells} cells "
            f"({stats.free} free, {stats.free_bytes} bytes)"
        )
        if not problems:
            click.echo(f"{hive_path}: OK: {summary}")
            return
        click.echo(f"{hive_path}: {len(problems)} problem(s): {summary}")
        for problem in problems:
            click.echo(f"  {problem}")
        ctx.exit(1)
