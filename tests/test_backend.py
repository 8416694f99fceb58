"""Backend selection in ``regf._accel`` (REGF_BACKEND = c / python / auto)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import regf._accel as accel

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = ("checksum", "marvin32", "name_hash", "upcase", "sort_key", "scan_cells", "leaf_cells")


def _extension_importable() -> bool:
    try:
        return importlib.util.find_spec("regf._accel._regf_c") is not None
    except ImportError:
        return False


def test_backend_reflects_environment() -> None:
    choice = os.environ.get("REGF_BACKEND", "auto").strip().lower() or "auto"
    if choice == "python":
        assert accel.BACKEND == "python"
    elif _extension_importable():
        assert accel.BACKEND == "c"
    else:
        assert accel.BACKEND == "python"
    if os.environ.get("REGF_BACKEND") == "c":  # CI: the build must not silently fall back
        assert accel.BACKEND == "c"


def test_exports_present() -> None:
    for name in EXPORTS:
        assert callable(getattr(accel, name)), name
    expected = (
        accel.pure if accel.BACKEND == "python" else importlib.import_module("regf._accel.cbackend")
    )
    for name in EXPORTS:
        assert getattr(accel, name) is getattr(expected, name), name
    assert accel.REGISTRY_SEED == 0x82EF4D887A4E55C5


# Run in a child interpreter: selection happens once, at import.
_BLOCK_EXTENSION = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "regf._accel._regf_c":
            raise ImportError("extension blocked by test")
        return None
sys.meta_path.insert(0, _Block())
"""


def _child(
    env_value: str | None, code: str, block: bool = False
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("REGF_BACKEND", None)
    if env_value is not None:
        env["REGF_BACKEND"] = env_value
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    prog = (_BLOCK_EXTENSION if block else "") + code
    return subprocess.run(
        [sys.executable, "-c", prog], env=env, capture_output=True, text=True, timeout=60
    )


PRINT_BACKEND = "import regf._accel as a; print(a.BACKEND)"


def test_python_forced() -> None:
    r = _child("python", PRINT_BACKEND)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "python"


def test_auto_falls_back_without_extension() -> None:
    r = _child("auto", PRINT_BACKEND, block=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "python"
    r = _child(None, PRINT_BACKEND, block=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "python"


def test_c_demanded_without_extension_fails_loudly() -> None:
    r = _child("c", PRINT_BACKEND, block=True)
    assert r.returncode != 0
    assert "ImportError" in r.stderr


def test_bad_value_rejected() -> None:
    r = _child("fortran", PRINT_BACKEND)
    assert r.returncode != 0
    assert "REGF_BACKEND" in r.stderr


@pytest.mark.skipif(not _extension_importable(), reason="C extension not built")
def test_c_selected_when_built() -> None:
    for value in ("c", "auto", None):
        r = _child(value, PRINT_BACKEND)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "c"
