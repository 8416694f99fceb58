"""Build the optional cffi extension ``regf._accel._regf_c``; all metadata is in pyproject.

Without a working C compiler the build warns and installs the pure-Python package anyway
(``regf._accel`` then selects the Python backend; ``REGF_BACKEND=c`` makes that an error).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist
from setuptools.errors import CCompilerError, CompileError, ExecError, PlatformError

_BUILD_ERRORS = (CCompilerError, CompileError, ExecError, PlatformError, OSError)


def _warn(exc: BaseException) -> None:
    msg = (
        f"regf: building the C accelerator failed ({exc!r}); "
        "installing without it (pure-Python backend)"
    )
    warnings.warn(msg, RuntimeWarning, stacklevel=2)
    print(f"WARNING: {msg}", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext that turns a compiler failure into a warning.

    Extensions are marked optional (distutils then warns instead of failing on compile
    errors), and a missing build product is left out of the outputs so that editable and
    in-place installs do not try to copy it.
    """

    def run(self) -> None:
        for ext in self.extensions:
            ext.optional = True
        try:
            super().run()
        except _BUILD_ERRORS as exc:
            _warn(exc)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except _BUILD_ERRORS as exc:
            _warn(exc)

    def get_outputs(self) -> list[str]:
        return [f for f in super().get_outputs() if os.path.exists(f)]

    def get_output_mapping(self) -> dict[str, str]:
        mapping: dict[str, str] = super().get_output_mapping()
        return {src: dst for src, dst in mapping.items() if os.path.exists(src)}


# Needed to build from an sdist; setuptools only packs the C file listed in ``sources``.
_C_FILES = (
    "csrc/build_accel.py",
    "csrc/regf_accel.h",
    "csrc/alloc.h",
    "csrc/layout.h",
    "csrc/bytes.h",
    "csrc/cells.h",
    "csrc/upcase_table.h",
    "csrc/hash.c",
    "csrc/walk.c",
    "csrc/alloc.c",
    "csrc/keycells.c",
    "csrc/valcells.c",
)


class SdistWithCSource(sdist):
    """sdist that always ships the cffi builder and C headers (no MANIFEST.in needed)."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        extra = [f for f in _C_FILES if f not in files and os.path.exists(f)]
        super().make_release_tree(base_dir, [*files, *extra])


setup(
    cffi_modules=["csrc/build_accel.py:ffibuilder"],
    cmdclass={"build_ext": OptionalBuildExt, "sdist": SdistWithCSource},
)
