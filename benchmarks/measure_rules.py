"""The full performance table: `python -m benchmarks.measure_rules --rows 1000000 [--stream-rows 20000000]`.

Every measured thing runs in its own fresh process (benchmarks.measure_child), one after another, so that its
peak RSS is its own and POLARS_MAX_THREADS can differ between rows (Polars reads it once, at import). The
batch rows run `--passes` times, interleaved, and the best pass is kept: the machine is shared, and a
transient load on one pass does not decide a ratio. With `--wait-idle 0.9` each row waits for idle CPUs first,
and every row reports how many cores other processes used while it was timed. Every baseline's output is
checked against the engine's inside its process; a wrong baseline makes the run fail.

Ratios are per user: (seconds per user of the method) / (seconds per user of the engine's batch apply at the
same thread count); above 1 means the engine is faster. Single-threaded methods (numpy, the reference
interpreter, durable_rules) are compared with the engine on 1 thread, and, in the targets, on 2 as well.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from benchmarks.measure_child import COHORT, ENGINE, RAW_CSV, RAW_PARQUET, Measurement, Method, as_measurement
from benchmarks.scenarios import RULESET, SEED
from decide.example_data import write_cohort
from engine import Cohort, load_ruleset
from simulations.synthetic_cohort import generate_cohort

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKDIR = Path("/tmp/decide-bench")
STREAM_MEMORY_LIMIT_BYTES = 3 * 10**9  # "≤ 3 GB", read strictly: 3e9 bytes (2,861 MiB)
PER_RECORD = (Method.REFERENCE, Method.DURABLE)
SINGLE_THREADED = (Method.NUMPY, *PER_RECORD)


@dataclass(frozen=True, slots=True)
class ChildRun:
    measurement: Measurement
    wall_s: float  # the whole child process, start to exit


class ChildFailed(RuntimeError):
    pass


def run_child(method: Method, workdir: Path, threads: int, *, rounds: int = 5, sample: int = 20_000,
              chunk_rows: int = 1_000_000, stream_source: Path | None = None) -> ChildRun:
    """Run one measurement in a fresh interpreter with `threads` Polars threads (the child reports its peak RSS)."""
    env = {**os.environ, "POLARS_MAX_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "benchmarks.measure_child", method.value, "--workdir", str(workdir),
               "--rounds", str(rounds), "--threads", str(threads), "--sample", str(sample),
               "--chunk-rows", str(chunk_rows)]
    if stream_source is not None:
        command += ["--stream-source", str(stream_source)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise ChildFailed(f"{method.value} ({threads} threads) exited {done.returncode}:\n{done.stderr[-4000:]}")
    return ChildRun(as_measurement(json.loads(lines[-1])), wall)


def _busy_and_total_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def wait_for_idle(min_idle: float, max_wait_s: float, window_s: float = 3.0) -> float:
    """Wait until the machine's CPUs were at least `min_idle` idle over `window_s` (or `max_wait_s` passed).

    The machine is shared: a child started while another process holds a core measures that process too.
    Returns the idle fraction of the last window.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        busy0, total0 = _busy_and_total_jiffies()
        time.sleep(window_s)
        busy1, total1 = _busy_and_total_jiffies()
        idle = 1 - (busy1 - busy0) / max(1, total1 - total0)
        if idle >= min_idle or time.monotonic() >= deadline:
            return idle


def prepare(workdir: Path, rows: int) -> None:
    """The cohort files every child reads: generated once per size, the engine's decisions every run."""
    workdir.mkdir(parents=True, exist_ok=True)
    ruleset = load_ruleset(RULESET)
    marker = workdir / "cohort.json"
    wanted = {"rows": rows, "seed": SEED}
    if not marker.exists() or json.loads(marker.read_text()) != wanted:
        frame = generate_cohort(rows, np.random.default_rng(SEED))
        frame.write_parquet(workdir / RAW_PARQUET)
        frame.write_csv(workdir / RAW_CSV)
        Cohort.from_frame(frame, ruleset.schema, ruleset.id_field).frame.write_parquet(workdir / COHORT)
        marker.write_text(json.dumps(wanted))
    cohort = Cohort.from_frame(pl.read_parquet(workdir / COHORT), ruleset.schema, ruleset.id_field)
    ruleset.apply(cohort).frame.write_parquet(workdir / ENGINE)


def prepare_stream(path: Path, rows: int) -> float:
    """Generate the streaming cohort once (write_cohort, chunked); reuse it when it has the right row count."""
    if path.exists() and pq.read_metadata(path).num_rows == rows:
        return 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_cohort(path, rows, SEED)


@dataclass(frozen=True, slots=True)
class Row:
    method: str
    users: int
    threads: int
    seconds: float
    median_s: float
    cpu_s: float
    others_cpu: float
    users_per_s: float
    ratio: float | None  # per-user seconds / engine's per-user seconds at the same thread count
    cpu_ratio: float | None  # the same with CPU seconds
    rss_inputs_mb: float
    peak_rss_mb: float
    note: str


def _best(runs: Iterable[ChildRun]) -> ChildRun:
    runs = list(runs)
    best = min(runs, key=lambda r: r.measurement.best_s)
    peak = max(r.measurement.peak_rss_mb for r in runs)
    measured = best.measurement
    return ChildRun(Measurement(**{**asdict(measured), "peak_rss_mb": peak,
                                   "median_s": min(r.measurement.median_s for r in runs),
                                   "cpu_s": min(r.measurement.cpu_s for r in runs)}), best.wall_s)


def rows_of(runs: Sequence[ChildRun]) -> list[Row]:
    engine = {r.measurement.threads: r.measurement for r in runs if r.measurement.method == Method.ENGINE.value}
    rows: list[Row] = []
    for run in runs:
        m = run.measurement
        per_user = m.best_s / m.users
        base = engine.get(m.threads)
        comparable = m.method not in (Method.LOAD_CSV.value, Method.LOAD_PARQUET.value, Method.STREAM.value)
        ratio = per_user / (base.best_s / base.users) if base is not None and comparable else None
        cpu_ratio = (m.cpu_s / m.users) / (base.cpu_s / base.users) if base is not None and comparable else None
        rows.append(Row(m.method, m.users, m.threads, m.best_s, m.median_s, m.cpu_s, m.others_cpu, m.users / m.best_s,
                        ratio, cpu_ratio, m.rss_inputs_mb, m.peak_rss_mb, m.note))
    return rows


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| method | users | threads | seconds (best) | seconds (median) | users/s | ratio vs engine batch "
             "| CPU s | CPU ratio | others' CPU | RSS of inputs MB | peak RSS MB | note |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        ratio = f"{r.ratio:,.2f}×" if r.ratio is not None else "—"
        cpu_ratio = f"{r.cpu_ratio:,.2f}×" if r.cpu_ratio is not None else "—"
        lines.append(f"| {r.method} | {r.users:,} | {r.threads} | {r.seconds:.3f} | {r.median_s:.3f} "
                     f"| {r.users_per_s:,.0f} | {ratio} | {r.cpu_s:.3f} | {cpu_ratio} | {r.others_cpu:.2f} "
                     f"| {r.rss_inputs_mb:,.0f} "
                     f"| {r.peak_rss_mb:,.0f} | {r.note} |")
    return "\n".join(lines)


def targets(rows: Sequence[Row]) -> list[str]:
    """Each target of the issue, the number it is judged on, and met / MISSED."""
    by = {(r.method, r.threads): r for r in rows}
    engine = {t: r for (m, t), r in by.items() if m == Method.ENGINE.value}
    out: list[str] = []

    def speedup(method: Method, threads: int, engine_threads: int, goal: float) -> None:
        row, base = by.get((method.value, threads)), engine.get(engine_threads)
        if row is None or base is None:
            return
        value = (row.seconds / row.users) / (base.seconds / base.users)
        verdict = "met" if value >= goal else "MISSED"
        out.append(f"engine ({engine_threads} thr) vs {method.value} ({threads} thr): {value:,.2f}× "
                   f"(target ≥ {goal:g}×) — {verdict}")

    for threads in sorted(engine):
        speedup(Method.POLARS, threads, threads, 0.9)
    for engine_threads in sorted(engine):
        speedup(Method.NUMPY, 1, engine_threads, 2)
    for threads in sorted(engine):
        speedup(Method.DUCKDB, threads, threads, 3)
    for engine_threads in sorted(engine):
        speedup(Method.DURABLE, 1, engine_threads, 2000)
        speedup(Method.REFERENCE, 1, engine_threads, 30)
    for (method, threads), row in sorted(by.items()):
        if method in (Method.LOAD_CSV.value, Method.LOAD_PARQUET.value):
            verdict = "met" if row.seconds <= 1.0 else "MISSED"
            out.append(f"{method} of {row.users:,} rows with validation ({threads} thr): {row.seconds:.3f} s "
                       f"(target ≤ 1 s) — {verdict}")
        if method == Method.STREAM.value:
            verdict = "met" if row.peak_rss_mb * 2**20 <= STREAM_MEMORY_LIMIT_BYTES else "MISSED"
            out.append(f"apply_file streaming {row.users:,} users: {row.seconds:.1f} s, peak RSS "
                       f"{row.peak_rss_mb:,.0f} MB (target ≤ 3 GB) — {verdict}")
    return out


def machine() -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal"))
    import duckdb

    return {"cpus": os.cpu_count(), "cpu": model, "memory_gb": round(memory_kb / 2**20, 1),
            "python": platform.python_version(), "polars": pl.__version__, "numpy": np.__version__,
            "duckdb": duckdb.__version__, "load_average": os.getloadavg()}


def measure(rows: int, stream_rows: int, workdir: Path, stream_path: Path, *, rounds: int, passes: int,
            sample: int, thread_counts: Sequence[int], chunk_rows: int, wait_idle: float = 0.0,
            wait_max_s: float = 600.0, log: bool = True) -> list[ChildRun]:
    def say(text: str) -> None:
        if log:
            print(text, file=sys.stderr, flush=True)

    runs: list[ChildRun] = []

    def checked(method: Method, threads: int, **options: int | Path | None) -> ChildRun:
        if wait_idle:
            idle = wait_for_idle(wait_idle, wait_max_s)
            if idle < wait_idle:
                say(f"  (the machine stayed busy: {idle:.0%} idle after {wait_max_s:.0f} s; measuring anyway)")
        run = run_child(method, workdir, threads, **options)  # type: ignore[arg-type]
        if not run.measurement.correct:
            raise ChildFailed(f"{method.value} is not correct:\n" + "\n".join(run.measurement.problems))
        say(f"  {method.value:18s} {threads} thr: best {run.measurement.best_s:.4f} s, "
            f"peak {run.measurement.peak_rss_mb:,.0f} MB, others' CPU {run.measurement.others_cpu:.2f}")
        return run

    if rows:
        say(f"preparing {rows:,} users in {workdir}")
        prepare(workdir, rows)
        collected: dict[tuple[Method, int], list[ChildRun]] = {}
        for index in range(passes):
            say(f"batch pass {index + 1} of {passes}")
            for threads in thread_counts:
                for method in (Method.ENGINE, Method.POLARS, Method.NUMPY, Method.DUCKDB):
                    if method in SINGLE_THREADED and threads != 1:
                        continue
                    collected.setdefault((method, threads), []).append(checked(method, threads, rounds=rounds))
        runs += [_best(found) for found in collected.values()]
        for method in PER_RECORD:
            runs.append(checked(method, 1, rounds=1, sample=min(sample, rows)))
        for method in (Method.LOAD_CSV, Method.LOAD_PARQUET):
            for threads in thread_counts:
                runs.append(checked(method, threads, rounds=max(3, rounds // 2)))
    if stream_rows:
        say(f"preparing the {stream_rows:,}-user Parquet cohort at {stream_path}")
        seconds = prepare_stream(stream_path, stream_rows)
        say(f"  generated in {seconds:.0f} s" if seconds else "  reused")
        runs.append(checked(Method.STREAM, max(thread_counts), rounds=1, chunk_rows=chunk_rows,
                            stream_source=stream_path))
    order = [m.value for m in Method]
    runs.sort(key=lambda r: (order.index(r.measurement.method), -r.measurement.threads))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="users in the in-memory cohort (default 1,000,000; 0: none)")
    parser.add_argument("--stream-rows", type=int, default=0, help="users in the streamed Parquet cohort (0: none)")
    parser.add_argument("--workdir", type=Path, default=None, help=f"default {DEFAULT_WORKDIR}/rows_<rows>")
    parser.add_argument("--stream-path", type=Path, default=None,
                        help=f"default {DEFAULT_WORKDIR}/stream_<rows>.parquet (generated once, reused)")
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds per process (after one warm-up)")
    parser.add_argument("--passes", type=int, default=2, help="interleaved passes over the batch methods")
    parser.add_argument("--sample", type=int, default=20_000, help="users for the per-record evaluators")
    parser.add_argument("--threads", default="2,1", help="Polars/DuckDB thread counts, comma-separated")
    parser.add_argument("--chunk-rows", type=int, default=1_000_000, help="apply_file chunk size when streaming")
    parser.add_argument("--wait-idle", type=float, default=0.0,
                        help="before each measurement, wait until the CPUs are this idle over 3 s (e.g. 0.9)")
    parser.add_argument("--wait-max", type=float, default=600.0, help="give up waiting after this many seconds")
    parser.add_argument("--json", type=Path, help="also write the measurements and the machine here")
    args = parser.parse_args(argv)
    rows = args.rows if args.rows is not None else (0 if args.stream_rows else 1_000_000)
    workdir = args.workdir or DEFAULT_WORKDIR / f"rows_{rows}"
    stream_path = args.stream_path or DEFAULT_WORKDIR / f"stream_{args.stream_rows}.parquet"
    thread_counts = [int(t) for t in args.threads.split(",")]
    if args.stream_rows and not rows:
        workdir = stream_path.parent
    about = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), **machine(),
             "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.measure_rules", *sys.argv[1:]])}
    runs = measure(rows, args.stream_rows, workdir, stream_path, rounds=args.rounds, passes=args.passes,
                   sample=args.sample, thread_counts=thread_counts, chunk_rows=args.chunk_rows,
                   wait_idle=args.wait_idle, wait_max_s=args.wait_max)
    about["load_average_after"] = os.getloadavg()
    table = rows_of(runs)
    print(f"{about['date']} · {about['cpus']} × {about['cpu']} · {about['memory_gb']} GB · Python {about['python']}, "
          f"Polars {about['polars']}, numpy {about['numpy']}, DuckDB {about['duckdb']} · load average "
          f"{about['load_average']} before, {about['load_average_after']} after\n")
    print(markdown_table(table))
    print()
    for line in targets(table):
        print(f"- {line}")
    if args.json:
        args.json.write_text(json.dumps({"about": about, "rows": [asdict(r) for r in table],
                                         "runs": [asdict(r) for r in runs]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
