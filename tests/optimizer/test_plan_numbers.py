"""Numbers in a plan that make no sense are errors at their place in the file, never something the optimizer
exploits: inf/NaN, rates outside 0…1, negative costs or resource use, true/false for a number, a negative limit
on a measure that is never negative. Expressions are checked the same way on every user they apply to: the
count of users comes from numpy on the cohort, independently of the Polars check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine import Cohort, Diagnostic, RuleFileError
from optimizer.build_problem import load_plan
from simulations.synthetic_cohort import generate_cohort
from tests.plans import SHIFTS, SPRING, plan_model, write_plan


def _write(folder: Path, old: str, new: str, source: Path = SPRING) -> Path:
    return write_plan(folder, (old, new), source=source, small=False)


def _position(plan: Path, snippet: str) -> tuple[int, int]:
    text = plan.read_text(encoding="utf-8")
    index = text.index(snippet)
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return generate_cohort(2_000, np.random.default_rng(7))


@pytest.fixture(scope="module")
def cohort(frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.parquet"
    frame.write_parquet(path)
    return path





def _eligible(cohort: Path, action: str) -> np.ndarray:
    loaded = load_plan(SPRING)
    users = Cohort.load(cohort, loaded.schema, loaded.rules.id_field)
    mask: np.ndarray = loaded.rules.apply(users).frame[f"eligible_{action}"].to_numpy()
    return mask


@pytest.mark.parametrize(
    ("replacements", "at", "code", "message"),
    [
        pytest.param([("    channels: [telesales]", "    channels: []")], "[]", "empty-channels",
                     "channels: [] names no channel, so the constraint would count nothing", id="no-channels"),
        pytest.param([("  app_ads:\n    response: 0.01\n    cost: 0.8\n", ""),
                      ("    channels: [telesales]", "    channels: [app_ads]")], "[app_ads]", "unplanned-channel",
                     "no action of this plan is in app_ads, so the constraint would count nothing",
                     id="channel-without-action"),
        pytest.param([("\nvalue:\n", "\nfields:\n  tier: {type: number}\nvalue:\n")], "tier: {", "output-field",
                     "'tier' is an output of the rules", id="output-as-field"),
    ],
)
def test_constraints_and_fields_that_cannot_mean_what_they_say(tmp_path: Path, replacements: list[tuple[str, str]],
                                                               at: str, code: str, message: str) -> None:
    """Each would otherwise load: a constraint that counts nothing (holding, or failing, whatever the plan does),
    a rules output declared as a cohort column (blamed on the cohort, or two columns of one name)."""
    plan = write_plan(tmp_path, *replacements, small=False)
    with pytest.raises(RuleFileError) as caught:
        load_plan(plan)
    [found] = caught.value.errors
    assert (found.code, found.line, found.column) == (code, *_position(plan, at)), caught.value.render()
    assert message in found.message


def test_an_empty_plan_file_says_what_a_plan_file_is(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_plan(tmp_path / "empty.yaml")
    [found] = caught.value.errors
    assert found.code == "not-a-plan-file" and "plan:, rules:, value:, actions:" in found.message


@pytest.mark.parametrize(
    ("old", "new", "at", "code", "message"),
    [
        pytest.param("    max: 150000", "    max: .inf", ".inf", "invalid-value",
                     "constraints.0.max: expected a finite number, got inf", id="inf-budget"),
        pytest.param("    max: 150000", "    max: .nan", ".nan", "invalid-value", "expected a finite number, got nan",
                     id="nan-budget"),
        pytest.param("    max_share: 0.15", "    max_share: .nan", ".nan", "invalid-value",
                     "expected a finite number (from 0 to 1), got nan", id="nan-share"),
        pytest.param("  margin: 0.015", "  margin: -.inf", "-.inf", "invalid-value",
                     "value.margin: expected a finite number, got -inf", id="inf-margin"),
        pytest.param("    response: 0.025", "    response: 2.5", "2.5\n", "invalid-value",
                     "actions.voicebot.response: a probability must be from 0 to 1, got 2.5", id="response-above-1"),
        pytest.param("    response: 0.025", "    response: -0.1", "-0.1", "invalid-value",
                     "a probability must be from 0 to 1, got -0.1", id="negative-response"),
        pytest.param("    response: 0.025", "    response: \"2.5\"", "\"2.5\"", "out-of-range",
                     "actions.voicebot.response: a probability must be from 0 to 1, got 2.5", id="response-as-text"),
        pytest.param("    response: 0.025", "    response: \"1e999\"", "\"1e999\"", "out-of-range",
                     "expected a finite number (from 0 to 1), got inf", id="overflowing-literal"),
        pytest.param("  lgd: 0.6", "  lgd: 1.6", "1.6", "invalid-value", "value.lgd: a probability must be from 0 to 1",
                     id="lgd-above-1"),
        pytest.param("    cost: 0.6", "    cost: -0.6", "-0.6", "invalid-value",
                     "actions.voicebot.cost: an amount must be 0 or more, got -0.6", id="negative-cost"),
        pytest.param("    cost: 0.6", "    cost: true", "true", "invalid-value",
                     "expected an amount (0 or more), got true (YAML reads true, false, yes and no as true/false)",
                     id="boolean-cost"),
        pytest.param("  term: 12", "  term: yes", "yes", "invalid-value", "value.term: expected an amount (0 or more), "
                     "got true", id="boolean-term"),
        pytest.param("    incentive: 80", "    incentive: -80", "-80", "invalid-value",
                     "an amount must be 0 or more, got -80", id="negative-incentive"),
        pytest.param("uses: {bot_line_minutes: 1.5}", "uses: {bot_line_minutes: -1.5}", "-1.5}", "invalid-value",
                     "actions.voicebot.uses.bot_line_minutes: an amount must be 0 or more", id="negative-use"),
        pytest.param("    max: 150000", "    max: false", "false", "invalid-value",
                     "expected a number, got false", id="boolean-limit"),
        pytest.param("\nvalue:\n", "\nfields:\n  assets_estimate: {type: number, min: .nan}\nvalue:\n", ".nan}",
                     "invalid-value", "fields.assets_estimate.min: Input should be a finite number",
                     id="nan-field-min"),
        pytest.param("    max: 150000", "    max: -5", "-5", "negative-limit",
                     "spend is never negative, so max: -5 can never be met", id="negative-budget"),
        pytest.param("    min: 3000", "    min: -1", "-1", "negative-limit",
                     "contacts is never negative, so min: -1 constrains nothing", id="negative-minimum"),
    ],
)
def test_nonsense_numbers_are_reported_at_their_position(tmp_path: Path, old: str, new: str, at: str, code: str,
                                                         message: str) -> None:
    plan = _write(tmp_path, old, new)
    with pytest.raises(RuleFileError) as caught:
        load_plan(plan)
    [found] = caught.value.errors
    assert (found.code, found.line, found.column) == (code, *_position(plan, at)), caught.value.render()
    assert message in found.message


@pytest.mark.parametrize(
    ("old", "new", "at", "message"),
    [
        pytest.param("capacity: {agent_minutes: 9000,", "capacity: {agent_minutes: .inf,", ".inf",
                     "shifts.evening.capacity.agent_minutes: expected a finite number (0 or more), got inf",
                     id="inf-capacity"),
        pytest.param("reach: \"1.35 if", "reach: -1\n    # \"1.35 if", "-1\n",
                     "shifts.evening.reach: a multiplier must be 0 or more, got -1", id="negative-reach"),
    ],
)
def test_nonsense_shift_numbers_are_reported_at_their_position(tmp_path: Path, old: str, new: str, at: str,
                                                               message: str) -> None:
    plan = _write(tmp_path, old, new, SHIFTS)
    with pytest.raises(RuleFileError) as caught:
        load_plan(plan)
    [found] = caught.value.errors
    assert (found.line, found.column) == _position(plan, at), caught.value.render()
    assert message in found.message


def test_a_negative_limit_on_profit_is_allowed(tmp_path: Path) -> None:
    plan = _write(tmp_path, "  - name: total_budget\n", "  - {name: worst_case, measure: profit, min: -1000}\n"
                  "  - name: total_budget\n")
    assert "worst_case" in load_plan(plan).constraint_names


def _error(plan: Path, cohort: Path) -> RuleFileError:
    with pytest.raises(RuleFileError) as caught:
        plan_model(plan, cohort)
    assert len(caught.value.errors) == 1, caught.value.render()
    return caught.value


def test_rate_from_an_expression_is_checked_per_user(tmp_path: Path, frame: pl.DataFrame, cohort: Path) -> None:
    plan = _write(tmp_path, "    response: 0.025", "    response: \"credit_score / 500\"")
    expected = int((_eligible(cohort, "voicebot") & (frame["credit_score"].to_numpy() > 500)).sum())
    assert expected > 0
    err = _error(plan, cohort)
    [found] = err.errors
    assert (found.code, found.line, found.column) == ("out-of-range", *_position(plan, "\"credit_score / 500\""))
    assert (f"actions.voicebot.response is a probability and must be from 0 to 1, but is not for {expected:,} "
            "user(s) (first: user ") in found.message
    assert "plan.yaml:41:15:" in err.render() and "^^^" in err.render()


def test_negative_cost_from_a_column_is_checked_per_user(tmp_path: Path, frame: pl.DataFrame, cohort: Path) -> None:
    plan = _write(tmp_path, "    cost: 0.6", "    cost: \"0.6 - monthly_debt\"")
    debt = frame["monthly_debt"].fill_null(0).to_numpy()
    expected = int((_eligible(cohort, "voicebot") & (debt > 0.6)).sum())
    [found] = _error(plan, cohort).errors
    assert found.code == "out-of-range"
    assert f"actions.voicebot.cost is an amount and must be 0 or more, but is not for {expected:,} user(s)" \
        in found.message


def test_division_by_zero_is_an_error_naming_the_term_and_users(tmp_path: Path, frame: pl.DataFrame,
                                                                cohort: Path) -> None:
    plan = _write(tmp_path, "    cost: 0.6", "    cost: \"100 / existing_loans\"")
    expected = int((_eligible(cohort, "voicebot") & (frame["existing_loans"].to_numpy() == 0)).sum())
    assert expected > 0
    [found] = _error(plan, cohort).errors
    assert (found.code, found.line, found.column) == ("undefined-term", *_position(plan, "\"100 / existing_loans\""))
    assert f"actions.voicebot.cost is undefined for {expected:,} user(s)" in found.message
    assert "division by zero" in found.message


def test_a_constant_division_by_zero_counts_only_users_who_could_get_the_action(tmp_path: Path,
                                                                                cohort: Path) -> None:
    plan = _write(tmp_path, "    response: 0.025", "    response: \"0.025 / 0\"")
    [found] = _error(plan, cohort).errors
    assert f"is undefined for {int(_eligible(cohort, 'voicebot').sum()):,} user(s)" in found.message


def test_infinite_cohort_value_is_an_error(tmp_path: Path, frame: pl.DataFrame) -> None:
    eligible_rows = np.nonzero(_eligible_frame(frame, tmp_path))[0]
    row = int(eligible_rows[0])
    infinite = tmp_path / "cohort.parquet"
    frame.with_columns(pl.when(pl.int_range(pl.len()) == row).then(float("inf")).otherwise(pl.col("assets_estimate"))
                       .alias("assets_estimate")).write_parquet(infinite)
    plan = _write(tmp_path, "    cost: 0.6", "    cost: \"assets_estimate / 1000000\"")
    [found] = _error(plan, infinite).errors
    user = frame["user_id"][row]
    assert found.code == "non-finite-term"
    assert f"actions.voicebot.cost is infinite or NaN for 1 user(s) (first: user {user}: inf)" in found.message


def _eligible_frame(frame: pl.DataFrame, folder: Path) -> np.ndarray:
    path = folder / "plain.parquet"
    frame.write_parquet(path)
    return _eligible(path, "voicebot")


def test_a_term_missing_because_data_is_missing_only_withholds_the_action(tmp_path: Path, frame: pl.DataFrame,
                                                                          cohort: Path) -> None:
    """The documented behaviour stays: no error, the pairs are not offered and counted."""
    plan = _write(tmp_path, "    cost: 0.6", "    cost: \"0.001 * credit_score\"")
    model = plan_model(plan, cohort)
    missing = _eligible(cohort, "voicebot") & frame["credit_score"].is_null().to_numpy()
    assert missing.sum() > 0
    assert model.unknown_terms == int(missing.sum())
    voicebot = model.problem.action_names.index("voicebot")
    assert not model.problem.eligible[missing, voicebot].any()


def test_response_times_reach_must_stay_a_probability(tmp_path: Path, cohort: Path) -> None:
    plan = _write(tmp_path, "reach: \"1.35 if occupation in ['office_worker', 'blue_collar'] else 0.85\"",
                  "reach: 12", SHIFTS)
    errors = _error_list(plan, cohort)
    assert {d.code for d in errors} == {"out-of-range"}
    assert any("actions.telesales.response × shifts.evening.reach is a probability" in d.message for d in errors)
    line, column = _position(plan, "reach: 12")
    assert all((d.line, d.column) == (line, column + len("reach: ")) for d in errors)


def _error_list(plan: Path, cohort: Path) -> tuple[Diagnostic, ...]:
    with pytest.raises(RuleFileError) as caught:
        plan_model(plan, cohort)
    return caught.value.errors
