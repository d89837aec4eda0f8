"""The what-if a planner asks most: expected profit (and loans, loss) against one limit over a grid.

Each point is a full solve with its own certified gap; the prices of one point warm-start the next, so the
dual starts close to its answer and a frontier costs a few solves, not a few dozen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.problem import AllocationProblem, FloatArray
from optimizer.solve_lagrangian import LagrangianOptions, LagrangianSolver


@dataclass(frozen=True, slots=True)
class FrontierPoint:
    limit: float
    allocation: Allocation


def frontier(problem: AllocationProblem, constraint: int, limits: FloatArray,
             options: LagrangianOptions | None = None) -> list[FrontierPoint]:
    """Solve the problem with constraint `constraint`'s right-hand side set to each of `limits`, in order."""
    solver = LagrangianSolver(options)
    points: list[FrontierPoint] = []
    prices: FloatArray | None = None
    for limit in limits:
        rhs = problem.rhs.copy()
        rhs[constraint] = float(limit)
        point_problem = dataclasses.replace(problem, rhs=rhs)
        allocation = solver.solve(point_problem, start=prices)
        if allocation.status not in (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION):
            prices = allocation.prices
        points.append(FrontierPoint(float(limit), allocation))
    return points


def grid(low: float, high: float, steps: int) -> FloatArray:
    return np.linspace(low, high, max(steps, 2))
