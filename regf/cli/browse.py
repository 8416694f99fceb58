"""Browsing commands: ``info``, ``ls``, ``tree`` and ``get``.

Each takes one or more hives (files, or directories searched for hives) and streams
plain lines, or JSON records with ``--json`` (schema: :mod:`regf.cli._output`).
"""

from __future__ import annotations

from typing import Any

import click

from regf.errors import RecoveryError, RegfError, ValueNotFoundError
from regf.model import paths

from ._common import (
    expand_hives,
    format_data,
    get_options,
    open_hive,
    select_keys,
    split_hives_and_args,
    type_name,
)
from ._output import (
    LineWriter,
    display_path,
    each_hive,
    iso,
    key_object,
    line_writer,
    progress,
    top_level_progress,
    value_object,
)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="JSON Lines records (schema: README.md)."
)


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


def _info_one(ctx: click.Context, hive_path: str, out: LineWriter, as_json: bool) -> None:
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
        fields: dict[str, Any] = {
            "file": hive_path,
            "version": f"{bb.major}.{bb.minor}",
            "file type": bb.file_type,
            "sequence": [bb.seq1, bb.seq2],
            "dirty on disk": bool(getattr(hive, "was_dirty", hive.dirty)),
            "dirty now": bool(hive.dirty),
            "last written": iso(bb.last_written),
            "embedded name": bb.file_name or None,
            "root cell": bb.root_cell,
            "hive bins size": bb.hbins_size,
            "flags": bb.flags,
            "checksum": bb.checksum,
            "checksum ok": bool(bb.checksum_valid),
            "offreg": bool(bb.offreg),
        }
        try:
            fields["root key"] = hive.root.name
            keys = values = 0
            with progress("counting keys", hive.root.subkey_count) as advance:
                on_key = top_level_progress(hive.root, advance)
                for key in hive.walk(values=False):  # counts come from each key's nk
                    on_key(key)
                    keys += 1
                    values += key.value_count
            fields["keys"] = keys
            fields["values"] = values
        except RegfError as exc:
            fields["walk"] = f"failed: {exc}"
        recovery = _recovery_lines(hive.recovery)
        logs = _log_lines(hive_path)
        warnings = list(hive.warnings)
        problems = [] if get_options(ctx).strict else [str(p) for p in hive.problems]
        if as_json:
            out.record(
                {
                    "record": "info",
                    "hive": hive_path,
                    "fields": {k.replace(" ", "_"): v for k, v in fields.items()},
                    "recovery": recovery,
                    "logs": logs,
                    "warnings": warnings,
                    "problems": problems,
                }
            )
            return
        text = dict(fields)
        text["sequence"] = f"{bb.seq1} / {bb.seq2}"
        text["last written"] = _fmt_time(bb.last_written)
        text["root cell"] = f"{bb.root_cell:#x}"
        text["hive bins size"] = f"{bb.hbins_size:#x} ({bb.hbins_size} bytes)"
        text["flags"] = f"{bb.flags:#x}"
        text["checksum"] = f"{bb.checksum:#010x} ({'ok' if bb.checksum_valid else 'BAD'})"
        del text["checksum ok"]
        for k in ("dirty on disk", "dirty now", "offreg"):
            text[k] = "yes" if fields[k] else "no"
        text["embedded name"] = bb.file_name or "-"
        rows = [(k, str(v)) for k, v in text.items()]
        rows += [("recovery", line) for line in recovery]
        rows += [("log", line) for line in logs]
        rows += [("warning", w) for w in warnings]
        rows += [("problem", p) for p in problems]
        for field, value in rows:
            out.line(f"{field + ':':<16}{value}")


@click.command()
@click.argument("hives", metavar="HIVE...", nargs=-1, required=True)
@json_option
@click.pass_context
def info(ctx: click.Context, hives: tuple[str, ...], as_json: bool) -> None:
    """Show base block fields, version, dirty state, counts and recovery summary."""
    with line_writer() as out:
        each_hive(ctx, expand_hives(hives), out, as_json, lambda h: _info_one(ctx, h, out, as_json))


def _ls_one(ctx: click.Context, hive_path: str, key: str, out: LineWriter, as_json: bool) -> None:
    with open_hive(ctx, hive_path) as hive:
        label = hive.root.name
        for node in select_keys(hive, key):
            path = display_path(label, node)
            if as_json:
                out.record(key_object(hive_path, path, node, values=True))
                for sub in node.iter_subkeys():
                    out.record(key_object(hive_path, display_path(label, sub), sub))
                continue
            out.line(f"[{path}]")
            for sub in node.iter_subkeys():
                out.line(
                    f"{_fmt_time(sub.last_written)}  {sub.subkey_count:>6} keys "
                    f"{sub.value_count:>6} values  {sub.name}\\"
                )
            for val in node.values():
                try:
                    size = str(len(val.raw))
                    data = format_data(val.data, limit=200)
                except RegfError as exc:
                    size, data = "?", f"<error: {exc}>"
                out.line(f"{type_name(val.type):<20} {size:>8}  {val.name or '@'} = {data}")


@click.command()
@click.argument("args", metavar="HIVE... [KEY]", nargs=-1, required=True)
@json_option
@click.pass_context
def ls(ctx: click.Context, args: tuple[str, ...], as_json: bool) -> None:
    """List the subkeys (lines ending in \\) and values of KEY (default: the root key).

    KEY may be a glob (``Software\\*\\Run``); several hives or directories may be given.
    """
    hives, rest = split_hives_and_args(args, 1)
    key = rest[0] if rest else ""
    with line_writer() as out:
        each_hive(
            ctx, expand_hives(hives), out, as_json, lambda h: _ls_one(ctx, h, key, out, as_json)
        )


_BRANCH, _LAST, _PIPE, _SPACE = "├── ", "└── ", "│   ", "    "


def _tree_one(
    ctx: click.Context,
    hive_path: str,
    key: str,
    depth: int | None,
    show_values: bool,
    out: LineWriter,
    as_json: bool,
) -> None:
    with open_hive(ctx, hive_path) as hive:
        label = hive.root.name
        for node in select_keys(hive, key):
            _tree_from(hive, label, hive_path, node, depth, show_values, out, as_json)


def _tree_from(
    hive: Any,
    label: str,
    hive_path: str,
    node: Any,
    depth: int | None,
    show_values: bool,
    out: LineWriter,
    as_json: bool,
) -> None:
    line = out.line
    base = node.path.count("\\") + 1 if node.path else 0
    # remaining[d]: children of the open key at depth d not printed yet (values first).
    remaining: list[int] = []
    with progress("walking", node.subkey_count) as advance:
        on_key = top_level_progress(node, advance)
        for key in hive.walk(node, max_depth=depth, values=show_values):
            on_key(key)
            p = key.path
            d = (p.count("\\") + 1 if p else 0) - base
            if as_json:
                out.record(key_object(hive_path, display_path(label, key), key, values=show_values))
                continue
            if d == 0:
                prefix = ""
                line(display_path(label, key) if p else key.name)
            else:
                del remaining[d:]
                remaining[d - 1] -= 1
                guides = "".join(_PIPE if r > 0 else _SPACE for r in remaining[: d - 1])
                line(guides + (_LAST if remaining[d - 1] <= 0 else _BRANCH) + key.name)
                prefix = guides + (_PIPE if remaining[d - 1] > 0 else _SPACE)
            nsub = key.subkey_count
            at_limit = depth is not None and d >= depth
            vals = key.values() if show_values else ()
            children = len(vals) + (1 if at_limit and nsub else 0 if at_limit else nsub)
            for i, val in enumerate(vals):
                mark = _LAST if i == children - 1 else _BRANCH
                line(f"{prefix}{mark}{val.name or '@'} ({type_name(val.type)})")
            if at_limit:
                if nsub:
                    line(f"{prefix}{_LAST}… {nsub} subkeys")
                remaining.append(0)
            else:
                remaining.append(nsub)


@click.command()
@click.argument("args", metavar="HIVE... [KEY]", nargs=-1, required=True)
@click.option("--depth", "-d", type=click.IntRange(min=0), default=None, help="Levels to show.")
@click.option("--values/--no-values", "show_values", default=False, help="Show values too.")
@json_option
@click.pass_context
def tree(
    ctx: click.Context,
    args: tuple[str, ...],
    depth: int | None,
    show_values: bool,
    as_json: bool,
) -> None:
    """Show the key tree under KEY (default: the root), streamed as it is read."""
    hives, rest = split_hives_and_args(args, 1)
    key = rest[0] if rest else ""
    with line_writer() as out:
        each_hive(
            ctx,
            expand_hives(hives),
            out,
            as_json,
            lambda h: _tree_one(ctx, h, key, depth, show_values, out, as_json),
        )


def _get_one(
    ctx: click.Context, hive_path: str, key: str, value: str, raw: bool, out: LineWriter,
    as_json: bool,
) -> None:  # fmt: skip
    name = "" if value == "@" else value
    with open_hive(ctx, hive_path) as hive:
        label = hive.root.name
        found = 0
        for node in select_keys(hive, key):
            if paths.is_glob(key):
                # A glob reports the matching keys that have the value.
                try:
                    val = node.value(name)
                except ValueNotFoundError:
                    continue
            else:
                val = node.value(name)
            found += 1
            if as_json:
                obj = {"record": "value", "hive": hive_path, "path": display_path(label, node)}
                obj.update(value_object(val))
                out.record(obj)
                continue
            if raw:
                out.line(bytes(val.raw).hex())
                continue
            data = val.data
            if isinstance(data, list):
                for item in data:
                    out.line(item)
            elif isinstance(data, bytes | bytearray | memoryview):
                out.line(bytes(data).hex())
            else:
                out.line(str(data))
        if not found:
            raise ValueNotFoundError(f"no key matching {key} has a value {value or '@'}")


@click.command()
@click.argument("args", metavar="HIVE... KEY [VALUE]", nargs=-1, required=True)
@click.option("--raw", is_flag=True, help="Print the raw data bytes as hex.")
@json_option
@click.pass_context
def get(ctx: click.Context, args: tuple[str, ...], raw: bool, as_json: bool) -> None:
    """Print the data of VALUE under KEY (default: the key's default value, also '@')."""
    hives, rest = split_hives_and_args(args, 2, 1)
    if not rest:
        raise click.UsageError("missing argument 'KEY'")
    key, value = rest[0], rest[1] if len(rest) > 1 else ""
    with line_writer() as out:
        each_hive(
            ctx,
            expand_hives(hives),
            out,
            as_json,
            lambda h: _get_one(ctx, h, key, value, raw, out, as_json),
        )
