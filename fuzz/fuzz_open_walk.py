"""Harness: open a hive from bytes and read everything, strict and forensic.

Reads every key (name, class, time, flags, security), every value (raw and decoded), the
whole-hive check and the deleted-record scan; strict mode must either read it all or raise
a RegfError, forensic mode the same (it skips more and raises less).
"""

from __future__ import annotations

import os
import sys

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import _harness

import regf
from regf.model.check import full_check
from regf.model.deleted import scan_deleted

MAX_KEYS = 20_000  # a fuzz input stays small; this bounds one execution's work


def read_all(data: bytes, strict: bool) -> None:
    with regf.open(data, strict=strict, recover=False) as hive:
        for n, key in enumerate(hive.walk()):
            if n >= MAX_KEYS:
                break
            _ = key.name, key.class_name, key.last_written, key.flags
            try:
                _ = key.security
            except regf.RegfError:
                if strict:
                    raise
            for value in key.values():
                _ = value.raw, value.data, value.type
        full_check(hive)
        if not strict:
            scan_deleted(hive)


def one_input(data: bytes) -> None:
    for strict in (True, False):
        try:
            read_all(data, strict)
        except regf.RegfError:
            continue


if __name__ == "__main__":
    _harness.main(one_input)
