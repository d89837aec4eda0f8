"""A plan's solve as `decide optimize` and `decide frontier` both run it: its method, its time limit, its objective.

The time limit is a deadline for the whole answer, not for each call: ROI takes several Dinkelbach steps, and
each gets what the earlier ones left (a step that finds no time left answers "no solution", and the ratio
solver keeps the best plan so far). The objective decides what is solved: profit and loans are the problem's
own values (build_problem puts the expected loans in `value` for `objective: loans`); ROI is profit / spend,
solved as a ratio (optimizer/ratio_objective.py), never as a weighted sum.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from optimizer import solvers
from optimizer.allocation import Allocation, SolveStatus
from optimizer.build_problem import PlanModel
from optimizer.frontier import FrontierPoint, ShareRow, frontier
from optimizer.frontier_consistency import Worth
from optimizer.plan_file import Objective
from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.ratio_objective import solve_ratio
from optimizer.solve_lagrangian import LagrangianOptions, LagrangianSolver, Progress
from optimizer.solvers import AUTO, EXACT_MAX_USERS

QUICK_SECONDS = 5.0  # for the plan whose ratio starts Dinkelbach's iterations


class WarmSolve(Protocol):
    """Solves a problem from start prices (or None); `scale`, when above |bound|, is what the gap is relative to
    (Dinkelbach's steps have optima near 0: their gap is measured against the profit)."""

    def __call__(self, problem: AllocationProblem, start: FloatArray | None, scale: float = 0.0) -> Allocation: ...


def uses_lagrangian(problem: AllocationProblem, method: str) -> bool:
    return method == "lagrangian" or (method == AUTO and problem.users > EXACT_MAX_USERS)


def out_of_time(problem: AllocationProblem, method: str) -> Allocation:
    k = problem.constraints
    return Allocation(np.full(problem.users, -1, dtype=np.int32), float("-inf"), float("inf"),
                      SolveStatus.NO_SOLUTION, method, 0.0, np.zeros(k), np.zeros(k),
                      message="the time limit was used up by the earlier steps")


def warm_solver(problem: AllocationProblem, method: str, time_limit: float, gap: float,
                progress: Progress | None = None) -> WarmSolve:
    """The Lagrangian with the planner's gap target (warm-started from the given prices), or a registered
    solver (auto: exact under the watchdog when the problem is small), all within one deadline."""
    report: Progress = progress or (lambda _: None)
    deadline = time.perf_counter() + time_limit

    def left() -> float:
        return deadline - time.perf_counter()

    if uses_lagrangian(problem, method):
        def lagrangian(problem: AllocationProblem, start: FloatArray | None, scale: float = 0.0) -> Allocation:
            options = LagrangianOptions(gap=gap, time_limit=max(left(), 0.0), gap_scale=scale)
            return LagrangianSolver(options, report).solve(problem, start)

        return lagrangian
    name = solvers.auto_method(problem, time_limit) if method == AUTO else method
    report(f"solving exactly with {name} ({problem.users:,} users, at most {time_limit:,.0f} s)")

    def exact(problem: AllocationProblem, start: FloatArray | None, scale: float = 0.0) -> Allocation:
        del start, scale  # an exact method neither starts from prices nor stops short of its proof
        remaining = left()
        return out_of_time(problem, name) if remaining <= 0 else solvers.solve(problem, method, remaining)

    return exact


def solve_objective(model: PlanModel, problem: AllocationProblem, solve: WarmSolve,
                    start: FloatArray | None = None, quick_seconds: float = QUICK_SECONDS) -> Allocation:
    """`problem` (the plan's, or a variant of it such as a frontier point) solved for the plan's objective;
    `start` warm-starts the Lagrangian (the previous frontier point's prices); for ROI, `quick_seconds` are for
    the Lagrangian plan whose ratio starts the iterations (part of the caller's time limit)."""
    if model.loaded.plan.objective is Objective.ROI:
        # No warm start from prices: each Dinkelbach step has other values, and an ROI answer's prices are
        # marginal ROI, not the prices of any one step. A quick Lagrangian plan gives the first ratio instead.
        first = LagrangianSolver(LagrangianOptions(gap=1e-2, time_limit=quick_seconds)).solve(problem)
        return solve_ratio(problem, model.measures.spend, lambda p, scale: solve(p, None, scale),
                           start=first).allocation
    return solve(problem, start)


def share_row(model: PlanModel, constraint: int) -> ShareRow | None:
    """The numerator and denominator of a share limit, or None when the row is not a share."""
    for parts in model.shares:
        if parts.constraint == constraint:
            return ShareRow(parts.numerator, parts.denominator)
    return None


def plan_frontier(model: PlanModel, constraint: int, limits: FloatArray, method: str = AUTO,
                  time_limit: float = solvers.DEFAULT_TIME_LIMIT, gap: float = 1e-4,
                  progress: Progress | None = None, candidates: Sequence[IntArray] = ()) -> list[FrontierPoint]:
    """The plan solved for its own objective at each limit of one of its rows (a share's limit is the share);
    each point gets `time_limit` seconds. `candidates` (the plan's own solve, say) are plans each point also
    considers (optimizer/frontier_consistency.py)."""

    def point(problem: AllocationProblem, start: FloatArray | None) -> Allocation:
        solve = warm_solver(problem, method, time_limit, gap, progress)
        return solve_objective(model, problem, solve, start, min(QUICK_SECONDS, 0.1 * time_limit))

    roi = model.loaded.plan.objective is Objective.ROI
    worth = Worth(model.measures.profit, model.measures.spend) if roi else Worth(model.problem.value)
    return frontier(model.problem, constraint, limits, share=share_row(model, constraint), solve=point,
                    worth=worth, candidates=candidates)
