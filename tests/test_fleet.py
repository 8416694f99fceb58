"""regf.fleet: discovery, host rule, tables of the bundled sample fleet (in process)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import regf  # noqa: E402
from regf.fleet import SCHEMAS, collect, discover  # noqa: E402
from regf.fleet.discover import classify_head, infer_host  # noqa: E402
from regf.fleet.write import write_partition  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "fleet"
INPUTS = sorted(str(p) for p in SAMPLE.iterdir())


def read(out: Path, table: str) -> pa.Table:
    return pq.read_table(out / table, schema=SCHEMAS[table])


def rows(out: Path, table: str) -> list[dict[str, object]]:
    return sorted(read(out, table).to_pylist(), key=lambda r: json.dumps(r, default=str))


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet") / "out"
    collect(INPUTS, out, workers=0)
    return out


# -- discovery -----------------------------------------------------------------------


def test_discover_by_signature_not_name() -> None:
    refs = discover(INPUTS)
    names = {Path(r.hive_path.split("!")[-1]).name for r in refs}
    # evidence.bin is a hive (found by signature, typed by its embedded name); the text
    # file named SAM is not; logs (same signature, file type 6) are never primaries.
    assert "evidence.bin" in names
    assert "SAM" not in names
    assert not any(n.casefold().endswith((".log1", ".log2")) for n in names)
    evidence = next(r for r in refs if r.hive_path.endswith("evidence.bin"))
    assert evidence.hive_type == "SOFTWARE"
    assert len(refs) == 8
    assert sorted({r.host for r in refs}) == ["HOST-A", "HOST-B", "HOST-C"]


def test_classify_head() -> None:
    log = SAMPLE / "kape/HOST-A/C/Users/alice/ntuser.dat.LOG2"
    hive = SAMPLE / "kape/HOST-A/C/Users/alice/NTUSER.DAT"
    assert classify_head(log.read_bytes()[:512]) == "log"
    assert classify_head(hive.read_bytes()[:512]) == "primary"
    assert classify_head(b"regf") is None  # too short to hold a base block head
    assert classify_head(b"PK\x03\x04" + bytes(600)) is None


def test_logs_paired_case_insensitively() -> None:
    refs = discover(INPUTS)
    ntuser = next(r for r in refs if r.host == "HOST-A" and r.hive_type == "NTUSER")
    assert [Path(p).name for p in ntuser.logs] == ["ntuser.dat.LOG1", "ntuser.dat.LOG2"]
    system = next(r for r in refs if r.host == "HOST-A" and r.hive_type == "SYSTEM")
    assert system.logs == ()


def test_host_rules(tmp_path: Path) -> None:
    # KAPE: the folder before the drive folder, whether the input is above or at it.
    assert infer_host(["kape", "HOST-A", "C", "Windows", "System32", "SYSTEM"], "kape") == "HOST-A"
    assert infer_host(["HOST-A", "C", "Users", "x", "NTUSER.DAT"], "HOST-A") == "HOST-A"
    assert infer_host(["out", "WS1", "C%3A", "Windows", "SYSTEM"], "out") == "WS1"
    # An unzipped Velociraptor collection: the collection folder, not the accessor.
    vr = ["in", "Collection-WS9-2026-01-02T03_04_05Z", "uploads", "auto", "C%3A", "Windows"]
    assert infer_host([*vr, "SYSTEM"], "in") == "WS9"
    # Plain: first folder below the input, or the input itself.
    assert infer_host(["plain", "HOST-C", "SYSTEM"], "plain") == "HOST-C"
    assert infer_host(["HOST-C", "SYSTEM"], "HOST-C") == "HOST-C"
    # Velociraptor zip without client_info.json: the host comes from the zip name.
    hive = SAMPLE / "kape/HOST-A/C/Windows/System32/config/SYSTEM"
    z = tmp_path / "Collection-WS-42-2026-03-04T05_06_07Z.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(hive, "uploads/auto/C%3A/Windows/System32/config/SYSTEM")
    (ref,) = discover([z])
    assert ref.host == "WS-42"
    assert ref.hive_path.endswith("!uploads/auto/C%3A/Windows/System32/config/SYSTEM")
    # A KAPE zip (no Velociraptor markers): the folder before the drive folder.
    k = tmp_path / "kape.zip"
    with zipfile.ZipFile(k, "w") as zf:
        zf.write(hive, "WS-7/C/Windows/System32/config/SYSTEM")
    assert [r.host for r in discover([k])] == ["WS-7"]
    # --host overrides every rule.
    assert {r.host for r in discover(INPUTS, host="X")} == {"X"}


def test_hive_ids_stable_and_unique() -> None:
    a, b = discover(INPUTS), discover(list(reversed(INPUTS)) + INPUTS)
    assert sorted(r.hive_id for r in a) == sorted(r.hive_id for r in b)
    assert len({r.hive_id for r in a}) == len(a)


# -- tables --------------------------------------------------------------------------


def test_schemas_as_documented(sample_out: Path) -> None:
    for name, schema in SCHEMAS.items():
        files = sorted((sample_out / name).glob("*.parquet"))
        assert len(files) == 8, name  # one partition per hive and table
        for f in files:
            assert pq.read_schema(f).remove_metadata() == schema, (name, f)
        for field in schema.names:
            assert f"``{field}``" in (regf.fleet.__doc__ or ""), (name, field)


def test_keys_and_values_match_the_api(sample_out: Path) -> None:
    hive_path = SAMPLE / "kape/HOST-A/C/Windows/System32/config/SYSTEM"
    ref = next(r for r in discover(INPUTS) if r.hive_path == str(hive_path))
    keys = [r for r in rows(sample_out, "keys") if r["hive_id"] == ref.hive_id]
    values = [r for r in rows(sample_out, "values") if r["hive_id"] == ref.hive_id]
    with regf.open(hive_path) as hive:
        want_keys = sorted((k.path, k.last_written, k.class_name) for k in hive.walk())
        want_values = sorted(
            (k.path, v.name, int(v.type_), v.data) for k in hive.walk() for v in k.values()
        )
        owner = str(hive.root.security.owner)
    assert sorted((r["key_path"], r["last_written"], r["class_name"]) for r in keys) == want_keys
    got = sorted(
        (
            r["key_path"],
            r["name"],
            r["type"],
            next(
                r[c] for c in ("data_str", "data_int", "data_list", "data_bin") if r[c] is not None
            ),
        )
        for r in values
    )
    assert got == want_values
    assert {r["host"] for r in keys} == {"HOST-A"}
    assert {r["owner"] for r in keys} == {owner}


def test_dirty_hive_recovered_from_logs(sample_out: Path) -> None:
    hives = {(r["host"], r["hive_type"]): r for r in rows(sample_out, "hives")}
    alice = hives[("HOST-A", "NTUSER")]
    assert alice["was_dirty"] and alice["recovered"]
    assert alice["logs"] == ["ntuser.dat.LOG1", "ntuser.dat.LOG2"]
    run = {
        r["name"]: r["data_str"]
        for r in rows(sample_out, "values")
        if r["hive_id"] == alice["hive_id"] and r["key_path"].endswith("CurrentVersion\\Run")
    }
    # "Updater" was flushed to LOG2 only: it is there because the log was applied.
    assert run["Updater"] == r"C:\Users\alice\AppData\Roaming\upd\upd.exe"


def test_damaged_hive_is_an_errors_row(sample_out: Path) -> None:
    errors = [r for r in rows(sample_out, "errors") if r["host"] == "HOST-C"]
    assert errors, "the damaged SYSTEM must leave rows in errors"
    walk = next(r for r in errors if r["stage"] == "walk")
    assert walk["error"] == "SignatureError"
    assert walk["file_offset"] == 0x1000 + 0x20 + 4  # root nk signature (first cell)
    hives = {r["hive_type"]: r for r in rows(sample_out, "hives") if r["host"] == "HOST-C"}
    assert hives["SYSTEM"]["status"] == "failed"
    assert hives["SOFTWARE"]["status"] == "ok"  # the healthy hive beside it is collected


def test_deleted_and_timeline(sample_out: Path) -> None:
    deleted = [r for r in rows(sample_out, "deleted") if r["host"] == "HOST-A"]
    dkeys = {r["key_path"] for r in deleted if r["kind"] == "key"}
    assert r"Microsoft\Windows\CurrentVersion\Uninstall\Dropper" in dkeys
    assert {"Dropper", "DisplayName"} <= {r["name"] for r in deleted if r["kind"] == "value"}
    tl = read(sample_out, "timeline").to_pylist()
    events = {r["event"] for r in tl}
    assert events == {"hive_written", "key_written", "deleted_key_written"}
    for hive_id in {r["hive_id"] for r in tl}:
        times = [r["filetime"] for r in tl if r["hive_id"] == hive_id]
        assert times == sorted(times)
    nkeys = read(sample_out, "keys").num_rows
    assert sum(r["event"] == "key_written" for r in tl) == nkeys


def test_every_row_stamped(sample_out: Path) -> None:
    refs = {r.hive_id: r for r in discover(INPUTS)}
    for name in SCHEMAS:
        for r in (
            read(sample_out, name).select(["host", "hive_id", "hive_path", "hive_type"]).to_pylist()
        ):
            ref = refs[r["hive_id"]]
            assert (r["host"], r["hive_path"], r["hive_type"]) == (
                ref.host,
                ref.hive_path,
                ref.hive_type,
            )


def test_recollect_replaces_partitions(tmp_path: Path, sample_out: Path) -> None:
    out = tmp_path / "out"
    collect(INPUTS, out, workers=0)
    collect(INPUTS, out, workers=0)  # same hives again: replaced, not appended
    for name in SCHEMAS:
        assert rows(out, name) == rows(sample_out, name), name
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_partition_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = pa.table({"a": [1, 2, 3]})
    final = write_partition(tmp_path, "keys", "abc", table)
    assert pq.read_table(final).num_rows == 3

    def torn(data: pa.Table, where: object, **kw: object) -> None:
        Path(str(where)).write_bytes(b"PAR1 torn")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", torn)
    with pytest.raises(OSError):
        write_partition(tmp_path, "keys", "abc", pa.table({"a": [9]}))
    # The old partition is intact and no temp file is left.
    assert pq.read_table(final).to_pydict() == {"a": [1, 2, 3]}
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["abc.parquet"]


def test_bad_input_never_stops_the_run(tmp_path: Path) -> None:
    src = tmp_path / "in" / "WS1"
    src.mkdir(parents=True)
    good = SAMPLE / "kape/HOST-A/C/Windows/System32/config/SYSTEM"
    shutil.copy(good, src / "SYSTEM")
    data = bytearray(good.read_bytes())
    (src / "TRUNC").write_bytes(bytes(data[:600]))  # base block head only
    data[0x14] = 9  # major version 9: refused at open
    (src / "V9").write_bytes(bytes(data))
    res = collect([tmp_path / "in"], tmp_path / "out", workers=0)
    status = {Path(h["hive_path"]).name: h["status"] for h in res.hives}
    assert status == {"SYSTEM": "ok", "TRUNC": "failed", "V9": "failed"}
    errs: dict[str, list[dict[str, object]]] = {}
    for r in rows(tmp_path / "out", "errors"):
        errs.setdefault(Path(str(r["hive_path"])).name, []).append(r)
    assert "SYSTEM" not in errs
    (v9,) = errs["V9"]
    assert (v9["stage"], v9["error"], v9["file_offset"]) == (
        "open",
        "UnsupportedVersionError",
        0x14,
    )
    # Forensic open of the cut file warns (file ends before the bins), then the walk fails.
    assert {r["stage"] for r in errs["TRUNC"]} >= {"open", "walk"}
    assert any("ends at" in str(r["message"]) for r in errs["TRUNC"])


def test_task_failing_outside_regf_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task that dies outside regf (here MemoryError; on a cluster, KilledWorker after
    the hive took down every worker that ran it) gives a failed hive, not a failed run."""
    distributed = pytest.importorskip("distributed")
    import regf.fleet.run as run

    real = run.timed_extract

    def flaky(ref: object) -> object:
        if getattr(ref, "hive_type", None) == "NTUSER":
            raise MemoryError("simulated")
        return real(ref)  # type: ignore[arg-type]

    monkeypatch.setattr(run, "timed_extract", flaky)
    out = tmp_path / "out"
    # Threads in this process, so the patch applies inside the tasks.
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, dashboard_address=None, silence_logs=50
        ) as lc,
        distributed.Client(lc) as client,
    ):
        res = collect(INPUTS, out, client=client)
    status = {(h["host"], h["hive_type"]): h["status"] for h in res.hives}
    assert status[("HOST-A", "NTUSER")] == status[("HOST-B", "NTUSER")] == "failed"
    assert status[("HOST-A", "SYSTEM")] == "ok"
    errs = [r for r in rows(out, "errors") if r["hive_type"] == "NTUSER"]
    assert {(r["stage"], r["error"], r["message"]) for r in errs} == {
        ("task", "MemoryError", "simulated")
    }
    assert len(read(out, "hives")) == 8
    ntuser_ids = {r["hive_id"] for r in errs}
    assert not ntuser_ids & {r["hive_id"] for r in rows(out, "keys")}


def test_lone_surrogates_stored_as_replacement() -> None:
    # Key and value names are UTF-16 and may hold lone surrogates; Arrow strings are
    # UTF-8, so those become U+FFFD instead of failing the hive.
    from regf.fleet.extract import _array

    arr = _array(["ok", "bad\ud800name", None], pa.string())
    assert arr.to_pylist() == ["ok", "bad\ufffdname", None]
    lists = _array([["a\udfffb"], None], pa.list_(pa.string()))
    assert lists.to_pylist() == [["a\ufffdb"], None]
