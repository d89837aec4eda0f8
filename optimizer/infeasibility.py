"""Why no plan exists: which constraints conflict, and by how much.

Only constraints that "do nothing" violates can force anything (a minimum contacts, a ≥ share, a ≤ with a
negative right-hand side). For each such constraint j:
  1. alone: the most any plan can reach is Σ_u max(0, max_a w_j[u, a]); below the bound, j is impossible;
  2. against each other constraint k: the least of k that reaching j needs. That is an LP with one coupling
     row, min Σ w_k·x s.t. Σ w_j·x ≥ b_j; any μ ≥ 0 gives the lower bound
         μ·b_j + Σ_u min(0, min_a (w_k − μ·w_j)[u, a]),
     a concave function of μ maximised by bisection on its slope. When even that lower bound exceeds k's
     limit, the pair conflicts, and the message gives both amounts.
The claims are sound: "needs at least V" is a proven lower bound, never an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray


@dataclass(frozen=True, slots=True)
class Conflict:
    constraints: tuple[int, ...]  # indices into the problem's constraints
    message: str
    shortfall: float  # how far apart the amounts are, in the units of the last constraint named


def _least_needed(wj: FloatArray, bj: float, wk: FloatArray, eligible: np.ndarray, iterations: int = 80) -> float:
    """A lower bound on min Σ wk·x subject to Σ wj·x ≥ bj (one action or none per user)."""
    big = np.where(eligible, 0.0, np.inf)

    def dual(mu: float) -> tuple[float, float]:
        reduced = wk - mu * wj + big
        best = np.argmin(reduced, axis=1)
        rows = np.arange(reduced.shape[0])
        value = reduced[rows, best]
        take = value < 0
        slope = bj - float(wj[rows[take], best[take]].sum())
        return mu * bj + float(value[take].sum()), slope

    low, high = 0.0, 1.0
    best_value, slope = dual(0.0)
    if slope <= 0:
        return best_value
    while True:  # find a μ where the slope turns negative (it does whenever j is reachable at all)
        value, slope = dual(high)
        best_value = max(best_value, value)
        if slope <= 0 or high > 1e15:
            break
        low, high = high, high * 4
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        value, slope = dual(mid)
        best_value = max(best_value, value)
        if slope > 0:
            low = mid
        else:
            high = mid
    return best_value


def amount(x: float) -> str:
    """Amounts as a planner writes them: 3,000,000 not 3e+06; two decimals only when they matter."""
    x = float(x)
    if abs(x) >= 1e15 or not np.isfinite(x):
        return f"{x:.6g}"
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 or abs(x) >= 1000 else f"{x:,.2f}"


def explain_infeasible(problem: AllocationProblem) -> list[Conflict]:
    p = problem
    sign = p.sign()
    conflicts: list[Conflict] = []
    names = p.constraint_names
    eligible = p.eligible
    for j in range(p.constraints):
        # ≥-form of j: Σ (−sign·w) x ≥ −sign·b; "do nothing" gives 0.
        wj = -sign[j] * p.weight[j]
        bj = float(-sign[j] * p.rhs[j])
        if bj <= 0:
            continue
        reach = float(np.where(eligible, wj, 0.0).max(axis=1, initial=0.0).clip(min=0.0).sum())
        if reach < bj * (1 - 1e-9):
            word = "minimum" if p.sense[j] > 0 else "limit"
            conflicts.append(Conflict((j,), f"{names[j]}: the {word} {amount(p.rhs[j])} cannot be reached; every "
                                            f"eligible user together gives at most {amount(sign[j] * -reach)}",
                                      bj - reach))
            continue
        for k in range(p.constraints):
            if k == j or p.sense[k] > 0:
                continue
            needed = _least_needed(wj, bj, p.weight[k], eligible)
            if needed > p.rhs[k] * (1 + 1e-9) + 1e-9:
                conflicts.append(Conflict(
                    (j, k), f"{names[j]} = {amount(p.rhs[j])} needs at least {amount(needed)} of {names[k]}, "
                            f"but {names[k]} is limited to {amount(p.rhs[k])}", needed - float(p.rhs[k])))
    return sorted(conflicts, key=lambda c: -c.shortfall / max(1.0, abs(c.shortfall)))
