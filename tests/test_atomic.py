"""regf/storage/atomic.py: new files are written beside the target, fsynced, renamed over
it and the folder fsynced; a failure leaves the old file and no temporary. And no code
outside regf/storage renames files itself."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from regf.errors import InvalidArgumentError
from regf.storage.atomic import atomic_output, replace_atomically, write_new_file

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Kinds ("file" / "dir") of every fsync, in order, with the rename in between."""
    log: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        log.append("dir" if Path(f"/proc/self/fd/{fd}").resolve().is_dir() else "file")
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        log.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return log


def test_replace_atomically_writes_beside_then_renames_durably(
    tmp_path: Path, fsyncs: list[str]
) -> None:
    target_dir = tmp_path / "a" / "b"  # created (parents=True)
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_bytes(b"new")

    out = replace_atomically(target_dir / "f.bin", write, parents=True)
    assert out == target_dir / "f.bin" and out.read_bytes() == b"new"
    assert seen[0].parent == target_dir and seen[0].name == f".f.bin.regf-tmp-{os.getpid()}"
    # Data durable before the rename, the new name durable after it.
    assert fsyncs == ["file", "replace", "dir"]
    assert sorted(p.name for p in target_dir.iterdir()) == ["f.bin"]


def test_not_durable_renames_without_fsync(tmp_path: Path, fsyncs: list[str]) -> None:
    # Derived data (fleet partitions): the rename only, still never a torn file.
    out = replace_atomically(tmp_path / "g.bin", lambda t: t.write_bytes(b"x"), durable=False)
    assert out.read_bytes() == b"x" and fsyncs == ["replace"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.bin"]


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
def test_replace_atomically_failure_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    if fail_at == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    if fail_at == "replace":
        monkeypatch.setattr(os, "replace", boom)

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"torn")  # half written, then the writer fails
        if fail_at == "write":
            boom()

    with pytest.raises(OSError, match="No space"):
        replace_atomically(target, write, temp_name=".f.bin.part")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x"])
def test_temp_name_must_be_a_plain_name_in_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgumentError):
        replace_atomically(tmp_path / "f", lambda tmp: None, temp_name=name)
    assert list(tmp_path.iterdir()) == []


def test_write_new_file_and_atomic_output(tmp_path: Path, fsyncs: list[str]) -> None:
    target = tmp_path / "h.hiv"
    write_new_file(target, memoryview(b"x" * 70000))
    assert target.read_bytes() == b"x" * 70000
    assert fsyncs == ["file", "replace", "dir"]
    fsyncs.clear()
    with atomic_output(target) as fh:
        fh.write(b"exported")
        assert not target.read_bytes().startswith(b"exported")  # not visible yet
    assert target.read_bytes() == b"exported"
    assert fsyncs == ["file", "replace", "dir"]
    with pytest.raises(RuntimeError), atomic_output(target) as fh:
        fh.write(b"partial")
        raise RuntimeError("interrupted export")
    assert target.read_bytes() == b"exported"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.hiv"]


# Renaming or creating temporaries outside regf/storage, with the reason it is allowed.
_ALLOWED = {
    # ZwReplaceKey moves the caller's complete new hive file into place (RegReplaceKey
    # semantics), not a write-then-rename of data regf produced.
    ("regf/nt/keyapi.py", "os.replace"),
    # Zip members are extracted to a scratch folder to be read, never renamed anywhere.
    ("regf/fleet/extract.py", "tempfile.mkdtemp"),
}


def _renames(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr)
            in {("os", "replace"), ("os", "rename"), ("os", "renames"), ("shutil", "move")}
            | {("tempfile", n) for n in dir(__import__("tempfile")) if not n.startswith("_")}
        ):
            found.add(f"{node.value.id}.{node.attr}")
    return found


def test_only_storage_renames_files_into_place() -> None:
    hits = {
        (str(p.relative_to(ROOT)), call)
        for p in sorted((ROOT / "regf").rglob("*.py"))
        if "storage" not in p.relative_to(ROOT).parts
        for call in _renames(p)
    }
    assert hits == _ALLOWED
    # The check can fail: storage itself does rename.
    assert _renames(ROOT / "regf" / "storage" / "atomic.py") == {"os.replace"}
