"""CompiledRuleset → one lazy Polars plan over the whole cohort → Decisions.

Each stage adds its derived values, then one boolean column per rule (its `when`, true only when true:
missing never fires), then its outputs; later stages read earlier outputs as ordinary columns. Eligibility
is combined at the end from the allow/block of every rule that applied. Polars runs the plan columnar and
multi-threaded, and streaming when the source is a scan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any, cast

import polars as pl
import pyarrow as pa

from engine.cohort import Cohort, hash_pii, target_dtype
from engine.compiled import FieldInfo, RulesetStage
from engine.decisions import Decisions, eligible_column
from engine.expression_ast import Expr, Kind, Literal, Type, names_in, tags_in
from engine.expression_polars import tag_column, to_polars
from engine.pipeline import CompiledRuleset


def _dtype(typ: Type) -> pl.DataType:
    return target_dtype(FieldInfo("", typ))


def _typed(expr: Expr, typ: Type) -> pl.Expr:
    if typ.kind is Kind.CATEGORY and isinstance(expr, Literal):
        return pl.lit(expr.value, dtype=_dtype(typ))
    return to_polars(expr).cast(_dtype(typ))


def _derived_levels(stage: RulesetStage) -> Iterator[list[pl.Expr]]:
    """Derived values in batches that only read earlier batches (one with_columns each)."""
    level_of: dict[str, int] = {}
    levels: defaultdict[int, list[pl.Expr]] = defaultdict(list)
    for name, expr in stage.derived:
        level = 1 + max((level_of[n] for n in names_in(expr) if n in level_of), default=-1)
        level_of[name] = level
        levels[level].append(to_polars(expr).alias(name))
    for level in sorted(levels):
        yield levels[level]


def when_chain(branches: list[tuple[pl.Expr, pl.Expr]], otherwise: pl.Expr) -> pl.Expr:
    """when c1 then v1 when c2 then v2 … otherwise v: the first true condition wins, missing counts as false."""
    if not branches:
        return otherwise
    chain: Any = pl.when(branches[0][0]).then(branches[0][1])
    for cond, value in branches[1:]:
        chain = chain.when(cond).then(value)
    return cast(pl.Expr, chain.otherwise(otherwise))


def _deciding_index(conds: list[str]) -> pl.Expr:
    """Index of the first rule whose condition holds, -1 when none does (the default applies)."""
    branches = [(pl.col(c), pl.lit(ri, dtype=pl.Int16)) for ri, c in enumerate(conds)]
    return when_chain(branches, pl.lit(-1, dtype=pl.Int16))


class _Plan:
    def __init__(self, ruleset: CompiledRuleset, keep: tuple[str, ...] = ()) -> None:
        self.ruleset = ruleset
        self.keep = keep
        self.allow: defaultdict[str, list[pl.Expr]] = defaultdict(list)
        self.block: defaultdict[str, list[pl.Expr]] = defaultdict(list)
        self.tags: dict[str, None] = {}
        self.rule_columns: list[str] = []

    def build(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        for index, stage in enumerate(self.ruleset.stages):
            lf = self._stage(lf, index, stage)
        return lf.select([*self._final_columns(), *(pl.col(c) for c in self.keep)])

    def _stage(self, lf: pl.LazyFrame, si: int, stage: RulesetStage) -> pl.LazyFrame:
        # has_tag() of a tag no earlier stage gives is false, as in the reference (a ruleset checked alone).
        outcomes = [r.outcome for r in stage.rules] + ([stage.default] if stage.default else [])
        exprs = [rule.when for rule in stage.rules] + [e for _, e in stage.derived]
        exprs += [e for outcome in outcomes for _, e in outcome.values]
        unknown = {t for expr in exprs for t in tags_in(expr)} - set(self.tags)
        if unknown:
            lf = lf.with_columns([pl.lit(False).alias(tag_column(t)) for t in sorted(unknown)])
        for level in _derived_levels(stage):
            lf = lf.with_columns(level)
        conds = [f"__c{si}_{ri}" for ri in range(len(stage.rules))]
        lf = lf.with_columns(
            [to_polars(rule.when).fill_null(False).alias(c) for rule, c in zip(stage.rules, conds, strict=True)]
        )
        applied = self._applied(si, stage, conds)  # per rule: when its outcome applies; last: the default
        outputs: list[pl.Expr] = []
        if stage.decides_one:
            lf = lf.with_columns(_deciding_index(conds).alias(f"__r{si}"))
            outputs += self._first_outputs(stage, conds)
        else:
            outputs += self._collect_values(stage, conds, applied[-1])
        outcomes = [r.outcome for r in stage.rules] + ([stage.default] if stage.default else [])
        new_tags: defaultdict[str, list[pl.Expr]] = defaultdict(list)
        for outcome, mask in zip(outcomes, applied, strict=False):
            for tag in outcome.tags:
                new_tags[tag].append(mask)
            for name in self.ruleset.expand_actions(outcome.allow):
                self.allow[name].append(mask)
            for name in self.ruleset.expand_actions(outcome.block):
                self.block[name].append(mask)
        for tag, masks in new_tags.items():
            if tag in self.tags:
                masks = [pl.col(tag_column(tag)), *masks]
            outputs.append(pl.any_horizontal(masks).alias(tag_column(tag)))
            self.tags.setdefault(tag, None)
        return lf.with_columns(outputs) if outputs else lf

    def _applied(self, si: int, stage: RulesetStage, conds: list[str]) -> list[pl.Expr]:
        if not stage.rules:
            return [pl.lit(True)]
        if stage.decides_one:
            decided = pl.col(f"__r{si}")
            return [decided == ri for ri in range(len(conds))] + [decided == -1]
        fired = [pl.col(c) for c in conds]
        return [*fired, ~pl.any_horizontal(fired)]

    def _first_outputs(self, stage: RulesetStage, conds: list[str]) -> list[pl.Expr]:
        outputs: list[pl.Expr] = []
        default = stage.default
        for name, typ in stage.outputs.items():
            fallback = default.value(name) if default else None
            otherwise = _typed(fallback, typ) if fallback is not None else pl.lit(None, dtype=_dtype(typ))
            branches = []
            for rule, c in zip(stage.rules, conds, strict=True):
                expr = rule.outcome.value(name) or fallback
                then = _typed(expr, typ) if expr is not None else pl.lit(None, dtype=_dtype(typ))
                branches.append((pl.col(c), then))
            outputs.append(when_chain(branches, otherwise).alias(name))
        column = stage.rule_column
        assert column is not None
        rule_enum = pl.Enum([*(r.id for r in stage.rules), "default"])
        ids = [(pl.col(c), pl.lit(r.id, dtype=rule_enum)) for r, c in zip(stage.rules, conds, strict=True)]
        outputs.append(when_chain(ids, pl.lit("default", dtype=rule_enum)).alias(column))
        self.rule_columns.append(column)
        return outputs

    def _collect_values(self, stage: RulesetStage, conds: list[str], nothing_fired: pl.Expr) -> list[pl.Expr]:
        outputs: list[pl.Expr] = []
        for name, typ in stage.outputs.items():
            fallback = stage.default.value(name) if stage.default else None
            otherwise = _typed(fallback, typ) if fallback is not None else pl.lit(None, dtype=_dtype(typ))
            branches = [
                (pl.col(c), _typed(expr, typ))
                for rule, c in zip(stage.rules, conds, strict=True)
                if (expr := rule.outcome.value(name)) is not None
            ]
            outputs.append(when_chain(branches, otherwise).alias(name))
        return outputs

    def _final_columns(self) -> list[pl.Expr]:
        rs = self.ruleset
        id_info = rs.schema.get(rs.id_field)
        ident = pl.col(rs.id_field)
        columns = [hash_pii(ident).alias(rs.id_field) if id_info is not None and id_info.pii else ident]
        outputs = rs.outputs
        if "tier" in outputs:
            columns.append(pl.col("tier"))
        columns += [pl.col(c) for c in self.rule_columns]
        columns += [pl.col(tag_column(t)) for t in rs.tags]
        columns += [pl.col(n) for n in outputs if n != "tier"]
        for action in rs.action_ids:
            allowed = pl.any_horizontal(self.allow[action]) if self.allow[action] else pl.lit(not rs.uses_allow)
            blocks = self.block[action]
            eligible = (allowed & ~pl.any_horizontal(blocks)) if blocks else allowed
            columns.append(eligible.alias(eligible_column(action)))
        return columns


def decision_plan(ruleset: CompiledRuleset, typed: pl.LazyFrame, keep: tuple[str, ...] = ()) -> pl.LazyFrame:
    """The lazy plan from typed cohort columns to decision columns, then the columns `keep` of `typed` (say a
    digest of the inputs) in the same pass over the cohort."""
    return _Plan(ruleset, keep).build(typed)


def decisions_from_frame(ruleset: CompiledRuleset, frame: pl.DataFrame) -> Decisions:
    outputs = ruleset.outputs
    tier = outputs.get("tier")
    return Decisions(
        frame=frame,
        id_field=ruleset.id_field,
        tiers=tier.values if tier is not None else (),
        tags=ruleset.tags,
        actions=ruleset.action_ids,
        values=tuple(n for n in outputs if n != "tier"),
    )


def apply_batch(ruleset: CompiledRuleset, cohort: Cohort) -> Decisions:
    frame = decision_plan(ruleset, cohort.frame.lazy()).collect()
    return decisions_from_frame(ruleset, frame)


def apply_arrow(ruleset: CompiledRuleset, batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """Decisions for one Arrow record batch: the unit of work a distributed engine hands to each task."""
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    cohort = Cohort.from_frame(frame, ruleset.schema, ruleset.id_field, "<arrow batch>")
    return apply_batch(ruleset, cohort).frame.to_arrow()
