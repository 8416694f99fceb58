"""dfwinreg registry file readers that open hives with regf.

``dfwinreg.registry.WinRegistry`` asks its file reader for hives by Windows path
(``%SystemRoot%\\System32\\config\\SYSTEM``, ``%UserProfile%\\NTUSER.DAT``, a profile's
``ProfileImagePath``) and maps them under ``HKEY_LOCAL_MACHINE\\System``,
``HKEY_CURRENT_USER`` and the other roots::

    from dfwinreg import registry
    from regf.contrib.dfwinreg_reader import DirectoryWinRegistryFileReader

    reader = DirectoryWinRegistryFileReader("/mnt/c", environment={"UserProfile": r"C:\\Users\\me"})
    win_registry = registry.WinRegistry(registry_file_reader=reader)
    win_registry.GetKeyByPath(r"HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Control")

:class:`DirectoryWinRegistryFileReader` reads a copy of a Windows volume in a directory
(names matched case-insensitively, as Windows does); :class:`DFVFSWinRegistryFileReader`
reads through dfVFS (an image, a volume, a directory), resolving paths with dfVFS's
``WindowsPathResolver``. Both give :class:`regf.contrib.dfwinreg.REGFWinRegistryFile`
objects, with the hive's transaction logs (``.LOG``, ``.LOG1``, ``.LOG2`` beside it)
applied in memory.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dfwinreg import interface as dfwinreg_interface

from .dfwinreg import REGFWinRegistryFile

#: What %SystemRoot% and friends are when not given: the usual layout of a system volume.
DEFAULT_ENVIRONMENT = {"SystemRoot": "\\Windows", "WinDir": "\\Windows", "SystemDrive": ""}
LOG_SUFFIXES = (".LOG", ".LOG1", ".LOG2")
_VARIABLE = re.compile(r"%([^%\\]+)%")
_DRIVE = re.compile(r"^[A-Za-z]:")


class _ReaderBase(dfwinreg_interface.WinRegistryFileReader):
    """Shared options: forensic mode and log recovery for every file opened."""

    def __init__(self, *, forensic: bool = False, recover: bool = True) -> None:
        super().__init__()
        self._forensic = forensic
        self._recover = recover

    def _NewFile(self, ascii_codepage: str, logs: list[Any] | None) -> REGFWinRegistryFile:
        return REGFWinRegistryFile(
            ascii_codepage=ascii_codepage, forensic=self._forensic, logs=logs, recover=self._recover
        )


class DirectoryWinRegistryFileReader(_ReaderBase):
    """Opens hives by Windows path inside a directory holding a Windows volume's files.

    ``environment`` sets variables such as ``UserProfile`` (a Windows path, e.g.
    ``C:\\Users\\me``), over :data:`DEFAULT_ENVIRONMENT`; names are case-insensitive. A
    drive letter is ignored: every path is on the volume at ``root``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        environment: Mapping[str, str] | None = None,
        forensic: bool = False,
        recover: bool = True,
    ) -> None:
        super().__init__(forensic=forensic, recover=recover)
        self._root = Path(root)
        self._environment = {k.upper(): v for k, v in DEFAULT_ENVIRONMENT.items()}
        self._environment.update({k.upper(): v for k, v in (environment or {}).items()})

    def _Expand(self, path: str) -> str | None:
        """``path`` with %VARIABLES% expanded (None if one is unknown)."""
        for _ in range(8):  # a variable's value may hold another (bounded)
            match = _VARIABLE.search(path)
            if match is None:
                return path
            value = self._environment.get(match.group(1).upper())
            if value is None:
                return None
            path = path[: match.start()] + _DRIVE.sub("", value) + path[match.end() :]
        return None

    def ResolvePath(self, path: str) -> Path | None:
        """The file a Windows path names under the root, or None if there is none."""
        expanded = self._Expand(path)
        if expanded is None:
            return None
        current = self._root
        for segment in _DRIVE.sub("", expanded).replace("/", "\\").split("\\"):
            if not segment or segment == ".":
                continue
            exact = current / segment
            if exact.exists():
                current = exact
                continue
            # Windows names are case-insensitive; a copied tree keeps any case.
            try:
                names = os.listdir(current)
            except OSError:
                return None
            wanted = segment.casefold()
            found = [n for n in names if n.casefold() == wanted]
            if not found:
                return None
            current = current / sorted(found)[0]
        return current if current.is_file() else None

    def Open(self, path: str, ascii_codepage: str = "cp1252") -> REGFWinRegistryFile | None:
        """The hive at Windows path ``path``, or None if it is missing or not a hive."""
        local = self.ResolvePath(path)
        if local is None:
            return None
        # Logs beside it are found through the file object's name (case-insensitively).
        registry_file = self._NewFile(ascii_codepage, None)
        with open(local, "rb") as file_object:
            try:
                registry_file.Open(file_object)
            except OSError:
                return None
        return registry_file


class DFVFSWinRegistryFileReader(_ReaderBase):
    """Opens hives by Windows path through dfVFS (needs the ``dfvfs`` package).

    ``file_system`` and ``mount_point`` are those of dfVFS's ``WindowsPathResolver``;
    ``environment`` sets its variables over :data:`DEFAULT_ENVIRONMENT`.
    """

    def __init__(
        self,
        file_system: Any,
        mount_point: Any,
        *,
        environment: Mapping[str, str] | None = None,
        forensic: bool = False,
        recover: bool = True,
    ) -> None:
        super().__init__(forensic=forensic, recover=recover)
        from dfvfs.helpers import windows_path_resolver

        self._resolver = windows_path_resolver.WindowsPathResolver(file_system, mount_point)
        for name, value in {**DEFAULT_ENVIRONMENT, **(environment or {})}.items():
            self._resolver.SetEnvironmentVariable(name, value)

    def _OpenFileObject(self, path: str) -> Any:
        from dfvfs.resolver import resolver

        path_spec = self._resolver.ResolvePath(path)
        if path_spec is None:
            return None
        try:
            return resolver.Resolver.OpenFileObject(path_spec)
        except Exception:  # dfVFS raises its own BackEndError / OSError family
            return None

    def Open(self, path: str, ascii_codepage: str = "cp1252") -> REGFWinRegistryFile | None:
        """The hive at Windows path ``path`` with its logs, or None."""
        file_object = self._OpenFileObject(path)
        if file_object is None:
            return None
        logs = []
        for suffix in LOG_SUFFIXES:
            log = self._OpenFileObject(path + suffix)
            if log is not None and log.get_size() > 0:
                logs.append(log)
        registry_file = self._NewFile(ascii_codepage, logs)
        try:
            registry_file.Open(file_object)
        except OSError:
            return None
        finally:
            # The hive and its logs are read into memory by Open: nothing stays open.
            for handle in (file_object, *logs):
                with contextlib.suppress(Exception):
                    handle.close()
        return registry_file


__all__ = ["DEFAULT_ENVIRONMENT", "DFVFSWinRegistryFileReader", "DirectoryWinRegistryFileReader"]
