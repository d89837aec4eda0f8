"""Seeded allocation instances of the shape the issue measures: N users × 6 actions, 4 coupling constraints
(money budget, call-centre minutes, voice-bot line-minutes, expected-loss cap). Built in chunks so that
10,000,000 users do not need a second copy of every array."""

from __future__ import annotations

import numpy as np

from optimizer.problem import AllocationProblem

ACTIONS = ("telesales", "telesales_coupon", "sms", "wechat", "voicebot", "app_ads")
CONSTRAINTS = ("budget", "agent_minutes", "bot_line_minutes", "expected_loss")
CHUNK = 1_000_000


def marketing_instance(n: int, seed: int = 20261124, dtype: type[np.floating] = np.float64) -> AllocationProblem:
    """`dtype=np.float32` stores the same numbers (rounded) in half the memory; the solvers keep it."""
    a = len(ACTIONS)
    value = np.empty((n, a), dtype=dtype)
    eligible = np.empty((n, a), dtype=bool)
    weight = np.zeros((4, n, a), dtype=dtype)
    generators = np.random.default_rng(seed).spawn(max(1, -(-n // CHUNK)))
    for index, rng in enumerate(generators):
        lo, hi = index * CHUNK, min((index + 1) * CHUNK, n)
        m = hi - lo
        value[lo:hi] = rng.gamma(2.0, 20.0, (m, a)) - 10.0
        eligible[lo:hi] = rng.random((m, a)) < 0.8
        weight[0, lo:hi] = np.array([50, 30, 5, 1, 8, 2.0]) * rng.uniform(0.5, 1.5, (m, a))
        weight[1, lo:hi, :2] = rng.uniform(3, 8, (m, 2))
        weight[2, lo:hi, 4] = rng.uniform(1, 3, m)
        weight[3, lo:hi] = rng.uniform(0, 10, (m, a))
    rhs = np.array([
        weight[0].mean(dtype=np.float64) * n * 0.3, weight[1, :, 0].mean(dtype=np.float64) * n * 0.1,
        weight[2, :, 4].mean(dtype=np.float64) * n * 0.2, weight[3].mean(dtype=np.float64) * n * 0.25])
    return AllocationProblem(value, eligible, weight, rhs, np.full(4, -1, dtype=np.int8), CONSTRAINTS, ACTIONS)



def lender_instance(n: int, lumpy: int = 0, factor: float = 5_000.0, seed: int = 20261202
                    ) -> tuple[AllocationProblem, np.ndarray]:
    """Values from a lender's economics, as the plans compute them (response × approval × amount × (margin ×
    term − PD × LGD) − cost), weights budget, agent minutes, voice-bot line-minutes and expected loss; limits
    a share of what every user's best action would take. `lumpy` users (business clients among retail
    borrowers) have values and weights `factor` times their own. Returns the problem and the lumpy users.

    Unlike `marketing_instance`, value and expected loss both grow with the amount, so many users sit near
    the margin at the prices; lumpy users there are what the LP relaxation splits (a new-user trial's case:
    11 users ×5,000 among 100,000, rounding alone 8.9 % below the optimum)."""
    rng = np.random.default_rng(seed)
    a = len(ACTIONS)
    amount = rng.lognormal(np.log(8_000), 0.6, n)
    pd = np.clip(rng.beta(1.2, 25, n), 0.001, 0.6)
    lgd = rng.uniform(0.4, 0.8, n)
    margin_term = rng.uniform(0.08, 0.20, n)
    approval = np.clip(1 - 3 * pd + rng.normal(0, 0.05, n), 0.05, 0.98)
    talk = rng.gamma(4, 1.2, n)  # expected call minutes
    lift = np.array([3.0, 3.6, 1.0, 1.3, 1.8, 0.7])  # telesales converts best, then the voice-bot, …
    loans = np.clip(rng.beta(1.5, 30, n)[:, None] * lift * rng.lognormal(0, 0.25, (n, a)), 0, 0.9) * approval[:, None]
    cost = np.empty((n, a))
    cost[:, 0] = 1.2 * talk  # agent minutes
    cost[:, 1] = 1.2 * talk + 30 * loans[:, 1]  # and a coupon on each loan
    cost[:, 2] = 0.05  # SMS
    cost[:, 3] = 60 * loans[:, 3]  # WeChat groups: a price per acquisition
    cost[:, 4] = 0.15 * talk * 0.8  # voice-bot minutes
    cost[:, 5] = 0.8  # app ads
    value = loans * (amount * (margin_term - pd * lgd))[:, None] - cost
    minutes = np.zeros((n, a))
    minutes[:, :2] = talk[:, None] * np.array([1.0, 1.1])
    lines = np.zeros((n, a))
    lines[:, 4] = talk * 0.8
    weight = np.stack([cost, minutes, lines, loans * (amount * pd * lgd)[:, None]])
    eligible = rng.random((n, a)) < np.array([0.35, 0.25, 0.95, 0.5, 0.7, 0.9])
    eligible[pd > 0.15, :2] = False  # no calls for risky users
    users = np.sort(rng.choice(n, lumpy, replace=False))
    value[users] *= factor
    weight[:, users] *= factor
    positive = eligible & (value > 0)
    best = np.where(positive, value, -np.inf).argmax(axis=1)
    has = np.flatnonzero(positive.any(axis=1))
    rhs = weight[:, has, best[has]].sum(axis=1) * np.array([0.25, 0.3, 0.4, 0.5])
    return AllocationProblem(value, eligible, weight, rhs, np.full(4, -1, dtype=np.int8), CONSTRAINTS,
                             ACTIONS), users
