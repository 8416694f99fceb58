"""Harness: a sequence of NT registry calls (regf.nt) decoded from the input.

Each input drives a fresh :class:`regf.nt.Registry` with one new hive (in a temporary
directory) through create/open/set/query/enumerate/delete/rename/flush/close calls on a
few names and handles, then unloads it and reads the hive file back. Calls may fail with
an NTSTATUS (``NtStatusError``, a RegfError); the hive written at the end must open and
pass the whole-hive check.
"""

from __future__ import annotations

import os
import sys
import tempfile

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
import contextlib

import _harness
import atheris

import regf
from regf import nt
from regf.model.check import full_check

ROOT = r"\Registry\Machine\FUZZ"
NAMES = ["a", "A", "b", "Sub", "x\\y", "", "ß", "SS", "\u0131", "I", "long" * 70]
VALUE_NAMES = ["", "v", "V", "data", "n" * 300]
TYPES = [nt.REG_NONE, nt.REG_SZ, nt.REG_BINARY, nt.REG_DWORD, nt.REG_QWORD, 0x12345]
ACCESS = [nt.KEY_ALL_ACCESS, nt.KEY_READ, nt.KEY_WRITE, 0]
MAX_CALLS = 64


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz.hiv")
        reg = nt.Registry(lazy_flush=None)
        try:
            reg.load_hive(ROOT, path, create_new=True)
            handles = [reg.ZwOpenKey(ROOT, nt.KEY_ALL_ACCESS)]
            for _ in range(fdp.ConsumeIntInRange(0, MAX_CALLS)):
                if fdp.remaining_bytes() == 0:
                    break
                with contextlib.suppress(nt.NtStatusError):
                    step(reg, fdp, handles)
            reg.unload_hive(ROOT, force=True)
        finally:
            if not reg.closed:
                reg.close()
        with regf.open(path) as hive:
            problems = full_check(hive).problems
            assert not problems, problems[:3]


def step(reg: nt.Registry, fdp: atheris.FuzzedDataProvider, handles: list[int]) -> None:
    op = fdp.ConsumeIntInRange(0, 11)
    h = handles[fdp.ConsumeIntInRange(0, len(handles) - 1)]
    name = NAMES[fdp.ConsumeIntInRange(0, len(NAMES) - 1)]
    vname = VALUE_NAMES[fdp.ConsumeIntInRange(0, len(VALUE_NAMES) - 1)]
    if op == 0:
        access = ACCESS[fdp.ConsumeIntInRange(0, len(ACCESS) - 1)]
        options = fdp.PickValueInList([0, nt.REG_OPTION_VOLATILE])
        new, _disp = reg.ZwCreateKey(name, access, root=h, create_options=options)
        handles.append(new)
    elif op == 1:
        handles.append(reg.ZwOpenKey(name, ACCESS[fdp.ConsumeIntInRange(0, 3)], root=h))
    elif op == 2:
        vtype = TYPES[fdp.ConsumeIntInRange(0, len(TYPES) - 1)]
        reg.ZwSetValueKey(h, vname, vtype, fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 20000)))
    elif op == 3:
        reg.ZwQueryValueKey(h, vname, nt.KeyValueFullInformation)
    elif op == 4:
        reg.ZwEnumerateKey(h, fdp.ConsumeIntInRange(0, 8), nt.KeyBasicInformation)
    elif op == 5:
        reg.ZwEnumerateValueKey(h, fdp.ConsumeIntInRange(0, 8), nt.KeyValueBasicInformation)
    elif op == 6:
        reg.ZwQueryKey(h, nt.KeyFullInformation)
    elif op == 7:
        reg.ZwDeleteValueKey(h, vname)
    elif op == 8:
        reg.ZwDeleteKey(h)
    elif op == 9:
        reg.ZwRenameKey(h, name)
    elif op == 10:
        reg.ZwFlushKey(h)
    elif len(handles) > 1:
        reg.ZwClose(handles.pop(fdp.ConsumeIntInRange(1, len(handles) - 1)))


if __name__ == "__main__":
    _harness.main(one_input)
