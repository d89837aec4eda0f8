"""On tiny problems brute force is the oracle: the exact solver equals it, the Lagrangian plan is feasible and
never above it, and the dual bound is never below it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.allocation import SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import HighsExactSolver
from optimizer.solve_lagrangian import LagrangianOptions, solve_lagrangian


def brute_force(problem: AllocationProblem) -> float | None:
    """The best objective over every plan, or None when no plan is feasible."""
    choices = [[-1, *np.nonzero(problem.eligible[u])[0].tolist()] for u in range(problem.users)]
    best: float | None = None
    for plan in itertools.product(*choices):
        action = np.asarray(plan, dtype=np.int32)
        if not check_feasible(problem, action):
            value = problem.objective_of(action)
            best = value if best is None else max(best, value)
    return best


def tiny_problem(seed: int) -> AllocationProblem:
    """N ≤ 6, A ≤ 3, K ≤ 2, a quarter of the rows ≥; the limits a random share of the totals."""
    rng = np.random.default_rng(seed)
    n, a, k = int(rng.integers(1, 7)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
    value = rng.integers(-5, 30, (n, a)).astype(float)
    eligible = rng.random((n, a)) < 0.8
    weight = rng.integers(0, 10, (k, n, a)).astype(float)
    sense = rng.choice([-1, 1], k, p=[0.75, 0.25]) if k else np.zeros(0, dtype=np.int8)
    totals = weight.sum(axis=(1, 2))
    rhs = np.where(sense < 0, totals * rng.uniform(0.1, 0.7, k), totals * rng.uniform(0.0, 0.3, k))
    return AllocationProblem.from_arrays(value, eligible, weight, rhs.round(), sense)


def tiny_problems() -> st.SearchStrategy[AllocationProblem]:
    return st.integers(0, 2**32 - 1).map(tiny_problem)


@settings(deadline=None)
@given(tiny_problems())
def test_exact_equals_brute_force_and_lagrangian_is_bounded(problem: AllocationProblem) -> None:
    truth = brute_force(problem)
    exact = HighsExactSolver(time_limit=30).solve(problem)
    lagrangian = solve_lagrangian(problem, LagrangianOptions(gap=1e-9, max_passes=300))
    if truth is None:
        assert exact.status is SolveStatus.INFEASIBLE
        # The dual proves infeasibility when it falls below the worst feasible value; else, repair finding no
        # plan, HiGHS's MIP over every user (the polish's core on a problem this small) proves it.
        assert lagrangian.status is SolveStatus.INFEASIBLE, lagrangian.message
        return
    assert exact.status is SolveStatus.OPTIMAL
    assert exact.objective == pytest.approx(truth, abs=1e-6)
    assert check_feasible(problem, exact.action) == []
    # The dual bound is an upper bound on the optimum, whatever the plan the heuristic recovered.
    assert lagrangian.bound >= truth - 1e-6 * max(1.0, abs(truth))
    if lagrangian.status is not SolveStatus.NO_SOLUTION:
        assert check_feasible(problem, lagrangian.action) == []
        assert lagrangian.objective <= truth + 1e-9
