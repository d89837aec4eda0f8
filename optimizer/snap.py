"""Move a MIP solver's plan inside the limits when it breaks them only by the solver's feasibility tolerance.

HiGHS, SCIP and CBC accept a row as satisfied when it is over by up to about 1e-6 of its scale (SCIP measures
relative to max(1, |lhs|, |rhs|)). Such a plan is optimal for limits 1e-6 wider than the planner wrote: SCIP's
"optimal" plan for a budget of 1,000 spent 1,000.0000277. We do not widen our checker to match (a written plan
keeps the limits as written, optimizer/feasibility.py); we move the plan instead, switching the fewest users
at the least loss of value until every row holds. The solver's bound stays valid (the strict problem is a
restriction of the one the solver solved), and the objective is recomputed, so the gap reports the cost.

A plan that breaks a row by more than the tolerance is a different matter (a backend bug, or a wrong model):
it is not snapped, and the checker rejects it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.feasibility import REL_TOL, row_scale
from optimizer.problem import AllocationProblem, IntArray

SOLVER_TOLERANCE = 1e-6  # the MIP solvers' default primal feasibility tolerance, relative to the row's scale
CANDIDATES = 256  # the cheapest switches checked against every other row, per step
MAX_MOVES = 1_000


@dataclass(frozen=True, slots=True)
class Snapped:
    action: IntArray
    moved: int  # users switched
    note: str  # what was over, for the answer's message


def excess(problem: AllocationProblem, action: IntArray) -> tuple[np.ndarray, np.ndarray]:
    """(K,) how far each row is over its limit in ≤-form (≤ 0 when it holds), and (K,) each row's scale."""
    sign = problem.sign()
    return sign * (problem.usage_of(action) - problem.rhs), row_scale(problem, action)


def snap_to_limits(problem: AllocationProblem, action: IntArray,
                   tolerance: float = SOLVER_TOLERANCE) -> Snapped | None:
    """The plan moved inside every limit, or None when it breaks a row by more than `tolerance` of the row's
    scale (not a tolerance matter) or no switch of a few users fixes it. Returns the plan itself when no row is
    over by more than our checker allows."""
    over, scale = excess(problem, action)
    broken = over > REL_TOL * scale
    if not broken.any():
        return Snapped(action, 0, "")
    if (over > tolerance * scale).any():
        return None
    names = [problem.constraint_names[k] for k in np.flatnonzero(broken)]
    note = ", ".join(f"{name} by {over[k]:.3g} ({over[k] / scale[k]:.1e} of its scale)"
                     for name, k in zip(names, np.flatnonzero(broken), strict=True))
    plan = action.copy()
    moved: set[int] = set()
    for _ in range(MAX_MOVES):
        over, scale = excess(problem, plan)
        if not (over > REL_TOL * scale).any():  # the same test as the checker's
            return Snapped(plan, len(moved), f"the solver's plan was over {note}, within its feasibility "
                                             f"tolerance; {len(moved)} user(s) switched to keep every limit")
        k = int(np.argmax(over / scale))
        user, choice = _cheapest_switch(problem, plan, k, float(over[k]), over)
        if user < 0:
            return None
        plan[user] = choice
        moved.add(user)
    return None


def _cheapest_switch(problem: AllocationProblem, plan: IntArray, k: int, needed: float,
                     over: np.ndarray) -> tuple[int, int]:
    """(user, new action) that lowers row k (≤-form) the most per unit of value lost, preferring a switch that
    covers `needed` alone, without pushing any other row over its limit; (-1, -1) when there is none."""
    p = problem
    sign = p.sign()
    n, a = p.users, p.actions
    if a == 0:
        return -1, -1
    rows = np.arange(n)
    current = np.where(plan >= 0, plan, a)  # column a is "do nothing"
    value = np.concatenate([np.where(p.eligible, p.value, -np.inf), np.zeros((n, 1))], axis=1)
    weight_k = sign[k] * np.concatenate([p.weight[k], np.zeros((n, 1))], axis=1)
    allowed = np.concatenate([p.eligible, np.ones((n, 1), dtype=bool)], axis=1)
    change = weight_k - weight_k[rows, current][:, None]  # < 0 frees row k
    loss = value[rows, current][:, None] - value  # value given up by the switch (may be < 0)
    useful = allowed & (change < 0)
    useful[rows, current] = False
    if not useful.any():
        return -1, -1
    covers = useful & (change <= -needed)
    # When one switch is enough, the cheapest of those; else the least loss per unit freed.
    score = np.where(covers, loss, np.inf) if covers.any() else np.where(useful, loss / -change, np.inf)
    flat = score.ravel()
    count = min(CANDIDATES, int(np.isfinite(flat).sum()))
    best = np.argpartition(flat, count - 1)[:count] if count < flat.size else np.arange(flat.size)
    best = best[np.argsort(flat[best], kind="stable")]
    best = best[np.isfinite(flat[best])]
    users, choices = np.divmod(best, a + 1)
    # Each other row j may absorb the switch up to its slack (its ≤-form excess is ≤ 0 while it holds).
    delta = sign[:, None] * (_weights(p, users, choices) - _weights(p, users, current[users]))  # (K, C)
    room = np.maximum(-over, 0.0)[:, None]
    fits = ((delta <= room) | (delta <= 0)).all(axis=0)
    if not fits.any():
        return -1, -1
    pick = int(np.flatnonzero(fits)[0])
    choice = int(choices[pick])
    return int(users[pick]), (-1 if choice == a else choice)


def _weights(problem: AllocationProblem, users: IntArray, columns: IntArray) -> np.ndarray:
    """(K, C) weights of (user, column) pairs; column A ("do nothing") weighs 0."""
    nothing = columns >= problem.actions
    picked: np.ndarray = problem.weight[:, users, np.where(nothing, 0, columns)].astype(np.float64)
    picked[:, nothing] = 0.0
    return picked
