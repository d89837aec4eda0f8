"""One pass over the users at given prices: every user takes its best action, and the dual function with its
subgradient comes out. Users are processed in chunks (optimizer.user_chunks), on all cores.

Reduced values are computed in the problem's own precision: float32 for a problem stored in float32 (half the
memory of float64 at 10⁷ users), float64 otherwise. Measured: converting a float64 problem to float32 chunk by
chunk costs as much as it saves, and a float32 copy of the problem is the memory we want to avoid.

To keep the bound certified, the dual value carries an explicit allowance for rounding: a user's reduced value
for one action takes at most 2K + 1 roundings (the value's cast, then a product and a difference per
constraint), each within u (2^-24 in float32) of a magnitude ≤ |v| + Σ_k λ_k |w_k|, so the maximum over
actions moves by at most (2K + 1)·u·(max_a |v| + Σ_k λ_k max_a |w_k|); we allow (2K + 3) to cover the float64
sums as well. The scales are taken in the first pass, from data already in cache. Usage sums are float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.problem import AllocationProblem, FloatArray, IntArray
from optimizer.user_chunks import ChunkRunner, reduced_block


@dataclass(frozen=True, slots=True)
class PassResult:
    dual_value: float  # g(λ) = Σ_u max(0, max_a v − λ·Gw) + λ·h (+ rounding allowance): an upper bound
    subgradient: FloatArray  # (K,) h − usage in ≤-form
    action: IntArray  # (N,) each user's best action at these prices (-1 = nothing)
    usage: FloatArray  # (K,) Σ w_k x in the constraint's own orientation


class DualOracle:
    """Evaluates the Lagrangian dual of a problem at any prices λ ≥ 0 (one per constraint, in ≤-form)."""

    def __init__(self, problem: AllocationProblem, runner: ChunkRunner | None = None) -> None:
        self.problem = problem
        self.runner = runner or ChunkRunner()
        self.sign = problem.sign()
        self.h = self.sign * problem.rhs
        single = problem.value.dtype == np.float32 and problem.weight.dtype == np.float32
        self.dtype = np.float32 if single else np.float64
        self.unit_roundoff = float(np.finfo(self.dtype).eps) / 2
        self.value_scale = 0.0
        self.floor = 0.0  # Σ_u min(0, min_a v): every feasible plan is worth at least this (set by the first pass)
        self.weight_scale = np.zeros(problem.constraints)
        self.passes = 0
        # Told (λ, an upper bound on g(λ)) after every pass: each is a cut on g for whoever builds one (the lumpy
        # users' master takes the rest's passes as cuts).
        self.listener: Callable[[FloatArray, float], None] | None = None

    def _scales(self, start: int, stop: int) -> tuple[float, FloatArray, float]:
        p = self.problem
        eligible_value = np.where(p.eligible[start:stop], p.value[start:stop], 0.0)
        value = float(np.abs(eligible_value).max(axis=1, initial=0.0).sum())
        weight = np.array([float(np.abs(p.weight[k, start:stop]).max(axis=1, initial=0.0).sum())
                           for k in range(p.constraints)])
        return value, weight, float(np.minimum(eligible_value, 0.0).min(axis=1, initial=0.0).sum())

    def rounding_allowance(self, prices: FloatArray) -> float:
        k = self.problem.constraints
        return (2 * k + 3) * self.unit_roundoff * (self.value_scale + float(prices @ self.weight_scale))

    def exact_value(self, prices: FloatArray) -> float:
        """g(λ) in float64 with no allowance: the bound a finished solve reports (one extra pass)."""
        p = self.problem
        signed = prices * self.sign

        def chunk(start: int, stop: int) -> float:
            reduced = reduced_block(p, start, stop, signed, np.float64)
            best = reduced.max(axis=1, initial=-np.inf) if p.actions else np.zeros(stop - start)
            return float(best[best > 0].sum())

        return float(sum(self.runner.map(p.users, chunk))) + float(prices @ self.h)

    def evaluate(self, prices: FloatArray) -> PassResult:
        p = self.problem
        a, k = p.actions, p.constraints
        action = np.full(p.users, -1, dtype=np.int32)
        signed = prices * self.sign

        first = self.passes == 0

        def chunk(start: int, stop: int) -> tuple[float, FloatArray, tuple[float, FloatArray, float]]:
            usage = np.zeros(k)
            scales = self._scales(start, stop) if first else (0.0, usage, 0.0)
            if a == 0:
                return 0.0, usage, scales
            reduced = reduced_block(p, start, stop, signed, self.dtype)
            best = np.argmax(reduced, axis=1)
            flat = np.arange(stop - start) * a + best
            best_value = reduced.reshape(-1)[flat]
            take = best_value > 0
            action[start:stop] = np.where(take, best, -1)
            taken_flat = flat[take]
            for j in range(k):
                usage[j] = float(p.weight[j, start:stop].reshape(-1)[taken_flat].sum(dtype=np.float64))
            return float(best_value[take].sum(dtype=np.float64)), usage, scales

        parts = self.runner.map(p.users, chunk)
        if first:
            self.value_scale = float(sum(part[2][0] for part in parts))
            self.weight_scale = np.sum([part[2][1] for part in parts], axis=0) if parts else np.zeros(k)
            self.floor = float(sum(part[2][2] for part in parts))
        total = float(sum(part[0] for part in parts))
        usage = np.sum([part[1] for part in parts], axis=0) if parts else np.zeros(k)
        self.passes += 1
        subgradient = self.h - self.sign * usage
        dual_value = total + float(prices @ self.h) + self.rounding_allowance(prices)
        if self.listener is not None:
            self.listener(np.array(prices, dtype=np.float64), dual_value)
        return PassResult(dual_value, subgradient, action, usage)
