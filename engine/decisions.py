"""Decisions: one row per user, as a Polars frame, with the numpy views the optimizer needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from engine.expression_polars import TAG_PREFIX

ELIGIBLE_PREFIX = "eligible_"


def eligible_column(action: str) -> str:
    return f"{ELIGIBLE_PREFIX}{action}"


class DecisionSummary(BaseModel):
    """What a person reads after `apply`: users per tier, tag counts, eligible users per action."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    users: int
    tiers: dict[str, int]
    tags: dict[str, int]
    eligible: dict[str, int]
    tier_rules: dict[str, int]


@dataclass(frozen=True)
class Decisions:
    frame: pl.DataFrame
    id_field: str
    tiers: tuple[str, ...]
    tags: tuple[str, ...]
    actions: tuple[str, ...]
    values: tuple[str, ...]

    @property
    def height(self) -> int:
        return self.frame.height

    def eligible_matrix(self) -> np.ndarray:
        """(N, A) bool, columns in the order of `actions` (without "do nothing", which the optimizer adds)."""
        if not self.actions:
            return np.zeros((self.frame.height, 0), dtype=bool)
        return self.frame.select([eligible_column(a) for a in self.actions]).to_numpy().astype(bool, copy=False)

    def tier_codes(self) -> np.ndarray:
        """(N,) int8 index into `tiers`; -1 where the tier is missing."""
        if "tier" not in self.frame.columns:
            return np.full(self.frame.height, -1, dtype=np.int8)
        return self.frame["tier"].to_physical().fill_null(-1).cast(pl.Int8).to_numpy()

    def tag_matrix(self) -> np.ndarray:
        """(N, T) bool, columns in the order of `tags`."""
        if not self.tags:
            return np.zeros((self.frame.height, 0), dtype=bool)
        return self.frame.select([f"{TAG_PREFIX}{t}" for t in self.tags]).to_numpy().astype(bool, copy=False)

    def summary(self) -> DecisionSummary:
        return summarize(self.frame, self.tiers, self.tags, self.actions)


def summarize(frame: pl.DataFrame | pl.LazyFrame, tiers: tuple[str, ...], tags: tuple[str, ...],
              actions: tuple[str, ...]) -> DecisionSummary:
    """One aggregate pass; works on a lazy frame too (for decisions written by the streaming engine)."""
    lazy = frame.lazy()
    columns = lazy.collect_schema().names()
    aggs: list[pl.Expr] = [pl.len().alias("__users")]
    aggs += [pl.col(f"{TAG_PREFIX}{t}").sum().alias(f"tag:{t}") for t in tags]
    aggs += [pl.col(eligible_column(a)).sum().alias(f"act:{a}") for a in actions]
    if "tier" in columns:
        aggs += [(pl.col("tier") == t).sum().alias(f"tier:{t}") for t in tiers]
    row = lazy.select(aggs).collect().row(0, named=True)
    rule_counts: dict[str, int] = {}
    if "tier_rule" in columns:
        counted = lazy.group_by("tier_rule").len().collect()
        rule_counts = {str(r): int(n) for r, n in counted.iter_rows()}
    return DecisionSummary(
        users=int(row["__users"]),
        tiers={t: int(row[f"tier:{t}"]) for t in tiers} if "tier" in columns else {},
        tags={t: int(row[f"tag:{t}"]) for t in tags},
        eligible={a: int(row[f"act:{a}"]) for a in actions},
        tier_rules=rule_counts,
    )
