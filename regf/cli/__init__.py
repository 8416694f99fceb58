"""Command-line interface: ``regf info|ls|tree|get|find|export|check HIVE ...``.

Every :class:`regf.RegfError` or :class:`OSError` is reported as one line
``regf: error: FILE: message`` on stderr with exit status 1 (usage errors: 2); never a
traceback. The global flags (``--forensic``, ``--no-recover``, ``--repair``) may also
be written after the subcommand.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from regf.errors import RegfError

from ._common import GLOBAL_FLAGS, CliError, Options, error_line


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. CliRunner)
        pass


#: Every subcommand: (module of this package, attribute). A command's module is imported
#: when the command runs (or ``--help`` lists them all), so ``regf tree`` does not load
#: the writer, diff, fuzz or fleet code: start-up is most of a small command's time.
#: tests/test_cli.py checks this table against the modules.
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("browse", "info"),
    "ls": ("browse", "ls"),
    "tree": ("browse", "tree"),
    "get": ("browse", "get"),
    "find": ("find", "find"),
    "export": ("export", "export"),
    "check": ("check", "check"),
    "recover": ("recover", "recover"),
    "deleted": ("deleted", "deleted"),
    "diff": ("compare", "diff"),
    "timeline": ("compare", "timeline"),
    "fuzz": ("fuzz", "fuzz"),
    "collect": ("collect", "collect"),
    "query": ("query", "query"),
    "new": ("edit", "new"),
    "mkkey": ("edit", "mkkey"),
    "set": ("edit", "set_value"),
    "rm": ("edit", "rm"),
    "rmval": ("edit", "rmval"),
    "rename": ("edit", "rename"),
    "import": ("edit", "import_reg"),
    "shell": ("edit", "shell"),
    "flush": ("edit", "flush"),
}


class RegfGroup(click.Group):
    """Click group that turns RegfError / OSError into a one-line error (exit 1) and
    loads each subcommand's module on first use (:data:`COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted (no module is imported)."""
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command called ``cmd_name``, importing its module the first time."""
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f".{module}", __name__), attr)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Move global flags written after the subcommand in front of it."""
        moved: list[str] = []
        rest: list[str] = []
        for i, arg in enumerate(args):
            if arg == "--":
                rest.extend(args[i:])
                break
            (moved if arg in GLOBAL_FLAGS else rest).append(arg)
        return super().parse_args(ctx, moved + rest)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand, mapping library and OS errors to :class:`CliError`."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Output closed early (e.g. `| head`): stop quietly, as Unix tools do.
            _silence_stdout()
            ctx.exit(1)
        except (RegfError, OSError) as exc:
            raise CliError(error_line(exc)) from None


@click.group(name="regf", cls=RegfGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--no-recover", is_flag=True, help="Do not apply transaction logs to dirty hives.")
@click.option(
    "--forensic",
    is_flag=True,
    help="Lenient mode (strict=False): skip damaged records instead of failing.",
)
@click.option(
    "--repair",
    is_flag=True,
    help="Edit a hive even when it fails the whole-hive check (to repair it).",
)
@click.version_option(package_name="regf", prog_name="regf")
@click.pass_context
def main(ctx: click.Context, no_recover: bool, forensic: bool, repair: bool) -> None:
    """Inspect and export Windows registry hive files."""
    ctx.obj = Options(recover=not no_recover, strict=not forensic, repair=repair)


__all__ = ["RegfGroup", "main"]
