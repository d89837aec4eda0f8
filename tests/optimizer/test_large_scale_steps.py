"""The large-scale solver's parts, each against an oracle: chunked and threaded passes equal one plain pass,
float32 problems keep a valid bound, the sampled warm start still certifies its gap, repair from a small pool
falls back to all users, and the polish never loses value and finds the optimum when it sees every user."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.core_polish import polish
from optimizer.dual_pass import DualOracle
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.repair import nearest_users, repair, restricted, switch_cost
from optimizer.solve_exact_highs import HighsExactSolver, lp_relaxation_bound
from optimizer.solve_lagrangian import LagrangianOptions, solve_lagrangian
from optimizer.user_chunks import ChunkRunner
from tests.optimizer.test_lagrangian_bound import marketing_problem

PRICES = np.array([0.3, 2.0, 5.0, 0.5])


def as_float32(problem: AllocationProblem) -> AllocationProblem:
    return AllocationProblem(problem.value.astype(np.float32), problem.eligible, problem.weight.astype(np.float32),
                             problem.rhs, problem.sense, problem.constraint_names, problem.action_names)


def test_chunked_threaded_pass_equals_one_chunk() -> None:
    problem = marketing_problem(5_003, seed=1)
    whole = DualOracle(problem, ChunkRunner(threads=1, size=10_000)).evaluate(PRICES)
    pieces = DualOracle(problem, ChunkRunner(threads=2, size=97)).evaluate(PRICES)
    assert np.array_equal(whole.action, pieces.action)
    assert pieces.dual_value == pytest.approx(whole.dual_value, rel=1e-12)
    assert np.allclose(pieces.usage, whole.usage, rtol=1e-12)
    assert np.allclose(problem.usage_of(whole.action), whole.usage, rtol=1e-12)


def test_float32_pass_bound_covers_rounding() -> None:
    problem = as_float32(marketing_problem(3_000, seed=2))
    oracle = DualOracle(problem)
    for scale in (0.0, 0.5, 1.0, 3.0):
        prices = PRICES * scale
        rounded, exact, allowance = oracle.evaluate(prices).dual_value, oracle.exact_value(prices), \
            oracle.rounding_allowance(prices)
        assert rounded >= exact  # still an upper bound
        assert abs(rounded - allowance - exact) <= allowance  # the float32 error is inside the allowance


def test_float32_problem_solves_with_certified_bound() -> None:
    problem32 = as_float32(marketing_problem(1_500, seed=3))
    problem64 = AllocationProblem.from_arrays(problem32.value.astype(np.float64), problem32.eligible,
                                              problem32.weight.astype(np.float64), problem32.rhs, problem32.sense)
    result = solve_lagrangian(problem32)
    exact = HighsExactSolver(time_limit=60, mip_gap=1e-9).solve(problem64)
    assert check_feasible(problem64, result.action) == []
    assert result.bound >= exact.bound - 1e-6 * abs(exact.bound) or result.bound >= exact.objective
    assert exact.objective >= result.objective - 1e-6


def test_sampled_warm_start_certifies_gap() -> None:
    problem = marketing_problem(30_000, seed=4)
    options = LagrangianOptions(sample_from=4_000)  # samples of 7,500 and then 1,875 users
    result = solve_lagrangian(problem, options)
    lp = lp_relaxation_bound(problem)
    assert check_feasible(problem, result.action) == []
    assert result.bound >= lp - 1e-9 * abs(lp)
    assert result.gap <= options.gap
    assert result.objective <= lp


def test_repair_from_a_small_pool_falls_back_to_every_user() -> None:
    problem = marketing_problem(4_000, seed=5)
    start = DualOracle(problem).evaluate(np.zeros(4)).action  # at zero prices every constraint is broken
    assert check_feasible(problem, start)
    for pool_min in (10, 500, 4_000):
        plan = repair(problem, start, PRICES, pool=0.0, pool_min=pool_min)
        assert check_feasible(problem, plan) == []


def test_restricted_problem_keeps_everyone_elses_usage() -> None:
    problem = marketing_problem(2_000, seed=6)
    plan = DualOracle(problem).evaluate(PRICES).action
    users = nearest_users(problem, plan, PRICES, 150)
    sub = restricted(problem, plan, users)
    assert np.allclose(problem.rhs - sub.rhs + sub.usage_of(plan[users]), problem.usage_of(plan))
    cost = switch_cost(problem, plan, PRICES)
    assert cost[users].max() <= np.delete(cost, users).min()


def test_polish_never_loses_and_reaches_the_optimum_on_all_users() -> None:
    problem = marketing_problem(120, seed=8)
    plan = repair(problem, DualOracle(problem).evaluate(PRICES).action, PRICES)
    assert check_feasible(problem, plan) == []
    some = polish(problem, plan, PRICES, users=30, seconds=5.0)
    assert check_feasible(problem, some.plan) == []
    assert problem.objective_of(some.plan) >= problem.objective_of(plan)
    assert some.bound == float("inf")  # a core's bound says nothing about the whole problem
    everyone = polish(problem, plan, PRICES, users=problem.users, seconds=30.0)
    exact = HighsExactSolver(time_limit=60, mip_gap=0.0).solve(problem)
    # The whole MIP: its plan is the optimum and its bound a bound on the problem.
    assert everyone.bound >= exact.objective - 1e-6 * abs(exact.objective)
    assert everyone.bound <= exact.bound + 1e-6 * abs(exact.bound)
    assert problem.objective_of(everyone.plan) == pytest.approx(exact.objective, rel=1e-9)
