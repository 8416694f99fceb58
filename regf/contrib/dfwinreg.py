"""dfwinreg's regf backend (``dfwinreg.regf``) on regf instead of pyregf (libregf).

Drop-in: the same class names, constructor arguments and behaviour as ``dfwinreg.regf``::

    from regf.contrib.dfwinreg import REGFWinRegistryFile

    registry_file = REGFWinRegistryFile(key_path_prefix="HKEY_CURRENT_USER")
    registry_file.Open(open("NTUSER.DAT", "rb"))   # logs beside it are applied

The classes subclass ``dfwinreg.regf``'s (and so ``dfwinreg.interface``'s) because
``dfwinreg.registry.WinRegistry.MapFile`` tests ``isinstance(file, dfwinreg.regf.
REGFWinRegistryFile)`` before it adds the ``CurrentControlSet`` and
``HKEY_CURRENT_USER\\Software\\Classes`` virtual keys, and reads the key's
``_pyregf_key``. Every method is overridden here, so no pyregf object is made (importing
``dfwinreg.regf`` imports pyregf, which dfwinreg requires anyway). ``_pyregf_key`` of a
key is the :class:`regf.Key` it wraps.

On top of pyregf: a dirty hive is recovered in memory from its transaction logs (found
beside a file object that has a ``name``, or given as ``logs``: paths or binary file
objects), ``forensic=True`` reads damaged hives leniently (regf's ``strict=False``),
and a damaged subkey list costs only its bad entries even in strict mode (the readable
subkeys come first, each bad one is an ``OSError``, as pyregf raises per index).

Deliberate differences from pyregf, each one of its bugs named in
``tests/test_corpus_walk.py`` (``test_peer_bug_pyregf_*``):

* ``data`` is the stored bytes: inline data of 1-3 bytes is right, and REG_SZ data is
  not cut at the first NUL (``GetDataAsObject`` still returns the text before it);
* names keep embedded NULs, and compressed names are Latin-1 whatever
  ``ascii_codepage`` says: Windows stores the low byte of each UTF-16 unit, not ANSI
  text. ``ascii_codepage`` is checked (an unknown one raises ``RuntimeError``, as
  pyregf does) and kept;
* the current control set skips a ``Current`` of 0 and tries ``Default`` then
  ``LastKnownGood``, as dfwinreg's own comment intends (its loop stops at the first).
"""

from __future__ import annotations

import codecs
import itertools
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dfdatetime import filetime as dfdatetime_filetime
from dfdatetime import semantic_time as dfdatetime_semantic_time
from dfwinreg import definitions, key_paths
from dfwinreg import interface as dfwinreg_interface
from dfwinreg import regf as dfwinreg_regf

import regf
from regf._accel import upcase
from regf.format.fast import BASE_L
from regf.storage.discover import find_logs
from regf.storage.recovery import is_dirty, recover

from .dfwinreg_values import CELL_HEADER, REGFWinRegistryValue, integer_data

_SEP = definitions.KEY_PATH_SEPARATOR
_FILE_TYPE_PRIMARY = 0
_SIGNATURE = BASE_L.field("signature")
_FILE_TYPE = BASE_L.field("file_type")

LogSource = str | os.PathLike[str] | Any  # a path, or a binary file object


def _check_codepage(codepage: str) -> None:
    """Refuse what is not a known 8-bit codepage (pyregf raises RuntimeError too)."""
    try:
        name = codecs.lookup(codepage).name
    except LookupError:
        name = ""
    if not name or name.startswith("utf") or "A".encode(name, "replace") != b"A":
        raise RuntimeError(f"unsupported ASCII codepage: {codepage!r}")


def _os_error(what: str, exc: regf.RegfError) -> OSError:
    """The OSError pyregf would raise (plaso catches OSError around every key)."""
    return OSError(f"{what}: {exc}")


def _read_all(file_object: Any) -> bytes:
    """Whole contents of a binary file object from its start (pyregf reads from 0)."""
    file_object.seek(0)
    data = file_object.read()
    if not isinstance(data, bytes | bytearray):
        raise TypeError("file object must be opened in binary mode")
    return bytes(data)


def _lookup(key: regf.Key, key_path: str) -> regf.Key | None:
    """A descendant by relative path, with pyregf's rules.

    One leading and one trailing separator are ignored, an empty path is the key
    itself, and an empty segment inside the path matches nothing.
    """
    if key_path.startswith(_SEP):
        key_path = key_path[1:]
    if key_path.endswith(_SEP):
        key_path = key_path[:-1]
    if not key_path:
        return key
    for name in key_path.split(_SEP):
        if not name:
            return None
        try:
            key = key.subkey(name)
        except regf.NotFoundError:
            return None
    return key


class REGFWinRegistryFile(dfwinreg_regf.REGFWinRegistryFile):
    """A Windows Registry file read with regf.

    ``logs`` (paths or binary file objects) replaces the logs found beside the file;
    ``recover=False`` reads a dirty hive as it is; ``forensic=True`` skips and records
    damaged records (``problems``) instead of raising.
    """

    def __init__(
        self,
        ascii_codepage: str = "cp1252",
        key_path_prefix: str = "",
        *,
        forensic: bool = False,
        logs: Sequence[LogSource] | None = None,
        recover: bool = True,
    ) -> None:
        _check_codepage(ascii_codepage)
        dfwinreg_interface.WinRegistryFile.__init__(
            self, ascii_codepage=ascii_codepage, key_path_prefix=key_path_prefix
        )
        self._emulate_virtual_keys = False
        self._key_helper = REGFWinRegistryKeyHelper()
        self._file_object: Any = None
        self._forensic = forensic
        self._logs = list(logs) if logs is not None else None
        self._recover = recover
        self._hive: regf.Hive | None = None
        #: The recovery report when logs were applied (regf.storage.recovery), else None.
        self.recovery: Any = None

    @property
    def ascii_codepage(self) -> str:
        """The codepage given (kept for callers; names do not depend on it)."""
        return str(self._ascii_codepage)

    @property
    def hive(self) -> regf.Hive | None:
        """The open :class:`regf.Hive` (None before Open, or for a log file)."""
        return self._hive

    @property
    def problems(self) -> list[regf.FormatError]:
        """Damage skipped in forensic mode (empty in strict mode)."""
        return list(self._hive.problems) if self._hive is not None else []

    # -- opening -----------------------------------------------------------------------

    def _ReadLogs(self, file_object: Any) -> list[tuple[str, bytes]]:
        """``(name, contents)`` of the given logs, or of those beside a named file."""
        sources: list[Any] = []
        if self._logs is not None:
            sources = self._logs
        else:
            name = getattr(file_object, "name", None)
            if isinstance(name, str) and os.path.isfile(name):
                sources = list(find_logs(name))
        logs = []
        for i, source in enumerate(sources):
            if isinstance(source, str | os.PathLike):
                logs.append((str(source), Path(source).read_bytes()))
            else:
                logs.append((str(getattr(source, "name", f"log {i}")), _read_all(source)))
        return logs

    def _OpenHive(self, file_object: Any) -> regf.Hive | None:
        data: bytes | bytearray = _read_all(file_object)
        signed = len(data) >= BASE_L.size and _SIGNATURE.unpack_from(data, 0) == b"regf"
        if signed and _FILE_TYPE.unpack_from(data, 0) != _FILE_TYPE_PRIMARY:
            # A transaction log opened as a hive: pyregf opens it and shows no root key.
            return None
        # Dirty: Seq1 != Seq2, or a bad checksum or signature (a torn base block, which
        # recovery may rebuild from a log).
        dirty = is_dirty(bytes(data[: BASE_L.size])) is not None
        recover_logs = self._recover
        if dirty and self._recover:
            logs = self._ReadLogs(file_object)
            if not logs and not signed:
                recover_logs = False  # not a hive, and no log to rebuild one: say so plainly
            if logs:
                try:
                    data, self.recovery = recover(data, logs)
                except regf.RecoveryError as exc:
                    if not self._forensic:
                        raise
                    # Forensic: the stale primary is still evidence worth reading.
                    warnings.warn(f"logs not applied: {exc}", regf.DirtyHiveWarning, stacklevel=3)
        return regf.open(data, strict=not self._forensic, recover=recover_logs)

    def Open(self, file_object: Any) -> bool:
        """Opens the hive in ``file_object`` (read whole; OSError if it is not one)."""
        self._file_object = file_object
        try:
            self._hive = self._OpenHive(file_object)
        except regf.RegfError as exc:
            raise _os_error("unable to open Windows Registry file", exc) from exc
        self._key_helper.SetHive(self._hive)
        return True

    def Close(self) -> None:
        """Closes the hive."""
        if self._hive is not None:
            self._hive.close()
        self._hive = None
        self._key_helper.SetHive(None)
        self._file_object = None

    # -- keys --------------------------------------------------------------------------

    def _GetKeyByPathFromFile(self, relative_key_path: str) -> regf.Key | None:
        """The regf key at a path relative to the file, or None."""
        if self._hive is None:
            return None
        try:
            return _lookup(self._hive.root, relative_key_path)
        except regf.RegfError:
            return None

    def _GetCurrentControlSetKey(self) -> regf.Key | None:
        """The ControlSetNNN key that \\Select names (Current, Default, LastKnownGood)."""
        select_key = self._GetKeyByPathFromFile("\\Select")
        if select_key is None:
            return None
        for value_name in ("Current", "Default", "LastKnownGood"):
            try:
                value = select_key.value(value_name)
                raw = value.raw
            except regf.RegfError:
                continue
            number = integer_data(int(value.type), raw)
            if number is not None and 0 < number <= 999:
                return self._GetKeyByPathFromFile(f"\\ControlSet{number:03d}")
        return None

    def AddCurrentControlSetKey(self) -> None:
        """Adds the virtual \\CurrentControlSet key (ValueError if already added)."""
        key = self._GetCurrentControlSetKey()
        if key is not None:
            self._key_helper.AddVirtualKey("\\CurrentControlSet", key)
            self._emulate_virtual_keys = True

    def AddVirtualKey(self, relative_key_path: str, pyregf_key: Any) -> None:
        """Adds a virtual key: a :class:`regf.Key` (or one of our keys) at a path."""
        if isinstance(pyregf_key, REGFWinRegistryKey):
            pyregf_key = pyregf_key._regf_key
        self._key_helper.AddVirtualKey(relative_key_path, pyregf_key)
        self._emulate_virtual_keys = True

    def GetKeyByPath(self, key_path: str) -> REGFWinRegistryKey | None:
        """The key at ``key_path`` (with or without the key path prefix), or None."""
        if upcase(key_path).startswith(upcase(self._key_path_prefix)):
            relative_key_path = key_path[self._key_path_prefix_length :]
        elif key_path.startswith(_SEP):
            relative_key_path = key_path
        else:
            return None
        if relative_key_path.startswith(_SEP):
            relative_key_path = relative_key_path[1:]
        if not relative_key_path:
            return self.GetRootKey()
        if self._emulate_virtual_keys:
            virtual_key = self._key_helper.GetKeyByPath(self._key_path_prefix, relative_key_path)
            if virtual_key is not None:
                return virtual_key
        key = self._GetKeyByPathFromFile(relative_key_path)
        return self._key_helper.CreateKey(self._key_path_prefix, relative_key_path, key)

    def GetRootKey(self) -> REGFWinRegistryKey | None:
        """The root key, or None (a log file opened as a hive has none)."""
        if self._hive is None:
            return None
        try:
            root = self._hive.root
        except regf.RegfError as exc:
            raise _os_error("unable to read the root key", exc) from exc
        return self._key_helper.CreateKey(self._key_path_prefix, "", root)


class REGFWinRegistryKey(dfwinreg_regf.REGFWinRegistryKey):
    """A Windows Registry key read with regf (``pyregf_key`` is a :class:`regf.Key`)."""

    def __init__(
        self,
        pyregf_key: regf.Key,
        key_helper: REGFWinRegistryKeyHelper | None = None,
        key_path_prefix: str = "",
        relative_key_path: str = "",
    ) -> None:
        # What dfwinreg.interface.WinRegistryKey.__init__ sets, without its call chain
        # (a key object is made per key of a walk).
        self._key_helper = key_helper if key_helper is not None else REGFWinRegistryKeyHelper()
        self._key_path_prefix = key_path_prefix
        self._relative_key_path = relative_key_path
        self._regf_key = pyregf_key
        self._entries: list[regf.Key | OSError] | None = None
        # Values are read once per key object (plaso asks for them again and again).
        self._values: list[REGFWinRegistryValue] | None = None
        self._values_by_name: dict[str, REGFWinRegistryValue] | None = None

    #: True when the key was read from the forensic twin of the hive (below a damaged
    #: subkey list); so are the keys read through it.
    _in_twin = False
    #: True when the subkey entries came from the forensic twin.
    _children_in_twin = False

    @property
    def _pyregf_key(self) -> regf.Key:
        # Read by dfwinreg.registry.WinRegistry.MapFile (HKCU\Software\Classes).
        return self._regf_key

    @property
    def class_name(self) -> str | None:
        """The class name, or None."""
        try:
            return self._regf_key.class_name
        except regf.RegfError as exc:
            raise _os_error(f"unable to read the class of {self.path}", exc) from exc

    @property
    def last_written_time(self) -> Any:
        """dfdatetime Filetime, or SemanticTime('Not set') for 0."""
        timestamp = self._regf_key.last_written_raw
        if timestamp == 0:
            return dfdatetime_semantic_time.SemanticTime("Not set")
        return dfdatetime_filetime.Filetime(timestamp=timestamp)

    @property
    def name(self) -> str:
        """The key's name."""
        return self._regf_key.name

    @property
    def number_of_subkeys(self) -> int:
        """Number of subkeys (unreadable ones included: they raise OSError by index)."""
        return len(self._Entries())

    @property
    def number_of_values(self) -> int:
        """Number of values."""
        return int(self._regf_key.value_count)

    @property
    def offset(self) -> int:
        """File offset of the nk record (as pyregf: after the cell size)."""
        offset = self._regf_key.offset
        # A key of a file-backed hive always has one (None is for volatile keys only).
        assert offset is not None
        return offset + CELL_HEADER

    def _Entries(self) -> list[regf.Key | OSError]:
        """The subkeys in stored order, an OSError in place of each unreadable one."""
        entries = self._entries
        if entries is None:
            entries, from_twin = self._key_helper.SubkeyEntries(self._regf_key, self._in_twin)
            self._entries = entries
            self._children_in_twin = from_twin
        return entries

    def _Made(self, key: REGFWinRegistryKey | None, in_twin: bool) -> REGFWinRegistryKey | None:
        if key is not None and in_twin:
            key._in_twin = True
        return key

    def _Child(self, key: regf.Key, in_twin: bool) -> REGFWinRegistryKey | None:
        relative_key_path = key_paths.JoinKeyPath([self._relative_key_path, key.name])
        made = self._key_helper.CreateKey(self._key_path_prefix, relative_key_path, key)
        return self._Made(made, in_twin)

    def GetSubkeyByIndex(self, index: int) -> REGFWinRegistryKey | None:
        """The subkey at ``index`` (IndexError out of range, OSError if unreadable)."""
        entries = self._Entries()
        if index < 0 or index >= len(entries):
            raise IndexError("Index out of bounds.")
        entry = entries[index]
        if isinstance(entry, OSError):
            raise OSError(*entry.args)
        return self._Child(entry, self._children_in_twin)

    def GetSubkeyByName(self, name: str) -> REGFWinRegistryKey | None:
        """The subkey called ``name`` (case-insensitive), or None."""
        try:
            key = self._regf_key.subkey(name)
        except regf.NotFoundError:
            return None
        except regf.RegfError:
            # A damaged list: look among its readable entries (as pyregf would).
            wanted = upcase(name)
            for entry in self._Entries():
                if not isinstance(entry, OSError) and upcase(entry.name) == wanted:
                    return self._Child(entry, self._children_in_twin)
            return None
        return self._Child(key, self._in_twin)

    def GetSubkeyByPath(self, key_path: str) -> REGFWinRegistryKey | None:
        """The descendant at a relative path, or None."""
        try:
            key = _lookup(self._regf_key, key_path)
        except regf.RegfError as exc:
            raise _os_error(f"unable to read the subkeys of {self.path}", exc) from exc
        if key is None:
            return None
        relative_key_path = key_paths.JoinKeyPath([self._relative_key_path, key_path])
        made = self._key_helper.CreateKey(self._key_path_prefix, relative_key_path, key)
        return self._Made(made, self._in_twin)

    def GetSubkeys(self) -> Iterator[REGFWinRegistryKey]:
        """The subkeys in stored order (OSError at an unreadable one)."""
        for entry in self._Entries():
            if isinstance(entry, OSError):
                raise OSError(*entry.args)
            child = self._Child(entry, self._children_in_twin)
            if child is not None:
                yield child

    def _Values(self) -> list[REGFWinRegistryValue]:
        values = self._values
        if values is None:
            try:
                found = self._regf_key.values()
            except regf.RegfError as exc:
                raise _os_error(f"unable to read the values of {self.path}", exc) from exc
            values = self._values = [REGFWinRegistryValue(v) for v in found]
        return values

    def GetValueByName(self, name: str) -> REGFWinRegistryValue | None:
        """The value called ``name`` ("" is the default value, any case), or None."""
        by_name = self._values_by_name
        if by_name is None:
            by_name = {}
            for value in self._Values():
                # The first of equal names wins, as regf.Key.value (Windows' upcase rules).
                by_name.setdefault(upcase(value._regf_value.name), value)
            self._values_by_name = by_name
        return by_name.get(upcase(name or ""))

    def GetValues(self) -> Iterator[REGFWinRegistryValue]:
        """The values in stored order."""
        return iter(self._Values())

    def RecurseKeys(self) -> Iterator[REGFWinRegistryKey]:
        """This key and every key below it, depth-first in stored order.

        Without virtual keys below this one, regf's tree walk (the C walker, values
        read with their keys) replaces dfwinreg's recursion of generators: same keys,
        same order, same paths.
        """
        helper = self._key_helper
        hive = helper.HiveOf(self._in_twin)
        if hive is None or helper.HasVirtualKeysUnder(self._relative_key_path):
            yield from dfwinreg_interface.WinRegistryKey.RecurseKeys(self)
            return
        yield self
        start = self._regf_key
        prefix = self._key_path_prefix
        base = self._relative_key_path
        cut = len(start.path) + 1 if start.path else 0
        join = key_paths.JoinKeyPath
        # JoinKeyPath([base, sub]) is base + "\\" + sub while every name is plain (not
        # empty, no separator, no "HKEY_" start); after the first odd name, call it.
        head = join([base])
        head = "" if head == _SEP else head
        plain = True
        in_twin = self._in_twin
        walk = hive.walk(start)
        done = 1
        try:
            next(walk)  # the start key itself
            for key in walk:
                name = key.name
                if plain and (not name or _SEP in name or name.startswith("HKEY_")):
                    plain = False
                sub = key.path[cut:]
                relative_key_path = head + _SEP + sub if plain else join([base, sub])
                made = REGFWinRegistryKey(key, helper, prefix, relative_key_path)
                if in_twin:
                    made._in_twin = True
                yield made
                done += 1
        except regf.RegfError:
            # Damage below: go on key by key (same order), past the keys already given,
            # so a damaged list costs only its bad entries, as in GetSubkeys.
            self._entries = None
            rest = dfwinreg_interface.WinRegistryKey.RecurseKeys(self)
            try:
                yield from itertools.islice(rest, done, None)
            except RecursionError as exc:  # a subkey list pointing back up the tree
                raise OSError(f"keys below {self.path} form a cycle") from exc


class VirtualREGFWinRegistryKey(REGFWinRegistryKey, dfwinreg_regf.VirtualREGFWinRegistryKey):
    """A key with virtual subkeys (``CurrentControlSet``) besides its stored ones."""

    def __init__(
        self,
        name: str,
        pyregf_key: regf.Key,
        key_helper: REGFWinRegistryKeyHelper | None = None,
        key_path_prefix: str = "",
        relative_key_path: str = "",
    ) -> None:
        super().__init__(
            pyregf_key,
            key_helper=key_helper,
            key_path_prefix=key_path_prefix,
            relative_key_path=relative_key_path,
        )
        self._name = name
        self._virtual_subkeys: list[tuple[str, regf.Key]] = []
        self._virtual_subkeys_by_name: dict[str, int] = {}

    @property
    def name(self) -> str:
        """The key's name (as given: "" for a virtual root)."""
        return self._name

    @property
    def number_of_subkeys(self) -> int:
        """Stored subkeys plus virtual ones."""
        return len(self._Entries()) + len(self._virtual_subkeys)

    def _GetVirtualSubKeyByName(self, name: str) -> tuple[str | None, regf.Key | None]:
        index = self._virtual_subkeys_by_name.get(upcase(name))
        if index is None:
            return None, None
        return self._virtual_subkeys[index]

    def _Virtual(self, name: str, key: regf.Key) -> VirtualREGFWinRegistryKey:
        return VirtualREGFWinRegistryKey(
            name,
            key,
            key_helper=self._key_helper,
            key_path_prefix=self._key_path_prefix,
            relative_key_path=key_paths.JoinKeyPath([self._relative_key_path, name]),
        )

    def AddVirtualSubKey(self, name: str, subkey: regf.Key) -> None:
        """Adds a virtual subkey (ValueError if one has that name already)."""
        lookup_name = upcase(name)
        if lookup_name in self._virtual_subkeys_by_name:
            raise ValueError(f"Subkey: {name:s} already set")
        self._virtual_subkeys_by_name[lookup_name] = len(self._virtual_subkeys)
        self._virtual_subkeys.append((name, subkey))

    def GetSubkeyByIndex(self, index: int) -> REGFWinRegistryKey | None:
        """Stored subkeys first, then the virtual ones."""
        stored = len(self._Entries())
        if 0 <= index - stored < len(self._virtual_subkeys):
            return self._Virtual(*self._virtual_subkeys[index - stored])
        return super().GetSubkeyByIndex(index)

    def GetSubkeyByName(self, name: str) -> REGFWinRegistryKey | None:
        """A virtual subkey of that name, else a stored one."""
        virtual_name, virtual_key = self._GetVirtualSubKeyByName(name)
        if virtual_name is not None and virtual_key is not None:
            return self._Virtual(virtual_name, virtual_key)
        return super().GetSubkeyByName(name)

    def GetSubkeyByPath(self, key_path: str) -> REGFWinRegistryKey | None:
        """A path through a virtual subkey, else through the stored ones."""
        if key_path.startswith(_SEP):
            key_path = key_path[1:]
        first, _, rest = key_path.partition(_SEP)
        virtual_name, virtual_key = self._GetVirtualSubKeyByName(first)
        if virtual_name is None or virtual_key is None:
            return super().GetSubkeyByPath(key_path)
        if not rest:
            return self._Virtual(virtual_name, virtual_key)
        try:
            key = _lookup(virtual_key, rest)
        except regf.RegfError as exc:
            raise _os_error(f"unable to read the subkeys of {self.path}", exc) from exc
        relative_key_path = key_paths.JoinKeyPath([self._relative_key_path, key_path])
        made: REGFWinRegistryKey | None = self._key_helper.CreateKey(
            self._key_path_prefix, relative_key_path, key
        )
        return made

    def GetSubkeys(self) -> Iterator[REGFWinRegistryKey]:
        """Stored subkeys, then the virtual ones."""
        yield from super().GetSubkeys()
        for name, key in self._virtual_subkeys:
            yield self._Virtual(name, key)


class REGFWinRegistryKeyHelper(dfwinreg_regf.REGFWinRegistryKeyHelper):
    """Makes key objects, keeps the virtual keys, and reads damaged subkey lists."""

    def __init__(self) -> None:
        dfwinreg_interface.WinRegistryKeyHelper.__init__(self)
        self._virtual_keys_by_path: dict[str, tuple[str, regf.Key]] = {}
        self._virtual_subkeys_by_parent: dict[str, list[tuple[str, regf.Key]]] = {}
        self._hive: regf.Hive | None = None
        self._twin: regf.Hive | None = None

    def SetHive(self, hive: regf.Hive | None) -> None:
        """The hive keys come from (None when closed)."""
        if self._twin is not None:
            self._twin.close()
        self._hive, self._twin = hive, None

    def HiveOf(self, in_twin: bool) -> regf.Hive | None:
        """The file's hive, or (``in_twin``) its forensic twin."""
        return self._twin if in_twin else self._hive

    def HasVirtualKeysUnder(self, relative_key_path: str) -> bool:
        """Whether a virtual key hangs at or below ``relative_key_path``."""
        if not self._virtual_subkeys_by_parent:
            return False
        here = upcase(key_paths.JoinKeyPath([relative_key_path]))
        for parent in self._virtual_subkeys_by_parent:
            parent = upcase(key_paths.JoinKeyPath([parent]))
            if parent == here or parent.startswith(here.rstrip(_SEP) + _SEP):
                return True
        return False

    def SubkeyEntries(self, key: regf.Key, in_twin: bool) -> tuple[list[regf.Key | OSError], bool]:
        """``key``'s subkeys; for a damaged list, the readable ones then the errors.

        Strict regf refuses a whole subkey list when one entry is bad. pyregf fails
        only at the bad index, so the list is read again from a forensic twin of the
        hive (same bytes, ``strict=False``): its readable subkeys come first, then one
        OSError per missing entry (at least one: the strict error is never hidden).
        Returns the entries and whether they come from the twin.
        """
        try:
            return list(key.subkeys()), in_twin
        except regf.RegfError as exc:
            error = _os_error(f"unable to read a subkey of \\{key.path}", exc)
        good: list[regf.Key] = []
        hive = self._hive
        if not in_twin and hive is not None and hive.strict:
            if self._twin is None:
                self._twin = regf.open(hive.buf, strict=False, recover=False)
            try:
                good = self._twin.open_key(key.path).subkeys()
            except regf.RegfError:
                good = []
        missing = max(key.subkey_count - len(good), 1)
        return [*good, *([error] * missing)], True

    def AddVirtualKey(self, relative_key_path: str, pyregf_key: regf.Key) -> None:
        """Adds a virtual key at a path relative to the file (leading separator)."""
        lookup_key_path = upcase(relative_key_path)
        if lookup_key_path in self._virtual_keys_by_path:
            raise ValueError(f"Key: {relative_key_path:s} already set")
        self._virtual_keys_by_path[lookup_key_path] = (relative_key_path, pyregf_key)
        parent_key_path, name = relative_key_path.rsplit(_SEP, maxsplit=1)
        self._virtual_subkeys_by_parent.setdefault(upcase(parent_key_path), []).append(
            (name, pyregf_key)
        )

    def CreateKey(
        self, key_path_prefix: str, relative_key_path: str, pyregf_key: regf.Key | None
    ) -> REGFWinRegistryKey | None:
        """A key object; virtual when virtual subkeys hang below this path."""
        if pyregf_key is None:
            return None
        lookup = relative_key_path
        if lookup and not lookup.startswith(_SEP):
            # GetKeyByPath passes paths without the leading separator; virtual parents
            # are stored with it.
            lookup = _SEP + lookup
        virtual_subkeys = self._virtual_subkeys_by_parent.get(upcase(lookup))
        if not virtual_subkeys:
            return REGFWinRegistryKey(
                pyregf_key,
                key_helper=self,
                key_path_prefix=key_path_prefix,
                relative_key_path=relative_key_path,
            )
        registry_key = VirtualREGFWinRegistryKey(
            relative_key_path.rsplit(_SEP, maxsplit=1)[-1],
            pyregf_key,
            key_helper=self,
            key_path_prefix=key_path_prefix,
            relative_key_path=relative_key_path,
        )
        for name, subkey in virtual_subkeys:
            registry_key.AddVirtualSubKey(name, subkey)
        return registry_key

    def GetKeyByPath(
        self, key_path_prefix: str, relative_key_path: str
    ) -> REGFWinRegistryKey | None:
        """A key at or below a virtual key (path without leading separator), or None."""
        wanted = upcase(relative_key_path)
        for lookup_key_path, (virtual_key_path, key) in self._virtual_keys_by_path.items():
            # Stored paths start with a separator; relative_key_path does not.
            stored = lookup_key_path[1:]
            if wanted != stored and not wanted.startswith(stored + _SEP):
                continue
            registry_key = VirtualREGFWinRegistryKey(
                virtual_key_path.rsplit(_SEP, maxsplit=1)[-1],
                key,
                key_helper=self,
                key_path_prefix=key_path_prefix,
                relative_key_path=virtual_key_path[1:],
            )
            rest = relative_key_path[len(stored) :]
            return registry_key.GetSubkeyByPath(rest) if rest.strip(_SEP) else registry_key
        return None


__all__ = [
    "REGFWinRegistryFile",
    "REGFWinRegistryKey",
    "REGFWinRegistryKeyHelper",
    "REGFWinRegistryValue",
    "VirtualREGFWinRegistryKey",
]
