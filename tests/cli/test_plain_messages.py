"""Small things a planner reads: a frontier below 0, one user, an empty cohort, YAML's yes/no in category values,
a missing decisions file, and dual prices that are rounding rather than value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from decide.cli import app
from optimizer.plan_summary import limit_prices
from optimizer.solve_lagrangian import solve_lagrangian
from tests.cli.test_commands import plain
from tests.plans import plan_model, write_plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_plan(tmp_path_factory.mktemp("plan"))


def test_a_frontier_below_zero_is_refused_like_a_negative_limit(plan: Path, cohort: Path) -> None:
    result = CliRunner().invoke(app, ["frontier", "--plan", str(plan), "--cohort", str(cohort), "--constraint",
                                      "total_budget", "--from", "-100", "--to", "1000"])
    assert result.exit_code == 2
    assert "'total_budget' counts spend, which is never negative" in plain(result.stderr)


def test_one_user_and_no_user(plan: Path, cohort: Path, tmp_path: Path) -> None:
    one = tmp_path / "one.parquet"
    pl.read_parquet(cohort).head(1).write_parquet(one)
    no_minimum = write_plan(tmp_path, ("    min: 3000", "    min: 0"), small=False)
    result = CliRunner().invoke(app, ["optimize", "--plan", str(no_minimum), "--cohort", str(one), "--out",
                                      str(tmp_path / "a.parquet")])
    assert result.exit_code == 0, result.stderr
    assert ": 1 user, " in result.stdout
    empty = tmp_path / "empty.parquet"
    pl.read_parquet(cohort).head(0).write_parquet(empty)
    result = CliRunner().invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(empty), "--out",
                                      str(tmp_path / "b.parquet")])
    assert result.exit_code == 2
    assert "the cohort has no users: there is nothing to plan" in result.stderr
    assert not (tmp_path / "b.parquet").exists()


def test_a_missing_decisions_file_is_a_file_problem(plan: Path, cohort: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--decisions",
                                      str(tmp_path / "nowhere.parquet"), "--out", str(tmp_path / "a.parquet")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr and "1 file problem(s)" in result.stderr
    assert "column problem" not in result.stderr


def test_yes_and_no_among_category_values_are_explained(tmp_path: Path) -> None:
    rules = tmp_path / "yn.yaml"
    rules.write_text("ruleset: yn\nhit_policy: first\nfields:\n  risk: {type: category, values: [no, low, high]}\n"
                     "outputs:\n  tier: {type: category, values: [reject, ok]}\nrules:\n  - id: r\n"
                     "    when: risk == 'low'\n    then: {tier: reject}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 2
    assert "yn.yaml:4:34: fields.risk.values: a value read as false: YAML reads yes, no" in result.stderr
    assert "quote it ('no')" in result.stderr


def test_prices_that_are_rounding_show_as_zero(cohort: Path, tmp_path: Path) -> None:
    model = plan_model(write_plan(tmp_path, ("    max: 150000", "    max: 2500")), cohort)  # the budget binds
    solved = solve_lagrangian(model.problem)
    assert (solved.prices > 0).sum() >= 1
    noisy = solved.prices.astype(np.float64) + 2e-13  # what the dual's LP leaves on a limit with slack
    prices = limit_prices(model, dataclasses.replace(solved, prices=noisy))
    assert prices is not None
    np.testing.assert_array_equal(prices == 0, solved.prices == 0)
    assert (prices > 0).sum() == (solved.prices > 0).sum()
