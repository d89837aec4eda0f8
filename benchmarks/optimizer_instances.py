"""Seeded allocation instances of the shape the issue measures: N users × 6 actions, 4 coupling constraints
(money budget, call-centre minutes, voice-bot line-minutes, expected-loss cap). Built in chunks so that
10,000,000 users do not need a second copy of every array."""

from __future__ import annotations

import numpy as np

from optimizer.problem import AllocationProblem
from simulations.lender_book import ACTIONS, CONSTRAINTS

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
