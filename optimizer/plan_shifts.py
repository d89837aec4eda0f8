"""Call-centre shifts: checked when the plan loads, then used to split actions into one variant per shift.

Staffing differs per shift, so a resource with a capacity per shift (agent minutes, voice-bot line minutes)
gets one capacity row per shift, named `agent_minutes@morning`. An action that uses such a resource becomes
one action of the AllocationProblem per shift it may be scheduled in (`telesales@morning`, …): a user gets at
most one action, so the optimizer chooses the shift. A variant's response is the action's response × the
shift's reach, an expression of the rule language compiled like every other plan expression. Constraints
that name a channel or an action count all its variants; cost and resource use per contact do not depend on
the shift.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.compiler import Reporter
from engine.diagnostics import did_you_mean
from engine.expression_ast import Expr, Literal
from engine.expression_types import Scope
from engine.yaml_positions import Loc
from optimizer.plan_file import MULTIPLIER, PlanFile, Range, Term, minutes_of_day
from optimizer.problem import AllocationProblem, FloatArray, IntArray

SEPARATOR = "@"  # never in a planner's name (names are identifiers), so variant and row names cannot clash
NO_SHIFT = -1


@dataclass(frozen=True)
class PlanShifts:
    """The plan's shifts, checked. S shifts, R resources with a capacity per shift."""

    names: tuple[str, ...] = ()  # (S,) in the plan's order
    hours: tuple[str, ...] = ()  # (S,) "09:00-12:00"
    resources: tuple[str, ...] = ()  # (R,)
    capacity: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))  # (S, R)
    reach: tuple[Expr, ...] = ()  # (S,) multiplier of the response in each shift
    positions: tuple[tuple[int, int], ...] = ()  # (S·R,) (line, column) of each capacity, in row order
    position: tuple[int, int] = (0, 0)  # (line, column) of `shifts:`
    allowed: tuple[tuple[str, tuple[int, ...]], ...] = ()  # split actions, each with the shifts it may use

    @property
    def row_names(self) -> tuple[str, ...]:
        """The capacity rows, shift by shift: agent_minutes@morning, bot_line_minutes@morning, …"""
        return tuple(f"{resource}{SEPARATOR}{shift}" for shift in self.names for resource in self.resources)

    def shifts_of(self, action: str) -> tuple[int, ...]:
        """The shifts (indices) `action` may be scheduled in; () when it is not split."""
        for name, shifts in self.allowed:
            if name == action:
                return shifts
        return ()


@dataclass(frozen=True)
class Variants:
    """The problem's A actions: each a plan action, alone or in one shift."""

    base: IntArray  # (A,) index into the plan's actions (in the rules' order)
    shift: IntArray  # (A,) index into PlanShifts.names, NO_SHIFT for an action that is not split
    names: tuple[str, ...]  # (A,) "telesales@morning", or the action id


def expand(actions: Sequence[str], shifts: PlanShifts) -> Variants:
    """Each action in order; one that is split becomes its variants, in the order of the plan's shifts."""
    base: list[int] = []
    shift: list[int] = []
    names: list[str] = []
    for index, action in enumerate(actions):
        for s in shifts.shifts_of(action) or (NO_SHIFT,):
            base.append(index)
            shift.append(s)
            names.append(action if s == NO_SHIFT else f"{action}{SEPARATOR}{shifts.names[s]}")
    return Variants(np.asarray(base, dtype=np.int64), np.asarray(shift, dtype=np.int64), tuple(names))


def with_shift_totals(problem: AllocationProblem, shifts: PlanShifts, first: int) -> AllocationProblem:
    """The problem plus one row per resource: the sum of its capacity rows over the shifts (rows from `first`).

    A sum of ≤ rows is implied by them, so adding it changes no answer; it lets the pairwise explanation of an
    infeasible plan name a minimum that no single shift blocks but all the shifts together do.
    """
    count, width = shifts.capacity.shape
    if not count or not width:
        return problem
    rows = problem.weight[first:first + count * width].reshape(count, width, problem.users, problem.actions)
    return AllocationProblem(
        problem.value, problem.eligible, np.concatenate([problem.weight, rows.sum(axis=0)]),
        np.concatenate([problem.rhs, shifts.capacity.sum(axis=0)]),
        np.concatenate([problem.sense, np.full(width, -1, dtype=np.int8)]),
        problem.constraint_names + tuple(f"{r} (all shifts)" for r in shifts.resources), problem.action_names)


NumberCompiler = Callable[[Loc, Term, Scope, Range], Expr | None]


def check_shifts(plan: PlanFile, report: Reporter, scope: Scope, used: Sequence[str], actions: Sequence[str],
                 number: NumberCompiler) -> PlanShifts:
    """Check the shifts and the actions' `shifts:` lists, reporting every problem at its position.

    `used` are the resources the actions use, `actions` the plan's actions that the rules know.
    """
    if not plan.shifts:
        for action in actions:
            if plan.actions[action].shifts is not None:
                report.at(("actions", action, "shifts"), "unknown-shift",
                          f"'{action}' names shifts, but the plan declares none", "declare them under shifts:",
                          key=True)
        return PlanShifts()
    names = tuple(plan.shifts)
    resources = _capacity_resources(plan, report, used)
    _check_overlaps(plan, report)
    reach: list[Expr] = []
    for name, shift_spec in plan.shifts.items():
        expr = number(("shifts", name, "reach"), shift_spec.reach, scope, MULTIPLIER)
        reach.append(expr if expr is not None else Literal(1.0))
    allowed: list[tuple[str, tuple[int, ...]]] = []
    for action in actions:
        spec = plan.actions[action]
        if spec.shifts is None:
            if any(resource in resources for resource in spec.uses):
                allowed.append((action, tuple(range(len(names)))))
            continue
        chosen: list[int] = []
        for i, shift in enumerate(spec.shifts):
            loc: Loc = ("actions", action, "shifts", i)
            if shift not in names:
                guess = did_you_mean(shift, names)
                report.at(loc, "unknown-shift", f"'{shift}' is not a shift of this plan" + (
                    f" (did you mean '{guess}'?)" if guess else ""), "shifts: " + ", ".join(names))
            elif names.index(shift) in chosen:
                report.at(loc, "duplicate-shift", f"shift '{shift}' is listed twice for '{action}'")
            else:
                chosen.append(names.index(shift))
        allowed.append((action, tuple(sorted(chosen))))
    capacity = np.array([[plan.shifts[s].capacity.get(r, 0.0) for r in resources] for s in names],
                        dtype=np.float64).reshape(len(names), len(resources))
    positions = tuple((report.doc.span(("shifts", s, "capacity", r)).line,
                       report.doc.span(("shifts", s, "capacity", r)).column) for s in names for r in resources)
    top = report.doc.key_span(("shifts",))
    return PlanShifts(names, tuple(plan.shifts[s].hours for s in names), resources, capacity, tuple(reach),
                      positions, (top.line, top.column), tuple(allowed))


def _capacity_resources(plan: PlanFile, report: Reporter, used: Sequence[str]) -> tuple[str, ...]:
    """The resources given a capacity per shift, in the order the actions use them; each shift must give all."""
    named: set[str] = set()
    for name, spec in plan.shifts.items():
        for resource in spec.capacity:
            if resource in used:
                named.add(resource)
                continue
            guess = did_you_mean(resource, tuple(used))
            report.at(("shifts", name, "capacity", resource), "unknown-resource",
                      f"no action uses '{resource}'" + (f" (did you mean '{guess}'?)" if guess else ""),
                      "resources named in the actions' uses: " + (", ".join(used) or "none"), key=True)
    resources = tuple(r for r in used if r in named)
    for name, spec in plan.shifts.items():
        for resource in resources:
            if resource in spec.capacity:
                continue
            others = [s for s, other in plan.shifts.items() if resource in other.capacity]
            where = ("shifts", name, "capacity") if spec.capacity else ("shifts", name)
            report.at(where, "missing-shift-capacity",
                      f"shift '{name}' has no capacity for '{resource}' ("
                      f"{f'shift {_and(others)} has' if len(others) == 1 else f'shifts {_and(others)} have'} one)",
                      f"write {resource}: 0 if it is not staffed in this shift", key=True)
    return resources


def _and(names: Sequence[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _check_overlaps(plan: PlanFile, report: Reporter) -> None:
    """Shifts partition the calling day: a minute of it belongs to one shift's capacity at most."""
    spans = [(name, minutes_of_day(spec.hours)) for name, spec in plan.shifts.items()]
    for j, (name, (start, end)) in enumerate(spans):
        for other, (other_start, other_end) in spans[:j]:
            if start < other_end and other_start < end:
                report.at(("shifts", name, "hours"), "overlapping-shifts",
                          f"shift '{name}' ({plan.shifts[name].hours}) overlaps shift '{other}' "
                          f"({plan.shifts[other].hours})", "a shift's end is exclusive: 13:00-18:00 and "
                          "18:00-21:00 do not overlap")
                break
