"""What is particular to one backend: PuLP's status string after a CBC time-out, and CP-SAT's integer scaling."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.allocation import SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import HighsExactSolver, lp_relaxation_bound
from optimizer.solve_lagrangian import solve_lagrangian
from tests.optimizer.test_lagrangian_bound import marketing_problem


def test_a_cbc_time_out_is_not_reported_optimal() -> None:
    """PuLP says "Optimal" when CBC stops at its time limit with a plan; only sol_status tells the truth."""
    pulp = pytest.importorskip("pulp", reason="PuLP not installed")
    from optimizer.solve_exact_pulp import PulpCbcSolver, build_pulp_model, cbc_command

    problem = marketing_problem(3000, seed=3000)
    prob, _ = build_pulp_model(problem)
    prob.solve(cbc_command(time_limit=0.5, mip_gap=1e-9, threads=1))
    if prob.sol_status == pulp.LpSolutionOptimal:
        pytest.skip("CBC proved optimality within 0.5 s on this machine: no time-out to observe")
    assert pulp.LpStatus[prob.status] == "Optimal"  # the lesson from solver-notes, still true of this PuLP
    result = PulpCbcSolver(time_limit=0.5, mip_gap=1e-9).solve(problem)
    assert result.status in (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)
    # PuLP reads no bound back from CBC; ours comes from CBC's log, and it is a bound on the true optimum.
    good_plan = solve_lagrangian(problem)  # worth at most the optimum, so at most any valid bound
    assert np.isfinite(result.bound)
    assert result.bound >= good_plan.objective
    assert result.bound <= lp_relaxation_bound(problem) * (1 + 1e-6)
    if result.status is SolveStatus.FEASIBLE:
        assert check_feasible(problem, result.action) == []
        assert np.isfinite(result.gap)


def test_scip_stopped_before_any_plan_claims_no_bound() -> None:
    """A trial's case: SCIP stopped at its time limit (NOT_SOLVED) answered a bound of 0 where the optimum is
    far above; a bound must bound every plan, so an unsolved response gives none."""
    from optimizer.solve_exact_ortools import ScipSolver

    problem = marketing_problem(30_000, seed=4)
    result = ScipSolver(time_limit=0.05).solve(problem)
    if result.status is not SolveStatus.NO_SOLUTION:
        pytest.skip("SCIP found a plan within 0.05 s on this machine: nothing unsolved to observe")
    assert result.bound == float("inf")


@pytest.mark.parametrize(("log", "bound"), [
    pytest.param("Result - Stopped on time limit\n\nObjective value:  47027.73326718\nUpper bound:  47052.390\n",
                 47052.3905, id="result-block"),
    pytest.param("Cbc0010I After 600 nodes, 304 on tree, -47027.733 best solution, best possible -47052.39 (8.77 s)\n"
                 "Cbc0005I Partial search - best objective -47027.733 (best possible -47052.38), took 4967 "
                 "iterations\n", 47052.385, id="progress-lines-negated"),
    pytest.param("Cbc0010I After 0 nodes, 1 on tree, 1e+50 best solution, best possible -1e+50 (0.1 s)\n",
                 float("inf"), id="no-bound-yet"),
    pytest.param("", float("inf"), id="no-log"),
])
def test_cbc_bound_read_from_its_log_never_below_what_it_printed(log: str, bound: float) -> None:
    pytest.importorskip("pulp", reason="PuLP not installed")
    from optimizer.solve_exact_pulp import bound_from_log

    assert bound_from_log(log) == pytest.approx(bound, rel=1e-12)


def test_a_time_out_without_any_bound_gets_the_dual_bound_and_says_prices_are_missing() -> None:
    """A FEASIBLE exact answer with no bound is bounded by the dual at its prices; with no time left for the
    prices, the answer says so instead of reporting zeros."""
    from optimizer.allocation import Allocation
    from optimizer.solvers import with_dual_prices

    problem = marketing_problem(1000, seed=5)
    exact = HighsExactSolver(time_limit=60).solve(problem)
    unbounded = Allocation(exact.action, exact.objective, float("inf"), SolveStatus.FEASIBLE, "exact-pulp", 1.0,
                           np.zeros(problem.constraints), exact.usage, prices_note="prices not computed")
    priced = with_dual_prices(problem, unbounded, seconds=30.0)
    assert priced.has_prices and priced.prices.any()
    assert exact.objective <= priced.bound <= lp_relaxation_bound(problem) * (1 + 1e-6)
    late = with_dual_prices(problem, unbounded, seconds=0.0)
    assert not late.has_prices and late.prices_note == "prices not computed: time limit"
    assert late.bound == float("inf") and late.gap == float("inf")


@pytest.mark.parametrize(("values", "exponent", "exact"), [
    pytest.param([3.0, -12.0, 250.0], 0, True, id="integers"),
    pytest.param([0.25, 1.5, 12.75], 2, True, id="decimals"),
    pytest.param([1e12, 3e12], -7, True, id="large-round-numbers"),
    pytest.param([1 / 3, 2 / 3, 75.123456789], 4, False, id="six-significant-digits-of-the-largest"),
])
def test_decimal_scale(values: list[float], exponent: int, exact: bool) -> None:
    pytest.importorskip("ortools", reason="ortools not installed")
    from optimizer.solve_exact_ortools import decimal_scale

    scale = decimal_scale(np.array(values), digits=6)
    assert (scale.exponent, scale.exact) == (exponent, exact)


def test_cpsat_rounds_rows_towards_feasibility() -> None:
    """Three users of weight 1.0000004 under a limit of 3.0000011: taking all three breaks the row by 1e-7.
    Rounded to nearest at six digits (100000 each, limit 300000) CP-SAT would take all three; rounded towards
    feasibility (100001 each, limit 300000) it takes two, which is the true optimum."""
    pytest.importorskip("ortools", reason="ortools not installed")
    from optimizer.solve_exact_ortools import CpSatSolver

    problem = AllocationProblem.from_arrays(np.ones((3, 1)), None, np.full((1, 3, 1), 1.0000004), [3.0000011],
                                            [-1])
    result = CpSatSolver(time_limit=10).solve(problem)
    assert check_feasible(problem, result.action) == []
    assert result.objective == 2.0
    assert result.bound >= 2.0
    assert "rows × 10^5" in result.message


def test_cpsat_calls_an_infeasible_problem_infeasible_when_its_rows_are_rounded() -> None:
    """Weights with more digits than CP-SAT keeps: its rounded model is infeasible, which alone proves nothing
    for the original; the Lagrangian dual's proof does, so the answer is INFEASIBLE, as every other method's."""
    pytest.importorskip("ortools", reason="ortools not installed")
    from optimizer.solve_exact_ortools import CpSatSolver

    rng = np.random.default_rng(0)
    value, weight = rng.normal(5, 3, (300, 3)), rng.uniform(1, 3, (1, 300, 3))  # at most 900 reachable
    problem = AllocationProblem.from_arrays(value, None, weight, [1_000.0], [1])
    result = CpSatSolver(time_limit=10).solve(problem)
    assert "rows × 10^" in result.message  # the rows were rounded
    assert result.status is SolveStatus.INFEASIBLE
    reachable = AllocationProblem.from_arrays(value, None, weight, [500.0], [1])
    assert CpSatSolver(time_limit=10).solve(reachable).status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def test_exact_plans_report_the_lp_prices_the_dual_method_reports() -> None:
    """A MIP has no duals: an exact plan's prices are the LP relaxation's, which the Lagrangian converges to."""
    from optimizer.solvers import solve

    problem = marketing_problem(1000, seed=5)
    exact = solve(problem, "exact-highs", watchdog=False)
    dual = solve(problem, "lagrangian")
    assert exact.prices.shape == (problem.constraints,)
    assert (exact.prices >= 0).all() and exact.prices.any()
    assert np.allclose(exact.prices, dual.prices, rtol=0.05, atol=0.05 * float(dual.prices.max()))


@pytest.mark.parametrize("method", ["exact-highs", "exact-scip", "exact-cpsat", "exact-pulp"])
def test_whole_plans_impossible_though_fractional_ones_exist_is_infeasible(method: str) -> None:
    """The LP relaxation is feasible, no integer plan is: CBC then says "Infeasible" with "No Solution Found"
    (a proof all the same), and CP-SAT's rounded rows cannot prove it alone (HiGHS does, on the exact rows)."""
    from optimizer import solvers

    pairs = AllocationProblem.from_arrays(  # a minimum that needs two users; every pair breaks the maximum
        [[7.46], [5.57], [9.78]], None, [[[3.61], [2.6], [3.68]], [[4.38], [3.83], [-0.88]]], [6.54, 3.06], [1, -1])
    one_user = AllocationProblem.from_arrays(  # only action 0 reaches the minimum, and it breaks the maximum
        [[82.6, -595.68, 229.45]], None, [[[2487.0999, 206.227, 263.0652]], [[2.008, 1.1474, 0.9533]]],
        [1259.347, 1.617], [1, -1])
    for problem in (pairs, one_user):
        result = solvers.solve(problem, method, time_limit=60)
        assert result.status is SolveStatus.INFEASIBLE, result.message
