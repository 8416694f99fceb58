"""Reader API: walk round trips over serialized hives, decoding rules, hostile input, and
the reading facts of corpus/CATALOG.md section 6.2."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regf
from regf.model.decode import decode, decode_multi_sz
from regf.model.serialize import serialize
from regf.model.spec import KeySpec, ValueSpec

T = regf.ValueType


def sample_tree() -> KeySpec:
    big = bytes(range(256)) * 100  # 25600 bytes -> db big data in a 1.5 hive
    return KeySpec(
        "ROOT",
        subkeys=[
            KeySpec(
                "Software",
                subkeys=[
                    KeySpec(
                        "Example",
                        class_name="MyClass",
                        last_written=132_000_000_000_000_000,
                        values=[
                            ValueSpec("", T.REG_SZ, "default\0".encode("utf-16-le")),
                            ValueSpec("Answer", T.REG_DWORD, (42).to_bytes(4, "little")),
                            ValueSpec("Big", T.REG_BINARY, big),
                            ValueSpec("Three", T.REG_BINARY, b"abc"),
                            ValueSpec("Multi", T.REG_MULTI_SZ, "a\0bb\0\0".encode("utf-16-le")),
                            ValueSpec("Odd", 0x12, b"\x01\x02"),
                        ],
                    ),
                    KeySpec("äöü"),
                    KeySpec("日本"),
                    KeySpec("\U0001f30e"),
                ],
            ),
        ],
    )


@pytest.fixture(scope="module")
def sample() -> bytes:
    return serialize(sample_tree())


def test_open_bytes_path_and_fileobj(sample: bytes, tmp_path: Path) -> None:
    p = tmp_path / "h.hiv"
    p.write_bytes(sample)
    for src in (sample, str(p), p, io.BytesIO(sample)):
        with regf.open(src) as h:  # type: ignore[arg-type]
            assert h.root.name == "ROOT"
            assert not h.dirty
            assert h.version == (1, 5)


def test_walk_and_values(sample: bytes) -> None:
    with regf.open(sample) as h:
        paths = [k.path for k in h.walk()]
        assert paths[0] == "" and "Software\\Example" in paths
        k = h.open_key("SOFTWARE\\example")  # case-insensitive
        assert k.name == "Example" and k.class_name == "MyClass"
        assert k.last_written == datetime(2019, 4, 17, 18, 40, tzinfo=UTC)
        assert k.value("").data == "default"
        assert k.value("answer").data == 42
        assert k.value("Big").raw == bytes(range(256)) * 100
        assert k.value("Three").raw == b"abc"
        assert k.value("Multi").data == ["a", "bb"]
        odd = k.value("Odd")
        assert odd.type == 0x12 and odd.type.name == "REG_UNKNOWN_0x12" and odd.data == b"\x01\x02"
        names = {s.name for s in h.open_key("Software").subkeys()}
        assert names == {"Example", "äöü", "日本", "\U0001f30e"}
        assert h.open_key("software\\ÄÖÜ").name == "äöü"
        with pytest.raises(regf.KeyNotFoundError) as e:
            h.open_key("Software\\Nope")
        assert isinstance(e.value, regf.RegfError)
        with pytest.raises(regf.ValueNotFoundError):
            k.value("nope")


@pytest.mark.parametrize(
    ("vtype", "raw", "expected"),
    [
        (T.REG_DWORD, b"\x01", 1),  # short DWORD (offreg writes these: plaso #3632)
        (T.REG_DWORD, b"", 0),
        (T.REG_DWORD, b"\x01\0\0\0\xff\xff", 1),
        (T.REG_DWORD_BIG_ENDIAN, b"\0\0\0\x2a", 42),
        (T.REG_QWORD, b"\xff" * 8, 2**64 - 1),
        (T.REG_SZ, "abc".encode("utf-16-le") + b"\0", "abc"),  # odd length
        (T.REG_SZ, "abc".encode("utf-16-le"), "abc"),  # unterminated
        (T.REG_SZ, "ab\0junk".encode("utf-16-le"), "ab"),
        (T.REG_SZ, b"\x00\xd8", "\ud800"),  # lone surrogate kept
        (T.REG_MULTI_SZ, b"", []),
        (T.REG_MULTI_SZ, "a\0bb\0ccc\0\0\0".encode("utf-16-le"), ["a", "bb", "ccc", ""]),
        (T.REG_MULTI_SZ, "x\0y".encode("utf-16-le"), ["x", "y"]),  # no terminator
        (T.REG_BINARY, b"\x00\x01", b"\x00\x01"),
        (0x10, b"12345678", b"12345678"),
    ],
)
def test_decode_never_raises(vtype: int, raw: bytes, expected: object) -> None:
    assert decode(vtype, raw) == expected


@given(st.integers(0, 2**32 - 1), st.binary(max_size=64))
def test_decode_total(vtype: int, raw: bytes) -> None:
    decode(vtype, raw)
    decode_multi_sz(raw)


def _walk_all(h: regf.Hive) -> int:
    n = 0
    for k in h.walk():
        _ = (k.class_name, k.last_written)
        for v in k.values():
            _ = (v.raw, v.data)
            n += 1
    return n


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_mutated_hives_raise_only_regf_errors(sample: bytes, data: st.DataObject) -> None:
    buf = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        buf = buf[: data.draw(st.integers(0, len(buf)))]
    for strict in (True, False):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with regf.open(bytes(buf), strict=strict) as h:
                    _walk_all(h)
        except regf.RegfError as exc:
            assert str(exc)


def test_errors_name_offsets(sample: bytes) -> None:
    bad = bytearray(sample)
    bad[0:4] = b"xxxx"
    with pytest.raises(regf.SignatureError) as e:
        regf.open(bytes(bad))
    assert e.value.offset == 0
    with pytest.raises(regf.TruncatedError):
        regf.open(sample[:6000])
    with regf.open(sample[:6000], strict=False) as h:
        assert h.warnings


def test_cycle_in_subkey_list_is_detected(sample: bytes) -> None:
    # Point the first subkey list element of the root at the root itself.
    with regf.open(sample) as h:
        root = h.root
        lst = root._f[9]
        start, _ = h.image.cell(lst)
    buf = bytearray(sample)
    buf[start + 4 : start + 8] = root.index.to_bytes(4, "little")
    with regf.open(bytes(buf)) as h2, pytest.raises(regf.StructureError):
        list(h2.walk())
    with regf.open(bytes(buf), strict=False) as h3:
        list(h3.walk())
        assert any(isinstance(p, regf.StructureError) for p in h3.problems)


def test_dirty_without_logs_opens_with_warning(sample: bytes) -> None:
    buf = bytearray(sample)
    buf[4:8] = (7).to_bytes(4, "little")  # Seq1 != Seq2; checksum now wrong too
    with pytest.warns(regf.DirtyHiveWarning), regf.open(bytes(buf)) as h:
        assert h.dirty and h.root.name == "ROOT"


def test_read_only_open_never_writes(sample: bytes, tmp_path: Path) -> None:
    p = tmp_path / "h.hiv"
    p.write_bytes(sample)
    before = p.stat().st_mtime_ns
    with regf.open(p) as h:
        _walk_all(h)
    assert p.read_bytes() == sample and p.stat().st_mtime_ns == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["h.hiv"]


# -- corpus facts (CATALOG.md section 6.2) ---------------------------------------------


def test_regipy_ntuser_header_facts(corpus: Path) -> None:
    with regf.open(corpus / "mkorman90__regipy/regipy_tests/data/NTUSER.DAT") as h:
        bb = h.base_block
        assert (bb.seq1, bb.seq2, bb.minor, bb.root_cell, bb.hbins_size) == (
            749,
            749,
            3,
            32,
            733184,
        )
        assert bb.last_written_raw == 129782982453388850 and bb.checksum == 476614345
        assert bb.file_name.endswith("\\C:\\Users\\vibranium\\ntuser.dat")
        r = h.root
        assert r.name == "CMI-CreateHive{6A1C4018-979D-4291-A7DC-7AED1C75B67C}"
        assert (r.subkey_count, r.value_count, r.access_bits) == (11, 0, 2)
        kf = regf.KeyFlags
        assert r.flags == kf.HIVE_ENTRY | kf.NO_DELETE | kf.COMP_NAME
        assert (r.parent_index, r.security_index, r._f[9]) == (1968, 1376, 73760)
        assert r.last_written_raw == 129780243434537497 and r.max_name_len == 40
        run = h.open_key(r"Software\Microsoft\Windows\CurrentVersion\Run")
        assert run.last_written_raw == 129779615948377168
        first = run.values()[0]
        assert first.name == "Sidebar" and first.type == T.REG_EXPAND_SZ
        keys = list(h.walk())
        assert len(keys) == 1812
        counts: dict[str, int] = {}
        for k in keys:
            for v in k.values():
                counts[v.type.name] = counts.get(v.type.name, 0) + 1
        assert sum(counts.values()) == 4094
        assert counts == {
            "REG_BINARY": 531,
            "REG_DWORD": 1336,
            "REG_EXPAND_SZ": 93,
            "REG_MULTI_SZ": 303,
            "REG_NONE": 141,
            "REG_QWORD": 54,
            "REG_SZ": 1636,
        }


def test_regipy_amcache_counts(corpus: Path) -> None:
    with regf.open(corpus / "mkorman90__regipy/regipy_tests/data/amcache.hve") as h:
        keys = list(h.walk())
        assert len(keys) == 2105
        assert sum(len(k.values()) for k in keys) == 17539


def test_regipy_system2_unknown_type(corpus: Path) -> None:
    with regf.open(corpus / "mkorman90__regipy/regipy_tests/data/SYSTEM_2", recover=False) as h:
        k = h.open_key(
            r"ControlSet001\Enum\ACPI\ACPI0003\0\Properties"
            r"\{83da6326-97a6-4088-9453-a1923f573b29}\0003"
        )
        (v,) = k.values()
        # Stored type is 0xFFFF0012 (device property: 0xFFFF0000 | DEVPROP_TYPE 0x12);
        # the catalog's "18" is regipy masking it. Unknown types are kept exactly.
        assert v.name == "" and v.type == 0xFFFF0012 and v.type & 0xFFFF == 0x12
        assert regf.model.decode.utf16(v.raw).rstrip("\0") == (
            "cmbatt.inf:db04a16c09a7808a:AcAdapter_Inst:6.3.9600.16384:ACPI\\ACPI0003"
        )


def test_dissect_system_class_names(corpus: Path) -> None:
    with regf.open(corpus / "fox-it__dissect.regf/tests/_data/SYSTEM", recover=False) as h:
        assert h.root.subkey_count == 17
        lsa = h.open_key(r"ControlSet001\Control\Lsa")
        want = {"JD": "cdebfed5", "Skew1": "7db4e11c", "GBG": "b185f3f2", "Data": "a282942c"}
        for name, cls in want.items():
            assert lsa.subkey(name).class_name == cls
        k = h.open_key(r"ControlSet001\Services\Tcpip\Parameters\DNSRegisteredAdapters")
        assert k.class_name == "DynDRootClass"


def test_nt_hive_testhive_facts(corpus: Path) -> None:
    with regf.open(corpus / "ColinFinck__nt-hive/testdata/testhive") as h:
        b = h.open_key("big-data-test")
        assert [len(b.value(n).raw) for n in "ABC"] == [16343, 16344, 16345]
        assert b.value("C").raw == b"C" * 16345
        c = h.open_key("character-encoding-test")
        assert c.subkey("\uff21").index == c.subkey("\uff41").index
        assert c.subkey("\U00010410").index != c.subkey("\U00010438").index
        d = h.open_key("data-test")
        assert d.value("dword").data == 42
        # offreg stored 42's little-endian bytes under the big-endian type.
        assert d.value("dword-big-endian").data == 42 << 24
        assert d.value("qword").data == 2**64 - 1
        assert d.value("binary").data == bytes([1, 2, 3, 4, 5])
        assert d.value("reg-multi-sz").data == ["multi-sz-test", "line2"]
        assert d.value("reg-multi-sz-big").data == ["0123456789" * 820, "0123456789"]
        subs = [k.name for k in h.open_key("subkey-test").subkeys()]
        assert len(subs) == 512
        assert subs == sorted(subs, key=regf._accel.sort_key)
        h.open_key(r"subpath-test\with-two-levels-of-subkeys")


def test_corrupted_system_hive_readable(corpus: Path) -> None:
    p = corpus / "mkorman90__regipy/regipy_tests/data/corrupted_system_hive"
    with regf.open(p, strict=False, recover=False) as h:
        k = h.open_key(r"ControlSet001\Services\Abiosdsk")
        # FILETIME 128690849093281250 is exactly .328125 s; regipy's ".328124" in the
        # catalog comes from float arithmetic. regf converts with integers.
        assert k.last_written_raw == 128690849093281250
        assert k.last_written.isoformat() == "2008-10-21T17:48:29.328125+00:00"
        got = {v.name: v.data for v in k.values()}
        assert got == {"ErrorControl": 0, "Group": "Primary disk", "Start": 4, "Tag": 3, "Type": 1}


def test_misc_single_facts(corpus: Path) -> None:
    with regf.open(corpus / "williballenthin__python-registry/tests/reg_samples/issue22.hive") as h:
        assert h.root.value("TimeZoneKeyName").data == "W. Europe Standard Time"
    y = corpus / "msuhanov__yarp/hives_for_tests"
    with regf.open(y / "BigDataHive") as h:
        sizes = sorted(len(v.raw) for k in h.walk() for v in k.values())
        assert 16345 in sizes and 81725 in sizes
    with regf.open(y / "ManySubkeysHive") as h:
        assert max(k.subkey_count for k in h.walk()) == 5000
    ez = corpus / "EricZimmerman__Registry/Registry.Test/Hives"
    with regf.open(ez / "SAM_hasBigEndianDWord") as h:
        v = h.open_key(r"SAM\Domains\Account\Aliases").value("")
        assert v.type == T.REG_DWORD_BIG_ENDIAN and v.data == 0


def test_duplicate_sibling_names_are_structural_errors(corpus: Path) -> None:
    """yarp's DuplicateSubkeysHive lists key "4500" twice: strict raises, forensic reads."""
    p = corpus / "msuhanov__yarp/hives_for_tests/DuplicateSubkeysHive"
    with regf.open(p) as h, pytest.raises(regf.StructureError) as e:
        list(h.walk())
    assert e.value.offset is not None and "4500" in str(e.value)
    with regf.open(p, strict=False) as h2:
        paths = [k.path for k in h2.walk()]
        assert paths.count("key_with_many_subkeys\\4500") == 2
