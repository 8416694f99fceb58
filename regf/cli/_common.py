"""Shared CLI plumbing: global options, opening hives, one-line error reporting."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import IO, Any

import click

import regf
from regf.errors import RegfError


@dataclass
class Options:
    """Global options, stored in ``ctx.obj``."""

    recover: bool = True
    strict: bool = True
    #: Edit a hive that fails the whole-hive check (``repair=True``).
    force: bool = False


class CliError(click.ClickException):
    """An error reported as the single line ``regf: error: <msg>`` (exit status 1)."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the one-line message to stderr."""
        click.echo(f"regf: error: {self.format_message()}", err=True)


def describe_error(exc: BaseException) -> str:
    """One-line description of a RegfError or OSError (no traceback)."""
    if isinstance(exc, OSError) and not isinstance(exc, RegfError):
        if exc.strerror and exc.filename is not None:
            return f"{exc.filename}: {exc.strerror}"
        if exc.strerror:
            return exc.strerror
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.splitlines())


def get_options(ctx: click.Context) -> Options:
    """The global options of the running command."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Options) else Options()


def open_hive(
    ctx: click.Context, path: str, *, strict: bool | None = None, recover: bool | None = None
) -> Any:
    """Open ``path`` with the global ``--no-recover`` / ``--forensic`` settings."""
    opts = get_options(ctx)
    with warnings.catch_warnings():
        # Dirty-hive warnings are shown by `info` from hive.warnings, not as Python warnings.
        warnings.simplefilter("ignore")
        return regf.open(
            path,
            strict=opts.strict if strict is None else strict,
            recover=opts.recover if recover is None else recover,
        )


def open_key(hive: Any, key: str | None) -> Any:
    """The key at ``key`` (``None``, ``""`` or ``\\`` mean the root)."""
    path = (key or "").strip("\\")
    return hive.root if path == "" else hive.open_key(path)


def type_name(type_value: Any) -> str:
    """Symbolic name of a value type (``REG_UNKNOWN_0x12`` for unknown numbers)."""
    name = getattr(type_value, "name", None)
    return str(name) if name else f"REG_UNKNOWN_{int(type_value):#x}"


def format_data(data: Any, limit: int | None = None) -> str:
    """Short human-readable rendering of decoded value data."""
    if isinstance(data, bytes | bytearray | memoryview):
        text = bytes(data).hex(" ")
    elif isinstance(data, list):
        text = " | ".join(str(item) for item in data)
    elif isinstance(data, int) and not isinstance(data, bool):
        text = f"{data} ({data:#x})"
    else:
        text = str(data)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
