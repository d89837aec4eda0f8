"""The compiled, immutable form of rule files: what the evaluators run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.expression_ast import Expr, Type
from engine.rule_file import HitPolicy


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """A cohort column as the rules see it: its type plus the checks a loaded value must pass."""

    name: str
    type: Type
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str | int, ...] | None = None  # for integer/string fields with `values:`
    nullable: bool = True
    required: bool = True
    pii: bool = False
    label: str | None = None
    declared_in: str = ""  # "path:line", for messages


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a rule (or the default) does when it applies."""

    values: tuple[tuple[str, Expr], ...] = ()  # output name → typed expression (category values are literals)
    tags: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    block: tuple[str, ...] = ()

    def value(self, name: str) -> Expr | None:
        return next((expr for key, expr in self.values if key == name), None)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    index: int  # position in the file
    when: Expr
    when_text: str
    outcome: Outcome
    label: str | None = None
    priority: int | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class TestCase:
    """A rule unit test as written; `line` points at it for failure messages."""

    given: dict[str, Any]
    expect: dict[str, Any]
    name: str | None
    path: str
    line: int


@dataclass(frozen=True)
class RulesetStage:
    """One compiled ruleset file. `rules` are in evaluation order (sorted by priority for `priority`)."""

    name: str
    path: str
    hit_policy: HitPolicy
    version: str
    fields: dict[str, FieldInfo]
    derived: tuple[tuple[str, Expr], ...]
    outputs: dict[str, Type]
    rules: tuple[CompiledRule, ...]
    default: Outcome | None
    tests: tuple[TestCase, ...] = ()
    label: str | None = None
    derived_text: dict[str, str] = field(default_factory=dict)

    @property
    def tags(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for outcome in [r.outcome for r in self.rules] + ([self.default] if self.default else []):
            for tag in outcome.tags:
                seen.setdefault(tag, None)
        return tuple(seen)

    @property
    def decides_one(self) -> bool:
        return self.hit_policy is not HitPolicy.COLLECT

    @property
    def rule_column(self) -> str | None:
        """The column naming the deciding rule, for `first`/`priority` rulesets."""
        if not self.decides_one:
            return None
        return "tier_rule" if "tier" in self.outputs else f"{self.name}_rule"

    def action_names(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for outcome in [r.outcome for r in self.rules] + ([self.default] if self.default else []):
            for name in (*outcome.allow, *outcome.block):
                seen.setdefault(name, None)
        return tuple(seen)
