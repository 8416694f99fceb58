"""SQL over a collection's tables with DuckDB (the ``regf[query]`` extra).

Each table folder of ``OUT`` becomes a view of the same name (``keys``, ``"values"``,
``deleted``, ``timeline``, ``errors``, ``hives``; ``values`` is an SQL keyword, so quote
it). A table with no partitions is an empty view with its documented schema, so a query
never fails just because, say, no hive had deleted records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .schema import SCHEMAS


def connect(out: str | os.PathLike[str]) -> Any:
    """An in-memory DuckDB connection with one view per table of ``out``."""
    import duckdb

    con = duckdb.connect(":memory:")
    root = Path(out)
    for name, schema in SCHEMAS.items():
        folder = root / name
        if folder.is_dir() and any(folder.glob("*.parquet")):
            glob = str(folder / "*.parquet").replace("'", "''")
            source = f"read_parquet('{glob}', union_by_name=true)"
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {source}')
        else:
            con.register(f"_empty_{name}", schema.empty_table())
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "_empty_{name}"')
    return con


def query(out: str | os.PathLike[str], sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` over the tables of ``out``: (column names, rows)."""
    con = connect(out)
    try:
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description] if cur.description else []
        return columns, cur.fetchall()
    finally:
        con.close()


#: The README's forensic queries, runnable with ``regf query OUT "$(...)"`` or by name
#: (``regf query OUT --named run-keys``).
NAMED: dict[str, str] = {
    # Autostart entries (HKLM and HKCU Run / RunOnce) on every host, most widespread first.
    "run-keys": r"""
SELECT v.host, v.hive_type, v.key_path, v.name, coalesce(v.data_str, '') AS command
FROM "values" v
WHERE regexp_matches(v.key_path,
        '(^|\\)Microsoft\\Windows\\CurrentVersion\\Run(Once)?$', 'i')
ORDER BY v.name, v.host
""",
    # Services by how few hosts have them: rare ones are worth a look.
    "rare-services": r"""
SELECT split_part(key_path, '\', 3) AS service,
       count(DISTINCT host) AS hosts,
       string_agg(DISTINCT host, ', ' ORDER BY host) AS on_hosts,
       any_value(data_str) AS image_path
FROM "values"
WHERE hive_type = 'SYSTEM' AND name = 'ImagePath'
  AND regexp_matches(key_path, '^ControlSet[0-9]+\\Services\\[^\\]+$', 'i')
GROUP BY service
ORDER BY hosts, service
LIMIT 20
""",
    # USB mass-storage devices: first time each device serial was seen on any host
    # (the last-written time of its USBSTOR instance key).
    "usb-devices": r"""
SELECT split_part(k.key_path, '\', 4) AS device,
       split_part(k.key_path, '\', 5) AS serial,
       min(k.last_written) AS first_seen,
       arg_min(k.host, k.last_written) AS first_host,
       count(DISTINCT k.host) AS hosts,
       any_value(f.data_str) AS friendly_name
FROM keys k
LEFT JOIN "values" f
  ON f.hive_id = k.hive_id AND f.key_path = k.key_path AND f.name = 'FriendlyName'
WHERE k.hive_type = 'SYSTEM'
  AND regexp_matches(k.key_path, '^ControlSet[0-9]+\\Enum\\USBSTOR\\[^\\]+\\[^\\]+$', 'i')
GROUP BY device, serial
ORDER BY first_seen
""",
}

__all__ = ["NAMED", "connect", "query"]
