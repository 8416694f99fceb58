"""Harness: transaction log recovery.

The input is ``primary``, ``LOG1`` and ``LOG2`` (split by :func:`_harness.split_parts`).
Recovery must apply the logs or raise a RegfError; a recovered image must then open and
walk (strictly, or raise a RegfError).
"""

from __future__ import annotations

import os
import sys

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import _harness

import regf
from regf.storage.recovery import recover


def one_input(data: bytes) -> None:
    primary, log1, log2 = _harness.split_parts(data, 3)
    image, _report = recover(primary, [("LOG1", log1), ("LOG2", log2)])
    with regf.open(bytes(image), recover=False) as hive:
        for key in hive.walk():
            key.values()


if __name__ == "__main__":
    _harness.main(one_input)
