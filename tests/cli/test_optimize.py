"""decide optimize as a planner meets it: the shipped plan on a small synthetic cohort, and plan mistakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from decide.cli import app
from decide.example_data import write_cohort
from engine import Cohort
from optimizer.build_problem import build_problem, load_plan
from optimizer.feasibility import check_feasible
from optimizer.solve_exact_highs import HighsExactSolver
from optimizer.solve_lagrangian import solve_lagrangian

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PLAN = ROOT / "plans" / "spring_campaign.yaml"


def _write_plan(folder: Path, old: str = "", new: str = "") -> Path:
    """The shipped plan, its limits sized for 200,000 users, with the minimum scaled to a 3,000-user cohort."""
    text = SHIPPED_PLAN.read_text(encoding="utf-8").replace(
        "rules: ../rulesets/marketing.yaml", f"rules: {ROOT / 'rulesets' / 'marketing.yaml'}").replace(
        "    min: 3000", "    min: 40")
    assert old in text
    path = folder / "plan.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_plan(tmp_path_factory.mktemp("plan"))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.parquet"
    write_cohort(path, 3_000, seed=5)
    return path


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "140")
    return CliRunner()


def test_optimize_writes_a_checked_allocation(runner: CliRunner, cohort: Path, plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "exact-highs → optimal" in result.output
    assert "total_budget" in result.output and "per channel" in result.output
    allocation = pl.read_parquet(out)
    assert allocation.height == 3_000
    assert set(allocation["action"].unique().to_list()) <= {
        "marketplace", "app_ads", "wechat", "sms", "sms_coupon", "voicebot", "telesales", "telesales_coupon", "none"}
    assert "Running HiGHS" not in result.output


def test_plan_model_exact_and_lagrangian_agree(cohort: Path, plan: Path) -> None:
    loaded = load_plan(plan)
    users = Cohort.load(cohort, loaded.schema, loaded.rules.id_field)
    model = build_problem(loaded, users, loaded.rules.apply(users))
    exact = HighsExactSolver(time_limit=60).solve(model.problem)
    dual = solve_lagrangian(model.problem)
    assert check_feasible(model.problem, exact.action) == []
    assert check_feasible(model.problem, dual.action) == []
    assert dual.bound >= exact.objective - 1e-6 * abs(exact.objective)
    assert exact.objective >= dual.objective - 1e-6
    # Rejected users are never contacted: the rules block every channel for them.
    tiers = loaded.rules.apply(users).frame["tier"].to_numpy()
    assert (exact.action[tiers == "reject"] == -1).all()
    assert np.isfinite(model.problem.value).all()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param("measure: agent_minutes", "measure: agent_minute", "unknown measure 'agent_minute' (did you mean "
                     "'agent_minutes'?) [unknown-measure]", id="typo-in-measure"),
        pytest.param("  telesales_coupon:\n", "  telesale_coupon:\n", "'telesale_coupon' is not an action",
                     id="action"),
        pytest.param("where: \"tier == 'watch'\"", "where: \"tier == 'wach'\"", "'wach' is not a value of 'tier'",
                     id="category"),
        pytest.param("    max: 63000", "    max: 63000\n    min: 10", "give exactly one of max, min", id="two-bounds"),
    ],
)
def test_plan_mistakes_exit_2_with_position(runner: CliRunner, cohort: Path, tmp_path: Path, old: str, new: str,
                                            message: str) -> None:
    plan = _write_plan(tmp_path, old, new)
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "plan.yaml:" in result.output
    assert not out.exists()


def test_infeasible_plan_exits_2_and_writes_nothing(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = _write_plan(tmp_path, "    min: 40", "    min: 3000000")
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert ("plan.yaml:91:5: infeasible: prime_telesales (at least 3,000,000 contacts of telesales where tier == "
            "'prime') cannot be reached: every eligible user together gives at most 248 contacts") in result.output
    assert "[constraints-conflict]" in result.output
    assert not out.exists()


def test_conflicting_pair_names_both_constraints_and_amounts(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = _write_plan(tmp_path, "    max: 63000", "    max: 100")
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert ("plan.yaml:91:5: infeasible: prime_telesales (at least 40 contacts of telesales where tier == 'prime') "
            f"needs at least 240 agent_minutes, but agent_minutes ({plan}:70:5) allows at most 100") in result.output
    assert not out.exists()


def test_export_writes_a_model_highs_can_solve(runner: CliRunner, cohort: Path, plan: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.mps"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--export", str(model)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and model.exists()
    from optimizer.highs_instance import new_highs

    highs = new_highs()
    highs.readModel(str(model))
    highs.run()
    loaded = load_plan(plan)
    users = Cohort.load(cohort, loaded.schema, loaded.rules.id_field)
    exact = HighsExactSolver(time_limit=60).solve(build_problem(loaded, users, loaded.rules.apply(users)).problem)
    assert highs.getInfo().objective_function_value == pytest.approx(exact.objective, rel=1e-6)


@pytest.mark.parametrize("method", ["lagrangian", "exact-pulp"])
def test_methods_from_the_registry(runner: CliRunner, cohort: Path, plan: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out),
                                 "--method", method])
    assert result.exit_code == 0, result.output
    assert f"{method} →" in result.output
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out),
                                 "--method", "simplex"])
    assert result.exit_code == 2 and "unknown method 'simplex'" in result.output
