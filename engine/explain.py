"""Why a user got their decision: every rule tried, in order, with the values that made it fire."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from engine.cohort import Cohort
from engine.evaluate_reference import RecordDecision, RuleCheck, evaluate_record
from engine.functions import Value
from engine.pipeline import CompiledRuleset


class UserNotFound(Exception):
    pass


@dataclass(frozen=True)
class Explanation:
    user_id: str
    decision: RecordDecision
    stages: tuple[tuple[str, str, tuple[RuleCheck, ...]], ...]  # (ruleset, hit policy, checks)


def explain_user(ruleset: CompiledRuleset, cohort: Cohort, user_id: str) -> Explanation:
    rows = cohort.frame.filter(pl.col(cohort.id_field) == user_id)
    if rows.height == 0:
        raise UserNotFound(f"no user '{user_id}' in {cohort.source} (column '{cohort.id_field}')")
    record = rows.row(0, named=True)
    decision = evaluate_record(ruleset, record)
    stages = tuple(
        (s.name, s.hit_policy.value, tuple(c for c in decision.checks if c.stage == s.name)) for s in ruleset.stages
    )
    return Explanation(user_id, decision, stages)


def format_value(value: Value) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        if value.is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    return str(value)


def render_text(explanation: Explanation, ruleset: CompiledRuleset) -> str:
    """Plain text; the CLI colours it. Rules that fired show the values that made them fire."""
    lines = [f"user {explanation.user_id}"]
    d = explanation.decision
    for name, policy, checks in explanation.stages:
        lines.append(f"  {name} ({policy})")
        for check in checks:
            mark = "✓" if check.result is True else "·" if check.result is False else "?"
            status = "applied" if check.applied else "also matched, an earlier rule decided" if (
                check.result is True) else "missing value, did not fire" if check.result is None else "no"
            if check.result is not True and not _verbose(check):
                continue
            inputs = ", ".join(f"{k}={format_value(v)}" for k, v in check.inputs)
            tags = ", ".join(f"has_tag('{t}')={'true' if v else 'false'}" for t, v in check.tags_read)
            seen = "; ".join(p for p in (inputs, tags) if p)
            lines.append(f"    {mark} {check.rule_id} [{status}]  when {check.when}")
            if seen:
                lines.append(f"        because {seen}")
        if name in d.defaults_applied:
            lines.append("    → default applied (no rule fired)")
    lines.append("  result")
    for key, value in d.values.items():
        lines.append(f"    {key} = {format_value(value)}")
    for column, rule in d.rules.items():
        lines.append(f"    {column} = {rule}")
    lines.append(f"    tags = {', '.join(sorted(d.tags)) or '(none)'}")
    if ruleset.action_ids:
        lines.append(f"    eligible = {', '.join(a for a in ruleset.action_ids if a in d.eligible) or '(none)'}")
    return "\n".join(lines)


def _verbose(check: RuleCheck) -> bool:
    # Rules that did not fire because a value was missing are worth showing: they surprise people.
    return check.result is None
