"""Large-scale solver: Lagrangian dual decomposition with a trust-region cutting-plane master, then repair and
fill. Every answer carries the dual bound, so its gap is certified: bound ≥ optimum ≥ plan value.

The dual of this model equals its LP relaxation (each user's sub-problem, "pick at most one action", has the
integrality property), so the bound is as tight as the LP's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.dual_master import CuttingPlaneModel, MasterFailure
from optimizer.dual_pass import DualOracle, PassResult
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.repair import fill, repair


@dataclass(frozen=True, slots=True)
class LagrangianOptions:
    gap: float = 1e-4  # stop when (bound − best plan) / |bound| is below this
    max_passes: int = 200
    time_limit: float = 600.0
    serious_fraction: float = 0.1  # a step is "serious" when it achieves this share of the predicted decrease
    primal_every: int = 25  # also build a plan every this many passes, in case the dual converges slowly


def _price_scale(problem: AllocationProblem) -> FloatArray:
    """A typical price per constraint (value per unit of weight), to size the first trust region.

    Measured: a median over a 65,536-user sample instead of all users changed the first box enough to cost
    8 more passes at 1,000,000 users, more than the 0.4 s the full median takes."""
    scale = np.ones(problem.constraints)
    positive = problem.eligible & (problem.value > 0)
    for k in range(problem.constraints):
        w = np.abs(problem.weight[k])
        mask = positive & (w > 0)
        if mask.any():
            scale[k] = float(np.median(problem.value[mask] / w[mask]))
    return np.maximum(scale, 1e-9)


class LagrangianSolver:
    name = "lagrangian"

    def __init__(self, options: LagrangianOptions | None = None) -> None:
        self.options = options or LagrangianOptions()

    def solve(self, problem: AllocationProblem, start: FloatArray | None = None) -> Allocation:
        """Solve; `start` warm-starts the prices (e.g. from the previous point of a frontier)."""
        started = time.perf_counter()
        opts = self.options
        oracle = DualOracle(problem)
        k = problem.constraints
        if k == 0:
            result = oracle.evaluate(np.zeros(0))
            return Allocation(result.action, problem.objective_of(result.action), result.dual_value,
                              SolveStatus.OPTIMAL, self.name, time.perf_counter() - started, np.zeros(0),
                              result.usage, 1)
        scale = _price_scale(problem)
        model = CuttingPlaneModel(k)
        center: FloatArray = np.zeros(k) if start is None else np.maximum(np.asarray(start, dtype=np.float64), 0.0)
        at_center = oracle.evaluate(center)
        model.add(center, at_center.dual_value, at_center.subgradient)
        bound = at_center.dual_value
        radius = 1.0 if start is None else 0.25  # a warm start is near: begin with a smaller box
        # Any feasible plan is worth at least this; a dual value below it proves that no plan is feasible.
        floor = float(np.where(problem.eligible, np.minimum(problem.value, 0.0), 0.0).min(axis=1, initial=0.0).sum())
        best_plan: IntArray | None = None
        best_value = -np.inf
        next_attempt = np.inf  # build a plan only once the bound is at or below this
        best_prices = center
        for iteration in range(1, opts.max_passes + 1):
            lower = np.maximum(center - radius * scale, 0.0)
            upper = center + radius * scale
            try:
                candidate, predicted = model.minimise(lower, upper)
            except MasterFailure:
                break
            result = oracle.evaluate(candidate)
            model.add(candidate, result.dual_value, result.subgradient)
            bound = min(bound, result.dual_value)
            if bound < floor - 1e-9 * max(1.0, abs(floor)):
                return Allocation(result.action, float("-inf"), float("-inf"), SolveStatus.INFEASIBLE, self.name,
                                  time.perf_counter() - started, candidate, result.usage, oracle.passes,
                                  "the dual is unbounded: no plan satisfies every constraint")
            decrease = at_center.dual_value - predicted
            on_edge = bool(np.any(np.isclose(candidate, upper) | (np.isclose(candidate, lower) & (lower > 0))))
            if result.dual_value <= at_center.dual_value - opts.serious_fraction * decrease:
                center, at_center = candidate, result
                if on_edge:
                    radius = min(radius * 2.0, 1e9)
            else:
                radius = max(radius * 0.5, 1e-9)
            # A plan costs a repair and a fill: build one only once the dual has settled, i.e. the model's
            # minimum lies inside the box (a small decrease from a shrunken box proves nothing) and the bound has
            # moved by half the last gap since the last attempt.
            settled = not on_edge and decrease <= opts.gap * 0.25 * abs(bound)
            if (settled and bound <= next_attempt) or iteration % opts.primal_every == 0:
                plan = self._primal(problem, at_center, center)
                last_gap = (bound - best_value) / max(abs(bound), 1e-12) if plan is None else (
                    bound - max(best_value, problem.objective_of(plan))) / max(abs(bound), 1e-12)
                next_attempt = bound - 0.5 * max(last_gap, opts.gap) * abs(bound) if np.isfinite(last_gap) else (
                    bound - opts.gap * abs(bound))
                if plan is not None:
                    value = problem.objective_of(plan)
                    if value > best_value:
                        best_plan, best_value, best_prices = plan, value, center.copy()
            gap = (bound - best_value) / max(abs(bound), 1e-12)
            if gap <= opts.gap or time.perf_counter() - started > opts.time_limit:
                break
            # The dual has converged: what is left is the integrality gap of a small problem, not a price error.
            if decrease <= 1e-10 * max(abs(bound), 1.0) and best_plan is not None:
                break
        if best_plan is None:
            plan = self._primal(problem, at_center, center)
            if plan is not None:
                best_plan, best_value, best_prices = plan, problem.objective_of(plan), center.copy()
        seconds = time.perf_counter() - started
        if best_plan is None:
            return Allocation(at_center.action, float("-inf"), bound, SolveStatus.NO_SOLUTION, self.name, seconds,
                              center, at_center.usage, oracle.passes,
                              "repair could not make the plan feasible; the constraints may conflict")
        # The float32 passes carry a rounding allowance; the reported bound is one exact float64 pass at the best
        # prices found (still a valid bound: any λ ≥ 0 gives one).
        bound = min(bound, oracle.exact_value(center))
        gap = (bound - best_value) / max(abs(bound), 1e-12)
        status = SolveStatus.OPTIMAL if gap <= 1e-9 else SolveStatus.FEASIBLE
        return Allocation(best_plan, best_value, bound, status, self.name, seconds, best_prices,
                          problem.usage_of(best_plan), oracle.passes)

    @staticmethod
    def _primal(problem: AllocationProblem, at: PassResult, prices: FloatArray) -> IntArray | None:
        plan = repair(problem, at.action, prices)
        if check_feasible(problem, plan):
            return None
        plan = fill(problem, plan, prices)
        return plan if not check_feasible(problem, plan) else None


def solve_lagrangian(problem: AllocationProblem, options: LagrangianOptions | None = None,
                     start: FloatArray | None = None) -> Allocation:
    return LagrangianSolver(options).solve(problem, start)
