"""Correct before fast: a baseline's decisions must equal the engine's, column by column, row by row."""

from __future__ import annotations

import polars as pl

SHOWN = 5


def decision_differences(expected: pl.DataFrame, got: pl.DataFrame, id_field: str = "user_id") -> list[str]:
    """Every way `got` differs from `expected` (column names, order and types, then values), one line each.

    Values are compared exactly, missing equal to missing (floats too: the baselines do the same float64
    operations as the engine, so any difference is a real one).
    """
    if expected.columns != got.columns:
        missing = [n for n in expected.columns if n not in got.columns]
        extra = [n for n in got.columns if n not in expected.columns]
        return [f"columns differ: missing {missing}, unexpected {extra}, expected order {expected.columns}"]
    problems = [
        f"column '{name}' is {got.schema[name]}, expected {expected.schema[name]}"
        for name in expected.columns if got.schema[name] != expected.schema[name]
    ]
    if expected.height != got.height:
        problems.append(f"{got.height:,} rows, expected {expected.height:,}")
    if problems:
        return problems
    differs = pl.DataFrame({name: expected[name].ne_missing(got[name]) for name in expected.columns})
    for name in expected.columns:
        bad = differs[name]
        count = int(bad.sum())
        if not count:
            continue
        rows = expected.filter(bad).head(SHOWN)[id_field].to_list()
        shown = ", ".join(
            f"{uid}: {e!r} vs {g!r}" for uid, e, g in zip(
                rows, expected.filter(bad)[name].head(SHOWN).to_list(), got.filter(bad)[name].head(SHOWN).to_list(),
                strict=True))
        problems.append(f"column '{name}': {count:,} of {expected.height:,} rows differ (engine vs baseline: {shown})")
    return problems


def assert_same_decisions(expected: pl.DataFrame, got: pl.DataFrame, method: str, id_field: str = "user_id") -> None:
    problems = decision_differences(expected, got, id_field)
    assert not problems, f"{method} does not compute the engine's decisions:\n" + "\n".join(problems)
