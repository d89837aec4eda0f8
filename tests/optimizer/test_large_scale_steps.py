"""The large-scale solver's parts, each against an oracle: chunked and threaded passes equal one plain pass,
float32 problems keep a valid bound, the sampled warm start still certifies its gap, repair from a small pool
falls back to all users and keeps to the slack of the rows it loads, the polish never loses value and finds
the optimum when it sees every user (with twins in shared columns), the users reduced-cost fixing leaves free
hold the optimum, and cores take the users that move each priced row when thousands of others are tied."""

from __future__ import annotations

import highspy
import numpy as np
import pytest

from optimizer.core_polish import MIP_THREADS, free_users, polish, polish_exact, twin_hashes, twins, with_twins
from optimizer.core_polish import _counts as group_counts
from optimizer.core_polish import _spread as spread_counts
from optimizer.dual_pass import DualOracle
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.repair import core_users, nearest_users, repair, restricted, switch_cost
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
    # The whole MIP (twins sharing columns): its plan is the optimum and its bound a bound on the problem.
    assert everyone.bound >= exact.objective - 1e-6 * abs(exact.objective)
    assert everyone.bound <= exact.bound + 1e-6 * abs(exact.bound)
    assert problem.objective_of(everyone.plan) == pytest.approx(exact.objective, rel=1e-9)


def shift_problem(seed: int, n: int = 400) -> AllocationProblem:
    """Calls in three shifts, each with its own agent minutes, or an SMS; a budget and a minimum of calls."""
    rng = np.random.default_rng(seed)
    minutes = np.round(rng.uniform(3, 9, n), 2)
    value = np.stack([10 + rng.uniform(0, 1, n), 9.5 + rng.uniform(0, 1, n), 11 + rng.uniform(0, 1, n),
                      np.full(n, 0.4)], axis=1)
    shifts = [np.zeros((n, 4)) for _ in range(3)]
    for shift, weight in enumerate(shifts):
        weight[:, shift] = minutes
    budget = np.stack([2 * minutes, 2 * minutes, 2 * minutes, np.full(n, 0.05)], axis=1)
    calls = np.zeros((n, 4))
    calls[:, :3] = 1
    return AllocationProblem.from_arrays(value, None, np.stack([budget, *shifts, calls]),
                                         [3_000, 300, 500, 200, 50], [-1, -1, -1, -1, 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_repair_loads_a_row_only_within_its_slack(seed: int) -> None:
    # At these prices every user calls in some shift; moving calls from a full shift into another that is
    # nearly full, and back, left two shifts over in every one of 40 seeds before repair kept to the slack.
    problem = shift_problem(seed)
    prices = np.array([0.2, 0.5, 0.4, 0.9, 0.0]) * np.random.default_rng(seed).uniform(0.5, 1.5, 5)
    start = DualOracle(problem).evaluate(prices).action
    assert check_feasible(problem, start)
    assert check_feasible(problem, repair(problem, start, prices)) == []


def with_twins_problem(seed: int, n: int = 300) -> AllocationProblem:
    """marketing_problem with each user repeated a random number of times: groups of twins."""
    base = marketing_problem(n, seed)
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n), rng.integers(1, 6, n))
    users = users[rng.permutation(users.size)]
    return base.subset(users, base.rhs * users.size / n)


def test_twins_are_found_and_a_plan_of_group_counts_spreads_back() -> None:
    problem = with_twins_problem(1, 80)
    pairs = twins(problem)
    hashes = twin_hashes(problem, ChunkRunner(threads=2, size=37))
    same = (problem.value[:, None] == problem.value[None]).all(axis=2) & \
        (problem.eligible[:, None] == problem.eligible[None]).all(axis=2) & \
        (problem.weight[:, :, None] == problem.weight[:, None]).all(axis=(0, 3))
    assert np.array_equal(pairs.group[:, None] == pairs.group[None], same)
    assert np.array_equal(hashes[:, None] == hashes[None], same)
    rng = np.random.default_rng(2)
    start = DualOracle(problem).evaluate(PRICES).action
    counts = np.zeros((pairs.size.size, problem.actions), dtype=np.int64)
    for group, first in enumerate(pairs.first):
        allowed = np.flatnonzero(problem.eligible[first])
        picks = rng.choice(np.r_[allowed, -1], size=pairs.size[group])
        np.add.at(counts[group], picks[picks >= 0], 1)
    plan = spread_counts(pairs, start, counts)
    assert np.array_equal(group_counts(pairs, plan, problem.actions), counts)
    kept = np.minimum(group_counts(pairs, start, problem.actions), counts).sum()
    assert int(((plan == start) & (plan >= 0)).sum()) == kept  # nobody moves who need not
    more = with_twins(problem, np.array([0, 5]), start, hashes, extra=2)
    for user in (0, 5):
        for action in np.unique(start[pairs.group == pairs.group[user]]):
            twins_on = np.flatnonzero((pairs.group == pairs.group[user]) & (start == action))
            assert np.isin(np.setdiff1d(twins_on, [0, 5])[:2], more).all()
    assert np.isin(pairs.group[more], pairs.group[[0, 5]]).all()


def test_twins_share_columns_and_the_polish_still_reaches_the_optimum() -> None:
    problem = with_twins_problem(3)
    plan = repair(problem, DualOracle(problem).evaluate(PRICES).action, PRICES)
    exact = HighsExactSolver(time_limit=60, mip_gap=0.0).solve(problem)
    everyone = polish(problem, plan, PRICES, users=problem.users, hashes=twin_hashes(problem))
    assert check_feasible(problem, everyone.plan) == []
    assert problem.objective_of(everyone.plan) == pytest.approx(exact.objective, rel=1e-9)
    assert everyone.bound >= exact.objective - 1e-6 * abs(exact.objective)


def test_free_users_keep_every_better_plan_and_their_mip_is_exact() -> None:
    problem = with_twins_problem(4)
    # Prices near the dual's optimum and the plan repair and fill make at them (no polish).
    near = solve_lagrangian(problem, LagrangianOptions(gap=1e-9, max_passes=60, polish_users=0))
    prices, plan = near.prices, near.action
    assert check_feasible(problem, plan) == []
    oracle = DualOracle(problem)
    gap = oracle.exact_value(prices) - problem.objective_of(plan)
    free = free_users(problem, plan, prices, gap, hashes=twin_hashes(problem))
    assert 0 < free.users.size < problem.users
    exact = HighsExactSolver(time_limit=60, mip_gap=0.0).solve(problem)
    optimum = exact.action
    assert problem.objective_of(optimum) > problem.objective_of(plan)
    # The optimum moves only free users, and only to actions left to them.
    fixed = np.setdiff1d(np.arange(problem.users), free.users)
    assert np.array_equal(optimum[fixed], plan[fixed])
    moved = optimum[free.users]
    assert free.eligible[np.flatnonzero(moved >= 0), moved[moved >= 0]].all()
    result = polish_exact(problem, plan, free)
    assert check_feasible(problem, result.plan) == []
    assert problem.objective_of(result.plan) == pytest.approx(exact.objective, rel=1e-9)
    assert result.bound >= exact.objective - 1e-6 * abs(exact.objective)
    assert result.bound <= oracle.exact_value(prices) + 1e-6


def test_cores_take_the_users_that_move_each_priced_row() -> None:
    # 5,000 users tied between an SMS and nothing at the prices, and 40 who can make calls: a core of 200
    # chosen by switch cost per unit of all priced resource holds only tied users.
    rng = np.random.default_rng(9)
    n, callers = 5_000, 40
    value = np.zeros((n, 2))
    value[:, 1] = 1.0  # the SMS: worth exactly its price, 1 = 20 × 0.05
    value[:callers, 0] = rng.uniform(150, 200, callers)
    eligible = np.ones((n, 2), dtype=bool)
    eligible[callers:, 0] = False
    budget = np.zeros((n, 2))
    budget[:, 1] = 0.05
    budget[:callers, 0] = rng.uniform(6, 18, callers)
    phone = np.zeros((n, 2))
    phone[:callers, 0] = budget[:callers, 0]
    problem = AllocationProblem.from_arrays(value, eligible, np.stack([budget, phone]), [200.0, 100.0], [-1, -1])
    prices = np.array([20.0, 0.0])
    prices[1] = float(np.median(value[:callers, 0] / budget[:callers, 0])) - 20.0
    action = DualOracle(problem).evaluate(prices).action
    by_cost = nearest_users(problem, action, prices, 200)
    assert (by_cost >= callers).all()
    core = core_users(problem, action, prices, 200, hashes=twin_hashes(problem)).users
    assert np.isin(np.arange(callers), core).sum() >= callers // 2


def _start_highs_scheduler(threads: int) -> None:
    """What an earlier HiGHS run in the process leaves behind: its scheduler, with that many threads."""
    highspy.Highs.resetGlobalScheduler(True)
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("threads", threads)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = 1, 0
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = np.ones(1), np.zeros(1), np.ones(1)
    solver.passModel(lp)
    solver.run()


def test_the_polish_runs_on_its_own_threads_whatever_scheduler_highs_has() -> None:
    # HiGHS runs one branch-and-bound search per thread of its scheduler, which by default has one per core:
    # pinned to one core, a shift plan got another plan. The polish asks for MIP_THREADS on a thread of its own
    # (run_highs), whatever scheduler an earlier run left on this thread.
    problem = shift_problem(0, 1_000)
    near = solve_lagrangian(problem, LagrangianOptions(polish_users=0, gap=1e-9, max_passes=80))
    plans = []
    for threads in (1, 3, MIP_THREADS):
        _start_highs_scheduler(threads)
        plans.append(polish(problem, near.action, near.prices, users=200, nodes=60).plan)
    assert problem.objective_of(plans[0]) > problem.objective_of(near.action)
    assert all(np.array_equal(plan, plans[0]) for plan in plans)
