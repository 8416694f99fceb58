"""plaso parses hives through regf: its ``winreg`` parser, every plugin enabled.

plaso reads a hive through ``dfwinreg.regf.REGFWinRegistryFile``; each test parses a
corpus hive twice, as shipped (pyregf) and with ``regf.contrib.dfwinreg`` in its place
(tools/plaso_winreg_compare.py), and requires the same event data, in the same order,
and the same extraction warnings (their text names the backend's own error, so only
where they happen is compared).

pyregf's named bugs (tests/test_corpus_walk.py) change no event in these hives: plaso
shows REG_BINARY data as its size (the 1-3 byte inline bug keeps the size), and the
strings it shows stop at the first NUL either way (the NUL-cut bug only drops bytes
after it). Skipped unless plaso is installed (``pip install plaso``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("plaso")
pytest.importorskip("dfvfs")
dfwinreg_regf = pytest.importorskip("dfwinreg.regf")

from regf.contrib import dfwinreg as backend  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from plaso_winreg_compare import run_plaso  # noqa: E402

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.peers,
    # plaso's own modules (pyparsing grammars) warn on import; nothing of regf's.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def _both(corpus: Path, rel: str):  # type: ignore[no-untyped-def]
    path = corpus / rel
    if not path.is_file():
        pytest.skip(f"{rel} not in this corpus")
    return run_plaso(path, dfwinreg_regf), run_plaso(path, backend)


def _warning_places(warnings: list[str]) -> list[str]:
    # "in key: <path> error: <backend's message>"
    return [w.split(" error: ")[0] for w in warnings]


def _data_types(event_data: list[dict]) -> set[str]:  # type: ignore[type-arg]
    return {e["data_type"] for e in event_data}


def test_plaso_ntuser(corpus: Path) -> None:
    (theirs, their_warnings, _), (ours, our_warnings, _) = _both(
        corpus, "log2timeline__plaso/test_data/NTUSER-WIN7.DAT"
    )
    assert len(ours) == 2480
    # Plugins ran, not only the default one (the prefix HKEY_CURRENT_USER was found).
    assert {"windows:registry:userassist", "windows:registry:mrulistex"} <= _data_types(ours)
    assert ours == theirs
    assert our_warnings == their_warnings == []


@pytest.mark.slow
def test_plaso_system(corpus: Path) -> None:
    (theirs, their_warnings, _), (ours, our_warnings, _) = _both(
        corpus, "mkorman90__regipy/regipy_tests/data/SYSTEM"
    )
    assert {
        "windows:registry:service",
        "windows:registry:appcompatcache",
        "windows:registry:timezone",
    } <= _data_types(ours)
    assert len(ours) == len(theirs) > 30000
    assert ours == theirs
    assert our_warnings == their_warnings == []


def test_plaso_damaged_subkey_list(corpus: Path) -> None:
    """plaso's own expectation for this file: 100 key events and exactly one warning."""
    (theirs, their_warnings, _), (ours, our_warnings, _) = _both(
        corpus, "log2timeline__plaso/test_data/regf/corrupt_sub_key_list.hiv"
    )
    assert len(ours) == len(theirs) == 100

    # pyregf fails at the bad entry's index (8), regf after the readable ones: the same
    # events in another order.
    def by_path(events: list[dict]) -> list[dict]:  # type: ignore[type-arg]
        return sorted(events, key=lambda e: e["key_path"])

    assert by_path(ours) == by_path(theirs)
    assert _warning_places(our_warnings) == _warning_places(their_warnings) == ["in key: \\"]


def test_plaso_log_file_gives_nothing(corpus: Path) -> None:
    """A transaction log handed to the parser: no events and no warnings, as with pyregf."""
    (theirs, their_warnings, _), (ours, our_warnings, _) = _both(
        corpus, "log2timeline__plaso/test_data/ntuser.dat.LOG"
    )
    assert ours == theirs == [] and our_warnings == their_warnings == []
