"""Prices for an exact plan within the time that is left: the Lagrangian dual, minimised by cutting planes.

A MIP has no dual prices of its own; the LP relaxation's duals are the marginal values the Lagrangian method
reports, so an exact plan reports those. Solving that LP is what overran `--time-limit`: on the 300,000-user
spring plan HiGHS's simplex had not finished after 751 s and its interior point took 38.7 s, after a MIP that
had already used the time, while one pass of the dual function over those users takes 0.1 s. So the prices
are found on the dual instead: min over λ ≥ 0 of g(λ) = Σ_u max(0, max_a (v − λ·Gw)[u, a]) + λ·h, by the
trust-region cutting-plane method of the Lagrangian solver (without its plan-building steps), one pass per
step, stopped before the deadline. Each user's sub-problem has the integrality property, so min g is the LP
relaxation's optimum and its minimiser the LP's duals; and g at any λ ≥ 0 is an upper bound on the optimum,
which gives an exact plan a bound when its backend reported none (CBC through PuLP).

When the search has not settled by the deadline there are no prices, and the answer says so: partial prices
would be read as marginal values they are not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.dual_master import CuttingPlaneModel, MasterFailure
from optimizer.dual_pass import DualOracle
from optimizer.problem import AllocationProblem, FloatArray

TIME_LIMIT_NOTE = "prices not computed: time limit"
SETTLED = 1e-7  # stop when the model predicts less than this share of the dual value to gain
MAX_PASSES = 400


@dataclass(frozen=True, slots=True)
class DualPrices:
    prices: FloatArray | None  # (K,) ≥ 0 in ≤-form; None when the search did not settle in time
    bound: float  # the least dual value seen: an upper bound on the optimum (inf when no pass ran)
    passes: int
    note: str  # why there are no prices; "" when there are


def typical_prices(problem: AllocationProblem, limit: int = 20_000) -> FloatArray:
    """A price per constraint of the right size (median value per unit of weight), to size the first box."""
    head = problem if problem.users <= limit else problem.subset(np.arange(limit))
    scale = np.ones(problem.constraints)
    positive = head.eligible & (head.value > 0)
    for k in range(problem.constraints):
        w = np.abs(head.weight[k])
        mask = positive & (w > 0)
        if mask.any():
            scale[k] = float(np.median(head.value[mask] / w[mask]))
    return np.maximum(scale, 1e-9)


def dual_prices(problem: AllocationProblem, seconds: float, plan_value: float = float("-inf"),
                tolerance: float = SETTLED) -> DualPrices:
    """The LP prices of `problem`, if they can be found within `seconds`; `plan_value` (a feasible plan's value)
    ends the search early once the dual value has come down to it: the prices then certify that plan."""
    started = time.perf_counter()
    k = problem.constraints
    if k == 0:
        return DualPrices(np.zeros(0), float("inf"), 0, "")
    if seconds <= 0.05:  # not even one pass
        return DualPrices(None, float("inf"), 0, TIME_LIMIT_NOTE)
    oracle = DualOracle(problem)
    scale = typical_prices(problem)
    center: FloatArray = np.zeros(k)
    at_center = oracle.evaluate(center)
    pass_seconds = time.perf_counter() - started
    model = CuttingPlaneModel(k)
    model.add(center, at_center.dual_value, at_center.subgradient)
    bound, radius, quiet = at_center.dual_value, 1.0, 0
    while oracle.passes < MAX_PASSES:
        if at_center.dual_value - plan_value <= 1e-9 * max(abs(at_center.dual_value), 1.0):
            return DualPrices(center, bound, oracle.passes, "")
        # One more pass must fit before the deadline, with the master's LP on top.
        if time.perf_counter() - started + 1.5 * pass_seconds > seconds:
            return DualPrices(None, bound, oracle.passes, TIME_LIMIT_NOTE)
        lower = np.maximum(center - radius * scale, 0.0)
        upper = center + radius * scale
        try:
            candidate, predicted = model.minimise(lower, upper)
        except MasterFailure:  # a numerically hopeless box: the centre is as good as it gets
            return DualPrices(center, bound, oracle.passes, "")
        before = time.perf_counter()
        result = oracle.evaluate(candidate)
        pass_seconds = max(pass_seconds, time.perf_counter() - before)
        model.add(candidate, result.dual_value, result.subgradient)
        bound = min(bound, result.dual_value)
        decrease = at_center.dual_value - predicted
        on_edge = bool(np.any(np.isclose(candidate, upper) | (np.isclose(candidate, lower) & (lower > 0))))
        if result.dual_value <= at_center.dual_value - 0.1 * decrease:
            center, at_center = candidate, result
            if on_edge:
                radius = min(radius * 2.0, 1e9)
        else:
            radius = max(radius * 0.5, 1e-9)
        # Settled: the model's minimum lies inside the box and predicts almost nothing to gain; or it sits on
        # the edge but a box grown 2⁵ times still predicts nothing (a price whose dual is flat beyond some
        # value, as for a share limit of 0, where any price high enough is optimal).
        flat = decrease <= tolerance * max(abs(bound), 1.0)
        quiet = quiet + 1 if flat else 0
        if flat and (not on_edge or quiet >= 5):
            return DualPrices(center, bound, oracle.passes, "")
    return DualPrices(None, bound, oracle.passes, f"prices not computed: no settled dual in {MAX_PASSES} passes")
