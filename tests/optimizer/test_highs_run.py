"""run_highs keeps HiGHS to the wall clock: a run far past its time limit is left behind (HiGHS setting up a MIP
over a wide core with lumpy users in it took 225 s against a 10 s limit), and a run within it is untouched."""

from __future__ import annotations

import threading
import time

import highspy
import numpy as np
import pytest

from optimizer.allocation import SolveStatus
from optimizer.core_polish import MIP_THREADS, PROOF_THREADS
from optimizer.feasibility import check_feasible
from optimizer.highs_instance import OVERRUN_SECONDS, new_highs, run_highs
from optimizer.solve_exact_highs import build_highs_model
from simulations.lender_book import lender_book


def _mip(users: int, limit: float) -> highspy.Highs:
    problem, _ = lender_book(users, 2, 50.0, 3)
    solver = new_highs()
    solver.passModel(build_highs_model(problem).lp)
    solver.setOptionValue("time_limit", limit)
    return solver


def test_a_run_that_does_not_look_at_the_clock_is_left_behind_at_its_limit() -> None:
    # A callback that blocks stands for HiGHS's own code that does not look at the clock.
    release = threading.Event()
    solver = _mip(300, 0.5)

    def stuck(_event: object) -> None:
        release.wait(60.0)

    solver.cbMipInterrupt += stuck
    started = time.perf_counter()
    try:
        assert run_highs(solver, MIP_THREADS) is False
        # It waited past the limit, and left long before the stuck run could have finished (60 s).
        assert 0.5 + OVERRUN_SECONDS - 0.1 <= time.perf_counter() - started < 30.0
    finally:
        release.set()  # let the run left behind finish, so it does not outlive the test by a minute


def test_a_run_within_its_limit_is_the_run_itself() -> None:
    # The same MIP, run to its optimum on a run's own thread and straight on this one: the same answer, and HiGHS
    # takes one thread count after another (each run's thread has its own scheduler).
    answers = []
    for threads in (PROOF_THREADS, MIP_THREADS, PROOF_THREADS):
        solver = _mip(200, 60.0)
        assert run_highs(solver, threads)
        assert solver.getModelStatus() == highspy.HighsModelStatus.kOptimal
        answers.append(solver.getInfo().objective_function_value)
    direct = _mip(200, 60.0)
    direct.run()  # on this thread, with whatever scheduler it has: the optimum is the optimum
    assert np.allclose(answers, direct.getInfo().objective_function_value, rtol=1e-9)


def test_exact_highs_left_behind_answers_with_the_best_plan_it_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # A trial's 3,000-user plan: HiGHS ran past its limit and the watchdog killed it with the plan it had. Here
    # HiGHS blocks (a callback standing for its own code) once it has a plan, and is left behind.
    from optimizer import solve_exact_highs

    release = threading.Event()
    real = solve_exact_highs.run_highs

    def stuck_after_a_plan(solver: highspy.Highs, threads: int, patience: float | None = None) -> bool:
        def stuck(_event: object) -> None:  # called after the solver's own recording of the plan
            release.wait(60.0)

        solver.cbMipImprovingSolution += stuck
        return real(solver, threads, patience)

    monkeypatch.setattr(solve_exact_highs, "run_highs", stuck_after_a_plan)
    problem, _ = lender_book(2_000, 2, 50.0, 5)
    try:
        answer = solve_exact_highs.HighsExactSolver(time_limit=1.0).solve(problem)
    finally:
        release.set()
    assert "left behind" in answer.message
    assert answer.status is SolveStatus.FEASIBLE
    assert check_feasible(problem, answer.action) == []
    assert answer.objective == pytest.approx(problem.objective_of(answer.action))
    exact = solve_exact_highs.HighsExactSolver(time_limit=60.0).solve(problem)
    assert answer.bound >= exact.objective * (1 - 1e-9)
