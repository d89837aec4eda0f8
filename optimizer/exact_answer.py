"""How an exact backend's raw answer becomes an Allocation: one set of rules for CP-SAT, SCIP and CBC.

A backend's status string is never trusted alone (PuLP says "Optimal" after a CBC time-out): the plan read back
from the backend goes through our own feasibility checker, the objective is recomputed on the original float
problem, and only a proof from the backend plus a passing check makes an answer OPTIMAL. A plan over a limit by
no more than the backend's own feasibility tolerance is first moved inside it (optimizer/snap.py).
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.allocation import Allocation, SolveStatus
from optimizer.feasibility import check_feasible
from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.snap import snap_to_limits

# A MIP has no duals; optimizer.solvers.solve adds the LP relaxation's prices when there is time (plan_prices).
NO_PRICES = "prices not computed: an exact backend gives none"


def eligible_pairs(problem: AllocationProblem) -> tuple[IntArray, IntArray]:
    """(V,) user and (V,) action of every variable, sorted by user: variables exist only where eligible."""
    users, actions = np.nonzero(problem.eligible)
    return users.astype(np.int64), actions.astype(np.int64)


def plan_from_columns(problem: AllocationProblem, users: IntArray, actions: IntArray,
                      columns: FloatArray) -> IntArray:
    """(N,) action per user from a 0/1 column vector; a user with two columns on is left for the checker to flag
    (it then has the last one, and the row "at most one" was not honoured: a backend bug, not ours to hide)."""
    action = np.full(problem.users, -1, dtype=np.int32)
    on = columns > 0.5
    action[users[on]] = actions[on]
    return action


def nothing_to_choose(problem: AllocationProblem, method: str, started: float) -> Allocation:
    """No eligible (user, action) pair: doing nothing is the only plan, optimal if it satisfies every row."""
    nothing = np.full(problem.users, -1, dtype=np.int32)
    violations = check_feasible(problem, nothing)
    k = problem.constraints
    seconds = time.perf_counter() - started
    if violations:
        return infeasible(problem, method, started,
                          "no user is eligible for any action, and doing nothing breaks "
                          + "; ".join(v.message for v in violations))
    return Allocation(nothing, 0.0, 0.0, SolveStatus.OPTIMAL, method, seconds, np.zeros(k),
                      problem.usage_of(nothing), message="no user is eligible for any action")


def infeasible(problem: AllocationProblem, method: str, started: float, message: str) -> Allocation:
    k = problem.constraints
    return Allocation(np.full(problem.users, -1, dtype=np.int32), float("-inf"), float("-inf"),
                      SolveStatus.INFEASIBLE, method, time.perf_counter() - started, np.zeros(k), np.zeros(k),
                      message=message)


def no_solution(problem: AllocationProblem, method: str, started: float, message: str,
                bound: float = float("inf")) -> Allocation:
    k = problem.constraints
    return Allocation(np.full(problem.users, -1, dtype=np.int32), float("-inf"), bound, SolveStatus.NO_SOLUTION,
                      method, time.perf_counter() - started, np.zeros(k), np.zeros(k), message=message)


def checked_allocation(problem: AllocationProblem, action: IntArray, *, bound: float, proven: bool,
                       gap_tolerance: float, method: str, started: float, message: str,
                       prices: FloatArray | None = None) -> Allocation:
    """A plan read back from a backend, checked and re-valued.

    `bound` must be a valid upper bound on the original problem's optimum (+inf when the backend gives none).
    `proven` is the backend's claim of optimality; the answer is OPTIMAL when that claim holds up, or when the
    certified gap (bound − objective) / |bound| is within `gap_tolerance`.
    """
    snapped = snap_to_limits(problem, action)
    if snapped is not None and snapped.moved:
        # The backend's proof was for limits widened by its tolerance; only the gap can still prove optimality.
        action, proven, message = snapped.action, False, f"{message}; {snapped.note}"
    violations = check_feasible(problem, action)
    if violations:
        detail = "; ".join(v.message for v in violations[:3])
        return no_solution(problem, method, started,
                           f"{message}; the plan it returned fails our feasibility check: {detail}", bound)
    objective = problem.objective_of(action)
    # A backend's bound is computed to its own tolerances: never report one below the plan we hold.
    bound = max(bound, objective) if not np.isnan(bound) else float("inf")
    gap = (bound - objective) / max(abs(bound), 1e-12) if np.isfinite(bound) else float("inf")
    status = SolveStatus.OPTIMAL if proven or gap <= gap_tolerance else SolveStatus.FEASIBLE
    k = problem.constraints
    return Allocation(action, objective, bound, status, method, time.perf_counter() - started,
                      np.zeros(k) if prices is None else prices, problem.usage_of(action), message=message,
                      prices_note=NO_PRICES if prices is None and k else "")
