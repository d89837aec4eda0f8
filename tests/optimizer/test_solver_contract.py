"""The contract every registered solver keeps (pulp's shared suite, scikit-learn's parametrize_with_checks):
exact solvers equal brute force on tiny problems, every solver reports infeasible problems as such (the
Lagrangian by its dual, or by HiGHS's MIP over every user when repair finds no plan on a small problem),
handles ≥ rows, users with no eligible action and K = 0, and every plan passes the independent checker with
objective ≤ bound.

A solver whose backend is missing is skipped with the reason, visibly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optimizer.allocation import Allocation, SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.solver_protocol import Solver, SolverUnavailable
from optimizer.solvers import (
    EXACT_MAX_USERS,
    REGISTRY,
    SolverInfo,
    UnknownSolverError,
    auto_method,
    make_solver,
    registered,
    solve,
)
from tests.optimizer.test_lagrangian_bound import marketing_problem
from tests.optimizer.test_tiny_exhaustive import brute_force, tiny_problem

ROOT = Path(__file__).resolve().parents[2]
TINY_CASES = 40  # seed 25 is infeasible
TIME_LIMIT = 30.0


@pytest.fixture(params=REGISTRY, ids=lambda info: info.name)
def info(request: pytest.FixtureRequest) -> SolverInfo:
    entry: SolverInfo = request.param
    return entry


def run(info: SolverInfo, problem: AllocationProblem) -> Allocation:
    try:
        solver = info.make(TIME_LIMIT)
        result = solver.solve(problem)
    except SolverUnavailable as err:
        pytest.skip(str(err))
    assert_answer_format(problem, result, info.name)
    return result


def assert_answer_format(problem: AllocationProblem, result: Allocation, name: str) -> None:
    """What holds for every answer: the format, and for a plan the independent check and objective ≤ bound."""
    assert result.method == name
    assert result.action.shape == (problem.users,)
    assert np.issubdtype(result.action.dtype, np.integer)
    if result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        assert check_feasible(problem, result.action) == []
        assert result.objective == pytest.approx(problem.objective_of(result.action), rel=1e-9, abs=1e-9)
        assert result.objective <= result.bound + 1e-9 * max(1.0, abs(result.bound))


@pytest.fixture(scope="module")
def tiny_cases() -> list[tuple[AllocationProblem, float | None]]:
    """Brute force runs once per problem, for every solver."""
    problems = [tiny_problem(seed) for seed in range(TINY_CASES)]
    return [(problem, brute_force(problem)) for problem in problems]


def test_tiny_problems_against_brute_force(info: SolverInfo,
                                           tiny_cases: list[tuple[AllocationProblem, float | None]]) -> None:
    assert any(truth is None for _, truth in tiny_cases), "the cases should include an infeasible one"
    for problem, truth in tiny_cases:
        result = run(info, problem)
        if truth is None:
            assert result.status is SolveStatus.INFEASIBLE, result.message
            continue
        assert result.bound >= truth - 1e-6 * max(1.0, abs(truth))
        if info.exact:
            assert result.status is SolveStatus.OPTIMAL, result.message
            assert result.objective == pytest.approx(truth, abs=1e-6)
        elif result.status is not SolveStatus.NO_SOLUTION:
            assert result.objective <= truth + 1e-9


def _problem(value: list[list[float]], weight: list[list[list[float]]], rhs: list[float], sense: list[int],
             eligible: list[list[bool]] | None = None) -> AllocationProblem:
    k = len(rhs)
    w = np.asarray(weight, dtype=float).reshape(k, *np.shape(value))
    return AllocationProblem.from_arrays(value, eligible, w, rhs, np.asarray(sense, dtype=np.int8))


INFEASIBLE = [
    pytest.param(_problem([[5, 3], [4, 1]], [[[1, 1], [1, 1]]], [3], [1]), id="more-contacts-than-users"),
    # budget ≤ 7 but at least 2 contacts, each costing ≥ 4: 8 > 7.
    pytest.param(_problem([[5, 3], [4, 1], [2, 2]], [[[10, 4], [10, 4], [10, 4]], [[1, 1], [1, 1], [1, 1]]],
                          [7, 2], [-1, 1]), id="budget-below-minimum-volume"),
    pytest.param(_problem([[5, 3]], [[[2, 1]]], [-1], [-1]), id="negative-budget"),
    pytest.param(_problem([[5, 3], [4, 1]], [[[1, 1], [1, 1]]], [1], [1], [[False, False], [False, False]]),
                 id="volume-with-nobody-eligible"),
    # The LP relaxation is feasible, no plan of whole contacts is: row 0 needs two users, every pair breaks row 1.
    pytest.param(_problem([[7.46], [5.57], [9.78]], [[[3.61], [2.6], [3.68]], [[4.38], [3.83], [-0.88]]],
                          [6.54, 3.06], [1, -1]), id="integer-infeasible"),
    # One user: only action 0 meets row 0, and it breaks row 1.
    pytest.param(_problem([[82.6, -595.68, 229.45]], [[[2487.0999, 206.227, 263.0652]], [[2.008, 1.1474, 0.9533]]],
                          [1259.347, 1.617], [1, -1]), id="one-user-integer-infeasible"),
]


@pytest.mark.parametrize("problem", INFEASIBLE)
def test_infeasible_problems_are_reported(info: SolverInfo, problem: AllocationProblem) -> None:
    result = run(info, problem)
    assert result.status is SolveStatus.INFEASIBLE, result.message


def test_at_least_rows_force_unprofitable_contacts(info: SolverInfo) -> None:
    # Every contact loses money, but at least 2 of the 3 users must be reached: the two cheapest losses, -3.
    problem = _problem([[-1, -4], [-2, -6], [-5, -9]], [[[1, 1], [1, 1], [1, 1]]], [2], [1])
    result = run(info, problem)
    assert result.status in ((SolveStatus.OPTIMAL,) if info.exact else (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE))
    if info.exact:
        assert result.objective == pytest.approx(-3.0)
    assert result.objective <= -3.0 + 1e-9
    assert result.bound >= -3.0 - 1e-9


@pytest.mark.parametrize("rhs", [pytest.param(10.0, id="budget"), pytest.param(0.0, id="zero-budget")])
def test_nobody_eligible_means_doing_nothing(info: SolverInfo, rhs: float) -> None:
    problem = _problem([[5, 3], [4, 1]], [[[1, 1], [1, 1]]], [rhs], [-1], [[False, False], [False, False]])
    result = run(info, problem)
    assert result.status is SolveStatus.OPTIMAL
    assert (result.action == -1).all()
    assert result.objective == 0.0


def test_no_coupling_constraints(info: SolverInfo) -> None:
    rng = np.random.default_rng(5)
    value = rng.normal(0, 10, (40, 4))
    eligible = rng.random((40, 4)) < 0.7
    problem = AllocationProblem.from_arrays(value, eligible, np.zeros((0, 40, 4)), np.zeros(0), np.zeros(0))
    best = np.where(eligible, value, -np.inf).max(axis=1)
    expected = float(best[best > 0].sum())
    result = run(info, problem)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(expected, rel=1e-9)
    assert result.bound == pytest.approx(expected, rel=1e-6)


@pytest.fixture(scope="module")
def marketing_optimum() -> tuple[AllocationProblem, float]:
    problem = marketing_problem(150, seed=3)
    exact = make_solver("exact-highs", TIME_LIMIT).solve(problem)
    assert exact.status is SolveStatus.OPTIMAL
    return problem, exact.objective


def test_marketing_problem_plans_are_checked_and_bounded(info: SolverInfo,
                                                         marketing_optimum: tuple[AllocationProblem, float]) -> None:
    """Float weights and values (CP-SAT has to scale them), four ≤ rows, 150 users × 6 actions."""
    problem, optimum = marketing_optimum
    result = run(info, problem)
    assert result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE), result.message
    assert result.bound >= optimum * (1 - 1e-6)
    assert result.objective <= optimum * (1 + 1e-6)
    if info.exact:  # within the solvers' default relative gap, 1e-6, plus CP-SAT's 6-digit scaling
        assert result.objective == pytest.approx(optimum, rel=2e-5)
    else:
        assert result.gap <= 1e-2


def test_every_registered_solver_keeps_the_protocol() -> None:
    assert set(registered()) == {"exact-highs", "exact-cpsat", "exact-scip", "exact-pulp", "lagrangian"}
    for entry in REGISTRY:
        try:
            solver = entry.make(5.0)
        except SolverUnavailable as err:
            pytest.skip(str(err))
        assert isinstance(solver, Solver)
        assert solver.name == entry.name


def test_unknown_method_names_the_closest_one() -> None:
    with pytest.raises(UnknownSolverError, match="did you mean 'exact-highs'"):
        make_solver("exact-higs")
    problem = _problem([[1.0]], [[[1.0]]], [1.0], [-1])
    with pytest.raises(UnknownSolverError, match="choose one of: auto, exact-highs"):
        solve(problem, method="cbc")
    with pytest.raises(TypeError, match="method must be the name of a solver, one of auto, exact-highs"):
        solve(problem, method=None)  # type: ignore[arg-type]


def test_importing_the_registry_loads_no_backend() -> None:
    code = ("import sys, optimizer.solvers; "
            "print(sorted(m for m in ('ortools', 'pulp', 'highspy', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_auto_sends_small_problems_to_the_mip_and_large_ones_to_the_dual() -> None:
    small = marketing_problem(100, seed=1)
    assert auto_method(small, time_limit=300.0) == "exact-highs"
    assert auto_method(small, time_limit=0.1) == "lagrangian"  # no time for a MIP
    users = EXACT_MAX_USERS + 1
    large = AllocationProblem.from_arrays(np.ones((users, 1)), None, np.zeros((0, users, 1)), [], [])
    assert auto_method(large, time_limit=3600.0) == "lagrangian"


def test_auto_solves_exactly_under_the_watchdog() -> None:
    problem = marketing_problem(60, seed=2)
    result = solve(problem, time_limit=60.0)
    in_process = solve(problem, method="exact-highs", watchdog=False)
    assert result.method == "exact-highs"
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(in_process.objective, rel=1e-9)
    assert check_feasible(problem, result.action) == []
