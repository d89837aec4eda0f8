"""Frontier, online policy and ROI on problems where the answer can be checked independently."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from optimizer.feasibility import check_feasible
from optimizer.frontier import ShareRow, Sweep, frontier, grid
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
    result = solve_ratio(problem, spend, lambda p, _scale: HighsExactSolver(time_limit=30).solve(p))
    assert result.ratio == pytest.approx(best, rel=1e-9)
    assert check_feasible(problem, result.allocation.action) == []
    # The certificate is in ratio terms: a bound on the best ratio, and the allocation's gap is the ratio's.
    assert result.bound >= best * (1 - 1e-12)
    assert result.gap <= 1e-6
    assert result.allocation.gap == pytest.approx(result.gap, abs=1e-12)
    assert result.allocation.bound == pytest.approx(result.bound * result.denominator, rel=1e-12)


def test_roi_bound_is_a_bound_when_the_steps_stop_early() -> None:
    """A Dinkelbach run cut off after one step still carries a valid ratio bound (q + F̄ / D_min)."""
    rng = np.random.default_rng(10)
    n, a = 7, 2
    profit = rng.uniform(-2, 10, (n, a))
    spend = rng.uniform(1, 5, (n, a))
    problem = AllocationProblem.from_arrays(profit, None, np.stack([spend]), [9.0], [-1])
    best = max(problem.objective_of(np.asarray(plan)) / problem.objective_of_rows(spend, np.asarray(plan))
               for plan in itertools.product(*[[-1, 0, 1]] * n)
               if not check_feasible(problem, np.asarray(plan)) and not (np.asarray(plan) < 0).all())
    early = solve_ratio(problem, spend, lambda p, _scale: HighsExactSolver(time_limit=30).solve(p),
                        max_iterations=1)
    assert early.ratio <= best <= early.bound
    assert np.isfinite(early.bound)


def test_share_frontier_rebuilds_the_share_row() -> None:
    """share of "watch" users' loans ≤ s is the row Σ (1[watch] − s)·loans ≤ 0: each point must rebuild it for
    its s (moving its right-hand side, always 0, asked for something else and gave a flat frontier)."""
    rng = np.random.default_rng(21)
    n, a = 300, 2
    loans = rng.uniform(0.01, 0.1, (n, a))
    watch = (rng.random(n) < 0.4)[:, None] & np.ones((1, a), dtype=bool)
    value = np.where(watch, 2.0, 1.0) * rng.uniform(50, 100, (n, a))  # watch users are worth more
    numerator, denominator = loans * watch, loans
    cost = rng.uniform(1, 3, (n, a))
    problem = AllocationProblem.from_arrays(value, None, np.stack([cost, numerator - 0.1 * denominator]),
                                            [150.0, 0.0], [-1, -1], ("budget", "watch_share"))
    limits = np.array([0.0, 0.1, 0.2, 0.3])
    exact = HighsExactSolver(time_limit=30)
    points = frontier(problem, 1, limits, share=ShareRow(numerator, denominator),
                      solve=lambda p, _start: exact.solve(p))
    objectives = [point.allocation.objective for point in points]
    assert objectives == sorted(objectives) and objectives[-1] > objectives[0] * 1.05  # not flat
    for point in points:
        action = point.allocation.action
        share = problem.objective_of_rows(numerator, action) / problem.objective_of_rows(denominator, action)
        assert share <= point.limit + 1e-9
        # The same as building the plan with that share from the start.
        direct = dataclasses.replace(problem, weight=np.stack([cost, numerator - point.limit * denominator]))
        assert point.allocation.objective == pytest.approx(exact.solve(direct).objective, rel=1e-6)
    # A budget or a minimum is its right-hand side.
    assert Sweep(problem, 0).at(99.0).rhs.tolist() == [99.0, 0.0]
    rebuilt = Sweep(problem, 1, ShareRow(numerator, denominator)).at(0.25)
    assert rebuilt.rhs.tolist() == [150.0, 0.0]
    assert np.allclose(rebuilt.weight[1], numerator - 0.25 * denominator)
    assert np.allclose(problem.weight[1], numerator - 0.1 * denominator)  # the caller's problem is untouched


@pytest.mark.parametrize("seed", range(12))
def test_roi_when_every_contact_loses_money(seed: int) -> None:
    """The best ratio is then negative, and at q = 0 doing nothing wins the first step: the iterations must
    start below every ratio instead (a bare AssertionError before). Brute force over every plan that spends."""
    rng = np.random.default_rng(seed)
    n, a = 5, 2
    profit = rng.uniform(-6, 1, (n, a)) if seed % 2 else -rng.uniform(0.1, 5, (n, a))
    spend = rng.uniform(0.5, 4, (n, a))
    problem = AllocationProblem.from_arrays(profit, None, np.stack([spend]), [6.0], [-1])
    best = max(problem.objective_of(np.asarray(plan)) / problem.objective_of_rows(spend, np.asarray(plan))
               for plan in itertools.product(*[[-1, 0, 1]] * n)
               if not check_feasible(problem, np.asarray(plan)) and not (np.asarray(plan) < 0).all())
    for solve in (lambda p, _scale: HighsExactSolver(time_limit=30).solve(p),
                  lambda p, _scale: solve_lagrangian(p)):
        result = solve_ratio(problem, spend, solve)
        assert result.ratio == pytest.approx(best, rel=1e-7, abs=1e-9)
        assert check_feasible(problem, result.allocation.action) == []
        assert result.bound >= best - 1e-9 * abs(best)
