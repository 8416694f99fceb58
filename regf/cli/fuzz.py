"""``regf fuzz OUTDIR``: write random valid hives and mutated copies, for fuzzing parsers."""

from __future__ import annotations

import os

import click

from regf.model.fuzz import MUTATIONS, generate, mutate
from regf.storage.atomic import write_new_file


@click.command()
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.option(
    "--count",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Valid hives to generate.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seed of the first hive.",
)
@click.option(
    "--mutations",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Mutated copies per generated hive.",
)
@click.option(
    "--damage",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Mutations applied per copy.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(sorted(MUTATIONS)),
    help="Mutation kinds to draw from (repeatable; default: all).",
)
@click.option("--minor", type=click.IntRange(3, 6), help="Format 1.MINOR (default: random).")
@click.option(
    "--max-keys",
    default=60,
    show_default=True,
    type=click.IntRange(min=0),
    help="Keys per hive, roughly.",
)
def fuzz(
    outdir: str,
    count: int,
    seed: int,
    mutations: int,
    damage: int,
    kinds: tuple[str, ...],
    minor: int | None,
    max_keys: int,
) -> None:
    """Write COUNT random valid hives (hive-SEED.hiv, SEED counting up) to OUTDIR, and
    with --mutations N, N damaged copies of each (hive-SEED-mK.hiv) whose base-block
    checksum is still right. Output is a pure function of the options."""
    os.makedirs(outdir, exist_ok=True)
    for s in range(seed, seed + count):
        data, _spec = generate(s, minor=minor, max_keys=max_keys)
        write_new_file(os.path.join(outdir, f"hive-{s}.hiv"), data)
        for k in range(mutations):
            bad = mutate(data, s * 1_000_003 + k, count=damage, kinds=kinds or None)
            write_new_file(os.path.join(outdir, f"hive-{s}-m{k}.hiv"), bad)
    click.echo(f"wrote {count} hives and {count * mutations} mutated copies to {outdir}")
