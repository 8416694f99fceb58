"""Fleet scale: many hives from many hosts as Parquet tables, on one machine or Dask.

``collect(paths, out, client=None)`` finds every primary hive under ``paths`` (folders,
KAPE and Velociraptor zips, single files; by signature, see :mod:`regf.fleet.discover`
for the host rule), pairs it with its ``.LOG1``/``.LOG2``, reads it in forensic mode on
Dask (one task per hive) and writes one Parquet file per hive and table:
``OUT/<table>/<hive_id>.parquet``, written atomically (temp name, then rename).
``regf.fleet.query`` runs SQL over them with DuckDB.

Tables (every one starts with ``host``, ``hive_id``, ``hive_path``, ``hive_type``;
times are ``timestamp[us, UTC]``; ``*_filetime`` keeps the exact stored FILETIME):

``keys``
    ``key_path`` (from the root, root = ``""``), ``name``, ``last_written``,
    ``last_written_filetime``, ``class_name``, ``subkey_count``, ``value_count``,
    ``owner`` (SID string of the security descriptor's owner), ``file_offset`` (nk cell).
``values``
    ``key_path``, ``name`` (``""`` = default value), ``type`` (number),
    ``type_name``, ``size`` (declared bytes), data in exactly one typed column:
    ``data_str`` (SZ, EXPAND_SZ, LINK), ``data_int`` (DWORD, DWORD_BIG_ENDIAN, QWORD;
    uint64), ``data_list`` (MULTI_SZ), ``data_bin`` (everything else); ``file_offset`` (vk).
    All data columns are null when the data could not be read (an ``errors`` row
    says why).
``deleted``
    what :func:`regf.scan_deleted` finds: ``kind`` (key/value), ``file_offset``,
    ``key_path`` (a key's path, or a value's owner), ``path_complete``, ``name``,
    ``last_written`` (keys), ``type``, ``type_name``, ``size``, ``data_bin``,
    ``data_reliable``, ``source`` (free, unreferenced, slack).
``timeline``
    ``time``, ``filetime``, ``event`` (``hive_written``, ``key_written``,
    ``deleted_key_written``), ``key_path``, ``detail``; sorted by time within a hive.
``errors``
    one row per hive or record that could not be read, and per warning: ``stage``
    (open, walk, key, security, values, value, record, deleted, task), ``key_path``,
    ``error`` (the RegfError class, ``warning``, or another exception's class),
    ``message``, ``file_offset`` (file offset, when the error has one).
``hives``
    one row per hive: ``size``, ``logs``, ``root_name``, ``embedded_name``,
    ``version``, ``was_dirty``, ``recovered``, ``last_written``, row counts
    (``key_count``, ``value_count``, ``deleted_count``, ``error_count``) and
    ``status`` (``ok``; ``partial``: some records unreadable; ``failed``: not one key
    readable). Written last for each hive: its presence means the hive is complete.
"""

from __future__ import annotations

from .discover import HiveRef, discover
from .extract import extract
from .run import CollectResult, collect, process_hive
from .schema import SCHEMAS

__all__ = ["SCHEMAS", "CollectResult", "HiveRef", "collect", "discover", "extract", "process_hive"]
