"""ROI = profit / spend, maximised exactly as a ratio with Dinkelbach's method, over the same solvers.

For a ratio N(x)/D(x) with D > 0 on the plans that matter, q* = max N/D is the root of F(q) = max_x N(x) − q·D(x).
Starting from the ratio of any plan, each step solves the ordinary problem with value N − q·D and sets q to the
new plan's ratio; q rises monotonically and stops when F(q) ≈ 0. With an exact solver that is the exact optimum;
with the Lagrangian each step carries its certified gap.

The certificate, in ratio terms, comes two ways. A step at q whose solver bounds F(q) by F̄ proves, for every
plan x with D(x) > 0, N(x) − q·D(x) ≤ F̄, so N(x)/D(x) ≤ q + F̄/D(x) ≤ q + max(F̄, 0)/D_min, where D_min is the least
positive D of any single action (all D ≥ 0 for spend), or the least D any feasible plan can have if that is
more (optimizer/ratio_certificate.py). That is loose whenever F̄ > 0 and D_min is tiny; so the
prices of the last steps also go to optimizer/ratio_certificate.py, which finds the q where they prove
N − q·D ≤ 0 for every plan: the ratio's LP bound when the prices are the LP's. The least bound found is the ratio's
bound. The answer's Allocation keeps its usual meaning for the plan (objective = profit) and states the ratio's
bound as the profit the plan's spend would earn at that ratio, bound = ratio_bound · D(x): its `gap` is then
exactly the ratio's gap (ratio_bound − ratio) / ratio_bound. Its prices are marginal ROI: at the optimum
dq*/db = λ/D(x*), where λ are the prices of the last step's problem.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.problem import AllocationProblem, FloatArray
from optimizer.ratio_certificate import least_denominator
from optimizer.ratio_certificate import ratio_bound as ratio_bound_at

RATIO_OPTIMAL_GAP = 1e-6  # the certificate carries a rounding allowance ÷ D_min, near 1e-8 of the ratio
# Far from the root (max N − q·D above FAR of N) a step need only point the way: its gap is measured against
# LOOSE times the profit. The step that would stop the iterations is always repeated at the planner's gap.
FAR, LOOSE = 0.1, 10.0


@dataclass(frozen=True, slots=True)
class RatioResult:
    allocation: Allocation  # the plan; its `objective` is the numerator (profit), its `gap` the ratio's
    ratio: float  # N/D of the plan (nan when no plan)
    iterations: int
    bound: float = float("inf")  # an upper bound on the best ratio of any plan
    numerator: float = float("nan")  # N and D of the plan
    denominator: float = float("nan")

    @property
    def gap(self) -> float:
        """(bound − ratio) / |bound|; inf when there is no bound."""
        if not np.isfinite(self.bound) or not np.isfinite(self.ratio):
            return float("inf")
        return max(self.bound - self.ratio, 0.0) / max(abs(self.bound), 1e-12)


def least_positive(denominator: FloatArray, eligible: np.ndarray) -> float:
    """The least positive D of any single eligible action, or 0 when some eligible D is negative (then a plan's
    D can be arbitrarily close to 0 and no step with F̄ > 0 bounds the ratio)."""
    values = denominator[eligible]
    if values.size == 0 or (values < 0).any():
        return 0.0
    positive = values[values > 0]
    return float(positive.min()) if positive.size else 0.0


def below_every_ratio(denominator: FloatArray, value: FloatArray, eligible: np.ndarray) -> float:
    """A q below the ratio of any plan whose actions all have a positive D: less than every single action's
    v / d (a plan's Σv / Σd lies between its actions' ratios), with room to spare."""
    positive = eligible & (denominator > 0)
    if not positive.any():
        return float("-inf")
    least = float((value[positive] / denominator[positive]).min())
    return least - 1.0 - abs(least)


def solve_ratio(problem: AllocationProblem, denominator: FloatArray,
                solve: Callable[[AllocationProblem, float], Allocation],
                tolerance: float = 1e-7, max_iterations: int = 30, start: Allocation | None = None) -> RatioResult:
    """Maximise Σ value·x / Σ denominator·x; plans with a zero denominator (doing nothing) do not count.

    `start`, a feasible plan (say a quick Lagrangian one), sets the first q to its ratio: any q at or below the
    optimum is a valid start, and a higher one skips the hardest step, the plain profit problem at q = 0 (on a
    3,000-user plan HiGHS needed 191 s for it at a budget where every later step took 1 s)."""
    started = time.perf_counter()
    q = 0.0
    best: Allocation | None = None
    best_ratio, best_n, best_d = float("-inf"), float("nan"), float("nan")
    if start is not None and start.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        spent = problem.objective_of_rows(denominator, start.action)
        if spent > 0:
            best_n, best_d = problem.objective_of(start.action), spent
            q = best_ratio = best_n / best_d
            best = dataclasses.replace(start, objective=best_n, prices=start.prices / spent)
    ratio_bound = float("inf")
    smallest = max(least_positive(denominator, problem.eligible), least_denominator(problem, denominator))
    step_prices: list[FloatArray] = []  # of the steps with a plan, the last ones nearest the optimum
    loose = True
    tried_below = False
    for iteration in range(1, max_iterations + 1):
        q_is_a_ratio = best is not None  # q = 0 at the start without a plan is not
        shifted = dataclasses.replace(problem, value=problem.value - q * denominator)
        # The step's optimum is near 0 once q is near the best ratio: its gap is measured against the profit.
        scale = (LOOSE if loose else 1.0) * abs(best_n) if np.isfinite(best_n) else 0.0
        allocation = solve(shifted, scale)
        if allocation.status in (SolveStatus.INFEASIBLE, SolveStatus.NO_SOLUTION):
            if best is None:
                return RatioResult(allocation, float("nan"), iteration)
            break
        # This step's certificate (module docstring): every plan's ratio is at most q + max(F̄, 0) / D_min.
        if allocation.bound <= 0:
            ratio_bound = min(ratio_bound, q)
        elif smallest > 0 and np.isfinite(allocation.bound):
            ratio_bound = min(ratio_bound, q + allocation.bound / smallest)
        step_prices = [*step_prices[-1:], allocation.prices]
        numerator = problem.objective_of(allocation.action)
        spent = problem.objective_of_rows(denominator, allocation.action)
        if spent <= 0:  # nothing bought: the ratio is undefined, and the best plan so far stands
            below = below_every_ratio(denominator, problem.value, problem.eligible)
            if best is None and not tried_below and below < q:
                # Every plan that spends loses money, so at q = 0 doing nothing wins: start below every ratio.
                q, tried_below = below, True
                continue
            break
        ratio = numerator / spent
        if ratio >= best_ratio:  # on a tie, the plan of the method asked for, not the quick start's
            best_ratio, best_n, best_d = ratio, numerator, spent
            best = dataclasses.replace(allocation, objective=numerator, prices=allocation.prices / spent)
        # F(q) = max N − q·D; at the root the plan found has ratio q. Once q is some plan's ratio (so at or below
        # the optimum), an exact step never finds less; an inexact one that does has nothing more to give.
        if abs(numerator - q * spent) <= tolerance * max(1.0, abs(numerator)) or (q_is_a_ratio and ratio < q):
            if not loose or scale == 0.0:
                break
            loose = False  # repeat at the planner's gap: a loose step's "nothing better" is not the last word
            continue
        loose = loose and numerator - q * spent > FAR * abs(numerator)
        q = ratio
    if best is None:  # no plan that spends anything meets the constraints: no ratio to give
        empty = dataclasses.replace(allocation, status=SolveStatus.NO_SOLUTION, objective=float("-inf"),
                                    message="no plan that spends anything meets the constraints: the ratio profit / "
                                            "spend is undefined")
        return RatioResult(empty, float("nan"), iteration)
    if ratio_bound > best_ratio:
        for prices in step_prices:
            ratio_bound = min(ratio_bound, ratio_bound_at(problem, denominator, prices, best_ratio, smallest))
    ratio_bound = max(ratio_bound, best_ratio)
    bound = ratio_bound * best_d if np.isfinite(ratio_bound) else float("inf")
    gap = (ratio_bound - best_ratio) / max(abs(ratio_bound), 1e-12) if np.isfinite(ratio_bound) else float("inf")
    # Optimal is the ratio's own verdict: a start plan its solver left 'feasible' is optimal once the bound meets it.
    status = SolveStatus.OPTIMAL if gap <= RATIO_OPTIMAL_GAP else SolveStatus.FEASIBLE
    # The answer's time is the whole ratio solve's, the start plan's included, not the winning step's.
    seconds = time.perf_counter() - started + (start.seconds if start is not None else 0.0)
    best = dataclasses.replace(best, bound=max(bound, best_n), status=status, iterations=iteration, seconds=seconds)
    return RatioResult(best, best_ratio, iteration, ratio_bound, best_n, best_d)
