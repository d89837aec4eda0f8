"""The README's tour, command by command: what it shows is what a user gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decide.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "140")
    monkeypatch.setenv("NO_COLOR", "1")
    return CliRunner()


def _shown(command: str) -> str:
    """The output the README prints under `$ decide <command>`."""
    block = re.search(r"\$ decide " + re.escape(command) + r"\n(.*?)```", README, re.S)
    assert block is not None, f"README does not show 'decide {command}'"
    return block.group(1)


def test_the_rule_file_in_the_readme_is_the_tour_file() -> None:
    text = (ROOT / "docs/examples/tour/first_rules.yaml").read_text(encoding="utf-8")
    body = text.split("\n", 1)[1]  # the file starts with a comment line the README leaves out
    assert body in README


def test_check_shows_the_typos(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "check", "docs/examples/tour/typo.yaml"])
    assert result.exit_code == 2
    assert result.output == _shown("rules check docs/examples/tour/typo.yaml")


def test_rule_tests_pass(runner: CliRunner) -> None:
    result = runner.invoke(app, ["rules", "test", "docs/examples/tour/first_rules.yaml"])
    assert result.exit_code == 0
    assert "2 passed, 0 failed" in result.output


def test_apply_shows_the_tiers(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "decisions.parquet"
    command = "rules apply docs/examples/tour/first_rules.yaml --cohort docs/examples/tour/cohort.csv"
    result = runner.invoke(app, [*command.split(), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = _shown(command + " --out decisions.parquet")
    assert table in result.output


def test_explain_shows_the_missing_income(runner: CliRunner) -> None:
    command = "rules explain docs/examples/tour/first_rules.yaml --cohort docs/examples/tour/cohort.csv --user U004"
    result = runner.invoke(app, command.split())
    assert result.exit_code == 0
    assert result.output == _shown(command)
