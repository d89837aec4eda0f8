"""Shifts in a plan: parsing, mistakes at their positions, the per-shift actions and the capacity rows.

The oracle for the arrays is the plan without shifts on the same cohort: a shift variant must carry its
action's columns (response × the shift's reach, computed here from the cohort's occupation column), and a
capacity row must count exactly the variants of its shift.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import RuleFileError
from optimizer.build_problem import PlanModel, load_plan
from optimizer.feasibility import check_feasible
from optimizer.plan_file import minutes_of_day
from optimizer.plan_summary import allocation_frame, summarize_plan
from optimizer.solve_exact_highs import HighsExactSolver
from simulations.synthetic_cohort import generate_cohort
from tests.plans import SHIFTS, SPRING, plan_model, write_plan

WORKERS = ("office_worker", "blue_collar")
REACH = {"morning": (0.8, 1.1), "afternoon": (0.9, 1.05), "evening": (1.35, 0.85)}  # (workers, others)


def _write(folder: Path, source: Path = SHIFTS, old: str = "", new: str = "") -> Path:
    """A shipped plan with one piece of text replaced."""
    return write_plan(folder, (old, new), source=source, small=False)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.parquet"
    generate_cohort(2_000, np.random.default_rng(7)).write_parquet(path)
    return path


@pytest.fixture(scope="module")
def shifted(cohort: Path) -> PlanModel:
    return plan_model(SHIFTS, cohort)


@pytest.fixture(scope="module")
def weekly(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> PlanModel:
    return plan_model(_write(tmp_path_factory.mktemp("weekly"), SPRING), cohort)


def test_shipped_plan_declares_three_shifts_that_add_up_to_the_week() -> None:
    loaded = load_plan(SHIFTS)
    shifts = loaded.shifts
    assert shifts.names == ("morning", "afternoon", "evening")
    assert shifts.hours == ("09:00-12:00", "13:00-18:00", "18:00-21:00")
    assert shifts.resources == ("agent_minutes", "bot_line_minutes")
    assert shifts.capacity.sum(axis=0).tolist() == [63_000.0, 48_000.0]  # spring_campaign.yaml's weekly limits
    assert shifts.shifts_of("telesales") == (0, 1, 2)
    assert shifts.shifts_of("telesales_coupon") == (0, 1)  # shifts: [morning, afternoon]
    assert shifts.shifts_of("sms") == ()
    assert loaded.constraint_names[-6:] == (
        "agent_minutes@morning", "bot_line_minutes@morning", "agent_minutes@afternoon",
        "bot_line_minutes@afternoon", "agent_minutes@evening", "bot_line_minutes@evening")
    # Each capacity row is reported at the number the planner wrote.
    lines = SHIFTS.read_text(encoding="utf-8").splitlines()
    line, column = loaded.constraint_positions[-2]  # agent_minutes@evening
    assert lines[line - 1][column - 1:].startswith("9000, bot_line_minutes: 12000}")


@pytest.mark.parametrize(
    ("old", "text", "shift", "minutes"),
    [
        pytest.param("09:00-12:00", "09:00-12:00", 0, (540, 720), id="plain"),
        pytest.param("09:00-12:00", " 9:30 – 12:00 ", 0, (570, 720), id="en-dash-and-one-digit-hour"),
        pytest.param("18:00-21:00", "18:00-24:00", 2, (1080, 1440), id="until-midnight"),
    ],
)
def test_hours(tmp_path: Path, old: str, text: str, shift: int, minutes: tuple[int, int]) -> None:
    plan = _write(tmp_path, old=f"hours: {old}", new=f"hours: \"{text}\"")
    assert minutes_of_day(load_plan(plan).shifts.hours[shift]) == minutes


def test_variants_are_actions_of_the_problem(shifted: PlanModel, weekly: PlanModel) -> None:
    problem = shifted.problem
    assert problem.action_names == (
        "marketplace", "app_ads", "wechat", "sms", "sms_coupon",
        "voicebot@morning", "voicebot@afternoon", "voicebot@evening",
        "telesales@morning", "telesales@afternoon", "telesales@evening",
        "telesales_coupon@morning", "telesales_coupon@afternoon")
    assert shifted.channels == (
        "marketplace", "app_ads", "wechat", "sms", "sms", *["voicebot"] * 3, *["telesales"] * 5)
    assert shifted.shift_of == (-1, -1, -1, -1, -1, 0, 1, 2, 0, 1, 2, 0, 1)
    # The plan's constraints keep their rows (the weekly agent and line limits are replaced by the shifts').
    assert problem.constraint_names[:6] == (
        "total_budget", "telesales_budget", "sms_quota", "expected_loss", "watch_share", "prime_telesales")
    assert problem.constraints == 6 + 3 * 2
    # Each variant is eligible exactly when its action is.
    base = [weekly.problem.action_names.index(name.split("@")[0]) for name in problem.action_names]
    assert np.array_equal(problem.eligible, weekly.problem.eligible[:, base])


def test_response_is_the_actions_times_the_shifts_reach(cohort: Path, shifted: PlanModel, weekly: PlanModel) -> None:
    occupation = generate_cohort(2_000, np.random.default_rng(7))["occupation"].to_numpy()
    worker = np.isin(occupation, WORKERS)
    for a, name in enumerate(shifted.problem.action_names):
        action, _, shift = name.partition("@")
        expected = weekly.measures.responses[:, weekly.problem.action_names.index(action)]
        if shift:
            on_shift, off_shift = REACH[shift]
            expected = expected * np.where(worker, on_shift, off_shift)
        np.testing.assert_allclose(shifted.measures.responses[:, a], expected, rtol=1e-12, err_msg=name)
    # Cost and minutes per contact do not depend on the shift.
    telesales = [a for a, n in enumerate(shifted.problem.action_names) if n.startswith("telesales@")]
    assert np.all(shifted.measures.spend[:, telesales] == 9.0)  # telesales has no incentive: spend = cost
    assert np.all(shifted.measures.resources[0][:, telesales] == 6.0)


def test_capacity_rows_count_the_variants_of_their_shift(shifted: PlanModel) -> None:
    problem, names = shifted.problem, shifted.problem.action_names
    minutes_per_call = {"telesales": 6.0, "telesales_coupon": 6.5, "voicebot": 1.5}
    resource_of = {"telesales": "agent_minutes", "telesales_coupon": "agent_minutes", "voicebot": "bot_line_minutes"}
    capacity = {("agent_minutes", "morning"): 18_000, ("bot_line_minutes", "morning"): 18_000,
                ("agent_minutes", "afternoon"): 36_000, ("bot_line_minutes", "afternoon"): 18_000,
                ("agent_minutes", "evening"): 9_000, ("bot_line_minutes", "evening"): 12_000}
    for (resource, shift), limit in capacity.items():
        k = problem.constraint_names.index(f"{resource}@{shift}")
        expected = np.zeros(problem.actions)
        for a, name in enumerate(names):
            action, _, in_shift = name.partition("@")
            if in_shift == shift and resource_of[action] == resource:
                expected[a] = minutes_per_call[action]
        assert np.array_equal(problem.weight[k], np.broadcast_to(expected, (problem.users, problem.actions))), k
        assert problem.rhs[k] == limit and problem.sense[k] == -1


def test_channel_constraints_count_every_shift_variant(shifted: PlanModel, weekly: PlanModel) -> None:
    base = [weekly.problem.action_names.index(n.split("@")[0]) for n in shifted.problem.action_names]
    telesales = np.array([c == "telesales" for c in shifted.channels])
    for name in ("telesales_budget", "prime_telesales"):
        row = shifted.problem.weight[shifted.problem.constraint_names.index(name)]
        weekly_row = weekly.problem.weight[weekly.problem.constraint_names.index(name)][:, base]
        assert (row[:, telesales] != 0).any() and not row[:, ~telesales].any(), name
        if name == "prime_telesales":  # contacts do not depend on the shift: the weekly row, per variant
            assert np.array_equal(row, weekly_row)


def test_a_plan_over_a_shifts_capacity_cannot_be_produced(cohort: Path, tmp_path: Path) -> None:
    plan = _write(tmp_path, old="capacity: {agent_minutes: 9000,", new="capacity: {agent_minutes: 120,")
    plan.write_text(plan.read_text(encoding="utf-8").replace("    min: 3000", "    min: 20"), encoding="utf-8")
    model = plan_model(plan, cohort)
    problem = model.problem
    evening = problem.constraint_names.index("agent_minutes@evening")
    solved = HighsExactSolver(time_limit=60).solve(problem)
    assert check_feasible(problem, solved.action) == []
    assert problem.usage_of(solved.action)[evening] <= 120.0
    # The solver wants the evening: its capacity binds.
    assert problem.usage_of(solved.action)[evening] > 120.0 - 6.5
    # Moving more calls to the evening breaks that shift's row, and only that row.
    late = problem.action_names.index("telesales@evening")
    moved = np.flatnonzero(problem.eligible[:, late] & (solved.action != late))[:30]
    assert moved.size == 30
    overbooked = solved.action.copy()
    overbooked[moved] = late
    assert [v.constraint for v in check_feasible(problem, overbooked)] == ["agent_minutes@evening"]
    # The summary shows the same use per shift, and the allocation says which shift each call is in.
    frame = allocation_frame(model, solved.action)
    summary = summarize_plan(model, solved, frame)
    assert [s.shift for s in summary.shifts] == ["morning", "afternoon", "evening"]
    assert summary.shifts[2].capacity[0].used == pytest.approx(problem.usage_of(solved.action)[evening])
    calls = frame.filter(frame["channel"] == "telesales")
    assert calls["shift"].null_count() == 0
    assert [c.channel for c in summary.shifts[0].channels] == ["telesales", "voicebot"]
    assert sum(s.channels[0].contacts for s in summary.shifts) == calls.height
    assert frame.filter(frame["channel"] == "marketplace")["shift"].null_count() == frame.filter(
        frame["channel"] == "marketplace").height


def test_a_plan_without_shifts_has_no_shift_column(weekly: PlanModel) -> None:
    solved = HighsExactSolver(time_limit=60).solve(weekly.problem)
    frame = allocation_frame(weekly, solved.action)
    assert "shift" not in frame.columns
    assert summarize_plan(weekly, solved, frame).shifts == []
    assert weekly.loaded.constraint_names == tuple(c.name for c in weekly.loaded.plan.constraints)


def _position(path: Path, snippet: str) -> tuple[int, int]:
    text = path.read_text(encoding="utf-8")
    index = text.index(snippet)
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


@pytest.mark.parametrize(
    ("old", "new", "at", "code", "message"),
    [
        pytest.param("shifts: [morning, afternoon]", "shifts: [morning, afternon]", "afternon]", "unknown-shift",
                     "'afternon' is not a shift of this plan (did you mean 'afternoon'?)", id="unknown-shift"),
        pytest.param("shifts: [morning, afternoon]", "shifts: [morning, morning]", "morning]", "duplicate-shift",
                     "shift 'morning' is listed twice for 'telesales_coupon'", id="shift-listed-twice"),
        pytest.param("  evening:\n", "  morning:\n", "morning:\n    label: 晚班", "duplicate-key",
                     "duplicate key 'morning' (YAML would silently keep only the last one)", id="shift-declared-twice"),
        pytest.param("capacity: {agent_minutes: 9000, bot_line_minutes: 12000}", "capacity: {agent_minutes: 9000}",
                     "capacity: {agent_minutes: 9000}", "missing-shift-capacity",
                     "shift 'evening' has no capacity for 'bot_line_minutes' (shifts 'morning' and 'afternoon' have "
                     "one)", id="capacity-missing"),
        pytest.param("    capacity: {agent_minutes: 9000, bot_line_minutes: 12000}\n", "", "evening:\n    label",
                     "missing-shift-capacity", "shift 'evening' has no capacity for 'agent_minutes'",
                     id="no-capacity-at-all"),
        pytest.param("{agent_minutes: 9000,", "{agent_minute: 9000, agent_minutes: 9000,", "agent_minute:",
                     "unknown-resource", "no action uses 'agent_minute' (did you mean 'agent_minutes'?)",
                     id="unknown-resource"),
        pytest.param("hours: 18:00-21:00", "hours: 17:30-21:00", "17:30-21:00", "overlapping-shifts",
                     "shift 'evening' (17:30-21:00) overlaps shift 'afternoon' (13:00-18:00)", id="overlap"),
        pytest.param("hours: 18:00-21:00", "hours: 21:00-18:00", "21:00-18:00", "invalid-value",
                     "'21:00-18:00' ends before it starts", id="hours-backwards"),
        pytest.param("hours: 18:00-21:00", "hours: 18:00", "18:00\n    capacity: {agent_minutes: 9000", "invalid-value",
                     "write hours as a range HH:MM-HH:MM", id="hours-read-as-a-number"),
        pytest.param("    hours: 18:00-21:00", "    hour: 18:00-21:00", "hour:", "unknown-key",
                     "unknown key 'hour' (did you mean 'hours'?)", id="misspelt-key"),
        pytest.param("else 0.85\"", "else 'low'\"", "1.35 if occupation", "type-mismatch",
                     "the two branches of 'if' have different types", id="reach-not-a-number"),
        pytest.param("bot_line_minutes: 12000}", "bot_line_minutes: -1}", "-1}", "invalid-value",
                     "an amount must be 0 or more, got -1", id="negative-capacity"),
    ],
)
def test_shift_mistakes_are_reported_at_their_position(tmp_path: Path, old: str, new: str, at: str, code: str,
                                                      message: str) -> None:
    plan = _write(tmp_path, old=old, new=new)
    with pytest.raises(RuleFileError) as caught:
        load_plan(plan)
    found = [d for d in caught.value.errors if d.code == code]
    assert found, caught.value.render()
    assert (found[0].line, found[0].column) == _position(plan, at)
    assert message in found[0].message
    assert f"plan.yaml:{found[0].line}:{found[0].column}: " in caught.value.render()
    assert f"[{code}]" in caught.value.render()


def test_shifts_named_in_a_plan_without_shifts(tmp_path: Path) -> None:
    plan = _write(tmp_path, SPRING, "    uses: {agent_minutes: 6.0}\n",
                  "    uses: {agent_minutes: 6.0}\n    shifts: [evening]\n")
    with pytest.raises(RuleFileError) as caught:
        load_plan(plan)
    [error] = caught.value.errors
    assert (error.code, (error.line, error.column)) == ("unknown-shift", _position(plan, "shifts: [evening]"))
    assert error.message == "'telesales' names shifts, but the plan declares none"


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    plan = _write(tmp_path, old="shifts: [morning, afternoon]", new="shifts: [mornin, afternoon, afternoon]")
    plan.write_text(plan.read_text(encoding="utf-8").replace("hours: 18:00-21:00", "hours: 11:00-13:00"),
                    encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_plan(plan)
    assert [d.code for d in caught.value.errors] == ["overlapping-shifts", "unknown-shift", "duplicate-shift"]


def test_an_unknown_key_lists_the_keys_of_its_own_part_of_the_plan(tmp_path: Path) -> None:
    plan = _write(tmp_path, old="    cost: 0.6\n", new="    cots: 0.6\n")
    with pytest.raises(RuleFileError) as caught:
        load_plan(plan)
    [error] = caught.value.errors
    assert error.message == "unknown key 'cots' (did you mean 'cost'?)"
    assert error.hint == "allowed keys: response, cost, incentive, uses, shifts, label"
