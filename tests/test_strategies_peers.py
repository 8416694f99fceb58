"""regf.strategies used the way the README shows: a property test of another parser
(python-registry). Its one finding is pinned as a peer bug."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

from regf.model.serialize import serialize
from regf.model.spec import KeySpec
from regf.strategies import GeneratedHive, hives

Registry = pytest.importorskip("Registry.Registry").Registry  # python-registry

C1 = {chr(c) for c in range(0x80, 0xA0)}
RUN = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def paths_of(data: bytes) -> list[str]:
    """The README example's walk: every key path python-registry reads."""

    def walk(k: Any, p: str) -> list[str]:
        return [p] + [q for s in k.subkeys() for q in walk(s, f"{p}\\{s.name()}".lstrip("\\"))]

    return sorted(walk(Registry(io.BytesIO(data)).root(), ""))


@RUN
@given(hives())
def test_python_registry_reads_every_key(h: GeneratedHive) -> None:
    """The README property, minus the names the peer bug below concerns."""
    assume(not any(set(p) & C1 for p in h.paths))
    assert paths_of(h.data) == sorted(h.paths)


def test_readme_property_finds_the_cp1252_bug() -> None:
    """Run exactly as the README shows it (no assume), the property fails, on C1 names
    only: a wrong name (0x80 read as a euro sign) or a crash (0x81 undefined in cp1252)."""

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],  # finding is enough; shrinking would take minutes
        report_multiple_bugs=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(hives())
    def readme(h: GeneratedHive) -> None:
        try:
            got = paths_of(h.data)
        except UnicodeDecodeError as exc:
            raise UnicodeDecodeError(exc.encoding, exc.object, exc.start, exc.end, "C1") from None
        assert got == sorted(h.paths), sorted(set(got) ^ set(h.paths))[:2]

    with pytest.raises((AssertionError, UnicodeDecodeError, ExceptionGroup)) as info:
        readme()
    found = getattr(info.value, "exceptions", (info.value,))
    for exc in found:
        if isinstance(exc, UnicodeDecodeError):
            assert exc.encoding == "charmap" and exc.object[exc.start] in range(0x80, 0xA0)
        else:
            assert isinstance(exc, AssertionError)
            assert any(set(p) & (C1 | {"\u20ac"}) for p in eval(str(exc).splitlines()[0]))


def test_peer_bug_python_registry_decodes_compressed_names_as_cp1252() -> None:
    """A compressed (one byte per character) name byte 0x80 is U+0080 for Windows and
    regf (Latin-1); python-registry decodes it as cp1252 and reads a euro sign."""
    data = serialize(KeySpec("ROOT", subkeys=[KeySpec("\x80")]))
    assert paths_of(data) == ["", "\u20ac"]
    # 0x81 has no cp1252 character: python-registry raises on a valid hive.
    with pytest.raises(UnicodeDecodeError):
        paths_of(serialize(KeySpec("ROOT", subkeys=[KeySpec("\x81")])))
