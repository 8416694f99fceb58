"""The mutation campaign: N labelled mutants per corpus hive, run on both backends.

    python benchmarks/fuzz_campaign.py --mutants 3            # CI (under two minutes)
    python benchmarks/fuzz_campaign.py --mutants 200 --logs 2000 --max-size 16   # long
    . fuzz/.asan/env.sh && python benchmarks/fuzz_campaign.py   # C backend under ASan+UBSan

Every primary hive of the corpus (``--corpus``, default ``$REGF_CORPUS``; generated hives
when there is none) up to ``--max-size`` MiB gets ``--mutants`` mutants
(:func:`regf.model.fuzz.mutate_labelled`, 1-3 mutations each), and ``--logs`` dirty sets
(:mod:`regf.strategies`' builder) get a damaged LOG1 (:func:`regf.model.fuzz.mutate_log`).
Each input is read completely (strict and forensic: every key, value, security
descriptor, the whole-hive check; a log set is recovered first) in one worker process
per backend (``REGF_BACKEND=c`` and ``python``), with a per-input timeout.

Outcome classes: ok, RegfError, other exception, timeout, signal. The two backends must
also agree: same outcome, same error type and offset, same digest of what was read.
Exit status 0 only when every outcome is ok or RegfError and nothing disagrees; each
finding is printed with the mutation labels that produced it. Not a timed benchmark.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("c", "python")
OK, REGF, OTHER, TIMEOUT, SIGNAL = "ok", "RegfError", "other exception", "timeout", "signal"

# ---------------------------------------------------------------------------------------
# Worker side: read one input completely and describe what happened
# ---------------------------------------------------------------------------------------


def _read(source: Any, strict: bool, digest: Any) -> None:
    import regf
    from regf.model.check import full_check

    with regf.open(source, strict=strict, recover=False) as hive:
        for key in hive.walk():
            row = f"{key.path}\0{key.class_name}\0{key.last_written}"
            digest.update(row.encode("utf-8", "surrogatepass"))
            try:
                digest.update(key.security_raw)
            except regf.RegfError:
                if strict:
                    raise
            for v in key.values():
                digest.update(f"{v.name}\0{int(v.type)}\0".encode("utf-8", "surrogatepass"))
                digest.update(v.raw)
                _ = v.data
        for problem in full_check(hive).problems:
            digest.update(str(problem).encode("utf-8", "surrogatepass"))


def _outcome(fn: Any) -> list[Any]:
    import regf

    digest = hashlib.sha1()
    try:
        fn(digest)
    except regf.RegfError as exc:
        return [REGF, type(exc).__name__, exc.offset]
    except Exception as exc:  # the campaign's whole point: report, do not crash
        return [OTHER, type(exc).__name__, str(exc)[:200]]
    return [OK, digest.hexdigest()]


def run_input(kind: str, path: str) -> list[Any]:
    """Outcomes of one input: strict and forensic reads of a hive, or of the image a
    damaged log set recovers to (after the recovery's own outcome)."""
    import warnings

    warnings.simplefilter("ignore")
    data = Path(path).read_bytes()
    if kind == "hive":
        return [_outcome(lambda d, s=s: _read(data, s, d)) for s in (True, False)]
    from regf.storage.recovery import recover

    parts = json.loads(Path(path + ".json").read_text())
    logs = [(name, data[a:b]) for name, a, b in parts["logs"]]
    primary = data[: parts["primary"]]
    image: list[bytes] = []

    def rec(digest: Any) -> None:
        img, report = recover(primary, logs)
        image.append(bytes(img))
        digest.update(repr(report.applied_entries).encode())

    out = [_outcome(rec)]
    if image:
        out += [_outcome(lambda d, s=s: _read(image[0], s, d)) for s in (True, False)]
    return out


def worker() -> None:
    """Answer one JSON request per stdin line with one JSON line."""
    import regf

    ext = sys.modules.get("regf._accel._regf_c")  # loaded only by the C backend
    where = getattr(ext, "__file__", None) or regf.__file__
    print(json.dumps({"backend": regf.BACKEND, "module": where}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        # Self-test kinds (tests/test_fuzz_campaign.py): prove that the driver classifies a
        # hang and a fatal signal, which regf itself should never produce.
        if req["kind"] == "_hang":
            time.sleep(3600)
        if req["kind"] == "_segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        print(json.dumps(run_input(req["kind"], req["path"])), flush=True)


# ---------------------------------------------------------------------------------------
# Driver side
# ---------------------------------------------------------------------------------------


class Worker:
    """A worker process on one backend; restarted after a timeout or a signal."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.proc: subprocess.Popen[str] | None = None
        self.module: str | None = None

    def start(self) -> None:
        # An existing PYTHONPATH wins: `. fuzz/.asan/env.sh` first runs the campaign on
        # the sanitized build.
        path = os.environ.get("PYTHONPATH") or str(REPO)
        env = {**os.environ, "REGF_BACKEND": self.backend, "PYTHONPATH": path}
        self.proc = subprocess.Popen(
            [sys.executable, "-P", __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        hello = json.loads(self.proc.stdout.readline())
        self.module = hello.get("module")
        if hello["backend"] != self.backend:
            raise SystemExit(f"backend {self.backend} not available (got {hello['backend']})")

    def ask(self, kind: str, path: str, timeout: float) -> list[Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        proc = self.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"kind": kind, "path": path}) + "\n")
        proc.stdin.flush()
        import selectors

        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout)
        if not ready:
            proc.kill()
            proc.wait()
            self.proc = None
            return [[TIMEOUT, f"> {timeout:g} s"]]
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            self.proc = None
            name = signal.Signals(-code).name if code < 0 else f"exit {code}"
            return [[SIGNAL, name]]
        result: list[Any] = json.loads(line)
        return result

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@dataclass
class Tally:
    executions: Counter[str] = field(default_factory=Counter)
    classes: dict[str, Counter[str]] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)


def corpus_hives(corpus: Path | None, max_bytes: int) -> tuple[list[tuple[str, bytes]], int]:
    """(name, bytes) of every primary hive of the corpus up to ``max_bytes``, and how many
    larger ones were skipped. Without a corpus (or one with no hive): six generated hives."""
    from regf.model.fuzz import generate

    generated = [(f"generated-{s}", generate(s, max_keys=60)[0]) for s in range(6)]
    if corpus is None or not corpus.is_dir():
        return generated, 0
    out, skipped = [], 0
    for p in sorted(corpus.rglob("*")):
        if not p.is_file() or p.name == "CATALOG.md":
            continue
        with open(p, "rb") as f:
            head = f.read(32)
        if head[:4] != b"regf" or head[28:32] != b"\0\0\0\0":
            continue  # not a primary hive (logs, other files)
        if p.stat().st_size > max_bytes:
            skipped += 1
            continue
        out.append((str(p.relative_to(corpus)), p.read_bytes()))
    return (out or generated), skipped


def log_sets(n: int, rng: random.Random) -> list[tuple[str, bytes, dict[str, Any], list[str]]]:
    """``n`` damaged log sets: (name, concatenated bytes, layout, mutation labels)."""
    from regf.model.fuzz import generate, mutate_log
    from regf.storage.logbuild import dirty_set

    out = []
    for i in range(n):
        fmt = "new" if i % 2 == 0 else "old"
        minor = 5 if fmt == "new" else 3
        before = generate(rng.getrandbits(32), minor=minor, max_keys=15)[0]
        after = generate(rng.getrandbits(32), minor=minor, max_keys=30)[0]
        ds = dirty_set(before, after, fmt, split=bool(i % 3 == 0))  # type: ignore[arg-type]
        bad, labels = mutate_log(
            ds.logs["LOG1"], rng.getrandbits(32), count=rng.randint(1, 3), reseal=i % 4 != 3
        )
        blobs = [ds.primary, bad, ds.logs["LOG2"]]
        layout = {"primary": len(ds.primary), "logs": []}
        pos = len(ds.primary)
        for name, blob in (("LOG1", bad), ("LOG2", ds.logs["LOG2"])):
            layout["logs"].append((name, pos, pos + len(blob)))
            pos += len(blob)
        out.append((f"logset-{i}-{fmt}", b"".join(blobs), layout, [str(m) for m in labels]))
    return out


def _compare(name: str, labels: list[str], results: dict[str, list[Any]], tally: Tally) -> None:
    for backend, outcome in results.items():
        cls = tally.classes.setdefault(backend, Counter())
        for o in outcome:
            cls[o[0]] += 1
            tally.executions[backend] += 1
            if o[0] not in (OK, REGF):
                tally.findings.append(f"{backend}: {name}: {o} after {labels}")
    a, b = (results[x] for x in BACKENDS)
    if a != b:
        tally.findings.append(f"backends disagree on {name} ({labels}): c={a} python={b}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", type=int, default=3, help="mutants per corpus hive")
    ap.add_argument("--logs", type=int, default=40, help="damaged log sets")
    ap.add_argument("--corpus", type=Path, default=os.environ.get("REGF_CORPUS") or None)
    ap.add_argument("--max-size", type=float, default=1.0, help="largest hive, MiB")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per input")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker()
        return 0
    if args.mutants < 0 or args.logs < 0 or args.timeout <= 0:
        ap.error("--mutants and --logs must be >= 0 and --timeout > 0")
    sys.path.insert(0, str(REPO))
    from regf.model.fuzz import mutate_labelled

    rng = random.Random(args.seed)
    hives, skipped = corpus_hives(args.corpus, int(args.max_size * (1 << 20)))
    workers = {b: Worker(b) for b in BACKENDS}
    tally = Tally()
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="regf-campaign-") as tmp:
            path = os.path.join(tmp, "input")
            for name, data in hives:
                for k in range(args.mutants):
                    bad, muts = mutate_labelled(
                        data, rng.getrandbits(32), count=rng.randint(1, 3), fix_checksum=k % 5 != 4
                    )
                    Path(path).write_bytes(bad)
                    labels = [str(m) for m in muts]
                    results = {b: w.ask("hive", path, args.timeout) for b, w in workers.items()}
                    _compare(f"{name} mutant {k}", labels, results, tally)
            for name, blob, layout, labels in log_sets(args.logs, rng):
                Path(path).write_bytes(blob)
                Path(path + ".json").write_text(json.dumps(layout))
                results = {b: w.ask("logs", path, args.timeout) for b, w in workers.items()}
                _compare(name, labels, results, tally)
    finally:
        for w in workers.values():
            w.stop()
    elapsed = time.perf_counter() - started
    print(
        f"{len(hives)} hives ({skipped} over {args.max_size:g} MiB skipped) x {args.mutants} "
        f"mutants, {args.logs} damaged log sets, 2 backends, {elapsed:.1f} s"
    )
    for backend in BACKENDS:
        cls = tally.classes.get(backend, Counter())
        counts = ", ".join(f"{c}: {cls.get(c, 0)}" for c in (OK, REGF, OTHER, TIMEOUT, SIGNAL))
        print(f"  {backend:6} executions: {tally.executions[backend]}  ({counts})")
        print(f"         ran {workers[backend].module}")
    disagreements = sum(1 for f in tally.findings if f.startswith("backends disagree"))
    print(f"  backend disagreements: {disagreements}")
    for finding in tally.findings[:50]:
        print(f"FINDING: {finding}")
    return 1 if tally.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
