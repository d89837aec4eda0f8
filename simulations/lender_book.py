"""A synthetic lender's book as arrays, for the optimizer's Python API: N users × 6 actions, 4 limits (money
budget, agent minutes, voice-bot line-minutes, expected loss), values from a lender's economics, and
optionally a few business clients among the retail borrowers.

It is what a team with its own value model hands to `AllocationProblem` (no plan file, no rules): expected
profit per user and action is response × approval × amount × (margin × term − PD × LGD) − cost, each factor
drawn per user. Value and expected loss both grow with the amount, so many users sit near the margin at the
limits' prices. Business clients take `factor` times a retail borrower's value and every weight (a loan a
hundred thousand times larger with the call-centre work and the loss that come with it): the lumpy users
that the Lagrangian's rounding splits and `optimizer.lumpy_users` decides apart.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from optimizer.problem import AllocationProblem, IntArray

__all__ = ["ACTIONS", "CONSTRAINTS", "lender_book"]

ACTIONS: Final = ("telesales", "telesales_coupon", "sms", "wechat", "voicebot", "app_ads")
CONSTRAINTS: Final = ("budget", "agent_minutes", "bot_line_minutes", "expected_loss")
_LIFT: Final = np.array([3.0, 3.6, 1.0, 1.3, 1.8, 0.7])  # telesales converts best, then the coupon call, …
_REACH: Final = np.array([0.35, 0.25, 0.95, 0.5, 0.7, 0.9])  # share of users each action may contact
_LIMIT_SHARE: Final = np.array([0.25, 0.3, 0.4, 0.5])  # of what every user's best action would take


def lender_book(n: int, clients: int = 0, factor: float = 5_000.0, seed: int = 20261202
                ) -> tuple[AllocationProblem, IntArray]:
    """The book of `n` users, `clients` of them business clients `factor` times a retail borrower; limits a
    share of what every user's best action would take. Returns the problem and the clients' indices (sorted)."""
    rng = np.random.default_rng(seed)
    a = len(ACTIONS)
    amount = rng.lognormal(np.log(8_000), 0.6, n)
    pd = np.clip(rng.beta(1.2, 25, n), 0.001, 0.6)
    lgd = rng.uniform(0.4, 0.8, n)
    margin_term = rng.uniform(0.08, 0.20, n)
    approval = np.clip(1 - 3 * pd + rng.normal(0, 0.05, n), 0.05, 0.98)
    talk = rng.gamma(4, 1.2, n)  # expected call minutes
    loans = np.clip(rng.beta(1.5, 30, n)[:, None] * _LIFT * rng.lognormal(0, 0.25, (n, a)), 0, 0.9) * approval[:, None]
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
    eligible = rng.random((n, a)) < _REACH
    eligible[pd > 0.15, :2] = False  # no calls for risky users
    users: IntArray = np.sort(rng.choice(n, clients, replace=False))
    value[users] *= factor
    weight[:, users] *= factor
    positive = eligible & (value > 0)
    best = np.where(positive, value, -np.inf).argmax(axis=1)
    has = np.flatnonzero(positive.any(axis=1))
    rhs = weight[:, has, best[has]].sum(axis=1) * _LIMIT_SHARE
    return AllocationProblem(value, eligible, weight, rhs, np.full(4, -1, dtype=np.int8), CONSTRAINTS,
                             ACTIONS), users
