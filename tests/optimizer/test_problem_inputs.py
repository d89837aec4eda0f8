"""The API as a user calling it from a notebook meets it: wrong types and shapes get a message that names the
argument and says what was expected, never a raw IndexError/AttributeError from deep inside numpy."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from optimizer.allocation import Allocation, SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem, ProblemShapeError
from optimizer.solve_lagrangian import LagrangianOptions, solve_lagrangian
from optimizer.solvers import solve

N, A = 6, 2


def arrays(dtype: type[np.floating] = np.float64) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "value": rng.uniform(1, 5, (N, A)).astype(dtype),
        "eligible": np.ones((N, A), dtype=bool),
        "weight": rng.uniform(0, 2, (2, N, A)).astype(dtype),
        "rhs": np.array([4.0, 5.0]),
        "sense": np.array([-1, 1], dtype=np.int8),
    }


def test_from_arrays_keeps_float32() -> None:
    problem = AllocationProblem.from_arrays(**arrays(np.float32))
    assert problem.value.dtype == np.float32 and problem.weight.dtype == np.float32
    assert problem.rhs.dtype == np.float64  # K numbers: no memory to save


def test_from_arrays_makes_anything_else_float64() -> None:
    given = arrays()
    given["value"] = np.arange(N * A, dtype=np.int32).reshape(N, A)
    given["weight"] = given["weight"].astype(np.float16)
    problem = AllocationProblem.from_arrays(**given)
    assert problem.value.dtype == np.float64 and problem.weight.dtype == np.float64


def test_constructor_accepts_lists_where_the_meaning_is_obvious() -> None:
    given = arrays()
    from_lists = AllocationProblem(given["value"], given["eligible"], given["weight"], [4.0, 5], [-1, 1],
                                   ["budget", "minimum"], ["sms", "call"])  # type: ignore[arg-type]
    assert from_lists.rhs.dtype == np.float64 and from_lists.sense.dtype == np.int8
    assert from_lists.constraint_names == ("budget", "minimum") and from_lists.action_names == ("sms", "call")
    nested = AllocationProblem(given["value"].tolist(), given["eligible"].tolist(),  # type: ignore[arg-type]
                               given["weight"].tolist(), [4.0, 5.0], [-1, 1])  # type: ignore[arg-type]
    assert np.array_equal(nested.value, given["value"]) and nested.eligible.dtype == np.bool_


@pytest.mark.parametrize(
    ("argument", "bad", "message"),
    [
        pytest.param("sense", [255, -1], "sense must be an array of -1 (≤) and +1 (≥)", id="sense-would-wrap"),
        pytest.param("sense", ["<=", ">="], "sense must be an array of -1 (≤) and +1 (≥)", id="sense-strings"),
        pytest.param("sense", [0, 1], "sense must be an array of -1 (≤) and +1 (≥)", id="sense-zero"),
        pytest.param("rhs", ["a lot", 5.0], "rhs must be an array of numbers", id="rhs-strings"),
        pytest.param("rhs", None, "rhs must be an array of numbers, got NoneType", id="rhs-none"),
        pytest.param("value", [[1.0, 2.0], [3.0]], "value must be an array of numbers", id="ragged-value"),
        pytest.param("value", np.ones((N, A), dtype=bool), "value must be an array of numbers", id="bool-value"),
        pytest.param("eligible", np.full((N, A), 0.5), "eligible must be an array of true/false", id="float-mask"),
        pytest.param("eligible", np.full((N, A), 2), "integers other than 0 and 1", id="eligible-2"),
        pytest.param("constraint_names", ("budget", "budget"), "constraint names must differ: 'budget' given twice",
                     id="same-name-twice"),
        pytest.param("rhs", [np.inf, 5.0], "rhs must be finite; it is NaN or infinite for c0", id="inf-rhs"),
        pytest.param("rhs", [4.0], "rhs has shape (1,), expected (K,) = (2,)", id="rhs-length"),
    ],
)
def test_from_arrays_names_the_bad_argument(argument: str, bad: object, message: str) -> None:
    given = arrays()
    given[argument] = bad
    with pytest.raises(ProblemShapeError) as caught:
        AllocationProblem.from_arrays(**given)
    assert message in str(caught.value)


def test_non_finite_weight_names_its_constraint() -> None:
    given = arrays()
    given["weight"][1, 2, 0] = np.nan
    with pytest.raises(ProblemShapeError, match=r"NaN or infinite entries in minimum \(1\)"):
        AllocationProblem.from_arrays(**given, constraint_names=("budget", "minimum"))


def test_constructor_names_wrong_dtype_and_points_to_from_arrays() -> None:
    given = arrays()
    with pytest.raises(ProblemShapeError, match=r"value has dtype int64, expected float64 or float32 "
                                                r"\(AllocationProblem.from_arrays converts\)"):
        AllocationProblem(given["value"].astype(np.int64), given["eligible"], given["weight"], given["rhs"],
                          given["sense"])


@pytest.fixture
def problem() -> AllocationProblem:
    given = arrays()
    given["rhs"] = np.array([100.0, 0.0])
    return AllocationProblem.from_arrays(**given)


def test_check_feasible_accepts_a_list_and_whole_floats(problem: AllocationProblem) -> None:
    plan = [0, 1, -1, 0, 1, -1]
    assert check_feasible(problem, plan) == []  # type: ignore[arg-type]
    assert check_feasible(problem, np.asarray(plan, dtype=np.float64)) == []


def test_check_feasible_reports_fractional_indices(problem: AllocationProblem) -> None:
    [violation] = check_feasible(problem, np.full(N, 0.5))
    assert violation.constraint == "actions"
    assert "6 users have an action index that is not a whole number (first: user 0, 0.5)" in violation.message


def test_check_feasible_reports_a_scalar_as_a_shape_problem(problem: AllocationProblem) -> None:
    [violation] = check_feasible(problem, 0.0)  # type: ignore[arg-type]
    assert violation.constraint == "shape" and "expected (N,) = (6,)" in violation.message


@pytest.mark.parametrize("bad", [np.ones(N, dtype=bool), ["sms"] * N], ids=["booleans", "strings"])
def test_check_feasible_rejects_non_indices(problem: AllocationProblem, bad: object) -> None:
    with pytest.raises(TypeError, match="action must hold integer action indices"):
        check_feasible(problem, bad)  # type: ignore[arg-type]


def test_check_feasible_needs_a_problem() -> None:
    with pytest.raises(TypeError, match="problem must be an AllocationProblem, got dict"):
        check_feasible(arrays(), np.zeros(N, dtype=np.int64))  # type: ignore[arg-type]


def test_solve_needs_a_problem_and_a_positive_time_limit(problem: AllocationProblem) -> None:
    with pytest.raises(TypeError, match=r"problem must be an AllocationProblem .* got tuple"):
        solve(tuple(arrays().values()), "lagrangian")  # type: ignore[arg-type]
    for bad in (0.0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="time_limit must be a number of seconds above 0"):
            solve(problem, "exact-highs", bad)


@pytest.mark.parametrize(("option", "bad"), [("gap", -1.0), ("gap", float("nan")), ("time_limit", -5.0),
                                             ("time_limit", float("inf")), ("serious_fraction", 0.0),
                                             ("polish_share", 2.0), ("max_passes", 0), ("polish_users", 1.5),
                                             ("fill_rounds", True), ("enough", float("nan")),
                                             ("enough", "1e6")])
def test_lagrangian_options_refuse_what_would_run_wrong(option: str, bad: object) -> None:
    with pytest.raises(ValueError, match=f"LagrangianOptions: {option} must be"):
        LagrangianOptions(**{option: bad})


def test_lagrangian_options_take_numpy_numbers() -> None:
    assert LagrangianOptions(gap=np.float64(1e-3), polish_users=np.int64(100)).polish_users == 100


@pytest.mark.parametrize("start", [np.zeros(5), np.array([np.nan, 0.0]), np.zeros((2, 1))])
def test_lagrangian_start_must_be_one_finite_price_per_constraint(problem: AllocationProblem,
                                                                   start: np.ndarray) -> None:
    with pytest.raises(ValueError, match="start must be 2 finite prices, one per constraint"):
        solve_lagrangian(problem, start=start)


def test_the_gap_is_relative_to_at_least_one_unit() -> None:
    # Every action loses money: doing nothing (0) is optimal; CP-SAT's bound came back as 4.46e-9.
    plan = np.full(1, -1, dtype=np.int32)
    answer = Allocation(plan, 0.0, 4.46e-9, SolveStatus.OPTIMAL, "exact-cpsat", 0.1, np.zeros(0), np.zeros(0))
    assert answer.gap == pytest.approx(4.46e-9)
    assert dataclasses.replace(answer, objective=90.0, bound=100.0).gap == pytest.approx(0.1)
    # A real gap of 8.5e-8 at 10^6 users stays what it is.
    large = dataclasses.replace(answer, objective=38_684_914.2, bound=38_684_917.5)
    assert large.gap == pytest.approx(8.53e-8, rel=1e-2)
    assert dataclasses.replace(answer, bound=float("inf")).gap == float("inf")


def test_exact_highs_says_why_it_cannot_take_huge_numbers() -> None:
    given = arrays()
    given["value"] = np.asarray(given["value"]) * 1e300  # a trial's case: "no solution", and no reason given
    answer = solve(AllocationProblem.from_arrays(**given), "exact-highs", 5.0, watchdog=False)
    assert answer.status is SolveStatus.NO_SOLUTION
    assert "HiGHS takes 1e+20 and above as infinite" in answer.message
