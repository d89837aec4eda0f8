"""Benchmark setup: `--size` picks a row of the scenario table (benchmarks/scenarios.py); seeded session fixtures.

    pytest benchmarks --benchmark-disable --size=smallest   # CI: every benchmark runs once, ratios not printed
    pytest benchmarks --size=1m -s                          # timed, ratios printed and in extra_info
    pytest benchmarks --size=20m -s -k stream               # only the 20,000,000-user streaming run
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks.measure_rules import DEFAULT_WORKDIR, prepare_stream
from benchmarks.scenarios import RULESET, SEED, SIZES, Scenario, scenario
from engine import Cohort, CompiledRuleset, Decisions, load_ruleset
from simulations.synthetic_cohort import generate_cohort

LARGE_STREAM = 1_000_000  # from this size on the streamed file is kept in DEFAULT_WORKDIR and reused


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--size", choices=SIZES, default="smallest",
                     help="row of the scenario table in benchmarks/scenarios.py (default: smallest)")


@pytest.fixture(scope="session")
def size(request: pytest.FixtureRequest) -> Scenario:
    return scenario(str(request.config.getoption("--size")))


@pytest.fixture(scope="session")
def ruleset() -> CompiledRuleset:
    return load_ruleset(RULESET)


@pytest.fixture(scope="session")
def cohort_frame(size: Scenario) -> pl.DataFrame:
    """The generated cohort, as generated (strings, no Enum yet)."""
    if not size.users:
        pytest.skip(f"size {size.name} runs only the streaming benchmark")
    return generate_cohort(size.users, np.random.default_rng(SEED))


@pytest.fixture(scope="session")
def cohort(cohort_frame: pl.DataFrame, ruleset: CompiledRuleset) -> Cohort:
    return Cohort.from_frame(cohort_frame, ruleset.schema, ruleset.id_field)


@pytest.fixture(scope="session")
def engine_decisions(ruleset: CompiledRuleset, cohort: Cohort) -> Decisions:
    """The engine's decisions, computed once: what every baseline must reproduce."""
    return ruleset.apply(cohort)


@pytest.fixture(scope="session")
def cohort_files(cohort_frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cohort")
    files = {"csv": folder / "cohort.csv", "parquet": folder / "cohort.parquet"}
    cohort_frame.write_csv(files["csv"])
    cohort_frame.write_parquet(files["parquet"])
    return files


@pytest.fixture(scope="session")
def stream_source(size: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Parquet cohort of `stream_users` users written by write_cohort (in chunks, as a user would)."""
    if size.stream_users >= LARGE_STREAM:
        path = DEFAULT_WORKDIR / f"stream_{size.stream_users}.parquet"
    else:
        path = tmp_path_factory.mktemp("stream") / "cohort.parquet"
    prepare_stream(path, size.stream_users)
    return path
