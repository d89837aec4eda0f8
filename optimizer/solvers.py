"""The registry of solvers (name → factory) and `solve(problem, method="auto")`.

Nothing is imported or probed when this module is imported: each factory imports its backend when called, and
a missing backend raises SolverUnavailable then (pulp's solver probe at import time is what we avoid).

`auto` sends a problem to the exact MIP (HiGHS, under the watchdog) when it has at most EXACT_MAX_USERS users
and the time limit leaves room for it, and to the Lagrangian solver otherwise, or when the exact run is
stopped without a plan. The numbers come from solver-notes (HiGHS MIP: 1.0 s at 1,000 users, 15.5 s at 10,000,
no plan in 398 s at 100,000; the Lagrangian: 0.22 s at 10,000 users with a certified gap of 5e-5; the spring
plan's 8 constraints at 20,000 users: HiGHS 41 s, the Lagrangian about 1 s to 1e-5).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.problem import AllocationProblem
from optimizer.solver_protocol import Solver, SolverUnavailable

AUTO = "auto"
DEFAULT_TIME_LIMIT = 300.0
# HiGHS proves the optimum at a few thousand users in seconds; beyond, the Lagrangian reaches 1e-4 in 1-2 s
# where the MIP took 41 s (the 8-constraint spring plan at 20,000 users), and it closes its own gap with the
# whole MIP when a small problem needs it.
EXACT_MAX_USERS = 5_000
EXACT_SECONDS_PER_USER = 2e-3  # HiGHS took 1.55 ms per user at 10,000 users; rounded up
EXACT_SHARE = 0.75  # of the time limit, the watchdog's deadline for the exact run; the rest is for the fallback


@dataclass(frozen=True, slots=True)
class SolverInfo:
    name: str
    exact: bool  # proves optimality (within its gap) when it finishes; else a heuristic with a certified bound
    summary: str
    make: Callable[[float], Solver]  # time limit in seconds → a configured solver


def _exact_highs(time_limit: float) -> Solver:
    from optimizer.solve_exact_highs import HighsExactSolver

    return HighsExactSolver(time_limit=time_limit)


def _ortools_missing(name: str, err: ImportError) -> SolverUnavailable:
    return SolverUnavailable(name, f"needs ortools and scipy (pip install 'ortools>=9.10' 'scipy>=1.11'): {err}")


def _exact_cpsat(time_limit: float) -> Solver:
    try:
        from optimizer.solve_exact_ortools import CpSatSolver
    except ImportError as err:
        raise _ortools_missing("exact-cpsat", err) from err
    return CpSatSolver(time_limit=time_limit)


def _exact_scip(time_limit: float) -> Solver:
    try:
        from optimizer.solve_exact_ortools import ScipSolver
    except ImportError as err:
        raise _ortools_missing("exact-scip", err) from err
    return ScipSolver(time_limit=time_limit)


def _exact_pulp(time_limit: float) -> Solver:
    try:
        from optimizer.solve_exact_pulp import PulpCbcSolver
    except ImportError as err:
        raise SolverUnavailable("exact-pulp", f"needs PuLP (pip install 'pulp>=3.3'): {err}") from err
    return PulpCbcSolver(time_limit=time_limit)


def _lagrangian(time_limit: float) -> Solver:
    from optimizer.solve_lagrangian import LagrangianOptions, LagrangianSolver

    return LagrangianSolver(LagrangianOptions(time_limit=time_limit))


REGISTRY: tuple[SolverInfo, ...] = (
    SolverInfo("exact-highs", True, "the MIP in HiGHS, built from arrays (the fastest exact path)", _exact_highs),
    SolverInfo("exact-cpsat", True, "OR-Tools CP-SAT on the integer-scaled MIP, one worker", _exact_cpsat),
    SolverInfo("exact-scip", True, "SCIP through OR-Tools' model builder, built from arrays", _exact_scip),
    SolverInfo("exact-pulp", True, "PuLP + CBC, the baseline planners know", _exact_pulp),
    SolverInfo("lagrangian", False, "Lagrangian dual decomposition in numpy, with a certified bound", _lagrangian),
)


class UnknownSolverError(ValueError):
    def __init__(self, name: str) -> None:
        known = [AUTO, *registered()]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        super().__init__(f"unknown solver '{name}'{hint}; choose one of: {', '.join(known)}")
        self.name = name


def registered() -> tuple[str, ...]:
    return tuple(info.name for info in REGISTRY)


def solver_info(name: str) -> SolverInfo:
    if not isinstance(name, str):  # None or a solver object: difflib would fail on it with a riddle
        raise TypeError(f"method must be the name of a solver, one of {', '.join([AUTO, *registered()])}; "
                        f"got {name!r}")
    for info in REGISTRY:
        if info.name == name:
            return info
    raise UnknownSolverError(name)


def make_solver(name: str, time_limit: float = DEFAULT_TIME_LIMIT) -> Solver:
    """A configured solver; raises UnknownSolverError for a misspelt name, SolverUnavailable for a missing
    backend."""
    return solver_info(name).make(time_limit)


def auto_method(problem: AllocationProblem, time_limit: float) -> str:
    """The method `auto` picks: exact when the problem is small enough for the time limit."""
    expected = EXACT_SECONDS_PER_USER * problem.users
    if problem.users <= EXACT_MAX_USERS and expected <= 0.5 * EXACT_SHARE * time_limit:
        return "exact-highs"
    return "lagrangian"


def own_time_limit(deadline: float) -> float:
    """The time limit a solver gets under a watchdog with this deadline: enough margin to stop on its own and
    return its best plan (process start-up, model building, writing the answer) before it has to be killed."""
    return max(0.5 * deadline, 0.85 * deadline - 1.0)


def solve(problem: AllocationProblem, method: str = AUTO, time_limit: float = DEFAULT_TIME_LIMIT,
          watchdog: bool = True) -> Allocation:
    """Solve with a registered method, or `auto`. Exact methods run under the watchdog unless `watchdog=False`
    (the watchdog costs a process start, about half a second)."""
    if not isinstance(problem, AllocationProblem):  # a dict or a tuple of arrays would fail deep inside a solver
        raise TypeError(f"solve: problem must be an AllocationProblem (AllocationProblem.from_arrays builds one from "
                        f"arrays), got {type(problem).__name__}")
    if isinstance(time_limit, bool) or not (isinstance(time_limit, int | float) and math.isfinite(time_limit)
                                            and time_limit > 0):
        raise ValueError(f"solve: time_limit must be a number of seconds above 0, got {time_limit!r}")
    started = time.perf_counter()
    if method != AUTO:
        return _run(problem, solver_info(method), time_limit, watchdog)
    chosen = auto_method(problem, time_limit)
    if chosen == "lagrangian":
        return _run(problem, solver_info(chosen), time_limit, watchdog)
    result = _run(problem, solver_info(chosen), EXACT_SHARE * time_limit, watchdog)
    if result.status is not SolveStatus.NO_SOLUTION:
        return result
    remaining = max(time_limit - (time.perf_counter() - started), 0.1 * time_limit)
    fallback = _run(problem, solver_info("lagrangian"), remaining, watchdog)
    note = (f"auto: {chosen} gave no plan in {result.seconds:.0f} s ({result.message}); answered by lagrangian")
    # The answer's time is the whole solve's: a headline of the fallback's seconds alone hid a trial's 225 s.
    return dataclasses.replace(fallback, message=f"{note}. {fallback.message}".strip(),
                               seconds=time.perf_counter() - started)


def _run(problem: AllocationProblem, info: SolverInfo, time_limit: float, watchdog: bool) -> Allocation:
    started = time.perf_counter()
    if not (info.exact and watchdog):
        result = info.make(time_limit).solve(problem)
    else:
        from optimizer.watchdog import Watchdog

        result = Watchdog(info.make(own_time_limit(time_limit)), deadline=time_limit).solve(problem)
    if info.exact and result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE) and not result.has_prices:
        result = with_dual_prices(problem, result, time_limit - (time.perf_counter() - started))
    return result


def with_dual_prices(problem: AllocationProblem, result: Allocation, seconds: float) -> Allocation:
    """An exact plan with the LP prices found in `seconds` (optimizer/plan_prices.py), or a note that there was
    no time for them; the dual value at the prices also bounds the optimum, which tightens (or, after a CBC
    time-out without a printed bound, gives) the plan's bound."""
    from optimizer.plan_prices import dual_prices

    started = time.perf_counter()
    found = dual_prices(problem, seconds, plan_value=result.objective)
    bound = max(min(result.bound, found.bound), result.objective)
    prices = found.prices if found.prices is not None else np.zeros(problem.constraints)
    return dataclasses.replace(result, prices=prices, prices_note=found.note, bound=bound,
                               seconds=result.seconds + time.perf_counter() - started)
