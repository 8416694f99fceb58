"""One hive -> its rows in every table (the work of one Dask task).

The hive is opened in forensic mode (``strict=False``) with its paired logs, so damage
skips records instead of losing the hive; every skipped record, warning and failure
becomes an ``errors`` row carrying the RegfError's class and file offset. Nothing here
raises for a bad hive: a hive that cannot be opened at all gives one ``errors`` row and
a ``hives`` row with status ``failed``.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

import regf
from regf.errors import RegfError

from .discover import HiveRef
from .schema import ORIGIN, SCHEMAS

#: FILETIME of 1970-01-01 (100 ns units since 1601).
_UNIX_EPOCH_FT = 116_444_736_000_000_000


#: 9999-12-31 23:59:59.999999 UTC in microseconds since 1970: the latest time Python
#: (and so ``regf``'s ``Key.last_written``) can represent.
_MAX_US = 253_402_300_799_999_999


def ft_to_us(ft: int) -> int:
    """FILETIME -> microseconds since 1970 (what ``timestamp[us]`` stores), clamped to
    year 9999 like :attr:`regf.Key.last_written`; ``*_filetime`` columns keep the exact
    value of absurd stored times."""
    return min((ft - _UNIX_EPOCH_FT) // 10, _MAX_US)


@functools.lru_cache(maxsize=512)
def _type_name(t: int) -> str:
    try:
        return regf.ValueType(t).name
    except ValueError:
        return f"REG_UNKNOWN_{t:#x}"


class _Tables:
    """Rows of every table for one hive; the origin columns are added when converting.

    Rows are tuples in schema order without the four origin columns. The hot tables
    (keys, values, timeline) are appended to directly, in that order."""

    def __init__(self, ref: HiveRef) -> None:
        self.ref = ref
        #: Temp folder a zip member was extracted to: messages name the member instead.
        self.tmp: str | None = None
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in SCHEMAS}
        self.fields = {name: schema.names[len(ORIGIN) :] for name, schema in SCHEMAS.items()}

    def add(self, table: str, **row: Any) -> None:
        self.rows[table].append(tuple(row.get(f) for f in self.fields[table]))

    def error(self, stage: str, exc: BaseException | str, key_path: str | None = None) -> None:
        if isinstance(exc, str):
            msg = self.untemp(exc)
            self.add("errors", stage=stage, key_path=key_path, error="warning", message=msg)
            return
        offset = exc.offset if isinstance(exc, RegfError) else None
        message = exc.message if isinstance(exc, RegfError) else str(exc)
        if not isinstance(exc, RegfError | OSError):
            message = f"internal error: {message}"
        message = self.untemp(message)
        self.add(
            "errors",
            stage=stage,
            key_path=key_path,
            error=type(exc).__name__,
            message=message,
            file_offset=offset,
        )

    def untemp(self, message: str) -> str:
        """``message`` naming the zip member instead of its temp copy (``tmp/hive`` and
        ``tmp/hive.LOG1`` become ``ZIP!member`` and ``ZIP!member.LOG1``)."""
        return message if self.tmp is None else message.replace(self.tmp, self.ref.hive_path)

    def count(self, table: str) -> int:
        return len(self.rows[table])

    def to_arrow(self) -> dict[str, pa.Table]:
        ref = self.ref
        origin = (ref.host, ref.hive_id, ref.hive_path, ref.hive_type)
        out = {}
        for name, schema in SCHEMAS.items():
            rows = self.rows[name]
            n = len(rows)
            cols = list(zip(*rows, strict=True)) if rows else [()] * len(self.fields[name])
            arrays = [pa.array([v] * n, pa.string()) for v in origin]
            arrays += [
                _array(c, f.type) for c, f in zip(cols, list(schema)[len(ORIGIN) :], strict=True)
            ]
            out[name] = pa.Table.from_arrays(arrays, schema=schema)
        return out


def _clean(v: Any) -> Any:
    """Text Arrow can store: lone UTF-16 surrogates (legal in key names) become U+FFFD."""
    if isinstance(v, str):
        # Round trip through UTF-16: a split pair joins, a lone half becomes U+FFFD.
        return v.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _array(data: Any, type_: pa.DataType) -> pa.Array:
    try:
        return pa.array(data, type=type_)
    except (UnicodeEncodeError, pa.ArrowException):
        return pa.array([_clean(x) for x in data], type=type_)


@contextmanager
def _materialized(ref: HiveRef) -> Iterator[tuple[str, list[str]]]:
    """The hive's path and its logs' paths; zip members are extracted to a temp folder."""
    if ref.member is None:
        yield ref.file, list(ref.logs)
        return
    tmp = tempfile.mkdtemp(prefix="regf-fleet-")
    try:
        with zipfile.ZipFile(ref.file) as zf:

            def out(member: str, name: str) -> str:
                dest = os.path.join(tmp, name)
                with zf.open(member) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                return dest

            primary = out(ref.member, "hive")
            logs = [out(m, f"hive{os.path.splitext(m)[1]}") for m in ref.logs]
        yield primary, logs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _owner(key: Any, cache: dict[int, str | None]) -> str | None:
    idx = key.security_index
    if idx not in cache:
        owner = key.security.owner
        cache[idx] = None if owner is None else str(owner)
    return cache[idx]


def _walk(hive: Any, t: _Tables) -> None:
    owners: dict[int, str | None] = {}
    # Appended in schema order (see schema.KEYS / VALUES / TIMELINE), without origin.
    key_rows, value_rows, timeline = t.rows["keys"], t.rows["values"], t.rows["timeline"]
    for key in hive.walk():
        path = key.path
        ft = key.last_written_raw
        try:
            cls = key.class_name
        except RegfError as exc:
            t.error("key", exc, path)
            cls = None
        try:
            owner = _owner(key, owners)
        except RegfError as exc:
            t.error("security", exc, path)
            owners[key.security_index] = owner = None
        try:
            values = key.values()
        except RegfError as exc:
            t.error("values", exc, path)
            values = []
        us = ft_to_us(ft)
        key_rows.append(
            (path, key.name, us, ft, cls, key.subkey_count, key.value_count, owner, key.offset)
        )
        timeline.append((us, ft, "key_written", path, f"{len(values)} values"))
        for v in values:
            value_rows.append(_value(v, path, t))


def _value(v: Any, path: str, t: _Tables) -> tuple[Any, ...]:
    """A ``values`` row (schema order, without origin); data in its typed column."""
    vtype = int(v.type_)
    try:
        data = v.data
    except RegfError as exc:
        t.error("value", exc, path)
        data = None
    s = i = lst = b = None
    if isinstance(data, str):
        s = data
    elif isinstance(data, list):
        lst = data
    elif isinstance(data, int):
        i = data
    elif data is not None:
        b = data
    return (path, v.name, vtype, _type_name(vtype), v.size, s, i, lst, b, v.offset)


def _deleted(hive: Any, t: _Tables) -> None:
    found = regf.scan_deleted(hive)
    for k in found.keys:
        ft = k.last_written_raw
        t.add(
            "deleted",
            kind="key",
            file_offset=k.offset,
            key_path=k.path,
            path_complete=k.path_complete,
            name=k.name,
            last_written=ft_to_us(ft),
            source=k.source,
        )
        t.add(
            "timeline",
            time=ft_to_us(ft),
            filetime=ft,
            event="deleted_key_written",
            key_path=k.path,
            detail=f"{k.source} cell at {k.offset:#x}",
        )
    # A deleted key's values name it only through the key record: give them its path.
    owners = {v.offset: k.path for k in found.keys for v in k.values}
    for v in found.values:
        t.add(
            "deleted",
            kind="value",
            file_offset=v.offset,
            key_path=v.owner if v.owner is not None else owners.get(v.offset),
            name=v.name,
            type=v.type,
            type_name=_type_name(v.type),
            size=None if v.raw is None else len(v.raw),
            data_bin=v.raw,
            data_reliable=v.data_reliable,
            source=v.source,
        )


def _sort_timeline(t: _Tables) -> None:
    # Row layout: (time, filetime, event, key_path, detail).
    t.rows["timeline"].sort(key=lambda r: (r[1], r[3] or "", r[2]))


def extract(ref: HiveRef) -> dict[str, pa.Table]:
    """Every table's rows for the hive ``ref`` (never raises for a bad hive)."""
    t = _Tables(ref)
    info: dict[str, Any] = {"status": "failed"}
    try:
        with _materialized(ref) as (path, logs), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if ref.member is not None:
                t.tmp = path
            with regf.open(path, strict=False, logs=logs) as hive:
                _read_hive(hive, t, info)
    except Exception as exc:
        # RegfError / OSError / BadZipFile are expected; anything else is a bug in regf,
        # recorded as "internal error" rather than stopping the fleet run.
        t.error("open", exc)
    errors = t.count("errors")
    t.add(
        "hives",
        size=ref.size,
        logs=[os.path.basename(p) for p in ref.logs],
        key_count=t.count("keys"),
        value_count=t.count("values"),
        deleted_count=t.count("deleted"),
        error_count=errors,
        **info,
    )
    _sort_timeline(t)
    return t.to_arrow()


def _read_hive(hive: Any, t: _Tables, info: dict[str, Any]) -> None:
    bb = hive.base_block
    info.update(
        root_name=None,
        embedded_name=bb.file_name,
        version=f"{bb.major}.{bb.minor}",
        was_dirty=bool(hive.was_dirty),
        recovered=hive.recovery is not None,
        last_written=ft_to_us(bb.last_written_raw) if bb.last_written_raw else None,
        status="partial",
    )
    for w in hive.warnings:
        t.error("open", w)
    if bb.last_written_raw:
        t.add(
            "timeline",
            time=ft_to_us(bb.last_written_raw),
            filetime=bb.last_written_raw,
            event="hive_written",
            detail=bb.file_name,
        )
    try:
        info["root_name"] = hive.root.name
        _walk(hive, t)
    except Exception as exc:  # keep the rows read so far (see extract)
        t.error("walk", exc)
    for problem in hive.problems:
        t.error("record", problem)
    try:
        _deleted(hive, t)
    except Exception as exc:
        t.error("deleted", exc)
    if t.count("errors") == 0:
        info["status"] = "ok"
    else:
        # Opened but not one key readable (e.g. a damaged root): nothing was collected.
        info["status"] = "partial" if t.count("keys") else "failed"


def timed_extract(ref: HiveRef) -> tuple[dict[str, pa.Table], float]:
    """:func:`extract` and the seconds it took."""
    start = time.perf_counter()
    tables = extract(ref)
    return tables, time.perf_counter() - start


__all__ = ["extract", "ft_to_us", "timed_extract"]
