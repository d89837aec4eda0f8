"""A rule file → RulesetStage: validate with pydantic, parse and type-check every expression, and report every
problem at once with its file position."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.compiled import CompiledRule, FieldInfo, Outcome, RulesetStage, TestCase
from engine.diagnostics import Diagnostic, Severity, did_you_mean
from engine.expression_ast import BOOLEAN, Expr, Kind, Literal, Type, names_in
from engine.expression_parser import ExpressionSyntaxError, parse_expression
from engine.expression_types import Scope, check, literal_type
from engine.functions import unify
from engine.rule_file import (
    RESERVED_NAMES,
    FieldType,
    HitPolicy,
    RuleFile,
)
from engine.yaml_positions import Loc, PositionedDocument, expression_origin


class Reporter:
    """Collects diagnostics for one positioned document."""

    def __init__(self, doc: PositionedDocument) -> None:
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    def at(self, loc: Loc, code: str, message: str, hint: str | None = None, *, key: bool = False,
           severity: Severity = Severity.ERROR, subject: str | None = None) -> None:
        span = self.doc.key_span(loc) if key else self.doc.span(loc)
        length = len(str(loc[-1])) if key and loc else max(span.end_column - span.column, 1) if (
            span.end_line == span.line) else 1
        self.diagnostics.append(
            Diagnostic(code, message, self.doc.path, span.line, span.column, length, hint, severity, subject)
        )

    def expression(self, loc: Loc, err: ExpressionSyntaxError) -> None:
        span = self.doc.span(loc)
        line0, col0 = expression_origin(span, self.doc.source)
        block = span.style in ("|", ">")
        for problem in err.problems:
            line = line0 + problem.span.line
            column = col0 + problem.span.start if problem.span.line == 0 or block else problem.span.start + 1
            self.diagnostics.append(
                Diagnostic(problem.code, problem.message, self.doc.path, line, column,
                           max(problem.span.end - problem.span.start, 1), problem.hint)
            )

    def pydantic(self, err: ValidationError, model: type[BaseModel]) -> None:
        seen: set[tuple[int, int, str]] = set()
        for item in err.errors():
            loc = tuple(item["loc"])
            kind = item["type"]
            if kind == "extra_forbidden":
                allowed = _allowed_keys(model, loc[:-1])
                guess = did_you_mean(str(loc[-1]), allowed)
                message = f"unknown key '{loc[-1]}'" + (f" (did you mean '{guess}'?)" if guess else "")
                code, hint, at_key = "unknown-key", "allowed keys: " + ", ".join(allowed), True
            elif kind == "missing":
                message, code, hint, at_key = f"missing key '{loc[-1]}'", "missing-key", None, False
                loc = loc[:-1]
            else:
                # pydantic adds the tried union member to the location ('when', 'str'): walk up to a real key.
                while loc and loc not in self.doc.values:
                    loc = loc[:-1]
                text = str(item["msg"]).removeprefix("Value error, ")
                message, code, hint, at_key = f"{_where(loc)}: {text}", "invalid-value", None, False
            span = self.doc.key_span(loc) if at_key else self.doc.span(loc)
            if (span.line, span.column, code) in seen:
                continue
            seen.add((span.line, span.column, code))
            self.at(loc, code, message, hint, key=at_key)


def _where(loc: Loc) -> str:
    return ".".join(str(p) for p in loc) if loc else "file"


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys of the model found at `loc` (a mapping in the file), walking the models' field annotations."""
    return list(_model_at(model, loc).model_fields)


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel]:
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                break
            current = current.model_fields[part].annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]  # a mapping's value or a list's item: `part` is its key or index
        else:
            break
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else model


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, …] → X; X | None → X (the first member that is a model or a container, if any)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        nested = [m for m in members if typing.get_origin(m) in (dict, list) or (
            isinstance(m, type) and issubclass(m, BaseModel))]
        return nested[0] if nested else annotation
    return annotation


def field_type(kind: FieldType, values: list[str] | list[str | int] | None) -> Type:
    if kind is FieldType.CATEGORY:
        return Type(Kind.CATEGORY, tuple(str(v) for v in values or ()))
    return Type(Kind(kind.value))


def compile_expression(report: Reporter, loc: Loc, raw: Any, scope: Scope) -> Expr | None:
    """Parse and type-check the expression held at `loc` (a YAML string, number or boolean)."""
    if isinstance(raw, bool | int | float):
        return Literal(raw, type=literal_type(raw))
    if not isinstance(raw, str):
        report.at(loc, "invalid-value", f"expected an expression, got {type(raw).__name__}")
        return None
    try:
        return check(parse_expression(raw), scope)
    except ExpressionSyntaxError as err:
        report.expression(loc, err)
        return None


def compile_ruleset(doc: PositionedDocument, known_tags: frozenset[str] | None = None
                    ) -> tuple[RulesetStage | None, list[Diagnostic]]:
    report = Reporter(doc)
    try:
        model = RuleFile.model_validate(doc.data)
    except ValidationError as err:
        report.pydantic(err, RuleFile)
        return None, report.diagnostics
    return _Compiler(model, report, known_tags).run(), report.diagnostics


class _Compiler:
    def __init__(self, model: RuleFile, report: Reporter, known_tags: frozenset[str] | None) -> None:
        self.model = model
        self.report = report
        self.known_tags = known_tags
        self.names: dict[str, Type] = {}

    def run(self) -> RulesetStage | None:
        fields = self._fields()
        derived = self._derived()
        outputs = self._outputs()
        rules = self._rules(outputs)
        default = self._default(outputs)
        if any(d.severity is Severity.ERROR for d in self.report.diagnostics):
            return None
        # Only on a file that compiled: a rule that failed to compile would make its fields look unused.
        self._unused_fields(fields, derived, rules, default)
        ordered = rules
        if self.model.hit_policy is HitPolicy.PRIORITY:
            ordered = sorted(rules, key=lambda r: -(r.priority or 0))  # stable: ties keep file order
        return RulesetStage(
            name=self.model.ruleset,
            path=self.report.doc.path,
            hit_policy=self.model.hit_policy,
            version=self.model.version,
            fields=fields,
            derived=tuple(derived),
            outputs=outputs,
            rules=tuple(ordered),
            default=default,
            tests=tuple(
                TestCase(t.given, t.expect, t.name, self.report.doc.path, self.report.doc.span(("tests", i)).line)
                for i, t in enumerate(self.model.tests)
            ),
            label=self.model.label,
            derived_text={k: str(v) for k, v in self.model.derived.items()},
        )

    def _fields(self) -> dict[str, FieldInfo]:
        out: dict[str, FieldInfo] = {}
        for name, spec in self.model.fields.items():
            loc: Loc = ("fields", name)
            if name in RESERVED_NAMES:
                self.report.at(loc, "reserved-name", f"'{name}' is a reserved word and cannot be a field", key=True)
            numeric = spec.type in (FieldType.NUMBER, FieldType.INTEGER)
            if spec.type is FieldType.CATEGORY:
                if not spec.values:
                    self.report.at(loc, "missing-values", f"category field '{name}' needs its values: values: [a, b]",
                                   key=True)
                elif len(set(map(str, spec.values))) != len(spec.values):
                    self.report.at((*loc, "values"), "duplicate-value", "the same value is listed twice")
            elif spec.values is not None:
                wanted = int if spec.type is FieldType.INTEGER else str if spec.type is FieldType.STRING else None
                if wanted is None:
                    self.report.at((*loc, "values"), "invalid-value",
                                   f"'values' does not apply to a {spec.type.value} field")
                elif not all(isinstance(v, wanted) and not isinstance(v, bool) for v in spec.values):
                    self.report.at((*loc, "values"), "invalid-value",
                                   f"the values of an {spec.type.value} field must all be {spec.type.value}s")
            if not numeric and (spec.min is not None or spec.max is not None):
                self.report.at(loc, "invalid-value", f"min/max apply to numbers, not to a {spec.type.value} field",
                               key=True)
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                self.report.at((*loc, "min"), "invalid-value", f"min {spec.min:g} is above max {spec.max:g}")
            typ = field_type(spec.type, spec.values)
            out[name] = FieldInfo(
                name, typ, spec.min, spec.max,
                tuple(spec.values) if spec.values is not None and spec.type is not FieldType.CATEGORY else None,
                spec.nullable, spec.required, spec.pii, spec.label,
                f"{self.report.doc.path}:{self.report.doc.key_span(loc).line}",
            )
            self.names[name] = typ
        return out

    def scope(self) -> Scope:
        return Scope(dict(self.names), self.known_tags)

    def _derived(self) -> list[tuple[str, Expr]]:
        out: list[tuple[str, Expr]] = []
        for name, raw in self.model.derived.items():
            loc: Loc = ("derived", name)
            if name in self.names:
                self.report.at(loc, "name-clash", f"derived value '{name}' has the name of a field", key=True)
                continue
            expr = compile_expression(self.report, loc, raw, self.scope())
            if expr is not None:
                out.append((name, expr))
                self.names[name] = expr.t
        return out

    def _outputs(self) -> dict[str, Type]:
        out: dict[str, Type] = {}
        for name, spec in self.model.outputs.items():
            loc: Loc = ("outputs", name)
            if name in self.names or name in RESERVED_NAMES:
                self.report.at(loc, "name-clash", f"output '{name}' has the name of a field, derived value or keyword",
                               key=True)
                continue
            if spec.type is FieldType.CATEGORY and not spec.values:
                self.report.at(loc, "missing-values", f"category output '{name}' needs its values", key=True)
                continue
            if name == "tier" and spec.type is not FieldType.CATEGORY:
                self.report.at((*loc, "type"), "invalid-value", "'tier' must be a category output")
            if name == "tier" and self.model.hit_policy is HitPolicy.COLLECT:
                self.report.at(loc, "tier-in-collect",
                               "a collect ruleset cannot decide the tier (several rules may match)",
                               "use hit_policy: first (first match wins) or priority", key=True)
            out[name] = field_type(spec.type, spec.values)
        return out

    def _outcome(self, loc: Loc, then: Mapping[str, Any], outputs: dict[str, Type]) -> Outcome:
        values: list[tuple[str, Expr]] = []
        lists: dict[str, tuple[str, ...]] = {"tags": (), "allow": (), "block": ()}
        for key, raw in then.items():
            at: Loc = (*loc, key)
            if key in lists:
                items = [raw] if isinstance(raw, str) else raw
                if not isinstance(items, list) or not all(isinstance(i, str) and i.isidentifier() for i in items):
                    self.report.at(at, "invalid-value", f"'{key}' takes a list of names, e.g. {key}: [a, b]")
                    continue
                lists[key] = tuple(items)
                continue
            expected = outputs.get(key)
            if expected is None:
                guess = did_you_mean(key, [*outputs, *lists])
                suggestion = f" (did you mean '{guess}'?)" if guess else ""
                self.report.at(at, "unknown-output", f"'{key}' is not an output of this ruleset{suggestion}",
                               "declare it under outputs:, or use tags/allow/block", key=True)
                continue
            expr = self._output_value(at, raw, key, expected)
            if expr is not None:
                values.append((key, expr))
        return Outcome(tuple(values), lists["tags"], lists["allow"], lists["block"])

    def _output_value(self, loc: Loc, raw: Any, name: str, expected: Type) -> Expr | None:
        if expected.kind is Kind.CATEGORY:
            if not isinstance(raw, str) or raw not in expected.values:
                guess = did_you_mean(str(raw), expected.values)
                self.report.at(loc, "unknown-category",
                               f"'{raw}' is not a value of '{name}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                               "its values are: " + ", ".join(expected.values))
                return None
            return Literal(raw, type=expected)
        expr = compile_expression(self.report, loc, raw, self.scope())
        if expr is None:
            return None
        merged = unify(expected, expr.t)
        if merged != expected:
            self.report.at(loc, "type-mismatch",
                           f"'{name}' is {expected.describe()} but this gives {expr.t.describe()}",
                           "text values need quotes inside the expression: \"'text'\"" if expected.kind is Kind.STRING
                           else None)
            return None
        return expr

    def _rules(self, outputs: dict[str, Type]) -> list[CompiledRule]:
        compiled: list[CompiledRule] = []
        seen: dict[str, int] = {}
        policy = self.model.hit_policy
        for index, rule in enumerate(self.model.rules):
            loc: Loc = ("rules", index)
            if rule.id in seen:
                self.report.at((*loc, "id"), "duplicate-rule-id",
                               f"rule id '{rule.id}' is already used by rule {seen[rule.id] + 1}")
            seen.setdefault(rule.id, index)
            if policy is HitPolicy.PRIORITY and rule.priority is None:
                self.report.at(loc, "missing-priority", f"rule '{rule.id}' needs a priority: (hit_policy is priority)")
            if policy is not HitPolicy.PRIORITY and rule.priority is not None:
                self.report.at((*loc, "priority"), "ignored-priority",
                               f"priority is ignored under hit_policy: {policy.value}", severity=Severity.WARNING)
            when = compile_expression(self.report, (*loc, "when"), rule.when, self.scope())
            if when is not None and when.t.kind is not Kind.BOOLEAN:
                self.report.at((*loc, "when"), "type-mismatch", f"'when' must be true/false, got {when.t.describe()}")
                when = None
            outcome = self._outcome((*loc, "then"), rule.then, outputs)
            if when is not None:
                compiled.append(CompiledRule(
                    rule.id, index, when, str(rule.when), outcome, rule.label, rule.priority,
                    self.report.doc.span(loc).line))
        if not self.model.rules:
            self.report.at(("rules",), "no-rules", "a ruleset needs at least one rule")
        return compiled

    def _default(self, outputs: dict[str, Type]) -> Outcome | None:
        if self.model.default is None:
            if self.model.hit_policy is not HitPolicy.COLLECT:
                self.report.at(("ruleset",), "missing-default",
                               f"hit_policy {self.model.hit_policy.value} gives exactly one result per user: "
                               "add a default: for users no rule matches", key=True)
            return None
        return self._outcome(("default",), self.model.default, outputs)

    def _unused_fields(self, fields: dict[str, FieldInfo], derived: list[tuple[str, Expr]],
                       rules: list[CompiledRule], default: Outcome | None) -> None:
        used: set[str] = set()
        exprs: list[Expr] = [e for _, e in derived] + [r.when for r in rules]
        for outcome in [r.outcome for r in rules] + ([default] if default else []):
            exprs.extend(e for _, e in outcome.values)
        for expr in exprs:
            used.update(names_in(expr))
        for name in fields:
            if name not in used:
                self.report.at(("fields", name), "unused-field", f"field '{name}' is declared but no rule reads it",
                               key=True, severity=Severity.WARNING, subject=name)


__all__ = ["BOOLEAN", "Reporter", "compile_expression", "compile_ruleset", "field_type"]
