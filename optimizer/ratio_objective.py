"""ROI = profit / spend, maximised exactly as a ratio with Dinkelbach's method, over the same solvers.

For a ratio N(x)/D(x) with D > 0 on the plans that matter, q* = max N/D is the root of F(q) = max_x N(x) − q·D(x).
Starting from the ratio of any plan, each step solves the ordinary problem with value N − q·D and sets q to the
new plan's ratio; q rises monotonically and stops when F(q) ≈ 0. With an exact solver that is the exact optimum;
with the Lagrangian each step carries its certified gap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from optimizer.allocation import Allocation, SolveStatus
from optimizer.problem import AllocationProblem, FloatArray


@dataclass(frozen=True, slots=True)
class RatioResult:
    allocation: Allocation  # the plan; its `objective` is the numerator (profit)
    ratio: float
    iterations: int


def solve_ratio(problem: AllocationProblem, denominator: FloatArray, solve: Callable[[AllocationProblem], Allocation],
                tolerance: float = 1e-7, max_iterations: int = 30) -> RatioResult:
    """Maximise Σ value·x / Σ denominator·x; plans with a zero denominator (doing nothing) do not count."""
    q = 0.0
    best: Allocation | None = None
    best_ratio = float("-inf")
    for iteration in range(1, max_iterations + 1):
        shifted = dataclasses.replace(problem, value=problem.value - q * denominator)
        allocation = solve(shifted)
        if allocation.status in (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION):
            if best is None:
                return RatioResult(allocation, float("nan"), iteration)
            break
        numerator = problem.objective_of(allocation.action)
        spent = problem.objective_of_rows(denominator, allocation.action)
        if spent <= 0:  # nothing bought: the ratio is undefined, and the best plan so far stands
            break
        ratio = numerator / spent
        if ratio > best_ratio:
            best_ratio = ratio
            best = dataclasses.replace(allocation, objective=numerator,
                                       bound=max(allocation.bound + q * spent, numerator))
        # F(q) = max N − q·D; at the root the plan found has ratio q.
        if abs(numerator - q * spent) <= tolerance * max(1.0, abs(numerator)):
            break
        q = ratio
    assert best is not None
    return RatioResult(best, best_ratio, iteration)
