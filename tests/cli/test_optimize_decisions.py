"""decide optimize / frontier --decisions: decisions made once (decide rules apply) are used as they are."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from decide.cli import app
from decide.example_data import write_cohort
from tests.cli.test_commands import plain
from tests.plans import RULES, write_plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_plan(tmp_path_factory.mktemp("plan"))


@pytest.fixture(scope="module")
def decisions(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("decisions") / "decisions.parquet"
    result = CliRunner().invoke(app, ["rules", "apply", str(RULES), "--cohort", str(cohort), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _optimize(plan: Path, cohort: Path, out: Path, *more: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["optimize", "--plan", str(plan), "--cohort", str(cohort), "--out", str(out),
                                      "--method", "exact-highs", *more])
    return result.exit_code, result.stdout, result.stderr


def test_the_same_plan_as_applying_the_rules(plan: Path, cohort: Path, decisions: Path, tmp_path: Path) -> None:
    code, _, err = _optimize(plan, cohort, tmp_path / "applied.parquet")
    assert code == 0, err
    code, _, err = _optimize(plan, cohort, tmp_path / "read.parquet", "--decisions", str(decisions))
    assert code == 0, err
    assert pl.read_parquet(tmp_path / "read.parquet").equals(pl.read_parquet(tmp_path / "applied.parquet"))


def test_the_file_is_used_not_the_rules(plan: Path, cohort: Path, decisions: Path, tmp_path: Path) -> None:
    """Decisions from elsewhere (here: nobody may be called by an agent) decide, not the plan's rules."""
    edited = tmp_path / "no_calls.csv"
    frame = pl.read_parquet(decisions).with_columns(pl.lit(False).alias("eligible_telesales"),
                                                    pl.lit(False).alias("eligible_telesales_coupon"))
    frame.with_columns(pl.col(pl.Enum).cast(pl.String)).write_csv(edited)
    plan = write_plan(tmp_path, ("    min: 3000", "    min: 0"), small=False)  # no minimum of telesales calls
    code, _, err = _optimize(plan, cohort, tmp_path / "out.parquet", "--decisions", str(edited))
    assert code == 0, err
    channels = set(pl.read_parquet(tmp_path / "out.parquet")["channel"].drop_nulls().to_list())
    assert channels and "telesales" not in channels


def test_the_cohort_needs_only_what_the_plan_reads(plan: Path, cohort: Path, decisions: Path, tmp_path: Path) -> None:
    slim = tmp_path / "slim.parquet"
    pl.read_parquet(cohort).select("user_id", "credit_score").write_parquet(slim)  # pd reads the credit score
    code, _, err = _optimize(plan, slim, tmp_path / "out.parquet", "--decisions", str(decisions))
    assert code == 0, err
    assert "note: the cohort does not hold the rules' inputs" in plain(err)  # so nothing could be checked
    pl.read_parquet(cohort).select("user_id").write_parquet(slim)
    code, _, err = _optimize(plan, slim, tmp_path / "none.parquet", "--decisions", str(decisions))
    assert code == 2 and "column 'credit_score': required column is missing" in err
    assert not (tmp_path / "none.parquet").exists()


def test_missing_and_extra_users(plan: Path, cohort: Path, decisions: Path, tmp_path: Path) -> None:
    frame = pl.read_parquet(decisions)
    frame.head(2_990).write_parquet(tmp_path / "short.parquet")
    code, _, err = _optimize(plan, cohort, tmp_path / "out.parquet", "--decisions", str(tmp_path / "short.parquet"))
    assert code == 2, err
    assert "10 user(s) of the cohort" in err and "have no decision here" in err
    assert not (tmp_path / "out.parquet").exists()
    extra = frame.head(4).with_columns(pl.col("user_id") + "-old")
    pl.concat([frame, extra]).write_parquet(tmp_path / "more.parquet")
    code, _, err = _optimize(plan, cohort, tmp_path / "out.parquet", "--decisions", str(tmp_path / "more.parquet"))
    assert code == 0, err
    assert "note: 4 decision(s) in" in err and "they were left out" in err
    assert pl.read_parquet(tmp_path / "out.parquet").height == 3_000


def test_decisions_may_not_be_overwritten(plan: Path, cohort: Path, decisions: Path) -> None:
    code, _, err = _optimize(plan, cohort, decisions, "--decisions", str(decisions))
    assert code == 2 and "is also the decisions (--decisions)" in plain(err)


def test_frontier_reads_decisions(plan: Path, cohort: Path, decisions: Path) -> None:
    result = CliRunner().invoke(app, ["frontier", "--plan", str(plan), "--cohort", str(cohort), "--decisions",
                                      str(decisions), "--constraint", "total_budget", "--from", "1000",
                                      "--to", "3000", "--steps", "2"])
    assert result.exit_code == 0, result.stderr
    assert "3,000" in result.stdout and "infeasible" not in result.stdout


def test_decisions_of_other_people_under_the_same_ids_are_refused(plan: Path, cohort: Path, tmp_path: Path) -> None:
    """`cohort generate` with another seed gives other people the same ids U000000000…: their decisions (a
    blacklisted user's, one without consent) must never be used for this cohort."""
    other = tmp_path / "other.parquet"
    write_cohort(other, 3_000, seed=6)
    decided = tmp_path / "other_decisions.parquet"
    result = CliRunner().invoke(app, ["rules", "apply", str(RULES), "--cohort", str(other), "--out", str(decided)])
    assert result.exit_code == 0, result.output
    code, _, err = _optimize(plan, cohort, tmp_path / "out.parquet", "--decisions", str(decided))
    assert code == 2
    assert "have other inputs than the ones these decisions were made from" in plain(err)
    assert not (tmp_path / "out.parquet").exists()
