"""The engine's batch apply against each baseline, timed in the same run; correctness asserted, never a time.

Each test checks the baseline's decisions against the engine's first (correct before fast), times the baseline
with timeit, benchmarks the engine with pytest-benchmark (pedantic rounds), and records the ratio
(baseline seconds per user / engine seconds per user, best round of each; above 1 means the engine is faster)
in `benchmark.extra_info`, printed with `-s`. Under --benchmark-disable every target runs once and
`benchmark.stats` is None, so nothing is printed. Peak memory needs a fresh process per method: see
benchmarks/measure_rules.py for the full table.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks import handwritten_numpy, handwritten_polars, per_record
from benchmarks.duckdb_sql import DuckDBRules, to_decisions_frame
from benchmarks.measure_child import Method
from benchmarks.measure_rules import run_child
from benchmarks.same_decisions import assert_same_decisions
from benchmarks.scenarios import SEED, Scenario
from engine import Cohort, CompiledRuleset, Decisions
from simulations.synthetic_cohort import generate_cohort


def _best_seconds(run: Callable[[], object], repeat: int) -> float:
    return min(timeit.repeat(run, number=1, repeat=repeat))


def _engine_apply(benchmark: BenchmarkFixture, ruleset: CompiledRuleset, cohort: Cohort, size: Scenario,
                  expected: Decisions) -> None:
    decisions = benchmark.pedantic(ruleset.apply, args=(cohort,), rounds=size.rounds, warmup_rounds=1)
    assert_same_decisions(expected.frame, decisions.frame, "the engine (run again)")


def _report(benchmark: BenchmarkFixture, name: str, baseline_s_per_user: float, users: int, note: str = "") -> None:
    if not benchmark.stats:  # None under --benchmark-disable
        return
    engine_s_per_user = benchmark.stats["min"] / users
    speedup = baseline_s_per_user / engine_s_per_user
    benchmark.extra_info[f"speedup_vs_{name}"] = speedup
    benchmark.extra_info["threads"] = pl.thread_pool_size()
    print(f"\nengine vs {name}, {users:,} users, {pl.thread_pool_size()} threads: {speedup:,.2f}x "
          f"(engine {1 / engine_s_per_user:,.0f} users/s, {name} {1 / baseline_s_per_user:,.0f} users/s){note}")


@pytest.mark.benchmark(group="batch-vs-handwritten-polars")
def test_engine_vs_handwritten_polars(benchmark: BenchmarkFixture, ruleset: CompiledRuleset, cohort: Cohort,
                                      engine_decisions: Decisions, size: Scenario) -> None:
    assert_same_decisions(engine_decisions.frame, handwritten_polars.decide(cohort.frame), "hand-written Polars")
    baseline_s = _best_seconds(lambda: handwritten_polars.decide(cohort.frame), size.rounds)
    _engine_apply(benchmark, ruleset, cohort, size, engine_decisions)
    _report(benchmark, "handwritten_polars", baseline_s / cohort.height, cohort.height)


@pytest.mark.benchmark(group="batch-vs-handwritten-numpy")
def test_engine_vs_handwritten_numpy(benchmark: BenchmarkFixture, ruleset: CompiledRuleset, cohort: Cohort,
                                     engine_decisions: Decisions, size: Scenario) -> None:
    arrays = handwritten_numpy.CohortArrays.from_frame(cohort.frame)  # columns in memory, as numpy wants them
    got = handwritten_numpy.decide(arrays).to_frame(cohort.frame[ruleset.id_field])
    assert_same_decisions(engine_decisions.frame, got, "hand-written numpy")
    baseline_s = _best_seconds(lambda: handwritten_numpy.decide(arrays), size.rounds)
    _engine_apply(benchmark, ruleset, cohort, size, engine_decisions)
    _report(benchmark, "handwritten_numpy", baseline_s / cohort.height, cohort.height, " (numpy: one thread)")


@pytest.mark.benchmark(group="batch-vs-duckdb")
def test_engine_vs_duckdb_sql(benchmark: BenchmarkFixture, ruleset: CompiledRuleset, cohort: Cohort,
                              engine_decisions: Decisions, size: Scenario) -> None:
    db = DuckDBRules(cohort.frame, threads=pl.thread_pool_size(), id_field=ruleset.id_field)
    try:
        assert_same_decisions(engine_decisions.frame, to_decisions_frame(db.run()), "DuckDB SQL")
        baseline_s = _best_seconds(db.run, size.rounds)
    finally:
        db.close()
    _engine_apply(benchmark, ruleset, cohort, size, engine_decisions)
    _report(benchmark, "duckdb_sql", baseline_s / cohort.height, cohort.height)


def _per_record(benchmark: BenchmarkFixture, name: str, evaluate: per_record.Evaluate, ruleset: CompiledRuleset,
                cohort: Cohort, engine_decisions: Decisions, size: Scenario) -> None:
    records = per_record.sample_records(cohort.frame, size.sample_users)
    baseline_s_per_user = per_record.seconds_per_user(name, ruleset, records)
    like = Decisions(engine_decisions.frame.head(len(records)), engine_decisions.id_field, engine_decisions.tiers,
                     engine_decisions.tags, engine_decisions.actions, engine_decisions.values)
    decisions = per_record.evaluate_all(evaluate, records)
    assert_same_decisions(like.frame, per_record.to_frame(ruleset, like, records, decisions), name)
    _engine_apply(benchmark, ruleset, cohort, size, engine_decisions)
    _report(benchmark, name, baseline_s_per_user, cohort.height,
            f" ({name} timed on {len(records):,} users, scaled per user)")


@pytest.mark.benchmark(group="batch-vs-reference")
def test_engine_vs_reference_interpreter(benchmark: BenchmarkFixture, ruleset: CompiledRuleset, cohort: Cohort,
                                         engine_decisions: Decisions, size: Scenario) -> None:
    _per_record(benchmark, "reference", per_record.reference_evaluator(ruleset), ruleset, cohort, engine_decisions,
                size)


@pytest.mark.benchmark(group="load-with-validation")
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_load_with_validation(benchmark: BenchmarkFixture, kind: str, ruleset: CompiledRuleset, cohort: Cohort,
                              cohort_files: dict[str, Path], size: Scenario) -> None:
    path = cohort_files[kind]
    read: Callable[[], object] = (lambda: pl.read_csv(path)) if kind == "csv" else (lambda: pl.read_parquet(path))
    plain_s = _best_seconds(read, size.rounds)
    loaded = benchmark.pedantic(Cohort.load, args=(path, ruleset.schema, ruleset.id_field), rounds=size.rounds,
                                warmup_rounds=1)
    assert loaded.frame.equals(cohort.frame), f"{kind} did not load into the validated cohort"
    if benchmark.stats:
        benchmark.extra_info["seconds"] = benchmark.stats["min"]
        benchmark.extra_info["vs_plain_read"] = benchmark.stats["min"] / plain_s
        print(f"\nload {kind} with validation, {cohort.height:,} rows: {benchmark.stats['min']:.3f} s "
              f"({benchmark.extra_info['vs_plain_read']:.2f}x a plain read without checks)")


@pytest.mark.benchmark(group="stream-apply-file")
def test_stream_apply_file(benchmark: BenchmarkFixture, size: Scenario, stream_source: Path,
                           tmp_path: Path) -> None:
    """apply_file on a Parquet cohort, in a fresh process so that its peak RSS is its own."""
    run = benchmark.pedantic(run_child, args=(Method.STREAM, tmp_path, pl.thread_pool_size()),
                             kwargs={"chunk_rows": size.chunk_rows, "stream_source": stream_source},
                             rounds=1, iterations=1)
    measured = run.measurement
    assert measured.correct, "\n".join(measured.problems)
    assert measured.users == size.stream_users
    benchmark.extra_info.update(seconds=measured.best_s, peak_rss_mb=measured.peak_rss_mb, chunk_rows=size.chunk_rows)
    if benchmark.stats:
        print(f"\napply_file streaming {measured.users:,} users: {measured.best_s:.1f} s "
              f"({measured.users / measured.best_s:,.0f} users/s), peak RSS {measured.peak_rss_mb:,.0f} MB")


def _with_missing_values(frame: pl.DataFrame, columns: list[str], rng: np.random.Generator) -> pl.DataFrame:
    """About one value in five missing in every rule input, and some zero incomes (division by zero)."""
    n = frame.height
    zero_income = pl.Series(rng.random(n) < 0.05)
    frame = frame.with_columns(pl.when(zero_income).then(0.0).otherwise(pl.col("monthly_income"))
                               .alias("monthly_income"))
    return frame.with_columns(
        pl.when(pl.Series(rng.random(n) < 0.2)).then(None).otherwise(pl.col(c)).alias(c) for c in columns)


def test_baselines_agree_with_missing_values(ruleset: CompiledRuleset) -> None:
    """The benchmark cohort has no missing booleans; here every input is sometimes missing, for every baseline."""
    rng = np.random.default_rng(SEED)
    raw = _with_missing_values(generate_cohort(3_000, rng), list(ruleset.schema), rng)
    cohort = Cohort.from_frame(raw, ruleset.schema, ruleset.id_field)
    expected = ruleset.apply(cohort)
    assert_same_decisions(expected.frame, handwritten_polars.decide(cohort.frame), "hand-written Polars")
    arrays = handwritten_numpy.CohortArrays.from_frame(cohort.frame)
    numpy_frame = handwritten_numpy.decide(arrays).to_frame(cohort.frame[ruleset.id_field])
    assert_same_decisions(expected.frame, numpy_frame, "hand-written numpy")
    db = DuckDBRules(cohort.frame)
    try:
        assert_same_decisions(expected.frame, to_decisions_frame(db.run()), "DuckDB SQL")
    finally:
        db.close()
    records = per_record.sample_records(cohort.frame, 500)
    reference = per_record.evaluate_all(per_record.reference_evaluator(ruleset), records)
    head = Decisions(expected.frame.head(500), expected.id_field, expected.tiers, expected.tags, expected.actions,
                     expected.values)
    assert_same_decisions(head.frame, per_record.to_frame(ruleset, head, records, reference), "reference")


@pytest.mark.benchmark(group="batch-vs-durable-rules")
def test_engine_vs_durable_rules(benchmark: BenchmarkFixture, ruleset: CompiledRuleset, cohort: Cohort,
                                 engine_decisions: Decisions, size: Scenario) -> None:
    try:
        import durable.engine  # noqa: F401
    except ImportError as err:
        pytest.skip(f"durable_rules is not installed: {err}")
    # One Host per process, and it keeps two timer threads running: only this test makes one, and it runs last.
    _per_record(benchmark, "durable_rules", per_record.durable_evaluator(ruleset), ruleset, cohort, engine_decisions,
                size)
