"""Generate ``csrc/layout.h`` and ``regf/_accel/codes.py`` from their single sources.

Two kinds of facts are shared between the Python package and the C accelerator:

* **Layouts** (field offsets and widths, fixed-head sizes, signatures, format
  constants). Their source is the Construct declarations in ``regf/format/structs.py``,
  read through :mod:`regf.format.fast` (each record's :class:`~regf.format.layout.Layout`)
  and the numbers in :mod:`regf.format.constants`. They go to ``csrc/layout.h`` as
  ``#define``s and to ``regf/_accel/codes.py`` as Python constants.
* **Codes** (error, status and walker codes and limits of the C API). Their source is
  the ``#define REGF_*`` lines of the public C headers (``csrc/regf_accel.h``,
  ``csrc/alloc.h``), which also feed the cffi cdef (``csrc/build_accel.py``), so the C
  backend exposes each as ``lib.REGF_X``. They go to ``regf/_accel/codes.py`` without the
  ``REGF_`` prefix, for the pure-Python backend and ``regf.cells.alloc``.

Both outputs are committed (building needs no Python import of ``regf``);
``tests/test_gen_layout.py`` regenerates them and requires the committed files to be
identical, and checks every code against the compiled ``lib.REGF_X``.

Naming, in C (Python drops ``REGF_``): ``REGF_<REC>_<FIELD>`` is a field's offset from
the start of the record, ``REGF_<REC>_<FIELD>_BYTES`` its width, ``REGF_<REC>_FIXED_SIZE``
the fixed head's size (``<FIELD>`` may itself be ``SIZE``: hbin's size field is
``REGF_HBIN_SIZE``, the header's size ``REGF_HBIN_FIXED_SIZE``), ``REGF_<REC>_SIG`` the
signature bytes.

Run: ``python tools/gen_layout.py`` (from anywhere); ``--check`` only compares.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from regf.format import constants as K  # noqa: E402
from regf.format import fast  # noqa: E402
from regf.format import structs as S  # noqa: E402
from regf.format.layout import Layout  # noqa: E402

LAYOUT_H = ROOT / "csrc/layout.h"
CODES_PY = ROOT / "regf/_accel/codes.py"
#: Public headers: their ``#define REGF_*`` lines are the codes, their declarations the cdef.
HEADERS = ("csrc/regf_accel.h", "csrc/alloc.h")

#: (prefix, layout, what it is) for every record whose fixed head C or _accel reads.
RECORDS: tuple[tuple[str, Layout, str], ...] = (
    ("BASE", fast.BASE_L, "base block head (fmt §1), from the file start"),
    ("HBIN", fast.HBIN_L, "hive bin header (fmt §2), from the bin start"),
    ("CELL", fast.CELL_L, "cell header (fmt §3): i32 size, negative = allocated"),
    ("NK", fast.NK_L, "key node (fmt §4.1), from the cell data"),
    ("VK", fast.VK_L, "key value (fmt §4.3), from the cell data"),
    ("SK", fast.SK_L, "key security (fmt §4.5), from the cell data"),
    ("DB", fast.DB_L, "big data (fmt §4.6), from the cell data"),
    ("LIST", fast.LIST_HEAD_L, "li/lf/lh/ri head (fmt §4.2); elements follow"),
    ("LH_ELEM", fast.HASH_ELEM_L, "one lh element"),
    ("LF_ELEM", fast.FAST_ELEM_L, "one lf element"),
    ("HVLE", fast.HVLE_L, "new-format log entry header (fmt §6.3)"),
    ("PAGE_REF", fast.PAGE_REF_L, "one dirty-page reference of a log entry"),
)

#: (name, Construct record holding a Const signature).
SIGNATURES: tuple[tuple[str, Any], ...] = (
    ("BASE", S.BaseBlockHead),
    ("HBIN", S.HbinHeader),
    ("NK", S.KeyNode),
    ("VK", S.KeyValue),
    ("SK", S.KeySecurity),
    ("DB", S.BigData),
    ("LI", S.IndexLeaf),
    ("LF", S.FastLeaf),
    ("LH", S.HashLeaf),
    ("RI", S.IndexRoot),
    ("HVLE", S.LogEntryHeader),
    ("DIRT", S.dirt_vector(0)),  # the signature is the same for every hive size
)


def _element_size(con: Any) -> int:
    """Bytes per element of the ``elements`` / ``cells`` array of a list record."""
    arr = next(s for s in con.subcons if s.name in ("elements", "cells")).subcon
    return int(arr.subcon.sizeof())


#: (name, value, why C needs it) for format constants that are not offsets.
CONSTANTS: tuple[tuple[str, int, str], ...] = (
    ("LI_ELEM_SIZE", _element_size(S.IndexLeaf), "li element: an nk cell index"),
    ("RI_ELEM_SIZE", _element_size(S.IndexRoot), "ri element: a leaf cell index"),
    ("VALUE_LIST_ELEM_SIZE", _element_size(S.value_list(1)), "value list: vk cell indexes"),
    ("HBINS_OFFSET", K.BASE, "file offset of the hive bins: cell c is at this + c"),
    ("PAGE", K.PAGE, "hive pages and bins are multiples of this"),
    ("BASE_BLOCK_SIZE", S.BASE_BLOCK_SIZE, "the base block, before the hive bins"),
    ("HCELL_NIL", K.HCELL_NIL, "no cell"),
    ("VOLATILE_BIT", K.VOLATILE_BIT, "cell index bit 31: volatile storage (fmt §3)"),
    ("DATA_INLINE", K.DATA_INLINE, "vk data_size bit 31: data in the data field"),
    ("BIG_DATA_SEGMENT", S.BIG_DATA_SEGMENT, "payload of one db segment (fmt §4.6)"),
    ("MAX_LEAF_LH", K.MAX_LEAF_LH, "lh/li leaf entries before an ri goes above"),
    ("MAX_KEY_NAME", K.MAX_KEY_NAME, "key name units"),
    ("KEY_COMP_NAME", int(K.KeyFlags.COMP_NAME), "nk flag: name stored Latin-1"),
    ("KEY_PREDEF_HANDLE", int(K.KeyFlags.PREDEF_HANDLE), "nk flag: value count is a handle"),
    ("VALUE_COMP_NAME", int(K.ValueFlags.COMP_NAME), "vk flag: name stored Latin-1"),
)

#: struct formats of the scalar widths _accel reads (from regf.format.fast).
SCALARS: tuple[tuple[str, str], ...] = (
    ("FMT_U16", fast.U16.format),
    ("FMT_U32", fast.U32.format),
    ("FMT_I32", fast.I32.format),
)


def _field_macro(field_name: str) -> str:
    return field_name.replace(".", "_").upper()


def layout_defines() -> list[tuple[str, int | bytes, str]]:
    """Every layout fact as (name without ``REGF_``, value, comment), in output order."""
    out: list[tuple[str, int | bytes, str]] = []
    seen: set[str] = set()

    def add(name: str, value: int | bytes, comment: str = "") -> None:
        if name in seen:
            raise ValueError(f"generated name {name} twice: rename a field or record")
        seen.add(name)
        out.append((name, value, comment))

    for prefix, lay, what in RECORDS:
        add(f"{prefix}_FIXED_SIZE", lay.size, what)
        for f in lay:
            add(f"{prefix}_{_field_macro(f.name)}", f.offset, f"'{f.code}'")
            add(f"{prefix}_{_field_macro(f.name)}_BYTES", f.size)
    for name, con in SIGNATURES:
        sub = next(s for s in con.subcons if s.name == "signature").subcon
        add(f"{name}_SIG", bytes(sub.value))
    for name, value, why in CONSTANTS:
        add(name, value, why)
    return out


# ---- codes from the headers ------------------------------------------------------------

_DEFINE = re.compile(r"^#define\s+(REGF_\w+)[ \t]+(.+?)\s*(?:/\*(.*?)\*/)?\s*$")
_SUFFIX = re.compile(r"\b(0[xX][0-9A-Fa-f]+|\d+)(?:[uU][lL]{0,2}|[lL]{1,2}[uU]?)\b")
_INT_C = re.compile(r"\b(?:U?INT\d+_C)\(([^()]*)\)")


def _eval(expr: str, known: dict[str, int]) -> int:
    """The value of a C integer constant expression of literals and earlier codes."""
    text = _INT_C.sub(r"(\1)", _SUFFIX.sub(r"\1", expr))
    tree = ast.parse(text, mode="eval")
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load)
    ops = (ast.Add, ast.Sub, ast.Mult, ast.LShift, ast.RShift, ast.BitOr, ast.USub)
    for node in ast.walk(tree):
        if not isinstance(node, allowed + ops):
            raise ValueError(f"unsupported C expression {expr!r}")
        if isinstance(node, ast.Name) and node.id not in known:
            raise ValueError(f"{node.id} used before its #define in {expr!r}")
    # Only literals, known names and arithmetic reach eval (checked above).
    value = eval(compile(tree, "<define>", "eval"), {"__builtins__": {}}, dict(known))
    if not isinstance(value, int):
        raise ValueError(f"not an integer: {expr!r}")
    return value


def header_codes(root: Path = ROOT) -> list[tuple[str, str, int, str]]:
    """(header, name with ``REGF_``, value, comment) of every valued ``#define REGF_*``."""
    known: dict[str, int] = {}
    out: list[tuple[str, str, int, str]] = []
    for rel in HEADERS:
        for line in (root / rel).read_text(encoding="utf-8").splitlines():
            m = _DEFINE.match(line)
            if m is None:
                continue  # include guards have no value
            name, expr, comment = m.group(1), m.group(2), (m.group(3) or "").strip()
            value = _eval(expr, known)
            known[name] = value
            out.append((rel, name, value, comment))
    return out


# ---- output ------------------------------------------------------------------------------


def _number(name: str, value: int) -> str:
    """Widths in decimal, offsets, sizes and masks in hex (as format.md writes them)."""
    return str(value) if name.endswith("_BYTES") else f"0x{value:02X}"


def _c_value(name: str, value: int | bytes) -> str:
    if isinstance(value, bytes):
        return '"' + value.decode("ascii") + '"'
    return _number(name, value) + ("u" if value >= 0x80000000 else "")


def _py_value(name: str, value: int | bytes) -> str:
    if isinstance(value, bytes):
        return 'b"' + value.decode("ascii") + '"'
    return _number(name, value)


def _py_code(value: int) -> str:
    return f"0x{value:X}" if value >= 0x10000 else str(value)


def render_layout_h() -> str:
    """The text of ``csrc/layout.h``."""
    lines = [
        "/* Generated by tools/gen_layout.py from regf/format/structs.py: do not edit.",
        " * Field offsets (REGF_<REC>_<FIELD>, from the start of the record), widths",
        " * (..._BYTES), fixed-head sizes (REGF_<REC>_FIXED_SIZE), signatures (..._SIG) and",
        " * format constants. tests/test_gen_layout.py fails when this file is stale. */",
        "#ifndef REGF_LAYOUT_H",
        "#define REGF_LAYOUT_H",
    ]
    for name, value, comment in layout_defines():
        if name.endswith("_FIXED_SIZE") or name in ("BASE_SIG", "HBINS_OFFSET"):
            lines.append("")
        text = f"#define REGF_{name} {_c_value(name, value)}"
        if comment and not comment.startswith("'"):
            text = f"{text:<44} /* {comment} */"
        lines.append(text)
    lines += ["", "#endif /* REGF_LAYOUT_H */", ""]
    return "\n".join(lines)


def render_codes_py(root: Path = ROOT) -> str:
    """The text of ``regf/_accel/codes.py``."""
    lines = [
        '"""Constants shared with the C accelerator (generated by tools/gen_layout.py: do not',
        "edit).",
        "",
        "``regf._accel`` is leaf code and may not import :mod:`regf.format`, yet the pure",
        "backend must read the same fields at the same offsets as C and return the same",
        "codes. So both come from one generator: the layout half from the Construct",
        "declarations (the numbers ``csrc/layout.h`` gives C), the codes half from the",
        "``#define REGF_*`` lines of ``csrc/regf_accel.h`` and ``csrc/alloc.h`` (which cffi",
        "also exposes as ``lib.REGF_X``). ``tests/test_gen_layout.py`` regenerates this file",
        "and compares every code with the compiled library.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "# ---- layouts (regf/format/structs.py): <REC>_<FIELD> offset, _BYTES width ----",
    ]
    for name, value, comment in layout_defines():
        if name.endswith("_FIXED_SIZE") or name in ("BASE_SIG", "HBINS_OFFSET"):
            lines.append("")
        text = f"{name} = {_py_value(name, value)}"
        if comment and not comment.startswith("'"):
            text = f"{text}  # {comment}"
        lines.append(text)
    lines += ["", "# ---- struct formats of the scalar fields (regf/format/fast.py) ----"]
    lines += [f'{name} = "{fmt}"' for name, fmt in SCALARS]
    header = None
    for rel, name, value, comment in header_codes(root):
        if rel != header:
            header = rel
            lines += ["", f"# ---- codes of {rel} ----"]
        text = f"{name.removeprefix('REGF_')} = {_py_code(value)}"
        if comment:
            text = f"{text}  # {comment}"
        lines.append(text)
    lines.append("")
    return "\n".join(lines)


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file and its expected text."""
    return {LAYOUT_H: render_layout_h(), CODES_PY: render_codes_py(root)}


def main(argv: list[str]) -> int:
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if "--check" not in argv:
            path.write_text(text, encoding="utf-8")
    verb = "stale" if "--check" in argv else "written"
    for rel in stale:
        print(f"{rel}: {verb}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
