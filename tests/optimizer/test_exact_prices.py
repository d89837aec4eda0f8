"""An exact plan's prices come from the dual within the time that is left, never past the time limit, and an
answer without them says so; the dual value at those prices bounds a plan whose backend gave no bound."""

from __future__ import annotations

import time

import numpy as np
import pytest

from optimizer import plan_prices, solvers
from optimizer.allocation import SolveStatus
from optimizer.plan_prices import TIME_LIMIT_NOTE, dual_prices
from optimizer.solve_exact_highs import build_highs_model, lp_relaxation_bound
from tests.optimizer.test_lagrangian_bound import marketing_problem


def _lp_duals(problem: object) -> np.ndarray:
    """The LP relaxation's duals of the coupling rows, by HiGHS's simplex: the reference."""
    from optimizer.highs_instance import new_highs
    from optimizer.problem import AllocationProblem

    assert isinstance(problem, AllocationProblem)
    highs = new_highs()
    highs.passModel(build_highs_model(problem, integer=False).lp)
    highs.run()
    return np.abs(np.asarray(highs.getSolution().row_dual)[problem.users:])


def test_dual_prices_are_the_lp_duals_and_their_value_the_lp_bound() -> None:
    problem = marketing_problem(3_000, seed=11)
    found = dual_prices(problem, seconds=30.0)
    assert found.note == "" and found.prices is not None
    reference = _lp_duals(problem)
    assert np.allclose(found.prices, reference, rtol=1e-3, atol=1e-3 * float(reference.max()))
    lp = lp_relaxation_bound(problem)
    assert lp <= found.bound <= lp * (1 + 1e-6)


def test_dual_prices_stop_at_their_deadline() -> None:
    """At 300,000 users HiGHS's LP for the prices took 17.6 s (simplex: 751 s) after the MIP had used the time
    limit; the dual search checks the clock before every pass and gives up with a note instead."""
    problem = marketing_problem(200_000, seed=12)
    started = time.perf_counter()
    found = dual_prices(problem, seconds=0.3)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.3 + 0.5
    if found.prices is None:
        assert found.note == TIME_LIMIT_NOTE
    assert dual_prices(problem, seconds=0.0).note == TIME_LIMIT_NOTE


def test_exact_solve_gives_the_prices_only_the_time_that_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = marketing_problem(1_000, seed=13)
    given: list[float] = []
    real = plan_prices.dual_prices

    def spy(p: object, seconds: float, plan_value: float = float("-inf")) -> plan_prices.DualPrices:
        given.append(seconds)
        return real(p, seconds, plan_value)  # type: ignore[arg-type]

    monkeypatch.setattr(plan_prices, "dual_prices", spy)
    started = time.perf_counter()
    result = solvers.solve(problem, "exact-highs", time_limit=20.0, watchdog=False)
    assert given and given[0] <= 20.0 - result.seconds + 0.5
    assert time.perf_counter() - started < 20.0
    assert result.has_prices and result.prices.any()


def test_a_plan_without_time_for_prices_says_so() -> None:
    problem = marketing_problem(1_000, seed=13)
    exact = solvers.solve(problem, "exact-highs", time_limit=20.0, watchdog=False)
    late = solvers.with_dual_prices(problem, exact, seconds=0.0)
    assert late.status is SolveStatus.OPTIMAL and not late.has_prices
    assert late.prices_note == "prices not computed: time limit"
    assert late.bound == exact.bound  # the MIP's own bound stands
