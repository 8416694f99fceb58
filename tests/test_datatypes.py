"""Python API conveniences (issue 16 item 9): data decoders, paths, globs, walk limits."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

import regf
from regf.errors import FormatError, KeyNotFoundError
from regf.model import datatypes as D
from regf.model import paths


def test_filetime_systemtime_guid() -> None:
    ft = struct.pack("<Q", 116444736000000000 + 10_000_000 * 86400)
    assert D.filetime(b"xx" + ft, 2) == datetime(1970, 1, 2, tzinfo=UTC)
    st = struct.pack("<8H", 2019, 3, 1, 4, 10, 11, 12, 13)
    assert D.systemtime(st) == datetime(2019, 3, 4, 10, 11, 12, 13000, tzinfo=UTC)
    g = uuid.UUID("bfd09be2-4218-4d48-8eaa-6a3a2613942d")
    assert D.guid(g.bytes_le) == g
    assert D.guid_text(b"\0" + g.bytes_le, 1) == "{BFD09BE2-4218-4D48-8EAA-6A3A2613942D}"
    with pytest.raises(FormatError):
        D.filetime(b"\0" * 7)
    with pytest.raises(FormatError) as exc:
        D.systemtime(struct.pack("<8H", 2019, 13, 0, 1, 0, 0, 0, 0))
    assert exc.value.offset == 0


def _partial(rtype: int, union: bytes) -> bytes:
    return struct.pack("<BBH", rtype, 1, 0x11) + union


def test_resource_list_both_descriptor_sizes() -> None:
    port64 = _partial(1, struct.pack("<QI4x", 0x3F8, 8))
    irq64 = _partial(2, struct.pack("<HHIQ", 4, 0, 4, 1))
    dev = _partial(5, struct.pack("<I12x", 3)) + b"abc"
    full = struct.pack("<IIHHI", 15, 0, 1, 1, 3) + port64 + irq64 + dev
    rl = D.resource_list(struct.pack("<I", 1) + full)
    (desc,) = rl.descriptors
    assert desc.interface_type == 15 and [r.type_name for r in desc.resources] == [
        "Port", "Interrupt", "DeviceSpecific",
    ]  # fmt: skip
    assert desc.resources[0].fields == {"start": 0x3F8, "length": 8}
    assert desc.resources[1].fields["vector"] == 4 and desc.resources[2].device_data == b"abc"
    assert D.full_resource_descriptor(full) == desc
    # 32-bit Windows: 12-byte unions.
    port32 = _partial(1, struct.pack("<QI", 0x60, 1))
    irq32 = _partial(2, struct.pack("<III", 1, 1, 1))
    rl32 = D.resource_list(struct.pack("<IIIHHI", 1, 1, 0, 1, 1, 2) + port32 + irq32)
    res = rl32.descriptors[0].resources
    assert res[0].fields == {"start": 0x60, "length": 1}
    assert res[1].fields == {"level": 1, "vector": 1, "affinity": 1}
    with pytest.raises(FormatError):
        D.resource_list(struct.pack("<I", 1000) + full)  # counts beyond the data


def test_resource_requirements_list() -> None:
    desc = struct.pack("<BBBBHH", 0, 3, 0, 0, 0, 0) + struct.pack("<IIQQ", 0x1000, 1, 0, 2**32)
    lst = struct.pack("<HHI", 1, 1, 1) + desc
    data = struct.pack("<IIII12xI", 32 + len(lst), 5, 3, 0, 1) + lst
    rr = D.resource_requirements_list(data)
    assert (rr.interface_type, rr.bus_number, rr.list_size) == (5, 3, len(data))
    (io,) = rr.alternatives[0].resources
    assert io.type_name == "Memory" and io.fields["maximum"] == 2**32
    assert D.decode_typed(regf.REG_RESOURCE_REQUIREMENTS_LIST, data) == rr
    with pytest.raises(FormatError):
        D.resource_requirements_list(data[:-1])


@pytest.mark.corpus
def test_every_resource_value_of_a_system_hive_decodes(corpus: Path) -> None:
    path = corpus / "mkorman90__regipy/regipy_tests/data/SYSTEM_WIN_10_1709"
    kinds = {8: 0, 9: 0, 10: 0}
    with regf.open(path) as hive:
        for key in hive.walk():
            for v in key.values():
                t = int(v.type)
                if t in kinds:
                    obj = D.decode_typed(t, v.raw)
                    assert obj is not v.raw
                    kinds[t] += 1
    assert kinds[8] > 50 and kinds[10] > 50


@pytest.fixture
def hive(tmp_path: Path) -> Path:
    path = tmp_path / "h.hiv"
    with regf.create(path) as h:
        h.create_key("A\\B\\C")
        h.create_key("A\\X1\\Run")
        h.create_key("A\\x2\\Run")
        h.create_key("Z")
    return path


def test_walk_depth_filter_glob_parent_subkey(hive: Path) -> None:
    with regf.open(hive) as h:
        assert [k.path for k in h.walk(max_depth=1)] == ["", "A", "Z"]
        assert [k.path for k in h.walk("A", max_depth=1)] == ["A", "A\\B", "A\\X1", "A\\x2"]
        assert [k.path for k in h.walk(filter=lambda k: k.name == "Run")] == [
            "A\\X1\\Run", "A\\x2\\Run",
        ]  # fmt: skip
        assert [k.path for k in h.glob("a\\x?\\RUN")] == ["A\\X1\\Run", "A\\x2\\Run"]
        assert [k.path for k in h.glob("**\\C")] == ["A\\B\\C"]
        assert [k.path for k in h.glob("HKLM\\SOFTWARE\\A\\*")] == ["A\\B", "A\\X1", "A\\x2"]
        c = h.open_key("A\\B\\C")
        assert c.parent is not None and c.parent.path == "A\\B"
        assert h.root.subkey("a").subkey("b").path == "A\\B"


def test_paths_resolve_prefixes_and_errors(hive: Path) -> None:
    with regf.open(hive) as h:
        for typed in ("ROOT\\A\\B", "HKEY_USERS\\S-1\\A\\B", "\\A\\\\B\\", "HKCU\\a\\b"):
            assert paths.resolve(h.root, typed).path == "A\\B"
        with pytest.raises(KeyNotFoundError) as exc:
            paths.resolve(h.root, "A\\Nope")
        assert str(exc.value) == "no key A\\Nope"
        assert paths.match("run*", "RunOnce") and not paths.match("run?", "RunOnce")
