"""One record at a time through durable_rules: the streaming evaluator, checked against the reference.

Per stage, in pipeline order: derived values are computed with the reference scalar evaluator; durable_rules
matches the stage's rule conditions (translated by streaming_translate) against one fact and tells which rules
fired; we apply the hit policy ourselves (durable has no salience: first-hit order is the stage's rule order),
compute the outputs with the scalar evaluator (values are not matching), and combine tags and eligibility
exactly as evaluate_reference does. The result is a RecordDecision equal to the reference's, except that
`checks` stays empty: durable says which rules fired, not why the others did not (false or missing), so
explanations come from the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.compiled import Outcome, RulesetStage
from engine.evaluate_reference import RecordDecision, _normalize
from engine.expression_scalar import evaluate
from engine.functions import Value
from engine.pipeline import CompiledRuleset
from engine.streaming_host import StreamingHost
from engine.streaming_translate import DurableProgram, translate_stage


@dataclass(frozen=True)
class _DurableStage:
    stage: RulesetStage
    program: DurableProgram
    registered: str | None  # None for a stage without rules (nothing to match)


class DurableEvaluator:
    """Decisions for single records, with durable_rules doing the rule matching."""

    def __init__(self, ruleset: CompiledRuleset, host: StreamingHost) -> None:
        self.ruleset = ruleset
        self.host = host
        stages: list[_DurableStage] = []
        for stage in ruleset.stages:
            program = translate_stage(stage, prefix=f"{ruleset.name}.")
            registered = host.register(program.name, program.definition) if program.definition else None
            stages.append(_DurableStage(stage, program, registered))
        self.stages = tuple(stages)

    def fired(self, index: int, scope: Mapping[str, Value], tags: frozenset[str] | set[str]) -> list[int]:
        """Positions (in evaluation order) of the rules of stage `index` whose `when` is true for `scope`."""
        compiled = self.stages[index]
        if compiled.registered is None:
            return []
        keys = self.host.fire(compiled.registered, compiled.program.fact(scope, tags))
        return [i for i, key in enumerate(compiled.program.rule_keys) if key in keys]

    def evaluate_record(self, record: Mapping[str, Value], tags: frozenset[str] = frozenset()) -> RecordDecision:
        ruleset = self.ruleset
        scope: dict[str, Value] = dict(record)
        decision = RecordDecision(tags=set(tags))
        allowed: set[str] = set()
        blocked: set[str] = set()
        for index, compiled in enumerate(self.stages):
            for outcome in self._stage(index, compiled.stage, scope, decision):
                decision.tags.update(outcome.tags)
                allowed.update(ruleset.expand_actions(outcome.allow))
                blocked.update(ruleset.expand_actions(outcome.block))
        decision.eligible = {
            a for a in ruleset.action_ids if (a in allowed or not ruleset.uses_allow) and a not in blocked
        }
        return decision

    def _stage(self, index: int, stage: RulesetStage, scope: dict[str, Value],
               decision: RecordDecision) -> list[Outcome]:
        for name, derived in stage.derived:
            scope[name] = evaluate(derived, scope, decision.tags)
            decision.derived[name] = scope[name]
        fired = self.fired(index, scope, decision.tags)
        chosen = fired[:1] if stage.decides_one else fired
        outcomes: list[Outcome] = [stage.rules[i].outcome for i in chosen]
        if not chosen and stage.default is not None:
            outcomes.append(stage.default)
            decision.defaults_applied.append(stage.name)
        for name, typ in stage.outputs.items():
            expr = next((o.value(name) for o in outcomes if o.value(name) is not None), None)
            if expr is None and stage.default is not None:
                expr = stage.default.value(name)
            value = _normalize(evaluate(expr, scope, decision.tags), typ) if expr is not None else None
            scope[name] = value
            decision.values[name] = value
        column = stage.rule_column
        if column is not None:
            decision.rules[column] = stage.rules[chosen[0]].id if chosen else "default"
        return outcomes
