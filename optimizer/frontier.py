"""The what-if a planner asks most: the plan's objective (and profit, loans, loss) against one limit over a grid.

Each point is a full solve with its own certified gap; with the Lagrangian, the prices of one point
warm-start the next, so the dual starts close to its answer and a frontier costs a few solves, not a few dozen.

What "the limit" is depends on the row. A budget, a capacity, a loss cap, a minimum or maximum count is the
row's right-hand side. A share is not: `share of watch among loans ≤ s` is the row Σ (num − s·den)·x ≤ 0, whose
right-hand side is always 0, so moving it would ask for something else entirely (a frontier over it was flat
and wrong). A share point rebuilds the row's weights for its own s, from the share's numerator and
denominator (build_problem's ShareParts), and keeps the right-hand side at 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.frontier_consistency import Worth, consistent
from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.solve_lagrangian import LagrangianOptions, LagrangianSolver

PointSolve = Callable[[AllocationProblem, FloatArray | None], Allocation]  # a point's problem, start prices


@dataclass(frozen=True, slots=True)
class FrontierPoint:
    limit: float
    allocation: Allocation


@dataclass(frozen=True, slots=True)
class ShareRow:
    """A share limit's parts, (N, A) each: the row is numerator − s·denominator (≤ or ≥ 0)."""

    numerator: FloatArray
    denominator: FloatArray


class Sweep:
    """The problem at each limit of one constraint: its right-hand side, or a share row rebuilt for each s."""

    def __init__(self, problem: AllocationProblem, constraint: int, share: ShareRow | None = None) -> None:
        self.problem, self.constraint, self.share = problem, constraint, share
        # One copy of the weights for the whole sweep (each point overwrites the share's row), not one per point.
        self._weight = problem.weight.copy() if share is not None else problem.weight

    def at(self, limit: float) -> AllocationProblem:
        k = self.constraint
        if self.share is None:
            rhs = self.problem.rhs.copy()
            rhs[k] = float(limit)
            return dataclasses.replace(self.problem, rhs=rhs)
        self._weight[k] = self.share.numerator - float(limit) * self.share.denominator
        return dataclasses.replace(self.problem, weight=self._weight)


def frontier(problem: AllocationProblem, constraint: int, limits: FloatArray,
             options: LagrangianOptions | None = None, *, share: ShareRow | None = None,
             solve: PointSolve | None = None, worth: Worth | None = None,
             candidates: Sequence[IntArray] = ()) -> list[FrontierPoint]:
    """Solve the problem with constraint `constraint`'s limit set to each of `limits`, in order.

    `share` makes the limit a share (see the module docstring). `solve` solves one point from the last prices
    a point gave (None for the first); by default the Lagrangian with `options`. The points are then made
    consistent (optimizer/frontier_consistency.py): each shows the best checked plan found at any tighter point
    or among `candidates`, and no bound falls as the limit loosens; `worth` is the objective (default: value)."""
    run: PointSolve = solve if solve is not None else LagrangianSolver(options).solve
    sweep = Sweep(problem, constraint, share)
    answers: list[Allocation] = []
    prices: FloatArray | None = None
    for limit in limits:
        allocation = run(sweep.at(float(limit)), prices)
        if allocation.status not in (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION) and allocation.has_prices:
            prices = allocation.prices
        answers.append(allocation)
    points = [float(limit) for limit in limits]
    looser_up = problem.sense[constraint] < 0  # a maximum (a share's too) loosens as it rises, a minimum as it falls
    answers = consistent(points, answers, sweep.at, looser_up, worth or Worth(problem.value), candidates)
    return [FrontierPoint(limit, answer) for limit, answer in zip(points, answers, strict=True)]


def grid(low: float, high: float, steps: int) -> FloatArray:
    return np.linspace(low, high, max(steps, 2))
