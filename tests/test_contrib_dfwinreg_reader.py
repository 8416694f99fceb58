"""regf.contrib.dfwinreg_reader: dfwinreg's WinRegistry over a Windows tree, read by regf.

A small Windows tree is built in a temporary directory from corpus hives (copies in
tmp_path, never in the project), with names in other cases than Windows uses: regipy's
SYSTEM as ``windows/system32/CONFIG/system``, dfwinreg's SAM and SECURITY beside it,
dfwinreg's NTUSER.DAT and UsrClass.dat in a user profile. ``WinRegistry`` must map
``HKEY_LOCAL_MACHINE\\System`` (with ``CurrentControlSet``), ``\\SAM``, ``\\Security``,
``HKEY_CURRENT_USER`` and ``HKEY_CURRENT_USER\\Software\\Classes`` through the reader, and
(with a small SOFTWARE hive made here holding a ProfileList) ``HKEY_USERS\\<SID>`` and
``<SID>_Classes``, the same way it does through a reader of dfwinreg.regf (pyregf) files.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dfwinreg.regf")
from dfwinreg import interface as dfwinreg_interface
from dfwinreg import registry as dfwinreg_registry

import regf
from regf.contrib import dfwinreg as backend
from regf.contrib.dfwinreg_reader import (
    DFVFSWinRegistryFileReader,
    DirectoryWinRegistryFileReader,
)

pytestmark = pytest.mark.corpus

TREE = {
    "mkorman90__regipy/regipy_tests/data/SYSTEM": "windows/system32/CONFIG/system",
    "log2timeline__dfwinreg/test_data/SAM": "windows/system32/CONFIG/SAM",
    "log2timeline__dfwinreg/test_data/SECURITY": "windows/system32/CONFIG/security",
    "log2timeline__dfwinreg/test_data/NTUSER.DAT": "users/bperry/ntuser.dat",
    "log2timeline__dfwinreg/test_data/UsrClass.dat": (
        "users/bperry/AppData/Local/Microsoft/Windows/UsrClass.dat"
    ),
}
USER = {"UserProfile": "C:\\Users\\bperry"}
DIRTY = "mkorman90__regipy/regipy_tests/data/transactions_NTUSER.DAT"


@pytest.fixture
def tree(corpus: Path, tmp_path: Path) -> Path:
    for rel, target in TREE.items():
        source = corpus / rel
        if not source.is_file():
            pytest.skip(f"{rel} not in this corpus")
        dest = tmp_path / target
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    return tmp_path


class PyregfDirectoryReader(dfwinreg_interface.WinRegistryFileReader):  # type: ignore[misc]
    """The same tree through dfwinreg.regf (pyregf), for comparison."""

    def __init__(self, inner: DirectoryWinRegistryFileReader) -> None:
        self._inner = inner
        self._handles: list[Any] = []

    def Open(self, path: str, ascii_codepage: str = "cp1252") -> Any:
        from dfwinreg import regf as dfwinreg_regf

        local = self._inner.ResolvePath(path)
        if local is None:
            return None
        handle = open(local, "rb")  # noqa: SIM115 - pyregf reads it lazily
        self._handles.append(handle)
        registry_file = dfwinreg_regf.REGFWinRegistryFile(ascii_codepage=ascii_codepage)
        registry_file.Open(handle)
        return registry_file


KEYS = [
    "HKEY_LOCAL_MACHINE\\System\\Select",
    "HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Control\\ComputerName",
    "HKEY_LOCAL_MACHINE\\System\\ControlSet001\\Enum",
    "HKEY_LOCAL_MACHINE\\SAM\\SAM\\Domains\\Account\\Users",
    "HKEY_LOCAL_MACHINE\\Security\\Policy\\PolAdtEv",
    "HKEY_CURRENT_USER\\Console",
    "HKCU\\Software\\Microsoft",
    "HKEY_CURRENT_USER\\Software\\Classes\\Local Settings",
]


def _describe(win_registry: Any, key_path: str) -> tuple[Any, ...] | None:
    key = win_registry.GetKeyByPath(key_path)
    if key is None:
        return None
    return (
        key.path,
        key.name,
        key.last_written_time.timestamp,
        sorted(k.name for k in key.GetSubkeys()),
        sorted((v.name or "", v.data_type) for v in key.GetValues()),
    )


def test_resolve_path_case_insensitive(tree: Path) -> None:
    reader = DirectoryWinRegistryFileReader(tree, environment=USER)
    system = tree / "windows/system32/CONFIG/system"
    assert reader.ResolvePath("%SystemRoot%\\System32\\config\\SYSTEM") == system
    assert reader.ResolvePath("C:\\WINDOWS\\system32\\Config\\System") == system
    assert reader.ResolvePath("%systemroot%/System32/config/SYSTEM") == system
    assert reader.ResolvePath("%UserProfile%\\NTUSER.DAT") == tree / "users/bperry/ntuser.dat"
    assert reader.ResolvePath("%SystemRoot%\\System32\\config\\SOFTWARE") is None
    assert reader.ResolvePath("%Unknown%\\NTUSER.DAT") is None
    assert reader.ResolvePath("%SystemRoot%\\System32") is None  # a directory


def test_open(tree: Path) -> None:
    reader = DirectoryWinRegistryFileReader(tree, environment=USER)
    registry_file = reader.Open("%SystemRoot%\\System32\\config\\SYSTEM")
    assert isinstance(registry_file, backend.REGFWinRegistryFile)
    assert registry_file.GetKeyByPath("\\Select") is not None
    registry_file.Close()
    assert reader.Open("%SystemRoot%\\System32\\config\\SOFTWARE") is None
    (tree / "windows/system32/CONFIG/DEFAULT").write_bytes(b"not a hive" * 500)
    assert reader.Open("%SystemRoot%\\System32\\config\\DEFAULT") is None


def test_win_registry_maps_the_roots(tree: Path) -> None:
    reader = DirectoryWinRegistryFileReader(tree, environment=USER)
    ours = dfwinreg_registry.WinRegistry(registry_file_reader=reader)
    pytest.importorskip("pyregf")
    theirs = dfwinreg_registry.WinRegistry(registry_file_reader=PyregfDirectoryReader(reader))
    for key_path in KEYS:
        mine = _describe(ours, key_path)
        assert mine is not None, key_path
        assert mine == _describe(theirs, key_path), key_path
    ccs = ours.GetKeyByPath("HKEY_LOCAL_MACHINE\\System\\CurrentControlSet")
    assert isinstance(ccs, backend.VirtualREGFWinRegistryKey)
    # WinRegistry maps the file under its upper-cased prefix (pyregf files alike).
    assert ccs.path == "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet"
    classes = ours.GetKeyByPath("HKEY_CURRENT_USER\\Software\\Classes")
    assert isinstance(classes, backend.REGFWinRegistryKey)
    assert "Local Settings" in [k.name for k in classes.GetSubkeys()]
    assert ours.GetKeyByPath("HKEY_LOCAL_MACHINE\\Software\\Microsoft") is None  # no SOFTWARE


def _dirty_profile(corpus: Path, tmp_path: Path) -> Path:
    """A profile whose NTUSER.DAT is a dirty hive with its two logs (other case)."""
    source = corpus / DIRTY
    if not source.is_file():
        pytest.skip(f"{DIRTY} not in this corpus")
    profile = tmp_path / "Users" / "tony"
    profile.mkdir(parents=True)
    shutil.copyfile(source, profile / "NTUSER.DAT")
    for log in source.parent.iterdir():
        name = log.name.lower()
        if name.startswith(source.name.lower() + ".log"):
            shutil.copyfile(log, profile / ("ntuser.dat" + log.name[len(source.name) :]))
    return profile


def test_logs_beside_the_hive_are_applied(corpus: Path, tmp_path: Path) -> None:
    _dirty_profile(corpus, tmp_path)
    reader = DirectoryWinRegistryFileReader(tmp_path, environment={"UserProfile": "\\Users\\tony"})
    registry_file = reader.Open("%UserProfile%\\NTUSER.DAT")
    assert registry_file is not None and registry_file.recovery is not None
    assert registry_file.recovery.applied
    registry_file.Close()


def _dfvfs_reader(root: Path, environment: dict[str, str]) -> DFVFSWinRegistryFileReader:
    pytest.importorskip("dfvfs")
    from dfvfs.lib import definitions
    from dfvfs.path import factory
    from dfvfs.resolver import resolver

    mount_point = factory.Factory.NewPathSpec(definitions.TYPE_INDICATOR_OS, location=str(root))
    file_system = resolver.Resolver.OpenFileSystem(mount_point)
    return DFVFSWinRegistryFileReader(file_system, mount_point, environment=environment)


def test_dfvfs_reader(tree: Path) -> None:
    reader = _dfvfs_reader(tree, USER)
    ours = dfwinreg_registry.WinRegistry(registry_file_reader=reader)
    direct = dfwinreg_registry.WinRegistry(
        registry_file_reader=DirectoryWinRegistryFileReader(tree, environment=USER)
    )
    for key_path in KEYS:
        mine = _describe(ours, key_path)
        assert mine is not None, key_path
        assert mine == _describe(direct, key_path), key_path
    assert reader.Open("%SystemRoot%\\System32\\config\\SOFTWARE") is None


def test_dfvfs_reader_applies_logs(corpus: Path, tmp_path: Path) -> None:
    _dirty_profile(corpus, tmp_path)
    reader = _dfvfs_reader(tmp_path, {"UserProfile": "\\Users\\tony"})
    registry_file = reader.Open("%UserProfile%\\NTUSER.DAT")
    assert registry_file is not None and registry_file.recovery is not None
    assert registry_file.recovery.applied
    keys = sum(1 for _ in registry_file.RecurseKeys())
    direct = DirectoryWinRegistryFileReader(tmp_path, environment={"UserProfile": "\\Users\\tony"})
    same = direct.Open("%UserProfile%\\NTUSER.DAT")
    assert keys == sum(1 for _ in same.RecurseKeys())


SID = "S-1-5-21-1111111111-2222222222-3333333333-1001"


def _software(tree: Path) -> None:
    """A small SOFTWARE hive made with regf (the corpus has none): the key WinRegistry
    recognises SOFTWARE by, and a ProfileList entry for the user profile of the tree."""
    path = tree / "windows/system32/CONFIG/SOFTWARE"
    with regf.create(path) as hive:
        hive.create_key("Microsoft\\Windows\\CurrentVersion\\App Paths")
        profile = hive.create_key(f"Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{SID}")
        profile.set_value(
            "ProfileImagePath",
            "%SystemDrive%\\Users\\bperry\0".encode("utf-16-le"),
            regf.REG_EXPAND_SZ,
        )


def test_win_registry_hkey_users(tree: Path) -> None:
    """HKEY_USERS\\<SID> and <SID>_Classes: the profile's hives, found through SOFTWARE."""
    _software(tree)
    reader = DirectoryWinRegistryFileReader(tree)
    ours = dfwinreg_registry.WinRegistry(registry_file_reader=reader)
    pytest.importorskip("pyregf")
    theirs = dfwinreg_registry.WinRegistry(registry_file_reader=PyregfDirectoryReader(reader))
    keys = [
        "HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList",
        f"HKEY_USERS\\{SID}\\Console",
        f"HKEY_USERS\\{SID}\\Software\\Microsoft",
        f"HKEY_USERS\\{SID}_Classes\\Local Settings",
    ]
    for key_path in keys:
        mine = _describe(ours, key_path)
        assert mine is not None, key_path
        assert mine == _describe(theirs, key_path), key_path
    assert _describe(ours, "HKEY_USERS\\S-1-5-21-0-0-0-500\\Console") is None
