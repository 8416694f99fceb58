"""Shared CLI plumbing: global options, opening hives, output files, one error style.

Every failure is reported as one line ``regf: error: FILE: message`` on stderr, where
FILE is the file the command was working on (hive, log, .reg or output file).
"""

from __future__ import annotations

import contextvars
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

import regf
from regf.errors import KeyNotFoundError, RegfError
from regf.model import paths
from regf.storage.atomic import TEMP_MARK

#: Global flags that may also be written after the subcommand (``regf info H --forensic``).
GLOBAL_FLAGS = ("--no-recover", "--forensic", "--repair")

#: The file the running command works on, named in its error message.
_CURRENT_FILE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "regf_cli_file", default=None
)

# Names of atomic_output / write_new_file temporaries: ".NAME.regf-tmp-PID".
_TMP_NAME = re.compile(rf"^\.(?P<name>.+){re.escape(TEMP_MARK)}\d+$")


@dataclass
class Options:
    """Global options, stored in ``ctx.obj``."""

    recover: bool = True
    strict: bool = True
    #: Edit a hive that fails the whole-hive check (``repair=True``).
    repair: bool = False


class CliError(click.ClickException):
    """An error reported as the single line ``regf: error: <msg>`` (exit status 1)."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``regf: error: FILE: message`` (FILE: the file being worked on) to stderr."""
        msg = self.format_message()
        where = current_file()
        if where is not None and not msg.startswith(f"{where}:"):
            msg = f"{where}: {msg}"
        click.echo(f"regf: error: {msg}", err=True)


def set_current_file(path: str | os.PathLike[str] | None) -> None:
    """Name ``path`` in the error message if the command fails from now on."""
    _CURRENT_FILE.set(None if path is None else os.fspath(path))


def current_file() -> str | None:
    """The file named in error messages (None: none yet)."""
    return _CURRENT_FILE.get()


def _untemp(name: str) -> str:
    """The target file name for an atomic-write temporary, else ``name``."""
    p = Path(name)
    m = _TMP_NAME.match(p.name)
    return str(p.with_name(m.group("name"))) if m else name


def _quoted_path(match: re.Match[str]) -> str:
    # A repr()'d path: show it as typed, without the doubled backslashes of repr.
    return match.group(1).replace("\\\\", "\\")


def clean_message(text: str) -> str:
    """A library message made fit for users: one line, no internals."""
    text = " ".join(text.strip().splitlines())
    # Construct's parse paths, e.g. "((parsing) -> signature)".
    text = re.sub(r"\s*\(\((?:parsing|building|sizeof)\)[^()]*\)", "", text)
    text = text.replace("pass recursive=True to delete them", "use -r to delete them")
    text = re.sub(r"'((?:[^'\\]|\\\\)*)'", _quoted_path, text)
    return text


def describe_error(exc: BaseException) -> str:
    """One-line description of a RegfError or OSError (no traceback, no temp names)."""
    if isinstance(exc, OSError) and not isinstance(exc, RegfError):
        if exc.strerror and exc.filename is not None:
            return f"{_untemp(os.fsdecode(exc.filename))}: {exc.strerror}"
        if exc.strerror:
            return exc.strerror
    text = str(exc).strip() or type(exc).__name__
    return clean_message(text)


def error_line(exc: BaseException, file: str | None = None) -> str:
    """``FILE: message`` for an exception raised while working on ``file``."""
    msg = describe_error(exc)
    file = file if file is not None else current_file()
    if isinstance(exc, OSError) and not isinstance(exc, RegfError) and exc.filename is not None:
        return msg  # already starts with the file name
    if file is None or msg.startswith(f"{file}:"):
        return msg
    return f"{file}: {msg}"


def get_options(ctx: click.Context) -> Options:
    """The global options of the running command."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Options) else Options()


def open_hive(
    ctx: click.Context, path: str, *, strict: bool | None = None, recover: bool | None = None
) -> Any:
    """Open ``path`` with the global ``--no-recover`` / ``--forensic`` settings."""
    opts = get_options(ctx)
    set_current_file(path)
    if os.path.isdir(path):
        raise CliError(f"{path}: is a directory, not a hive file")
    with warnings.catch_warnings():
        # Dirty-hive warnings are shown by `info` from hive.warnings, not as Python warnings.
        warnings.simplefilter("ignore")
        return regf.open(
            path,
            strict=opts.strict if strict is None else strict,
            recover=opts.recover if recover is None else recover,
        )


def open_key(hive: Any, key: str | None) -> Any:
    """The key at ``key`` as typed (``None``, ``""`` or ``\\`` mean the root).

    Accepts what regf and other tools print (root name, ``ROOT\\``, ``HKLM\\...``; see
    :mod:`regf.model.paths`).
    """
    return paths.resolve(hive.root, key or "")


def select_keys(hive: Any, key: str | None) -> Iterator[Any]:
    """The keys ``key`` names: one key, or every match of a glob pattern."""
    if key and paths.is_glob(key):
        found = False
        for k in hive.glob(key):
            found = True
            yield k
        if not found:
            raise KeyNotFoundError(f"no key matches {key}")
        return
    yield open_key(hive, key)


# -- output files ------------------------------------------------------------------------

_LOG_SUFFIXES = (".LOG", ".LOG1", ".LOG2")


def protected_files(hive_path: str) -> list[Path]:
    """``hive_path`` and every sibling log of it (empty ones too), existing or not."""
    hive = Path(hive_path)
    out = [hive] + [hive.with_name(hive.name + s) for s in _LOG_SUFFIXES]
    wanted = {hive.name.casefold() + s.casefold() for s in _LOG_SUFFIXES}
    try:
        names = os.listdir(hive.parent or ".")
    except OSError:
        names = []
    out.extend(hive.parent / n for n in names if n.casefold() in wanted)
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return a.samefile(b)  # hard links and symlinks too (same inode)
    except OSError:
        pass
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def check_output(output: str, inputs: Iterable[str], force: bool) -> None:
    """Refuse to write ``output`` over an input hive or its logs, or, without ``force``,
    over any existing file."""
    out = Path(output)
    set_current_file(output)
    for hive in inputs:
        for p in protected_files(hive):
            if _same_file(out, p):
                what = "the input hive" if p == Path(hive) else f"a log of the input hive {hive}"
                raise CliError(f"{output}: is {what}; refusing to overwrite it")
    if out.is_dir():
        raise CliError(f"{output}: is a directory")
    if out.exists() and not force:
        raise CliError(f"{output}: file exists (use --force to overwrite it)")
    set_current_file(None)


force_option = click.option(
    "-f", "--force", is_flag=True, help="Overwrite OUT if it exists (never an input hive or log)."
)


# -- several hives -----------------------------------------------------------------------

_HIVE_MAGIC = b"regf"


def _looks_like_hive(path: Path) -> bool:
    if path.suffix.upper() in _LOG_SUFFIXES:
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == _HIVE_MAGIC
    except OSError:
        return False


def expand_hives(args: Sequence[str]) -> list[str]:
    """Hive files named by ``args``: files as given, directories searched recursively
    for files starting with the ``regf`` signature (logs excluded), sorted by path."""
    out: list[str] = []
    for arg in args:
        if os.path.isdir(arg):
            found: list[str] = []
            for dirpath, dirnames, filenames in os.walk(arg):
                dirnames.sort()
                found.extend(
                    os.path.join(dirpath, n)
                    for n in filenames
                    if _looks_like_hive(Path(dirpath, n))
                )
            out.extend(sorted(found))
        else:
            out.append(arg)
    return out


def split_hives_and_args(
    args: Sequence[str], max_rest: int, min_rest: int = 0
) -> tuple[list[str], list[str]]:
    """Split ``HIVE... [ARG...]``: the first argument is always a hive, then every
    argument naming a directory or a file that starts like a hive (``regf``) while more
    than ``min_rest`` remain; at most ``max_rest`` arguments may follow the hives."""
    if not args:
        raise click.UsageError("missing argument 'HIVE'")
    n = 1
    while n < len(args) - min_rest and (os.path.isdir(args[n]) or _looks_like_hive(Path(args[n]))):
        n += 1
    if len(args) - n > max_rest:
        raise click.UsageError(f"no such hive file or directory: {args[n]}")
    return list(args[:n]), list(args[n:])


# -- rendering ---------------------------------------------------------------------------


def type_name(type_value: Any) -> str:
    """Symbolic name of a value type (``REG_UNKNOWN_0x12`` for unknown numbers)."""
    name = getattr(type_value, "name", None)
    return str(name) if name else f"REG_UNKNOWN_{int(type_value):#x}"


def format_data(data: Any, limit: int | None = None) -> str:
    """Short human-readable rendering of decoded value data (one line)."""
    if isinstance(data, bytes | bytearray | memoryview):
        text = bytes(data).hex(" ")
    elif isinstance(data, list):
        text = " | ".join(str(item) for item in data)
    elif isinstance(data, int) and not isinstance(data, bool):
        text = f"{data} ({data:#x})"
    else:
        text = str(data)
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
