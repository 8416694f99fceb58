"""``regf collect INPUT... -o OUT``: hives of a fleet as Parquet tables (regf.fleet)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from ._common import CliError

Reporter = Callable[[dict[str, Any]], None]


def _json_lines(event: dict[str, Any]) -> None:
    click.echo(json.dumps(event, separators=(",", ":")))


@contextmanager
def _rich_bar() -> Iterator[Reporter]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("hives"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TextColumn("{task.fields[rate]:.1f} hives/s  {task.fields[mbs]:.1f} MB/s"),
        TimeElapsedColumn(),
        console=console,
    )
    task = None

    def report(event: dict[str, Any]) -> None:
        nonlocal task
        kind = event["event"]
        if kind == "start":
            task = bar.add_task("collect", total=event["hives"], failed=0, rate=0.0, mbs=0.0)
        elif kind == "hive" and task is not None:
            bar.update(
                task,
                completed=event["done"],
                failed=event["failed"],
                rate=event["hives_per_s"],
                mbs=event["mb_per_s"],
            )
        elif kind == "done":
            bar.stop()
            console.print(
                f"{event['hives']} hives ({event['failed']} failed), "
                f"{event['bytes'] / 1e6:.1f} MB in {event['seconds']:.1f} s -> {event['out']}"
            )

    with bar:
        yield report


@contextmanager
def _reporter(mode: str) -> Iterator[Reporter | None]:
    if mode == "auto":
        mode = "bar" if sys.stdout.isatty() else "json"
    if mode == "bar":
        with _rich_bar() as report:
            yield report
    else:
        yield _json_lines if mode == "json" else None


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...", type=click.Path(exists=True))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--scheduler", default=None, metavar="ADDR", help="Use a running Dask scheduler (tcp://h:8786)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Local worker processes (default: one per CPU; 0: in this process, no Dask).",
)
@click.option("--host", default=None, help="Host name for every hive (default: from the layout).")
@click.option(
    "--progress",
    type=click.Choice(["auto", "bar", "json", "none"]),
    default="auto",
    show_default=True,
    help="auto: a progress bar on a terminal, JSON lines on stdout otherwise.",
)
def collect(
    inputs: tuple[str, ...],
    out: str,
    scheduler: str | None,
    workers: int | None,
    host: str | None,
    progress: str,
) -> None:
    """Read every hive under INPUT (folders, KAPE / Velociraptor zips, hive files;
    found by signature, logs paired) into Parquet tables in OUT: keys, values, deleted,
    timeline, errors, hives (one file per hive and table). A damaged hive becomes rows
    in `errors`, never a stopped run. Runs on a local Dask cluster unless --scheduler."""
    try:
        from regf.fleet import collect as run
    except ImportError as exc:
        raise CliError(
            f"regf collect needs the fleet extra: pip install 'regf[fleet]' ({exc})"
        ) from None
    with _reporter(progress) as report:
        run(inputs, out, scheduler=scheduler, workers=workers, host=host, progress=report)
