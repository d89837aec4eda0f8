"""Frontier, online policy and ROI on problems where the answer can be checked independently."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer.feasibility import check_feasible
from optimizer.frontier import frontier, grid
from optimizer.online_policy import PricePolicy
from optimizer.problem import AllocationProblem
from optimizer.ratio_objective import solve_ratio
from optimizer.solve_exact_highs import HighsExactSolver
from optimizer.solve_lagrangian import solve_lagrangian
from tests.optimizer.test_lagrangian_bound import marketing_problem


def test_frontier_rises_with_the_budget_and_every_point_is_feasible() -> None:
    problem = marketing_problem(5_000, seed=3)
    base = float(problem.rhs[0])
    points = frontier(problem, 0, grid(0.5 * base, 2.0 * base, 5))
    # More budget never lowers the optimum, so each plan is worth at most the next point's bound.
    for here, there in itertools.pairwise(points):
        assert here.allocation.objective <= there.allocation.bound
    for point in points:
        rhs = problem.rhs.copy()
        rhs[0] = point.limit
        import dataclasses

        assert check_feasible(dataclasses.replace(problem, rhs=rhs), point.allocation.action) == []
        assert point.allocation.gap <= 1e-3


def test_policy_at_the_prices_reproduces_the_users_choices() -> None:
    problem = marketing_problem(2_000, seed=4)
    result = solve_lagrangian(problem)
    policy = PricePolicy.from_solution(problem, result.prices)
    same = [
        policy.best_action(problem.value[u], problem.eligible[u], problem.weight[:, u, :]) == result.action[u]
        for u in range(200)
    ]
    # Repair and fill move the few users nearest a switch; everyone else takes the priced best action.
    assert np.mean(same) >= 0.9


def test_roi_equals_brute_force_ratio() -> None:
    rng = np.random.default_rng(9)
    n, a = 6, 2
    profit = rng.uniform(-2, 10, (n, a))
    spend = rng.uniform(1, 5, (n, a))
    budget = np.stack([spend])
    problem = AllocationProblem.from_arrays(profit, None, budget, [8.0], [-1])
    best = -np.inf
    for plan in itertools.product(*[[-1, 0, 1]] * n):
        action = np.asarray(plan)
        if check_feasible(problem, action) or (action < 0).all():
            continue
        best = max(best, problem.objective_of(action) / problem.objective_of_rows(spend, action))
    result = solve_ratio(problem, spend, HighsExactSolver(time_limit=30).solve)
    assert result.ratio == pytest.approx(best, rel=1e-9)
    assert check_feasible(problem, result.allocation.action) == []
