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

from engine.compiled import RulesetStage
from engine.evaluate_reference import RecordDecision, evaluate_record
from engine.functions import Value
from engine.pipeline import CompiledRuleset
from engine.streaming_host import StreamingHost
from engine.streaming_translate import DurableProgram, translate_stage


class DurableMatcher:
    """Translated conditions registered on a host: which of them does a record make true?"""

    def __init__(self, program: DurableProgram, host: StreamingHost) -> None:
        self.program = program
        self.host = host
        self.registered = tuple(host.register(part.name, part.definition) for part in program.parts)

    def fired(self, scope: Mapping[str, Value], tags: frozenset[str] | set[str] = frozenset()) -> frozenset[str]:
        """The rule keys whose condition is true for `scope` (a record plus derived values and outputs)."""
        fired: set[str] = set()
        for part, registered in zip(self.program.parts, self.registered, strict=True):
            fired.update(self.host.fire(registered, part.fact(scope, tags)))
        return frozenset(fired)


class DurableEvaluator:
    """Decisions for single records, with durable_rules doing the rule matching."""

    def __init__(self, ruleset: CompiledRuleset, host: StreamingHost) -> None:
        self.ruleset = ruleset
        self.host = host
        self.matchers = tuple(
            DurableMatcher(translate_stage(stage, prefix=f"{ruleset.name}."), host) for stage in ruleset.stages
        )

    def fired(self, index: int, scope: Mapping[str, Value], tags: frozenset[str] | set[str]) -> list[int]:
        """Positions (in evaluation order) of the rules of stage `index` whose `when` is true for `scope`."""
        matcher = self.matchers[index]
        keys = matcher.fired(scope, tags)
        return [i for i, key in enumerate(matcher.program.rule_keys) if key in keys]

    def evaluate_record(self, record: Mapping[str, Value], tags: frozenset[str] = frozenset()) -> RecordDecision:
        """The reference's hit policies and outputs, with durable_rules deciding which rules fire."""
        return evaluate_record(self.ruleset, record, tags, matcher=self._match)

    def _match(self, index: int, stage: RulesetStage, scope: Mapping[str, Value], tags: set[str]) -> list[int]:
        return self.fired(index, scope, tags)
