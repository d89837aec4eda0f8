"""Lumpy users (each alone a visible share of a limit) are decided apart by an exact master MIP, the rest by the
Lagrangian (optimizer.lumpy_users).

The case from a new-user trial: 100,000 users, 11 of them with values and costs ×5,000; the Lagrangian's
rounded plan was 8.9 % below the optimum with a certified gap of 10 %. Here the same shape, small enough for
HiGHS to prove the optimum: the plan must be within the gap of it, and the bound above it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.optimizer_instances import marketing_instance
from optimizer.allocation import Allocation, SolveStatus
from optimizer.dual_pass import DualOracle
from optimizer.feasibility import check_feasible
from optimizer.lumpy_users import MOST_LUMPY, PassListener, decide_apart, lumpy_users
from optimizer.problem import AllocationProblem, FloatArray
from optimizer.solve_exact_highs import HighsExactSolver
from optimizer.solve_lagrangian import LagrangianOptions, LagrangianSolver, solve_lagrangian
from simulations.lender_book import lender_book


def test_lumpy_users_are_the_few_large_ones() -> None:
    base = marketing_instance(20_000)  # weights independent and uniform: no user is lumpy by chance
    users = np.array([17, 4_000, 4_001, 9_999, 15_000, 19_999])
    weight = base.weight.copy()
    weight[:, users] *= np.array([2_000.0, 500.0, 300.0, 1_000.0, 5_000.0, 400.0])[None, :, None]
    problem = AllocationProblem(base.value, base.eligible, weight, base.rhs, base.sense)
    prices = np.ones(problem.constraints)
    assert np.array_equal(lumpy_users(problem, prices, 1e-3), users)
    assert lumpy_users(problem, prices, 0.0).size == 0  # 0: never
    assert lumpy_users(problem, np.zeros(problem.constraints), 1e-3).size == 0  # no limit is priced


def test_users_all_the_same_size_are_not_lumpy() -> None:
    # A limit of 20 contacts: each contact is 5 % of it, but every user is the same size, and the LP's
    # rounding of a row of unit weights loses nothing.
    n = 5_000
    problem = AllocationProblem.from_arrays(np.ones((n, 2)), None, np.ones((1, n, 2)), [20.0], [-1])
    assert lumpy_users(problem, np.ones(1), 1e-3).size == 0


def test_of_many_lumpy_users_the_largest_are_decided_apart() -> None:
    base = marketing_instance(50_000)
    users = np.arange(0, 50_000, 500)  # 100 lumpy users: the last 64 a hundred times larger than the others
    weight = base.weight.copy()
    weight[:, users] *= np.where(np.arange(users.size) < users.size - MOST_LUMPY, 1_000.0, 100_000.0)[None, :, None]
    problem = AllocationProblem(base.value, base.eligible, weight, base.rhs, base.sense)
    found = lumpy_users(problem, np.ones(problem.constraints), 1e-3)
    assert found.size == MOST_LUMPY
    assert np.array_equal(found, users[-MOST_LUMPY:])


def test_a_row_with_zero_rhs_is_measured_by_what_every_user_could_take() -> None:
    n = 4_000
    rng = np.random.default_rng(5)
    take = rng.uniform(0.5, 1.5, (1, n, 3))
    take[0, 17] *= 400.0  # 400 times a typical user: ~10 % of everything every user could take
    problem = AllocationProblem.from_arrays(rng.uniform(1, 2, (n, 3)), None, take - 1.0, [0.0], [-1])
    assert lumpy_users(problem, np.ones(1), 1e-3).tolist() == [17]


def test_the_trial_case_reaches_the_proven_optimum() -> None:
    problem, clients = lender_book(1_500, 3, 2_000.0, 7)
    exact = HighsExactSolver(time_limit=120, mip_gap=1e-9).solve(problem)
    assert exact.status is SolveStatus.OPTIMAL
    lines: list[str] = []
    # Small enough for HiGHS to prove the optimum, so smaller cores than the default: lumpy users are decided
    # apart from ten cores' worth of users on.
    result = LagrangianSolver(LagrangianOptions(time_limit=120, polish_users=100), lines.append).solve(problem)
    assert any("lumpy users decided apart" in line for line in lines)
    assert result.apart >= clients.size  # the answer says so too (the plan's headline shows it)
    assert check_feasible(problem, result.action) == []
    assert result.gap <= 1e-4
    tolerance = 1e-7 * abs(exact.objective)
    assert result.bound >= exact.objective - tolerance
    assert result.objective >= exact.objective - 1e-4 * abs(result.bound)
    assert result.objective == pytest.approx(problem.objective_of(result.action))
    # Without the master the rounded plan is far from the optimum: this is the case the decomposition is for.
    rounded = solve_lagrangian(problem, LagrangianOptions(time_limit=120, lumpy_share=0.0, polish_users=0))
    assert rounded.objective < exact.objective - 1e-3 * abs(exact.objective)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), count=st.integers(1, 5), at_least=st.booleans())
def test_master_bound_and_plan_bracket_the_optimum(seed: int, count: int, at_least: bool) -> None:
    """On small problems with lumpy users and, sometimes, a ≥ row (so the rest must make up what the lumpy users
    leave): bound ≥ optimum ≥ plan, the checker accepts the plan, and the rounds end at the gap."""
    problem, users = lender_book(150, count, 25.0, seed)
    if at_least:
        contacts = np.ones((1, problem.users, problem.actions))
        problem = AllocationProblem(problem.value, problem.eligible, np.concatenate([problem.weight, contacts]),
                                    np.r_[problem.rhs, 0.5 * problem.users], np.r_[problem.sense, 1])
    exact = HighsExactSolver(time_limit=60, mip_gap=1e-9).solve(problem)
    assume_solved = exact.status is SolveStatus.OPTIMAL
    start = solve_lagrangian(problem, LagrangianOptions(polish_users=0, lumpy_share=0.0, time_limit=30))

    def solve_rest(rest: AllocationProblem, prices: FloatArray, seconds: float, gap: float, enough: float,
                   on_pass: PassListener) -> Allocation:
        options = LagrangianOptions(lumpy_share=0.0, time_limit=max(seconds, 0.0), gap=1e-7)
        return LagrangianSolver(options, on_pass=on_pass).solve(rest, prices)

    target = 1e-6 * abs(start.bound)
    apart = decide_apart(problem, users, np.asarray(start.prices), solve_rest, target, time.perf_counter() + 60,
                         lambda _: None)
    assert apart.plan is not None
    assert check_feasible(problem, apart.plan) == []
    assert apart.value == pytest.approx(problem.objective_of(apart.plan))
    assert apart.bound - apart.value <= target
    if assume_solved:
        tolerance = 1e-7 * max(abs(exact.objective), 1.0)
        assert apart.bound >= exact.objective - tolerance
        assert apart.value <= exact.objective + tolerance


def test_no_choice_of_the_lumpy_users_leaving_a_plan_proves_infeasibility() -> None:
    # Exactly 3 units: five users of 2 and the rest of 1e-4 each. The LP is feasible, whole contacts are not.
    n = 3_000
    weight = np.full((2, n, 1), 1e-4)
    weight[:, ::600] = 2.0
    problem = AllocationProblem.from_arrays(np.random.default_rng(0).uniform(1, 2, (n, 1)), None, weight, [3.0, 3.0],
                                            [-1, 1])
    result = LagrangianSolver(LagrangianOptions(time_limit=30, polish_users=100)).solve(problem)
    assert result.status is SolveStatus.INFEASIBLE
    assert "decided apart" in result.message


def test_lumpy_users_with_nothing_to_take_leave_no_false_bound() -> None:
    problem, users = lender_book(200, 3, 25.0, 0)
    eligible = problem.eligible.copy()
    eligible[users] = False
    problem = AllocationProblem(problem.value, eligible, problem.weight, problem.rhs, problem.sense)
    start = solve_lagrangian(problem, LagrangianOptions(polish_users=0, lumpy_share=0.0))
    apart = decide_apart(problem, users, np.asarray(start.prices),
                         lambda rest, prices, seconds, gap, enough, on_pass: solve_lagrangian(rest, start=prices), 1.0,
                         time.perf_counter() + 30, lambda _: None)
    assert apart.bound == np.inf and apart.rounds == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_pass_is_told_with_a_bound_on_the_dual_value(dtype: type[np.floating]) -> None:
    # The master takes each pass over the rest as a cut: each value told must bound g(λ) from above (float32
    # passes carry their rounding allowance), and every pass over the whole problem is told.
    book, _ = lender_book(3_000, 2, 50.0, 11)
    problem = AllocationProblem(book.value.astype(dtype), book.eligible, book.weight.astype(dtype), book.rhs,
                                book.sense)
    seen: list[tuple[FloatArray, float]] = []
    answer = LagrangianSolver(LagrangianOptions(lumpy_share=0.0), on_pass=lambda at, value: seen.append(
        (at, value))).solve(problem)
    assert len(seen) == answer.iterations
    oracle = DualOracle(problem)  # exact_value: g(λ) of the same numbers, in float64
    for at, value in seen:
        exact = oracle.exact_value(at)
        assert value >= exact - 1e-9 * abs(exact)


def test_a_rest_worth_enough_ends_the_solve_whatever_its_gap() -> None:
    # The rest of the lumpy users needs only the value that makes the whole plan meet its gap: a trial's shift
    # plan otherwise spent half of any time limit closing the rest's own gap further than anyone needed.
    problem = marketing_instance(20_000, seed=3)
    strict = LagrangianOptions(gap=1e-12, lumpy_share=0.0, time_limit=60)
    first = solve_lagrangian(problem, replace(strict, polish_users=0))
    lines: list[str] = []
    enough = LagrangianSolver(replace(strict, enough=first.objective), lines.append).solve(problem)
    assert enough.objective >= first.objective
    assert check_feasible(problem, enough.action) == []
    assert not any("closing the gap" in line for line in lines)  # a gap of 1e-12 would have needed them
