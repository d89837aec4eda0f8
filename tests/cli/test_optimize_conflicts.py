"""Constraints that conflict only together, as decide optimize says them: each minimal set (no constraint named
that the conflict does not need), every such set, each with the amounts even a fractional plan misses, at the
lines of the plan file.

The trial's g02: the spring plan sized for 3,000 users, watch loans at most 2 % of loans, and at least 700
contacts of tier watch. Spend and loss each cap the prime loans that would dilute the watch loans; the bot
lines and the prime telesales minimum have nothing to do with it, and were named all the same."""

from __future__ import annotations

import re
from pathlib import Path

import highspy
import numpy as np
import pytest
from typer.testing import CliRunner

from decide.cli import app
from optimizer.highs_instance import new_highs
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import build_highs_model
from tests.plans import plan_model, write_plan

SIZED_FOR_3000 = (("max: 150000", "max: 2250"), ("max: 90000", "max: 1350"), ("max: 63000", "max: 945"),
                  ("max: 48000", "max: 720"), ("max: 80000", "max: 1200"), ("max: 600000", "max: 9000"),
                  ("    min: 40", "    min: 45"))
WATCH_REACH = "  - {name: watch_reach, measure: contacts, where: \"tier == 'watch'\", min: %s}\n"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "160")
    return CliRunner()


def _plan(folder: Path, share: str, reach: int, name: str = "plan.yaml") -> Path:
    plan = write_plan(folder, *SIZED_FOR_3000, ("max_share: 0.15", f"max_share: {share}"), name=name)
    with plan.open("a", encoding="utf-8") as text:
        text.write(WATCH_REACH % reach)
    return plan


def _explained(runner: CliRunner, plan: Path, cohort: Path) -> list[str]:
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out",
                                 str(plan.with_suffix(".parquet"))])
    assert result.exit_code == 2, result.output
    assert not plan.with_suffix(".parquet").exists()
    return [line.replace(f"{plan.parent}/", "") for line in result.stderr.splitlines() if "infeasible" in line]


def _named(line: str) -> list[str]:
    """The constraints a line names, in its order: `name (…, plan.yaml:L:C)`."""
    return re.findall(r"(\w+) \([^()]*, plan\.yaml:\d+:\d+\)", line)


def _rows(problem: AllocationProblem, rows: list[int]) -> AllocationProblem:
    return AllocationProblem(problem.value, problem.eligible, problem.weight[rows], problem.rhs[rows],
                             problem.sense[rows])


def _elastic(problem: AllocationProblem) -> tuple[float, np.ndarray]:
    """HiGHS's LP: the least Σ e_k / max(1, |b_k|) that lets a fractional plan meet every row, and that e."""
    model = build_highs_model(problem, integer=False).lp
    model.col_cost_ = np.zeros(model.num_col_)
    model.sense_ = highspy.ObjSense.kMinimize
    solver = new_highs()
    solver.passModel(model)
    k = problem.constraints
    solver.addCols(k, 1.0 / np.maximum(1.0, np.abs(problem.rhs)), np.zeros(k), np.full(k, highspy.kHighsInf), k,
                   np.arange(k, dtype=np.int32), (problem.users + np.arange(k)).astype(np.int32),
                   problem.sense.astype(float))
    solver.run()
    return float(solver.getInfo().objective_function_value), np.asarray(solver.getSolution().col_value)[-k:]


def test_g02_names_each_minimal_set_and_nothing_else(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = _plan(tmp_path, "0.02", 700)
    lines = _explained(runner, plan, cohort)
    assert len(lines) == 2, lines
    assert lines[0].startswith("plan.yaml:62:5: infeasible: these 3 constraints cannot hold together, though no one "
                               "alone and no pair conflicts: total_budget (at most 2,250 spend, plan.yaml:62:5), "
                               "watch_share (loans where tier == 'watch' at most 2.00% of all loans, "
                               "plan.yaml:86:5), watch_reach (at least 700 contacts where tier == 'watch', "
                               "plan.yaml:97:5): even a plan with fractional contacts misses watch_reach by "), lines
    assert lines[1].startswith("plan.yaml:82:5: infeasible: also these 3 constraints cannot hold together, though "
                               "no one alone and no pair conflicts: expected_loss (at most 9,000 loss, "
                               "plan.yaml:82:5), watch_share"), lines
    assert all(line.endswith("[constraints-conflict]") for line in lines)
    # Checked against HiGHS's LP relaxation, not the code that wrote the lines: each set cannot hold, any two
    # of it can, and the amount is the least even a fractional plan misses by.
    problem = plan_model(plan, cohort).problem
    names = list(problem.constraint_names)
    for line in lines:
        rows = [names.index(name) for name in _named(line)]
        least, excess = _elastic(_rows(problem, rows))
        assert least > 1e-6
        for k in rows:
            assert _elastic(_rows(problem, [j for j in rows if j != k]))[0] <= 1e-9
        missed = re.search(r"misses watch_reach by ([\d.,]+) contacts where tier == 'watch' \[", line)
        assert missed, line
        assert float(missed[1].replace(",", "")) == pytest.approx(excess[rows.index(names.index("watch_reach"))],
                                                                  abs=0.006)


def test_a_set_of_four_says_any_three_can_hold(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    """With watch loans at most 0.5 % and 100 watch contacts, spend and loss are both needed for the conflict."""
    lines = _explained(runner, _plan(tmp_path, "0.005", 100), cohort)
    assert len(lines) == 1, lines
    assert lines[0].startswith("plan.yaml:62:5: infeasible: these 4 constraints cannot hold together, though any 3 "
                               "of them can: total_budget"), lines
    assert _named(lines[0]) == ["total_budget", "expected_loss", "watch_share", "watch_reach"]


def test_a_share_is_missed_by_a_share(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    """The closest fractional plan breaks the share: say by how many percentage points, and check (by HiGHS's LP)
    that the share it names lets the rest of its set hold, and a little less does not. Other sets may conflict
    then (the bot lines, once the share is looser): relaxing a set's constraint answers for that set only."""
    lines = _explained(runner, _plan(tmp_path, "0.002", 60), cohort)
    assert len(lines) == 2, lines
    for number, line in enumerate(lines):
        match = re.search(r"misses watch_share by ([\d.]+) percentage points \(a share of ([\d.]+)%\) "
                          r"\[constraints-conflict\]$", line)
        assert match, line
        assert float(match[2]) == pytest.approx(0.2 + float(match[1]), abs=0.011)
        share = float(match[2]) / 100
        for changed, holds in ((share + 0.0001, True), (share - 0.0001, False)):
            plan = _plan(tmp_path, f"{changed:.4f}", 60, name=f"share{number}_{holds}.yaml")
            problem = plan_model(plan, cohort).problem
            rows = [list(problem.constraint_names).index(name) for name in _named(line)]
            assert (_elastic(_rows(problem, rows))[0] <= 1e-9) == holds, (line, changed)


def test_limits_that_only_whole_contacts_break_are_said_as_such(runner: CliRunner, cohort: Path,
                                                               tmp_path: Path) -> None:
    """At least 40.5 and at most 40.7 prime telesales contacts: 40.6 would do, no whole number does."""
    plan = write_plan(tmp_path, ("    min: 40", "    min: 40.5"))
    with plan.open("a", encoding="utf-8") as text:
        text.write("  - {name: prime_cap, measure: contacts, channels: [telesales], where: \"tier == 'prime'\", "
                   "max: 40.7}\n")
    assert _explained(runner, plan, cohort) == [
        "plan.yaml: infeasible: a plan with fractional contacts would meet every limit, but no plan of whole contacts "
        "does: the limits leave no room for rounding; relax the tightest a little [constraints-conflict]"]
