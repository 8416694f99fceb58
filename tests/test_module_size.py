"""No Python module of the package is over ~800 lines (issue 14, item 6).

Each module has one concern that its name says; a module that grows past the limit is a
sign that it holds two. The C sources have the same rule
(``tests/test_gen_layout.py::test_c_files_stay_small``).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: "~800": a little slack so that a small fix does not force a split.
MAX_LINES = 820


def test_python_modules_stay_small() -> None:
    sizes = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8").count("\n")
        for path in sorted((ROOT / "regf").rglob("*.py"))
    }
    assert len(sizes) > 100  # the walk found the package
    big = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert big == {}
