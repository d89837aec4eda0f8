"""From the users' choices at the dual prices to a strictly feasible plan (repair), then use leftover slack (fill).

Repair takes the most violated constraint and frees exactly what is needed by switching the users whose
switch costs least per unit freed, measured in reduced value at the current prices: these are the users
nearest to a switch, the ones the LP would have split. Switching can load another constraint, so it loops
over constraints until none is violated. Fill then upgrades users by value per unit of priced resource,
taking the longest prefix that every constraint's slack allows.
"""

from __future__ import annotations

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray, IntArray

EPS = 1e-12


def _with_nothing(matrix: FloatArray, nothing: float = 0.0) -> FloatArray:
    """(N, A) → (N, A + 1) with a last column for "do nothing"."""
    return np.hstack([matrix, np.full((matrix.shape[0], 1), nothing)])


def _column(action: IntArray, actions: int) -> IntArray:
    return np.where(action < 0, actions, action)


def _tolerance(rhs: FloatArray) -> FloatArray:
    return 1e-9 * np.maximum(1.0, np.abs(rhs))


def repair(problem: AllocationProblem, action: IntArray, prices: FloatArray, max_rounds: int = 0) -> IntArray:
    """A plan that satisfies every constraint if the switches can get there; the caller checks the result."""
    p = problem
    sign = p.sign()
    h = sign * p.rhs
    action = action.copy()
    n, a = p.users, p.actions
    rows = np.arange(n)
    reduced = _with_nothing(np.where(p.eligible, p.value - np.tensordot(prices * sign, p.weight, axes=1), -np.inf))
    allowed = _with_nothing(p.eligible.astype(np.float64), 1.0).astype(bool)
    rounds = max_rounds or 4 * p.constraints + 4
    for _ in range(rounds):
        usage = sign * p.usage_of(action)
        excess = usage - h
        violated = np.nonzero(excess > _tolerance(p.rhs))[0]
        if violated.size == 0:
            break
        k = int(violated[np.argmax(excess[violated] / np.maximum(np.abs(h[violated]), 1.0))])
        g = _with_nothing(sign[k] * p.weight[k])
        col = _column(action, a)
        freed = g[rows, col][:, None] - g  # > 0: switching to that action frees constraint k
        loss = reduced[rows, col][:, None] - reduced
        ratio = np.where((freed > EPS) & allowed, loss / np.where(freed > EPS, freed, 1.0), np.inf)
        target = np.argmin(ratio, axis=1)
        best_ratio = ratio[rows, target]
        movable = np.nonzero(np.isfinite(best_ratio))[0]
        if movable.size == 0:
            break
        order = movable[np.argsort(best_ratio[movable], kind="stable")]
        cumulative = np.cumsum(freed[order, target[order]])
        needed = int(np.searchsorted(cumulative, excess[k] - _tolerance(p.rhs)[k])) + 1
        chosen = order[: min(needed, order.size)]
        new = target[chosen]
        action[chosen] = np.where(new == a, -1, new)
    return action


def fill(problem: AllocationProblem, action: IntArray, prices: FloatArray, rounds: int = 3) -> IntArray:
    """Upgrade users while every constraint keeps its slack: the best value gained per unit of priced resource."""
    p = problem
    sign = p.sign()
    h = sign * p.rhs
    action = action.copy()
    n, a = p.users, p.actions
    rows = np.arange(n)
    value = _with_nothing(np.where(p.eligible, p.value, -np.inf))
    g_all = np.stack([_with_nothing(sign[k] * p.weight[k]) for k in range(p.constraints)]) if p.constraints else (
        np.zeros((0, n, a + 1)))
    weights = np.maximum(prices, 0.0) + EPS
    for _ in range(rounds):
        slack = h - sign * p.usage_of(action)
        if (slack < -_tolerance(p.rhs)).any():
            break  # not feasible: fill must not make it worse
        col = _column(action, a)
        gain = value - value[rows, col][:, None]  # (N, A+1)
        delta = g_all - g_all[:, rows, col][:, :, None]  # (K, N, A+1)
        fits = (delta <= slack[:, None, None] + EPS).all(axis=0) & (gain > EPS)
        cost = np.tensordot(weights, np.maximum(delta, 0.0), axes=1)
        safe_gain = np.where(fits, gain, 0.0)  # -inf gains (ineligible) never reach the division
        score = np.where(fits, safe_gain / (cost + EPS * (1.0 + np.abs(safe_gain))), -np.inf)
        target = np.argmax(score, axis=1)
        best = score[rows, target]
        candidates = np.nonzero(np.isfinite(best))[0]
        if candidates.size == 0:
            break
        order = candidates[np.argsort(-best[candidates], kind="stable")]
        steps = delta[:, order, target[order]]  # (K, M)
        within = (np.cumsum(steps, axis=1) <= slack[:, None] + _tolerance(p.rhs)[:, None]).all(axis=0)
        # The longest prefix that fits every constraint; a later candidate may still fit in the next round.
        stop = int(np.argmin(within)) if not within.all() else within.size
        if stop == 0:
            # The first candidate alone does not fit with the others: take it alone if it fits by itself.
            stop = 1 if (steps[:, 0] <= slack + _tolerance(p.rhs)).all() else 0
            if stop == 0:
                break
        chosen = order[:stop]
        new = target[chosen]
        action[chosen] = np.where(new == a, -1, new)
    return action
