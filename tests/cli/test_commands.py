"""The command line as a user meets it: exit codes, messages, no tracebacks for user mistakes, --help examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from decide.cli import app

FIXTURES = Path(__file__).parent.parent / "engine" / "fixtures"
BAD = Path(__file__).parent.parent / "engine" / "bad_rulesets"
PIPELINE = FIXTURES / "pipeline.yaml"


def plain(text: str) -> str:
    """Typer's error panel wrapped to the terminal's width, as one line: its words without the box."""
    return " ".join(text.replace("│", " ").split())


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    return CliRunner()


@pytest.fixture
def cohort_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    n = 200
    path = tmp_path / "cohort.csv"
    pl.DataFrame({
        "user_id": [f"U{i:04d}" for i in range(n)],
        "id_number": [f"SECRET{i:08d}" for i in range(n)],
        "credit_score": rng.uniform(300, 900, n).round(0),
        "overdue_12m": rng.poisson(0.3, n),
        "income": rng.lognormal(9, 0.5, n).round(0),
        "on_blacklist": rng.random(n) < 0.05,
        "city_tier": rng.integers(1, 5, n),
        "occupation": rng.choice(["office", "blue_collar", "owner"], n),
    }).write_csv(path)
    return path


def test_check_ok(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "check", str(PIPELINE)])
    assert result.exit_code == 0, result.output
    assert "2 ruleset(s), 7 rules, 3 tags, 8 fields, 3 actions" in result.output


def test_check_reports_every_error_and_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "check", str(BAD / "type_mismatch.yaml"), str(PIPELINE)])
    assert result.exit_code == 2
    assert result.stderr.count("[type-mismatch]") == 4
    assert "4 error(s), 0 warning(s)" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout.startswith("ok ")  # the good file is still checked; the errors go to stderr
    assert "[type-mismatch]" not in result.stdout


def test_rule_tests_pass(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "test", str(PIPELINE)])
    assert result.exit_code == 0, result.output
    assert "6 passed, 0 failed" in result.output


def test_failing_rule_test_exits_1_and_says_what_it_got(runner: CliRunner, tmp_path: Path) -> None:
    text = (FIXTURES / "risk.yaml").read_text(encoding="utf-8").replace("credit_limit: 27000", "credit_limit: 1")
    (tmp_path / "risk.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["rules", "test", str(tmp_path / "risk.yaml")])
    assert result.exit_code == 1
    assert "credit_limit: expected 1, got 27000.0" in result.output
    assert "1 passed, 1 failed" in result.output


def test_apply_writes_decisions_and_summary(runner: CliRunner, cohort_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "decisions.parquet"
    result = runner.invoke(app, ["rules", "apply", str(PIPELINE), "--cohort", str(cohort_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    decisions = pl.read_parquet(out)
    assert decisions.height == 200
    assert "users per tier (200 users)" in result.output
    assert "eligible actions" in result.output
    assert "SECRET" not in decisions.write_csv()


def test_apply_bad_cohort_exits_2_and_writes_nothing(runner: CliRunner, cohort_csv: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(cohort_csv.read_text().replace("office", "astronaut", 1))
    out = tmp_path / "decisions.parquet"
    result = runner.invoke(app, ["rules", "apply", str(PIPELINE), "--cohort", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "column 'occupation': not one of its categories" in result.stderr
    assert "'astronaut'" in result.stderr
    assert result.stdout == ""
    assert not out.exists()


def test_apply_rejects_repeated_user_ids(runner: CliRunner, cohort_csv: Path, tmp_path: Path) -> None:
    """The same user twice in a cohort would be contacted twice: exit 2 on stderr, nothing written."""
    frame = pl.read_csv(cohort_csv)
    repeated = tmp_path / "repeated.parquet"
    pl.concat([frame, frame.head(3)]).write_parquet(repeated)
    out = tmp_path / "decisions.parquet"
    result = runner.invoke(app, ["rules", "apply", str(PIPELINE), "--cohort", str(repeated), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "column 'user_id': user ids must be unique, but 3 id(s) appear more than once — 6 row(s)" in result.stderr
    assert "[duplicate-id]" in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""
    assert not out.exists()


def test_apply_will_not_overwrite_its_cohort(runner: CliRunner, cohort_csv: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = cohort_csv.read_bytes()
    monkeypatch.chdir(tmp_path)
    same = Path(".") / cohort_csv.name  # the same file, spelt differently
    result = runner.invoke(app, ["rules", "apply", str(PIPELINE), "--cohort", str(cohort_csv), "--out", str(same)])
    assert result.exit_code == 2, result.output
    assert ("Invalid value for '--out': cohort.csv is also the cohort (--cohort): writing it would overwrite the "
            "input") in plain(result.stderr)
    assert cohort_csv.read_bytes() == before
    assert result.stdout == ""


def test_apply_will_not_write_into_its_cohort_folder(runner: CliRunner, cohort_csv: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cohort"
    folder.mkdir()
    pl.read_csv(cohort_csv).write_parquet(folder / "part-0.parquet")
    out = folder / "decisions.parquet"
    result = runner.invoke(app, ["rules", "apply", str(PIPELINE), "--cohort", str(folder), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "is inside the cohort (--cohort) folder" in plain(result.stderr)
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param("--out", "decisions.txt", "decisions.txt must end in .parquet, .pq or .csv", id="out-suffix"),
        pytest.param("--chunk-rows", "0", "Input should be greater than or equal to 1", id="no-rows-per-chunk"),
    ],
)
def test_apply_option_errors_name_the_option(runner: CliRunner, cohort_csv: Path, tmp_path: Path, option: str,
                                             value: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    given = {"--out": "decisions.parquet", option: value}
    args = [a for pair in given.items() for a in pair]
    result = runner.invoke(app, ["rules", "apply", str(PIPELINE), "--cohort", str(cohort_csv), *args])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}': {message}" in plain(result.stderr)
    assert "column" not in result.stderr  # an option is not a cohort column
    assert list(tmp_path.iterdir()) == [cohort_csv]


def test_generate_needs_at_least_one_user(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["cohort", "generate", "--rows", "-5", "--out", str(tmp_path / "c.parquet")])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--rows'" in plain(result.stderr) and "Traceback" not in result.output
    assert not (tmp_path / "c.parquet").exists()


def test_apply_bad_rules_exits_2(runner: CliRunner, cohort_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "apply", str(BAD / "unknown_field.yaml"), "--cohort", str(cohort_csv),
                                 "--out", str(tmp_path / "d.parquet")])
    assert result.exit_code == 2
    assert "unknown field 'credit_scor' (did you mean 'credit_score'?)" in result.output


def test_missing_files_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "no such file" in result.output
    result = runner.invoke(app, ["rules", "apply", str(PIPELINE), "--cohort", str(tmp_path / "nope.csv"),
                                 "--out", str(tmp_path / "d.parquet")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    assert "column '-'" not in result.stderr  # a missing file is not a column


def test_explain_names_rules_and_values_and_masks_pii(runner: CliRunner, cohort_csv: Path) -> None:
    frame = pl.read_csv(cohort_csv)
    user = frame.filter(pl.col("on_blacklist"))["user_id"][0]
    result = runner.invoke(app, ["rules", "explain", str(PIPELINE), "--cohort", str(cohort_csv), "--user", user])
    assert result.exit_code == 0, result.output
    assert "✓ blacklisted [applied]  when on_blacklist or id_number == 'X'" in result.output
    assert "because on_blacklist=True, id_number=<pii hidden>" in result.output
    assert "tier = reject" in result.output
    assert "SECRET" not in result.output


def test_explain_unknown_user_exits_2(runner: CliRunner, cohort_csv: Path) -> None:
    result = runner.invoke(app, ["rules", "explain", str(PIPELINE), "--cohort", str(cohort_csv), "--user", "nobody"])
    assert result.exit_code == 2
    assert "no user 'nobody'" in result.stderr


@pytest.mark.parametrize("command", [["rules", "check"], ["rules", "test"], ["rules", "apply"], ["rules", "explain"],
                                     ["cohort", "generate"], ["demo"]])
def test_help_teaches_with_an_example(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example: decide" in result.output


def test_demo_too_small_for_the_shipped_plans_is_a_user_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--rows", "2000", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not PlanNotSolved with its traceback
    assert "infeasible: prime_telesales" in result.stderr
    assert "run the demo with a larger --rows" in plain(result.stderr)
