"""No file in the corpus makes regf fail any other way than with a RegfError.

Every file (hives, logs, truncated/corrupt/non-hive inputs alike) is opened with
``regf.open(path)`` (strict) and ``regf.open(path, strict=False)`` (forensic), and
everything reachable is read: keys (name, path, class name, timestamp, security
descriptor) and values (name, type, ``.raw``, ``.data``). The outcome must be success or
a :class:`regf.RegfError` subclass; anything else (IndexError, struct.error,
RecursionError, MemoryError, a hang past the per-file alarm...) is a bug.

In strict mode the first RegfError ends the walk. In forensic mode a RegfError raised
by one item is noted and the walk continues with the next item, so damaged records
cannot hide crashes in the rest of the file.
"""

from __future__ import annotations

import contextlib
import signal
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import oracles
import pytest
from conftest import corpus_dir

import regf

pytestmark = pytest.mark.corpus

TIMEOUT_S = 60

_CORPUS = corpus_dir()
FILES = (
    [p.relative_to(_CORPUS).as_posix() for p in oracles.corpus_files(_CORPUS)] if _CORPUS else []
)


class WalkTimeout(Exception):
    """Not a RegfError: a hang fails the test."""


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def on_alarm(signum: int, frame: Any) -> None:
        raise WalkTimeout(f"walk did not finish within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _touch_key(key: regf.Key, seen_sd: set[bytes]) -> None:
    _ = key.name, key.path, key.last_written
    _ = key.class_name
    raw = key.security_raw
    if raw not in seen_sd:  # sk cells are shared: parse each distinct descriptor once
        sd = key.security
        _ = getattr(sd, "sddl", None)
        seen_sd.add(raw)


def _touch_value(value: regf.Value) -> None:
    _ = value.name, int(value.type)
    _ = value.raw
    _ = value.data


def walk_everything(path: Path, strict: bool) -> int:
    """Read every reachable item; return the number of RegfErrors tolerated in forensic
    mode (strict mode lets the first one propagate)."""
    problems = 0
    seen_sd: set[bytes] = set()

    def guarded(fn: Any, *args: Any) -> None:
        nonlocal problems
        if strict:
            fn(*args)
            return
        try:
            fn(*args)
        except regf.RegfError:
            problems += 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with regf.open(path, strict=strict) as hive:
            _ = hive.dirty, hive.base_block.minor
            keys = hive.walk()
            while True:
                try:
                    key = next(keys)
                except StopIteration:
                    break
                except regf.RegfError:
                    if strict:
                        raise
                    problems += 1
                    break  # the generator is finished once it raised
                guarded(_touch_key, key, seen_sd)
                try:
                    values = key.values()
                except regf.RegfError:
                    if strict:
                        raise
                    problems += 1
                    continue
                for value in values:
                    guarded(_touch_value, value)
            _ = getattr(hive, "problems", None)
    return problems


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "forensic"])
@pytest.mark.parametrize("rel", FILES, ids=FILES)
def test_corpus_file_only_raises_regf_errors(corpus: Path, rel: str, strict: bool) -> None:
    path = corpus / rel
    # A RegfError is a clean, documented refusal; anything else propagates and fails.
    with alarm(TIMEOUT_S), contextlib.suppress(regf.RegfError):
        walk_everything(path, strict)
