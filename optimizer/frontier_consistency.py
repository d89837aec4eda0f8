"""A frontier that reads the way the truth runs: a looser limit never shows less, and a plan seen once is not lost.

Each frontier point is solved on its own, to its own certified gap, so two heuristic plans within their gaps
can contradict what every planner knows: with a budget of 225,000 the demo showed 5 yuan less profit than with
187,500. Yet the plan found at a tighter limit is feasible at every looser one (a larger maximum, a smaller
minimum, a larger share allowed), and so may be any other plan. So, from the tightest point to the loosest,
each point takes the best plan among its own, the tighter points' and any `candidates` (say the plan's own
solve) that its feasibility checker accepts; and, from the loosest to the tightest, each point's bound is at
most a looser point's (the optimum can only rise as a limit loosens). Plans and bounds stay certified: every
plan is checked at the point it is shown for, every bound is a bound of a looser problem.

For ROI the comparison is of ratios; an allocation states the ratio's bound as bound = ratio bound × the plan's
spend (optimizer/ratio_objective.py), so a plan that moves to another point takes its bound along in ratio terms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem, FloatArray, IntArray

_NO_PLAN = (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION)


@dataclass(frozen=True)
class Worth:
    """What a plan is worth for the plan's objective: Σ numerator·x, or Σ numerator·x / Σ denominator·x."""

    numerator: FloatArray  # (N, A): the problem's value (profit, or expected loans), or profit for a ratio
    denominator: FloatArray | None = None  # (N, A) spend, for ROI

    def of(self, problem: AllocationProblem, action: IntArray) -> float:
        top = problem.objective_of_rows(self.numerator, action)
        if self.denominator is None:
            return top
        bottom = problem.objective_of_rows(self.denominator, action)
        return top / bottom if bottom > 0 else float("nan")

    def bound(self, problem: AllocationProblem, allocation: Allocation) -> float:
        """The allocation's bound on the objective, in the objective's own terms (a ratio for ROI)."""
        if self.denominator is None or not np.isfinite(allocation.bound):
            return allocation.bound
        spend = problem.objective_of_rows(self.denominator, allocation.action)
        return allocation.bound / spend if spend > 0 else float("inf")

    def restate(self, problem: AllocationProblem, allocation: Allocation, action: IntArray,
                bound: float) -> Allocation:
        """`allocation` with plan `action` and an objective-terms `bound`, restated as an Allocation states them."""
        top = problem.objective_of_rows(self.numerator, action)
        if self.denominator is not None and np.isfinite(bound):
            bound = bound * problem.objective_of_rows(self.denominator, action)
        if allocation.status not in _NO_PLAN:
            return dataclasses.replace(allocation, action=action, objective=top, bound=max(bound, top))
        # The solver stopped without a plan here, so it priced nothing (a trial's frontier showed its zeros as
        # "0": a slack limit); the plan is another point's.
        note = allocation.prices_note or "no prices: the solver found no plan at this limit"
        return dataclasses.replace(allocation, action=action, objective=top, bound=max(bound, top),
                                   status=SolveStatus.FEASIBLE, prices_note=note)


def consistent(limits: Sequence[float], answers: Sequence[Allocation], at: Callable[[float], AllocationProblem],
               looser_up: bool, worth: Worth, candidates: Sequence[IntArray] = ()) -> list[Allocation]:
    """Each point's answer with the best checked plan seen at a tighter (or equal) limit, and bounds that never
    fall as the limit loosens. `at(limit)` is the point's problem; `looser_up`: a larger limit is looser (a ≤ row,
    a share's maximum); otherwise a smaller one is (a minimum)."""
    order = sorted(range(len(limits)), key=lambda i: limits[i] if looser_up else -limits[i])
    out = list(answers)
    seen: list[IntArray] = [np.asarray(c) for c in candidates]
    for i in order:  # tightest first: every plan seen so far may be feasible here
        allocation = out[i]
        if allocation.status is SolveStatus.INFEASIBLE:  # proven: no plan can be, and none is tried
            continue
        problem = at(limits[i])
        best = allocation.action if allocation.status not in _NO_PLAN else None
        best_worth = worth.of(problem, best) if best is not None else -np.inf
        for action in seen:
            value = worth.of(problem, action)
            if value > best_worth and not check_feasible(problem, action):
                best, best_worth = action, value
        if best is None:
            continue
        if best is not allocation.action:
            out[i] = worth.restate(problem, allocation, best, worth.bound(problem, allocation))
        seen.append(best)
    looser_bound = np.inf
    for i in reversed(order):  # loosest first: no tighter point can be worth more than a looser one's bound
        allocation = out[i]
        if allocation.status in _NO_PLAN:
            continue
        problem = at(limits[i])
        own = worth.bound(problem, allocation)
        if looser_bound < own:
            out[i] = worth.restate(problem, allocation, allocation.action, looser_bound)
        looser_bound = min(looser_bound, own)
    return out
