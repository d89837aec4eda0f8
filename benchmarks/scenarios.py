"""The one scenario table: which cohort each benchmark size runs on (zen's manifest idea).

`users` is the in-memory cohort every batch benchmark (engine, hand-written Polars, numpy, DuckDB, loads) runs
on; `sample_users` is the slice the one-record-at-a-time evaluators (reference, durable_rules) are timed on,
scaled per user; `stream_users` is the Parquet cohort sent through `apply_file`. A size with `users == 0`
(20m) runs only the streaming benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SEED = 20261124
RULESET = Path(__file__).resolve().parent.parent / "rulesets" / "marketing.yaml"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    users: int
    sample_users: int
    stream_users: int
    chunk_rows: int  # apply_file's chunk size for the streaming run
    rounds: int  # pytest-benchmark pedantic rounds for the batch benchmarks


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("smallest", users=2_000, sample_users=300, stream_users=20_000, chunk_rows=5_000, rounds=3),
    Scenario("100k", users=100_000, sample_users=5_000, stream_users=100_000, chunk_rows=25_000, rounds=10),
    Scenario("1m", users=1_000_000, sample_users=20_000, stream_users=1_000_000, chunk_rows=250_000, rounds=10),
    Scenario("20m", users=0, sample_users=0, stream_users=20_000_000, chunk_rows=1_000_000, rounds=1),
)
SIZES: tuple[str, ...] = tuple(s.name for s in SCENARIOS)


def scenario(name: str) -> Scenario:
    for row in SCENARIOS:
        if row.name == name:
            return row
    raise KeyError(f"unknown size '{name}'; choose one of {', '.join(SIZES)}")
