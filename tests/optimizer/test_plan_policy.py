"""The plan's online policy: prices written by a solve decide later users exactly as the solve's own pricing does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from decide.example_data import write_cohort
from engine import RuleFileError
from optimizer.allocation import SolveStatus
from optimizer.online_policy import PricePolicy
from optimizer.plan_policy import PricesUnavailable, check_prices, decide_users, price_file, read_prices
from optimizer.plan_solve import solve_objective, warm_solver
from optimizer.solve_lagrangian import solve_lagrangian
from tests.optimizer.test_lagrangian_bound import marketing_problem
from tests.plans import SHIFTS, plan_model, write_plan


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.parquet"
    write_cohort(path, 4_000, seed=11)
    return path


def test_vectorised_policy_equals_one_user_at_a_time() -> None:
    problem = marketing_problem(3_000, seed=8)
    prices = solve_lagrangian(problem).prices
    policy = PricePolicy.from_solution(problem, prices)
    action, reduced = policy.best_actions(problem)
    one_by_one = [policy.best_action(problem.value[u], problem.eligible[u], problem.weight[:, u, :])
                  for u in range(problem.users)]
    assert action.tolist() == one_by_one
    taken = action >= 0
    signed = np.where(problem.sense < 0, prices, -prices)
    rows = np.flatnonzero(taken)
    expected = problem.value[rows, action[taken]] - signed @ problem.weight[:, rows, action[taken]]
    np.testing.assert_allclose(reduced[taken], expected, rtol=1e-12)
    assert (reduced[taken] > 0).all() and (reduced[~taken] == 0).all()


@pytest.mark.parametrize("objective", ["profit", "roi"])
def test_prices_decide_the_cohort_as_the_plan_did(cohort: Path, tmp_path: Path, objective: str) -> None:
    """On the cohort the plan was solved for, the policy gives nearly every user the plan's own action: the
    plan is the users' best responses at these prices, but for the few that repair and polish moved."""
    # Limits that bind on 4,000 users, so that the prices are not all 0: a budget, or a minimum for ROI.
    extra = ((("objective: profit", "objective: roi"), ("    min: 40", "    min: 100")) if objective == "roi"
             else (("    max: 150000", "    max: 2500"), ("    max: 600000", "    max: 20000")))
    model = plan_model(write_plan(tmp_path, *extra), cohort)
    solve = warm_solver(model.problem, "lagrangian", 60.0, 1e-4, None)
    allocation = solve_objective(model, model.problem, solve, quick_seconds=1.0)
    prices = price_file(model, allocation)
    assert prices.objective.value == objective and (prices.ratio > 0) == (objective == "roi")
    assert sum(row.price > 0 for row in prices.constraints) >= 1
    frame = decide_users(model, prices)
    assert frame.height == model.problem.users
    plan_actions = np.asarray([*model.problem.action_names, "none"])[allocation.action]
    same = (frame["action"].cast(pl.String).to_numpy() == plan_actions).mean()
    assert same >= 0.97, same
    # Written and read back, the prices decide the same.
    path = tmp_path / "prices.json"
    path.write_text(prices.model_dump_json(indent=2), encoding="utf-8")
    assert read_prices(path) == prices
    assert decide_users(model, read_prices(path)).equals(frame)


def test_prices_of_another_plan_are_refused(cohort: Path, tmp_path: Path) -> None:
    model = plan_model(write_plan(tmp_path), cohort)
    prices = price_file(model, solve_lagrangian(model.problem))
    shifts = plan_model(write_plan(tmp_path, source=SHIFTS, name="shifts.yaml"), cohort)
    with pytest.raises(RuleFileError) as err:
        check_prices(shifts, prices, "prices.json")
    text = err.value.diagnostics[0].headline()
    assert text.startswith("prices.json: these prices are not for plan 'spring_campaign_shifts'")
    assert "agent_minutes@morning ≤" in text
    roi = plan_model(write_plan(tmp_path, ("objective: profit", "objective: roi"), name="roi.yaml"), cohort)
    with pytest.raises(RuleFileError, match="they are for the objective 'profit', the plan's is 'roi'"):
        check_prices(roi, prices, "prices.json")


def test_a_solve_without_prices_writes_none(cohort: Path, tmp_path: Path) -> None:
    model = plan_model(write_plan(tmp_path), cohort)
    solved = solve_lagrangian(model.problem)
    unpriced = dataclasses.replace(solved, status=SolveStatus.FEASIBLE, prices_note="prices not computed: time limit")
    with pytest.raises(PricesUnavailable, match="time limit"):
        price_file(model, unpriced)


def test_a_bad_price_file_is_placed(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{\n  "plan": "p",\n  "version": "1",\n  "objective": "profit",\n  "constraints": [\n'
                    '    {"name": "budget", "sense": "≤", "price": -1}\n  ]\n}\n', encoding="utf-8")
    with pytest.raises(RuleFileError) as err:
        read_prices(path)
    assert err.value.diagnostics[0].line == 6
    assert "greater than or equal to 0" in err.value.diagnostics[0].message
