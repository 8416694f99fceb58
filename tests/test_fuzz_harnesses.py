"""The atheris harnesses in fuzz/ run: seeds from make_seeds.py, a few libFuzzer runs each
on the plain build (fuzz/run_all.sh does the timed, sanitized runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")
REPO = Path(__file__).resolve().parent.parent
HARNESSES = ["open_walk", "recovery", "reg_import", "nt_api"]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seeds")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-P", str(REPO / "fuzz/make_seeds.py"), str(out), "--count", "3"],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    return out


@pytest.mark.parametrize("name", HARNESSES)
def test_harness_runs_its_seeds(seeds: Path, name: str, tmp_path: Path) -> None:
    assert any((seeds / name).iterdir())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("LD_PRELOAD", None)
    r = subprocess.run(
        [
            sys.executable,
            "-P",
            str(REPO / f"fuzz/fuzz_{name}.py"),
            "-runs=40",
            "-timeout=60",
            f"-artifact_prefix={tmp_path}/",
            str(seeds / name),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done 40 runs" in r.stderr or "INITED" in r.stderr, r.stderr[-2000:]
