"""Shared pytest configuration.

* ``corpus`` fixture: the read-only corpus of real hives (``REGF_CORPUS``), or skip.
* Hypothesis profiles: ``ci`` (more examples, no deadline) and ``dev`` (quick); pick one
  with ``HYPOTHESIS_PROFILE`` (default ``dev``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Make tests/oracles.py importable as ``oracles`` however pytest is invoked
# (rootdir-relative, --import-mode=importlib, or from another directory).
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci",
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    settings.register_profile("dev", max_examples=50, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass


def corpus_dir() -> Path | None:
    """The corpus directory from ``REGF_CORPUS`` (None if unset or missing)."""
    value = os.environ.get("REGF_CORPUS")
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if path is None:
        pytest.skip("REGF_CORPUS is not set (or not a directory): corpus tests skipped")
    return path
