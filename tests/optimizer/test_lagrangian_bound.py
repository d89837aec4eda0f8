"""The Lagrangian dual equals the LP relaxation here (each user's sub-problem has the integrality property):
bound ≥ exact optimum ≥ plan value, and the bound matches HiGHS's LP optimum."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import HighsExactSolver, lp_relaxation_bound
from optimizer.solve_lagrangian import LagrangianOptions, solve_lagrangian


def marketing_problem(n: int, seed: int) -> AllocationProblem:
    """6 actions, 4 constraints: money budget, call-centre minutes, voice-bot line-minutes, expected loss."""
    rng = np.random.default_rng(seed)
    a = 6
    value = rng.gamma(2.0, 20.0, (n, a)) - 10.0
    eligible = rng.random((n, a)) < 0.8
    cost = np.array([50, 30, 5, 1, 8, 2.0]) * rng.uniform(0.5, 1.5, (n, a))
    minutes = np.zeros((n, a))
    minutes[:, :2] = rng.uniform(3, 8, (n, 2))
    lines = np.zeros((n, a))
    lines[:, 4] = rng.uniform(1, 3, n)
    loss = rng.uniform(0, 10, (n, a))
    weight = np.stack([cost, minutes, lines, loss])
    rhs = np.array([cost.mean() * n * 0.3, minutes[:, 0].mean() * n * 0.1, lines[:, 4].mean() * n * 0.2,
                    loss.mean() * n * 0.25])
    return AllocationProblem.from_arrays(value, eligible, weight, rhs, [-1, -1, -1, -1],
                                         ("budget", "minutes", "lines", "loss"))


@pytest.mark.parametrize("n", [200, 2_000, 20_000])
def test_bound_equals_lp_relaxation(n: int) -> None:
    problem = marketing_problem(n, seed=n)
    # No polish: a gap of 1e-7 is below what rounding can reach, and the whole MIP would then run to its limit.
    result = solve_lagrangian(problem, LagrangianOptions(gap=1e-7, max_passes=400, polish_users=0))
    lp = lp_relaxation_bound(problem)
    assert result.dual_bound >= lp - 1e-9 * abs(lp)
    assert (result.dual_bound - lp) / abs(lp) <= 1e-6
    assert result.objective <= result.bound <= result.dual_bound  # the whole MIP's bound may be tighter
    assert check_feasible(problem, result.action) == []


def test_bound_above_exact_above_plan() -> None:
    problem = marketing_problem(300, seed=7)
    exact = HighsExactSolver(time_limit=60).solve(problem)
    result = solve_lagrangian(problem)
    assert result.bound >= exact.objective - 1e-6
    assert exact.objective >= result.objective - 1e-6
    # 300 users: the LP optimum splits up to K users, so the integral plan's gap is that of a small problem.
    assert result.gap <= 1e-2
    assert (result.prices >= 0).all()
