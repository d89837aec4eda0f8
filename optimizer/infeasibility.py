"""Why no plan exists: which constraints conflict, and by how much.

Only constraints that "do nothing" violates can force anything (a minimum contacts, a ≤ with a negative
right-hand side); a share row never does (its right-hand side is 0). For each such constraint j:
  1. alone: the most any plan can reach is Σ_u max(0, max_a w_j[u, a]); below the bound, j is impossible;
  2. against each other constraint k, of either sense (a limit, another minimum, a share): the least of k, in
     k's ≤-form, that reaching j needs. That is an LP with one coupling row, min Σ w_k·x s.t. Σ w_j·x ≥ b_j;
     any μ ≥ 0 gives the lower bound
         μ·b_j + Σ_u min(0, min_a (w_k − μ·w_j)[u, a]),
     a concave function of μ maximised by bisection on its slope. When even that lower bound exceeds k's
     limit, the pair conflicts, and the message gives both amounts. For a ≥ row k the ≤-form is −w_k ≤ −b_k:
     "reaching j leaves at most V of k, and k needs at least b_k".
The claims are sound: "needs at least V" is a proven lower bound, never an estimate. A pair that includes a
constraint impossible on its own is not reported again: the constraint alone is the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import AllocationProblem, BoolArray, FloatArray


@dataclass(frozen=True, slots=True)
class Conflict:
    constraints: tuple[int, ...]  # indices into the problem's constraints: (j,) alone, (j, k) a pair
    message: str
    shortfall: float  # how far apart the amounts are, in the units of the last constraint named
    # Alone: the most (≥ row) or least (≤ row) of j any plan gives. A pair: the least (≤ row k) or most
    # (≥ row k) of k that any plan reaching j gives. Both in the constraint's own orientation.
    amount: float = float("nan")


def least_needed(wj: FloatArray, bj: float, wk: FloatArray, eligible: BoolArray, iterations: int = 80) -> float:
    """A lower bound on min Σ wk·x subject to Σ wj·x ≥ bj (one action or none per user)."""
    # A user whose every eligible action has wj ≤ 0 and wk ≥ 0 takes nothing at any μ ≥ 0 and adds nothing to
    # the bound or its slope: leave such users out (at 300,000 users a count of one tier's telesales calls
    # concerns a few thousand, and each of the ~100 steps below is a pass over the rest).
    matter = (eligible & ((wj > 0) | (wk < 0))).any(axis=1)
    if not matter.all():
        wj, wk, eligible = wj[matter], wk[matter], eligible[matter]
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
    """Amounts as a planner writes them: 3,000,000 not 3e+06; two decimals only when they matter; -0 is 0."""
    x = float(x) + 0.0  # + 0.0 turns -0.0 into 0.0
    if abs(x) >= 1e15 or not np.isfinite(x):
        return f"{x:.6g}"
    shown = f"{x:,.0f}" if abs(x - round(x)) < 1e-9 or abs(x) >= 1000 else f"{x:,.2f}"
    return "0" if shown in ("-0", "-0.00") else shown


def forcing(problem: AllocationProblem) -> list[int]:
    """The constraints "do nothing" breaks: the only ones that can force a plan to do anything."""
    sign = problem.sign()
    return [j for j in range(problem.constraints) if -sign[j] * problem.rhs[j] > 0]


def explain_infeasible(problem: AllocationProblem) -> list[Conflict]:
    p = problem
    sign = p.sign()
    names = p.constraint_names
    eligible = p.eligible
    alone: list[Conflict] = []
    pairs: list[Conflict] = []
    for j in forcing(p):
        # ≥-form of j: Σ (−sign·w) x ≥ −sign·b; "do nothing" gives 0.
        wj = -sign[j] * p.weight[j]
        bj = float(-sign[j] * p.rhs[j])
        reach = float(np.where(eligible, wj, 0.0).max(axis=1, initial=0.0).clip(min=0.0).sum())
        if reach < bj * (1 - 1e-9):
            most = -sign[j] * reach  # in j's own orientation: the most of a ≥ row, the least of a ≤ row
            text = (f"the minimum {amount(p.rhs[j])} cannot be reached; every eligible user together gives at most "
                    f"{amount(most)}" if p.sense[j] > 0 else
                    f"the limit {amount(p.rhs[j])} cannot be kept; no plan gives less than {amount(most)}")
            alone.append(Conflict((j,), f"{names[j]}: {text}", bj - reach, most))
    impossible = {c.constraints[0] for c in alone}
    for j in forcing(p):
        if j in impossible:
            continue
        wj = -sign[j] * p.weight[j]
        bj = float(-sign[j] * p.rhs[j])
        for k in range(p.constraints):
            if k == j or k in impossible:
                continue
            # k in ≤-form: Σ sign·w_k x ≤ sign·b_k; reaching j needs at least `needed` of its left-hand side.
            needed = least_needed(wj, bj, sign[k] * p.weight[k], eligible)
            limit = float(sign[k] * p.rhs[k])
            if needed <= limit + 1e-9 * max(1.0, abs(limit)):
                continue
            own = float(sign[k] * needed)  # in k's own orientation: the least of a ≤ row, the most of a ≥ row
            if p.sense[k] < 0:
                text = f"needs at least {amount(own)} of {names[k]}, but {names[k]} is limited to {amount(p.rhs[k])}"
            else:
                text = f"leaves at most {amount(own)} of {names[k]}, but {names[k]} needs at least {amount(p.rhs[k])}"
            pairs.append(Conflict((j, k), f"{names[j]} = {amount(p.rhs[j])} {text}", needed - limit, own))
    return sorted(alone, key=lambda c: -c.shortfall / max(1.0, abs(c.shortfall))) + \
        sorted(pairs, key=lambda c: -c.shortfall / max(1.0, abs(c.shortfall)))
