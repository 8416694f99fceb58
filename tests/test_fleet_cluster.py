"""regf.fleet on a real Dask ``LocalCluster`` (2 worker processes) over corpus hives.

Row for row equal to the single-process run; a worker killed (SIGKILL) while it works
on a hive leaves the output complete and without duplicate rows. These start worker
processes, so they take some seconds: marked ``slow`` (CI runs them: it deselects
nothing).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
distributed = pytest.importorskip("distributed")

from regf.fleet import SCHEMAS, collect, discover  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.corpus]

#: Corpus folders used: ~70 hives, small to 3.5 MB, clean, dirty and damaged ones.
#: dfwinreg first: its 3.5 MB UsrClass.dat is the hive the kill test interrupts.
FOLDERS = (
    "log2timeline__dfwinreg",
    "EricZimmerman__Registry",
    "libguestfs__hivex",
    "msuhanov__yarp",
)
BIG = "log2timeline__dfwinreg/test_data/UsrClass.dat"


def _inputs(corpus: Path) -> list[Path]:
    return [corpus / f for f in FOLDERS if (corpus / f).is_dir()]


def table(out: Path, name: str) -> Any:
    """A whole table, partitions in hive-id order (rows within one are in walk order,
    so two runs over the same hives give the same rows in the same order)."""
    files = sorted((out / name).glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f, schema=SCHEMAS[name]) for f in files])


@pytest.fixture(scope="module")
def single(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("single") / "out"
    collect(_inputs(corpus), out, workers=0)
    return out


@pytest.fixture
def cluster() -> Any:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        ) as lc,
        distributed.Client(lc) as client,
    ):
        yield client


def _same_tables(a: Path, b: Path) -> None:
    for name in SCHEMAS:
        ta, tb = table(a, name), table(b, name)
        assert ta.num_rows == tb.num_rows, name
        assert ta.equals(tb), name


def test_two_workers_row_for_row(corpus: Path, single: Path, tmp_path: Path, cluster: Any) -> None:
    res = collect(_inputs(corpus), tmp_path / "out", client=cluster)
    assert res.workers == 2
    assert len(res.hives) == len(discover(_inputs(corpus)))
    assert len({h["pid"] for h in res.hives}) == 2  # both workers took hives
    _same_tables(single, tmp_path / "out")


def test_worker_killed_mid_run(corpus: Path, single: Path, tmp_path: Path, cluster: Any) -> None:
    refs = discover(_inputs(corpus))
    big = next(r for r in refs if r.hive_path.endswith(BIG))
    killed: dict[str, Any] = {}

    def kill_the_big_hives_worker(event: dict[str, Any]) -> None:
        if killed or event["event"] != "hive":
            return
        for addr, keys in cluster.processing().items():
            if any(str(k).endswith(big.hive_id) for k in keys):
                pid = cluster.run(os.getpid, workers=[addr])[addr]
                os.kill(pid, signal.SIGKILL)
                killed.update(addr=addr, pid=pid, done=event["done"])
                return

    res = collect(
        _inputs(corpus), tmp_path / "out", client=cluster, progress=kill_the_big_hives_worker
    )
    assert killed, "the big hive was never seen running: nothing was killed"
    assert killed["done"] < len(refs)  # mid-run
    # The interrupted hive was run again, by another process, and completed.
    (again,) = [h for h in res.hives if h["hive_id"] == big.hive_id]
    assert again["pid"] != killed["pid"] and again["status"] != "failed"
    # Complete, no duplicates, nothing torn: the same tables as one process makes.
    assert sorted(h["hive_id"] for h in res.hives) == sorted(r.hive_id for r in refs)
    _same_tables(single, tmp_path / "out")
    assert not [p for p in (tmp_path / "out").rglob(".*")], "temp files left behind"


SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "fleet"
SAMPLE_INPUTS = sorted(SAMPLE.iterdir())


@pytest.fixture(scope="module")
def sample_single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "out"
    collect(SAMPLE_INPUTS, out, workers=0)
    return out


def test_scheduler_address_from_cli(sample_single: Path, tmp_path: Path, cluster: Any) -> None:
    from click.testing import CliRunner

    from regf.cli import main

    addr = cluster.scheduler.address
    assert addr.startswith("tcp://")
    args = ["collect", *map(str, SAMPLE_INPUTS), "-o", str(tmp_path / "out"), "--scheduler", addr]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert '"workers":2' in res.output.splitlines()[0]
    _same_tables(sample_single, tmp_path / "out")


def test_embedded_default_cluster(sample_single: Path, tmp_path: Path) -> None:
    # No client, no scheduler: a LocalCluster of one process per CPU, at most one per hive.
    res = collect(SAMPLE_INPUTS, tmp_path / "out")
    assert res.workers == min(os.cpu_count() or 1, len(res.hives))
    _same_tables(sample_single, tmp_path / "out")
