"""Run the `tests:` written in rule files (given a record, expect outputs) with the reference evaluator."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from engine.compiled import FieldInfo, TestCase
from engine.evaluate_reference import RecordDecision, evaluate_record
from engine.expression_ast import Kind
from engine.functions import Value
from engine.pipeline import CompiledRuleset

_SET_KEYS = ("tags", "tags_include", "tags_exclude", "eligible", "eligible_include", "eligible_exclude")


@dataclass(frozen=True, slots=True)
class TestResult:
    case: TestCase
    scope: str  # the ruleset or pipeline the test belongs to
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def title(self) -> str:
        return f"{self.case.path}:{self.case.line}: {self.scope}" + (f" — {self.case.name}" if self.case.name else "")


def run_tests(ruleset: CompiledRuleset) -> list[TestResult]:
    """Every test of every ruleset in the pipeline (each on its own stage), then the pipeline's own tests."""
    results: list[TestResult] = []
    for stage in ruleset.stages:
        alone = replace(ruleset, stages=(stage,), schema=dict(stage.fields))
        results += [TestResult(case, stage.name, _run(alone, stage.fields, case)) for case in stage.tests]
    results += [TestResult(case, ruleset.name, _run(ruleset, ruleset.schema, case)) for case in ruleset.tests]
    return results


def _coerce(value: Any, info: FieldInfo) -> tuple[Value, str | None]:
    if value is None:
        return None, None
    kind = info.type.kind
    if kind is Kind.NUMBER and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), None
    if kind is Kind.INTEGER and isinstance(value, int) and not isinstance(value, bool):
        return value, None
    if kind is Kind.BOOLEAN and isinstance(value, bool):
        return value, None
    if kind is Kind.CATEGORY and str(value) in info.type.values:
        return str(value), None
    if kind is Kind.STRING and isinstance(value, str):
        return value, None
    return None, f"given {info.name} = {value!r} is not a valid {info.type.describe()}"


def _run(ruleset: CompiledRuleset, fields: dict[str, FieldInfo], case: TestCase) -> tuple[str, ...]:
    problems: list[str] = []
    record: dict[str, Value] = {}
    tags: frozenset[str] = frozenset()
    for key, value in case.given.items():
        if key == "tags":
            tags = frozenset(value if isinstance(value, list) else [value])
        elif key in fields:
            coerced, problem = _coerce(value, fields[key])
            if problem:
                problems.append(problem)
            record[key] = coerced
        elif key != ruleset.id_field:
            problems.append(f"given names '{key}', which is not a field of this ruleset")
    if problems:
        return tuple(problems)
    got = evaluate_record(ruleset, record, tags, mask_pii=False)
    for key, wanted in case.expect.items():
        problems.extend(_compare(ruleset, got, key, wanted))
    return tuple(problems)


def _compare(ruleset: CompiledRuleset, got: RecordDecision, key: str, wanted: Any) -> list[str]:
    if key in _SET_KEYS:
        names = set(wanted if isinstance(wanted, list) else [wanted])
        if key.startswith("eligible"):
            # An expectation lists action ids; a name that is only a channel stands for all its actions.
            ids = set(ruleset.action_ids)
            names = {a for n in names for a in ((n,) if n in ids else ruleset.expand_actions((n,)) or (n,))}
        actual = got.tags if key.startswith("tags") else got.eligible
        if key.endswith("_include") and not names <= actual:
            return [f"{key}: missing {sorted(names - actual)} (got {sorted(actual)})"]
        if key.endswith("_exclude") and names & actual:
            return [f"{key}: unexpected {sorted(names & actual)}"]
        if key in ("tags", "eligible") and names != actual:
            return [f"{key}: expected {sorted(names)}, got {sorted(actual)}"]
        return []
    if key == "rule":
        # `rule` is the rule that decided the tier; without a tier, the last first/priority ruleset's rule.
        rules = list(got.rules.values())
        actual_rule = got.rules.get("tier_rule", rules[-1] if rules else None)
        return [] if actual_rule == wanted else [f"rule: expected {wanted!r}, got {actual_rule!r}"]
    if key in got.values or key in got.derived:
        value = got.values[key] if key in got.values else got.derived[key]
        return [] if _same(value, wanted) else [f"{key}: expected {wanted!r}, got {value!r}"]
    if key.endswith("_rule") and key in got.rules:
        return [] if got.rules[key] == wanted else [f"{key}: expected {wanted!r}, got {got.rules[key]!r}"]
    return [f"expect names '{key}', which this ruleset does not output"]


def _same(actual: Value, wanted: Any) -> bool:
    if isinstance(actual, float) and isinstance(wanted, int | float) and not isinstance(wanted, bool):
        return math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=1e-9)
    return bool(actual == wanted)
