"""The one-record-at-a-time evaluators (the reference interpreter, durable_rules) on a sample of the cohort.

They are timed on the first `n` users of the cohort (its users are drawn independently, so the head is a
fair sample), scaled per user, with benchmarks/durable_baseline.py's timers (one pass after a 50-record
warm-up; for durable_rules, after its own check of 200 records against the reference). Their decisions are
then computed again, untimed, turned into the engine's frame layout and compared with the engine's rows for
the same users. durable_rules is imported only when asked for: its Host is one per process
(durable_baseline.shared_host) and keeps two timer threads running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from engine.decisions import Decisions, eligible_column
from engine.evaluate_reference import RecordDecision, evaluate_record
from engine.expression_polars import tag_column
from engine.functions import Value
from engine.pipeline import CompiledRuleset

Record = Mapping[str, Value]
Evaluate = Callable[[Record], RecordDecision]


def sample_records(cohort: pl.DataFrame, n: int) -> list[dict[str, Any]]:
    """The first n users as plain Python records (categories as text, missing as None)."""
    return cohort.head(n).to_dicts()


def reference_evaluator(ruleset: CompiledRuleset) -> Evaluate:
    def evaluate(record: Record) -> RecordDecision:
        return evaluate_record(ruleset, record)

    return evaluate


def durable_evaluator(ruleset: CompiledRuleset) -> Evaluate:
    from benchmarks.durable_baseline import shared_host
    from engine.evaluate_durable import DurableEvaluator

    return DurableEvaluator(ruleset, shared_host()).evaluate_record


def seconds_per_user(method: str, ruleset: CompiledRuleset, records: Sequence[Record]) -> float:
    """One timed pass over `records` by "reference" or "durable_rules", in seconds per user."""
    from benchmarks import durable_baseline

    sample = [dict(r) for r in records]
    if method == "durable_rules":
        users_per_s = durable_baseline.durable_users_per_second(ruleset, sample, host=durable_baseline.shared_host(),
                                                                 repeat=1)
    elif method == "reference":
        users_per_s = durable_baseline.reference_users_per_second(ruleset, sample, repeat=1)
    else:
        raise ValueError(f"unknown per-record method '{method}'")
    return 1.0 / users_per_s


def evaluate_all(evaluate: Evaluate, records: Sequence[Record]) -> list[RecordDecision]:
    return [evaluate(record) for record in records]


def to_frame(ruleset: CompiledRuleset, like: Decisions, records: Sequence[Record],
             decisions: Sequence[RecordDecision]) -> pl.DataFrame:
    """Per-record decisions as a frame with the columns and types of the engine's `like.frame`."""
    id_field = ruleset.id_field
    columns: dict[str, list[Any]] = {id_field: [r[id_field] for r in records]}
    for name in like.frame.columns:
        if name == id_field:
            continue
        if name in ruleset.outputs:
            columns[name] = [d.values.get(name) for d in decisions]
        elif name.startswith("tag_"):
            tag = next(t for t in ruleset.tags if tag_column(t) == name)
            columns[name] = [tag in d.tags for d in decisions]
        elif name.startswith("eligible_"):
            action = next(a for a in ruleset.action_ids if eligible_column(a) == name)
            columns[name] = [action in d.eligible for d in decisions]
        else:  # a rule column (tier_rule)
            columns[name] = [d.rules.get(name) for d in decisions]
    return pl.DataFrame(columns, schema=like.frame.schema)
