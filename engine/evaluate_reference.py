"""One record at a time, in plain Python: the oracle for the batch evaluator, and the source of explanations.

Written to be read, not to be fast: every stage computes its derived values, tries every rule, applies the
hit policy, and records what it saw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from engine.cohort import PII_MASK
from engine.compiled import Outcome, RulesetStage
from engine.expression_ast import Expr, Kind, Type, names_in, tags_in
from engine.expression_scalar import evaluate
from engine.functions import Value
from engine.pipeline import CompiledRuleset


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule tried on one record: whether it fired, whether its outcome applied, and what it read."""

    stage: str
    rule_id: str
    label: str | None
    when: str
    result: Value  # True, False or None (missing)
    applied: bool
    inputs: tuple[tuple[str, Value], ...]
    tags_read: tuple[tuple[str, bool], ...] = ()


@dataclass(slots=True)
class RecordDecision:
    values: dict[str, Value] = field(default_factory=dict)  # every output, tier included
    rules: dict[str, str] = field(default_factory=dict)  # rule column → deciding rule id
    tags: set[str] = field(default_factory=set)
    eligible: set[str] = field(default_factory=set)
    checks: list[RuleCheck] = field(default_factory=list)
    derived: dict[str, Value] = field(default_factory=dict)
    defaults_applied: list[str] = field(default_factory=list)  # stages whose default applied


# Which rules of a stage fire for a scope: (stage index, stage, scope, tags so far) → positions in rule order.
# The reference evaluates every `when` itself; the durable_rules evaluator plugs in its Rete engine here.
RuleMatcher = Callable[[int, RulesetStage, Mapping[str, Value], set[str]], list[int]]


def normalize(value: Value, typ: Type) -> Value:
    if value is None:
        return None
    if typ.kind is Kind.NUMBER:
        return float(value)
    if typ.kind is Kind.INTEGER:
        return int(value)
    return value


def evaluate_record(ruleset: CompiledRuleset, record: Mapping[str, Value],
                    tags: frozenset[str] = frozenset(), mask_pii: bool = True,
                    matcher: RuleMatcher | None = None) -> RecordDecision:
    """The decision for one record. With a `matcher`, rule matching is delegated (and no checks are recorded)."""
    scope: dict[str, Value] = dict(record)
    decision = RecordDecision(tags=set(tags))
    allowed: set[str] = set()
    blocked: set[str] = set()
    pii = ruleset.pii_fields if mask_pii else frozenset()
    for index, stage in enumerate(ruleset.stages):
        applied = _stage(index, stage, scope, decision, pii, matcher)
        for outcome in applied:
            decision.tags.update(outcome.tags)
            allowed.update(ruleset.expand_actions(outcome.allow))
            blocked.update(ruleset.expand_actions(outcome.block))
    decision.eligible = {
        a for a in ruleset.action_ids if (a in allowed or not ruleset.uses_allow) and a not in blocked
    }
    return decision


def _read(expr: Expr, scope: Mapping[str, Value], pii: frozenset[str]) -> tuple[tuple[str, Value], ...]:
    return tuple((n, PII_MASK if n in pii and scope.get(n) is not None else scope.get(n)) for n in names_in(expr))


def _stage(index: int, stage: RulesetStage, scope: dict[str, Value], decision: RecordDecision,
           pii: frozenset[str], matcher: RuleMatcher | None) -> list[Outcome]:
    for name, derived in stage.derived:
        scope[name] = evaluate(derived, scope, decision.tags)
        decision.derived[name] = scope[name]
    if matcher is None:
        results: list[Value] = [evaluate(rule.when, scope, decision.tags) for rule in stage.rules]
        fired = [i for i, r in enumerate(results) if r is True]
    else:
        fired = matcher(index, stage, scope, decision.tags)
    chosen = fired[:1] if stage.decides_one else fired
    outcomes: list[Outcome] = [stage.rules[i].outcome for i in chosen]
    default_applies = not chosen and stage.default is not None
    if default_applies:
        assert stage.default is not None
        outcomes.append(stage.default)
        decision.defaults_applied.append(stage.name)
    if matcher is None:
        for i, (rule, result) in enumerate(zip(stage.rules, results, strict=True)):
            decision.checks.append(RuleCheck(
                stage.name, rule.id, rule.label, rule.when_text, result, i in chosen, _read(rule.when, scope, pii),
                tuple((t, t in decision.tags) for t in tags_in(rule.when))))
    for name, typ in stage.outputs.items():
        expr: Expr | None = next((o.value(name) for o in outcomes if o.value(name) is not None), None)
        if expr is None and stage.default is not None:
            expr = stage.default.value(name)
        value = normalize(evaluate(expr, scope, decision.tags), typ) if expr is not None else None
        scope[name] = value
        decision.values[name] = value
    column = stage.rule_column
    if column is not None:
        decision.rules[column] = stage.rules[chosen[0]].id if chosen else "default"
    return outcomes
