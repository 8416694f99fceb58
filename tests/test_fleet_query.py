"""``regf collect`` / ``regf query`` on the bundled sample fleet, and the README queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from click.testing import CliRunner

from regf.cli import main
from regf.fleet import collect
from regf.fleet.query import NAMED, query

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "fleet"
INPUTS = sorted(str(p) for p in SAMPLE.iterdir())
BAR = ("--progress", "bar")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    o = tmp_path_factory.mktemp("fleetq") / "out"
    collect(INPUTS, o, workers=0)
    return o


def test_run_keys_across_hosts(out: Path) -> None:
    cols, rows = query(out, NAMED["run-keys"])
    got = {(r[cols.index("host")], r[cols.index("name")]) for r in rows}
    assert got == {
        ("HOST-A", "OneDrive"),
        ("HOST-A", "Teams"),
        ("HOST-A", "Updater"),  # from the dirty NTUSER's LOG2
        ("HOST-A", "SecurityHealth"),
        ("HOST-B", "SecurityHealth"),
        ("HOST-B", "Updater"),
        ("HOST-C", "SecurityHealth"),
    }


def test_rarest_services(out: Path) -> None:
    cols, rows = query(out, NAMED["rare-services"])
    first = dict(zip(cols, rows[0], strict=True))
    assert (first["service"], first["hosts"], first["on_hosts"]) == ("updsvc", 1, "HOST-B")
    assert first["image_path"] == r"C:\ProgramData\upd\updsvc.exe"
    # The other services are on both readable SYSTEM hives (HOST-C's is damaged).
    assert {r[cols.index("hosts")] for r in rows[1:]} == {2}


def test_usb_devices_by_first_seen(out: Path) -> None:
    cols, rows = query(out, NAMED["usb-devices"])
    table = [dict(zip(cols, r, strict=True)) for r in rows]
    assert [r["friendly_name"] for r in table] == [
        "Kingston DataTraveler 3.0 USB Device",
        "SanDisk Cruzer USB Device",
    ]
    sandisk = table[1]
    # Seen on both hosts; first on HOST-A (day 3) before HOST-B (day 5).
    assert (sandisk["hosts"], sandisk["first_host"]) == (2, "HOST-A")
    assert table[0]["first_seen"] < sandisk["first_seen"]


def test_empty_tables_are_typed_views(tmp_path: Path) -> None:
    o = tmp_path / "o"
    collect([SAMPLE / "velociraptor"], o, workers=0)
    for p in (o / "deleted").glob("*.parquet"):
        p.unlink()  # a table with no partitions at all
    cols, rows = query(o, "SELECT kind, file_offset FROM deleted")
    assert (cols, rows) == (["kind", "file_offset"], [])


def test_cli_collect_json_lines_when_piped(tmp_path: Path) -> None:
    o = tmp_path / "o"
    res = CliRunner().invoke(main, ["collect", *INPUTS, "-o", str(o), "--workers", "0"])
    assert res.exit_code == 0, res.output
    events = [json.loads(line) for line in res.output.splitlines()]
    assert events[0] == {"event": "start", "hives": 8, "bytes": events[0]["bytes"], "workers": 0}
    hives = [e for e in events if e["event"] == "hive"]
    assert [e["done"] for e in hives] == list(range(1, 9))
    assert hives[-1]["failed"] == 1  # HOST-C's damaged SYSTEM
    assert {"hives_per_s", "mb_per_s", "host", "status"} <= set(hives[-1])
    assert events[-1]["event"] == "done" and events[-1]["hives"] == 8


def test_cli_collect_bar(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["collect", str(SAMPLE / "plain"), "-o", str(tmp_path / "o"), "--workers", "0", *BAR],
    )
    assert res.exit_code == 0, res.output
    assert "2 hives (1 failed)" in res.output


def test_cli_query_formats(out: Path) -> None:
    r = CliRunner()
    res = r.invoke(
        main, ["query", str(out), "SELECT host, count(*) AS n FROM keys GROUP BY 1 ORDER BY 1"]
    )
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == "host\tn"
    assert [line.split("\t")[0] for line in res.output.splitlines()[1:]] == [
        "HOST-A",
        "HOST-B",
        "HOST-C",
    ]
    res = r.invoke(main, ["query", str(out), "--named", "usb-devices", "--format", "jsonl"])
    assert res.exit_code == 0, res.output
    assert len([json.loads(x) for x in res.output.splitlines()]) == 2
    res = r.invoke(
        main,
        [
            "query",
            str(out),
            'SELECT data_bin FROM "values" WHERE data_bin IS NOT NULL LIMIT 1',
            "--format",
            "csv",
        ],
    )
    assert res.exit_code == 0 and res.output.startswith("data_bin\n")
    res = r.invoke(main, ["query", str(out), "SELEC nonsense"])
    assert res.exit_code == 1 and res.output.startswith("regf: error: ")
    assert "Traceback" not in res.output
