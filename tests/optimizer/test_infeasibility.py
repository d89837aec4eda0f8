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


@st.composite
def problems_with_two_minimums_and_a_share(draw: st.DrawFn) -> AllocationProblem:
    """A minimum, a second ≥ row, and a share-like row (weights of both signs, right-hand side 0)."""
    n, a = draw(st.integers(1, 10)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    contacts = rng.integers(0, 3, (n, a)).astype(float)
    other = rng.integers(0, 5, (n, a)).astype(float)
    share = rng.integers(-3, 3, (n, a)).astype(float)
    rhs = [round(contacts.max(axis=1).sum() * rng.uniform(0, 1.2)),
           round(other.max(axis=1).sum() * rng.uniform(0, 1.2)), 0.0]
    sense = [1, 1, int(draw(st.sampled_from([-1, 1])))]
    return AllocationProblem.from_arrays(rng.uniform(-1, 5, (n, a)), rng.random((n, a)) < 0.8,
                                         np.stack([contacts, other, share]), rhs, sense, ("minimum", "other", "share"))


@settings(deadline=None)
@given(problems_with_two_minimums_and_a_share())
def test_every_reported_conflict_between_minimums_and_shares_is_real(problem: AllocationProblem) -> None:
    conflicts = explain_infeasible(problem)
    exact = HighsExactSolver(time_limit=30).solve(problem)
    if conflicts:
        assert exact.status is SolveStatus.INFEASIBLE, [c.message for c in conflicts]
        for conflict in conflicts:  # and each pair alone is infeasible: the rows it names explain it
            rows = list(conflict.constraints)
            alone = AllocationProblem(problem.value, problem.eligible, problem.weight[rows], problem.rhs[rows],
                                      problem.sense[rows])
            assert HighsExactSolver(time_limit=30).solve(alone).status is SolveStatus.INFEASIBLE


def test_two_minimums_that_conflict_are_a_pair() -> None:
    """Contacts to prime users and loans from watch users share the same 100 users: 80 of one leaves 20 of the
    other; this pair of ≥ rows used to be skipped ("no pair explains it")."""
    n = 100
    prime = np.zeros((n, 2))
    prime[:, 0] = 1
    watch = np.zeros((n, 2))
    watch[:, 1] = 1
    problem = AllocationProblem.from_arrays(np.ones((n, 2)), None, np.stack([prime, watch]), [80, 30], [1, 1],
                                            ("prime_telesales", "watch_minimum"))
    messages = [c.message for c in explain_infeasible(problem)]
    assert "prime_telesales = 80 leaves at most 20 of watch_minimum, but watch_minimum needs at least 30" in messages


def test_a_constraint_impossible_alone_is_not_reported_again_in_pairs() -> None:
    n = 10
    cost = np.full((n, 1), 9.0)
    contacts = np.ones((n, 1))
    problem = AllocationProblem.from_arrays(np.ones((n, 1)), None, np.stack([cost, contacts]), [-5, 4], [-1, 1],
                                            ("total_budget", "prime_telesales"))
    (conflict,) = explain_infeasible(problem)
    assert conflict.message == "total_budget: the limit -5 cannot be kept; no plan gives less than 0"
