"""Find the primary hives in collections (directories, zips, single files) by signature.

A file is a primary hive when it starts with ``b"regf"`` and its base block's file type
is 0 (logs carry the same signature with type 1, 2 or 6); names never decide. Each hive
is paired with the non-empty ``NAME.LOG``/``.LOG1``/``.LOG2`` beside it (case-insensitive,
as Windows names them), in the same folder or zip folder.

Host rule (first that applies; ``host=`` overrides it):

1. Velociraptor zip (a top-level ``uploads/`` folder, or ``client_info.json`` /
   ``uploads.json`` at its root): ``Hostname`` (or ``Fqdn``) from ``client_info.json``,
   else ``HOST`` in the zip name ``Collection-HOST-YYYY-MM-DD...``, else the zip's stem.
2. KAPE layout: the path component just before a drive folder (``C``, ``C:``, ``C$``,
   ``C%3A``) that holds ``Windows``, ``Users``, ``Documents and Settings`` or
   ``ProgramData``. The input's own name counts as the first component, so both
   ``kape_out`` and ``kape_out/HOST`` give ``HOST``; a drive folder at the top of a
   zip gives the zip's stem. An unzipped Velociraptor collection
   (``NAME/uploads/<accessor>/C%3A/...``) gives ``HOST`` of ``NAME`` as in rule 1, else
   ``NAME``.
3. Plain layout: the first folder below the input (``INPUT/HOST/...``), or the input's
   own name when the hive sits directly in it (a single file: its folder's name).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from regf.format.fast import BASE_L

SIGNATURE = b"regf"
#: Bytes read to classify a file: the base block head (signature .. file name).
HEAD_SIZE = BASE_L.field("file_name").offset + BASE_L.field("file_name").size
LOG_SUFFIXES = (".log", ".log1", ".log2")
_FILE_TYPE = BASE_L.field("file_type")
_FILE_NAME = BASE_L.field("file_name")

#: Hive type from a (case-folded) file name, or from the name embedded in the base block.
HIVE_TYPES = {
    "ntuser.dat": "NTUSER",
    "usrclass.dat": "UsrClass",
    "system": "SYSTEM",
    "software": "SOFTWARE",
    "sam": "SAM",
    "security": "SECURITY",
    "default": "DEFAULT",
    "components": "COMPONENTS",
    "amcache.hve": "Amcache",
    "syscache.hve": "Syscache",
    "bcd": "BCD",
}

_DRIVE = re.compile(r"^([a-z]|[a-z]:|[a-z]\$|(\\\\\.\\)?[a-z]:)$", re.IGNORECASE)
_DRIVE_CHILDREN = {"windows", "users", "documents and settings", "programdata"}
_VR_NAME = re.compile(r"^Collection-(.+?)-\d{4}-\d{2}-\d{2}", re.IGNORECASE)


@dataclass(frozen=True)
class HiveRef:
    """One primary hive to collect (picklable: it is what a Dask task receives)."""

    host: str
    hive_id: str
    """Stable id: hash of host and location; names the hive's partition files."""
    hive_path: str
    """Where the hive is: a path, or ``ZIP!member`` inside a zip."""
    hive_type: str
    size: int
    file: str
    """The file to read: the hive itself, or the zip that holds it."""
    member: str | None = None
    """The zip member of the hive (None for a plain file)."""
    logs: tuple[str, ...] = field(default=())
    """Paired logs: paths, or members of the same zip."""


def classify_head(head: bytes) -> str | None:
    """``"primary"``, ``"log"`` or None (not a hive file) from a file's first bytes."""
    if len(head) < HEAD_SIZE or not head.startswith(SIGNATURE):
        return None
    return "primary" if _FILE_TYPE.unpack_from(head) == 0 else "log"


def hive_type(name: str, head: bytes) -> str:
    """Hive type from the file name, else from the base block's embedded file name."""
    t = HIVE_TYPES.get(unquote(name).casefold())
    if t is not None:
        return t
    embedded = _FILE_NAME.unpack_from(head).decode("utf-16-le", "replace").split("\0", 1)[0]
    tail = embedded.replace("/", "\\").rsplit("\\", 1)[-1].casefold()
    return HIVE_TYPES.get(tail, "other")


def make_id(host: str, hive_path: str) -> str:
    """Stable hive id (16 hex digits) from host and location."""
    return hashlib.sha256(f"{host}\0{hive_path}".encode()).hexdigest()[:16]


def _is_drive(part: str) -> bool:
    return bool(_DRIVE.match(unquote(part)))


def infer_host(parts: list[str], container: str) -> str:
    """Host of a hive at ``parts`` (folders below and including the input's own name,
    then the file name) by the KAPE and plain rules of the module docstring."""
    folders = parts[:-1]
    for i in range(len(folders) - 1):
        if _is_drive(folders[i]) and unquote(folders[i + 1]).casefold() in _DRIVE_CHILDREN:
            if i >= 2 and folders[i - 2] == "uploads":
                # An unzipped Velociraptor collection: COLLECTION/uploads/<accessor>/C%3A.
                name = folders[i - 3] if i >= 3 else container
                m = _VR_NAME.match(name)
                return m.group(1) if m else name
            return unquote(folders[i - 1]) if i > 0 else container
    if len(folders) >= 2:
        return unquote(folders[1])
    return unquote(folders[0]) if folders else container


def _logs_for(name: str, siblings: dict[str, tuple[str, int]]) -> tuple[str, ...]:
    """Non-empty logs of hive file ``name`` among ``siblings`` (casefold -> (name, size))."""
    found = []
    for suffix in LOG_SUFFIXES:
        hit = siblings.get((name + suffix).casefold())
        if hit is not None and hit[1] > 0:
            found.append(hit[0])
    return tuple(found)


def _read_head(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_SIZE)
    except OSError:
        return b""


def _scan_dir(root: Path, host: str | None) -> Iterator[HiveRef]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        filenames.sort()
        sizes: dict[str, tuple[str, int]] = {}
        for name in filenames:
            try:
                sizes[name.casefold()] = (name, os.path.getsize(os.path.join(dirpath, name)))
            except OSError:
                continue
        rel = Path(dirpath).relative_to(root).parts
        for name in filenames:
            path = os.path.join(dirpath, name)
            head = _read_head(path)
            if head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path):
                yield from _scan_zip(Path(path), host)
                continue
            if classify_head(head) != "primary":
                continue
            h = host or infer_host([root.name, *rel, name], root.name)
            logs = tuple(os.path.join(dirpath, n) for n in _logs_for(name, sizes))
            yield HiveRef(
                h,
                make_id(h, path),
                path,
                hive_type(name, head),
                sizes[name.casefold()][1],
                path,
                None,
                logs,
            )


def _velociraptor_host(zf: zipfile.ZipFile, zip_path: Path) -> str:
    try:
        info = json.loads(zf.read("client_info.json"))
        for k in ("Hostname", "hostname", "Fqdn", "fqdn"):
            if isinstance(info, dict) and isinstance(info.get(k), str) and info[k]:
                return str(info[k])
    except (KeyError, ValueError, OSError, zipfile.BadZipFile):
        pass
    m = _VR_NAME.match(zip_path.name)
    return m.group(1) if m else zip_path.stem


def _scan_zip(zip_path: Path, host: str | None) -> Iterator[HiveRef]:
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile):
        return
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = {i.filename for i in infos}
        velociraptor = bool(names & {"client_info.json", "uploads.json"}) or any(
            n.startswith("uploads/") for n in names
        )
        zip_host = _velociraptor_host(zf, zip_path) if velociraptor else zip_path.stem
        folders: dict[str, dict[str, tuple[str, int]]] = {}
        for i in infos:
            p = PurePosixPath(i.filename)
            folders.setdefault(str(p.parent), {})[p.name.casefold()] = (p.name, i.file_size)
        for i in sorted(infos, key=lambda i: i.filename):
            try:
                with zf.open(i) as fh:
                    head = fh.read(HEAD_SIZE)
            except (OSError, zipfile.BadZipFile, RuntimeError, ValueError):
                continue
            if classify_head(head) != "primary":
                continue
            p = PurePosixPath(i.filename)
            if host is not None:
                h = host
            elif velociraptor:
                h = zip_host
            else:
                h = infer_host([zip_path.stem, *p.parts], zip_path.stem)
            parent = "" if str(p.parent) == "." else f"{p.parent}/"
            logs = tuple(parent + n for n in _logs_for(p.name, folders[str(p.parent)]))
            where = f"{zip_path}!{i.filename}"
            yield HiveRef(
                h,
                make_id(h, where),
                where,
                hive_type(p.name, head),
                i.file_size,
                str(zip_path),
                i.filename,
                logs,
            )


def discover(inputs: Iterable[str | os.PathLike[str]], host: str | None = None) -> list[HiveRef]:
    """Every primary hive under ``inputs`` (folders, zips, hive files), each once, in a
    stable order. Files that are neither hives nor zips are skipped."""
    refs: dict[str, HiveRef] = {}
    for item in inputs:
        path = Path(os.path.abspath(item))
        if path.is_dir():
            found: Iterable[HiveRef] = _scan_dir(path, host)
        elif zipfile.is_zipfile(path):
            found = _scan_zip(path, host)
        else:
            found = _scan_dir_file(path, host)
        for ref in found:
            refs.setdefault(ref.hive_id, ref)
    return list(refs.values())


def _scan_dir_file(path: Path, host: str | None) -> Iterator[HiveRef]:
    """A single file given as input: a hive (logs beside it) or nothing."""
    head = _read_head(str(path))
    if classify_head(head) != "primary":
        return
    sizes: dict[str, tuple[str, int]] = {}
    try:
        for name in os.listdir(path.parent):
            try:
                sizes[name.casefold()] = (name, os.path.getsize(path.parent / name))
            except OSError:
                continue
    except OSError:
        return
    h = host or infer_host([path.parent.name, path.name], path.parent.name)
    logs = tuple(str(path.parent / n) for n in _logs_for(path.name, sizes))
    where = str(path)
    yield HiveRef(
        h,
        make_id(h, where),
        where,
        hive_type(path.name, head),
        path.stat().st_size,
        where,
        None,
        logs,
    )


__all__ = ["HIVE_TYPES", "HiveRef", "classify_head", "discover", "hive_type", "infer_host"]
