"""An independent feasibility check of a plan: its own code, not any solver's, run before a plan is written."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import AllocationProblem, IntArray

REL_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class Violation:
    constraint: str
    message: str
    amount: float  # how far outside the constraint (in its own units); 0 for structural problems


def check_feasible(problem: AllocationProblem, action: IntArray, rel_tol: float = REL_TOL) -> list[Violation]:
    """Every way `action` breaks the problem: shape, ineligible actions, and each violated constraint.

    `action` is one action index per user (-1: nothing), any integer array or a list; whole numbers stored as
    floats are accepted, anything else is reported rather than used as an index."""
    if not isinstance(problem, AllocationProblem):
        raise TypeError(f"check_feasible: problem must be an AllocationProblem, got {type(problem).__name__}")
    n = problem.users
    given = np.asarray(action)
    if given.shape != (n,):
        return [Violation("shape", f"the plan has shape {given.shape}, expected (N,) = ({n},): one action index "
                                   "per user", 0.0)]
    if given.dtype.kind not in "iuf":
        raise TypeError(f"check_feasible: action must hold integer action indices (-1 for nothing), got dtype "
                        f"{given.dtype}")
    if given.dtype.kind == "f":
        fractional = ~np.isfinite(given) | (given != np.floor(given))
        if fractional.any():
            first = int(np.nonzero(fractional)[0][0])
            return [Violation("actions", f"{int(fractional.sum())} users have an action index that is not a whole "
                                         f"number (first: user {first}, {float(given[first])})", 0.0)]
    action = given.astype(np.int64, copy=False)
    problems: list[Violation] = []
    out_of_range = (action < -1) | (action >= problem.actions)
    if out_of_range.any():
        problems.append(Violation("actions", f"{int(out_of_range.sum())} users have an action index outside "
                                             f"-1 … {problem.actions - 1}", 0.0))
        return problems
    users = np.arange(n)
    taken = action >= 0
    not_allowed = taken.copy()
    not_allowed[taken] = ~problem.eligible[users[taken], action[taken]]
    if not_allowed.any():
        first = int(np.nonzero(not_allowed)[0][0])
        problems.append(Violation(
            "eligible", f"{int(not_allowed.sum())} users get an action they are not eligible for "
                        f"(first: user {first}, action {problem.action_names[action[first]]})", 0.0))
    # Sum the left-hand sides constraint by constraint with plain loops over k: independent of the solvers.
    for k, name in enumerate(problem.constraint_names):
        lhs = float(np.sum(problem.weight[k, users[taken], action[taken]], dtype=np.float64))
        rhs = float(problem.rhs[k])
        tol = rel_tol * max(1.0, abs(rhs))
        if problem.sense[k] < 0 and lhs > rhs + tol:
            problems.append(Violation(name, f"{name}: {lhs:,.6g} > {rhs:,.6g}", lhs - rhs))
        if problem.sense[k] > 0 and lhs < rhs - tol:
            problems.append(Violation(name, f"{name}: {lhs:,.6g} < {rhs:,.6g}", rhs - lhs))
    return problems
