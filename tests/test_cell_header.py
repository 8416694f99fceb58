"""The cell size field has one name, derived from its Construct declaration (issue 14).

``regf.format.fast.CELL_HEADER`` is the size of ``structs.CellHeader``; ``cell_sig``
reads a record's signature after it. The cells and model layers spell neither the
header nor the signature width as a literal.
"""

from __future__ import annotations

import re
from pathlib import Path

from regf._accel import codes
from regf.format import structs
from regf.format.constants import BASE
from regf.format.fast import BASE_L, CELL_HEADER, CELL_L, NK_L, SIG_SIZE, cell_sig
from regf.model.serialize import serialize
from regf.model.spec import KeySpec

ROOT = Path(__file__).resolve().parent.parent


def test_cell_header_is_the_declared_size() -> None:
    assert CELL_HEADER == structs.CellHeader.sizeof() == CELL_L.size == 4
    # The C side's number comes from the same declaration (tools/gen_layout.py).
    assert CELL_HEADER == codes.CELL_FIXED_SIZE
    assert SIG_SIZE == NK_L.field("signature").size == 2


def test_cell_sig_reads_after_the_size_field() -> None:
    data = bytearray(serialize(KeySpec("ROOT", subkeys=[KeySpec("a")])))
    root = BASE_L.field("root_cell").unpack_from(data)
    assert cell_sig(data, root) == b"nk"
    # The size field itself is negative (allocated) and sits CELL_HEADER bytes earlier.
    assert int.from_bytes(data[BASE + root : BASE + root + CELL_HEADER], "little", signed=True) < 0
    # Past the end of the buffer: short, no exception.
    assert cell_sig(data, len(data)) == b""


def test_cells_and_model_spell_no_cell_header_literal() -> None:
    # `BASE + cell + 4` (a record after its size field) and `size - 4` (a cell's payload)
    # must be written with CELL_HEADER; `buf[at : at + 2]` signatures with cell_sig.
    header = re.compile(r"BASE \+ [\w.\[\]]+ \+ [46]\b(?! \*)|\b-?size - 4\b|\]\[0\] - 4\b")
    bad = []
    for pkg in ("regf/cells", "regf/model"):
        for path in sorted((ROOT / pkg).glob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if header.search(code):
                    bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "\n".join(bad)
