"""decide optimize as a planner meets it: the shipped plan on a small synthetic cohort, and plan mistakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from decide.cli import app
from engine import Cohort
from optimizer.build_problem import build_problem, load_plan
from optimizer.feasibility import check_feasible
from optimizer.solve_exact_highs import HighsExactSolver
from optimizer.solve_lagrangian import solve_lagrangian
from tests.cli.test_commands import plain
from tests.plans import write_plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_plan(tmp_path_factory.mktemp("plan"))


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
    plan = write_plan(tmp_path, (old, new))
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "plan.yaml:" in result.output
    assert not out.exists()


def test_infeasible_plan_exits_2_and_writes_nothing(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, ("    min: 40", "    min: 3000000"))
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert ("plan.yaml:91:5: infeasible: prime_telesales (at least 3,000,000 contacts of telesales where tier == "
            "'prime') cannot be reached: every eligible user together gives at most 248 contacts") in result.stderr
    assert "[constraints-conflict]" in result.stderr and "no plan was written" in result.stderr
    assert result.stdout == ""
    assert not out.exists()


def test_conflicting_pair_names_both_constraints_and_amounts(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, ("    max: 63000", "    max: 100"))
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
    assert result.exit_code == 2 and "Invalid value for '--method': unknown method 'simplex'" in plain(result.stderr)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param("    max: 150000", "    max: .nan",
                     "plan.yaml:65:10: constraints.0.max: expected a finite number, got nan [invalid-value]",
                     id="nan-budget"),
        pytest.param("    max: 150000", "    max: .inf",
                     "plan.yaml:65:10: constraints.0.max: expected a finite number, got inf [invalid-value]",
                     id="inf-budget"),
        pytest.param("    cost: 0.6", "    cost: true", "plan.yaml:42:11: actions.voicebot.cost: expected an amount",
                     id="boolean-cost"),
        pytest.param("    response: 0.025", "    response: \"0.025 / 0\"",
                     "plan.yaml:41:15: actions.voicebot.response is undefined for", id="division-by-zero"),
    ],
)
def test_plan_numbers_exit_2_on_stderr_without_a_traceback(runner: CliRunner, cohort: Path, tmp_path: Path, old: str,
                                                          new: str, message: str) -> None:
    plan = write_plan(tmp_path, (old, new))
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not a ProblemShapeError
    assert message in result.stderr
    assert result.stdout == ""
    assert not out.exists()


def test_optimize_rejects_repeated_user_ids(runner: CliRunner, cohort: Path, plan: Path, tmp_path: Path) -> None:
    repeated = tmp_path / "repeated.parquet"
    frame = pl.read_parquet(cohort)
    pl.concat([frame, frame.slice(10, 2)]).write_parquet(repeated)
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(repeated), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "column 'user_id': user ids must be unique, but 2 id(s) appear more than once — 4 row(s)" in result.stderr
    assert result.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        pytest.param(["--time-limit", "0"], "--time-limit", "expected a number of seconds above 0, got 0",
                     id="no-time"),
        pytest.param(["--time-limit", "-5"], "--time-limit", "above 0, got -5", id="negative-time"),
        pytest.param(["--time-limit", "nan"], "--time-limit", "above 0, got nan", id="nan-time"),
        pytest.param(["--gap", "0"], "--gap", "expected a fraction strictly between 0 and 1", id="zero-gap"),
        pytest.param(["--gap", "1"], "--gap", "strictly between 0 and 1 (1e-4 is 0.01 %), got 1", id="gap-of-1"),
        pytest.param(["--gap", "-0.1"], "--gap", "got -0.1", id="negative-gap"),
        pytest.param(["--gap", "nan"], "--gap", "got nan", id="nan-gap"),
        pytest.param(["--out", "allocation.txt"], "--out", "allocation.txt must end in .parquet or .csv",
                     id="out-suffix"),
        pytest.param(["--out", "a.parquet", "--export", "model.txt"], "--export", "model.txt must end in .lp or .mps",
                     id="export-suffix"),
        pytest.param([], "--out' / '--export", "give --out (the allocation), --export (the integer program) or both",
                     id="no-output"),
        pytest.param(["--out", "cohort.parquet"], "--out", "cohort.parquet is also the cohort (--cohort): writing it "
                     "would overwrite the input", id="out-is-the-cohort"),
    ],
)
def test_optimize_option_errors_name_the_option(runner: CliRunner, cohort: Path, plan: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, args: list[str], option: str,
                                                message: str) -> None:
    (tmp_path / "cohort.parquet").write_bytes(cohort.read_bytes())
    monkeypatch.chdir(tmp_path)
    given = ["--out", "allocation.parquet"] if args[:1] == ["--gap"] or args[:1] == ["--time-limit"] else []
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", "cohort.parquet", *given, *args])
    assert result.exit_code == 2, result.output
    said = plain(result.stderr)
    assert f"Invalid value for '{option}': " in said and message in said
    assert "column" not in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.parquet"]  # nothing written, the input intact
    assert (tmp_path / "cohort.parquet").read_bytes() == cohort.read_bytes()


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        pytest.param(["--steps", "1"], "--steps", "Input should be greater than or equal to 2", id="one-step"),
        pytest.param(["--from", "inf"], "--from", "expected a finite number, got inf", id="inf-from"),
        pytest.param(["--to", "nan"], "--to", "expected a finite number, got nan", id="nan-to"),
        pytest.param(["--gap", "1.5"], "--gap", "strictly between 0 and 1", id="gap"),
        pytest.param(["--constraint", "total_budgt"], "--constraint", "no constraint 'total_budgt' in", id="unknown"),
        pytest.param(["--constraint", "watch_share", "--from", "5", "--to", "15"], "--from'/'--to",
                     "'watch_share' is a share: give --from and --to between 0 and 1", id="share-as-percent"),
    ],
)
def test_frontier_option_errors_name_the_option(runner: CliRunner, cohort: Path, plan: Path, args: list[str],
                                                option: str, message: str) -> None:
    given = {"--constraint": "total_budget", "--from": "50000", "--to": "150000", "--steps": "3"}
    given.update(zip(args[::2], args[1::2], strict=True))
    result = runner.invoke(app, ["frontier", "--plan", str(plan), "--cohort", str(cohort),
                                 *(a for pair in given.items() for a in pair)])
    assert result.exit_code == 2, result.output
    said = plain(result.stderr)
    assert f"Invalid value for '{option}': " in said and message in said
    assert result.stdout == "" and "Traceback" not in result.output
