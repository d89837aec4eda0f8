"""A frontier never shows less at a looser limit, every point's plan passes that point's check, and bounds only
rise as the limit loosens: whatever gaps the points were solved to."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from decide.example_data import write_cohort
from optimizer.allocation import Allocation, SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.frontier import Sweep
from optimizer.frontier_consistency import Worth, consistent
from optimizer.plan_solve import plan_frontier, share_row
from optimizer.problem import AllocationProblem
from tests.plans import plan_model, write_plan


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.parquet"
    write_cohort(path, 6_000, seed=21)
    return path


@pytest.mark.parametrize(("constraint", "limits", "objective"), [
    ("total_budget", [2_000, 2_500, 3_000, 3_500, 4_000, 4_500], "profit"),
    ("prime_telesales", [120, 100, 80, 60, 40], "profit"),  # a minimum loosens as it falls
    ("watch_share", [0.0, 0.02, 0.05, 0.1], "loans"),
    ("total_budget", [2_000, 3_000, 4_000], "roi"),
])
def test_looser_limits_never_show_less(cohort: Path, tmp_path: Path, constraint: str, limits: list[float],
                                       objective: str) -> None:
    plan = write_plan(tmp_path, ("objective: profit", f"objective: {objective}"),
                      ("    max: 600000", "    max: 30000"))
    model = plan_model(plan, cohort)
    k = model.problem.constraint_names.index(constraint)
    # A loose gap, so that each point alone could fall anywhere within 1 % of its optimum.
    points = plan_frontier(model, k, np.asarray(limits, dtype=float), "lagrangian", 60.0, gap=1e-2)
    sweep = Sweep(model.problem, k, share_row(model, k))
    worth = []
    for point in points:
        problem = sweep.at(point.limit)
        assert check_feasible(problem, point.allocation.action) == []
        assert point.allocation.bound >= point.allocation.objective
        if objective == "roi":
            spend = problem.objective_of_rows(model.measures.spend, point.allocation.action)
            worth.append((point.allocation.objective / spend, point.allocation.bound / spend))
        else:
            worth.append((point.allocation.objective, point.allocation.bound))
    looser_up = model.problem.sense[k] < 0
    ordered = [w for _, w in sorted(zip(limits, worth, strict=True), key=lambda x: x[0] if looser_up else -x[0])]
    for (value, bound), (next_value, next_bound) in itertools.pairwise(ordered):
        assert next_value >= value - 1e-9 * abs(value)
        assert next_bound >= bound - 1e-9 * abs(bound)


def test_a_candidate_plan_is_shown_where_it_is_better(cohort: Path, tmp_path: Path) -> None:
    model = plan_model(write_plan(tmp_path), cohort)
    k = model.problem.constraint_names.index("total_budget")
    limit = float(model.problem.rhs[k])
    exact = plan_frontier(model, k, np.asarray([limit]), "exact-highs", 60.0)[0].allocation
    loose = plan_frontier(model, k, np.asarray([limit]), "lagrangian", 60.0, gap=5e-2,
                          candidates=[exact.action])[0].allocation
    assert loose.objective >= exact.objective - 1e-9 * abs(exact.objective)


def test_a_point_without_its_own_plan_shows_no_prices() -> None:
    # A trial: exact-scip found no plan at the looser of two limits; the point took the tighter point's plan and
    # showed the solver's zeros as a price of 0 (a slack limit). It has no prices of its own.
    problem = AllocationProblem.from_arrays(np.array([[3.0], [2.0]]), None, np.ones((1, 2, 1)), [1.0], [-1])
    solved = Allocation(np.array([0, -1]), 3.0, 3.0, SolveStatus.OPTIMAL, "exact-scip", 0.1, np.array([2.0]))
    unsolved = Allocation(np.full(2, -1), float("-inf"), float("inf"), SolveStatus.NO_SOLUTION, "exact-scip", 5.0,
                          np.zeros(1))
    out = consistent([1.0, 2.0], [solved, unsolved],
                     lambda limit: dataclasses.replace(problem, rhs=np.array([limit])), True,
                     Worth(problem.value))
    assert out[1].status is SolveStatus.FEASIBLE and out[1].objective == 3.0
    assert not out[1].has_prices
    assert out[0].has_prices
