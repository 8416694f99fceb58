"""Security descriptors: bytes <-> records <-> SDDL (regf.format.security)."""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regf.errors import FormatError, InvalidArgumentError
from regf.format.security import (
    DEFAULT_SDDL,
    Ace,
    Acl,
    SdControl,
    SecurityDescriptor,
    Sid,
    default_descriptor,
    from_sddl,
    parse_descriptor,
)
from regf.strategies import descriptors

# ---------------------------------------------------------------------------------------
# Hand-assembled binary, independent of the module's Construct declarations.
# ---------------------------------------------------------------------------------------


def sid_bytes(text: str) -> bytes:
    parts = text.split("-")
    auth, subs = int(parts[2]), [int(p) for p in parts[3:]]
    return bytes([1, len(subs)]) + auth.to_bytes(6, "big") + struct.pack(f"<{len(subs)}I", *subs)


def ace_bytes(ace_type: int, flags: int, mask: int, sid: str, extra: bytes = b"") -> bytes:
    body = struct.pack("<I", mask) + sid_bytes(sid) + extra
    return struct.pack("<BBH", ace_type, flags, 4 + len(body)) + body


def acl_bytes(aces: list[bytes], revision: int = 2, slack: bytes = b"") -> bytes:
    body = b"".join(aces) + slack
    return struct.pack("<BBHHH", revision, 0, 8 + len(body), len(aces), 0) + body


def sd_bytes(control: int, owner: str, group: str, dacl: bytes, sacl: bytes = b"") -> bytes:
    """Windows' order: header, SACL, DACL, owner, group."""
    pos = 20
    off_sacl = pos if sacl else 0
    pos += len(sacl)
    off_dacl = pos
    pos += len(dacl)
    ob, gb = sid_bytes(owner), sid_bytes(group)
    off_owner, off_group = pos, pos + len(ob)
    head = struct.pack("<BBHIIII", 1, 0, control, off_owner, off_group, off_sacl, off_dacl)
    return head + sacl + dacl + ob + gb


RUN_KEY_SIDS = (
    "S-1-5-21-2036804247-3058324640-2116585241-1673",
    "S-1-5-18",
    "S-1-5-32-544",
    "S-1-5-12",
)

#: A typical NTUSER descriptor (shape of the Run key's: owner/group SYSTEM, 4 inherited ACEs).
KNOWN = sd_bytes(
    0x8C04,  # SELF_RELATIVE | DACL_PRESENT | DACL_AUTO_INHERITED | SACL_AUTO_INHERITED
    "S-1-5-18",
    "S-1-5-18",
    acl_bytes(
        [
            ace_bytes(0, 0x12, 0xF003F, RUN_KEY_SIDS[0]),
            ace_bytes(0, 0x12, 0xF003F, RUN_KEY_SIDS[1]),
            ace_bytes(0, 0x12, 0xF003F, RUN_KEY_SIDS[2]),
            ace_bytes(0, 0x12, 0x20019, RUN_KEY_SIDS[3]),
        ]
    ),
)
KNOWN_SDDL = (
    "O:SYG:SYD:AI(A;CIID;KA;;;S-1-5-21-2036804247-3058324640-2116585241-1673)"
    "(A;CIID;KA;;;SY)(A;CIID;KA;;;BA)(A;CIID;KR;;;RC)"
)


# ---------------------------------------------------------------------------------------
# SIDs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["S-1-5-18", "S-1-1-0", "S-1-5-21-1-2-3-1000", "S-1-16-12288", "S-1-0x0001FFFFFFFF-1"]
)
def test_sid_string_round_trip(text: str) -> None:
    sid = Sid.parse(text)
    assert str(sid) == text
    assert Sid.from_bytes(sid.to_bytes()) == sid
    assert len(sid.to_bytes()) == sid.size


def test_sid_alias_and_binary() -> None:
    assert Sid.parse("SY") == Sid(1, 5, (18,))
    assert Sid.parse("S-1-5-32-544").sddl == "BA"
    assert sid_bytes("S-1-5-32-544") == Sid.parse("BA").to_bytes()
    assert str(Sid(1, 5, ())) == "S-1-5"


@pytest.mark.parametrize("bad", ["", "S-1", "S-2-5-18", "S-1-5-x", "XX", "S-1-5-18-", "sy"])
def test_sid_parse_rejects(bad: str) -> None:
    with pytest.raises(InvalidArgumentError):
        Sid.parse(bad)


def test_sid_from_bytes_truncated() -> None:
    with pytest.raises(FormatError) as info:
        Sid.from_bytes(sid_bytes("S-1-5-21-1-2-3")[:-1], base=0x100)
    assert info.value.offset == 0x100


# ---------------------------------------------------------------------------------------
# Known descriptors
# ---------------------------------------------------------------------------------------


def test_known_descriptor_parses() -> None:
    sd = parse_descriptor(KNOWN)
    assert sd.revision == 1
    assert sd.control == 0x8C04
    assert str(sd.owner) == str(sd.group) == "S-1-5-18"
    assert sd.sacl is None
    assert sd.dacl is not None and sd.dacl.revision == 2
    assert [str(a.sid) for a in sd.dacl.aces] == list(RUN_KEY_SIDS)
    assert [a.mask for a in sd.dacl.aces] == [0xF003F] * 3 + [0x20019]
    assert all(a.type == 0 and a.flags == 0x12 for a in sd.dacl.aces)
    assert sd.sddl == KNOWN_SDDL


def test_known_descriptor_bytes_round_trip() -> None:
    sd = parse_descriptor(KNOWN)
    assert sd.to_bytes() == KNOWN
    # The canonical builder reproduces Windows' layout too (not just the stored bytes).
    assert dataclasses.replace(sd).to_bytes() == KNOWN
    # ... and the SDDL-built equivalent is the same record and the same bytes.
    again = from_sddl(KNOWN_SDDL)  # SACL_AUTO_INHERITED (no SACL) is not in SDDL
    assert again == dataclasses.replace(sd, control=0x8404)
    assert again.to_bytes() == KNOWN[:3] + b"\x84" + KNOWN[4:]


def test_sacl_comes_first() -> None:
    sacl = acl_bytes([ace_bytes(2, 0xC2, 0xD0027, "S-1-1-0")])
    dacl = acl_bytes([ace_bytes(0, 0x02, 0xF003F, "S-1-5-18")])
    data = sd_bytes(0x8014, "S-1-5-32-544", "S-1-5-18", dacl, sacl)
    sd = parse_descriptor(data)
    assert sd.sddl == "O:BAG:SYD:(A;CI;KA;;;SY)S:(AU;CISAFA;CCDCLCWPSDWDWO;;;WD)"
    assert dataclasses.replace(sd).to_bytes() == data
    assert from_sddl(sd.sddl).to_bytes() == data


def test_slack_and_odd_order_are_preserved() -> None:
    # ACL with stale bytes after its ACEs, and owner placed before the DACL.
    dacl = acl_bytes([ace_bytes(0, 0, 0x20019, "S-1-5-18")], slack=b"\xaa" * 12)
    owner = sid_bytes("S-1-5-32-544")
    head = struct.pack("<BBHIIII", 1, 0, 0x8004, 20, 0, 0, 20 + len(owner))
    data = head + owner + dacl
    sd = parse_descriptor(data)
    assert sd.to_bytes() == data
    assert sd.sddl == "O:BAD:(A;;KR;;;SY)"
    rebuilt = dataclasses.replace(sd).to_bytes()
    assert rebuilt != data
    assert parse_descriptor(rebuilt) == sd


def test_modified_descriptor_is_rebuilt() -> None:
    sd = parse_descriptor(KNOWN)
    changed = dataclasses.replace(sd, owner=Sid.parse("BA"))
    out = changed.to_bytes()
    assert out != KNOWN
    assert parse_descriptor(out).sddl == KNOWN_SDDL.replace("O:SY", "O:BA")


def test_object_ace_and_application_data() -> None:
    guid = "bf967aba-0de6-11d0-a285-00aa003049e2"
    acl = Acl(
        4,
        (
            Ace(5, 0x02, 0x30, Sid.parse("AU"), object_type=guid),
            Ace(5, 0, 0x10, Sid.parse("SY"), guid, guid),
            Ace(9, 0, 0x1, Sid.parse("WD"), application_data=b"artx\x00\x00\x00\x00"),
        ),
    )
    sd = SecurityDescriptor(control=SdControl.SELF_RELATIVE, owner=Sid.parse("SY"), dacl=acl)
    data = sd.to_bytes()
    back = parse_descriptor(data)
    assert back == dataclasses.replace(sd, control=0x8004)
    assert back.dacl is not None and back.dacl.aces[2].application_data == b"artx\0\0\0\0"
    # object ACE: header 4 + mask 4 + flags 4 + GUID 16 + SID 12
    assert struct.unpack_from("<H", data, 20 + 8 + 2)[0] == 40
    assert back.sddl == f"O:SYD:(OA;CI;RPWP;{guid};;AU)(OA;;RP;{guid};{guid};SY)(XA;;CC;;;WD)"


def test_null_dacl() -> None:
    sd = from_sddl("O:SYD:NO_ACCESS_CONTROL")
    assert sd.dacl is None and sd.dacl_present
    back = parse_descriptor(sd.to_bytes())
    assert back.sddl == "O:SYD:NO_ACCESS_CONTROL"
    assert back.to_bytes() == sd.to_bytes()


def test_opaque_ace_type_round_trips() -> None:
    body = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    raw = struct.pack("<BBH", 0x04, 0, 4 + len(body)) + body
    data = sd_bytes(0x8004, "S-1-5-18", "S-1-5-18", acl_bytes([raw]))
    sd = parse_descriptor(data)
    assert sd.dacl is not None and sd.dacl.aces[0].sid is None
    assert sd.dacl.aces[0].application_data == body
    assert dataclasses.replace(sd).to_bytes() == data


# ---------------------------------------------------------------------------------------
# SDDL
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sddl",
    [
        KNOWN_SDDL,
        DEFAULT_SDDL,
        "O:BAG:SYD:PAI(A;OICI;KA;;;SY)(A;CIIO;GA;;;CO)(D;;KW;;;WD)",
        "O:BAG:BAD:PARAI(A;CI;CCDCLCSWRPSDRC;;;BU)(A;;0x200;;;S-1-5-21-1-2-3-500)",
        "D:P(A;OICINPIO;KR;;;LS)(A;ID;RCWDWO;;;NS)(A;;0x1000020f;;;IU)",
        "O:S-1-5-21-1-2-3-1001G:S-1-5-21-1-2-3-513D:AI(A;;KA;;;CG)S:ARAI(AU;FA;KA;;;WD)",
        "S:P(ML;;NW;;;LW)",
        "D:",
        "O:ANG:AUD:(AL;CR;GR;;;PU)(A;;GW;;;RD)(A;;GX;;;AC)",
    ],
)
def test_sddl_round_trip(sddl: str) -> None:
    sd = from_sddl(sddl)
    assert sd.sddl == sddl
    back = parse_descriptor(sd.to_bytes())
    assert back == sd
    assert back.sddl == sddl


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("D:(A;;0x000F003F;;;SY)", "D:(A;;KA;;;SY)"),  # Windows prefers the alias
        ("D:(A;;KX;;;SY)", "D:(A;;KR;;;SY)"),  # KX == KR, KR comes first
        ("D:(A;;CCDC;;;S-1-5-32-544)", "D:(A;;CCDC;;;BA)"),
        ("D:(A;;983103;;;SY)", "D:(A;;KA;;;SY)"),  # decimal
        ("D:(A;;RPWPCC;;;SY)", "D:(A;;CCRPWP;;;SY)"),  # Windows orders bit names by bit
        ("D:(A;;0x200;;;SY)", "D:(A;;0x200;;;SY)"),  # no bit name: hex
        ("D:(A;CIOI;KA;;;SY)", "D:(A;OICI;KA;;;SY)"),
        (" G:SYO:BA ", "O:BAG:SY"),
    ],
)
def test_sddl_normalises_like_windows(given_: str, expected: str) -> None:
    assert from_sddl(given_).sddl == expected


@pytest.mark.parametrize(
    "bad",
    [
        "X:SY",
        "O:",
        "O:SYO:SY",
        "D:(A;;KA;;SY)",
        "D:(Q;;KA;;;SY)",
        "D:(A;XX;KA;;;SY)",
        "D:(A;;ZZ;;;SY)",
        "D:(A;;0x1FFFFFFFF;;;SY)",
        "D:(A;;KA;;;QQ)",
        "D:(A;;KA;;;SY",
        "D:(A;;KA;not-a-guid;;SY)",
        "D:(OA;;KA;not-a-guid;;SY)",
        "D:(A;;KA;;;SY)junk",
    ],
)
def test_sddl_rejects(bad: str) -> None:
    with pytest.raises(InvalidArgumentError):
        from_sddl(bad)


def test_default_descriptor() -> None:
    sd = default_descriptor()
    assert sd.sddl == DEFAULT_SDDL
    assert str(sd.owner) == "S-1-5-32-544" and str(sd.group) == "S-1-5-18"
    assert sd.dacl is not None
    assert [(a.sid.sddl if a.sid else "", a.flags, a.mask) for a in sd.dacl.aces] == [
        ("BA", 0x02, 0xF003F),
        ("SY", 0x02, 0xF003F),
        ("CO", 0x0A, 0xF003F),
        ("BU", 0x02, 0x20019),
    ]
    data = sd.to_bytes()
    assert data[:4] == b"\x01\x00\x04\x80"  # revision 1, SELF_RELATIVE | DACL_PRESENT
    # Windows' order: DACL right after the header, then owner, then group.
    dacl_size = 8 + (8 + 16) + (8 + 12) + (8 + 12) + (8 + 16)
    assert struct.unpack_from("<IIII", data, 4) == (20 + dacl_size, 20 + dacl_size + 16, 0, 20)
    assert parse_descriptor(data).to_bytes() == data


# ---------------------------------------------------------------------------------------
# Hostile input
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"", 0),
        (KNOWN[:19], 0),
        (b"\x01\x00\x04\x00" + KNOWN[4:], 2),  # not self-relative
        (KNOWN[:-1], None),  # group SID truncated
        (KNOWN[:20] + b"\x02\x00\x07\x00", 20),  # ACL size < header
        (KNOWN[:30] + struct.pack("<H", 1) + KNOWN[32:], 28),  # ACE 0 size < 4
    ],
)
def test_malformed_descriptors(data: bytes, offset: int | None) -> None:
    with pytest.raises(FormatError) as info:
        parse_descriptor(data, base=0x1000)
    if offset is not None:
        assert info.value.offset == 0x1000 + offset


def test_ace_count_larger_than_acl() -> None:
    data = bytearray(KNOWN)
    struct.pack_into("<H", data, 20 + 4, 0xFFFF)
    with pytest.raises(FormatError):
        parse_descriptor(bytes(data))


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_format_error(data: bytes) -> None:
    try:
        sd = parse_descriptor(data)
    except FormatError:
        return
    assert sd.to_bytes() == data
    _ = sd.sddl


@given(st.lists(st.tuples(st.integers(0, len(KNOWN) - 1), st.integers(0, 255)), max_size=8))
def test_mutated_descriptor_only_raises_format_error(edits: list[tuple[int, int]]) -> None:
    data = bytearray(KNOWN)
    for pos, value in edits:
        data[pos] = value
    try:
        sd = parse_descriptor(bytes(data))
    except FormatError:
        return
    assert sd.to_bytes() == bytes(data)
    _ = sd.sddl
    try:
        rebuilt = dataclasses.replace(sd).to_bytes()
    except (FormatError, InvalidArgumentError):
        return
    assert parse_descriptor(rebuilt) == dataclasses.replace(
        sd, control=sd.control | (0x4 if sd.dacl else 0) | (0x10 if sd.sacl else 0)
    )


# ---------------------------------------------------------------------------------------
# Real hives
# ---------------------------------------------------------------------------------------


def _corpus() -> Path:
    value = os.environ.get("REGF_CORPUS")
    if not value or not Path(value).is_dir():
        pytest.skip("REGF_CORPUS is not set: corpus tests skipped")
    return Path(value)


def iter_sk_descriptors(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (file offset, descriptor bytes) of every allocated sk cell."""
    off = 4096
    while off + 32 <= len(data) and data[off : off + 4] == b"hbin":
        size = struct.unpack_from("<I", data, off + 8)[0]
        if size < 32 or size % 4096 or off + size > len(data):
            break
        cell = off + 32
        while cell + 4 <= off + size:
            cell_size = struct.unpack_from("<i", data, cell)[0]
            if cell_size == 0 or abs(cell_size) % 8:
                break
            if cell_size < 0 and data[cell + 4 : cell + 6] == b"sk":
                length = struct.unpack_from("<I", data, cell + 4 + 0x10)[0]
                start = cell + 4 + 0x14
                if start + length <= cell + abs(cell_size):
                    yield start, data[start : start + length]
            cell += abs(cell_size)
        off += size


CORPUS_HIVES = [
    "mkorman90__regipy/regipy_tests/data/NTUSER.DAT",
    "mkorman90__regipy/regipy_tests/data/SYSTEM",
    "mkorman90__regipy/regipy_tests/data/UsrClass.dat",
    "mkorman90__regipy/regipy_tests/data/amcache.hve",
    "EricZimmerman__Registry/Registry.Test/Hives/SAM",
    "log2timeline__dfwinreg/test_data/SECURITY",
    "msuhanov__yarp/hives_for_tests/TwoOwnersHive",
]


@pytest.mark.corpus
@pytest.mark.parametrize("rel", CORPUS_HIVES)
def test_corpus_descriptors_round_trip(rel: str) -> None:
    path = _corpus() / rel
    if not path.is_file():
        pytest.skip(f"{rel} not in corpus")
    seen = 0
    for offset, raw in iter_sk_descriptors(path.read_bytes()):
        sd = parse_descriptor(raw, base=offset)
        assert sd.to_bytes() == raw
        text = sd.sddl
        again = from_sddl(text)
        assert again.sddl == text
        assert parse_descriptor(again.to_bytes()).sddl == text
        seen += 1
    assert seen > 0


def corpus_descriptors() -> Iterator[tuple[Path, bytes]]:
    """(hive, descriptor bytes) of every allocated sk cell of every corpus hive."""
    for path in sorted(_corpus().rglob("*")):
        if not path.is_file() or path.stat().st_size < 8192:
            continue
        data = path.read_bytes()
        if data[:4] == b"regf":
            for _offset, raw in iter_sk_descriptors(data):
                yield path, raw


@pytest.mark.corpus
def test_corpus_all_hives_parse() -> None:
    total = rebuilt_same = 0
    for _path, raw in corpus_descriptors():
        try:
            sd = parse_descriptor(raw)
        except FormatError:
            continue  # damaged test hives exist; only FormatError is allowed
        assert sd.to_bytes() == raw
        total += 1
        rebuilt_same += dataclasses.replace(sd).to_bytes() == raw
    assert total > 1000
    # Windows' SACL, DACL, owner, group order: most descriptors rebuild byte-exactly (the
    # rest carry stale bytes after their ACEs, kept via the stored original).
    assert rebuilt_same > total * 0.8


@pytest.mark.corpus
def test_corpus_ntuser_run_key_descriptor() -> None:
    path = _corpus() / "mkorman90__regipy/regipy_tests/data/NTUSER.DAT"
    if not path.is_file():
        pytest.skip("regipy NTUSER.DAT not in corpus")
    matches = []
    for _offset, raw in iter_sk_descriptors(path.read_bytes()):
        sd = parse_descriptor(raw)
        if sd.dacl is None:
            continue
        sids = tuple(str(a.sid) for a in sd.dacl.aces)
        if str(sd.owner) == str(sd.group) == "S-1-5-18" and sids == RUN_KEY_SIDS:
            matches.append(sd)
    assert matches, "no sk with the Run key's owner, group and ACEs"
    assert {sd.sddl for sd in matches} >= {
        "O:SYG:SYD:(A;OICIID;KA;;;S-1-5-21-2036804247-3058324640-2116585241-1673)"
        "(A;OICIID;KA;;;SY)(A;OICIID;KA;;;BA)(A;OICIID;KR;;;RC)"
    }


# ---------------------------------------------------------------------------------------
# Generated descriptors
# ---------------------------------------------------------------------------------------

# The strategies are public: regf.strategies (moved from here).


@given(descriptors)
def test_generated_descriptors_round_trip(sd: SecurityDescriptor) -> None:
    data = sd.to_bytes()
    back = parse_descriptor(data)
    assert back == sd
    assert back.to_bytes() == data
    text = sd.sddl
    assert from_sddl(text) == sd
    assert from_sddl(text).sddl == text


SDDL_ALPHABET = "OGDS:()-;0123456789xXAaBCDEFIKLNPRSTUWY_ "


@given(st.text(alphabet=SDDL_ALPHABET, max_size=60) | st.text(max_size=40))
def test_random_sddl_only_raises_invalid_argument(text: str) -> None:
    try:
        sd = from_sddl(text)
    except InvalidArgumentError:
        return
    assert parse_descriptor(sd.to_bytes()) == sd


@pytest.mark.parametrize("text", ["D:(A;;08;;;SY)", "D:(A;;" + "9" * 5000 + ";;;SY)"])
def test_sddl_bad_numbers(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        from_sddl(text)


def test_sddl_numbers() -> None:
    assert from_sddl("D:(A;;010;;;SY)").sddl == "D:(A;;SW;;;SY)"  # octal, like strtoul
    assert Sid.parse("S-1-05-018") == Sid.parse("S-1-5-18")
    with pytest.raises(InvalidArgumentError):
        Sid.parse("S-1-5-" + "1" * 5000)


def test_read_only_hive_parses_each_sk_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keys share a few hundred sk cells: reading every key's descriptor must not parse
    # the same cell again (a walk reading them all took ~7 s on an 11 MB hive).
    import regf
    from regf.format import security as fsec

    sample = Path(__file__).resolve().parents[1] / "fixtures" / "sample.hiv"
    calls: list[int] = []
    real = fsec.parse_descriptor

    def counting(data: bytes, base: int = 0) -> fsec.SecurityDescriptor:
        calls.append(base)
        return real(data, base)

    monkeypatch.setattr(fsec, "parse_descriptor", counting)
    with regf.open(sample) as hive:
        keys = list(hive.walk(values=False))
        by_sk: dict[int, fsec.SecurityDescriptor] = {}
        for k in keys:
            sd = k.security
            assert by_sk.setdefault(k.security_index, sd) is sd
            assert sd.to_bytes() == k.security_raw
        assert len(keys) > len(by_sk) >= 1
        assert len(calls) == len(by_sk) == len(set(calls))


def test_bad_sk_raises_for_every_key_that_names_it(tmp_path: Path) -> None:
    import regf
    from regf.errors import RegfError
    from regf.format.constants import BASE
    from regf.format.structs import SK_FIXED_SIZE

    sample = Path(__file__).resolve().parents[1] / "fixtures" / "sample.hiv"
    with regf.open(sample) as hive:
        root = hive.root
        sk = root.security_index
        assert sk is not None
    data = bytearray(sample.read_bytes())
    # Clear the descriptor's self-relative bit (bit 15 of its control word at +2).
    data[BASE + sk + 4 + SK_FIXED_SIZE + 3] &= 0x7F
    bad = tmp_path / "bad.hiv"
    bad.write_bytes(bytes(data))
    with regf.open(bad, strict=False) as hive:
        for _ in range(2):  # not cached: the second read raises too
            with pytest.raises(RegfError):
                _ = hive.root.security


# ---------------------------------------------------------------------------------------
# The fast reader equals the Construct specification


def _spec(raw: bytes) -> Any:
    """The Construct specification's outcome: the record (and its bytes and SDDL) or the
    error (type, message, offset)."""
    from regf.format import security as fsec

    try:
        sd = fsec._parse_descriptor_spec(raw, 0)
    except FormatError as e:
        return ("E", type(e).__name__, str(e), e.offset)
    return (sd, sd.to_bytes(), sd.sddl)


def _public(raw: bytes) -> Any:
    try:
        sd = parse_descriptor(raw)
    except FormatError as e:
        return ("E", type(e).__name__, str(e), e.offset)
    return (sd, sd.to_bytes(), sd.sddl)


def _fast(raw: bytes) -> Any:
    """The fast reader's outcome, None when it leaves the descriptor to the spec."""
    from regf.format import security as fsec

    sd = fsec._descriptor_fast(raw)
    return None if sd is None else (sd, sd.to_bytes(), sd.sddl)


@given(descriptors.map(lambda sd: sd.to_bytes()))
def test_fast_reader_reads_every_generated_descriptor(raw: bytes) -> None:
    fast = _fast(raw)
    assert fast is not None  # the fast path is the one taken, not a silent fallback
    assert fast == _spec(raw)


@settings(max_examples=1000)
@given(descriptors.map(lambda sd: sd.to_bytes()), st.data())
def test_fast_reader_equals_spec_on_damage(raw: bytes, data: st.DataObject) -> None:
    # Small nudges of a few bytes (sizes, counts, offsets, flags and types move by a
    # little, where the checks are) or a cut: the fast reader either leaves the
    # descriptor to the specification or gives exactly its record.
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] = (buf[pos] + data.draw(st.sampled_from([-8, -4, -1, 1, 2, 4, 8, 128]))) & 0xFF
    cut = data.draw(st.one_of(st.just(len(buf)), st.integers(0, len(buf))))
    damaged = bytes(buf[:cut])
    spec = _spec(damaged)
    fast = _fast(damaged)
    if fast is not None:
        assert fast == spec
    assert _public(damaged) == spec


@pytest.mark.corpus
def test_fast_reader_equals_spec_on_corpus() -> None:
    total = fast_hits = 0
    for path, raw in corpus_descriptors():
        total += 1
        fast = _fast(raw)
        if fast is not None:
            fast_hits += 1
            assert fast == _spec(raw), path
    assert total > 1000 and fast_hits > total * 0.95
