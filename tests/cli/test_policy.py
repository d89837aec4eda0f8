"""decide optimize --prices, then decide policy: later arrivals decided at the plan's prices."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from decide.cli import app
from decide.example_data import write_cohort
from tests.cli.test_commands import plain
from tests.plans import SHIFTS, write_plan


@pytest.fixture(scope="module")
def solved(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("solved")
    plan = write_plan(folder, ("    max: 150000", "    max: 2500"))  # a budget that binds on 3,000 users
    result = CliRunner().invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out",
                                      str(folder / "allocation.parquet"), "--prices", str(folder / "prices.json")])
    assert result.exit_code == 0, result.stderr
    assert "and " + str(folder / "prices.json") in result.stdout
    return plan, folder / "prices.json"


@pytest.fixture(scope="module")
def arrivals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("arrivals") / "arrivals.csv"
    write_cohort(path, 15, seed=123)
    return path


def test_prices_file_is_the_plans(solved: tuple[Path, Path]) -> None:
    prices = json.loads(solved[1].read_text(encoding="utf-8"))
    assert prices["plan"] == "spring_campaign" and prices["objective"] == "profit"
    assert [row["name"] for row in prices["constraints"]][:3] == ["total_budget", "telesales_budget", "agent_minutes"]
    assert prices["constraints"][0]["price"] > 0  # the budget binds


def test_policy_decides_each_arrival(solved: tuple[Path, Path], arrivals: Path, tmp_path: Path) -> None:
    plan, prices = solved
    out = tmp_path / "actions.parquet"
    result = CliRunner().invoke(app, ["policy", "--plan", str(plan), "--prices", str(prices), "--cohort",
                                      str(arrivals), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "15 user(s) decided at the prices of spring_campaign" in result.stdout
    assert "per action" in result.stdout and "per user" in result.stdout
    frame = pl.read_parquet(out)
    assert frame.height == 15 and {"action", "channel", "expected_profit", "reduced_value"} <= set(frame.columns)
    contacted = frame.filter(pl.col("action") != "none")
    assert (contacted["reduced_value"] > 0).all()


def test_prices_of_another_plan(solved: tuple[Path, Path], arrivals: Path, tmp_path: Path) -> None:
    shifts = write_plan(tmp_path, source=SHIFTS, name="shifts.yaml")
    result = CliRunner().invoke(app, ["policy", "--plan", str(shifts), "--prices", str(solved[1]), "--cohort",
                                      str(arrivals)])
    assert result.exit_code == 2
    assert "these prices are not for plan 'spring_campaign_shifts'" in result.stderr
    assert "Traceback" not in result.output


def test_prices_need_a_solve(cohort: Path, solved: tuple[Path, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["optimize", "--plan", str(solved[0]), "--cohort", str(cohort), "--export",
                                      str(tmp_path / "m.lp"), "--prices", str(tmp_path / "p.json")])
    assert result.exit_code == 2 and "give --out too" in plain(result.stderr)
    result = CliRunner().invoke(app, ["optimize", "--plan", str(solved[0]), "--cohort", str(cohort), "--out",
                                      str(tmp_path / "a.parquet"), "--prices", str(tmp_path / "p.yaml")])
    assert result.exit_code == 2 and "must end in .json" in plain(result.stderr)


def test_policy_shows_the_limits_and_says_when_arrivals_go_over(solved: tuple[Path, Path], cohort: Path,
                                                                tmp_path: Path) -> None:
    # A trial: 30,000 arrivals took 2,233 night agent-minutes of a plan's 2,000 and nothing said so. Twice the
    # plan's own cohort at its prices goes over its budget, and the output says so.
    plan, prices = solved
    twice = tmp_path / "twice.parquet"
    once = pl.read_parquet(cohort)
    pl.concat([once, once.with_columns(pl.col("user_id") + "b")]).write_parquet(twice)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["policy", "--plan", str(plan), "--prices", str(prices),
                                                            "--cohort", str(twice)])
    assert result.exit_code == 0, result.stderr
    assert "the new users' use of the plan's limits" in result.stdout
    assert "note: the new users alone go over the plan's total_budget" in plain(result.stdout)
    small = CliRunner().invoke(app, ["policy", "--plan", str(plan), "--prices", str(prices), "--cohort", str(cohort)])
    assert "go over" not in small.stdout  # the plan's own cohort at its own prices stays within (near) the limits
