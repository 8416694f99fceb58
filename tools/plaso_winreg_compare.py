"""Run plaso's Windows Registry parser over hives with pyregf and with regf; compare.

plaso's ``winreg`` parser (every plugin enabled) reads a hive through
``dfwinreg.regf.REGFWinRegistryFile``; here it runs twice per hive, once as shipped
(pyregf) and once with ``regf.contrib.dfwinreg`` in its place, and the event data and
extraction warnings it produces are compared::

    pip install plaso            # a few minutes; brings dfVFS and the libyal bindings
    python tools/plaso_winreg_compare.py HIVE [HIVE ...]

Exit status 0 when every hive gives the same event data (and the same number of
warnings) both ways. tests/test_contrib_dfwinreg_plaso.py runs the same comparison on
corpus hives when plaso is installed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def run_plaso(path: str | Path, backend: Any) -> tuple[list[dict[str, Any]], list[str], float]:
    """plaso's winreg parser over ``path`` with ``backend`` as its dfwinreg.regf module.

    Returns the event data (as dicts, dfdatetime values as (class, date-time string)),
    the extraction warnings' messages, and the parse time in seconds.
    """
    from dfvfs.lib import definitions as dfvfs_definitions
    from dfvfs.path import factory
    from dfvfs.resolver import resolver
    from plaso.parsers import mediator as parsers_mediator
    from plaso.parsers import (
        winreg_parser,
        winreg_plugins,  # noqa: F401 - registers the plugins
    )
    from plaso.storage.fake import writer as fake_writer

    shipped = winreg_parser.dfwinreg_regf
    winreg_parser.dfwinreg_regf = backend
    try:
        storage_writer = fake_writer.FakeStorageWriter()
        storage_writer.Open()
        mediator = parsers_mediator.ParserMediator()
        mediator.SetStorageWriter(storage_writer)
        path_spec = factory.Factory.NewPathSpec(
            dfvfs_definitions.TYPE_INDICATOR_OS, location=str(Path(path).resolve())
        )
        file_entry = resolver.Resolver.OpenFileEntry(path_spec)
        mediator.SetFileEntry(file_entry)
        parser = winreg_parser.WinRegistryParser()
        parser.EnablePlugins(parser.ALL_PLUGINS)
        file_object = file_entry.GetFileObject()
        start = time.perf_counter()
        parser.Parse(mediator, file_object)
        seconds = time.perf_counter() - start
        event_data = [
            _plain(e.CopyToDict()) for e in storage_writer.GetAttributeContainers("event_data")
        ]
        warnings = [w.message for w in storage_writer.GetAttributeContainers("extraction_warning")]
        storage_writer.Close()
        return event_data, warnings, seconds
    finally:
        winreg_parser.dfwinreg_regf = shipped


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        if hasattr(value, "CopyToDateTimeString"):
            value = (type(value).__name__, value.CopyToDateTimeString())
        out[name] = value
    return out


def compare(path: str | Path) -> list[str]:
    """Differences between plaso on pyregf and plaso on regf for one hive (empty: none)."""
    from dfwinreg import regf as dfwinreg_regf

    from regf.contrib import dfwinreg as regf_backend

    theirs, their_warnings, _ = run_plaso(path, dfwinreg_regf)
    ours, our_warnings, _ = run_plaso(path, regf_backend)
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{len(ours)} event data with regf, {len(theirs)} with pyregf")
    for mine, peer in zip(ours, theirs, strict=False):
        if mine != peer:
            keys = sorted(k for k in set(mine) | set(peer) if mine.get(k) != peer.get(k))
            where = mine.get("key_path") or peer.get("key_path")
            problems.append(f"{where}: {', '.join(keys)} differ")
    if len(our_warnings) != len(their_warnings):
        problems.append(
            f"{len(our_warnings)} warnings with regf, {len(their_warnings)} with pyregf"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hives", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = 0
    for path in args.hives:
        problems = compare(path)
        print(f"{path}: {'same events' if not problems else f'{len(problems)} differences'}")
        for line in problems[:20]:
            print(f"  {line}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
