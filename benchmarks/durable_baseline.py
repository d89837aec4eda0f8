"""Baseline: users per second through durable_rules (DurableEvaluator), one record at a time.

A helper for the benchmarks, not a pytest module. `durable_users_per_second(ruleset, records)` times only the
evaluation (translation and registration happen before the clock starts) and first checks that durable
decides as the reference does on a sample, so a fast wrong answer is never reported. From the shell:

    .venv/bin/python benchmarks/durable_baseline.py [RULESET_OR_PIPELINE.yaml] [--records 5000] [--seed 7]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from engine.compiled import FieldInfo
from engine.evaluate_durable import DurableEvaluator
from engine.evaluate_reference import RecordDecision, evaluate_record
from engine.expression_ast import Kind
from engine.functions import Value
from engine.pipeline import CompiledRuleset, load_ruleset
from engine.streaming_host import StreamingHost

Record = dict[str, Value]
DEFAULT_RULESET = Path(__file__).parent.parent / "tests" / "engine" / "rulesets" / "pipeline.yaml"


@functools.cache
def shared_host() -> StreamingHost:
    """durable_rules' Host cannot be closed: one per process."""
    return StreamingHost()


def _same(a: RecordDecision, b: RecordDecision) -> bool:
    return (a.values, a.rules, a.tags, a.eligible) == (b.values, b.rules, b.tags, b.eligible)


def _users_per_second(decide: Callable[[Record], object], records: Sequence[Record], repeat: int) -> float:
    for record in records[: min(50, len(records))]:  # warm up
        decide(record)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for record in records:
            decide(record)
        best = min(best, time.perf_counter() - start)
    return len(records) / best


def durable_users_per_second(ruleset: CompiledRuleset, records: Sequence[Record], *, host: StreamingHost | None = None,
                             repeat: int = 3, check: int = 200) -> float:
    """Best of `repeat` passes over `records`, in users per second; `check` records are compared with the
    reference first (AssertionError on the first disagreement)."""
    if not records:
        raise ValueError("no records to time")
    evaluator = DurableEvaluator(ruleset, host or shared_host())
    for record in records[:check]:
        got, expected = evaluator.evaluate_record(record), evaluate_record(ruleset, record)
        assert _same(got, expected), f"durable disagrees with the reference on {record}"
    return _users_per_second(evaluator.evaluate_record, records, repeat)


def reference_users_per_second(ruleset: CompiledRuleset, records: Sequence[Record], *, repeat: int = 3) -> float:
    """The same measure for the reference evaluator (plain Python, no durable), for the ratio."""
    return _users_per_second(lambda record: evaluate_record(ruleset, record), records, repeat)


def synthetic_records(ruleset: CompiledRuleset, count: int, rng: np.random.Generator,
                      missing: float = 0.1) -> list[Record]:
    """Records that fit the ruleset's schema: values inside declared bounds and categories, some missing."""
    return [{name: _value(info, rng, missing) for name, info in ruleset.schema.items()} for _ in range(count)]


def _value(info: FieldInfo, rng: np.random.Generator, missing: float) -> Value:
    if info.nullable and rng.random() < missing:
        return None
    kind = info.type.kind
    if kind is Kind.BOOLEAN:
        return bool(rng.random() < 0.3)
    if kind is Kind.CATEGORY:
        return str(rng.choice(list(info.type.values)))
    if info.allowed:
        return info.allowed[int(rng.integers(len(info.allowed)))]
    if kind is Kind.STRING:
        return str(rng.choice(["北京", "上海", "深圳", "成都", "other"]))
    low = info.minimum if info.minimum is not None else 0.0
    high = info.maximum if info.maximum is not None else low + 20000.0
    if kind is Kind.INTEGER:
        return int(rng.integers(int(low), int(min(high, low + 30)) + 1))
    return round(float(rng.uniform(low, high)), 2)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ruleset", nargs="?", default=str(DEFAULT_RULESET))
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    ruleset = load_ruleset(args.ruleset)
    records = synthetic_records(ruleset, args.records, np.random.default_rng(args.seed))
    durable = durable_users_per_second(ruleset, records)
    reference = reference_users_per_second(ruleset, records)
    stages = len(ruleset.stages)
    print(f"{ruleset.name}: {stages} stage(s), {len(records):,} records")
    print(f"  durable_rules (DurableEvaluator): {durable:10,.0f} users/s")
    print(f"  reference (plain Python):         {reference:10,.0f} users/s   durable/reference = "
          f"{durable / reference:.2f}")


if __name__ == "__main__":
    main()
