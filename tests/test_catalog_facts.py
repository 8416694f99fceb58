"""Reading facts from corpus/CATALOG.md §6 (upstream test suites' expected results),
checked against regf's reader. Each test names the source of its fact."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

import regf
from regf._accel import bin_chain_end

CORPUS = os.environ.get("REGF_CORPUS")
pytestmark = pytest.mark.skipif(not CORPUS, reason="REGF_CORPUS not set")


def _p(*parts: str) -> Path:
    return Path(CORPUS or "", *parts)


def _open(*parts: str, **kw: object) -> regf.Hive:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return regf.open(_p(*parts), **kw)  # type: ignore[arg-type]


REGIPY = ("mkorman90__regipy", "regipy_tests", "data")
YARP = ("msuhanov__yarp", "hives_for_tests")


def test_dfwinreg_greendale_ntuser() -> None:
    with _open("log2timeline__dfwinreg", "test_data", "NTUSER.DAT") as h:
        sw = h.open_key("Software")
        assert (len(sw.subkeys()), len(sw.values())) == (7, 0)
        assert sw.offset + 4 == 4372  # dfwinreg counts from the record, after the size
        assert sw.last_written_raw == 131205170396534120
        assert len(h.open_key("Console").values()) == 37
        assert "ColorTable14" in {v.name for v in h.open_key("Console").values()}
        assert sum(1 for _ in h.walk()) == 1597
        assert sum(1 for _ in h.walk("Software")) == 1219


def test_plaso_100_sub_keys_and_its_corrupt_variant() -> None:
    plaso = ("log2timeline__plaso", "test_data", "regf")
    with _open(*plaso, "100_sub_keys.hiv") as h:
        assert sum(1 for _ in h.walk()) == 101 and h.problems == []
    # One broken subkey-list entry: strict refuses, forensic yields 100 keys + 1 problem.
    with _open(*plaso, "corrupt_sub_key_list.hiv") as h, pytest.raises(regf.RegfError):
        list(h.walk())
    with _open(*plaso, "corrupt_sub_key_list.hiv", strict=False) as h:
        assert sum(1 for _ in h.walk()) == 100
        assert len(h.problems) == 1


def test_python_registry_reorganized_timestamp_and_access_bits() -> None:
    with _open(
        "williballenthin__python-registry", "tests", "reg_samples", "REORGANIZED_VALUES_TESTS"
    ) as h:
        assert h.base_block.last_reorganized_raw == 131132256000418650
        assert {k.access_bits for k in h.root.subkeys()} == {2}


def test_hivex_rlenvalue_data_cell_offset_and_length() -> None:
    with _open("libguestfs__hivex", "images", "rlenvalue_test_hive") as h:
        v = h.open_key("ModerateValueParent").value("33Bytes")
        # hivex's value_data_cell_offset: file offset of the cell, length incl. its size.
        assert (4096 + v.data_cell, v.size + 4) == (8712, 37)
        assert v.raw == (b"0123456789ABCDEF" * 3)[:33]


def test_yarp_offreg_hive_base_block() -> None:
    with _open(*YARP, "OffHive") as h:
        bb = h.base_block
        assert bb.offreg and bb.serialization_time_raw == 131876648849521757
        assert h.base_block.version == (1, 5)


def test_yarp_layered_keys_of_a_container_delta_hive() -> None:
    with _open(*YARP, "System_Delta") as h:
        svc = h.open_key(r"ControlSet001\Services")
        supersede = svc.subkey("xboxgipsvc").layered_bits
        assert supersede & 3 == 3 and supersede & 0x80  # IsSupersedeTree | InheritClass
        assert svc.subkey("XBOXGIP").layered_bits & 3 == 1  # IsTombstone
        display = svc.subkey("XboxNetApiSvc").value("DisplayName")
        assert display.flags & 2  # tombstone value (vk flag bit 1)


def test_yarp_single_hive_facts() -> None:
    with _open(*YARP, "EmptyHive") as h:
        assert h.root.last_written.strftime("%Y-%m-%d %H:%M:%S") == "2017-03-04 16:37:31"
        assert h.base_block.last_reorganized_raw == 0 and h.root.subkeys() == []
        assert str(h.root.security.owner) == "S-1-5-32-544"
    with _open(*YARP, "BigDataHive") as h:
        k = h.open_key("key_with_bigdata")
        assert k.value("").raw == b"1" * 16345 and k.value("V").raw == b"2" * 81725
        assert (k.value("").size, k.value("V").size) == (16345, 81725)
    with _open(*YARP, "ManySubkeysHive") as h:
        assert len(h.open_key("key_with_many_subkeys").subkeys()) == 5000
        assert h.open_key(r"KEY_WITH_MANY_SUBKEYS\4500").name == "4500"
    with _open(*YARP, "GarbageHive") as h:
        assert len(h.image.bins()) == 1 and h.image.hbins_size == 4096
    with _open(*YARP, "UnicodeHive") as h:
        assert len(h.root.security_raw) == 144


def test_yarp_effective_hive_bins_size() -> None:
    # The header declares one bin; the bins chained in the file reach 487424 bytes.
    data = _p(*YARP, "EffectiveSizeHive").read_bytes()
    with _open(*YARP, "EffectiveSizeHive") as h:
        assert h.base_block.hbins_size != 487424
    assert bin_chain_end(data[4096:], len(data) - 4096, 0) == 487424


def test_regipy_system_sam_security_bcd_facts() -> None:
    with _open(*REGIPY, "SYSTEM") as h:
        k1 = h.open_key(r"ControlSet001\Control\ComputerName\ComputerName")
        assert k1.value("ComputerName").data == "WKS-WIN732BITA"
        assert k1.last_written.isoformat() == "2010-11-10T17:18:08.718750+00:00"
        k2 = h.open_key(r"ControlSet002\Control\ComputerName\ComputerName")
        assert k2.value("ComputerName").data == "WIN-V5T3CSP8U4H"
    with _open(*REGIPY, "SAM") as h:
        v = h.open_key(r"SAM\Domains\Account").value("V").raw
        subs = [int.from_bytes(v[-12 + 4 * i : -8 + 4 * i or None], "little") for i in range(3)]
        assert "S-1-5-21-" + "-".join(map(str, subs)) == "S-1-5-21-1760460187-1592185332-161725925"
    with _open(*REGIPY, "SECURITY") as h:
        raw = h.open_key(r"Policy\PolPrDmN").value("").raw
        assert "WORKGROUP" in raw.decode("utf-16-le", "replace")
    with _open(*REGIPY, "BCD") as h:
        found = {}
        for obj in h.open_key("Objects").subkeys():
            try:
                desc = obj.open_key(r"Elements\12000004").value("Element").data
            except regf.RegfError:
                continue
            found[desc] = obj.name
        assert found["Linux Boot Manager"].startswith("{733b62de-")
        assert {"UEFI OS", "Windows Boot Manager", "Windows Resume Application"} <= set(found)
        lbm = h.open_key(rf"Objects\{found['Linux Boot Manager']}\Elements\12000002")
        assert lbm.value("Element").data == r"\EFI\systemd\systemd-bootx64.efi"


def test_eric_zimmerman_sam_records_and_big_data() -> None:
    ez = ("EricZimmerman__Registry", "Registry.Test", "Hives")
    with _open(*ez, "SAM") as h:
        dom = next(k for k in h.walk() if k.name == "Domains")
        assert (dom.offset - 4096, dom.parent_index, dom.security_index) == (0x418, 0xB0, 0x108)
        assert (dom.subkey_count, dom.value_count, dom.max_name_len) == (2, 1, 0xE)
        default = dom.value("")
        assert (default.offset - 4096, default.data_size, default.type) == (0x270, 0x80000000, 0)
        f = next(k for k in h.walk() if k.name == "000001F4").value("F")
        assert (f.offset - 4096, f.size, f.data_cell, f.type) == (0x39B8, 0x50, 0x39D8, 3)
    with _open(*ez, "UsrClassDeletedBags.dat") as h:
        tray = h.open_key(r"Local Settings\Software\Microsoft\Windows\CurrentVersion\TrayNotify")
        assert len(tray.value("PastIconsStream").raw) == 52526
