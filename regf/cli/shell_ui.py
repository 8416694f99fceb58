"""Interactive line input for ``regf shell``: tab completion and history (prompt_toolkit).

Completion offers the shell's commands for the first word, key paths (relative to the
current key, ``\\``-separated, ``..`` included) for commands taking a key, value names
for ``rmval``/``setval`` and type names for ``setval``'s second argument. History is
kept in ``$XDG_STATE_HOME/regf/shell_history`` (default ``~/.local/state/...``).
Without prompt_toolkit (the ``shell`` extra) the shell falls back to ``input()``.
Scripts read from a pipe never come here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from regf.format.constants import ValueType

COMMANDS = (
    "cd", "pwd", "ls", "lsval", "mkkey", "rmkey", "setval", "rmval", "rename", "commit",
    "help", "quit", "exit",
)  # fmt: skip
_KEY_ARG = {"cd", "ls", "lsval", "rmkey", "rename", "mkkey"}
_VALUE_ARG = {"rmval", "setval"}
TYPE_NAMES = tuple(ValueType.__members__)


def _words(text: str) -> list[str]:
    # Quotes are not completed through; a plain split is what the user sees.
    parts = text.split(" ")
    return [p for p in parts[:-1] if p] + [parts[-1]]


def key_candidates(shell: Any, word: str) -> Iterator[tuple[str, int]]:
    """Completions of a key path ``word``: ``(text, start offset)`` pairs."""
    base, sep, stem = word.rpartition("\\")
    try:
        key = shell._resolve(base + sep) if sep else shell.cwd
    except Exception:  # an unknown or damaged key: no suggestions
        return
    up = stem.casefold()
    try:
        subs = key.subkeys()
    except Exception:
        return
    for sub in subs:
        if sub.name.casefold().startswith(up):
            yield sub.name + "\\", -len(stem)
    if "..".startswith(stem) and stem:
        yield "..\\", -len(stem)


def value_candidates(shell: Any, word: str) -> Iterator[tuple[str, int]]:
    """Completions of a value name of the current key."""
    up = word.casefold()
    try:
        values = shell.cwd.values()
    except Exception:
        return
    for v in values:
        name = v.name or "@"
        if name.casefold().startswith(up):
            yield (f'"{name}"' if " " in name else name), -len(word)


def completions(shell: Any, text: str) -> list[tuple[str, int]]:
    """Every completion for the line ``text`` (the part before the cursor)."""
    words = _words(text)
    current = words[-1]
    if len(words) == 1:
        return [(c, -len(current)) for c in COMMANDS if c.startswith(current.lower())]
    cmd = words[0].lower()
    arg = len(words) - 1  # 1-based position of the word being completed
    if cmd in _KEY_ARG and arg == 1:
        return list(key_candidates(shell, current))
    if cmd in _VALUE_ARG and arg == 1:
        return list(value_candidates(shell, current))
    if cmd == "setval" and arg == 2:
        up = current.upper()
        return [(t, -len(current)) for t in TYPE_NAMES if t.startswith(up)]
    return []


def history_path() -> Path:
    """Where the shell's history is kept."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state, "regf", "shell_history")


def make_reader(shell: Any, **session_args: Any) -> Callable[[str], str]:
    """A ``read(prompt)`` with completion and history, or ``input`` without prompt_toolkit.

    ``session_args`` go to prompt_toolkit's ``PromptSession`` (tests pass ``input`` and
    ``output``)."""
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import Completer, Completion
        from prompt_toolkit.history import FileHistory, InMemoryHistory
    except ImportError:  # pragma: no cover - the shell extra is not installed
        import contextlib

        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - line editing and history for input()
        return input

    class _Completer(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterable[Any]:
            for text, start in completions(shell, document.text_before_cursor):
                yield Completion(text, start_position=start)

    path = history_path()
    history: Any
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(path))
    except OSError:
        history = InMemoryHistory()
    session: Any = PromptSession(history=history, completer=_Completer(), **session_args)

    def read(prompt: str) -> str:
        try:
            return str(session.prompt(prompt))
        except KeyboardInterrupt:
            return ""

    return read


__all__ = ["COMMANDS", "completions", "history_path", "key_candidates", "make_reader"]
