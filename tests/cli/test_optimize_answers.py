"""What decide optimize and decide frontier say about an answer: the objective's own value and certificate (ROI
as a ratio), unknown bounds and missing prices said as such, frontiers over every kind of limit and for every
objective, and infeasible plans explained at the place of each constraint involved."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from decide.cli import app
from decide.example_data import write_cohort
from decide.optimize_commands import answer_notes, headline_text, print_headline, print_summary
from optimizer.allocation import Allocation, SolveStatus
from optimizer.plan_summary import Headline, allocation_frame, summarize_plan
from optimizer.solvers import solve
from tests.plans import plan_model, write_plan


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "160")
    return CliRunner()





def _rows(output: str) -> list[list[str]]:
    """The data rows of a frontier table: lines that start with a limit."""
    return [line.split() for line in output.splitlines() if re.match(r"^ *[\d,.]+%? ", line)]


# --- the headline -----------------------------------------------------------------------------------------


def test_roi_headline_is_the_ratio_with_its_certificate(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, ("objective: profit", "objective: roi"))
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pl.read_parquet(out)
    profit, spend = written["expected_profit"].sum(), written["spend"].sum()
    match = re.search(r"→ optimal; ROI ([\d.,]+) \(bound ([\d.,]+), gap ([\d.]+)%\); profit ([\d,]+), spend ([\d,]+), "
                      r"loans [\d.]+; ", result.output)
    assert match, result.output
    assert float(match[1]) == pytest.approx(profit / spend, rel=1e-5)
    assert float(match[2]) >= float(match[1]) and float(match[3]) < 1e-3
    assert match[4] == f"{profit:,.0f}" and match[5] == f"{spend:,.0f}"
    assert "marginal ROI of one more unit" in result.output
    assert "sets no minimum" not in result.output  # the prime telesales minimum gives the ROI its scale


def test_roi_without_a_minimum_says_why_the_plan_is_tiny(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    """Right but rarely meant: with no minimum, the best ratio is a couple of users' alone."""
    plan = write_plan(tmp_path, ("objective: profit", "objective: roi"), ("    min: 40", "    max: 1000000"))
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 0, result.output
    contacts = int((pl.read_parquet(out)["action"] != "none").sum())
    assert contacts < 10
    assert f"note: the plan sets no minimum, so the best ROI is that of the few best users ({contacts:,} contacts)" \
        in " ".join(result.output.split()), result.output


def test_loans_headline_names_loans(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, ("objective: profit", "objective: loans"))
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 0, result.output
    loans = pl.read_parquet(out)["expected_loans"].sum()
    assert re.search(rf"; expected loans {loans:,.1f} \(bound [\d.,]+, gap [\d.]+%\); profit [\d,]+, spend [\d,]+; ",
                     result.output), result.output


def test_an_unknown_bound_and_missing_prices_are_said_not_shown_as_inf_or_zeros(cohort: Path, tmp_path: Path) -> None:
    model = plan_model(write_plan(tmp_path, ("max: 150000", "max: 2000")), cohort)  # a budget that binds
    exact = solve(model.problem, "exact-highs", time_limit=60, watchdog=False)
    assert exact.has_prices and exact.prices.any()
    # What exact-pulp reported after a CBC time-out, and an exact run whose MIP used up the time limit.
    timed_out = dataclasses.replace(exact, bound=float("inf"), prices=np.zeros(model.problem.constraints),
                                    prices_note="prices not computed: time limit")
    summary = summarize_plan(model, timed_out, allocation_frame(model, timed_out.action))
    assert summary.headline.bound is None and summary.headline.gap is None
    assert all(line.price is None for line in summary.constraints)
    console = Console(record=True, width=140)
    print_summary(console, summary)
    text = console.export_text()
    assert "(bound unknown, gap unknown)" in text and "inf" not in text
    assert "constraints: use (prices not computed: time limit)" in text
    assert re.search(r"│ total_budget +│ +[\d,.]+ │ +≤ 2,000\.0 │ +[\d.]+% │ +- │", text), text


def test_the_headline_says_when_lumpy_users_were_decided_apart(cohort: Path, tmp_path: Path) -> None:
    model = plan_model(write_plan(tmp_path), cohort)
    answer = solve(model.problem, "exact-highs", time_limit=60, watchdog=False)
    for apart, said in ((0, None), (1, "; 1 lumpy user decided apart; "), (3, "; 3 lumpy users decided apart; ")):
        summary = summarize_plan(model, dataclasses.replace(answer, apart=apart),
                                 allocation_frame(model, answer.action))
        assert summary.apart == apart
        console = Console(record=True, width=200)
        print_headline(console, summary)
        text = console.export_text()
        assert ("decided apart" in text) is (said is not None) and (said is None or said in text), text


def test_headline_text() -> None:
    head = Headline(objective="profit", value=26_065.4, bound=26_070.0, gap=1.8e-4, profit=26_065.4, spend=558.3,
                    loans=12.54, loss=7_922.0)
    assert headline_text(head) == "profit 26,065 (bound 26,070, gap 0.0180%); spend 558, loans 12.5"
    unknown = head.model_copy(update={"bound": None, "gap": None})
    assert headline_text(unknown) == "profit 26,065 (bound unknown, gap unknown); spend 558, loans 12.5"


# --- the frontier -----------------------------------------------------------------------------------------


def test_frontier_over_a_share_varies_the_share(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    """The trial's case: `max_share` of tier watch among loans, varied; each point equals optimize at that share."""
    plan = write_plan(tmp_path)
    result = runner.invoke(app, ["frontier", "--plan", str(plan), "--cohort", str(cohort), "--constraint",
                                 "watch_share", "--from", "0", "--to", "0.001", "--steps", "3", "--method",
                                 "exact-highs"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert [row[0] for row in rows] == ["0.00%", "0.05%", "0.10%"]
    profits = [float(row[1].replace(",", "")) for row in rows]
    assert profits[0] < profits[1] <= profits[2], result.output  # a tighter share costs profit: not flat
    assert "price/pp" in result.output
    at = write_plan(tmp_path, ("max_share: 0.15", "max_share: 0.0005"), name="at.yaml")
    optimized = runner.invoke(app, ["optimize", "--plan", str(at), "--cohort", str(cohort), "--out",
                                    str(tmp_path / "a.parquet"), "--method", "exact-highs"])
    assert f"profit {rows[1][1]} (" in optimized.output, optimized.output
    assert re.search(r"watch_share +│ +0\.0% share │ +≤ 0\.1% │", optimized.output)


def test_frontier_refuses_a_share_outside_0_to_1(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = runner.invoke(app, ["frontier", "--plan", str(plan), "--cohort", str(cohort), "--constraint",
                                 "watch_share", "--from", "5", "--to", "15"])
    assert result.exit_code == 2
    assert "'watch_share' is a share: give --from and --to between 0 and 1" in result.output


def test_frontier_over_a_minimum(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = runner.invoke(app, ["frontier", "--plan", str(plan), "--cohort", str(cohort), "--constraint",
                                 "prime_telesales", "--from", "0", "--to", "300", "--steps", "3", "--method",
                                 "exact-highs"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert [row[0] for row in rows] == ["0", "150", "300"]
    assert rows[-1][1] == "infeasible"  # 248 prime users can be called in this cohort
    assert float(rows[0][1].replace(",", "")) >= float(rows[1][1].replace(",", ""))  # a minimum costs profit


@pytest.fixture(scope="module")
def small_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,000 users: HiGHS needs 85 s for two loans points at 3,000 users, 10 s here."""
    path = tmp_path_factory.mktemp("cohort") / "cohort.parquet"
    write_cohort(path, 1_000, seed=5)
    return path


@pytest.mark.parametrize(("objective", "column"), [("loans", "loans"), ("roi", "ROI")])
def test_frontier_solves_for_the_plans_objective(runner: CliRunner, small_cohort: Path, tmp_path: Path,
                                                 objective: str, column: str) -> None:
    """`objective: loans` and `objective: roi` were ignored (a loans point said "no solution")."""
    plan = write_plan(tmp_path, ("objective: profit", f"objective: {objective}"), ("max: 150000", "max: 700"),
                       ("    min: 40", "    min: 15"))
    result = runner.invoke(app, ["frontier", "--plan", str(plan), "--cohort", str(small_cohort), "--constraint",
                                 "total_budget", "--from", "350", "--to", "700", "--steps", "2"])
    assert result.exit_code == 0, result.output
    assert re.search(rf" limit +{column} +gap +profit ", result.output), result.output
    rows = _rows(result.output)
    assert len(rows) == 2 and "solution" not in result.output and "infeasible" not in result.output
    optimized = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(small_cohort), "--out",
                                    str(tmp_path / "a.parquet")])
    label = {"loans": "expected loans", "roi": "ROI"}[objective]
    shown = re.search(rf"; {label} ([\d.,]+) \(", optimized.output)
    assert shown, optimized.output
    assert float(rows[1][1].replace(",", "")) == pytest.approx(float(shown[1].replace(",", "")), rel=1e-3)


# --- infeasible plans -------------------------------------------------------------------------------------


def test_a_minimum_against_a_minimum_share_is_explained_at_both_places(runner: CliRunner, cohort: Path,
                                                                        tmp_path: Path) -> None:
    """The trial's inf_share_min: two ≥ constraints that conflict used to be "jointly, no pair explains it"."""
    plan = write_plan(tmp_path, ("max_share: 0.15", "min_share: 0.99"))
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out",
                                 str(tmp_path / "a.parquet")])
    assert result.exit_code == 2, result.output
    text = result.output.replace(f"{tmp_path}/", "")
    match = re.search(r"plan\.yaml:91:5: infeasible: prime_telesales \(at least 40 contacts of telesales where tier "
                      r"== 'prime'\) keeps the share of loans where tier == 'watch' at or below ([\d.]+)%, but "
                      r"watch_share \(plan\.yaml:86:5\) needs at least 99\.00% \[constraints-conflict\]", text)
    assert match, text
    # Sound: with the share set just above what the message allows, the plan is still infeasible; well below, not.
    most = float(match[1]) / 100
    above = write_plan(tmp_path, ("max_share: 0.15", f"min_share: {most + 0.002:.4f}"), name="above.yaml")
    below = write_plan(tmp_path, ("max_share: 0.15", f"min_share: {most * 0.5:.4f}"), name="below.yaml")
    for path, code in ((above, 2), (below, 0)):
        run = runner.invoke(app, ["optimize", "--plan", str(path), "--cohort", str(cohort), "--out",
                                  str(tmp_path / "b.parquet")])
        assert run.exit_code == code, run.output


def test_a_negative_limit_alone_is_one_clear_line(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, ("max: 150000", "max: -5"))
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out",
                                 str(tmp_path / "a.parquet")])
    assert result.exit_code == 2
    # Refused at load, at its place in the file, before anything is solved.
    lines = [line for line in result.stderr.replace(f"{tmp_path}/", "").splitlines() if "negative-limit" in line]
    assert len(lines) == 1 and lines[0].startswith("plan.yaml:65:10:"), result.stderr
    assert "spend is never negative, so max: -5 can never be met" in lines[0]
    assert not (tmp_path / "a.parquet").exists()


def test_three_constraints_that_conflict_only_together_are_named(runner: CliRunner, cohort: Path,
                                                                 tmp_path: Path) -> None:
    """40 prime telesales calls (360 yuan) and 300 voice-bot calls (180 yuan) within 500 yuan: each pair fits."""
    plan = write_plan(tmp_path, ("max: 150000", "max: 500"))
    with plan.open("a", encoding="utf-8") as text:
        text.write("  - name: voicebot_minimum\n    measure: contacts\n    channels: [voicebot]\n    min: 300\n")
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out",
                                 str(tmp_path / "a.parquet")])
    assert result.exit_code == 2, result.output
    text = result.output.replace(f"{tmp_path}/", "")
    assert "plan.yaml:62:5: infeasible: these 3 constraints cannot hold together, though no one alone and no pair " \
           "conflicts: total_budget (at most 500 spend, plan.yaml:62:5), prime_telesales (at least 40 contacts of " \
           "telesales where tier == 'prime', plan.yaml:91:5), voicebot_minimum (at least 300 contacts of voicebot, " \
           "plan.yaml:97:5): even a plan with fractional contacts misses total_budget by 40 spend" in text, text


def test_notes_say_what_the_headline_would_hide() -> None:
    """A trial: auto spent 225 s in exact-highs before the Lagrangian answered, and the headline said 75 s and
    "lagrangian"; a 30,000-user plan stopped at its time limit short of the gap asked for, and said "feasible"."""
    base = Allocation(np.zeros(3, dtype=np.int64), 100.0, 100.02, SolveStatus.FEASIBLE, "lagrangian", 120.0)
    assert answer_notes(base, 1e-4, 120.0) == [
        "the gap asked for (0.0100%) was not reached in the time limit (120 s): the plan is certified to 0.0200%; "
        "more time (--time-limit) may close it"]
    assert answer_notes(dataclasses.replace(base, bound=100.005), 1e-4, 120.0) == []
    fallback = dataclasses.replace(base, bound=100.005, message="auto: exact-highs gave no plan in 225 s (stopped "
                                   "by the watchdog); answered by lagrangian. ")
    assert answer_notes(fallback, 1e-4, 300.0) == [
        "auto: exact-highs gave no plan in 225 s (stopped by the watchdog); answered by lagrangian"]
    behind = dataclasses.replace(base, method="exact-highs", message="HiGHS ran past its time limit and was left "
                                 "behind; its best plan")
    assert answer_notes(behind, 1e-4, 60.0) == ["HiGHS ran past its time limit and was left behind; its best plan"]
