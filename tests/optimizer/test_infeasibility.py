"""Explanations of infeasibility are sound (a reported conflict is a real one) and name the amounts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.allocation import SolveStatus
from optimizer.infeasibility import amount, explain_infeasible
from optimizer.problem import AllocationProblem
from optimizer.solve_exact_highs import HighsExactSolver


@st.composite
def problems_with_minimums(draw: st.DrawFn) -> AllocationProblem:
    n, a = draw(st.integers(1, 12)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weight = rng.integers(0, 6, (3, n, a)).astype(float)
    rhs = np.array([weight[0].sum() * rng.uniform(0, 0.6), weight[1].sum() * rng.uniform(0, 0.6),
                    weight[2].max(axis=1).sum() * rng.uniform(0, 1.3)]).round()
    return AllocationProblem.from_arrays(rng.uniform(-1, 5, (n, a)), rng.random((n, a)) < 0.8, weight, rhs,
                                         [-1, -1, 1], ("budget", "minutes", "minimum"))


@settings(deadline=None)
@given(problems_with_minimums())
def test_every_reported_conflict_is_real(problem: AllocationProblem) -> None:
    conflicts = explain_infeasible(problem)
    exact = HighsExactSolver(time_limit=30).solve(problem)
    if conflicts:
        assert exact.status is SolveStatus.INFEASIBLE, [c.message for c in conflicts]


def test_pair_conflict_gives_both_amounts() -> None:
    n = 1_000
    minutes = np.zeros((n, 2))
    minutes[:, 0] = np.linspace(4, 8, n)
    contacts = np.zeros((n, 2))
    contacts[:, 0] = 1
    problem = AllocationProblem.from_arrays(np.ones((n, 2)), None, np.stack([minutes, contacts]), [1_000, 300],
                                            [-1, 1], ("agent_minutes", "prime_telesales"))
    (conflict,) = explain_infeasible(problem)
    # The cheapest 300 calls take 4.0 … 5.2 minutes: 1,380 minutes at least.
    assert conflict.constraints == (1, 0)
    assert conflict.message == ("prime_telesales = 300 needs at least 1,380 of agent_minutes, "
                                "but agent_minutes is limited to 1,000")


def test_amounts_read_like_a_planner_writes_them() -> None:
    assert [amount(3e6), amount(2.5), amount(1234.567), amount(0.0)] == ["3,000,000", "2.50", "1,235", "0"]
