"""PlanFile + Cohort + Decisions → AllocationProblem, with the per-(user, action) measures kept for the report.

    loans    = response × approval                      spend  = cost + loans × incentive
    lent     = loans × amount                           loss   = lent × PD × LGD
    profit   = lent × margin × term − loss − spend      (the product's expected-value formula)

A user for whom a term is missing cannot be given that action (its value would be unknown); the count is
reported. Constraints are rows Σ measure·[user counts]·[action counts] ≤ / ≥ bound; a share constraint
Σ m·[where] ≤ s·Σ m·[share_of] becomes Σ m·([where] − s·[share_of]) ≤ 0. When the plan has shifts, an action
that uses a resource with a capacity per shift is split into one action per shift (optimizer/plan_shifts.py),
and each shift's capacity is one more row after the plan's constraints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import ValidationError

from engine import Cohort, CompiledRuleset, Decisions, RuleFileError, load_ruleset
from engine.compiled import FieldInfo
from engine.compiler import Reporter, compile_expression, field_type
from engine.diagnostics import Diagnostic, Severity, did_you_mean, display_path
from engine.expression_ast import BOOLEAN, Expr, Kind, Literal, Type, names_in
from engine.expression_polars import tag_column, to_polars
from engine.expression_types import Scope
from engine.rule_file import FieldType
from engine.yaml_positions import Loc, PositionedDocument, YamlSyntaxError, load_positioned
from optimizer.plan_checks import check_terms, term_checks
from optimizer.plan_file import ACTION_RANGES, VALUE_RANGES, ConstraintPlan, Measure, Objective, PlanFile, Range
from optimizer.plan_shifts import PlanShifts, Variants, check_shifts, expand
from optimizer.problem import AllocationProblem, BoolArray, FloatArray

_VALUE_TERMS = ("approval", "amount", "margin", "term", "pd", "lgd")


@dataclass(frozen=True)
class LoadedPlan:
    """A checked plan: the model, its rules, and every expression compiled (typed) at its position."""

    plan: PlanFile
    path: str
    rules: CompiledRuleset
    schema: dict[str, FieldInfo]  # cohort columns: the rules' fields plus the plan's own
    terms: dict[str, Expr]  # value terms by name
    action_terms: dict[tuple[str, str], Expr]  # (action, "response"|"cost"|"incentive"|"use:<resource>") → expr
    where: dict[int, Expr]  # constraint index → filter
    share_of: dict[int, Expr]
    resources: tuple[str, ...]
    constraint_positions: tuple[tuple[int, int], ...] = ()  # (line, column) of each row: constraints, then shifts
    shifts: PlanShifts = dataclasses.field(default_factory=PlanShifts)
    doc: PositionedDocument | None = None  # the plan file, to place errors found in the cohort's values

    @property
    def constraint_names(self) -> tuple[str, ...]:
        """The problem's rows: the plan's constraints, then one capacity row per shift and resource."""
        return tuple(c.name for c in self.plan.constraints) + self.shifts.row_names

    def plan_schema(self) -> dict[str, FieldInfo]:
        """The cohort columns the plan's own expressions read, for a cohort whose decisions come from a file:
        the rules' inputs are then not needed, only what the values, costs, filters and shifts read."""
        exprs = [*self.terms.values(), *self.action_terms.values(), *self.where.values(), *self.share_of.values(),
                 *self.shifts.reach]
        read = {name for expr in exprs for name in names_in(expr)}
        outputs = self.rules.outputs  # these come with the decisions
        return {name: info for name, info in self.schema.items()
                if name == self.rules.id_field or (name in read and name not in outputs)}


@dataclass(frozen=True)
class PlanMeasures:
    """(N, A) expected measures of giving action a to user u, for the report."""

    responses: FloatArray
    loans: FloatArray
    lent: FloatArray
    spend: FloatArray
    loss: FloatArray
    profit: FloatArray
    resources: FloatArray  # (R, N, A) resource use per contact, in the order of LoadedPlan.resources

    def of(self, measure: Measure) -> FloatArray:
        if measure is Measure.CONTACTS:
            return np.ones_like(self.loans)
        return {
            Measure.RESPONSES: self.responses, Measure.LOANS: self.loans, Measure.AMOUNT: self.lent,
            Measure.SPEND: self.spend, Measure.LOSS: self.loss, Measure.PROFIT: self.profit,
        }[measure]


@dataclass(frozen=True)
class PlanModel:
    loaded: LoadedPlan
    problem: AllocationProblem
    measures: PlanMeasures
    user_ids: pl.Series
    channels: tuple[str, ...]  # (A,) channel of each action
    unknown_terms: int  # (user, action) pairs made ineligible because a term was missing
    shares: tuple[ShareParts, ...] = ()  # share constraints, to report the share itself
    shift_of: tuple[int, ...] = ()  # (A,) index into loaded.shifts.names, -1 for an action without a shift


@dataclass(frozen=True)
class ShareParts:
    """A share constraint's numerator and denominator rows, (N, A) each: share = Σ num·x / Σ den·x."""

    constraint: int
    limit: float
    numerator: FloatArray
    denominator: FloatArray


def load_plan(path: str | Path) -> LoadedPlan:
    """Read and check a plan file and the rules it names; raises RuleFileError with every problem found."""
    path = Path(path)
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleFileError((Diagnostic("file-not-found", f"no such file: {shown}", shown),)) from None
    try:
        doc = load_positioned(text, shown)
    except YamlSyntaxError as err:
        raise RuleFileError((err.diagnostic,), {shown: text}) from None
    report = Reporter(doc)
    sources = {shown: text}
    if not isinstance(doc.data, dict):  # empty, or a list: pydantic would say "a valid dictionary"
        raise RuleFileError((Diagnostic(
            "not-a-plan-file", "expected a plan file: keys plan:, rules:, value:, actions: and constraints: "
            "(docs/plan-file.md)", shown, 1, 1),), sources)
    try:
        plan = PlanFile.model_validate(doc.data)
    except ValidationError as err:
        report.pydantic(err, PlanFile)
        raise RuleFileError(tuple(report.diagnostics), sources) from None
    rules_path = path.parent / plan.rules
    if not rules_path.exists():
        report.at(("rules",), "file-not-found", f"no such ruleset or pipeline: {plan.rules}")
        raise RuleFileError(tuple(report.diagnostics), sources)
    rules = load_ruleset(rules_path)
    return _Checker(plan, shown, report, rules).run(sources)


class _Checker:
    def __init__(self, plan: PlanFile, path: str, report: Reporter, rules: CompiledRuleset) -> None:
        self.plan, self.path, self.report, self.rules = plan, path, report, rules

    def run(self, sources: dict[str, str]) -> LoadedPlan:
        plan, report, rules = self.plan, self.report, self.rules

        schema = dict(rules.schema)
        for name, field in plan.fields.items():
            if name in rules.outputs:
                report.at(("fields", name), "output-field",
                          f"'{name}' is an output of the rules ({display_path(rules.path)}), not a cohort column: the "
                          "plan reads it from the decisions; remove it from fields:", key=True)
                continue
            typ = field_type(field.type, field.values)
            if name in schema and schema[name].type != typ:
                report.at(("fields", name), "conflicting-field",
                          f"'{name}' is {schema[name].type.describe()} in the rules", key=True)
            allowed = tuple(field.values) if field.values and field.type is not FieldType.CATEGORY else None
            declared = f"{self.path}:{report.doc.key_span(('fields', name)).line}"
            schema.setdefault(name, FieldInfo(name, typ, field.min, field.max, allowed, field.nullable,
                                              field.required, field.pii, field.label, declared))
        names: dict[str, Type] = {n: f.type for n, f in schema.items()}
        names.update(rules.outputs)
        scope = Scope(names, frozenset(rules.tags))
        terms: dict[str, Expr] = {}
        for term in _VALUE_TERMS:
            expr = self._number(("value", term), getattr(plan.value, term), scope, VALUE_RANGES[term])
            if expr is not None:
                terms[term] = expr
        resources: dict[str, None] = {}
        action_terms: dict[tuple[str, str], Expr] = {}
        known = set(rules.action_ids)
        for action, spec in plan.actions.items():
            if action not in known:
                guess = did_you_mean(action, known)
                suggestion = f" (did you mean '{guess}'?)" if guess else ""
                report.at(("actions", action), "unknown-action",
                          f"'{action}' is not an action of {rules.path}{suggestion}",
                          "actions: " + ", ".join(rules.action_ids), key=True)
                continue
            for part in ("response", "cost", "incentive"):
                expr = self._number(("actions", action, part), getattr(spec, part), scope, ACTION_RANGES[part])
                if expr is not None:
                    action_terms[(action, part)] = expr
            for resource, raw in spec.uses.items():
                resources.setdefault(resource, None)
                expr = self._number(("actions", action, "uses", resource), raw, scope, ACTION_RANGES["use"])
                if expr is not None:
                    action_terms[(action, f"use:{resource}")] = expr
        shifts = check_shifts(plan, report, scope, tuple(resources), [a for a in plan.actions if a in known],
                              self._number)
        where: dict[int, Expr] = {}
        share_of: dict[int, Expr] = {}
        channel_names = known | {a.channel for a in rules.actions}
        planned = {name for a in rules.actions if a.id in plan.actions for name in (a.id, a.channel)}
        measures = [m.value for m in Measure] + list(resources)
        seen: set[str] = set()
        for index, constraint in enumerate(plan.constraints):
            loc: Loc = ("constraints", index)
            if constraint.name in seen:
                report.at((*loc, "name"), "duplicate-constraint", f"constraint '{constraint.name}' is defined twice")
            seen.add(constraint.name)
            if constraint.measure not in measures:
                guess = did_you_mean(constraint.measure, measures)
                report.at((*loc, "measure"), "unknown-measure",
                          f"unknown measure '{constraint.measure}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                          "measures: " + ", ".join(measures))
            else:
                self._negative_limit(loc, constraint)
            for channel in constraint.channels or []:
                if channel not in channel_names:
                    guess = did_you_mean(channel, channel_names)
                    suggestion = f" (did you mean '{guess}'?)" if guess else ""
                    report.at((*loc, "channels"), "unknown-action",
                              f"'{channel}' is not a channel or action{suggestion}")
            self._channels_count(loc, constraint.channels, channel_names, planned)
            for key, target in (("where", where), ("share_of", share_of)):
                raw = getattr(constraint, key)
                if raw is not None:
                    expr = compile_expression(report, (*loc, key), raw, scope)
                    if expr is not None and expr.t != BOOLEAN:
                        report.at((*loc, key), "type-mismatch", f"'{key}' must be true/false, got {expr.t.describe()}")
                    elif expr is not None:
                        target[index] = expr
        errors = [d for d in report.diagnostics if d.severity is Severity.ERROR]
        if errors:
            raise RuleFileError(tuple(report.diagnostics), {**sources, **rules.sources})
        positions = tuple((report.doc.span(("constraints", i)).line, report.doc.span(("constraints", i)).column)
                          for i in range(len(plan.constraints))) + shifts.positions
        return LoadedPlan(plan, self.path, rules, schema, terms, action_terms, where, share_of, tuple(resources),
                          positions, shifts, report.doc)

    def _number(self, loc: Loc, raw: float | str, scope: Scope, valid: Range) -> Expr | None:
        expr = compile_expression(self.report, loc, raw, scope)
        if expr is not None and not expr.t.is_numeric:
            self.report.at(loc, "type-mismatch", f"expected a number, got {expr.t.describe()}")
            return None
        if isinstance(raw, str) and isinstance(expr, Literal):  # "2.5" or "1e999": a number after all
            why = valid.problem(float(expr.value))
            if why is not None:
                self.report.at(loc, "out-of-range", f"{'.'.join(map(str, loc))}: {why}")
                return None
        return expr

    def _channels_count(self, loc: Loc, channels: list[str] | None, known: set[str], planned: set[str]) -> None:
        """A constraint over channels that no action of the plan uses counts nothing: it would hold (a maximum)
        or fail (a minimum) whatever the plan does, which is never what was meant."""
        if channels is None:
            return
        if not channels:
            self.report.at((*loc, "channels"), "empty-channels",
                           "channels: [] names no channel, so the constraint would count nothing; leave channels "
                           "out to count every channel")
        elif all(c in known for c in channels) and not any(c in planned for c in channels):
            self.report.at((*loc, "channels"), "unplanned-channel",
                           f"no action of this plan is in {', '.join(channels)}, so the constraint would count "
                           "nothing", "the plan's actions: " + ", ".join(self.plan.actions))

    def _negative_limit(self, loc: Loc, constraint: ConstraintPlan) -> None:
        """Every measure but profit is ≥ 0 for every contact (the terms' ranges make sure of it): a negative
        maximum can never be met, and a negative minimum constrains nothing. Either is a slip of the pen."""
        if constraint.measure == Measure.PROFIT.value:
            return
        for key, meaning in (("max", "can never be met"), ("min", "constrains nothing")):
            bound = getattr(constraint, key)
            if bound is not None and bound < 0:
                self.report.at((*loc, key), "negative-limit",
                               f"{constraint.measure} is never negative, so {key}: {bound:g} {meaning}")


def _per_user(frame: pl.DataFrame, exprs: dict[str, Expr]) -> dict[str, FloatArray]:
    """Evaluate expressions over the users in one Polars select; missing values become NaN."""
    if not exprs:
        return {}
    columns = [
        (pl.lit(float(e.value)) if isinstance(e, Literal) else to_polars(e).cast(pl.Float64)).alias(f"e{i}")
        for i, e in enumerate(exprs.values())
    ]
    out = frame.select(columns)
    n = frame.height
    arrays: dict[str, FloatArray] = {}
    for i, key in enumerate(exprs):
        series = out[f"e{i}"]
        values = series.fill_null(np.nan).to_numpy().astype(np.float64, copy=False)
        arrays[key] = np.broadcast_to(values, (n,)) if values.shape != (n,) else values
    return arrays


def build_problem(loaded: LoadedPlan, cohort: Cohort, decisions: Decisions) -> PlanModel:
    plan, rules = loaded.plan, loaded.rules
    if decisions.height != cohort.height:
        raise ValueError(f"decisions have {decisions.height} rows, the cohort {cohort.height}")
    frame = pl.concat([cohort.frame, decisions.frame.drop(cohort.id_field)], how="horizontal")
    for tag in rules.tags:  # has_tag() reads tag columns; make sure each exists even if no user has it
        if tag_column(tag) not in frame.columns:
            frame = frame.with_columns(pl.lit(False).alias(tag_column(tag)))
    actions = [a for a in rules.action_ids if a in plan.actions]
    shifts = loaded.shifts
    if loaded.doc is not None:  # a term that is undefined, infinite or out of its range for some users
        id_info = cohort.schema.get(cohort.id_field)
        problems = check_terms(loaded.doc, frame, term_checks(loaded.terms, loaded.action_terms, shifts, actions),
                               cohort.id_field, id_info is not None and id_info.pii)
        if problems:
            raise RuleFileError(tuple(problems), {loaded.path: loaded.doc.source})
    variants = expand(actions, shifts)  # the problem's actions: each plan action, or its per-shift variants
    channel_of = {a.id: a.channel for a in rules.actions}
    n, a_count = frame.height, len(variants.names)
    user = _per_user(frame, loaded.terms)
    per_action = _per_user(frame, {f"{a}|{part}": e for (a, part), e in loaded.action_terms.items()})
    reach = _per_user(frame, dict(zip(shifts.names, shifts.reach, strict=True)))

    def column(action: str, part: str, default: float = 0.0) -> FloatArray:
        return per_action.get(f"{action}|{part}", np.full(n, default))

    def per_variant(part: str) -> FloatArray:
        """(N, A): each problem action gets the column of its plan action."""
        if not a_count:
            return np.zeros((n, 0))
        by_action: FloatArray = np.stack([column(a, part) for a in actions], axis=1)[:, variants.base]
        return by_action

    response = per_variant("response")
    if shifts.names:  # × the shift's reach; the last column (shift -1) is 1 for actions without a shift
        by_shift = np.stack([*(reach[s] for s in shifts.names), np.ones(n)], axis=1)
        response = response * by_shift[:, variants.shift]
    cost = per_variant("cost")
    incentive = per_variant("incentive")
    resources = np.stack([per_variant(f"use:{r}") for r in loaded.resources]) if loaded.resources and a_count \
        else np.zeros((0, n, a_count))
    loans = response * user["approval"][:, None]
    lent = loans * user["amount"][:, None]
    loss = lent * (user["pd"] * user["lgd"])[:, None]
    spend = cost + loans * incentive
    profit = lent * (user["margin"] * user["term"])[:, None] - loss - spend
    measures = PlanMeasures(response, loans, lent, spend, loss, profit, resources)

    order = [decisions.actions.index(actions[b]) for b in variants.base]
    eligible: BoolArray = decisions.eligible_matrix()[:, order] if a_count else np.zeros((n, 0), dtype=bool)
    value = profit if plan.objective is not Objective.LOANS else loans
    known = np.isfinite(value) & np.isfinite(spend) & np.isfinite(loss) & (
        np.isfinite(resources).all(axis=0) if loaded.resources else True)
    unknown = int((eligible & ~known).sum())
    eligible = eligible & known

    weights, rhs, sense = [], [], []
    shares: list[ShareParts] = []
    # A constraint that names a channel or an action counts every shift variant of it.
    action_array = np.array([actions[b] for b in variants.base])
    channel_array = np.array([channel_of[a] for a in action_array.tolist()])
    for index, constraint in enumerate(plan.constraints):
        m = _measure(constraint, measures, loaded.resources)
        in_channels = _channel_mask(constraint, channel_array, action_array, a_count)
        counted = _user_mask(frame, loaded.where.get(index), n)[:, None] & in_channels[None, :]
        row = np.where(known, m, 0.0) * counted
        if constraint.max_share is not None or constraint.min_share is not None:
            share = float(constraint.max_share if constraint.max_share is not None else constraint.min_share or 0.0)
            base = _user_mask(frame, loaded.share_of.get(index), n)[:, None] & in_channels[None, :]
            denominator = np.where(known, m, 0.0) * base
            shares.append(ShareParts(index, share, row, denominator))
            row = row - share * denominator
            weights.append(row)
            rhs.append(0.0)
            sense.append(-1 if constraint.max_share is not None else 1)
            continue
        weights.append(row)
        rhs.append(float(constraint.max if constraint.max is not None else constraint.min))  # type: ignore[arg-type]
        sense.append(-1 if constraint.max is not None else 1)
    weights.extend(_shift_rows(shifts, variants, measures, loaded.resources, known))
    rhs.extend(shifts.capacity.ravel().tolist())
    sense.extend([-1] * shifts.capacity.size)
    weight = np.stack(weights) if weights else np.zeros((0, n, a_count))
    problem = AllocationProblem(
        np.where(known, value, 0.0), eligible, weight, np.asarray(rhs, dtype=np.float64),
        np.asarray(sense, dtype=np.int8), loaded.constraint_names, variants.names)
    return PlanModel(loaded, problem, measures, decisions.frame[cohort.id_field],
                     tuple(channel_array.tolist()), unknown, tuple(shares), tuple(variants.shift.tolist()))


def _shift_rows(shifts: PlanShifts, variants: Variants, measures: PlanMeasures, resources: tuple[str, ...],
                known: BoolArray) -> list[FloatArray]:
    """One capacity row per shift and resource, shift by shift: the use of the variants in that shift."""
    rows: list[FloatArray] = []
    for s in range(len(shifts.names)):
        in_shift = variants.shift == s
        for resource in shifts.resources:
            use = measures.resources[resources.index(resource)]
            rows.append(np.where(known, use, 0.0) * in_shift[None, :])
    return rows


def _measure(constraint: ConstraintPlan, measures: PlanMeasures, resources: tuple[str, ...]) -> FloatArray:
    if constraint.measure in resources:
        per_contact: FloatArray = measures.resources[resources.index(constraint.measure)]
        return per_contact
    return measures.of(Measure(constraint.measure))


def _channel_mask(constraint: ConstraintPlan, channels: np.ndarray, actions: np.ndarray, count: int) -> BoolArray:
    if constraint.channels is None:
        return np.ones(count, dtype=bool)
    wanted = list(constraint.channels)
    mask: BoolArray = np.isin(channels, wanted) | np.isin(actions, wanted)
    return mask


def _user_mask(frame: pl.DataFrame, expr: Expr | None, n: int) -> BoolArray:
    if expr is None:
        return np.ones(n, dtype=bool)
    mask: BoolArray = frame.select(to_polars(expr).fill_null(False)).to_series().to_numpy().astype(bool)
    return mask


__all__ = ["Kind", "LoadedPlan", "PlanMeasures", "PlanModel", "build_problem", "load_plan"]
