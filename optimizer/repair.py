"""From the users' choices at the dual prices to a strictly feasible plan (repair), then use leftover slack (fill).

Repair takes the most violated constraint and frees exactly what is needed by switching the users whose
switch costs least per unit freed, measured in reduced value at the current prices: these are the users
nearest to a switch, the ones the LP would have split. Only the cheapest few are ever sorted (a partial
selection that widens until it covers the excess). Switching can load another constraint, so it loops over
constraints until none is violated. Fill then upgrades users by value per unit of priced resource, taking
the longest prefix that every constraint's slack allows.
"""

from __future__ import annotations

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray, IntArray

EPS = 1e-12


def _with_nothing(matrix: FloatArray, nothing: float = 0.0) -> FloatArray:
    """(N, A) → (N, A + 1) with a last column for "do nothing"."""
    out = np.empty((matrix.shape[0], matrix.shape[1] + 1), dtype=np.float64)
    out[:, :-1] = matrix
    out[:, -1] = nothing
    return out


def _column(action: IntArray, actions: int) -> IntArray:
    return np.where(action < 0, actions, action)


def _tolerance(rhs: FloatArray) -> FloatArray:
    return 1e-9 * np.maximum(1.0, np.abs(rhs))


def _cheapest_covering(ratio: FloatArray, amount: FloatArray, needed: float) -> IntArray:
    """The users with the smallest ratios whose amounts add up to `needed` (all finite ones if they cannot)."""
    finite = np.nonzero(np.isfinite(ratio))[0]
    if finite.size == 0:
        return finite
    mean = float(amount[finite].mean()) or 1.0
    take = min(finite.size, max(64, int(2 * needed / mean) + 1))
    while True:
        part = finite[np.argpartition(ratio[finite], take - 1)[:take]] if take < finite.size else finite
        order = part[np.argsort(ratio[part], kind="stable")]
        cumulative = np.cumsum(amount[order])
        if cumulative[-1] >= needed or take >= finite.size:
            count = int(np.searchsorted(cumulative, needed)) + 1
            return order[: min(count, order.size)]
        take = min(finite.size, take * 4)


def repair(problem: AllocationProblem, action: IntArray, prices: FloatArray, max_rounds: int = 0) -> IntArray:
    """A plan that satisfies every constraint if the switches can get there; the caller checks the result."""
    p = problem
    sign = p.sign()
    h = sign * p.rhs
    action = action.copy()
    n, a = p.users, p.actions
    rows = np.arange(n)
    reduced = _with_nothing(np.where(p.eligible, p.value - np.tensordot(prices * sign, p.weight, axes=1), -np.inf))
    allowed = np.ones((n, a + 1), dtype=bool)
    allowed[:, :-1] = p.eligible
    tolerance = _tolerance(p.rhs)
    rounds = max_rounds or 4 * p.constraints + 4
    for round_ in range(rounds):
        excess = sign * p.usage_of(action) - h
        violated = np.nonzero(excess > tolerance)[0]
        if violated.size == 0:
            break
        k = int(violated[np.argmax(excess[violated] / np.maximum(np.abs(h[violated]), 1.0))])
        g = _with_nothing(sign[k] * p.weight[k])
        col = _column(action, a)
        freed = g[rows, col][:, None] - g  # > 0: switching to that action frees constraint k
        can = (freed > EPS) & allowed
        if round_ >= p.constraints + 2:
            # Switching back and forth between two violated constraints can cycle: from now on only moves
            # that load no constraint at all are allowed ("do nothing" is one whenever weights are ≥ 0).
            for j in range(p.constraints):
                if j != k:
                    gj = _with_nothing(sign[j] * p.weight[j])
                    can &= gj <= gj[rows, col][:, None] + EPS
        ratio = np.where(can, (reduced[rows, col][:, None] - reduced) / np.where(can, freed, 1.0), np.inf)
        target = np.argmin(ratio, axis=1)
        chosen = _cheapest_covering(ratio[rows, target], freed[rows, target], float(excess[k] - tolerance[k]))
        if chosen.size == 0:
            break
        new = target[chosen]
        action[chosen] = np.where(new == a, -1, new)
    return action


def _gather(weight: FloatArray, users: IntArray, actions: IntArray) -> FloatArray:
    """weight[users, actions], with 0 for the "do nothing" column (index A)."""
    a = weight.shape[1]
    return np.where(actions < a, weight[users, np.minimum(actions, a - 1)], 0.0)


def fill(problem: AllocationProblem, action: IntArray, prices: FloatArray, rounds: int = 3,
         near: float = 0.05) -> IntArray:
    """Upgrade users while every constraint keeps its slack: the best value gained per unit of priced resource.

    Only the users nearest a switch are looked at: those whose best value-raising alternative costs the least
    reduced value at the prices (at most `near` of the users, and at least a few thousand).
    """
    p = problem
    sign = p.sign()
    h = sign * p.rhs
    action = action.copy()
    n, a, k_count = p.users, p.actions, p.constraints
    value = _with_nothing(np.where(p.eligible, p.value, -np.inf))
    reduced = _with_nothing(np.where(p.eligible, p.value - np.tensordot(prices * sign, p.weight, axes=1), -np.inf))
    tolerance = _tolerance(p.rhs)
    for _ in range(rounds):
        slack = h - sign * p.usage_of(action)
        if (slack < -tolerance).any():
            break  # not feasible: fill must not make it worse
        col = _column(action, a)
        rows = np.arange(n)
        gain = value - value[rows, col][:, None]
        loss = np.where(gain > EPS, reduced[rows, col][:, None] - reduced, np.inf).min(axis=1)
        pool = np.nonzero(np.isfinite(loss))[0]
        if pool.size == 0:
            break
        keep = min(pool.size, max(4096, int(near * n)))
        if keep < pool.size:
            pool = pool[np.argpartition(loss[pool], keep - 1)[:keep]]
        pool_col = col[pool]
        pool_gain = gain[pool]
        fits = pool_gain > EPS
        cost = np.zeros_like(pool_gain)
        for k in range(k_count):  # one (M, A+1) temporary at a time over the pool only
            g = _with_nothing(sign[k] * p.weight[k, pool])
            delta = g - g[np.arange(pool.size), pool_col][:, None]
            fits &= delta <= slack[k] + EPS
            cost += max(float(prices[k]), 0.0) * np.maximum(delta, 0.0) + EPS * np.abs(delta)
        score = np.where(fits, np.where(fits, pool_gain, 0.0) / (cost + EPS), -np.inf)
        target = np.argmax(score, axis=1)
        best = score[np.arange(pool.size), target]
        candidates = np.nonzero(np.isfinite(best))[0]
        if candidates.size == 0:
            break
        order = candidates[np.argsort(-best[candidates], kind="stable")]
        users, new, old = pool[order], target[order], pool_col[order]
        steps = np.stack([
            sign[k] * (_gather(p.weight[k], users, new) - _gather(p.weight[k], users, old)) for k in range(k_count)
        ]) if k_count else np.zeros((0, order.size))
        within = (np.cumsum(steps, axis=1) <= slack[:, None] + tolerance[:, None]).all(axis=0)
        # The longest prefix that fits every constraint; later candidates get another chance next round.
        stop = int(np.argmin(within)) if not within.all() else within.size
        if stop == 0:
            break
        action[users[:stop]] = np.where(new[:stop] == a, -1, new[:stop])
    return action
