"""cffi builder (out-of-line API mode) for ``regf._accel._regf_c``.

Used by ``setup.py`` through ``cffi_modules=["csrc/build_accel.py:ffibuilder"]``; run it
directly (``python3 csrc/build_accel.py``) to build the extension in place for development.
Paths are relative to the project root, which is the working directory in both cases.

The cdef is the public headers themselves (:data:`HEADERS`), not a copy: comments and
preprocessor lines are stripped, and every ``#define NAME value`` becomes
``#define NAME ...`` so that cffi takes the value from the compiler and the extension
exposes it as ``lib.NAME``. One declaration then serves C, the binding and (through
``tools/gen_layout.py``, which reads the same lines) the pure-Python backend.
"""

from __future__ import annotations

import os
import re

from cffi import FFI

#: Headers whose declarations and ``#define``s form the C API seen from Python.
HEADERS = ("csrc/regf_accel.h", "csrc/alloc.h")
#: Every C source of the extension (README.md, "Layout of the code", says what each one holds).
SOURCES = (
    "csrc/hash.c",
    "csrc/walk.c",
    "csrc/alloc.c",
    "csrc/keycells.c",
    "csrc/valcells.c",
)
#: Headers the sources include (rebuild when one changes).
DEPENDS = (
    *HEADERS,
    "csrc/bytes.h",
    "csrc/cells.h",
    "csrc/layout.h",
    "csrc/upcase_table.h",
)

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_DEFINE = re.compile(r"#\s*define\s+(\w+)\s+\S.*")


def cdef_from_header(text: str) -> str:
    """A header's declarations as cffi's cdef wants them (see the module docstring)."""
    out = []
    for line in _COMMENT.sub("", text).splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            out.append(line)
            continue
        m = _DEFINE.fullmatch(stripped)
        if m is not None:  # a valued object-like macro: a constant for lib.NAME
            out.append(f"#define {m.group(1)} ...")
        # #include, #ifndef/#endif and the include guard's empty #define are dropped.
    return "\n".join(out)


#: The project root (setuptools runs this file with ``__file__`` set, from the root).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cdef(root: str = ROOT) -> str:
    """The whole cdef: every public header, in order."""
    parts = []
    for rel in HEADERS:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            parts.append(cdef_from_header(f.read()))
    return "\n".join(parts)


ffibuilder = FFI()
ffibuilder.cdef(cdef())
ffibuilder.set_source(
    "regf._accel._regf_c",
    "".join(f'#include "{os.path.basename(h)}"\n' for h in HEADERS),
    sources=list(SOURCES),
    include_dirs=["csrc"],
    depends=list(DEPENDS),
    extra_compile_args=["-O2"],
)

if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ffibuilder.compile(verbose=True)
