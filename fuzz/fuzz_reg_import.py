"""Harness: ``.reg`` import (decode, parse, apply to an in-memory hive, save, read back).

Decoding and parsing must accept the text or raise a typed error (the one-line CliError
for undecodable text, RegParseError with a line number); applying the operations to a
fresh hive must succeed or raise a RegfError, and the saved hive must read back and
check clean.
"""

from __future__ import annotations

import os
import sys

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import _harness

import regf
from regf.cli._common import CliError
from regf.cli.edit import apply_reg, decode_reg_file
from regf.model.check import full_check
from regf.model.regexport import RegParseError, parse_reg
from regf.model.serialize import serialize
from regf.model.spec import KeySpec

MAX_OPS = 2_000
EMPTY = serialize(KeySpec("ROOT"), minor=5, timestamp=0)


def one_input(data: bytes) -> None:
    try:
        ops = parse_reg(decode_reg_file(data))
    except (RegParseError, CliError):  # typed, one-line errors with a position
        return
    hive = regf.open(EMPTY, mode="r+")  # an in-memory copy: nothing touches a file
    try:
        apply_reg(hive, ops[:MAX_OPS], None)
        image = hive.to_bytes(timestamp=0)
    finally:
        hive.close()
    with regf.open(image) as back:
        problems = full_check(back).problems
        assert not problems, problems[:3]


if __name__ == "__main__":
    _harness.main(one_input)
