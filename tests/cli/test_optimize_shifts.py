"""decide optimize and frontier on a plan with shifts, and the shifts section of docs/plan-file.md."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from decide.cli import app
from tests.plans import ROOT, SHIFTS, write_plan

DOC = ROOT / "docs" / "plan-file.md"
MINUTES = {"telesales": ("agent_minutes", 6.0), "telesales_coupon": ("agent_minutes", 6.5),
           "voicebot": ("bot_line_minutes", 1.5)}


def _shift_plan(folder: Path, *replacements: tuple[str, str]) -> Path:
    return write_plan(folder, *replacements, source=SHIFTS)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "140")
    return CliRunner()


def test_optimize_schedules_calls_in_shifts(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    # 200 agent-minutes in the evening: the shift users answer best in is the one that runs out.
    plan = _shift_plan(tmp_path, ("capacity: {agent_minutes: 9000,", "capacity: {agent_minutes: 200,"))
    out = tmp_path / "allocation.csv"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "spring_campaign_shifts: 3,000 users, exact-highs → optimal" in result.output
    assert re.search(r"│ agent_minutes@evening +│ +19\d\.0 │ +≤ 200\.0 │", result.output), result.output
    assert "per shift: contacts, and use of each capacity" in result.output
    assert re.search(r"shift +hours +telesales +voicebot +agent_minutes +bot_line_minutes", result.output)
    assert re.search(r"evening +18:00-21:00 +\d+ +\d+ +9\d\.\d% +\d+\.\d%", result.output), result.output
    # The per channel table adds up the shifts: one telesales line, no telesales@… lines.
    assert re.search(r"│ telesales +│", result.output) and "│ telesales@" not in result.output

    allocation = pl.read_csv(out)
    assert allocation.columns[:4] == ["user_id", "action", "channel", "shift"]
    called = allocation.filter(pl.col("channel").is_in(["telesales", "voicebot"]))
    assert called.height > 0 and called["shift"].null_count() == 0
    assert called.select((pl.col("action") == pl.col("action").str.split("@").list.first() + "@" + pl.col("shift"))
                         .all()).item()  # telesales@evening is in the evening
    assert allocation.filter(~pl.col("channel").is_in(["telesales", "voicebot"]))["shift"].null_count() == (
        allocation.height - called.height)
    # The written plan keeps every shift's capacity, counted from the file alone.
    capacity = {("agent_minutes", "morning"): 18_000, ("agent_minutes", "afternoon"): 36_000,
                ("agent_minutes", "evening"): 200, ("bot_line_minutes", "morning"): 18_000,
                ("bot_line_minutes", "afternoon"): 18_000, ("bot_line_minutes", "evening"): 12_000}
    used = {key: 0.0 for key in capacity}
    for action, shift in called.select("action", "shift").iter_rows():
        resource, minutes = MINUTES[action.split("@")[0]]
        used[(resource, shift)] += minutes
    assert all(used[key] <= capacity[key] for key in capacity), used
    assert used[("agent_minutes", "evening")] > 200 - 6.5  # the evening is full
    # Coupon calls only in the shifts the plan allows them.
    coupon = allocation.filter(pl.col("action").str.starts_with("telesales_coupon"))
    assert set(coupon["shift"]) <= {"morning", "afternoon"}


def test_minimum_beyond_all_shifts_is_explained(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = _shift_plan(tmp_path, ("    min: 40", "    min: 200"),
                       ("capacity: {agent_minutes: 18000,", "capacity: {agent_minutes: 300,"),
                       ("capacity: {agent_minutes: 36000,", "capacity: {agent_minutes: 600,"),
                       ("capacity: {agent_minutes: 9000,", "capacity: {agent_minutes: 150,"))
    out = tmp_path / "allocation.parquet"
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 2, result.output
    # Both constraints at their place in the file: the minimum, and the shifts whose capacities add up to 1,050.
    message = ("plan.yaml:115:5: infeasible: prime_telesales (at least 200 contacts of telesales where tier == "
               "'prime') needs at least 1,200 agent_minutes over all shifts, but the shifts' agent_minutes capacity "
               "(plan.yaml:44:1) allows at most 1,050 [constraints-conflict]")
    assert message in result.output.replace(f"{tmp_path}/", ""), result.output
    assert message in " ".join(_doc_shifts_section().split())
    assert not out.exists()


def test_frontier_varies_one_shifts_capacity(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = _shift_plan(tmp_path)
    result = runner.invoke(app, ["frontier", "--plan", str(plan), "--cohort", str(cohort), "--constraint",
                                 "agent_minutes@evening", "--from", "0", "--to", "400", "--steps", "3"])
    assert result.exit_code == 0, result.output
    assert "against the limit of agent_minutes@evening" in result.output
    rows = [line.split() for line in result.output.splitlines() if re.match(r"^ +(0|200|400) ", line)]
    assert [row[0] for row in rows] == ["0", "200", "400"]
    profits = [float(row[1].replace(",", "")) for row in rows]
    assert profits == sorted(profits)  # more evening minutes never earn less


def _doc_shifts_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## Shifts"):text.index("## Answers")]


def test_doc_example_is_the_shipped_plan() -> None:
    example = _doc_shifts_section().split("```yaml\n")[1].split("```")[0]
    shipped = SHIFTS.read_text(encoding="utf-8").splitlines()
    for line in example.splitlines():
        code = line.split("  #")[0].rstrip()
        assert code in shipped, code


def test_doc_error_is_what_the_checker_says(runner: CliRunner, cohort: Path, tmp_path: Path) -> None:
    plan = _shift_plan(tmp_path, ("capacity: {agent_minutes: 9000, bot_line_minutes: 12000}",
                                  "capacity: {agent_minutes: 9000}"))
    result = runner.invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out",
                                 str(tmp_path / "allocation.parquet")])
    assert result.exit_code == 2, result.output
    shown = next(line for line in _doc_shifts_section().splitlines() if line.startswith("plan.yaml:"))
    assert shown.removeprefix("plan.yaml") in result.output, result.output
