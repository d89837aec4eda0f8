"""Outputs that cannot be written are refused before any work; exit codes tell a time-out from an infeasible plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from decide.cli import app
from optimizer import solvers
from tests.cli.test_commands import plain
from tests.optimizer.test_watchdog import SleepingSolver
from tests.plans import RULES, write_plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_plan(tmp_path_factory.mktemp("plan"))


@pytest.mark.parametrize("command", ["optimize", "optimize-prices", "optimize-export", "apply", "generate"])
def test_an_output_inside_a_file_is_refused_first(command: str, plan: Path, cohort: Path, tmp_path: Path) -> None:
    bad = str(cohort / "x")  # the cohort is a file: nothing can be written inside it
    args = {
        "optimize": ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", bad + ".parquet"],
        "optimize-prices": ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out",
                            str(tmp_path / "a.parquet"), "--prices", bad + ".json"],
        "optimize-export": ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--export", bad + ".mps"],
        "apply": ["rules", "apply", str(RULES), "--cohort", str(cohort), "--out", bad + ".parquet"],
        "generate": ["cohort", "generate", "--rows", "10", "--out", bad + ".csv"],
    }[command]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"{cohort} is a file, not a folder" in plain(result.stderr)
    assert not (tmp_path / "a.parquet").exists()  # nothing is written when one of the outputs cannot be


def test_an_output_that_is_a_folder_is_refused(plan: Path, cohort: Path, tmp_path: Path) -> None:
    (tmp_path / "out.parquet").mkdir()
    result = CliRunner().invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out",
                                      str(tmp_path / "out.parquet")])
    assert result.exit_code == 2 and "is a folder: give a file name inside it" in plain(result.stderr)


def test_missing_folders_are_made(plan: Path, cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "spring" / "allocation.parquet"
    result = CliRunner().invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.exists()


def test_no_plan_in_time_is_not_called_infeasible(plan: Path, cohort: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An exact solver the watchdog stops before it has any plan: exit 3, and no word of infeasibility (the
    plan is feasible: the Lagrangian solves it)."""
    sleeper = SleepingSolver(str(tmp_path / "helper.pid"), name="exact-highs")
    stuck = solvers.SolverInfo("exact-highs", True, "never returns", lambda _limit: sleeper)
    monkeypatch.setattr(solvers, "REGISTRY", (stuck, *solvers.REGISTRY[1:]))
    out = tmp_path / "allocation.parquet"
    result = CliRunner().invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out),
                                      "--method", "exact-highs", "--time-limit", "2"])
    assert result.exit_code == 3
    text = plain(result.stderr)
    assert "no plan found: exact-highs stopped at the time limit of 2 s before it found any plan" in text
    assert "infeasib" not in text.replace("does not prove the plan infeasible", "")
    assert "--method lagrangian" in text and not out.exists()
    result = CliRunner().invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out),
                                      "--method", "lagrangian", "--time-limit", "30"])
    assert result.exit_code == 0 and out.exists()
