"""dfwinreg on regf (regf.contrib.dfwinreg) and on pyregf (dfwinreg.regf), side by side.

For every clean primary hive of the corpus, ``RecurseKeys`` through both backends must
give the same keys (path, last written FILETIME, class name, number of subkeys) and the
same values (name, type, ``data``, ``GetDataAsObject()``), forgiving exactly pyregf's
named bugs (see ``tests/test_corpus_walk.py``, ``test_peer_bug_pyregf_*``):

* inline data of 1-3 bytes read wrong (``data``, and the object made from it);
* REG_SZ / REG_EXPAND_SZ data cut after the first NUL (``data`` only: the string
  ``GetDataAsObject`` returns is the same);
* key and value names cut at NUL or decoded as cp1252 instead of Latin-1;

and one dfwinreg bug: for a default value (name None) whose data pyregf cannot convert,
dfwinreg.regf raises TypeError while formatting its WinRegistryValueError message
(``f"{None:s}"``); regf.contrib raises the WinRegistryValueError
(:func:`test_peer_bug_dfwinreg_default_value_error_message`).

A hive regf refuses in strict mode is compared through ``forensic=True`` (as
test_corpus_walk compares regf's forensic walk), and when pyregf stops with an OSError
part way, the keys it gave must all be in regf's answer.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import oracles
import pytest
from conftest import corpus_dir

dfwinreg_regf = pytest.importorskip("dfwinreg.regf")
dfwinreg_errors = pytest.importorskip("dfwinreg.errors")
pytest.importorskip("pyregf")

import regf  # noqa: E402
from regf.contrib import dfwinreg as backend  # noqa: E402

pytestmark = [pytest.mark.corpus, pytest.mark.peers]

_CORPUS = corpus_dir()
CLEAN = (
    [p.relative_to(_CORPUS).as_posix() for p in oracles.clean_primary_hives(_CORPUS)]
    if _CORPUS
    else []
)

Value = tuple[str | None, int, bytes | None, Any]
Row = tuple[str, int | None, str | None, int, list[Value]]


class Stopped(tuple):  # type: ignore[type-arg]
    """The row after which a dump stopped with an OSError: ("<OSError>", message)."""


def _object(value: Any) -> Any:
    try:
        data = value.GetDataAsObject()
    except dfwinreg_errors.WinRegistryValueError:
        return ("error", "WinRegistryValueError")
    except TypeError:
        return ("error", "TypeError")
    if data is not None and not isinstance(data, str | int | bytes):
        data = list(data)  # pyregf's multi_string object
    return data


def _data(value: Any) -> bytes | tuple[str, str] | None:
    try:
        return value.data  # type: ignore[no-any-return]
    except dfwinreg_errors.WinRegistryValueError:
        return ("error", "WinRegistryValueError")


def dump(module: Any, path: Path, **kwargs: Any) -> list[Any]:
    """Rows of RecurseKeys, ending with a Stopped row if an OSError stopped it."""
    registry_file = module.REGFWinRegistryFile(**kwargs)
    rows: list[Any] = []
    with open(path, "rb") as file_object:
        registry_file.Open(file_object)
        try:
            for key in registry_file.RecurseKeys():
                values = [(v.name, v.data_type, _data(v), _object(v)) for v in key.GetValues()]
                stamp = getattr(key.last_written_time, "timestamp", None)
                rows.append((key.path, stamp, key.class_name, key.number_of_subkeys, values))
        except OSError as exc:
            rows.append(Stopped(("<OSError>", str(exc))))
        finally:
            registry_file.Close()
    return rows


def _alt_path(path: str) -> str:
    return "\\".join(oracles.pyregf_name(c) for c in path.split("\\"))


def reconcile(ours: list[Row], theirs: list[Any]) -> tuple[list[Any], dict[str, int]]:
    """``theirs`` (dfwinreg.regf) with exactly the known bugs undone against ``ours``."""
    counts: dict[str, int] = {}

    def bump(what: str) -> None:
        counts[what] = counts.get(what, 0) + 1

    by_path: dict[str, list[Any]] = {}
    for row in theirs:
        by_path.setdefault(row[0], []).append(row)
    out: list[Any] = []
    for row in ours:
        lst = by_path.get(row[0])
        if not lst and _alt_path(row[0]) != row[0] and by_path.get(_alt_path(row[0])):
            lst = by_path[_alt_path(row[0])]
            bump("key name (NUL cut / cp1252)")
        if not lst:
            continue
        peer = lst.pop(0)
        out.append((row[0], *peer[1:4], _reconcile_values(row[4], peer[4], bump)))
    for lst in by_path.values():
        out.extend(lst)
    return out, counts


def _reconcile_values(ours: list[Value], theirs: list[Value], bump: Any) -> list[Value]:
    by_name: dict[str | None, list[Value]] = {}
    for v in theirs:
        by_name.setdefault(v[0], []).append(v)
    fixed: list[Value] = []
    for v in ours:
        lst = by_name.get(v[0])
        alt = oracles.pyregf_name(v[0] or "") or None
        if not lst and alt != v[0] and by_name.get(alt):
            lst = by_name[alt]
            bump("value name (NUL cut / cp1252)")
        if not lst:
            continue
        name, vtype, data, obj = lst.pop(0)
        name = v[0]
        good = v[2] if isinstance(v[2], bytes) else b""
        bad = data if isinstance(data, bytes) else b""
        if vtype == v[1] and data != v[2] and good != bad:
            if oracles.pyregf_small_inline_bug(good, bad):
                bump("inline data of 1..3 bytes")
                data, obj = v[2], v[3]
            elif oracles.pyregf_string_truncation_bug(vtype, good, bad):
                bump("string data cut at first NUL")
                data = v[2]
        if (
            name is None
            and obj == ("error", "TypeError")
            and v[3] == ("error", "WinRegistryValueError")
        ):
            bump("dfwinreg: TypeError formatting a nameless value's error")
            obj = v[3]
        fixed.append((name, vtype, data, obj))
    for lst in by_name.values():
        fixed.extend(lst)
    return fixed


@functools.lru_cache(maxsize=1)
def _ours(path: Path, forensic: bool) -> list[Any]:
    try:
        return dump(backend, path, forensic=forensic)
    except OSError as exc:
        return [Stopped(("<OSError>", str(exc)))]


def _stopped(rows: list[Any]) -> bool:
    return bool(rows) and isinstance(rows[-1], Stopped)


@pytest.mark.parametrize("rel", CLEAN)
def test_recurse_keys_equals_dfwinreg_pyregf(corpus: Path, rel: str) -> None:
    path = corpus / rel
    try:
        theirs = dump(dfwinreg_regf, path)
    except OSError:
        pytest.skip("pyregf cannot open it")
    forensic = False
    ours = _ours(path, False)
    if _stopped(ours) and not _stopped(theirs):
        # pyregf reads through damage strict regf refuses: compare regf's forensic read.
        forensic = True
        ours = _ours(path, True)
    if ours == [Stopped(("<OSError>", ours[0][1]))] and "version" in ours[0][1]:
        return  # regf refuses format versions other than 1.x (crafted 0.0 stubs)
    if _stopped(ours):
        # Damage regf cannot read past: pyregf must give up too.
        assert _stopped(theirs), ours[-1]
        ours = ours[:-1]
    partial = _stopped(theirs)
    if partial:
        theirs = theirs[:-1]
    fixed, _counts = reconcile(ours, theirs)
    if partial or forensic:
        # pyregf gave up part way, or regf skipped damage: what pyregf gave must match,
        # apart from the subkey counts of keys whose damaged lists regf skipped.
        ours_by_path = {r[0]: r for r in ours}
        for row in fixed:
            mine = ours_by_path.get(row[0])
            assert mine is not None, row[0]
            if forensic:
                mine, row = mine[:3] + mine[4:], row[:3] + row[4:]
            assert mine == row, row[0]
        return
    assert ours == fixed, _first_difference(ours, fixed)


def _first_difference(ours: list[Any], theirs: list[Any]) -> str:
    for a, b in zip(ours, theirs, strict=False):
        if a != b:
            return f"regf.contrib: {a!r:.600}\ndfwinreg.regf: {b!r:.600}"
    return f"{len(ours)} keys against {len(theirs)}"


# --------------------------------------------------------------------------- named bugs


def test_peer_bug_dfwinreg_default_value_error_message(corpus: Path) -> None:
    """dfwinreg.regf formats ``{name:s}`` with a None name when pyregf cannot convert a
    default value's data, so the caller gets TypeError instead of WinRegistryValueError.

    In the SECURITY hive, ``Policy\\Secrets\\$MACHINE.ACC`` has a nameless REG_DWORD-typed
    value with empty data (format.md §4.5: data size 0); pyregf cannot make an integer
    of it. regf.contrib raises WinRegistryValueError, which plaso catches.
    """
    path = corpus / "log2timeline__dfwinreg/test_data/SECURITY"
    if not path.is_file():
        pytest.skip("SECURITY not in this corpus")
    key_path = "\\Policy\\Secrets\\$MACHINE.ACC"
    results = []
    for module in (dfwinreg_regf, backend):
        registry_file = module.REGFWinRegistryFile()
        with open(path, "rb") as file_object:
            registry_file.Open(file_object)
            value = registry_file.GetKeyByPath(key_path).GetValueByName("")
            assert value.name is None and value.data is None and value.data_type == 4
            results.append(_object(value))
            registry_file.Close()
    assert results == [("error", "TypeError"), ("error", "WinRegistryValueError")]
    with regf.open(path) as hive:
        assert hive.open_key(key_path[1:]).value("").raw == b""


def test_reconcile_forgives_named_bugs_only(corpus: Path) -> None:
    """On dfwinreg's NTUSER.DAT the comparison does forgive (SchemeLangID and friends are
    inline 2-byte data), and only named differences; an unnamed one is left in place."""
    path = corpus / "log2timeline__dfwinreg/test_data/NTUSER.DAT"
    if not path.is_file():
        pytest.skip("NTUSER.DAT not in this corpus")
    ours = _ours(path, False)
    theirs = dump(dfwinreg_regf, path)
    fixed, counts = reconcile(ours, theirs)
    assert fixed == ours
    assert counts.get("inline data of 1..3 bytes", 0) >= 1
    assert set(counts) <= {
        "inline data of 1..3 bytes",
        "string data cut at first NUL",
        "key name (NUL cut / cp1252)",
        "value name (NUL cut / cp1252)",
        "dfwinreg: TypeError formatting a nameless value's error",
    }
    # A difference that is none of the named bugs survives reconciliation.
    path0, stamp, cls, n, values = theirs[1]
    tampered = [theirs[0], (path0, stamp + 1, cls, n, values), *theirs[2:]]
    assert reconcile(ours, tampered)[0] != ours
