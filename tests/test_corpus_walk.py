"""regf's full walk of every clean primary hive in the corpus equals hivex's and pyregf's.

"Clean primary": >= 4096 bytes, ``regf`` signature, file type 0, seq1 == seq2, good
base-block checksum (see :func:`oracles.is_clean_primary`).

Where a peer is demonstrably wrong, a ``test_peer_bug_<peer>_<what>`` test below shows
the peer's answer, regf's answer and the bytes (read here straight from the file, per
/work/shared/docs/format.md) that decide between them; the equality tests forgive exactly
those differences (:func:`oracles.reconcile_pyregf`, ``PEERS_ACCEPT_CORRUPT``).
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

import oracles
import pytest
from conftest import corpus_dir

import regf

pytestmark = [pytest.mark.corpus, pytest.mark.peers]

_CORPUS = corpus_dir()
CLEAN = (
    [p.relative_to(_CORPUS).as_posix() for p in oracles.clean_primary_hives(_CORPUS)]
    if _CORPUS
    else []
)

# Hives whose structure is broken in a way hivex and pyregf do not notice (regf strict
# refuses them with a StructureError); see test_peer_bug_*_shared_subkey_not_detected.
PEERS_ACCEPT_CORRUPT = {
    "msuhanov__yarp/hives_for_tests/BadListHive",
    "msuhanov__yarp/hives_for_tests/BadSubkeyHive",
}


@functools.lru_cache(maxsize=2)
def _regf_walk(path: Path) -> oracles.Walk | regf.RegfError:
    """regf's strict walk, or the RegfError it raised (cached: two peers use it)."""
    try:
        return oracles.walk_regf(path, strict=True)
    except regf.RegfError as exc:
        return exc


def _regf_walk_for_peer(rel: str, path: Path, peer: str) -> oracles.Walk | None:
    """regf's walk to compare with a peer that walked the file; None = known exception.

    If strict mode refuses the hive (it is truncated or inconsistent) the peer, which
    walked it anyway, is compared with regf's forensic (strict=False) walk instead.
    """
    ours = _regf_walk(path)
    if not isinstance(ours, regf.RegfError):
        return ours
    if rel in PEERS_ACCEPT_CORRUPT:
        assert isinstance(ours, regf.StructureError), ours
        return None  # see test_peer_bug_<peer>_shared_subkey_not_detected
    try:
        return oracles.walk_regf(path, strict=False)
    except regf.RegfError as exc:
        pytest.fail(f"regf refuses a hive {peer} walks: strict {ours!r}, forensic {exc!r}")


@functools.lru_cache(maxsize=1)
def _hivex_ok() -> bool:
    return oracles.hivex_available()


# --------------------------------------------------------------------------- equality


@pytest.mark.parametrize("rel", CLEAN, ids=CLEAN)
def test_walk_equals_hivex(corpus: Path, rel: str) -> None:
    if not _hivex_ok():
        pytest.skip("python3-hivex not available under /usr/bin/python3")
    path = corpus / rel
    try:
        theirs = oracles.walk_hivex(path)
    except oracles.PeerOpenError as exc:
        pytest.skip(f"hivex itself fails on this file: {str(exc)[:160]}")
    ours = _regf_walk_for_peer(rel, path, "hivex")
    if ours is None:
        return
    ours = oracles.without_classes(ours)  # hivex exposes no class names
    assert ours == theirs, oracles.diff_walks(ours, theirs, "regf", "hivex")


@pytest.mark.parametrize("rel", CLEAN, ids=CLEAN)
def test_walk_equals_pyregf(corpus: Path, rel: str) -> None:
    pytest.importorskip("pyregf")
    path = corpus / rel
    try:
        theirs = oracles.walk_pyregf(path)
    except oracles.PeerOpenError as exc:
        pytest.skip(f"pyregf itself fails on this file: {str(exc)[:160]}")
    ours = _regf_walk_for_peer(rel, path, "pyregf")
    if ours is None:
        return
    fixed, _forgiven = oracles.reconcile_pyregf(ours, theirs)
    assert ours == fixed, oracles.diff_walks(ours, fixed, "regf", "pyregf")


# --------------------------------------------------------------------------- raw bytes


def _hive(corpus: Path, rel: str) -> tuple[Path, bytes]:
    path = corpus / rel
    if not path.is_file():
        pytest.skip(f"{rel} not in this corpus")
    return path, path.read_bytes()


def _raw_vks(data: bytes, name: bytes) -> list[tuple[int, int, int, bytes]]:
    """Every vk record whose stored name is ``name``: (data size field, data field,
    type, 4 raw bytes of the data field). vk layout (format.md §4.5): "vk", u16 name
    length, u32 data size, u32 data, u32 type, u16 flags, u16 spare, name."""
    found = []
    needle = b"vk" + struct.pack("<H", len(name))
    pos = data.find(needle, 4096)
    while pos != -1:
        if data[pos + 20 : pos + 20 + len(name)] == name:
            size, field, type_ = struct.unpack_from("<III", data, pos + 4)
            found.append((size, field, type_, data[pos + 8 : pos + 12]))
        pos = data.find(needle, pos + 1)
    return found


def _raw_nk_names(data: bytes, name: bytes) -> list[int]:
    """Flags of every nk record whose stored name is exactly ``name`` (format.md §4.2:
    "nk", u16 flags at +2, u16 name length at +0x48, name at +0x4C)."""
    found = []
    pos = data.find(b"nk", 4096)
    while pos != -1:
        (length,) = struct.unpack_from("<H", data, pos + 0x48) if pos + 0x4A <= len(data) else (0,)
        if length == len(name) and data[pos + 0x4C : pos + 0x4C + length] == name:
            found.append(struct.unpack_from("<H", data, pos + 2)[0])
        pos = data.find(b"nk", pos + 1)
    return found


def _regf_value(path: Path, key: str, name: str) -> regf.Value:
    with regf.open(path) as hive:
        value = hive.open_key(key).value(name)
        _ = value.raw
        return value


def _pyregf_value(path: Path, key: str, name: str) -> tuple[int, bytes]:
    pyregf = pytest.importorskip("pyregf")
    f = pyregf.file()
    f.open(str(path))
    try:
        k = f.get_key_by_path(key)
        for v in k.values:
            if (v.name or "") == name:
                return int(v.type), bytes(v.data or b"")
    finally:
        f.close()
    raise AssertionError(f"pyregf has no value {name!r} in {key!r}")


# --------------------------------------------------------------------------- peer bugs


def test_peer_bug_pyregf_small_inline_values(corpus: Path) -> None:
    """pyregf returns wrong bytes for resident ("inline") data of 1-3 bytes.

    format.md §4.5: a data size with bit 31 set (0x80000000 | n, n <= 4) means the n
    bytes live in the vk's Data field itself, starting at its lowest address. hivex's
    own test hive stores REG_BINARY "3Bytes" = b"012" that way; pyregf answers b"12\\0"
    (shifted). In SAM, the 2-byte REG_BINARY "ServerDomainUpdates" is b"\\xfe\\x0f"
    in the vk, and pyregf answers zeros. regf returns the stored bytes.
    """
    path, data = _hive(corpus, "libguestfs__hivex/images/rlenvalue_test_hive")
    [(size, _field, _t, field_bytes)] = _raw_vks(data, b"3Bytes")
    assert size == 0x80000003 and field_bytes[:3] == b"012"
    assert _regf_value(path, "ModerateValueParent", "3Bytes").raw == b"012"
    assert _pyregf_value(path, "ModerateValueParent", "3Bytes")[1] != b"012"

    path, data = _hive(corpus, "log2timeline__plaso/test_data/regf/SAM")
    [(size, _field, _t, field_bytes)] = _raw_vks(data, b"ServerDomainUpdates")
    assert size == 0x80000002 and field_bytes[:2] == b"\xfe\x0f"
    assert _regf_value(path, "SAM", "ServerDomainUpdates").raw == b"\xfe\x0f"
    assert _pyregf_value(path, "SAM", "ServerDomainUpdates")[1] == b"\0\0"


def test_peer_bug_pyregf_string_data_cut_at_nul(corpus: Path) -> None:
    """pyregf returns REG_SZ/REG_EXPAND_SZ data only up to the first UTF-16 NUL.

    The vk data size (format.md §4.5) is the number of stored data bytes; a reader of
    raw data must return all of them (Windows' RegQueryValueEx does). In the Win10
    Amcache, ``7z.exe|afe683e0fa522625\\LongPathHash`` declares 0x5C = 92 bytes (the
    string, its terminator, and NUL padding written by the application); pyregf
    returns 48. hivex and regf return the 92 declared bytes.
    """
    rel = "log2timeline__plaso/test_data/winreg/win10-Amcache.hve"
    path, data = _hive(corpus, rel)
    key = "Root\\InventoryApplicationFile\\7z.exe|afe683e0fa522625"
    vks = _raw_vks(data, b"LongPathHash")
    sizes = {size for size, *_ in vks}
    assert 0x5C in sizes
    ours = _regf_value(path, key, "LongPathHash")
    assert ours.type == regf.REG_SZ and len(ours.raw) == 0x5C
    t, theirs = _pyregf_value(path, key, "LongPathHash")
    assert t == 1 and len(theirs) < 0x5C and ours.raw.startswith(theirs)
    assert oracles.pyregf_string_truncation_bug(1, ours.raw, theirs)


def test_peer_bug_pyregf_names_cut_at_nul(corpus: Path) -> None:
    """pyregf cuts key and value names at an embedded NUL.

    Names are counted strings (format.md §4.2/§4.5: a length field, no terminator), so
    NUL is an ordinary character. hivex's "special" hive (made by Windows XP) has a key
    ``zero\\0key`` holding a value ``zero\\0val``; pyregf reports ``zero``/``zero``.
    """
    path, data = _hive(corpus, "libguestfs__hivex/images/special")
    assert _raw_nk_names(data, b"zero\0key")
    assert _raw_vks(data, b"zero\0val")
    with regf.open(path) as hive:
        assert [k.name for k in hive.root.subkeys() if k.name.startswith("zero")] == ["zero\0key"]
        assert [v.name for v in hive.open_key("zero\0key").values()] == ["zero\0val"]
    names = [k[0] for k in oracles.walk_pyregf(path)]
    assert "zero" in names and "zero\0key" not in names


def test_peer_bug_pyregf_compressed_names_are_latin1(corpus: Path) -> None:
    """pyregf decodes compressed ("ASCII") names as Windows-1252, not Latin-1.

    format.md: a compressed name (nk flag KEY_COMP_NAME 0x20) stores each UTF-16 code
    unit's low byte, so byte 0x9F is U+009F. yarp's CompHive has such a key next to a
    UTF-16 key named U+0178 ("Ÿ"); hivex and regf list both, pyregf lists "Ÿ" twice
    (0x9F is "Ÿ" in cp1252) and no U+009F.
    """
    path, data = _hive(corpus, "msuhanov__yarp/hives_for_tests/CompHive")
    flags = _raw_nk_names(data, b"\x9f")
    assert flags and all(f & 0x20 for f in flags)
    ours = [k[0] for k in oracles.walk_regf(path)]
    assert ours.count("\x9f") == 1 and ours.count("\u0178") == 1
    theirs = [k[0] for k in oracles.walk_pyregf(path)]
    assert theirs.count("\u0178") == 2 and "\x9f" not in theirs


def test_peer_bug_hivex_shared_subkey_not_detected(corpus: Path) -> None:
    """hivex walks a hive whose subkey lists share one nk cell, listing it twice.

    In yarp's BadSubkeyHive the subkey lists of keys "2" and "3" both point at the same
    nk ("subkey", whose Parent field names key "3"). A tree cannot have that (yarp's own
    test expects the walk to fail). hivex reports ``2\\subkey`` and ``3\\subkey`` as two
    keys; regf (strict) raises StructureError.
    """
    path, _data = _hive(corpus, "msuhanov__yarp/hives_for_tests/BadSubkeyHive")
    if not _hivex_ok():
        pytest.skip("python3-hivex not available")
    paths = [k[0] for k in oracles.walk_hivex(path)]
    assert "2\\subkey" in paths and "3\\subkey" in paths
    with pytest.raises(regf.StructureError):
        oracles.walk_regf(path, strict=True)


def test_peer_bug_pyregf_shared_subkey_not_detected(corpus: Path) -> None:
    """pyregf, like hivex, walks yarp's BadSubkeyHive/BadListHive without complaint.

    The same nk cell ("subkey", Parent = key "3") is listed in the subkey lists of both
    "2" and "3" (see test_peer_bug_hivex_shared_subkey_not_detected); libregf returns it
    under both parents. regf (strict) raises StructureError.
    """
    for rel in sorted(PEERS_ACCEPT_CORRUPT):
        path, _data = _hive(corpus, rel)
        paths = [k[0] for k in oracles.walk_pyregf(path)]
        assert "2\\subkey" in paths and "3\\subkey" in paths, rel
        with pytest.raises(regf.StructureError):
            oracles.walk_regf(path, strict=True)
