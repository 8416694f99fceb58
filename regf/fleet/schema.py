"""Arrow schemas of the tables ``regf collect`` writes (documented in :mod:`regf.fleet`).

Every table starts with the same four columns saying where a row came from:
``host``, ``hive_id`` (stable id of one hive of one host, also the partition file name),
``hive_path`` (where the hive was found; ``ZIP!member`` inside a zip) and ``hive_type``.
Times are ``timestamp[us, UTC]`` plus the stored FILETIME (``*_filetime``, exact).
Column names avoid SQL keywords (``file_offset``, ``key_count``), so queries need no
quoting except for the table name ``"values"``.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

#: Columns every table starts with.
ORIGIN: list[pa.Field] = [
    pa.field("host", pa.string(), nullable=False),
    pa.field("hive_id", pa.string(), nullable=False),
    pa.field("hive_path", pa.string(), nullable=False),
    pa.field("hive_type", pa.string(), nullable=False),
]

HIVES = pa.schema(
    [
        *ORIGIN,
        pa.field("size", pa.int64()),
        pa.field("logs", pa.list_(pa.string())),
        pa.field("root_name", pa.string()),
        pa.field("embedded_name", pa.string()),
        pa.field("version", pa.string()),
        pa.field("was_dirty", pa.bool_()),
        pa.field("recovered", pa.bool_()),
        pa.field("last_written", TS),
        pa.field("key_count", pa.int64()),
        pa.field("value_count", pa.int64()),
        pa.field("deleted_count", pa.int64()),
        pa.field("error_count", pa.int64()),
        pa.field("status", pa.string()),
    ]
)

KEYS = pa.schema(
    [
        *ORIGIN,
        pa.field("key_path", pa.string()),
        pa.field("name", pa.string()),
        pa.field("last_written", TS),
        pa.field("last_written_filetime", pa.uint64()),
        pa.field("class_name", pa.string()),
        pa.field("subkey_count", pa.int64()),
        pa.field("value_count", pa.int64()),
        pa.field("owner", pa.string()),
        pa.field("file_offset", pa.int64()),
    ]
)

VALUES = pa.schema(
    [
        *ORIGIN,
        pa.field("key_path", pa.string()),
        pa.field("name", pa.string()),
        pa.field("type", pa.int64()),
        pa.field("type_name", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("data_str", pa.string()),
        pa.field("data_int", pa.uint64()),
        pa.field("data_list", pa.list_(pa.string())),
        pa.field("data_bin", pa.binary()),
        pa.field("file_offset", pa.int64()),
    ]
)

DELETED = pa.schema(
    [
        *ORIGIN,
        pa.field("kind", pa.string()),
        pa.field("file_offset", pa.int64()),
        pa.field("key_path", pa.string()),
        pa.field("path_complete", pa.bool_()),
        pa.field("name", pa.string()),
        pa.field("last_written", TS),
        pa.field("type", pa.int64()),
        pa.field("type_name", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("data_bin", pa.binary()),
        pa.field("data_reliable", pa.bool_()),
        pa.field("source", pa.string()),
    ]
)

TIMELINE = pa.schema(
    [
        *ORIGIN,
        pa.field("time", TS),
        pa.field("filetime", pa.uint64()),
        pa.field("event", pa.string()),
        pa.field("key_path", pa.string()),
        pa.field("detail", pa.string()),
    ]
)

ERRORS = pa.schema(
    [
        *ORIGIN,
        pa.field("stage", pa.string()),
        pa.field("key_path", pa.string()),
        pa.field("error", pa.string()),
        pa.field("message", pa.string()),
        pa.field("file_offset", pa.int64()),
    ]
)

#: Table name -> schema, in the order partitions are written (``hives`` last: its
#: presence marks a hive whose every table is in place).
SCHEMAS: dict[str, pa.Schema] = {
    "keys": KEYS,
    "values": VALUES,
    "deleted": DELETED,
    "timeline": TIMELINE,
    "errors": ERRORS,
    "hives": HIVES,
}

__all__ = ["DELETED", "ERRORS", "HIVES", "KEYS", "ORIGIN", "SCHEMAS", "TIMELINE", "TS", "VALUES"]
