"""The plan's terms checked on the cohort, user by user (in one Polars pass, not a Python loop).

A number written in the plan file is checked when the file loads (optimizer/plan_file.py: Range); an expression
or a cohort column can only be checked on the users it is evaluated for. Three things are errors, each reported
once per term at its place in the plan file, with the number of users and the first of them:

- undefined: missing although every value the expression reads is present: a division by zero, or log, sqrt or
  exp outside its domain (the rule language makes these missing, which in a rule is the right answer; in a plan
  it would silently withhold the action from those users);
- not finite: infinite or NaN (an infinite value in the cohort, or an overflow);
- out of its range: a response rate of 2.5, a negative cost or PD, which the optimizer would exploit.

A term that is missing because a cohort value is missing is not an error: that user is not offered the action,
and the count is shown (docs/plan-file.md). Users the rules make ineligible for an action are not checked for
its terms: they are never offered it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from engine.compiler import Reporter
from engine.decisions import eligible_column
from engine.diagnostics import Diagnostic
from engine.expression_ast import Expr, Literal, names_in
from engine.expression_polars import to_polars
from engine.yaml_positions import Loc, PositionedDocument
from optimizer.plan_file import ACTION_RANGES, MULTIPLIER, RATE, VALUE_RANGES, Range
from optimizer.plan_shifts import PlanShifts


@dataclass(frozen=True)
class TermCheck:
    loc: Loc  # where the term is written
    name: str  # as the planner reads it: actions.voicebot.response
    value: pl.Expr  # Float64, null where missing
    inputs: tuple[str, ...]  # the columns it reads
    valid: Range
    relevant: pl.Expr  # the users it is evaluated for
    range_only: bool = False  # a product of terms checked on their own: report only its range


def _value(expr: Expr) -> pl.Expr:
    return pl.lit(float(expr.value)) if isinstance(expr, Literal) else to_polars(expr).cast(pl.Float64)


def _any_eligible(actions: Sequence[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(eligible_column(a)) for a in actions]) if actions else pl.lit(False)


def term_checks(terms: dict[str, Expr], action_terms: dict[tuple[str, str], Expr], shifts: PlanShifts,
                actions: Sequence[str]) -> list[TermCheck]:
    """Every term of the plan, with the users it applies to; `actions` are the plan's actions the rules know."""
    checks: list[TermCheck] = []
    everyone = _any_eligible(actions)
    for term, expr in terms.items():
        checks.append(TermCheck(("value", term), f"value.{term}", _value(expr), tuple(names_in(expr)),
                                VALUE_RANGES[term], everyone))
    for (action, part), expr in action_terms.items():
        kind, _, resource = part.partition(":")
        loc: Loc = ("actions", action, "uses", resource) if resource else ("actions", action, part)
        checks.append(TermCheck(loc, ".".join(map(str, loc)), _value(expr), tuple(names_in(expr)),
                                ACTION_RANGES[kind], pl.col(eligible_column(action))))
    for s, (shift, reach) in enumerate(zip(shifts.names, shifts.reach, strict=True)):
        split = [a for a in actions if s in shifts.shifts_of(a)]
        loc = ("shifts", shift, "reach")
        checks.append(TermCheck(loc, f"shifts.{shift}.reach", _value(reach), tuple(names_in(reach)), MULTIPLIER,
                                _any_eligible(split)))
        for action in split:  # the rate the optimizer uses in the shift: still a probability
            response = action_terms.get((action, "response"))
            if response is not None:
                checks.append(TermCheck(
                    loc, f"actions.{action}.response × shifts.{shift}.reach", _value(response) * _value(reach),
                    tuple(dict.fromkeys(names_in(response) + names_in(reach))), RATE,
                    pl.col(eligible_column(action)), range_only=True))
    return checks


def check_terms(doc: PositionedDocument, frame: pl.DataFrame, checks: Sequence[TermCheck], id_field: str,
                pii_id: bool) -> list[Diagnostic]:
    """Count the users each check fails for, in one pass over the cohort; show the first of each."""
    if not checks or frame.height == 0:
        return []
    masks: dict[str, pl.Expr] = {}
    for i, check in enumerate(checks):
        relevant = check.relevant.fill_null(False)
        present = pl.all_horizontal([pl.col(n).is_not_null() for n in check.inputs]) if check.inputs else pl.lit(True)
        finite = check.value.is_finite()
        low = check.value < check.valid.low if check.valid.low is not None else pl.lit(False)
        high = check.value > check.valid.high if check.valid.high is not None else pl.lit(False)
        never = pl.lit(False)
        masks[f"undefined{i}"] = never if check.range_only else relevant & check.value.is_null() & present
        masks[f"finite{i}"] = never if check.range_only else relevant & check.value.is_not_null() & ~finite
        masks[f"range{i}"] = relevant & finite & (low | high)
    lazy = frame.lazy()
    counts = lazy.select([mask.sum().alias(name) for name, mask in masks.items()]).collect().row(0, named=True)
    report = Reporter(doc)
    for i, check in enumerate(checks):
        for kind in ("undefined", "finite", "range"):
            count = int(counts[f"{kind}{i}"])
            if count:
                who, value = _first(lazy, masks[f"{kind}{i}"], check.value, id_field, pii_id)
                _report(report, check, kind, count, who, value)
    return report.diagnostics


def _first(lazy: pl.LazyFrame, mask: pl.Expr, value: pl.Expr, id_field: str, pii_id: bool
           ) -> tuple[str, float | None]:
    row = (lazy.with_row_index("__row", offset=1).filter(mask)
           .select(pl.col("__row"), pl.col(id_field).cast(pl.String).alias("__id"), value.alias("__value"))
           .head(1).collect().row(0, named=True))
    who = f"row {row['__row']}" if pii_id else f"user {row['__id']}"
    return who, row["__value"]


def _report(report: Reporter, check: TermCheck, kind: str, count: int, who: str, value: float | None) -> None:
    users = f"{count:,} user(s) (first: {who}"
    if kind == "undefined":
        report.at(check.loc, "undefined-term",
                  f"{check.name} is undefined for {users}) although every value it reads is present: a division by "
                  "zero, or log, sqrt or exp outside its domain",
                  "guard it, e.g. `a / b if b != 0 else 0`; a term missing because a cohort value is missing only "
                  "withholds the action from that user")
    elif kind == "finite":
        report.at(check.loc, "non-finite-term", f"{check.name} is infinite or NaN for {users}: {value})",
                  "an infinite value in the cohort, or numbers so large that the arithmetic overflows")
    else:
        report.at(check.loc, "out-of-range",
                  f"{check.name} is {check.valid.what} and must be {check.valid.bounds}, but is not for {users}: "
                  f"{value:g})")
