"""An infeasible plan explained in the plan's own words, at the place of every constraint involved.

optimizer/infeasibility.py finds the conflicts on the problem's rows; this module says them as a planner wrote
them: what each constraint asks ("at least 45 contacts of telesales where tier == 'prime'"), the amount in its
own measure, and the file position of each constraint named (the first at the start of the line, any other in
brackets):

    plan.yaml:91:5: infeasible: prime_telesales (at least 45 contacts of telesales where tier == 'prime') needs
    at least 405 spend of telesales, but telesales_budget (plan.yaml:66:5) allows at most 100

A share row is linearised (Σ (num − s·den)·x ≤ 0), so its amounts mean nothing to a planner; for a pair with a
share the message gives the share itself: the least (for max_share) or most (for min_share) share any plan
that reaches the other constraint can have, found by bisection on s with the same sound lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.build_problem import PlanModel, ShareParts
from optimizer.infeasibility import Conflict, amount, explain_infeasible, least_needed
from optimizer.joint_conflict import ConflictSet, joint_conflict
from optimizer.plan_file import ConstraintPlan
from optimizer.plan_shifts import with_shift_totals
from optimizer.problem import AllocationProblem

SHARE_STEPS = 24  # bisection steps on a share: 1/2²⁴ of the interval, far below the 0.01 % shown


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the problem as the plan states it."""

    name: str
    asks: str  # "at least 45 contacts of telesales where tier == 'prime'"
    measure: str  # "spend of telesales": what an amount of this row is of
    position: tuple[int, int]


def _scope(c: ConstraintPlan) -> str:
    return (f" of {', '.join(c.channels)}" if c.channels else "") + (f" where {c.where}" if c.where else "")


def plan_rows(model: PlanModel) -> list[Row]:
    """The plan's constraints, each shift's capacities, then each resource over all shifts (with_shift_totals)."""
    loaded = model.loaded
    rows: list[Row] = []
    positions = loaded.constraint_positions
    for c, position in zip(loaded.plan.constraints, positions, strict=False):
        measure = f"{c.measure}{_scope(c)}"
        if c.min is not None or c.max is not None:
            word, bound = ("at least", c.min) if c.min is not None else ("at most", c.max)
            asks = f"{word} {amount(float(bound or 0.0))} {measure}"
        else:
            word, share = ("at most", c.max_share) if c.max_share is not None else ("at least", c.min_share)
            base = c.measure + (f" of {', '.join(c.channels)}" if c.channels else "") + (
                f" where {c.share_of}" if c.share_of else "")
            asks = f"{measure} {word} {float(share or 0.0):.2%} of all {base}"
        rows.append(Row(c.name, asks, measure, position))
    shifts = loaded.shifts
    first = len(loaded.plan.constraints)
    for index, name in enumerate(shifts.row_names):
        s, r = divmod(index, len(shifts.resources))
        resource, shift = shifts.resources[r], shifts.names[s]
        measure = f"{resource} in the {shift} shift"
        position = positions[first + index] if first + index < len(positions) else shifts.position
        rows.append(Row(name, f"at most {amount(float(shifts.capacity[s, r]))} {measure}", measure, position))
    if shifts.names:
        for r, resource in enumerate(shifts.resources):
            total = float(shifts.capacity[:, r].sum())
            rows.append(Row(f"the shifts' {resource} capacity", f"at most {amount(total)} {resource} over all shifts",
                            f"{resource} over all shifts", shifts.position))
    return rows


def _share_reached(problem: AllocationProblem, j: int, parts: ShareParts, upper: bool) -> float:
    """For a pair (j, share row): with j reached, the least share any plan can have (upper=False: a max_share
    is broken from below it) or the most (upper=True: a min_share), as a proven bound."""
    sign = problem.sign()
    wj, bj = -sign[j] * problem.weight[j], float(-sign[j] * problem.rhs[j])
    num, den = parts.numerator, parts.denominator
    # "share ≤ t is impossible" ⇔ least Σ (num − t·den)·x > 0 (non-increasing in t); "share ≥ t is impossible"
    # ⇔ least Σ (t·den − num)·x > 0 (non-decreasing in t).
    low, high = (parts.limit, 1.0) if not upper else (0.0, parts.limit)
    for _ in range(SHARE_STEPS):
        t = 0.5 * (low + high)
        impossible = least_needed(wj, bj, (t * den - num) if upper else (num - t * den), problem.eligible) > 0
        if impossible == upper:  # upper: impossible at t → the most is below t
            high = t
        else:
            low = t
    return high if upper else low


def _pair_text(model: PlanModel, problem: AllocationProblem, conflict: Conflict, rows: list[Row],
               path: str) -> str:
    j, k = conflict.constraints
    first, other = rows[j], rows[k]
    where = f"{other.name} ({path}:{other.position[0]}:{other.position[1]})"
    lead = f"{first.name} ({first.asks})"
    share = next((parts for parts in model.shares if parts.constraint == k), None)
    if share is not None:
        upper = problem.sense[k] > 0  # a min_share: what j leaves is a most
        share_reached = _share_reached(problem, j, share, upper)
        if upper:
            return (f"{lead} keeps the share of {other.measure} at or below {share_reached:.2%}, but {where} needs at "
                    f"least {share.limit:.2%}")
        return (f"{lead} makes the share of {other.measure} at least {share_reached:.2%}, but {where} allows at most "
                f"{share.limit:.2%}")
    limit, reached = amount(float(problem.rhs[k])), amount(conflict.amount)
    if problem.sense[k] < 0:
        return f"{lead} needs at least {reached} {other.measure}, but {where} allows at most {limit}"
    return f"{lead} leaves room for at most {reached} {other.measure}, but {where} needs at least {limit}"


def _together(n: int, minimal: bool) -> str:
    """What is proven besides "cannot hold together": that each of the n rows is needed for the conflict."""
    if not minimal or n == 1:
        return ""
    if n == 2:
        return ", though each alone can"
    if n == 3:
        return ", though no one alone and no pair conflicts"
    return f", though any {n - 1} of them can"


def _missed(model: PlanModel, rows: list[Row], found: ConflictSet, k: int) -> str:
    """How far the closest fractional plan misses row k: a share as a share, anything else in its measure."""
    excess = float(found.excess[k])
    share = next(((i, parts) for i, parts in enumerate(model.shares) if parts.constraint == k), None)
    if share is not None:
        i, parts = share
        base = float(found.totals[i])  # the share's denominator in that plan
        if base > 0:
            reached = parts.limit + (excess if model.problem.sense[k] < 0 else -excess) / base
            points = 100 * abs(reached - parts.limit)
            return f"{rows[k].name} by {points:.2f} percentage points (a share of {reached:.2%})"
    return f"{rows[k].name} by {amount(excess)} {rows[k].measure}"


def _joint_text(model: PlanModel, rows: list[Row], integer_proven: bool) -> list[str]:
    """Each minimal set of rows that conflict together (optimizer/joint_conflict.py), with how far even a
    fractional plan misses them; [] when the search does not decide. That fractional plans exist but whole ones
    do not is said only when a solver proved the latter (`integer_proven`)."""
    path = model.loaded.path
    problem = model.problem
    joint = joint_conflict(problem, [parts.denominator for parts in model.shares])
    if joint is None:
        return []
    if joint.fractional or not joint.sets:
        if not integer_proven:
            return []
        return [f"{path}: infeasible: a plan with fractional contacts would meet every limit, but no plan of whole "
                "contacts does: the limits leave no room for rounding; relax the tightest a little "
                "[constraints-conflict]"]
    lines = []
    for number, found in enumerate(joint.sets):
        named = [rows[k] for k in found.constraints]
        short = [_missed(model, rows, found, k) for k in found.constraints
                 if found.excess[k] > 1e-9 * max(1.0, abs(float(problem.rhs[k])))] if found.settled else []
        first = named[0]
        together = ", ".join(f"{row.name} ({row.asks}, {path}:{row.position[0]}:{row.position[1]})" for row in named)
        misses = f": even a plan with fractional contacts misses {' and '.join(short)}" if short else ""
        also = "also " if number else ""
        these = (f"these {len(named)} constraints cannot hold together" if len(named) > 1 else
                 "this constraint cannot hold")
        lines.append(f"{path}:{first.position[0]}:{first.position[1]}: infeasible: {also}{these}"
                     f"{_together(len(named), found.minimal)}: {together}{misses} [constraints-conflict]")
    if not joint.complete:
        lines.append(f"{path}: infeasible: other sets of constraints may conflict as well: the search stopped before "
                     "it had looked at them all [constraints-conflict]")
    return lines


def explain_plan(model: PlanModel, integer_proven: bool = True) -> list[str]:
    """One line per conflict, `path:line:column: infeasible: … [constraints-conflict]`; when no constraint alone
    and no pair explains the infeasibility, each minimal set that conflicts together; [] when none is found.
    `integer_proven`: a solver proved that no plan of whole contacts exists (False when one only found none)."""
    loaded = model.loaded
    # With shifts, also each resource's total over the shifts: a minimum may need more than all shifts give.
    problem = with_shift_totals(model.problem, loaded.shifts, len(loaded.plan.constraints))
    rows = plan_rows(model)
    lines = []
    for conflict in explain_infeasible(problem):
        j = conflict.constraints[0]
        row = rows[j]
        if len(conflict.constraints) == 1:
            if problem.sense[j] > 0:
                text = (f"{row.name} ({row.asks}) cannot be reached: every eligible user together gives at most "
                        f"{amount(conflict.amount)} {row.measure}")
            else:
                text = (f"{row.name} ({row.asks}) cannot be kept: no plan gives less than {amount(conflict.amount)} "
                        f"{row.measure}")
        else:
            text = _pair_text(model, problem, conflict, rows, loaded.path)
        lines.append(f"{loaded.path}:{row.position[0]}:{row.position[1]}: infeasible: {text} [constraints-conflict]")
    return lines or _joint_text(model, rows, integer_proven)
