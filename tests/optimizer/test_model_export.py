"""An exported .lp / .mps file is the same model: HiGHS reads it back and finds the same optimum, and the
solution, mapped back through the column names, is a plan our checker accepts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from optimizer.feasibility import check_feasible
from optimizer.highs_instance import new_highs
from optimizer.model_export import export_model, safe_names
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import HighsExactSolver
from tests.optimizer.test_lagrangian_bound import marketing_problem


def planner_problem() -> AllocationProblem:
    """≤ and ≥ rows, partial eligibility, and the names a planner writes (spaces, Chinese, a leading digit)."""
    base = marketing_problem(80, seed=4)
    contacts = np.where(base.eligible, 1.0, 0.0)
    weight = np.concatenate([base.weight, contacts[None]])
    rhs = np.r_[base.rhs, 30.0]
    sense = np.r_[base.sense, np.int8(1)]
    names = ("预算 budget", "call minutes", "lines", "loss", "2nd: contacts ≥ 30")
    actions = ("电销", "ai-call", "sms", "wechat", "voice bot", "app")
    return AllocationProblem.from_arrays(base.value, base.eligible, weight, rhs, sense, names, actions)


def solve_file(path: Path) -> tuple[float, list[str], np.ndarray]:
    highs = new_highs()
    highs.readModel(str(path))
    highs.run()
    assert str(highs.getModelStatus()) == str(type(highs.getModelStatus()).kOptimal)
    lp = highs.getLp()
    return (float(highs.getInfo().objective_function_value), list(lp.col_names_),
            np.asarray(highs.getSolution().col_value))


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
def test_the_exported_model_solves_to_the_same_optimum(suffix: str, tmp_path: Path) -> None:
    problem = planner_problem()
    expected = HighsExactSolver(time_limit=60, mip_gap=0.0).solve(problem)
    path = export_model(problem, tmp_path / f"plan{suffix}")
    objective, columns, values = solve_file(path)
    assert objective == pytest.approx(expected.objective, rel=1e-9)
    # Map the file's solution back to a plan through the names: x_<user>_<action>.
    index = {name: a for a, name in enumerate(safe_names(problem.action_names, "a"))}
    action = np.full(problem.users, -1, dtype=np.int32)
    for name, value in zip(columns, values, strict=True):
        if value > 0.5:
            user, act = re.fullmatch(r"x_(\d+)_(.+)", name).groups()  # type: ignore[union-attr]
            action[int(user)] = index[act]
    assert check_feasible(problem, action) == []
    assert problem.objective_of(action) == pytest.approx(expected.objective, rel=1e-9)


def test_names_are_kept_where_safe_and_made_safe_elsewhere(tmp_path: Path) -> None:
    problem = planner_problem()
    text = export_model(problem, tmp_path / "plan.lp").read_text()
    assert "max" in text.splitlines()[:3]
    for name in ("c0____budget", "c1_call_minutes", " lines:", " loss:", "c4_2nd__contacts___30", "one_0:"):
        assert name in text
    assert text.isascii()


def test_safe_names_are_unique_and_ascii() -> None:
    names = safe_names(("budget", "budget", "e1", "x_total", "sms quota", "", "预算"), "c")
    assert names == ["budget", "c1_budget", "c2_e1", "c3_x_total", "c4_sms_quota", "c5", "c6"]
    assert len(set(names)) == len(names)


def test_an_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must end in \.lp or \.mps, not '\.txt'"):
        export_model(planner_problem(), tmp_path / "plan.txt")


@pytest.mark.parametrize("suffix", [".lp", ".mps"])
def test_users_are_named_by_their_ids_and_the_file_says_what_it_is(suffix: str, tmp_path: Path) -> None:
    problem = planner_problem()
    ids = [f"U{u:04d}" for u in range(problem.users - 1)] + ["37 odd id"]  # the last one is not a safe name
    comment = ["decide: plan test", "objective: maximise expected profit"]
    path = export_model(problem, tmp_path / f"plan{suffix}", user_names=ids, comment=comment)
    text = path.read_text(encoding="utf-8")
    mark = "\\ " if suffix == ".lp" else "* "
    assert text.startswith(f"{mark}decide: plan test\n{mark}objective: maximise expected profit\n")
    expected = HighsExactSolver(time_limit=60, mip_gap=0.0).solve(problem)
    objective, columns, _ = solve_file(path)  # the comments do not disturb a reader
    assert objective == pytest.approx(expected.objective, rel=1e-9)
    actions = safe_names(problem.action_names, "a")
    users = {name.removeprefix("x_").removesuffix("_" + next(a for a in actions if name.endswith("_" + a)))
             for name in columns}
    assert "U0000" in users and "u79_37_odd_id" in users
    assert len(users) == int(problem.eligible.any(axis=1).sum())
