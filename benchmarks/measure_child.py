"""One measurement in a fresh process: `python -m benchmarks.measure_child METHOD --workdir DIR ...`.

Run by measure_rules (and the streaming test) so that each method's peak memory is its own: the process
loads its inputs, records its RSS, runs the method `--rounds` times (after one warm-up round), records its
peak RSS (VmHWM, the kernel's high-water mark of its memory, read before any checking), then checks its output
against the engine's and prints one JSON line. POLARS_MAX_THREADS must be set in the environment by the
caller: Polars reads it once, at import.

Files in DIR (written by measure_rules.prepare): cohort.parquet (the validated cohort, typed),
engine.parquet (the engine's decisions on it), raw.csv and raw.parquet (the same users as generated, for
the load timings).
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa

from benchmarks import handwritten_numpy, handwritten_polars, per_record
from benchmarks.same_decisions import decision_differences
from benchmarks.scenarios import RULESET
from engine import Cohort, load_ruleset
from engine.apply_files import apply_file
from engine.decisions import Decisions
from engine.decisions_provenance import inputs_digest
from engine.evaluate_batch import decisions_from_frame
from engine.pipeline import CompiledRuleset


class Method(enum.Enum):
    ENGINE = "engine"
    POLARS = "handwritten_polars"
    NUMPY = "handwritten_numpy"
    DUCKDB = "duckdb_sql"
    REFERENCE = "reference"
    DURABLE = "durable_rules"
    LOAD_CSV = "load_csv"
    LOAD_PARQUET = "load_parquet"
    STREAM = "apply_file_stream"


COHORT, ENGINE, RAW_CSV, RAW_PARQUET = "cohort.parquet", "engine.parquet", "raw.csv", "raw.parquet"


@dataclass(slots=True)
class Measurement:
    method: str
    users: int  # users per timed round
    threads: int  # Polars' pool size, DuckDB's threads, or 1 for single-threaded methods
    rounds: int
    best_s: float
    median_s: float
    cpu_s: float  # CPU time (all threads) of the fastest round: robust to other processes, blind to parallelism
    others_cpu: float  # CPU cores busy with other processes during the timed part (0 = the machine was ours)
    rss_inputs_mb: float  # after loading the inputs, before the first round
    peak_rss_mb: float  # high-water mark up to the end of the timed rounds
    correct: bool
    problems: list[str] = field(default_factory=list)
    note: str = ""


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    """This process's peak RSS: VmHWM, the high-water mark of its own address space.

    Not ru_maxrss: on Linux that survives fork and exec (exec_mmap keeps the old address space's high-water mark),
    so a child started by a parent holding 800 MB reports at least 800 MB, whatever it used itself.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _machine_busy_s() -> float:
    """CPU seconds spent by every process on the machine since boot (/proc/stat, all CPUs, not idle)."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class _Others:
    """How many cores other processes kept busy between start() and cores()."""

    def start(self) -> None:
        self.wall, self.busy, self.own = time.perf_counter(), _machine_busy_s(), time.process_time()

    def cores(self) -> float:
        wall = time.perf_counter() - self.wall
        others = (_machine_busy_s() - self.busy) - (time.process_time() - self.own)
        return max(0.0, others / wall) if wall > 0 else 0.0


def _time(run: Callable[[], object], rounds: int) -> tuple[list[tuple[float, float]], object]:
    """(wall seconds, CPU seconds) of each round, and the warm-up round's result (the one that is checked)."""
    result = run()
    times: list[tuple[float, float]] = []
    for _ in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    return times, result


@dataclass(frozen=True, slots=True)
class _Prepared:
    users: int
    threads: int
    run: Callable[[], object]
    check: Callable[[object], list[str]]  # the problems with what `run` returned; empty when correct
    note: str = ""


def measure(method: Method, workdir: Path, rounds: int, threads: int, sample: int, chunk_rows: int,
            stream_source: Path | None) -> Measurement:
    ruleset = load_ruleset(RULESET)
    if method is Method.STREAM:
        assert stream_source is not None, "--stream-source is needed for apply_file_stream"
        return _measure_stream(ruleset, stream_source, workdir / "stream_out.parquet", chunk_rows)
    if method in (Method.REFERENCE, Method.DURABLE):
        return _measure_per_record(method, ruleset, workdir, sample)
    if method in (Method.LOAD_CSV, Method.LOAD_PARQUET):
        prepared = _prepare_load(method, ruleset, workdir)
    else:
        prepared = _prepare_batch(method, ruleset, workdir, threads)
    rss_inputs = _rss_mb()
    others = _Others()
    others.start()
    times, result = _time(prepared.run, rounds)
    others_cpu = others.cores()
    peak = _peak_mb()
    problems = prepared.check(result)
    best_s, cpu_s = min(times)
    return Measurement(method.value, prepared.users, prepared.threads, rounds, best_s,
                       statistics.median(t for t, _ in times), cpu_s, others_cpu, rss_inputs, peak, not problems,
                       problems, prepared.note)


def _measure_stream(ruleset: CompiledRuleset, source: Path, out: Path, chunk_rows: int) -> Measurement:
    users = int(pl.scan_parquet(source).select(pl.len()).collect().item())
    rss_inputs = _rss_mb()
    others = _Others()
    others.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = apply_file(ruleset, source, out, chunk_rows=chunk_rows)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    others_cpu = others.cores()
    peak = _peak_mb()
    try:
        problems = _check_stream(ruleset, source, out, users)
    finally:
        out.unlink(missing_ok=True)
    note = (f"chunk_rows={chunk_rows:,}; includes the validation pass and the summary pass "
            f"(apply_file's own clock, without the summary: {result.seconds:.2f} s)")
    return Measurement(Method.STREAM.value, users, pl.thread_pool_size(), 1, seconds, seconds, cpu_s, others_cpu,
                       rss_inputs, peak, not problems, problems, note)


def _prepare_load(method: Method, ruleset: CompiledRuleset, workdir: Path) -> _Prepared:
    path = workdir / (RAW_CSV if method is Method.LOAD_CSV else RAW_PARQUET)
    users = int(pl.scan_parquet(workdir / COHORT).select(pl.len()).collect().item())

    def run() -> object:
        return Cohort.load(path, ruleset.schema, ruleset.id_field)

    def check(loaded: object) -> list[str]:
        assert isinstance(loaded, Cohort)
        if loaded.frame.equals(pl.read_parquet(workdir / COHORT)):
            return []
        return [f"{path.name} did not load into the typed cohort"]

    return _Prepared(users, pl.thread_pool_size(), run, check, "with validation")


def _measure_per_record(method: Method, ruleset: CompiledRuleset, workdir: Path, sample: int) -> Measurement:
    records = per_record.sample_records(pl.read_parquet(workdir / COHORT), sample)
    rss_inputs = _rss_mb()
    others = _Others()
    others.start()
    seconds = per_record.seconds_per_user(method.value, ruleset, records) * len(records)
    others_cpu = others.cores()
    peak = _peak_mb()
    evaluate = (per_record.durable_evaluator(ruleset) if method is Method.DURABLE
                else per_record.reference_evaluator(ruleset))
    cpu = time.process_time()  # the checking pass does the timed pass's work again: its CPU time stands for it
    decisions = per_record.evaluate_all(evaluate, records)
    cpu_s = time.process_time() - cpu
    like = decisions_from_frame(ruleset, pl.read_parquet(workdir / ENGINE).head(len(records)))
    problems = decision_differences(like.frame, per_record.to_frame(ruleset, like, records, decisions))
    return Measurement(method.value, len(records), 1, 1, seconds, seconds, cpu_s, others_cpu, rss_inputs, peak,
                       not problems, problems, f"sample of {len(records):,} users, scaled per user")


def _prepare_batch(method: Method, ruleset: CompiledRuleset, workdir: Path, threads: int) -> _Prepared:
    cohort = Cohort.from_frame(pl.read_parquet(workdir / COHORT), ruleset.schema, ruleset.id_field)
    frame = cohort.frame

    def against_engine(got: pl.DataFrame) -> list[str]:
        return decision_differences(pl.read_parquet(workdir / ENGINE), got)

    if method is Method.ENGINE:
        return _Prepared(cohort.height, pl.thread_pool_size(), lambda: ruleset.apply(cohort),
                         lambda d: against_engine(_as(Decisions, d).frame))
    if method is Method.POLARS:
        return _Prepared(cohort.height, pl.thread_pool_size(), lambda: handwritten_polars.decide(frame),
                         lambda d: against_engine(_as(pl.DataFrame, d)))
    if method is Method.NUMPY:
        arrays = handwritten_numpy.CohortArrays.from_frame(frame)
        ids = frame[ruleset.id_field]
        return _Prepared(cohort.height, 1, lambda: handwritten_numpy.decide(arrays),
                         lambda d: against_engine(_as(handwritten_numpy.NumpyDecisions, d).to_frame(ids)),
                         "columns as float64/int8 arrays, converted before timing")
    if method is Method.DUCKDB:
        from benchmarks.duckdb_sql import DuckDBRules, to_decisions_frame

        db = DuckDBRules(frame, threads=threads)
        return _Prepared(cohort.height, threads, db.run, lambda d: against_engine(to_decisions_frame(_as(pa.Table, d))),
                         "Arrow table registered before timing; result fetched as Arrow")
    raise AssertionError(method)


T = TypeVar("T")


def _as(kind: type[T], value: object) -> T:
    assert isinstance(value, kind), f"expected {kind.__name__}, got {type(value).__name__}"
    return value


def _check_stream(ruleset: CompiledRuleset, source: Path, out: Path, users: int, checked: int = 1_000_000
                  ) -> list[str]:
    """Every user written, in order; the first and the last `checked` rows (so the first and the last chunk
    boundaries) equal an in-memory apply of the same users."""
    written = pl.scan_parquet(out).select(ruleset.id_field).collect()[ruleset.id_field]
    if written.len() != users:
        return [f"apply_file wrote {written.len():,} rows for {users:,} users"]
    ids = pl.scan_parquet(source).select(ruleset.id_field).collect()[ruleset.id_field]
    if not written.equals(ids):
        return ["apply_file's output is not in the cohort's order (or lost or repeated users)"]
    del written, ids
    problems: list[str] = []
    for offset in sorted({0, max(0, users - checked)}):
        users_in = pl.scan_parquet(source).slice(offset, checked).collect()
        cohort = Cohort.from_frame(users_in, ruleset.schema, ruleset.id_field)
        # The file has the decisions and, last, each user's inputs digest (engine/decisions_provenance.py).
        expected = ruleset.apply(cohort).frame.with_columns(cohort.frame.select(inputs_digest(ruleset)))
        got = pl.scan_parquet(out).slice(offset, checked).collect()
        problems += [f"rows from {offset:,}: {p}" for p in decision_differences(expected, got)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=[m.value for m in Method])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (Polars: POLARS_MAX_THREADS)")
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--stream-source", type=Path)
    args = parser.parse_args(argv)
    result = measure(Method(args.method), args.workdir, args.rounds, args.threads, args.sample, args.chunk_rows,
                     args.stream_source)
    print(json.dumps(asdict(result)))
    return 0 if result.correct else 1


def as_measurement(payload: dict[str, Any]) -> Measurement:
    return Measurement(**payload)


if __name__ == "__main__":
    sys.exit(main())
