"""csrc/layout.h and regf/_accel/codes.py are what tools/gen_layout.py makes of their sources.

Layouts come from the Construct declarations, codes from the public C headers; a stale
generated file, or a code whose compiled value differs, fails here.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType

import pytest

from regf._accel import codes
from regf.format import fast

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_layout", ROOT / "tools/gen_layout.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _generator()


@pytest.mark.parametrize("rel", ["csrc/layout.h", "regf/_accel/codes.py"])
def test_generated_file_is_current(rel: str) -> None:
    # Regenerate in memory: the committed file must be exactly what the generator writes
    # (run `python tools/gen_layout.py` after editing structs.py or a header's codes).
    expected = gen.outputs()[ROOT / rel]
    assert (ROOT / rel).read_text(encoding="utf-8") == expected


def test_layouts_in_codes_are_the_fast_layouts() -> None:
    for prefix, lay, _what in gen.RECORDS:
        assert getattr(codes, f"{prefix}_FIXED_SIZE") == lay.size
        for f in lay:
            name = f"{prefix}_{f.name.replace('.', '_').upper()}"
            assert getattr(codes, name) == f.offset, name
            assert getattr(codes, f"{name}_BYTES") == f.size, name
    # Facts from the format notes, so a generator bug cannot hide behind itself.
    assert codes.NK_SUBKEY_COUNT == 0x14
    assert codes.NK_FIXED_SIZE == 0x4C
    assert codes.VK_FLAGS == 0x10
    assert codes.BASE_HBINS_SIZE == 0x28
    assert codes.HBIN_FIXED_SIZE == 0x20
    assert codes.LH_ELEM_FIXED_SIZE == 8
    assert codes.NK_SIG == b"nk"
    assert fast.NK_L.offset("value_list") == codes.NK_VALUE_LIST == 0x28


def test_layout_h_defines_every_layout_name() -> None:
    text = (ROOT / "csrc/layout.h").read_text(encoding="utf-8")
    assert "#define REGF_NK_SUBKEY_COUNT 0x14\n" in text
    assert "#define REGF_NK_FIXED_SIZE 0x4C " in text
    assert '#define REGF_LH_SIG "lh"\n' in text
    for name, _value, _comment in gen.layout_defines():
        assert f"#define REGF_{name} " in text, name


def test_codes_come_from_the_headers() -> None:
    found = {name: value for _h, name, value, _c in gen.header_codes()}
    assert found["REGF_ALLOC_E_RANGE"] == codes.ALLOC_E_RANGE == -1
    assert found["REGF_CREATED"] == codes.CREATED == 1 << 32
    assert found["REGF_WALK_STATE_WORDS"] == codes.WALK_STATE_WORDS == 3 + 3 * 514
    for name, value in found.items():
        assert getattr(codes, name.removeprefix("REGF_")) == value, name


def test_codes_equal_the_compiled_library() -> None:
    # cffi reads each `#define REGF_X ...` from the compiled headers: the Python copy
    # must hold the same number, whatever the expression in the header was.
    if os.environ.get("REGF_BACKEND", "auto") == "python":
        pytest.skip("pure backend selected")
    c = pytest.importorskip("regf._accel._regf_c")
    names = [name for _h, name, _v, _c in gen.header_codes()]
    assert len(names) > 40
    for name in names:
        assert getattr(c.lib, name) == getattr(codes, name.removeprefix("REGF_")), name


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("(-17)", -17),
        ("0x80000000u", 0x80000000),
        ("(INT64_C(1) << 32)", 1 << 32),
        ("(REGF_A + REGF_B * 3)", 1 + 2 * 3),
        ("(2 * 65535 + 2)", 131072),
    ],
)
def test_header_expressions(expr: str, value: int) -> None:
    assert gen._eval(expr, {"REGF_A": 1, "REGF_B": 2}) == value


@pytest.mark.parametrize("expr", ["sizeof(int)", "REGF_UNKNOWN + 1", "__import__('os')"])
def test_header_expression_refused(expr: str) -> None:
    with pytest.raises(ValueError):
        gen._eval(expr, {})


def test_stale_file_is_reported(tmp_path: Path) -> None:
    # --check exits 1 and names the file when a header's code changed but codes.py did not.
    for rel in gen.HEADERS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        text = (ROOT / rel).read_text(encoding="utf-8")
        (tmp_path / rel).write_text(text.replace("(-17)", "(-18)"), encoding="utf-8")
    assert gen.render_codes_py(tmp_path) != gen.render_codes_py(ROOT)
    assert "SV_FALLBACK = -18" in gen.render_codes_py(tmp_path)


def test_accel_spells_no_layout() -> None:
    # _accel reads every field through the generated codes.py: no struct format string
    # and no `+ 0x..` field offset is written there by hand.
    fmt = re.compile(r"""["']<[0-9]*[bBhHiIqQs]""")
    offset = re.compile(r"\+ 0x[0-9A-Fa-f]+\b")
    for path in sorted((ROOT / "regf/_accel").glob("*.py")):
        if path.name in ("codes.py", "upcase_table.py"):
            continue  # generated
        text = path.read_text(encoding="utf-8")
        assert not fmt.search(text), (path.name, fmt.search(text))
        assert not offset.search(text), (path.name, offset.search(text))


def test_c_sources_spell_no_layout() -> None:
    # The C files read fields through layout.h: no `k + 0x14`-style offset and no
    # signature spelled as characters ('n', 'k') or as a string literal.
    offset = re.compile(r"\+ 0x[0-9A-Fa-f]+\b")
    sig = re.compile(r"""'[a-zA-Z]' *&&|"(?:nk|vk|sk|lf|lh|li|ri|db|hbin|regf)\"""")
    for path in sorted((ROOT / "csrc").glob("*.c")):
        text = path.read_text(encoding="utf-8")
        assert not offset.search(text), (path.name, offset.search(text))
        assert not sig.search(text), (path.name, sig.search(text))


def test_c_files_stay_small() -> None:
    for path in sorted((ROOT / "csrc").glob("*.c")):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 900, (path.name, lines)
