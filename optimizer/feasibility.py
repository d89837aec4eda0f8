"""An independent feasibility check of a plan: its own code, not any solver's, run before a plan is written.

Tolerance. A limit is a planner's number: a written plan must keep it, not keep it "within a solver's
tolerance". The only slack allowed is the rounding of the sum itself: Σ w·x over up to 10⁷ terms in float64 is
exact to about N·2⁻⁵³ ≈ 1e-9 of the magnitude of its terms, so a row may be over by REL_TOL of
max(1, |limit|, Σ|w·x|), no more. The scale includes Σ|w·x| because a share row (Σ (1[watch] − s)·loans ≤ 0)
has a limit of 0 and terms of both signs: its rounding is relative to the terms, not to the limit.

MIP solvers accept rows broken by their own feasibility tolerance (about 1e-6 of the row's scale in HiGHS,
SCIP and CBC); such plans are moved inside the limits by `optimizer.snap` before they reach this check, and
never by widening it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray, IntArray

REL_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class Violation:
    constraint: str
    message: str
    amount: float  # how far outside the constraint (in its own units); 0 for structural problems


def row_scale(problem: AllocationProblem, action: IntArray) -> FloatArray:
    """(K,) max(1, |rhs|, Σ|w·x|): what a row's rounding, and a solver's tolerance, are relative to."""
    taken = action >= 0
    rows = np.nonzero(taken)[0]
    magnitude = np.abs(problem.weight[:, rows, action[taken]]).sum(axis=1, dtype=np.float64)
    scale: FloatArray = np.maximum(np.maximum(1.0, np.abs(problem.rhs)), magnitude)
    return scale


def exact_number(x: float) -> str:
    """A left-hand side or limit with every digit that can matter (12 significant): 1,000,000.0277, not 1e+06."""
    return f"{x:,.12g}" if np.isfinite(x) and abs(x) < 1e15 else f"{x:.12g}"


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
        terms = problem.weight[k, users[taken], action[taken]]
        lhs = float(np.sum(terms, dtype=np.float64))
        rhs = float(problem.rhs[k])
        scale = max(1.0, abs(rhs), float(np.abs(terms).sum(dtype=np.float64)))
        excess = (lhs - rhs) if problem.sense[k] < 0 else (rhs - lhs)
        if excess > rel_tol * scale:
            # The amounts can differ in the 8th digit: print them in full and the excess on its own.
            relation = ">" if problem.sense[k] < 0 else "<"
            word = "over" if problem.sense[k] < 0 else "short"
            problems.append(Violation(name, f"{name}: {exact_number(lhs)} {relation} {exact_number(rhs)} ({word} by "
                                            f"{excess:.3g}, {excess / scale:.2g} of the row's scale)", excess))
    return problems
