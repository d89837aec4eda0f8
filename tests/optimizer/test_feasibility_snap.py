"""The checker keeps limits as written and says by how much a plan breaks one; a MIP plan over a limit by no more
than the solver's own feasibility tolerance is moved inside it, never waved through."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.allocation import SolveStatus
from optimizer.exact_answer import checked_allocation
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem
from optimizer.snap import snap_to_limits


def _budget_problem(users: int = 100) -> AllocationProblem:
    """Two actions per user: the better one costs 10,000, the other 9,999; a budget of 1,000,000."""
    value = np.tile([3.0, 2.0], (users, 1))
    cost = np.tile([10_000.0, 9_999.0], (users, 1))
    return AllocationProblem.from_arrays(value, None, cost[None], [1_000_000.0], [-1], ("total_budget",))


def test_a_violation_shows_every_digit_and_the_excess() -> None:
    problem = _budget_problem()
    cost = problem.weight[0].copy()
    cost[0, 0] += 0.0277  # the plan spends 1,000,000.0277
    problem = AllocationProblem.from_arrays(problem.value, None, cost[None], [1_000_000.0], [-1], ("total_budget",))
    (violation,) = check_feasible(problem, np.zeros(100, dtype=np.int32))
    assert violation.message.startswith("total_budget: 1,000,000.0277 > 1,000,000 (over by 0.0277")
    assert violation.amount == pytest.approx(0.0277, rel=1e-6)


def test_a_share_row_is_checked_against_its_terms_not_its_zero_limit() -> None:
    """Σ (1[watch] − s)·lent ≤ 0 at exactly the share s: the stored terms are rounded products, so the float sum
    is a few ulps of the terms off 0 (here 4.8e-7 yuan over millions). That is rounding, not a broken limit,
    though it is above the old tolerance of 1e-9 × max(1, |0|); a real excess is still caught."""
    rng = np.random.default_rng(6)
    lent = rng.uniform(1e6, 1e7, 4000)
    watch = np.zeros(4000, dtype=bool)
    watch[:1000] = True
    s = float(lent[watch].sum() / lent.sum())
    row = ((watch - s) * lent)[:, None]
    lhs = float(row.sum())
    assert 1e-9 < lhs < 1e-9 * float(np.abs(row).sum())
    problem = AllocationProblem.from_arrays(np.ones((4000, 1)), None, row[None], [0.0], [-1], ("watch_share",))
    take = np.zeros(4000, dtype=np.int32)
    assert check_feasible(problem, take) == []
    over = AllocationProblem.from_arrays(np.ones((4000, 1)), None, row[None], [-1e-6 * float(np.abs(row).sum())],
                                         [-1], ("watch_share",))
    assert [v.constraint for v in check_feasible(over, take)] == ["watch_share"]


def test_a_plan_over_by_the_solver_tolerance_is_snapped_inside_the_limit() -> None:
    """SCIP's "optimal" plan for a budget of 1,000 spent 1,000.0000277 (2.8e-8 over): our checker rejected it,
    and no plan was written. It is now moved inside the limit by the cheapest switch, and re-valued."""
    problem = _budget_problem()
    action = np.zeros(100, dtype=np.int32)  # 100 × 10,000 = 1,000,000: exactly at the limit
    cost = problem.weight[0].copy()
    cost[:, 0] *= 1 + 2.8e-8
    over = AllocationProblem.from_arrays(problem.value, None, cost[None], [1_000_000.0], [-1], ("total_budget",))
    assert check_feasible(over, action)  # broken, by 0.028 yuan
    snapped = snap_to_limits(over, action)
    assert snapped is not None and snapped.moved == 1
    assert check_feasible(over, snapped.action) == []
    assert (snapped.action == 1).sum() == 1  # one user moves to the 9,999 action: the least value lost
    answer = checked_allocation(over, action, bound=300.0, proven=True, gap_tolerance=1e-6, method="exact-scip",
                                started=0.0, message="SCIP: OPTIMAL")
    assert answer.status is SolveStatus.FEASIBLE  # the solver's proof was for a wider limit; the gap tells the rest
    assert answer.objective == 299.0 and answer.bound == 300.0
    assert "within its feasibility tolerance; 1 user(s) switched" in answer.message
    assert check_feasible(over, answer.action) == []


def test_a_plan_over_by_more_than_the_tolerance_is_not_snapped() -> None:
    problem = _budget_problem()
    cost = problem.weight[0].copy()
    cost[:, 0] *= 1 + 1e-4
    over = AllocationProblem.from_arrays(problem.value, None, cost[None], [1_000_000.0], [-1], ("total_budget",))
    action = np.zeros(100, dtype=np.int32)
    assert snap_to_limits(over, action) is None
    answer = checked_allocation(over, action, bound=300.0, proven=True, gap_tolerance=1e-6, method="exact-scip",
                                started=0.0, message="SCIP: OPTIMAL")
    assert answer.status is SolveStatus.NO_SOLUTION
    assert "fails our feasibility check: total_budget: 1,000,100 > 1,000,000 (over by 100" in answer.message


def test_snapping_never_breaks_another_limit() -> None:
    """The cheapest switch for the budget would move a user onto the minutes row, which is full: it is skipped."""
    value = np.array([[5.0, 4.9, 1.0]] * 3)
    cost = np.array([[10.0, 9.0, 9.5]] * 3) * (1 + np.array([[3e-8, 0, 0]] * 3))
    minutes = np.array([[0.0, 6.0, 0.0]] * 3)
    problem = AllocationProblem.from_arrays(value, None, np.stack([cost, minutes]), [30.0, 0.0], [-1, -1],
                                            ("budget", "minutes"))
    action = np.zeros(3, dtype=np.int32)
    snapped = snap_to_limits(problem, action)
    assert snapped is not None and check_feasible(problem, snapped.action) == []
    assert set(snapped.action.tolist()) <= {0, 2}


def test_scip_plan_from_the_trial_is_accepted() -> None:
    """The new-user trial's case: SCIP proves a plan optimal that is 2.8e-8 over c0; it used to be rejected."""
    pytest.importorskip("ortools", reason="ortools not installed")
    from optimizer.solve_exact_ortools import ScipSolver
    from optimizer.solvers import solve

    rng = np.random.default_rng(2)
    n, a = 2000, 5
    value = rng.normal([30, 10, 3, 1, -2], [20, 8, 3, 1, 1], size=(n, a))
    eligible = rng.random((n, a)) < 0.7
    cost = np.array([9.0, 0.6, 0.05, 0.02, 0.01]) * rng.uniform(0.5, 1.5, (n, a))
    minutes = np.array([6.0, 0, 0, 0, 0]) * rng.uniform(0.5, 1.5, (n, a))
    segment = (rng.random(n) < 0.3)[:, None] * np.array([1.0, 1.0, 0, 0, 1.0])
    lines = np.array([0, 1.5, 0, 0, 0]) * np.ones((n, a))
    problem = AllocationProblem.from_arrays(value, eligible, np.stack([cost, minutes, segment, lines, value * 0.1]),
                                            [n * 0.5, n * 0.4, n * 0.2, n * 0.3, n * 0.2], [-1, -1, 1, -1, 1])
    result = ScipSolver(time_limit=60).solve(problem)
    assert result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE), result.message
    assert check_feasible(problem, result.action) == []
    highs = solve(problem, "exact-highs", time_limit=60, watchdog=False)
    assert result.objective >= highs.objective * (1 - 1e-5)  # snapping cost next to nothing
    assert result.bound >= highs.objective * (1 - 1e-9)
