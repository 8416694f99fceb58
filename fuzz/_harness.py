"""Shared plumbing of the atheris harnesses in this directory.

Each harness is ``python -P fuzz/fuzz_X.py [libFuzzer options] [corpus dirs]``. It imports
regf under atheris' coverage instrumentation and calls its ``one_input(data)`` per input.
The contract every harness checks is the project's: bad input raises a
:class:`regf.RegfError` subclass and nothing else (any other exception, a hang past
``-timeout``, an allocation past ``-rss_limit_mb`` or a sanitizer report is a finding).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable

import atheris
from _parts import join_parts, split_parts

with atheris.instrument_imports(include=["regf"]):
    import regf


def expect_regf_errors(fn: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """Wrap ``fn`` so that a RegfError is a normal outcome and warnings are quiet."""

    def one_input(data: bytes) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(regf.RegfError):
                fn(data)

    return one_input


def main(fn: Callable[[bytes], None]) -> None:
    """Run ``fn`` under libFuzzer with this process's command line."""
    atheris.Setup(sys.argv, expect_regf_errors(fn))
    atheris.Fuzz()


__all__ = ["expect_regf_errors", "join_parts", "main", "split_parts"]
