"""Editing commands: ``regf new|mkkey|set|rm|rmval|rename|import|shell|flush``.

By default every command that changes an existing hive edits HIVE in place, as Windows
does: ``regf.open(path, mode="r+")`` takes the hive's writer lock (another writer makes
the command fail), recovers a dirty hive first, applies the change and flushes fully
(the dirty pages go to ``HIVE.LOG1``/``.LOG2`` first, then into HIVE), so a crash at any
moment leaves the old or the new content. With ``-o OUT`` the hive is read into memory
instead, the result written to OUT as a complete new file, and HIVE (and its logs) left
untouched. ``regf flush HIVE`` reconciles a dirty hive in place (what Windows does when
it loads one).
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import IO

import click

import regf
from regf.errors import KeyNotFoundError, RegfError, ValueNotFoundError
from regf.format.constants import ValueType
from regf.model import paths
from regf.model.edithive import EditHive
from regf.model.keys import Key
from regf.model.opening import open_editable
from regf.model.regexport import (
    CreateKey,
    DeleteKey,
    DeleteValue,
    RegOperation,
    RegParseError,
    SetValue,
    parse_reg,
)
from regf.storage.files import read_file

from ._common import (
    CliError,
    check_output,
    describe_error,
    get_options,
    set_current_file,
    type_name,
)
from .shell_ui import make_reader

_NOTE = (
    "HIVE is edited in place and flushed through its transaction logs (HIVE.LOG1/.LOG2; "
    "a dirty HIVE is recovered first). With -o OUT the result is written to OUT as a "
    "complete new hive instead and HIVE is left untouched."
)

_TYPE_HELP = "REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD, REG_BINARY, REG_NONE, ..."


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _check_output(hive_path: str, output: str | None) -> None:
    """Refuse an ``-o OUT`` that is HIVE or one of its logs, or exists without --force."""
    if output is None:
        return
    ctx = click.get_current_context(silent=True)
    force = bool(ctx and ctx.meta.get("regf.force"))
    check_output(output, [hive_path], force)


def _open_edit(ctx: click.Context, hive_path: str, output: str | None) -> EditHive:
    """HIVE opened in place (``output`` None) or as a copy in memory for ``-o OUT``."""
    opts = get_options(ctx)
    set_current_file(hive_path)
    if output is None and not opts.strict:
        raise CliError("--forensic cannot edit a hive in place; write a copy with -o OUT")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if output is None:
            return open_editable(hive_path, in_place=True, recover=opts.recover, repair=opts.repair)
        return open_editable(
            hive_path, in_place=False, strict=opts.strict, recover=opts.recover, repair=opts.repair
        )


def _key_path(key: str | None, hive: EditHive | None = None) -> str:
    """A root-relative key path from what the user typed (prefixes as in regf.model.paths).

    A prefix (``ROOT\\``, the root's name, ``HKLM\\SYSTEM\\``...) is dropped unless the
    root has a subkey of that name, so a path printed by export or ls works here too.
    """
    options = paths.candidates(key or "", hive.root.name if hive is not None else None)
    parts = options[0]
    if len(options) > 1 and hive is not None:
        try:
            hive.root.subkey(parts[0])
        except KeyNotFoundError:
            parts = options[1]
    return "\\".join(parts)


def _value_name(name: str) -> str:
    return "" if name == "@" else name


def parse_type(text: str) -> int:
    """A value type from a REG_* name (``SZ`` also accepted) or a number (dec or 0x)."""
    t = text.strip()
    up = t.upper()
    if not up.startswith("REG_"):
        up = "REG_" + up
    member = ValueType.__members__.get(up)
    if member is not None:
        return int(member)
    try:
        n = int(t, 0)
    except ValueError:
        raise CliError(f"unknown value type {text!r} (use {_TYPE_HELP} or a number)") from None
    if not 0 <= n <= 0xFFFFFFFF:
        raise CliError(f"value type {text!r} out of range (0..0xFFFFFFFF)")
    return n


def parse_hex(text: str) -> bytes:
    """Bytes from hex text; spaces, commas, colons and a ``hex:`` prefix are allowed."""
    t = text.strip()
    if t.lower().startswith("hex:"):
        t = t[4:]
    for sep in (" ", ",", ":", "\t"):
        t = t.replace(sep, "")
    try:
        return bytes.fromhex(t)
    except ValueError:
        raise CliError(f"invalid hex data {text!r}") from None


def _parse_int(text: str, bits: int, what: str) -> int:
    try:
        n = int(text.strip(), 0)
    except ValueError:
        raise CliError(f"{what} value must be decimal or 0x hex, not {text!r}") from None
    if not 0 <= n < 1 << bits:
        raise CliError(f"{n} does not fit a {what} (0..{(1 << bits) - 1})")
    return n


def value_data(vtype: int, args: list[str], *, raw_hex: bool = False) -> bytes:
    """The raw bytes stored for ``args`` as type ``vtype`` (see ``regf set --help``)."""
    if raw_hex:
        return parse_hex("".join(args))
    if vtype == ValueType.REG_MULTI_SZ:
        strings = args
    elif len(args) != 1:
        raise CliError(f"{type_name(ValueType(vtype))} takes exactly one VALUE ({len(args)} given)")
    if vtype in (ValueType.REG_SZ, ValueType.REG_EXPAND_SZ, ValueType.REG_LINK):
        text = args[0]
        if "\0" in text:
            raise CliError("string contains a NUL character")
        data = text.encode("utf-16-le", "surrogatepass")
        return data if vtype == ValueType.REG_LINK else data + b"\0\0"
    if vtype == ValueType.REG_MULTI_SZ:
        if any("\0" in s for s in strings):
            raise CliError("string contains a NUL character")
        return b"".join(s.encode("utf-16-le", "surrogatepass") + b"\0\0" for s in strings) + (
            b"\0\0"
        )
    if vtype == ValueType.REG_DWORD:
        return _parse_int(args[0], 32, "REG_DWORD").to_bytes(4, "little")
    if vtype == ValueType.REG_DWORD_BIG_ENDIAN:
        return _parse_int(args[0], 32, "REG_DWORD_BIG_ENDIAN").to_bytes(4, "big")
    if vtype == ValueType.REG_QWORD:
        return _parse_int(args[0], 64, "REG_QWORD").to_bytes(8, "little")
    # REG_BINARY, REG_NONE, resource lists and unknown numbers: hex bytes.
    return parse_hex(args[0])


def _save(hive: EditHive, hive_path: str, output: str | None) -> None:
    """Flush HIVE in place (full flush), or write the copy to ``output``."""
    if output is None:
        hive.flush()
        return
    _check_output(hive_path, output)
    ctx = click.get_current_context(silent=True)
    hive.save_as(output, compact=bool(ctx and ctx.meta.get("regf.compact")))


def _decode_utf16(data: bytes, codec: str, skip: int) -> str:
    try:
        return data[skip:].decode(codec, "surrogatepass")
    except UnicodeDecodeError as exc:  # an odd byte count: a cut or damaged file
        raise CliError(
            f".reg file is not valid {codec.upper()}: {exc.reason} at byte {exc.start + skip}"
        ) from None


def decode_reg_file(data: bytes) -> str:
    """Text of a ``.reg`` file: UTF-16LE (BOM), UTF-8 (with or without BOM), else ANSI."""
    if data.startswith(b"\xff\xfe"):
        return _decode_utf16(data, "utf-16-le", 2)
    if data.startswith(b"\xfe\xff"):
        return _decode_utf16(data, "utf-16-be", 2)
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "surrogateescape")
    if len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        return _decode_utf16(data, "utf-16-le", 0)  # BOM-less UTF-16LE
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _strip_prefix(path: str, prefix: str | None) -> str:
    parts = [p for p in path.split("\\") if p]
    if prefix is None:
        return "\\".join(parts[1:])
    want = [p for p in prefix.split("\\") if p]
    head = [p.upper() for p in parts[: len(want)]]
    if head != [p.upper() for p in want]:
        raise CliError(f"key path {path!r} does not start with prefix {prefix!r}")
    return "\\".join(parts[len(want) :])


def apply_reg(hive: EditHive, ops: Iterable[RegOperation], prefix: str | None) -> int:
    """Apply parsed ``.reg`` operations to ``hive``; returns the number applied.

    Deleting a key or value that does not exist is not an error (as in regedit).
    """
    count = 0
    # Handles of recently opened keys by path as written: a section's values go to the
    # key opened for its header, and a subkey is created under its parent's handle (one
    # name, the writer's fast path) instead of walking the whole path from the root. A
    # path in other letter case merely misses; deletions drop the cache.
    opened: dict[str, Key] = {}

    def open_path(path: str) -> Key:
        key = opened.get(path)
        if key is None:
            parent, _sep, name = path.rpartition("\\")
            up = opened.get(parent) if parent else None
            # (_strip_prefix drops empty components: name is never empty)
            key = up.create_key(name) if up is not None else hive.create_key(path)
            if len(opened) >= 4096:
                opened.clear()
            opened[path] = key
        return key

    for op in ops:
        path = _strip_prefix(op.path, prefix)
        if isinstance(op, CreateKey):
            if path:
                open_path(path)
        elif isinstance(op, DeleteKey):
            if not path:
                raise CliError(f"[-{op.path}] would delete the root key")
            opened.clear()
            with contextlib.suppress(KeyNotFoundError):
                hive.delete_key(path, recursive=True)
        elif isinstance(op, SetValue):
            key = open_path(path) if path else hive.root
            key.set_value(op.name, op.raw, op.type)
        elif isinstance(op, DeleteValue):
            with contextlib.suppress(KeyNotFoundError, ValueNotFoundError):
                (hive.open_key(path) if path else hive.root).delete_value(op.name)
        count += 1
    return count


def _remember_force(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["regf.force"] = value
    return value


_force_flag = click.option(
    "-f", "--force", is_flag=True, expose_value=False, callback=_remember_force,
    help="Overwrite OUT if it exists (never HIVE or its logs).",
)  # fmt: skip


def _remember_compact(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["regf.compact"] = value
    return value


_compact_flag = click.option(
    "--compact", is_flag=True, expose_value=False, callback=_remember_compact,
    help="With -o: re-pack OUT (no free space, every cell rewritten) instead of writing "
    "the hive as it stands with its free cells zeroed.",
)  # fmt: skip


def _out_option(func: Callable[..., None]) -> Callable[..., None]:
    func = _compact_flag(_force_flag(func))
    return click.option(
        "-o", "--output", default=None, type=click.Path(dir_okay=False),
        help="Write the result to OUT as a new hive and leave HIVE untouched (default: edit "
        "HIVE in place).",
    )(func)  # fmt: skip


_hive_argument = click.argument(
    "hive_path", metavar="HIVE", type=click.Path(exists=True, dir_okay=False)
)


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------


@click.command(epilog="OUT is written atomically as a complete new hive file.")
@click.argument("output", metavar="OUT", type=click.Path(dir_okay=False))
@click.option(
    "--minor", type=click.Choice(["3", "4", "5", "6"]), default="5", show_default=True,
    help="Format minor version (1.3 .. 1.6).",
)  # fmt: skip
@click.option("--root-name", default="ROOT", show_default=True, help="Name of the root key.")
@click.option("-f", "--force", is_flag=True, help="Replace OUT if it exists.")
def new(output: str, minor: str, root_name: str, force: bool) -> None:
    """Create an empty hive OUT (written atomically as a complete new file)."""
    check_output(output, [], force)
    hive = regf.create(output, minor=int(minor), root_name=root_name)
    hive.close()


@click.command(epilog=_NOTE)
@_hive_argument
@click.argument("key")
@_out_option
@click.option("--class", "class_name", default=None, help="Class name of the new key.")
@click.pass_context
def mkkey(
    ctx: click.Context, hive_path: str, key: str, output: str | None, class_name: str | None
) -> None:
    """Create KEY (and missing parents) in HIVE (in place, or into a copy OUT)."""
    _check_output(hive_path, output)
    if not paths.split_path(key):
        raise CliError("mkkey needs a non-empty KEY path")
    with _open_edit(ctx, hive_path, output) as hive:
        path = _key_path(key, hive)
        if not path:
            raise CliError(f"{key}: names the root key, which exists")
        hive.create_key(path, class_name)
        _save(hive, hive_path, output)


@click.command(
    name="set",
    epilog=(
        "Conversions: REG_SZ/REG_EXPAND_SZ: UTF-16LE plus a NUL; REG_MULTI_SZ: each VALUE "
        "argument is one string (or one VALUE split on --sep); REG_DWORD/REG_QWORD: decimal "
        "or 0x hex, range-checked; REG_BINARY, REG_NONE and other types: hex bytes. With "
        "--hex, VALUE is hex bytes stored as is for any type. NAME '' or '@' is the "
        "default value; put '--' before arguments that start with '-'. " + _NOTE
    ),
)
@_hive_argument
@click.argument("key")
@click.argument("name")
@click.argument("value", nargs=-1)
@_out_option
@click.option(
    "-t", "--type", "type_text", default=None,
    help=f"Value type: {_TYPE_HELP} or a number (decimal or 0x hex). Default: REG_SZ, or "
    "REG_BINARY with --hex.",
)  # fmt: skip
@click.option("--hex", "raw_hex", is_flag=True, help="VALUE is hex bytes, stored as is.")
@click.option("--sep", default=None, help="REG_MULTI_SZ: split a single VALUE on this string.")
@click.option("--create", is_flag=True, help="Create KEY (and parents) if it is missing.")
@click.pass_context
def set_value(
    ctx: click.Context,
    hive_path: str,
    key: str,
    name: str,
    value: tuple[str, ...],
    output: str | None,
    type_text: str | None,
    raw_hex: bool,
    sep: str | None,
    create: bool,
) -> None:
    """Set value NAME of KEY in HIVE to VALUE (in place, or into a copy OUT)."""
    _check_output(hive_path, output)
    if type_text is None:
        type_text = "REG_BINARY" if raw_hex else "REG_SZ"
    vtype = parse_type(type_text)
    args = list(value)
    if sep is not None and vtype == ValueType.REG_MULTI_SZ and not raw_hex:
        if len(args) != 1:
            raise CliError("--sep needs exactly one VALUE")
        args = args[0].split(sep) if sep else list(args)
    if not args and (raw_hex or vtype != ValueType.REG_MULTI_SZ):
        raise CliError("missing VALUE")
    raw = value_data(vtype, args, raw_hex=raw_hex)
    with _open_edit(ctx, hive_path, output) as hive:
        path = _key_path(key, hive)
        if not path:
            k = hive.root
        elif create:
            k = hive.create_key(path)
        else:
            k = hive.open_key(path)
        k.set_value(_value_name(name), raw, vtype)
        _save(hive, hive_path, output)


@click.command(epilog=_NOTE)
@_hive_argument
@click.argument("key")
@_out_option
@click.option("-r", "--recursive", is_flag=True, help="Delete subkeys too.")
@click.pass_context
def rm(ctx: click.Context, hive_path: str, key: str, output: str | None, recursive: bool) -> None:
    """Delete KEY from HIVE (with -r, its subtree too), in place or into a copy OUT."""
    _check_output(hive_path, output)
    with _open_edit(ctx, hive_path, output) as hive:
        hive.delete_key(_key_path(key, hive), recursive=recursive)
        _save(hive, hive_path, output)


@click.command(epilog=_NOTE)
@_hive_argument
@click.argument("key")
@click.argument("name")
@_out_option
@click.pass_context
def rmval(ctx: click.Context, hive_path: str, key: str, name: str, output: str | None) -> None:
    """Delete value NAME ('' or '@': the default value) of KEY, in place or into OUT."""
    _check_output(hive_path, output)
    with _open_edit(ctx, hive_path, output) as hive:
        path = _key_path(key, hive)
        k = hive.open_key(path) if path else hive.root
        k.delete_value(_value_name(name))
        _save(hive, hive_path, output)


@click.command(epilog=_NOTE)
@_hive_argument
@click.argument("key")
@click.argument("new_name", metavar="NEWNAME")
@_out_option
@click.pass_context
def rename(ctx: click.Context, hive_path: str, key: str, new_name: str, output: str | None) -> None:
    """Rename KEY to NEWNAME (a name, not a path), in place or into a copy OUT."""
    _check_output(hive_path, output)
    with _open_edit(ctx, hive_path, output) as hive:
        hive.rename_key(_key_path(key, hive), new_name)
        _save(hive, hive_path, output)


@click.command(name="import", epilog=_NOTE)
@_hive_argument
@click.argument("reg_path", metavar="FILE.reg", type=click.Path(exists=True, dir_okay=False))
@_out_option
@click.option(
    "--prefix", default=None,
    help="Strip this path prefix from every key (default: strip the first path component, "
    "e.g. HKEY_CURRENT_USER or the root name written by `regf export`).",
)  # fmt: skip
@click.pass_context
def import_reg(
    ctx: click.Context, hive_path: str, reg_path: str, output: str | None, prefix: str | None
) -> None:
    """Apply a regedit .reg file to HIVE (in place, or into a copy OUT)."""
    _check_output(hive_path, output)
    text = decode_reg_file(read_file(reg_path))
    try:
        ops = parse_reg(text)
    except RegParseError as exc:
        raise CliError(f"{reg_path}: {describe_error(exc)}") from None
    with _open_edit(ctx, hive_path, output) as hive:
        apply_reg(hive, ops, prefix)
        _save(hive, hive_path, output)


# ---------------------------------------------------------------------------------------
# Shell
# ---------------------------------------------------------------------------------------


class _ShellError(Exception):
    pass


class Shell:
    """A small hivexsh-like editor over an :class:`EditHive` (see ``regf shell --help``)."""

    def __init__(
        self, hive: EditHive, hive_path: str, output: str | None, out: Callable[[str], None]
    ) -> None:
        self.hive = hive
        self.hive_path = hive_path
        self.output = output
        self.cwd: Key = hive.root
        self.echo = out
        self.dirty = False

    # -- helpers -------------------------------------------------------------------------

    def _resolve(self, path: str) -> Key:
        key = self.hive.root if path.startswith("\\") else self.cwd
        for part in (p for p in path.split("\\") if p):
            if part == ".":
                continue
            if part == "..":
                key = key.parent or key
                continue
            key = key.subkey(part)
        return key

    def _rel(self, path: str) -> str:
        """Path of ``path`` relative to the root (for create/delete)."""
        if path.startswith("\\"):
            return path.strip("\\")
        base = self.cwd.path
        return f"{base}\\{path}" if base else path

    # -- commands ------------------------------------------------------------------------

    def run(self, words: list[str]) -> bool:
        """Run one command; False means quit."""
        cmd, args = words[0].lower(), words[1:]
        handler = getattr(self, f"do_{cmd}", None)
        if handler is None:
            raise _ShellError(f"unknown command {words[0]!r} (try 'help')")
        result = handler(args)
        return result is not False

    def _nargs(self, args: list[str], low: int, high: int, usage: str) -> None:
        if not low <= len(args) <= high:
            raise _ShellError(f"usage: {usage}")

    def do_help(self, args: list[str]) -> None:
        self.echo(
            "commands: cd PATH | ls | lsval | mkkey NAME | rmkey NAME [-r] | "
            "setval NAME TYPE VALUE... | rmval NAME | rename OLD NEW | commit [-f] [OUT] | quit"
        )

    def do_cd(self, args: list[str]) -> None:
        self._nargs(args, 0, 1, "cd PATH")
        self.cwd = self._resolve(args[0]) if args else self.hive.root

    def do_pwd(self, args: list[str]) -> None:
        self.echo("\\" + self.cwd.path)

    def do_ls(self, args: list[str]) -> None:
        self._nargs(args, 0, 1, "ls [PATH]")
        key = self._resolve(args[0]) if args else self.cwd
        for sub in key.subkeys():
            self.echo(sub.name)

    def do_lsval(self, args: list[str]) -> None:
        self._nargs(args, 0, 1, "lsval [PATH]")
        key = self._resolve(args[0]) if args else self.cwd
        for v in key.values():
            name = "@" if v.name == "" else f'"{v.name}"'
            data = v.data
            if isinstance(data, bytes):
                shown = "hex:" + data.hex(",")
            elif isinstance(data, list):
                shown = " | ".join(data)
            elif isinstance(data, int):
                shown = f"{data:#x}"
            else:
                shown = str(data)
            self.echo(f"{name}={type_name(v.type)}:{shown}")

    def do_mkkey(self, args: list[str]) -> None:
        self._nargs(args, 1, 1, "mkkey NAME")
        self.hive.create_key(self._rel(args[0]))
        self.dirty = True

    def do_rmkey(self, args: list[str]) -> None:
        recursive = "-r" in args
        rest = [a for a in args if a != "-r"]
        self._nargs(rest, 1, 1, "rmkey NAME [-r]")
        target = self._resolve(rest[0])
        k: Key | None = self.cwd
        while k is not None:
            if k is target:
                raise _ShellError("cannot delete the current key or one of its parents")
            k = k.parent
        self.hive.delete_key(target.path, recursive=recursive)
        self.dirty = True

    def do_setval(self, args: list[str]) -> None:
        if len(args) < 2:
            raise _ShellError("usage: setval NAME TYPE VALUE...")
        name, type_text, values = _value_name(args[0]), args[1], args[2:]
        raw_hex = type_text.lower().startswith("hex:")
        if raw_hex:
            type_text = type_text[4:]
        vtype = parse_type(type_text)
        if not values and (raw_hex or vtype != ValueType.REG_MULTI_SZ):
            raise _ShellError("usage: setval NAME TYPE VALUE...")
        raw = value_data(vtype, values, raw_hex=raw_hex)
        self.cwd.set_value(name, raw, vtype)
        self.dirty = True

    def do_rmval(self, args: list[str]) -> None:
        self._nargs(args, 1, 1, "rmval NAME")
        self.cwd.delete_value(_value_name(args[0]))
        self.dirty = True

    def do_rename(self, args: list[str]) -> None:
        self._nargs(args, 2, 2, "rename OLD NEW")
        key = self._resolve(args[0])
        if key.parent is None:
            raise _ShellError("the root key cannot be renamed")
        key.rename(args[1])
        self.dirty = True

    def do_commit(self, args: list[str]) -> None:
        force = "-f" in args
        rest = [a for a in args if a != "-f"]
        self._nargs(rest, 0, 1, "commit [-f] [OUT]")
        target = rest[0] if rest else self.output
        if target is None:
            if self.hive.pager is None:  # pragma: no cover - a copy always has self.output
                raise _ShellError("commit needs OUT")
            self.hive.flush()  # in place: a full flush through the logs
        else:
            # The shell's own -o OUT was checked when it started; it may be rewritten.
            check_output(target, [self.hive_path], force or target == self.output)
            self.hive.save_as(target)
        self.dirty = False

    def do_quit(self, args: list[str]) -> bool:
        return False

    do_exit = do_quit
    do_q = do_quit


def split_words(text: str) -> list[str]:
    """Shell-like words: quotes group, backslashes are kept (they separate key paths)."""
    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.escape = ""
    lex.commenters = ""
    return list(lex)


def run_shell(
    shell: Shell,
    lines: IO[str],
    interactive: bool,
    err: Callable[[str], None],
    read: Callable[[str], str] = input,
) -> int:
    """Run commands from ``lines`` (interactive: from ``read(prompt)``); returns the
    number of failed commands."""
    failures = 0
    lineno = 0
    while True:
        if interactive:
            try:
                line = read(f"\\{shell.cwd.path}> ") + "\n"
            except EOFError:
                break
        else:
            line = lines.readline()
        if not line:
            break
        lineno += 1
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            words = split_words(text)
            if not words:
                continue
            if not shell.run(words):
                break
        except (_ShellError, CliError, RegfError, OSError, ValueError) as exc:
            failures += 1
            msg = exc.format_message() if isinstance(exc, CliError) else describe_error(exc)
            where = "" if interactive else f"line {lineno}: "
            err(f"regf shell: {where}error: {msg}")
    if shell.dirty:
        err("regf shell: warning: uncommitted changes discarded")
    return failures


@click.command(
    epilog=(
        "Commands (one per line; '#' starts a comment; quote with shell rules): cd PATH "
        "(\\ is the root, .. the parent), ls, lsval, mkkey NAME, rmkey NAME [-r], "
        "setval NAME TYPE VALUE... (TYPE as for `regf set`; 'hex:TYPE' stores VALUE as raw "
        "hex; REG_MULTI_SZ takes one string per VALUE), rmval NAME, rename OLD NEW, commit "
        "[-f] [OUT] (no OUT: flush HIVE in place; -f: overwrite an existing OUT), quit. "
        "NAME '@' is the default value. "
        + _NOTE
        + " Nothing is written without 'commit'. A failed command prints one line and the "
        "shell continues; when stdin is not a terminal the exit status is 1 if any command "
        "failed."
    )
)
@_hive_argument
@click.option(
    "-o", "--output", default=None, type=click.Path(dir_okay=False),
    help="Work on a copy: 'commit' writes OUT and HIVE is left untouched.",
)  # fmt: skip
@_force_flag
@click.pass_context
def shell(ctx: click.Context, hive_path: str, output: str | None) -> None:
    """Edit HIVE interactively or from a script on stdin (hivexsh-like)."""
    if output is not None:
        _check_output(hive_path, output)
    stdin = sys.stdin
    interactive = stdin.isatty()
    hive = _open_edit(ctx, hive_path, output)
    try:
        sh = Shell(hive, hive_path, output, click.echo)
        # A terminal gets completion and history; a script on stdin is read line by line.
        read = make_reader(sh) if interactive else input
        failures = run_shell(sh, stdin, interactive, lambda m: click.echo(m, err=True), read)
    finally:
        hive.discard()  # nothing is written without 'commit' (committed flushes stay)
    if interactive:
        click.echo()
    if failures and not interactive:
        ctx.exit(1)


@click.command(
    epilog=(
        "A hive is dirty when its last flush was only written to its logs (Seq1 != Seq2 "
        "in the base block, e.g. a log-only flush, or a crash or power cut during a "
        "flush). Windows applies the logs when it loads such a hive; this does the same "
        "offline: the writer lock is taken, the logs are applied to HIVE in place (crash-"
        "safe: HIVE stays recoverable until the last page is durable) and logs that "
        "could mislead a later recovery are emptied. A clean hive is left as it is."
    )
)
@_hive_argument
@click.pass_context
def flush(ctx: click.Context, hive_path: str) -> None:
    """Reconcile a dirty HIVE in place from its transaction logs."""
    if not get_options(ctx).recover:
        raise CliError("--no-recover: flush applies the logs; nothing to do without them")
    set_current_file(hive_path)
    hive = open_editable(hive_path, in_place=True, repair=get_options(ctx).repair)
    try:
        report = hive.recovery
        hive.flush()
    finally:
        hive.close()
    if report is None:
        click.echo(f"{hive_path}: clean, nothing to reconcile")
    else:
        click.echo(
            f"{hive_path}: was dirty ({report.dirty}); applied {len(report.applied_entries)} "
            f"log entr{'y' if len(report.applied_entries) == 1 else 'ies'}; now clean"
        )


COMMANDS = (new, mkkey, set_value, rm, rmval, rename, import_reg, shell, flush)

__all__ = ["COMMANDS", "Shell", "apply_reg", "decode_reg_file", "parse_type", "value_data"]
